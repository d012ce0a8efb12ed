/**
 * The daemon's log: one line per event, `<ISO time> <level> <text>`. Detached, the daemon writes it to a file
 * (default `<run>/daemon/roq.log`, where `roq start` also points the daemon's stdout and stderr, so Node's own warnings
 * and a crash's stack trace land beside it); under `--foreground` it goes to stderr, for the terminal or the
 * journal. `reopen` (SIGUSR1, after logrotate moved the file) starts a new file at the same path.
 *
 * Every control character a line would carry (a request's bytes quoted in a warning: ESC, CR, NUL…) is written as
 * `\xNN` (a newline as `\n`), so that a log shown in a terminal cannot be made to move the cursor or hide lines.
 * Files are created owner-only (0600) and opened without following symlinks.
 *
 * Writes are synchronous on purpose: the daemon logs anomalies and lifecycle events, not every request (that is
 * the access log's job), and a line that is written before a crash is worth more than a line that is queued.
 */
import * as fs from 'node:fs';
import { openAppend } from './private-dir.js';

const CONTROL = /[\x00-\x1f\x7f-\x9f]/g;

/**
 * `text` with every control character written as `\xNN` (`\n` for a newline), for logs; with `keepNewlines`,
 * newlines stay (a CLI message of several lines on a terminal).
 */
export function escapeControls(text: string, keepNewlines = false): string {
  return text.replace(CONTROL, (c) =>
    c === '\n' ? (keepNewlines ? c : '\\n') : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** Reopens the file at the same path; a log on an inherited fd has nothing to reopen. */
  reopen?(): void;
}

/**
 * A log writing whole lines to `target`: a path (appended to, reopened on request) or an fd (default 2). A failing
 * write (a full disk) is ignored: logging never stops serving.
 */
export function createLog(target: string | number = 2): Log {
  let fd = typeof target === 'number' ? target : openAppend(target);
  const line = (level: string, msg: string) => {
    try {
      fs.writeSync(fd, `${new Date().toISOString()} ${level} ${escapeControls(msg)}\n`);
    } catch {
      /* nowhere left to report it */
    }
  };
  const log: Log = {
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
  };
  if (typeof target === 'string') {
    log.reopen = () => {
      try {
        const next = openAppend(target);
        fs.closeSync(fd);
        fd = next;
      } catch (e) {
        line('error', `reopening the log ${target}: ${(e as Error).message}; still writing to the old file`);
      }
    };
  }
  return log;
}

/**
 * A warning that anyone who may write into REQUESTS can cause at will (a dropped line): at most `burst` lines per
 * `intervalMs` are written; the rest are counted, and one summary line per interval says how many were not shown.
 * Returns the function to call per event.
 */
export function rateLimited(log: Log, burst = 10, intervalMs = 10_000): (msg: string) => void {
  let windowStart = 0;
  let shown = 0;
  let suppressed = 0;
  let timer: NodeJS.Timeout | undefined;
  const summary = () => {
    timer = undefined;
    if (suppressed > 0) log.warn(`${suppressed} more such lines in the last ${intervalMs / 1000} s were not logged`);
    suppressed = 0;
  };
  return (msg) => {
    const now = Date.now();
    if (now - windowStart >= intervalMs) {
      windowStart = now;
      shown = 0;
    }
    if (shown++ < burst) return log.warn(msg);
    suppressed++;
    if (!timer) {
      timer = setTimeout(summary, intervalMs - (now - windowStart));
      timer.unref();
    }
  };
}
