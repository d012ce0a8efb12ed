/**
 * `roq check --data DIR` (like `nginx -t`): loads a data directory against the app's schemas in this process,
 * with the daemon's own loader, and reports what a `roq start` or `roq reload` of it would see: rows per table,
 * the days the data covers, and the warnings the daemon would log. It never contacts a daemon, so a refresh
 * script runs it before flipping the data symlink: exit 0 means the directory loads; a load error is printed
 * as file:line:column and the exit status is 1.
 */
import { APP_INFO } from '../app/app.js';
import { coverageLine } from '../valid-dates.js';
import { loadGeneration } from '../load/loader.js';
import { dataDir, parseCommand } from './options.js';
import { fileLines } from './file-table.js';

export const CHECK_HELP = `usage: roq check [--data DIR]

Loads and validates a data directory against the app's schemas without touching a running daemon, and prints
the rows of each table, the days the data covers and any warnings. Exits 0 when the directory would load, 1
with the error (file:line:column) when it would not.

  --data DIR   data directory (default $ROQ_DATA_DIR, else ./${APP_INFO.dataDir})
  --app DIR    check against the schemas of the app in DIR (built first when needed)
`;

export async function check(argv: string[]): Promise<number> {
  const { values } = parseCommand('check', argv, { data: { type: 'string' } });
  if (values.help) return (void process.stdout.write(CHECK_HELP), 0);
  const dir = dataDir(values.data);
  const warnings: string[] = [];
  const g = await loadGeneration(dir, 0, { warn: (m) => warnings.push(m) });
  const lines = [
    `${g.dataDir}: ok, ${g.stats.rows} rows from ${g.stats.files.length} files in ${Math.round(g.loadMs)} ms`,
    ...fileLines(g.stats.files),
  ];
  process.stdout.write(lines.join('\n') + '\n' + coverageLine(g.dates));
  for (const w of warnings) process.stdout.write(`warning: ${w}\n`);
  return 0;
}
