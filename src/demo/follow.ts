/**
 * Follows a log file that another process appends to (Apache's access log for the demo), handing each complete
 * new line to `line`, like `tail -f`. Polled: the file may not exist yet, and a poll every 200 ms is plenty for a
 * person watching the demo.
 */
import * as fs from 'node:fs';

export function followLog(path: string, line: (text: string) => void, everyMs = 200): { stop(): void } {
  let offset = 0;
  let partial = '';
  const poll = () => {
    let fd: number;
    try {
      fd = fs.openSync(path, 'r');
    } catch {
      return; // not written yet
    }
    try {
      const buf = Buffer.alloc(64 * 1024);
      for (let n; (n = fs.readSync(fd, buf, 0, buf.length, offset)) > 0; offset += n) partial += buf.toString('utf8', 0, n);
    } finally {
      fs.closeSync(fd);
    }
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) line(l);
  };
  const timer = setInterval(poll, everyMs);
  return {
    stop() {
      clearInterval(timer);
      poll();
    },
  };
}
