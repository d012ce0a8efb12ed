/**
 * `roq upgrade`: replaces the daemon on a run directory by one running this program's code, losing no request.
 * It holds `<run>/daemon/upgrade.lock` so that two upgrades never race, starts `roq daemon --takeover` with the
 * running daemon's options (from the status.json in its private directory, never from a file the run directory's
 * group could write) unless told otherwise, and waits until the new daemon reads REQUESTS.
 * If the new daemon fails to load or is not ready in time, it is stopped and the old one serves on.
 */
import lockfile from 'proper-lockfile';
import { roqError, RoqError } from '../errors.js';
import { runningPid } from '../control/lifecycle.js';
import { privatePath } from '../daemon/private-dir.js';
import { readStatusFile } from '../control/status.js';
import { buildLabel, thisBuild } from '../version.js';
import { intOption, parseCommand, requireRunDir, type Options } from './options.js';
import { DAEMON_OPTIONS, fromArgs, successorOptions } from '../control/daemon-options.js';
import { watchdogFrom } from '../daemon/watchdog.js';
import { launch } from './start.js';

export const UPGRADE_HELP = `usage: roq upgrade [--run DIR] [--ready-timeout MS] [--data DIR] [--workers N] [--deadline MS] [...]

Replaces the daemon running on the run directory by a new one running this roq's code (run the \`roq\` of the
new release), without losing a request: the new daemon loads the data while the old one serves, then the old one
finishes what it has read and the new one reads on. The new daemon keeps the old one's options (--data, --workers,
--deadline, --log, --access-log, --takeover-timeout, --roq1, --notify, --notify-interval, and for root --user)
unless they are given here. Exits 0 once the new daemon serves; if it fails
to load or is not ready in time, it is stopped, the old one serves on, and the exit status is 1.

  --run DIR              run directory (default $ROQ_RUN_DIR, else ./run)
  --ready-timeout MS     how long the new daemon may take to load (default 300000)
  --data, --workers, --deadline, --log, --access-log, --takeover-timeout, --user, --roq1: as for \`roq start\`
`;

const UPGRADE_OPTIONS = { ...DAEMON_OPTIONS, 'ready-timeout': { type: 'string' } } satisfies Options;

export async function upgrade(argv: string[]): Promise<number> {
  const { values } = parseCommand('upgrade', argv, UPGRADE_OPTIONS);
  if (values.help) return (void process.stdout.write(UPGRADE_HELP), 0);
  const readyTimeoutMs = intOption('upgrade', 'ready-timeout', values['ready-timeout'], 300_000, 100, 3_600_000);
  const run = requireRunDir(fromArgs('upgrade', values).run);
  // In the private directory, like the options below: nobody in the run directory's group can hold or fake them.
  const lock = privatePath(run, 'upgrade');
  let unlock: () => Promise<void>;
  try {
    unlock = await lockfile.lock(lock, { realpath: false, stale: 30_000, update: 5_000 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOCKED')
      throw roqError('ROQ_UPGRADE_RUNNING', { run, lock: `${lock}.lock` });
    throw roqError('ROQ_START_FAILED', { run, detail: `cannot lock ${lock}: ${(e as Error).message}` });
  }
  try {
    const oldPid = runningPid(run);
    if (oldPid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
    const old = readStatusFile(run, oldPid);
    // systemd gives ExecReload no watchdog of its own: the new daemon (which reads its environment) keeps the old one's.
    const watchdog = old?.options?.watchdog;
    if (watchdog && !watchdogFrom(process.env)) {
      process.env.NOTIFY_SOCKET = watchdog.socket;
      process.env.WATCHDOG_USEC = String(watchdog.intervalMs * 1000);
    }
    const o = { ...successorOptions('upgrade', old, values), takeover: true };
    const t0 = Date.now();
    let loadedAt = 0;
    const r = await launch(o, readyTimeoutMs, (l) => {
      loadedAt = Date.now();
      process.stdout.write(
        `new daemon pid ${l.pid} loaded ${l.rows} rows in ${l.loadMs} ms; taking over from pid ${oldPid}\n`,
      );
    }).catch((e: unknown) => {
      const detail = e instanceof RoqError ? `${e.message} [${e.code}]` : String((e as Error)?.message ?? e);
      throw roqError('ROQ_TAKEOVER_FAILED', { run, pid: oldPid, detail });
    });
    process.stdout.write(
      `roq upgraded on ${run}: pid ${oldPid} (${buildLabel(old ?? {})}) -> pid ${r.pid} (${buildLabel(thisBuild())}), generation ${r.generation}, ` +
        `${r.rows} rows, ${r.workers} workers; handover took ${Date.now() - (loadedAt || t0)} ms\n`,
    );
    return 0;
  } finally {
    await unlock().catch(() => undefined);
  }
}
