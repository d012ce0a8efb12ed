/**
 * `roq start` and the hidden `roq daemon` it runs. `start` checks for a running daemon, then starts `roq daemon`
 * detached and waits for its readiness report on fd 3 (see lifecycle.startDetached); `--foreground` runs the
 * daemon in this very process instead, for systemd and debugging.
 */
import * as fs from 'node:fs';
import { roqError } from '../errors.js';
import { runDaemon, type DaemonOptions } from '../server/daemon.js';
import { errorLine, readyLine, runningPid, startDetached, type ReadyReport } from '../server/lifecycle.js';
import { dataDir, defaultWorkers, intOption, parseCommand, RUN_OPTION, runDir, type Options } from './options.js';

export const START_HELP = `usage: roq start [--run DIR] [--data DIR] [--workers N] [--deadline MS] [--foreground]

Loads every table of the data directory into memory, then serves queries on <run>/REQUESTS in the background.
Returns once the daemon is serving (printing its pid, generation, rows and load time), or prints the load error
naming file:line:column and exits non-zero, leaving no daemon behind.

  --run DIR       run directory: REQUESTS, roq.pid, roq.log, status.json (default $ROQ_RUN_DIR, else ./run)
  --data DIR      data directory (default $ROQ_DATA_DIR, else ./data/gtfs-lirr)
  --workers N     worker threads (default: the number of cores)
  --deadline MS   a query running longer is stopped and answered with a timeout (default 2000)
  --foreground    do not detach; log to stderr (for systemd and debugging); SIGTERM stops, SIGHUP reloads
`;

const START_OPTIONS = {
  ...RUN_OPTION,
  data: { type: 'string' },
  workers: { type: 'string' },
  deadline: { type: 'string' },
  foreground: { type: 'boolean' },
} satisfies Options;

function daemonOptions(command: string, values: Record<string, string | boolean | undefined>): DaemonOptions {
  return {
    run: runDir(values.run),
    data: dataDir(values.data),
    workers: intOption(command, 'workers', values.workers, defaultWorkers(), 1, 256),
    deadlineMs: intOption(command, 'deadline', values.deadline, 2000, 10, 3_600_000),
    faults: process.env.ROQ_TEST_FAULTS === '1',
  };
}

function describeReady(r: ReadyReport): string {
  return `roq started on ${r.run}: pid ${r.pid}, generation ${r.generation}, ${r.rows} rows from ${r.files} files loaded in ${r.loadMs} ms, ${r.workers} workers\n`;
}

export async function start(argv: string[]): Promise<number> {
  const { values } = parseCommand('start', argv, START_OPTIONS);
  if (values.help) return void process.stdout.write(START_HELP), 0;
  const o = daemonOptions('start', values);
  fs.mkdirSync(o.run, { recursive: true });
  const pid = runningPid(o.run);
  if (pid !== undefined) throw roqError('ROQ_ALREADY_RUNNING', { run: o.run, pid });
  if (values.foreground) {
    process.stdout.write(describeReady(await runDaemon(o)));
    return -1; // keep serving; the daemon exits by itself after a stop
  }
  const args = ['--run', o.run, '--data', o.data, '--workers', String(o.workers), '--deadline', String(o.deadlineMs)];
  const report = await startDetached({ program: __filename, run: o.run, args, readyTimeoutMs: 300_000 });
  process.stdout.write(describeReady(report));
  return 0;
}

/** `roq daemon … --ready-fd 3`: the detached daemon, started by `roq start`. Not meant to be run by hand. */
export async function daemon(argv: string[]): Promise<number> {
  const { values } = parseCommand('daemon', argv, { ...START_OPTIONS, 'ready-fd': { type: 'string' } });
  const readyFd = intOption('daemon', 'ready-fd', values['ready-fd'], -1, 3, 1000);
  // If `roq start` went away before the report (killed, Ctrl-C), the write fails with EPIPE; the daemon is detached
  // and serves on regardless, so that is not worth dying for.
  const report = (line: string) => {
    if (readyFd < 0) return void process.stdout.write(line);
    try {
      fs.writeSync(readyFd, line);
      fs.closeSync(readyFd);
    } catch {
      /* nobody is waiting for the report */
    }
  };
  try {
    report(readyLine(await runDaemon(daemonOptions('daemon', values))));
    return -1;
  } catch (e) {
    report(errorLine(e));
    return 1;
  }
}
