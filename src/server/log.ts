/**
 * The daemon's log: one line per event, `<ISO time> <level> <text>`. Detached, the daemon writes it to a file
 * (default `<run>/roq.log`, where `roq start` also points the daemon's stdout and stderr, so Node's own warnings
 * and a crash's stack trace land beside it); under `--foreground` it goes to stderr, for the terminal or the
 * journal. `reopen` (SIGUSR1, after logrotate moved the file) starts a new file at the same path.
 *
 * Writes are synchronous on purpose: the daemon logs anomalies and lifecycle events, not every request (that is
 * the access log's job), and a line that is written before a crash is worth more than a line that is queued.
 */
import * as fs from 'node:fs';

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
  let fd = typeof target === 'number' ? target : fs.openSync(target, 'a', 0o640);
  const line = (level: string, msg: string) => {
    try {
      fs.writeSync(fd, `${new Date().toISOString()} ${level} ${msg.replace(/\n/g, '\\n')}\n`);
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
        const next = fs.openSync(target, 'a', 0o640);
        fs.closeSync(fd);
        fd = next;
      } catch (e) {
        line('error', `reopening the log ${target}: ${(e as Error).message}; still writing to the old file`);
      }
    };
  }
  return log;
}
