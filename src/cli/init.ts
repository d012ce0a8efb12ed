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
import { inferTable, snakeName } from '../init/infer.js';
import { parseCommand } from './options.js';

export const INIT_HELP = `usage: roq init APP --from DATA_DIR [--force]

Makes an app in the directory APP from the delimited files (.csv, .tsv, .txt, .psv) of DATA_DIR: one table schema
per file, with the separator, the header line, column types (int, float, date, time, string; empty → optional)
and a key (a unique column, or the first columns together) inferred from the values, and for every table with a
key a lookup query named after the table, taking the key columns and returning the whole row. It prints what it
inferred and why; edit the JSON under APP/schemas/ afterwards. Then:

  roq start --app APP --data DATA_DIR --run APP/run
  roq query TABLE KEY=VALUE --json --run APP/run

  --from DIR   the data directory to read (required)
  --force      overwrite the schemas of an existing app
`;

const DATA_FILE = /\.(csv|tsv|txt|psv)$/i;

export async function init(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'init',
    argv,
    { from: { type: 'string' }, force: { type: 'boolean' } },
    true,
  );
  if (values.help) return (void process.stdout.write(INIT_HELP), 0);
  const [appArg, ...extra] = positionals;
  if (appArg === undefined || extra.length)
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
  let files: string[];
  try {
    files = fs
      .readdirSync(data)
      .filter((f) => DATA_FILE.test(f) && isRegularFile(data, f))
      .sort();
  } catch (e) {
    throw roqError('ROQ_USAGE', {
      command: 'init',
      detail: `cannot read the data directory ${data} (${(e as Error).message})`,
    });
  }
  if (files.length === 0)
    throw roqError('ROQ_USAGE', { command: 'init', detail: `${data} has no .csv, .tsv, .txt or .psv files` });
  fs.rmSync(join(app, 'schemas'), { recursive: true, force: true });
  fs.mkdirSync(join(app, 'schemas/tables'), { recursive: true });
  fs.mkdirSync(join(app, 'schemas/queries'), { recursive: true });
  const names = new Set<string>();
  let queries = 0;
  for (const file of files) {
    let table = snakeName(basename(file, extname(file)), 'table');
    for (let k = 2; names.has(table); k++) table = `${snakeName(basename(file, extname(file)), 'table')}_${k}`;
    names.add(table);
    const inferred = inferTable(file, table, readRegularFile(join(data, file)), join(data, file));
    fs.writeFileSync(join(app, 'schemas/tables', `${table}.json`), JSON.stringify(inferred.table, null, 2) + '\n');
    if (inferred.query) {
      fs.writeFileSync(join(app, 'schemas/queries', `${table}.json`), JSON.stringify(inferred.query, null, 2) + '\n');
      queries++;
    }
    process.stdout.write(inferred.reasons.map((r) => `  ${printable(r)}\n`).join(''));
  }
  if (!fs.existsSync(join(app, 'app.json')))
    fs.writeFileSync(join(app, 'app.json'), JSON.stringify({ title: basename(app) }, null, 2) + '\n');
  process.stdout.write(
    `roq init: wrote ${files.length} table schema(s) and ${queries} lookup quer${queries === 1 ? 'y' : 'ies'} to ${app}/schemas; edit them, then:\n` +
      `  roq start --app ${appArg} --data ${values.from} --run ${join(appArg, 'run')}\n`,
  );
  return 0;
}
