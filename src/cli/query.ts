/**
 * `roq query NAME param=value … [--json]`: asks the daemon exactly as the CGI program does (src/client.ts), after
 * validating the parameters here with the same specs, so a bad value is reported without contacting the daemon.
 * The specs are the running app's, from `<run>/queries.json` (see queries-file.ts), so one `roq` asks any app's
 * daemon; the schemas compiled into this program serve only when that file is absent.
 */
import { APP_INFO } from '../app/app.js';
import { roqError } from '../errors.js';
import { QUERY_SPECS } from '../app/queries.js';
import { datesNotice, parseParams, querySpecOf } from '../params.js';
import { rowsToObjects, type Cell, type Field } from '../protocol.js';
import { ask, errorOfAnswer } from '../client.js';
import { readQueriesFile } from '../queries-file.js';
import { intOption, parseCommand, RUN_OPTION, runDir } from './options.js';

const NAMES = Object.keys(QUERY_SPECS);

/**
 * The help's example: the app's own (app.json's `example`), else its first query with its required parameters
 * (the app's build compiles this help with the app's queries).
 */
function example(): string {
  if (APP_INFO.example) return `example:\n  ${APP_INFO.example}\n`;
  const first = QUERY_SPECS[NAMES[0] ?? ''];
  if (!first) return '';
  const params = first.params.filter((p) => p.required).map((p) => ` ${p.name}=…`);
  return `example:
  roq query ${first.name}${params.join('')} --json
`;
}

export const QUERY_HELP = `usage: roq query NAME [PARAM=VALUE ...] [--json] [--run DIR] [--timeout MS]

Asks the daemon one query through its FIFOs, as the web page does, and prints the rows: a table, or with --json
one JSON array of objects whose keys are the answer's fields in order (integers as numbers).

queries:
${NAMES.map((n) => {
  const q = QUERY_SPECS[n]!;
  const params = q.params.map((p) => (p.required ? `${p.name}=…` : `[${p.name}=…]`)).join(' ');
  return `  ${n} ${params}\n      ${q.description}`;
}).join('\n')}

  --json          print JSON instead of a table
  --run DIR       run directory (default $ROQ_RUN_DIR, else ./run)
  --timeout MS    how long to wait for the answer (default 5000)

${example()}`;

/** `--limit 5` for a query's parameter `limit`: parameters are written NAME=VALUE. */
function paramHint(option: string): string | undefined {
  const name = option.replace(/^--?/, '').split('=')[0]!;
  const known = Object.values(QUERY_SPECS).some((q) => q.params.some((p) => p.name === name));
  return known ? `query parameters are written NAME=VALUE, as in '${name}=…'` : undefined;
}

function table(fields: readonly Field[], rows: readonly Cell[][]): string {
  if (rows.length === 0) return '(no rows)\n';
  const text = [fields.map((f) => f.name), ...rows.map((r) => r.map(String))];
  const widths = fields.map((_, i) => Math.max(...text.map((r) => r[i]!.length)));
  const lines = text.map((r) =>
    r
      .map((c, i) =>
        fields[i]!.type === 'int' || fields[i]!.type === 'float' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!),
      )
      .join('  ')
      .trimEnd(),
  );
  return lines.join('\n') + `\n(${rows.length} row${rows.length === 1 ? '' : 's'})\n`;
}

export async function query(argv: string[]): Promise<number> {
  const { values, positionals } = parseCommand(
    'query',
    argv,
    { ...RUN_OPTION, json: { type: 'boolean' }, timeout: { type: 'string' } },
    true,
    paramHint,
  );
  if (values.help) return (void process.stdout.write(QUERY_HELP), 0);
  const [name, ...pairs] = positionals;
  if (name === undefined) throw roqError('ROQ_USAGE', { command: 'query', detail: 'name a query' });
  const run = runDir(values.run);
  const specs = readQueriesFile(run) ?? QUERY_SPECS;
  const spec = querySpecOf(specs, name);
  const raw: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) throw roqError('ROQ_USAGE', { command: 'query', detail: `'${pair}' is not of the form PARAM=VALUE` });
    const key = pair.slice(0, eq);
    if (Object.hasOwn(raw, key)) throw roqError('ROQ_PARAM_REPEATED', { param: key.slice(0, 40) });
    raw[key] = pair.slice(eq + 1);
  }
  parseParams(name, spec.params, raw);
  const answer = await ask(run, name, raw, {
    timeoutMs: intOption('query', 'timeout', values.timeout, 5000, 1, 3_600_000),
  });
  if (answer.status !== 'ok') throw errorOfAnswer(answer);
  // The answer itself stays exact (a script reads stdout); a date outside the data is said on stderr.
  const notice = answer.rows.length === 0 ? datesNotice(spec.params, raw, answer.dates, APP_INFO.dataNoun) : undefined;
  if (notice) process.stderr.write(`roq: ${notice}\n`);
  process.stdout.write(
    values.json ? JSON.stringify(rowsToObjects(answer.fields, answer.rows)) + '\n' : table(answer.fields, answer.rows),
  );
  return 0;
}
