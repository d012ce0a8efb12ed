/**
 * `roq init APP --from DATA_DIR`: makes an app from a directory of delimited files. For each file it infers a
 * table schema (src/init/infer.ts) and, where a key was found, a declarative lookup query named after the table;
 * it writes them under APP/schemas/ and prints every decision with its reason, for the user to check and edit.
 * It never overwrites an app's schemas (the user's edits) unless --force.
 */
import * as fs from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { roqError } from '../errors.js';
import { isRegularFile, printable, readRegularFile } from '../init/files.js';
import { inferTable, snakeName, type Inferred } from '../init/infer.js';
import { parseCommand } from './options.js';

export const INIT_HELP = `usage: roq init APP --from DATA_DIR [FILE...] [--force]

Makes an app in the directory APP from the delimited files of DATA_DIR (every regular file, whatever its
extension, or the FILEs named): one table schema per file, with the separator (comma, tab, semicolon, pipe),
comment lines (#), the header line (or column names from the comment line above the data), column types (int,
float, bool, date, time, string; a number only when every value reads back as written, a bool only from
true/false; empty → optional), rows that leave off trailing fields (shortRows), and a key with its reason (the
leading columns when unique, else a unique column named as an identifier). For every table with a key it writes
a lookup query named after the table, taking the key and returning the whole row, and for every table a query
TABLE_browse listing its rows. Empty files and files that are not delimited text are reported and left out. It
prints what it inferred and why; edit the JSON under APP/schemas/ afterwards. Then:

  roq start --app APP --data DATA_DIR --run APP/run
  roq query TABLE KEY=VALUE --json --run APP/run

  --from DIR   the data directory to read (required)
  --force      overwrite the schemas of an existing app
`;

/** The data files to read: the FILEs named, else every regular, non-hidden file of the directory, in name order. */
function dataFiles(data: string, named: string[]): string[] {
  const regular = (f: string) => isRegularFile(data, f);
  try {
    if (named.length) {
      for (const f of named)
        if (f.includes('/') || !fs.existsSync(join(data, f)) || !regular(f))
          throw new Error(`${f} is not a file of the data directory (name files as they are in it)`);
      return [...new Set(named)].sort();
    }
    return fs
      .readdirSync(data)
      .filter((f) => !f.startsWith('.') && regular(f))
      .sort();
  } catch (e) {
    throw roqError('ROQ_USAGE', {
      command: 'init',
      detail: `cannot read the data directory ${data} (${(e as Error).message})`,
    });
  }
}

/**
 * A table name from a file name, unique among the tables and queries so far, also as the camelCase codegen makes
 * of it (a_1 and a1 would be one accessor), and leaving its TABLE_browse query free.
 */
function tableName(file: string, taken: Set<string>): string {
  const base = snakeName(basename(file, extname(file)), 'table');
  const camel = (n: string) => n.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());
  let name = base;
  for (let k = 2; taken.has(camel(name)) || taken.has(camel(`${name}_browse`)); k++) name = `${base}_${k}`;
  taken.add(camel(name));
  taken.add(camel(`${name}_browse`));
  return name;
}

export async function init(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'init',
    argv,
    { from: { type: 'string' }, force: { type: 'boolean' } },
    true,
  );
  if (values.help) return (void process.stdout.write(INIT_HELP), 0);
  const [appArg, ...named] = positionals;
  if (appArg === undefined)
    throw roqError('ROQ_USAGE', { command: 'init', detail: 'name one app directory: roq init APP --from DATA_DIR' });
  if (typeof values.from !== 'string')
    throw roqError('ROQ_USAGE', { command: 'init', detail: '--from DATA_DIR is required' });
  const app = resolve(appArg);
  const data = resolve(values.from);
  if (fs.existsSync(join(app, 'schemas')) && !values.force) {
    throw roqError('ROQ_USAGE', {
      command: 'init',
      detail: `${app}/schemas already exists (your edits would be lost); pass --force to overwrite it`,
    });
  }
  const files = dataFiles(data, named);
  if (files.length === 0) throw roqError('ROQ_USAGE', { command: 'init', detail: `${data} has no files` });
  const inferred = inferAll(data, files);
  if (inferred.length === 0)
    throw roqError('ROQ_USAGE', {
      command: 'init',
      detail: `no file of ${data} is a table (each is reported above with the reason)`,
    });
  const queries = writeSchemas(app, inferred);
  if (!fs.existsSync(join(app, 'app.json')))
    fs.writeFileSync(join(app, 'app.json'), JSON.stringify({ title: basename(app) }, null, 2) + '\n');
  process.stdout.write(
    `roq init: wrote ${inferred.length} table schema(s) and ${queries} quer${queries === 1 ? 'y' : 'ies'} to ${app}/schemas; edit them, then:\n` +
      `  roq start --app ${appArg} --data ${values.from} --run ${join(appArg, 'run')}\n`,
  );
  return 0;
}

/** Infers every file, printing each decision; a file that makes no table is reported and left out. */
function inferAll(data: string, files: string[]): Inferred[] {
  const taken = new Set<string>();
  const out: Inferred[] = [];
  for (const file of files) {
    const path = join(data, file);
    const result = inferTable(file, tableName(file, taken), readRegularFile(path), path);
    if ('refused' in result) {
      process.stdout.write(`  ${printable(`${file}: left out: ${result.refused}`)}\n`);
      continue;
    }
    process.stdout.write(result.reasons.map((r) => `  ${printable(r)}\n`).join(''));
    out.push(result);
  }
  return out;
}

/** Writes the schemas (replacing an earlier init's); returns how many queries. */
function writeSchemas(app: string, inferred: Inferred[]): number {
  fs.rmSync(join(app, 'schemas'), { recursive: true, force: true });
  fs.mkdirSync(join(app, 'schemas/tables'), { recursive: true });
  fs.mkdirSync(join(app, 'schemas/queries'), { recursive: true });
  const json = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  let queries = 0;
  for (const t of inferred) {
    const name = t.table.table as string;
    fs.writeFileSync(join(app, 'schemas/tables', `${name}.json`), json(t.table));
    for (const q of [t.query, t.browse]) {
      if (!q) continue;
      fs.writeFileSync(join(app, 'schemas/queries', `${q.query as string}.json`), json(q));
      queries++;
    }
  }
  return queries;
}
