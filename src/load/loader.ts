/**
 * The loader: a data directory's files → one generation of columnar tables in SharedArrayBuffers. Every table the
 * generated catalog describes is loaded; the files are read concurrently and each is parsed as soon as its bytes
 * are in. The result is plain data (GenerationData) that the dispatcher hands to its workers without copying.
 *
 * Failure is all-or-nothing: the first bad file, header or value throws a RoqError naming file:line:column, and
 * the caller keeps serving its previous generation. Things worth an admin's attention that do not stop a load
 * (unknown files, extra columns, repeated keys) go to `log.warn`, one line each.
 *
 * CSV is scanned by src/store/csv.ts rather than csv-parse: on the sample data csv-parse alone takes ~400 ms for
 * shapes.txt, the byte scanner a tenth of that, and the loader tests check both agree on the tricky cases.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, realpath, stat, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import fg from 'fast-glob';
import { roqError, RoqError } from '../errors.js';
import { TABLES } from '../app/catalog.js';
import { DERIVERS } from '../app/registry.js';
import { deriveAll } from '../queries/derived.js';
import { APP_INFO } from '../app/app.js';
import { openDb } from '../queries/db.js';
import type { FileStats, GenerationData, TableData, TableSpec } from '../store/types.js';
import { emptyTable, parseTable, resolveReferences, type LoadLog } from '../store/table.js';

const { O_RDONLY, O_NOFOLLOW } = constants;

export type { LoadLog } from '../store/table.js';
export type { GenerationData } from '../store/types.js';

/** One file loaded, for progress reports: its rows and bytes, and ms since the load began. */
export interface FileLoaded {
  file: string;
  rows: number;
  bytes: number;
  ms: number;
}

/**
 * Loads every table of the generated catalog, then runs the queries' derive functions on them (derived.ts), so
 * that a generation always leaves the load thread with its derived data in shared memory, or not at all.
 */
export async function loadGeneration(
  dataDir: string,
  id: number,
  log: LoadLog,
  onFile?: (f: FileLoaded) => void,
): Promise<GenerationData> {
  const generation = await loadTables(TABLES, dataDir, id, log, onFile);
  try {
    deriveAll(generation, DERIVERS);
    // The app's validDates hook (app.ts), on the generation as its queries see it; no hook, no dates.
    const dates = APP_INFO.validDates?.(openDb(generation));
    return dates ? { ...generation, dates } : generation;
  } catch (e) {
    throw roqError('ROQ_LOAD_FILE', { file: generation.dataDir, detail: (e as Error).message });
  }
}

/** loadGeneration for any catalog (tests load hand-made schemas with it). */
export async function loadTables(
  specs: readonly TableSpec[],
  given: string,
  id: number,
  log: LoadLog,
  onFile?: (f: FileLoaded) => void,
): Promise<GenerationData> {
  const t0 = performance.now();
  // Resolved once: when the data directory is a symlink that a refresh flips, every file of one load comes from
  // the same side of the flip.
  const dataDir = await realpath(given).catch(() => given);
  const present = await listFiles(dataDir);
  // Nothing to load at all is an admin's mistake (an unpacked export elsewhere, a wrong --data), not a missing table.
  if (!specs.some((s) => present.has(s.file)))
    throw roqError('ROQ_LOAD_NO_DATA', {
      dir: dataDir,
      files: specs
        .filter((s) => !s.optional)
        .map((s) => s.file)
        .join(', '),
    });
  for (const f of present) {
    if (!specs.some((s) => s.file === f)) log.warn(`${join(dataDir, f)}: no schema describes this file; ignored`);
  }
  const loaded = await Promise.all(
    specs.map(async (spec) => {
      const one = await loadOne(spec, dataDir, present, log);
      if (one.table.present)
        onFile?.({ file: spec.file, rows: one.table.rows, bytes: one.bytes, ms: performance.now() - t0 });
      return one;
    }),
  );
  const tables: Record<string, TableData> = {};
  const files: FileStats[] = [];
  const digests: { file: string; sha256: string }[] = [];
  for (const { table, bytes, sha256 } of loaded) {
    tables[table.name] = table;
    if (table.present) files.push({ file: table.file, rows: table.rows, bytes });
    if (sha256) digests.push({ file: table.file, sha256 });
  }
  resolveReferences(specs, tables);
  const loadMs = performance.now() - t0;
  return {
    id,
    dataDir,
    loadedAt: Date.now(),
    loadMs,
    hash: contentHash(digests),
    tables,
    stats: { files, rows: files.reduce((n, f) => n + f.rows, 0), bytes: files.reduce((n, f) => n + f.bytes, 0) },
  };
}

/**
 * The generation's content hash: SHA-256 over the loaded files' names and SHA-256 digests, in name order, so the
 * same files give the same hash on every node whatever order they were read in, and any change to a file, a file
 * added or one removed changes it. Files no schema describes are not loaded and so not part of it. Shortened to
 * 128 bits (32 hex digits): enough to tell generations apart, short enough for an HTTP header.
 */
export function contentHash(digests: readonly { file: string; sha256: string }[]): string {
  const h = createHash('sha256');
  for (const d of [...digests].sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : 0)))
    h.update(`${d.file}\0${d.sha256}\n`);
  return h.digest('hex').slice(0, 32);
}

async function listFiles(dataDir: string): Promise<Set<string>> {
  try {
    if (!(await stat(dataDir)).isDirectory()) throw new Error('not a directory');
  } catch (e) {
    throw roqError('ROQ_LOAD_NO_DATA_DIR', {
      dir: dataDir,
      detail: (e as NodeJS.ErrnoException).code ?? (e as Error).message,
    });
  }
  return new Set(await fg('*', { cwd: dataDir, onlyFiles: true, dot: false }));
}

/**
 * A data file's bytes, read only if the file itself is a regular file in the data directory: opened with
 * O_NOFOLLOW and checked with fstat, so a symlink among the data files (an archive can hold one) cannot make roq
 * read and serve a file from elsewhere (docs/SECURITY.md). The data directory itself may be a symlink (the
 * deploy/ refresh script flips one); its path was resolved before.
 */
export async function readDataFile(path: string): Promise<Buffer> {
  let file: FileHandle | undefined;
  try {
    file = await open(path, O_RDONLY | O_NOFOLLOW);
    if (!(await file.stat()).isFile()) throw new Error('not a regular file');
    return await file.readFile();
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const detail =
      code === 'ELOOP'
        ? 'a symbolic link; data files are read only as regular files in the data directory: copy the file there'
        : (e as Error).message;
    throw roqError('ROQ_LOAD_FILE', { file: path, detail });
  } finally {
    await file?.close();
  }
}

async function loadOne(
  spec: TableSpec,
  dataDir: string,
  present: Set<string>,
  log: LoadLog,
): Promise<{ table: TableData; bytes: number; sha256?: string }> {
  const path = join(dataDir, spec.file);
  if (!present.has(spec.file)) {
    if (spec.optional) return { table: emptyTable(spec), bytes: 0 };
    throw roqError('ROQ_LOAD_MISSING_FILE', { file: path, dir: dataDir });
  }
  const buf = await readDataFile(path);
  try {
    // Hashed while the bytes are in memory anyway (~2 ms per MB here); see contentHash.
    return {
      table: parseTable(spec, path, buf, log),
      bytes: buf.length,
      sha256: createHash('sha256').update(buf).digest('hex'),
    };
  } catch (e) {
    if (e instanceof RoqError) throw e;
    throw roqError('ROQ_LOAD_FILE', { file: path, detail: (e as Error).message });
  }
}
