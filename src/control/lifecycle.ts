/**
 * The control side of a daemon's life, as the CLI sees it: the PID file, liveness of a recorded PID, signalling
 * the daemon of a run directory, starting a detached daemon and waiting for its readiness report, and stopping
 * one. The daemon's own side of the PID file — taking and releasing its lock — is src/daemon/pid-lock.ts.
 *
 * The lock. `<run>/daemon/roq.pid` is guarded by proper-lockfile (an atomic mkdir of `<run>/daemon/roq.pid.lock`,
 * whose mtime the holder refreshes every second). Both live in the daemon's private directory (private-dir.ts): the
 * run directory's group cannot touch them. A second daemon that finds the lock held reads the PID file:
 *  - the PID is alive: it refuses with ROQ_ALREADY_RUNNING naming that PID;
 *  - the PID is dead (the holder was killed with -9) and the lock has not been refreshed for STALE_AFTER_MS: the
 *    lock is broken and taken over at once, without waiting for proper-lockfile's own mtime staleness (a minute,
 *    kept long so that a daemon whose event loop is busy loading data is never mistaken for a dead one);
 *  - otherwise (no PID yet, or a lock just made): a daemon is between taking the lock and writing its PID, which
 *    takes microseconds; wait a little and look again.
 * A PID that is alive but belongs to another program (reuse after a reboot with a persistent run directory) ends
 * up as proper-lockfile staleness: nobody refreshes the lock's mtime, so after a minute it is broken anyway.
 *
 * Signals. A PID is signalled (stop, reload, logs, retire) only after checking that it is the daemon of this run
 * directory: a live process of the run directory's owner (or root) whose command line is `… daemon … --run <run>`
 * (isDaemonOf). A daemon of 0.1 kept its PID in `<run>/roq.pid`; that file is read, for taking over from such a
 * daemon, only when the run directory's owner owns it, and its PID passes the same check.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { fromWire, roqError, RoqError, toWire, type WireError } from '../errors.js';
import type { DateRange } from '../protocol.js';
import { accessError, openAppend, privatePath, readNoFollow } from '../daemon/private-dir.js';
import { lineSplitter } from '../lines.js';
import { legacyPidFileOf } from './compat.js';
import { pollUntil } from '../poll.js';

export const PID_FILE = 'roq.pid';
export const LOG_FILE = 'roq.log';

export function pidFilePath(run: string): string {
  return privatePath(run, PID_FILE);
}

/** The daemon's log when no --log is given: in its private directory. */
export function defaultLogFile(run: string): string {
  return privatePath(run, LOG_FILE);
}

function parsePid(text: string | undefined): number | undefined {
  const pid = Number(text?.trim());
  return text !== undefined && Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The PID recorded in `<run>/daemon/roq.pid`, or undefined when there is none (or it is garbage). */
export function readPid(run: string): number | undefined {
  return parsePid(readNoFollow(pidFilePath(run)));
}

/**
 * Whether `pid` is the roq daemon of `run`: a live process of the run directory's owner (or root, before it drops
 * to its user) whose command line holds `daemon` and `--run <run>`. Nobody else can run a process as those users,
 * so a PID planted anywhere cannot make roq signal an unrelated process.
 */
export function isDaemonOf(pid: number, run: string): boolean {
  try {
    const owner = fs.statSync(run).uid;
    const uid = fs.statSync(`/proc/${pid}`).uid;
    if (uid !== owner && uid !== 0) return false;
    const args = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const named = args[args.indexOf('--run') + 1];
    // realpath: /var/run/roq and /run/roq are one directory.
    return (
      args.includes('daemon') &&
      named !== undefined &&
      args.includes('--run') &&
      fs.realpathSync(named) === fs.realpathSync(run) &&
      isAlive(pid)
    );
  } catch (e) {
    // Gone: the process (its /proc entry) or the directory it names. Anything else (EACCES on the run directory)
    // does not say that no daemon runs, and `roq stop` must not answer "not running, start it" for it.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw accessError((e as NodeJS.ErrnoException).path ?? run, e);
  }
}

/** A daemon of 0.1 on `run` (its PID file in the run directory itself, compat.ts), verified as above. */
export function legacyPid(run: string): number | undefined {
  const pid = legacyPidFileOf(run);
  return pid !== undefined && isDaemonOf(pid, run) ? pid : undefined;
}

/**
 * Sends `signal` to the daemon on `run` after checking it is one (isDaemonOf); returns its PID, or undefined when
 * no daemon runs there (nothing is signalled then).
 */
export function signalDaemon(run: string, signal: NodeJS.Signals): number | undefined {
  const pid = runningPid(run);
  if (pid === undefined) return undefined;
  try {
    process.kill(pid, signal);
  } catch {
    return undefined;
  }
  return pid;
}

/** Whether a process with this PID exists and has not exited. A zombie (exited, not yet reaped) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** The PID of the live daemon on `run` (of this release, else of 0.1), checked with isDaemonOf; or undefined. */
export function runningPid(run: string): number | undefined {
  const pid = readPid(run);
  return pid !== undefined && isDaemonOf(pid, run) ? pid : legacyPid(run);
}

// ---- readiness: the detached daemon reports on fd 3, then closes it ----
//
// While loading, the daemon reports `FILE {...}` per file loaded (for progress on a terminal). A daemon taking
// over reports `LOADED {...}` once its data is loaded and its workers are up, just before it
// tells the old daemon to retire; every daemon then reports `READY {...}` once it reads REQUESTS, or
// `ERROR {...}` instead.

export interface ReadyReport {
  pid: number;
  generation: number;
  /** The generation's content hash (loader.contentHash); absent from daemons before it. */
  hash?: string;
  files: number;
  rows: number;
  bytes: number;
  loadMs: number;
  workers: number;
  run: string;
  /** The days the data covers, where the app defines them. */
  dates?: DateRange;
}

export function readyLine(r: ReadyReport): string {
  return `READY ${JSON.stringify(r)}\n`;
}

export function loadedLine(r: ReadyReport): string {
  return `LOADED ${JSON.stringify(r)}\n`;
}

export function errorLine(e: unknown, run: string): string {
  const err =
    e instanceof RoqError ? e : roqError('ROQ_START_FAILED', { run, detail: String((e as Error)?.message ?? e) });
  return `ERROR ${JSON.stringify(toWire(err))}\n`;
}

function parseReport(line: string, run: string): ReadyReport {
  if (line.startsWith('READY ')) return JSON.parse(line.slice(6)) as ReadyReport;
  if (line.startsWith('ERROR ')) {
    throw fromWire(JSON.parse(line.slice(6)) as WireError, (w) =>
      roqError('ROQ_START_FAILED', { run, detail: `${w.code}: ${w.message}` }),
    );
  }
  throw roqError('ROQ_START_FAILED', { run, detail: `unexpected readiness report '${line.slice(0, 80)}'` });
}

export interface DetachedStart {
  /** dist/roq.js: the daemon runs as `node roq.js daemon …`. */
  program: string;
  run: string;
  /** The daemon's stdout and stderr are appended here (so is its log, by default). */
  logFile: string;
  args: string[];
  /** How long the daemon may take to load its data; past it, it is killed and the start fails. */
  readyTimeoutMs: number;
  /** Called when a daemon taking over has loaded and is about to tell the old one to retire. */
  onLoaded?(report: ReadyReport): void;
  /** Called for each file of the first load, as the daemon reports it. */
  onFile?(f: { file: string; rows: number; bytes: number; ms: number }): void;
}

/**
 * Starts the daemon as a detached process (its own session, stdin from /dev/null, stdout and stderr appended to
 * `<run>/daemon/roq.log`) and resolves once it reports READY on fd 3, or rejects with the error it reported (a load error
 * names file:line:column). A daemon that exits or stays silent past readyTimeoutMs is reported as failed; a silent
 * one is killed, so a failed start never leaves a daemon behind. Once a daemon taking over has reported LOADED it
 * is no longer killed: it may have told the old daemon to retire, and it bounds its own wait for the lock.
 */
export function startDetached(s: DetachedStart): Promise<ReadyReport> {
  const logFd = openAppend(s.logFile);
  const child = spawn(process.execPath, [s.program, 'daemon', ...s.args, '--ready-fd', '3'], {
    detached: true,
    cwd: '/',
    stdio: ['ignore', logFd, logFd, 'pipe'],
  });
  fs.closeSync(logFd);
  const ready = child.stdio[3] as NodeJS.ReadableStream;
  ready.setEncoding('utf8');
  return new Promise<ReadyReport>((resolve, reject) => {
    let settled = false;
    const settle = (err: Error | undefined, report?: ReadyReport) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      (ready as unknown as { destroy(): void }).destroy();
      child.unref();
      if (err) reject(err);
      else resolve(report!);
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      settle(
        roqError('ROQ_START_FAILED', {
          run: s.run,
          detail: `the daemon was not ready within ${s.readyTimeoutMs} ms and was killed; see ${s.logFile}`,
        }),
      );
    }, s.readyTimeoutMs);
    ready.on(
      'data',
      lineSplitter((line) => {
        if (settled) return;
        if (line.startsWith('FILE '))
          return s.onFile?.(JSON.parse(line.slice(5)) as { file: string; rows: number; bytes: number; ms: number });
        if (line.startsWith('LOADED ')) {
          clearTimeout(timer);
          return s.onLoaded?.(JSON.parse(line.slice(7)) as ReadyReport);
        }
        try {
          settle(undefined, parseReport(line, s.run));
        } catch (e) {
          settle(e as Error);
        }
      }),
    );
    ready.on('error', () => undefined); // the exit handler reports
    child.on('exit', (code, signal) => {
      settle(
        roqError('ROQ_START_FAILED', {
          run: s.run,
          detail: `the daemon exited (${signal ?? `code ${code}`}) before it was ready; see ${s.logFile}`,
        }),
      );
    });
  });
}

/**
 * Sends SIGTERM to the daemon on `run` and resolves with its PID once the process is gone. The daemon answers the
 * requests it has already read before exiting (see the dispatcher). Rejects with ROQ_NOT_RUNNING, or ROQ_STOP_FAILED
 * when it is still there after timeoutMs.
 */
export async function stopDaemon(run: string, timeoutMs: number): Promise<number> {
  const pid = signalDaemon(run, 'SIGTERM');
  if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
  const gone = await pollUntil(() => (isAlive(pid) ? undefined : true), 25, Date.now() + timeoutMs);
  if (!gone) throw roqError('ROQ_STOP_FAILED', { run, pid, ms: timeoutMs });
  return pid;
}
