/**
 * The daemon's log: one line per event, `<ISO time> <level> <text>`, written to fd 2. `roq start` points the
 * detached daemon's stdout and stderr at `<run>/roq.log` (opened O_APPEND), so this log, Node's own warnings and
 * a crash's stack trace all land in the same file; under `--foreground` they go to the terminal or the journal.
 *
 * Writes are synchronous on purpose: the daemon logs anomalies and lifecycle events, not every request, and a line
 * that is written before a crash is worth more than a line that is queued.
 */
import { writeSync } from 'node:fs';

export interface Log {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** A log writing whole lines to `fd`. A failing write (a full disk) is ignored: logging never stops serving. */
export function createLog(fd = 2): Log {
  const line = (level: string, msg: string) => {
    try {
      writeSync(fd, `${new Date().toISOString()} ${level} ${msg.replace(/\n/g, '\\n')}\n`);
    } catch {
      /* nowhere left to report it */
    }
  };
  return {
    info: (m) => line('info', m),
    warn: (m) => line('warn', m),
    error: (m) => line('error', m),
  };
}
