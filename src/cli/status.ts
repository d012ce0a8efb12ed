/**
 * `roq status`: what the daemon on a run directory is doing, from the pid file and the `status.json` the daemon
 * rewrites every second (so asking costs the daemon nothing).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { roqError } from '../errors.js';
import type { StatusFile } from '../server/daemon.js';
import { runningPid, STATUS_FILE } from '../server/lifecycle.js';
import { parseCommand, RUN_OPTION, runDir } from './options.js';

export const STATUS_HELP = `usage: roq status [--run DIR] [--json]

Shows the daemon's pid, uptime, data generation, rows loaded, workers and how many requests it has served.
Fails with ROQ_NOT_RUNNING when no daemon runs on the run directory.

  --run DIR   run directory (default $ROQ_RUN_DIR, else ./run)
  --json      one JSON object instead of text
`;

export interface StatusReport {
  running: true;
  pid: number;
  run: string;
  /** 'starting' until the daemon has loaded its data and written its first status. */
  state: 'serving' | 'starting';
  uptimeMs?: number;
  status?: StatusFile;
}

function readStatus(run: string, pid: number): StatusFile | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(join(run, STATUS_FILE), 'utf8')) as StatusFile;
    return s.pid === pid ? s : undefined;
  } catch {
    return undefined;
  }
}

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return `${d ? `${d}d ` : ''}${d || h ? `${h}h ` : ''}${m}m ${s % 60}s`;
}

function describe(r: StatusReport): string {
  const s = r.status;
  if (!s) return `roq is starting on ${r.run} (pid ${r.pid}): loading data\n`;
  const g = s.generation, w = s.workers, c = s.served;
  return [
    `roq is serving on ${r.run}`,
    `  pid         ${s.pid}`,
    `  uptime      ${duration(r.uptimeMs ?? 0)}`,
    `  generation  ${g.id}: ${g.rows} rows, ${g.files} files, ${g.bytes} bytes from ${g.dataDir}, loaded in ${g.loadMs} ms at ${new Date(g.loadedAt).toISOString()}`,
    `  workers     ${w.size} (${w.busy} busy, ${w.replaced} replaced), deadline ${s.deadlineMs} ms, ${s.queued} queued`,
    `  served      ${c.received} received: ${c.ok} ok, ${c.error} errors, ${c.failed} failed, ${c.timeout} timed out, ${c.died} worker deaths; ${c.dropped} dropped, ${c.busy} refused busy`,
    '',
  ].join('\n');
}

export async function status(argv: string[]): Promise<number> {
  const { values } = parseCommand('status', argv, { ...RUN_OPTION, json: { type: 'boolean' } });
  if (values.help) return void process.stdout.write(STATUS_HELP), 0;
  const run = runDir(values.run);
  const pid = runningPid(run);
  if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
  const s = readStatus(run, pid);
  const report: StatusReport = s
    ? { running: true, pid, run, state: 'serving', uptimeMs: Date.now() - s.startedAt, status: s }
    : { running: true, pid, run, state: 'starting' };
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : describe(report));
  return 0;
}
