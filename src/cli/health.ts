/**
 * `roq health`: the daemon's health as monitoring expects it (a Nagios/Icinga/Monit plugin): exit 0 OK, 1 WARNING,
 * 2 CRITICAL, 3 UNKNOWN, and one line of text with performance data after `|`, then the other events, one a line.
 * It reads what the daemon writes every second (status.json: its events worth a human, events.ts), so asking costs
 * the daemon nothing, and it says CRITICAL itself when no daemon runs or the daemon stopped writing (hung).
 *
 * `--restart` is for hosts without systemd (a cron line): a daemon that is not running, or has not written its
 * status for three times --stale (its main loop is stuck; it is killed first), is started again with the options it
 * ran with, and the restart is reported on the output (cron mails it) and to the notify command.
 */
import * as fs from 'node:fs';
import { roqError, RoqError } from '../errors.js';
import { isAlive, runningPid } from '../control/lifecycle.js';
import { readStatusFile, type StatusFile } from '../control/status.js';
import { daysBetween, today } from '../dates.js';
import { EVENT_SEVERITY, type EventMessage } from '../daemon/events.js';
import { runNotify } from '../daemon/notify.js';
import { escapeControls } from '../daemon/log.js';
import { privateDir } from '../daemon/private-dir.js';
import { pollUntil } from '../poll.js';
import { intOption, parseCommand, runDir, type Options } from './options.js';
import { DAEMON_OPTIONS, notifyOptions, successorOptions } from '../control/daemon-options.js';
import { launch } from './start.js';

export const HEALTH_HELP = `usage: roq health [--run DIR] [--restart [--data DIR ...]] [--failed UNIT]

Checks the daemon on the run directory as a Nagios, Icinga or Monit plugin: prints one line, "ROQ OK",
"ROQ WARNING" or "ROQ CRITICAL" with the worst event's sentence and performance data (generation, data age,
days left, queue, workers, errors per minute), then any other event, and exits 0, 1 or 2 (3: it cannot tell,
e.g. when run by a user who may not read <run>/daemon/). Every event is listed in docs/OPERATIONS.md.

  --run DIR         run directory (default $ROQ_RUN_DIR, else ./run)
  --stale MS        a status older than this means the daemon is stuck (default 10000)
  --restart         (cron, hosts without systemd) start a daemon that is not running or is stuck (no status
                    for three times --stale: it is killed first) with the options it ran with (else --data,
                    --workers, ... as for \`roq start\`), and report it
  --failed UNIT     (systemd OnFailure=) report that UNIT failed to the notify command, and exit
  --notify CMD      the notify command for --restart and --failed (default: the daemon's, else $ROQ_NOTIFY)
`;

const HEALTH_OPTIONS = {
  ...DAEMON_OPTIONS,
  stale: { type: 'string' },
  restart: { type: 'boolean' },
  failed: { type: 'string' },
} satisfies Options;

const EXIT: Record<'OK' | 'WARNING' | 'CRITICAL' | 'UNKNOWN', number> = { OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3 };
type Verdict = keyof typeof EXIT;
/**
 * --restart kills a daemon whose status is this many times older than --stale: stuck for that long, it is not a
 * moment's pause (a swap of a large generation, a slow disk).
 */
const STUCK_RESTART_FACTOR = 3;

interface Finding {
  verdict: Verdict;
  lines: string[];
  perf: string;
}

export async function health(argv: string[]): Promise<number> {
  const { values } = parseCommand('health', argv, HEALTH_OPTIONS);
  if (values.help) return (void process.stdout.write(HEALTH_HELP), 0);
  const run = runDir(values.run);
  if (typeof values.failed === 'string') return reportFailedUnit(run, values.failed, values);
  const staleMs = intOption('health', 'stale', values.stale, 10_000, 1000, 3_600_000);
  let f = examine(run, staleMs);
  if (values.restart && (f.pid === undefined || f.stuckMs >= STUCK_RESTART_FACTOR * staleMs))
    f = await restart(run, f, values, staleMs);
  const [first, ...more] = f.lines;
  process.stdout.write(
    `ROQ ${f.verdict} - ${first}${f.perf ? ` | ${f.perf}` : ''}\n${more.map((l) => l + '\n').join('')}`,
  );
  return EXIT[f.verdict];
}

/** What the run directory says of its daemon; `stuckMs`: how long its status has not been written. */
function examine(run: string, staleMs: number): Finding & { pid?: number; stuckMs: number; status?: StatusFile } {
  try {
    fs.accessSync(privateDir(run), fs.constants.R_OK | fs.constants.X_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT')
      return unknown(`cannot read the daemon's directory in ${run} (${code}): run roq health as the daemon's user`);
    if (!fs.existsSync(run)) return unknown(`no run directory ${run}: give --run or $ROQ_RUN_DIR`);
  }
  const pid = runningPid(run);
  const leftover = readStatusFile(run);
  if (pid === undefined) {
    const gone = leftover && !isAlive(leftover.pid) ? `; pid ${leftover.pid} stopped without saying so` : '';
    return {
      verdict: 'CRITICAL',
      lines: [`roq is not running on ${run}${gone}`],
      perf: '',
      stuckMs: 0,
      status: leftover,
    };
  }
  const s = readStatusFile(run, pid);
  if (!s)
    return {
      verdict: 'WARNING',
      lines: [`roq is starting on ${run} (pid ${pid}): loading data`],
      perf: '',
      pid,
      stuckMs: 0,
    };
  const stuckMs = Date.now() - s.updatedAt;
  const events = s.health?.events ?? [];
  const lines = events.map((e) => `${e.sentence} [${e.kind}]`);
  let verdict: Verdict = events.some((e) => e.severity === 'critical') ? 'CRITICAL' : events.length ? 'WARNING' : 'OK';
  if (stuckMs >= staleMs) {
    verdict = 'CRITICAL';
    lines.unshift(
      `the daemon (pid ${pid}) has not written its status for ${Math.round(stuckMs / 1000)} s: its main loop is stuck; restart it`,
    );
  }
  if (lines.length === 0) lines.push(`roq serves generation ${s.generation.id} on ${run}`);
  // `|` starts the performance data; a load error may quote a data file's bytes (no terminal escapes).
  const plain = lines.map((l) => escapeControls(l).replaceAll('|', '/'));
  return { verdict, lines: plain, perf: perfData(s), pid, stuckMs, status: s };
}

function unknown(line: string): Finding & { stuckMs: number } {
  return { verdict: 'UNKNOWN', lines: [line], perf: '', stuckMs: 0 };
}

/** Nagios performance data: label=value[unit];warn;crit;min. */
function perfData(s: StatusFile): string {
  const g = s.generation;
  const left = g.dates ? daysBetween(today(new Date(), g.dates.zone), g.dates.end) : undefined;
  const perMinute = s.health?.perMinute;
  return [
    `generation=${g.id};;;0`,
    `data_age=${Math.max(0, Math.round((Date.now() - g.loadedAt) / 1000))}s;;;0`,
    ...(left === undefined ? [] : [`days_left=${left};7:;0:`]),
    `queue=${s.queued};;;0`,
    `workers=${s.workers.size - s.workers.busy};;;0;${s.workers.size}`,
    ...(perMinute ? [`errors_per_min=${perMinute.errors};;;0`] : []),
  ].join(' ');
}

type Values = Record<string, string | boolean | undefined>;

/** Starts the daemon again (killing a stuck one first) with its last options; the finding says what happened. */
async function restart(
  run: string,
  f: ReturnType<typeof examine>,
  values: Values,
  staleMs: number,
): Promise<ReturnType<typeof examine>> {
  const o = successorOptions('health', f.status, values);
  const why =
    f.pid === undefined
      ? f.lines[0]!
      : `pid ${f.pid} was stuck (no status for ${Math.round(f.stuckMs / 1000)} s) and was killed`;
  if (f.pid !== undefined) await kill(f.pid);
  let sentence: string, verdict: Verdict;
  try {
    const r = await launch(o, 300_000);
    sentence = `${why}; roq health --restart started pid ${r.pid}, generation ${r.generation}`;
    verdict = 'WARNING'; // it serves again; the message still says a daemon died
  } catch (e) {
    const detail = e instanceof RoqError ? `${e.message} [${e.code}]` : String(e);
    sentence = `${why}; roq health --restart could not start it: ${detail}`;
    verdict = 'CRITICAL';
  }
  await tell(o.notify, run, 'daemon-died', sentence);
  const now = examine(run, staleMs);
  return { ...now, verdict, lines: [sentence, ...now.lines.filter((l) => !l.startsWith('roq serves'))] };
}

async function kill(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  await pollUntil(() => (isAlive(pid) ? undefined : true), 20, Date.now() + 10_000);
}

/** One message to the notify command, outside the daemon (a restart, a unit that failed); failures are said. */
async function tell(
  notify: string[] | undefined,
  run: string,
  kind: 'daemon-died',
  sentence: string,
): Promise<boolean> {
  if (!notify) return true;
  const now = Date.now();
  const severity = EVENT_SEVERITY[kind];
  const m: EventMessage = { type: 'event', kind, severity, firstSeen: now, lastSeen: now, count: 1, new: 1, sentence };
  const failed = await runNotify(notify, m, run);
  if (failed) process.stderr.write(`roq: the notify command '${notify[0]}' failed: ${failed}\n`);
  return !failed;
}

/** systemd's OnFailure=: the unit failed (a crash, the watchdog, a failed start); the daemon cannot say it. */
async function reportFailedUnit(run: string, unit: string, values: Values): Promise<number> {
  const notify = notifyOptions('health', values).notify ?? readStatusFile(run)?.options.notify;
  if (!notify) throw roqError('ROQ_USAGE', { command: 'health', detail: '--failed needs --notify or $ROQ_NOTIFY' });
  const sentence = `systemd unit ${unit.slice(0, 100)} failed (a crash, the watchdog, or a start that failed); systemd restarts it (Restart=on-failure): see journalctl -u ${unit.slice(0, 100)} and the daemon's log`;
  process.stdout.write(`${sentence}\n`);
  return (await tell(notify, run, 'daemon-died', sentence)) ? 0 : 1;
}
