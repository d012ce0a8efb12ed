/**
 * The one line splitter: a stream of chunks in, whole lines out, the line end removed. Used on REQUESTS (where a
 * line longer than `maxBytes` is cut to its end, see below), on a starting daemon's readiness pipe and on a log
 * being followed.
 *
 * With `maxBytes`, of a line longer than that only the last `maxBytes` bytes are kept and the line is reported
 * `cut`: on REQUESTS no client sends such a line (PIPE_BUF writes could interleave), and a request written after
 * garbage without a line end ends such a line, so its end is what is worth keeping; the rest is garbage or an
 * attack, and it costs no memory.
 */
const NEWLINE = 0x0a;

export type LineSink = (line: string, cut: boolean) => void;

export function lineSplitter(onLine: LineSink, maxBytes = Infinity): (chunk: Buffer | string) => void {
  let carry: Buffer | undefined;
  let cut = false;
  return (input) => {
    const chunk = typeof input === 'string' ? Buffer.from(input) : input;
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) {
        if (start === chunk.length) return;
        const rest = chunk.subarray(start);
        carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
        if (carry.length > maxBytes) {
          carry = Buffer.from(carry.subarray(carry.length - maxBytes));
          cut = true;
        }
        return;
      }
      let line = chunk.subarray(start, nl);
      start = nl + 1;
      if (carry) {
        line = Buffer.concat([carry, line]);
        carry = undefined;
      }
      const over = cut || line.length > maxBytes;
      cut = false;
      onLine((line.length > maxBytes ? line.subarray(line.length - maxBytes) : line).toString('utf8'), over);
    }
  };
}
