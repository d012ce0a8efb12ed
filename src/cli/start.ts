/**
 * `roq start` and the hidden `roq daemon` it runs. `start` checks for a running daemon, then starts `roq daemon`
 * detached and waits for its readiness report on fd 3 (see lifecycle.startDetached); `--foreground` runs the
 * daemon in this very process instead, for systemd and debugging. `--takeover` starts a daemon that replaces a
 * running one without losing a request (`roq upgrade` wraps it for admins).
 */
import * as fs from 'node:fs';
import { roqError } from '../errors.js';
import { prepareRunDir, runDaemon, type DaemonOptions } from '../daemon/daemon.js';
import {
  defaultLogFile,
  errorLine,
  loadedLine,
  readyLine,
  runningPid,
  startDetached,
  type ReadyReport,
} from '../control/lifecycle.js';
import { APP_INFO } from '../app/app.js';
import { coverageLine } from '../valid-dates.js';
import { DAEMON_OPTIONS, fromArgs, toArgs } from '../control/daemon-options.js';
import { intOption, parseCommand, runDir, type Options } from './options.js';
import { rowsWord } from './file-table.js';

export const START_HELP = `usage: roq start [--run DIR] [--data DIR] [--workers N] [--deadline MS] [--takeover] [--foreground] [...]

Loads every table of the data directory into memory, then serves queries on <run>/REQUESTS in the background.
Returns once the daemon is serving (printing its pid, generation, rows and load time), or prints the load error
naming file:line:column and exits non-zero, leaving no daemon behind.

  --run DIR              run directory: REQUESTS, and the daemon's own files in <run>/daemon/ (default
                         $ROQ_RUN_DIR, else ./run); it must belong to the daemon's user (mode 0700, or 3730 for
                         a web server's group: docs/SECURITY.md)
  --data DIR             data directory (default $ROQ_DATA_DIR, else ./${APP_INFO.dataDir})
  --workers N            worker threads (default: the number of cores)
  --deadline MS          a query running longer is stopped and answered with a timeout (default 2000)
  --log FILE             the daemon's log (default <run>/daemon/roq.log; with --foreground, stderr)
  --access-log FILE|off  one line per request (default <run>/daemon/access.log)
  --takeover             if a daemon runs on the run directory, load, then take over from it without losing a
                         request (what \`roq upgrade\` does); otherwise start as usual
  --ready-timeout MS     give up (and stop the new daemon) if loading takes longer (default 300000)
  --takeover-timeout MS  how long to wait for the old daemon to let go (default 60000)
  --user NAME[:GROUP]    started as root: become this user once the run directory's files are open
  --roq1 on|off          answer clients of 0.1 (protocol version 1, whose answers carry no proof; default on
                         until 0.3, where it turns off; 0.4 drops version 1: docs/PROTOCOL.md)
  --notify CMD           'PROGRAM ARG…', run without a shell (quote words with blanks) for each event worth a
                         human, JSON on stdin and ROQ_EVENT_* variables (default $ROQ_NOTIFY; docs/OPERATIONS.md)
  --notify-interval MS   repeats of an event are folded into one digest per this long (default 600000)
  --foreground           do not detach (for systemd Type=simple and debugging); SIGTERM stops, SIGHUP reloads
`;

const START_OPTIONS = {
  ...DAEMON_OPTIONS,
  'ready-timeout': { type: 'string' },
  takeover: { type: 'boolean' },
  foreground: { type: 'boolean' },
} satisfies Options;

export function describeReady(r: ReadyReport): string {
  return (
    `roq started on ${r.run}: pid ${r.pid}, generation ${r.generation}${r.hash ? `, hash ${r.hash}` : ''}, ${r.rows} rows from ${r.files} files loaded in ${r.loadMs} ms, ${r.workers} workers\n` +
    coverageLine(r.dates)
  );
}

/** Starts `roq daemon` detached with options `o` and resolves with its readiness report. */
export function launch(
  o: DaemonOptions,
  readyTimeoutMs: number,
  onLoaded?: (r: ReadyReport) => void,
): Promise<ReadyReport> {
  prepareRunDir(o);
  return startDetached({
    program: __filename,
    run: o.run,
    logFile: o.logFile ?? defaultLogFile(o.run),
    args: toArgs(o),
    readyTimeoutMs,
    onLoaded,
    onFile: progress(),
  });
}

/** Past this long, a load is big enough that a person at a terminal wants to see it move. */
const PROGRESS_AFTER_MS = 1000;

/**
 * On a terminal, each file's rows, size and speed as it is loaded, once the load has taken longer than
 * PROGRESS_AFTER_MS (the files done before that are shown then); otherwise nothing but the one-line summary.
 */
function progress(): ((f: { file: string; rows: number; bytes: number; ms: number }) => void) | undefined {
  if (!process.stdout.isTTY) return undefined;
  const early: string[] = [];
  let shown = false;
  let total = 0;
  return (f) => {
    const mb = f.bytes / 1e6;
    total += mb;
    // Files load concurrently, so the speed is the load's so far, not this file's.
    const line = `  ${f.file.padEnd(22)} ${f.rows.toLocaleString('en-US').padStart(12)} ${rowsWord(f.rows)} ${mb.toFixed(1).padStart(8)} MB   ${(f.ms / 1000).toFixed(1).padStart(5)} s, ${(total / (f.ms / 1000)).toFixed(0)} MB/s so far\n`;
    if (shown) return void process.stdout.write(line);
    early.push(line);
    if (f.ms >= PROGRESS_AFTER_MS) {
      shown = true;
      process.stdout.write(`loading:\n${early.join('')}`);
    }
  };
}

export async function start(argv: string[]): Promise<number> {
  const { values } = parseCommand('start', argv, START_OPTIONS);
  if (values.help) return (void process.stdout.write(START_HELP), 0);
  const o = fromArgs('start', values);
  const readyTimeoutMs = intOption('start', 'ready-timeout', values['ready-timeout'], 300_000, 100, 3_600_000);
  fs.mkdirSync(o.run, { recursive: true });
  const pid = runningPid(o.run);
  if (pid !== undefined && !o.takeover) throw roqError('ROQ_ALREADY_RUNNING', { run: o.run, pid });
  if (values.foreground) {
    process.stdout.write(describeReady(await runDaemon(o)));
    return -1; // keep serving; the daemon exits by itself after a stop
  }
  const report = await launch(o, readyTimeoutMs, (r) =>
    process.stdout.write(`loaded ${r.rows} rows in ${r.loadMs} ms; taking over from pid ${pid}\n`),
  );
  process.stdout.write(describeReady(report));
  return 0;
}

/** `roq daemon … --ready-fd 3`: the detached daemon, started by `roq start`. Not meant to be run by hand. */
export async function daemon(argv: string[]): Promise<number> {
  const { values } = parseCommand('daemon', argv, { ...START_OPTIONS, 'ready-fd': { type: 'string' } });
  const readyFd = intOption('daemon', 'ready-fd', values['ready-fd'], -1, 3, 1000);
  // If `roq start` went away before the report (killed, Ctrl-C), the write fails with EPIPE; the daemon is detached
  // and serves on regardless, so that is not worth dying for.
  const report = (line: string, last: boolean) => {
    if (readyFd < 0) return void process.stdout.write(line);
    try {
      fs.writeSync(readyFd, line);
      if (last) fs.closeSync(readyFd);
    } catch {
      /* nobody is waiting for the report */
    }
  };
  try {
    const ready = await runDaemon(fromArgs('daemon', values), {
      loaded: (r) => report(loadedLine(r), false),
      fileLoaded: (f) => report(`FILE ${JSON.stringify(f)}\n`, false),
    });
    report(readyLine(ready), true);
    return -1;
  } catch (e) {
    report(errorLine(e, runDir(values.run)), true);
    return 1;
  }
}
