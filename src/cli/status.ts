/**
 * `roq status`: what the daemon on a run directory is doing, from the pid file and the `status.json` the daemon
 * rewrites every second and after each reload (so asking costs the daemon nothing).
 */
import { roqError } from '../errors.js';
import type { StatusFile } from '../control/status.js';
import { legacyPid, runningPid } from '../control/lifecycle.js';
import { readStatusFile } from '../control/status.js';
import { coverageLine } from '../valid-dates.js';
import { buildLabel } from '../version.js';
import { parseCommand, RUN_OPTION, runDir } from './options.js';
import { fileLines } from './file-table.js';

export const STATUS_HELP = `usage: roq status [--run DIR] [--json]

Shows the daemon's pid, version, uptime, data generation (files, rows, bytes, when and how fast it was loaded),
workers (state, queries served, heap), counters by outcome and the last reload's outcome.
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

function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400),
    h = Math.floor((s % 86400) / 3600),
    m = Math.floor((s % 3600) / 60);
  return `${d ? `${d}d ` : ''}${d || h ? `${h}h ` : ''}${m}m ${s % 60}s`;
}

/**
 * The status as text. A daemon of an earlier release writes fewer fields (0.1.0: no version, reload, memory,
 * options or per-thread figures), so every part that may be missing is shown only when present.
 */
function describe(r: StatusReport): string {
  const s = r.status as Partial<StatusFile> | undefined;
  if (!s || !s.generation) return `roq is starting on ${r.run} (pid ${r.pid}): loading data\n`;
  const g = s.generation,
    w = s.workers,
    c = s.served,
    last = s.reload?.last;
  const mb = (n: number) => `${(n / 1048576).toFixed(1)} MB`;
  const reload = !last
    ? 'none yet'
    : last.status === 'ok'
      ? `ok at ${new Date(last.finishedAt).toISOString()}: ${last.action ? `${last.action} of ` : ''}generation ${last.generation} in ${last.ms} ms`
      : `FAILED at ${new Date(last.finishedAt).toISOString()}: ${last.action ? `${last.action}: ` : ''}${last.error?.message}`;
  const deadline = s.options?.deadlineMs ?? (s as { deadlineMs?: number }).deadlineMs;
  return [
    `roq ${s.version ? buildLabel(s) : '(release before 0.2)'} is ${s.state ?? 'serving'} on ${r.run}`,
    `  pid         ${s.pid}${s.options?.user ? ` as ${s.options.user}` : ''}, up ${duration(r.uptimeMs ?? 0)}${s.memory ? `, rss ${mb(s.memory.rss)}` : ''}`,
    `  generation  ${g.id}: ${g.rows} rows, ${g.files} files, ${mb(g.bytes)} from ${g.dataDir}, loaded in ${g.loadMs} ms at ${new Date(g.loadedAt).toISOString()}`,
    ...(g.hash ? [`  hash        ${g.hash}`] : []),
    ...(g.dates
      ? [
          `  dates       ${coverageLine(g.dates)
            .trimEnd()
            .replace(/^data covers /, '')}`,
        ]
      : []),
    ...fileLines(g.perFile ?? [], '              '),
    ...(w
      ? [
          `  workers     ${w.size} (${w.busy} busy, ${w.replaced} replaced)${deadline ? `, deadline ${deadline} ms` : ''}, ${s.queued ?? 0} queued`,
        ]
      : []),
    ...(w?.threads ?? []).map(
      (t) =>
        `              #${t.index} ${t.state.padEnd(8)} ${String(t.served).padStart(9)} served, heap ${mb(t.heap)}`,
    ),
    ...(c
      ? [
          `  served      ${c.received} received: ${c.ok} ok, ${c.error} errors, ${c.failed} failed, ${c.timeout} timed out, ${c.died} worker deaths; ${c.dropped} dropped, ${c.busy} refused busy`,
        ]
      : []),
    ...(s.reload
      ? [`  reloads     ${s.reload.requested} requested${s.reload.loading ? ', one loading now' : ''}; last: ${reload}`]
      : []),
    ...(s.reload?.held
      ? [
          `  held        generation ${s.reload.held.id}: hash ${s.reload.held.hash}, ${s.reload.held.rows} rows from ${s.reload.held.dataDir}; \`roq swap\` makes it current`,
        ]
      : []),
    ...(s.health
      ? [
          `  health      ${s.health.state}${s.health.events.length ? '' : ' (no event)'}`,
          ...s.health.events.map((e) => `              ${e.severity} ${e.kind}: ${e.sentence}`),
        ]
      : []),
    ...(s.requests && (!s.requests.ok || s.requests.detail)
      ? [`  REQUESTS    ${s.requests.ok ? 'ok' : 'NOT REACHABLE'}: ${s.requests.detail ?? ''}`]
      : []),
    '',
  ].join('\n');
}

export async function status(argv: string[]): Promise<number> {
  const { values } = parseCommand('status', argv, { ...RUN_OPTION, json: { type: 'boolean' } });
  if (values.help) return (void process.stdout.write(STATUS_HELP), 0);
  const run = runDir(values.run);
  const pid = runningPid(run);
  if (pid === undefined) throw roqError('ROQ_NOT_RUNNING', { run });
  const s = readStatusFile(run, pid, pid === legacyPid(run));
  const report: StatusReport = s
    ? { running: true, pid, run, state: 'serving', uptimeMs: Date.now() - s.startedAt, status: s }
    : { running: true, pid, run, state: 'starting' };
  process.stdout.write(values.json ? JSON.stringify(report) + '\n' : describe(report));
  return 0;
}
