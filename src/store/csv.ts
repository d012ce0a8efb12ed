/**
 * An RFC 4180 CSV scanner over bytes, for the loader. It finds field boundaries without making a string per value
 * (the column builders parse numbers and times straight from the bytes and decode only strings), which makes it
 * several times faster than csv-parse on GTFS files; test/loader.test.ts checks it against csv-parse.
 *
 * Accepted: a UTF-8 byte-order mark, LF or CRLF line ends, quoted fields holding commas, quotes ("") and line
 * breaks, a quote inside an unquoted field (kept as a literal character, like csv-parse's relax_quotes), and empty
 * lines (skipped). The separator is a comma unless the table's schema says otherwise (`sep`: tab, semicolon,
 * pipe). When the schema names a comment prefix (`comment`, e.g. "#"), a line that starts with it is skipped like
 * an empty one (tzdata's .tab files document themselves that way). Refused with a RoqError naming file:line:column: an unterminated quoted field, and anything but
 * a comma or a line end after a closing quote.
 */
import { roqError } from '../errors.js';

/** Field i of the current record is buf[starts[i], ends[i]); escaped[i] is 1 when it holds "" pairs to undo. */
export interface CsvRecord {
  count: number;
  /** 1-based physical line on which the record starts. */
  line: number;
  starts: Int32Array;
  ends: Int32Array;
  escaped: Uint8Array;
}

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

/**
 * Calls onRecord for each record of buf, in order; the record object is reused, so onRecord must copy what it
 * keeps. Returns the number of records (the header included).
 */
export function scanCsv(
  buf: Uint8Array,
  file: string,
  onRecord: (record: CsvRecord) => void,
  sep: number = COMMA,
  comment?: Uint8Array,
): number {
  const len = buf.length;
  const rec: CsvRecord = {
    count: 0,
    line: 1,
    starts: new Int32Array(64),
    ends: new Int32Array(64),
    escaped: new Uint8Array(64),
  };
  let pos = len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  let line = 1;
  let records = 0;
  while (pos < len) {
    // Empty lines are not records.
    if (buf[pos] === LF) {
      pos++;
      line++;
      continue;
    }
    if (buf[pos] === CR && (pos + 1 === len || buf[pos + 1] === LF)) {
      pos += 2;
      line++;
      continue;
    }
    if (comment && startsWith(buf, pos, comment)) {
      const lf = buf.indexOf(LF, pos);
      pos = lf < 0 ? len : lf + 1;
      line++;
      continue;
    }
    rec.line = line;
    rec.count = 0;
    for (;;) {
      let start: number;
      let end: number;
      let escaped = 0;
      let p: number;
      if (buf[pos] === QUOTE) {
        const openLine = line;
        start = pos + 1;
        p = start;
        for (;;) {
          if (p >= len) {
            throw roqError('ROQ_LOAD_CSV', {
              file,
              line: openLine,
              col: rec.count + 1,
              detail: 'a quoted field is never closed (a " is missing)',
            });
          }
          const b = buf[p]!;
          if (b === QUOTE) {
            if (buf[p + 1] === QUOTE) {
              escaped = 1;
              p += 2;
              continue;
            }
            break;
          }
          if (b === LF) line++;
          p++;
        }
        end = p;
        p++;
        if (buf[p] === CR && (p + 1 === len || buf[p + 1] === LF)) p++;
        if (p < len && buf[p] !== sep && buf[p] !== LF) {
          throw roqError('ROQ_LOAD_CSV', {
            file,
            line,
            col: rec.count + 1,
            detail: 'unexpected text after the closing quote of a field (write a quote inside a quoted field as "")',
          });
        }
      } else {
        start = pos;
        p = pos;
        while (p < len) {
          const b = buf[p]!;
          if (b === sep || b === LF) break;
          p++;
        }
        end = p;
        if (end > start && buf[end - 1] === CR && (p === len || buf[p] === LF)) end--;
      }
      pushField(rec, start, end, escaped);
      if (p < len && buf[p] === sep) {
        pos = p + 1;
        if (pos === len)
          pushField(rec, pos, pos, 0); // "a,b," at the very end: a last empty field
        else continue;
      } else if (p < len) {
        pos = p + 1; // LF
        line++;
      } else {
        pos = len;
      }
      break;
    }
    records++;
    onRecord(rec);
  }
  return records;
}

function startsWith(buf: Uint8Array, pos: number, prefix: Uint8Array): boolean {
  if (pos + prefix.length > buf.length) return false;
  for (let i = 0; i < prefix.length; i++) if (buf[pos + i] !== prefix[i]) return false;
  return true;
}

function pushField(rec: CsvRecord, start: number, end: number, escaped: number): void {
  const i = rec.count;
  if (i === rec.starts.length) {
    const grow = <T extends Int32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(a.length * 2);
      b.set(a);
      return b;
    };
    rec.starts = grow(rec.starts, (n) => new Int32Array(n));
    rec.ends = grow(rec.ends, (n) => new Int32Array(n));
    rec.escaped = grow(rec.escaped, (n) => new Uint8Array(n));
  }
  rec.starts[i] = start;
  rec.ends[i] = end;
  rec.escaped[i] = escaped;
  rec.count = i + 1;
}
