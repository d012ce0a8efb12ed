/**
 * The loader: a data directory's files → one generation of columnar tables in SharedArrayBuffers. Every table the
 * generated catalog describes is loaded; the files are read concurrently and each is parsed as soon as its bytes
 * are in. The result is plain data (GenerationData) that the dispatcher hands to its workers without copying.
 *
 * Failure is all-or-nothing: the first bad file, header or value throws a RoqError naming file:line:column, and
 * the caller keeps serving its previous generation. Things worth an admin's attention that do not stop a load
 * (unknown files, extra columns, repeated keys) go to `log.warn`, one line each.
 *
 * CSV is scanned by src/store/csv.ts rather than csv-parse: on the sample feed csv-parse alone takes ~400 ms for
 * shapes.txt, the byte scanner a tenth of that, and the loader tests check both agree on the tricky cases.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import fg from 'fast-glob';
import { roqError, RoqError } from '../errors.js';
import { TABLES } from '../generated/catalog.js';
import type { FileStats, GenerationData, TableData, TableSpec } from '../store/types.js';
import { emptyTable, parseTable, resolveReferences, type LoadLog } from '../store/table.js';
import { deriveQueryData } from '../queries/boardRuns.js';

export type { LoadLog } from '../store/table.js';
export type { GenerationData } from '../store/types.js';

/** Loads every table of the generated catalog from dataDir. See the file comment for the failure contract. */
/** One file loaded, for progress reports: its rows and bytes, and ms since the load began. */
export interface FileLoaded {
  file: string;
  rows: number;
  bytes: number;
  ms: number;
}

export async function loadGeneration(dataDir: string, id: number, log: LoadLog, onFile?: (f: FileLoaded) => void): Promise<GenerationData> {
  return loadTables(TABLES, dataDir, id, log, onFile, deriveQueryData);
}

/**
 * loadGeneration for any catalog (tests load hand-made schemas with it). `derive` builds the queries' load-time
 * structures from the finished tables; its time counts in loadMs.
 */
export async function loadTables(
  specs: readonly TableSpec[],
  given: string,
  id: number,
  log: LoadLog,
  onFile?: (f: FileLoaded) => void,
  derive?: (tables: Record<string, TableData>) => NonNullable<GenerationData['derived']>,
): Promise<GenerationData> {
  const t0 = performance.now();
  // Resolved once: when the data directory is a symlink that a refresh flips, every file of one load comes from
  // the same side of the flip.
  const dataDir = await realpath(given).catch(() => given);
  const present = await listFiles(dataDir);
  for (const f of present) {
    if (!specs.some((s) => s.file === f)) log.warn(`${join(dataDir, f)}: no schema describes this file; ignored`);
  }
  const loaded = await Promise.all(
    specs.map(async (spec) => {
      const one = await loadOne(spec, dataDir, present, log);
      if (one.table.present) onFile?.({ file: spec.file, rows: one.table.rows, bytes: one.bytes, ms: performance.now() - t0 });
      return one;
    }),
  );
  const tables: Record<string, TableData> = {};
  const files: FileStats[] = [];
  for (const { table, bytes } of loaded) {
    tables[table.name] = table;
    if (table.present) files.push({ file: table.file, rows: table.rows, bytes });
  }
  resolveReferences(specs, tables);
  const derived = derive?.(tables);
  const loadMs = performance.now() - t0;
  return {
    id,
    dataDir,
    loadedAt: Date.now(),
    loadMs,
    tables,
    ...(derived ? { derived } : {}),
    stats: { files, rows: files.reduce((n, f) => n + f.rows, 0), bytes: files.reduce((n, f) => n + f.bytes, 0) },
  };
}

async function listFiles(dataDir: string): Promise<Set<string>> {
  try {
    if (!(await stat(dataDir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw roqError('ROQ_LOAD_FILE', { file: dataDir, detail: `cannot read the data directory (${(e as Error).message})` });
  }
  return new Set(await fg('*', { cwd: dataDir, onlyFiles: true, dot: false }));
}

async function loadOne(spec: TableSpec, dataDir: string, present: Set<string>, log: LoadLog): Promise<{ table: TableData; bytes: number }> {
  const path = join(dataDir, spec.file);
  if (!present.has(spec.file)) {
    if (spec.optional) return { table: emptyTable(spec), bytes: 0 };
    throw roqError('ROQ_LOAD_MISSING_FILE', { file: path, dir: dataDir });
  }
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (e) {
    throw roqError('ROQ_LOAD_FILE', { file: path, detail: (e as Error).message });
  }
  try {
    return { table: parseTable(spec, path, buf, log), bytes: buf.length };
  } catch (e) {
    if (e instanceof RoqError) throw e;
    throw roqError('ROQ_LOAD_FILE', { file: path, detail: (e as Error).message });
  }
}
