/**
 * The access log: one line per request the daemon read, appended to a file (default `<run>/daemon/access.log`):
 *
 *   <ISO time> pid=<client pid> query=<name> params=<urlencoded> status=<outcome> rows=<n>
 *     wait_ms=<queue wait> work_ms=<worker time> total_ms=<read to answered> gen=<generation>
 *
 * (one line; `status` is ok, error, failed, timeout, died or busy; control characters in params as `\xNN`). A web
 * request's line names the query its page asked and its parameters as asked (when it ran none: `.web` or the query
 * the URL named, and the query string and POST body as sent), and ends in ` http=<status>`, the HTTP status its
 * worker answered. Lines are collected and written together at
 * most every 50 ms or 64 KB, so logging costs the dispatcher one write per batch, not one per request; the daemon
 * flushes before it exits. `reopen` (SIGUSR1, after logrotate moved the file) starts a new file at the same path.
 * A file removed under the daemon (its link count drops to 0) is noticed at the next write and made again; a
 * write that fails (a full disk) is reported once, and serving goes on.
 */
import * as fs from 'node:fs';
import { escapeControls, type Log } from './log.js';
import { openAppend } from './private-dir.js';
import type { Job, JobReport, Outcome } from './effect-types.js';

export interface AccessLog {
  write(job: Job, outcome: Outcome | 'busy', report: JobReport): void;
  flush(): void;
  reopen(): void;
  close(): void;
}

const FLUSH_MS = 50;
const FLUSH_BYTES = 64 * 1024;

const ms = (x: number) => (Math.round(x * 1000) / 1000).toString();

/** The ISO time of now, made at most once per millisecond (at thousands of requests a second, it shows). */
let isoAt = 0;
let iso = '';
function isoNow(): string {
  const now = Date.now();
  if (now !== isoAt) {
    isoAt = now;
    iso = new Date(now).toISOString();
  }
  return iso;
}

/** An access log appending to `path`, or one that writes nothing when path is undefined. */
export function createAccessLog(path: string | undefined, log: Log): AccessLog {
  if (path === undefined)
    return { write: () => undefined, flush: () => undefined, reopen: () => undefined, close: () => undefined };
  const open = () => openAppend(path);
  let fd = open();
  let lines: string[] = [];
  let bytes = 0;
  let timer: NodeJS.Timeout | undefined;
  let failing = false;

  function flush(): void {
    clearTimeout(timer);
    timer = undefined;
    if (lines.length === 0) return;
    const text = lines.join('');
    lines = [];
    bytes = 0;
    try {
      if (fs.fstatSync(fd).nlink === 0) {
        log.warn(`the access log ${path} was removed; starting it again`);
        reopen();
      }
      fs.writeSync(fd, text);
      if (failing) log.info(`the access log ${path} is written again`);
      failing = false;
    } catch (e) {
      // A full disk must not stop serving; say so once, not once per batch.
      if (!failing) log.error(`writing the access log ${path}: ${(e as Error).message}; lines are being lost`);
      failing = true;
    }
  }

  function reopen(): void {
    try {
      const next = open();
      fs.closeSync(fd);
      fd = next;
    } catch (e) {
      log.error(`reopening the access log ${path}: ${(e as Error).message}; still writing to the old file`);
    }
  }

  return {
    write(job, outcome, report) {
      const done = performance.now();
      const line =
        `${isoNow()} pid=${job.pid} query=${job.query} params=${escapeControls(job.encoded)} status=${outcome} rows=${report.rows}` +
        ` wait_ms=${ms(job.startedAt - job.readAt)} work_ms=${ms(report.workMs)} total_ms=${ms(done - job.readAt)} gen=${job.generation}` +
        `${job.http === undefined ? '' : ` http=${job.http}`}\n`;
      lines.push(line);
      bytes += line.length;
      if (bytes >= FLUSH_BYTES) flush();
      else if (!timer) timer = setTimeout(flush, FLUSH_MS);
    },
    flush,
    reopen() {
      flush();
      reopen();
    },
    close() {
      flush();
      fs.closeSync(fd);
    },
  };
}
