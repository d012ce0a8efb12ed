/**
 * `roq reload`: SIGHUP to the daemon, then wait for the outcome of the first reload that started after the signal
 * was counted (status.json's `reload.last.covers`), so that a cron job learns whether the new files serve.
 * `roq reload --hold`, `roq reload --drop-held` and `roq swap` are admin requests instead (hold.ts).
 */
import { roqError } from '../errors.js';
import { isAlive, runningPid, signalDaemon } from '../control/lifecycle.js';
import { readStatusFile } from '../control/status.js';
import type { ReloadOutcome } from '../control/status.js';
import { pollUntil } from '../poll.js';
import { coverageLine } from '../valid-dates.js';
import { intOption, parseCommand, RUN_OPTION, runDir } from './options.js';
import { holdAction } from './hold.js';
import { fileLines } from './file-table.js';

export const RELOAD_HELP = `usage: roq reload [--run DIR] [--timeout MS] [--hold | --drop-held]

Makes the daemon load its data directory again (SIGHUP) and waits for the outcome. The old data serves until the
new data is loaded and valid. Prints the new generation and its row counts and exits 0, or prints the load error
(naming file:line:column) and exits 1, in which case the old data serves on.

  --run DIR       run directory (default $ROQ_RUN_DIR, else ./run)
  --timeout MS    how long to wait for the outcome (default 600000)
  --hold          load the data directory and keep it ready without serving it: prints its content hash and row
                  counts; \`roq swap\` then makes it current (for clusters: see deploy/refresh-cluster.sh). If the
                  load fails, nothing changes and the exit status is 1
  --drop-held     discard the generation that --hold loaded
  --logs          reopen the log files instead (SIGUSR1, for logrotate); returns at once

Signals go only to a process checked to be the daemon of the run directory (docs/SECURITY.md).
`;

const POLL_MS = 20;

function describe(run: string, r: ReloadOutcome): string {
  const files = fileLines(r.files ?? [])
    .map((line) => `${line}\n`)
    .join('');
  return `roq reloaded on ${run}: generation ${r.generation} serving, hash ${r.hash}, ${r.rows} rows from ${r.files?.length ?? 0} files in ${r.ms} ms\n${coverageLine(r.dates)}${files}`;
}

export async function reload(argv: string[]): Promise<number> {
  const { values } = parseCommand('reload', argv, {
    ...RUN_OPTION,
    timeout: { type: 'string' },
    hold: { type: 'boolean' },
    'drop-held': { type: 'boolean' },
    logs: { type: 'boolean' },
  });
  if (values.help) return (void process.stdout.write(RELOAD_HELP), 0);
  const run = runDir(values.run);
  if (values.logs) {
    const pid = signalDaemon(run, 'SIGUSR1');
    if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
    process.stdout.write(`roq on ${run} (pid ${pid}) reopens its logs\n`);
    return 0;
  }
  const timeoutMs = intOption('reload', 'timeout', values.timeout, 600_000, 100, 86_400_000);
  if (values.hold && values['drop-held'])
    throw roqError('ROQ_USAGE', { command: 'reload', detail: '--hold and --drop-held exclude each other' });
  if (values.hold || values['drop-held']) return holdAction(run, values.hold ? 'hold' : 'drop', timeoutMs);
  const pid = runningPid(run);
  if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
  const giveUp = Date.now() + timeoutMs;
  // While the daemon is still starting there is no status yet: its first appears once it serves.
  const before = await pollUntil(
    () => {
      const s = readStatusFile(run, pid);
      if (!s && !isAlive(pid)) throw roqError('ROQ_NOT_RUNNING', { run });
      return s;
    },
    POLL_MS,
    giveUp,
  );
  if (!before) throw roqError('ROQ_RELOAD_TIMEOUT', { run, ms: timeoutMs });
  if (!before.reload)
    throw roqError('ROQ_RELOAD_FAILED', {
      run,
      detail: `the daemon (pid ${pid}) is of a release that does not report reloads; use \`kill -HUP ${pid}\` and read its log`,
    });
  const wanted = before.reload.requested + 1;
  if (signalDaemon(run, 'SIGHUP') !== pid) throw roqError('ROQ_NOT_RUNNING', { run });
  const last = await pollUntil(
    () => {
      const now = readStatusFile(run, pid);
      if (!now && !isAlive(pid))
        throw roqError('ROQ_RELOAD_FAILED', {
          run,
          detail: `the daemon (pid ${pid}) stopped before the reload finished`,
        });
      // The first plain reload that answers our signal; holds and swaps in between have covers 0.
      return (now?.reload.recent ?? (now?.reload.last ? [now.reload.last] : [])).find((r) => r.covers >= wanted);
    },
    POLL_MS,
    giveUp,
  );
  if (!last) throw roqError('ROQ_RELOAD_TIMEOUT', { run, ms: timeoutMs });
  if (last.status === 'failed')
    throw roqError('ROQ_RELOAD_FAILED', { run, detail: last.error?.message ?? 'unknown error' });
  process.stdout.write(describe(run, last));
  return 0;
}
