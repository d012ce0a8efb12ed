/**
 * An RFC 4180 CSV scanner over bytes, for the loader. It finds field boundaries without making a string per value
 * (the column builders parse numbers and times straight from the bytes and decode only strings), which makes it
 * several times faster than csv-parse on the sample data's files; test/loader.test.ts checks it against csv-parse.
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
  return new CsvScan(buf, file, sep).records(onRecord, comment);
}

/**
 * One pass over a file's bytes: the line it is on and the record it fills. The position stays a local variable of
 * `records` and unquoted fields are scanned there in line, not in a method: this is the loader's hottest loop, and
 * so it runs as fast as one function did.
 */
class CsvScan {
  private readonly buf: Uint8Array;
  private readonly file: string;
  private readonly sep: number;
  private readonly rec: CsvRecord = {
    count: 0,
    line: 1,
    starts: new Int32Array(64),
    ends: new Int32Array(64),
    escaped: new Uint8Array(64),
  };
  private line = 1;

  constructor(buf: Uint8Array, file: string, sep: number) {
    this.buf = buf;
    this.file = file;
    this.sep = sep;
  }

  records(onRecord: (record: CsvRecord) => void, comment: Uint8Array | undefined): number {
    const { buf, rec, sep } = this;
    const len = buf.length;
    let pos = len >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
    let records = 0;
    while (pos < len) {
      const next = lineSkipped(buf, pos, comment);
      if (next >= 0) {
        pos = next;
        this.line++;
        continue;
      }
      rec.line = this.line;
      rec.count = 0;
      // The fields of one record. An unquoted field is scanned here, in line: most fields are.
      for (;;) {
        let p: number;
        if (buf[pos] === QUOTE) p = this.quotedField(pos);
        else {
          p = pos;
          while (p < len) {
            const b = buf[p]!;
            if (b === sep || b === LF) break;
            p++;
          }
          const crlf = p > pos && buf[p - 1] === CR && (p === len || buf[p] === LF);
          pushField(rec, pos, crlf ? p - 1 : p, 0);
        }
        if (p < len && buf[p] === sep) {
          pos = p + 1;
          if (pos === len)
            pushField(rec, pos, pos, 0); // "a,b," at the very end: a last empty field
          else continue;
        } else if (p < len) {
          pos = p + 1; // LF
          this.line++;
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

  /**
   * The quoted field whose opening quote is at `open`, into rec; returns where it ends, past the closing quote and
   * a CR before an LF (at a separator, an LF or the end). Its line breaks count in `line`.
   */
  private quotedField(open: number): number {
    const buf = this.buf;
    const len = buf.length;
    const openLine = this.line;
    const start = open + 1;
    let p = start;
    let escaped = 0;
    for (;;) {
      if (p >= len) throw this.error(openLine, 'a quoted field is never closed (a " is missing)');
      const b = buf[p]!;
      if (b === QUOTE) {
        if (buf[p + 1] === QUOTE) {
          escaped = 1;
          p += 2;
          continue;
        }
        break;
      }
      if (b === LF) this.line++;
      p++;
    }
    const end = p;
    p++;
    if (buf[p] === CR && (p + 1 === len || buf[p + 1] === LF)) p++;
    if (p < len && buf[p] !== this.sep && buf[p] !== LF)
      throw this.error(
        this.line,
        'unexpected text after the closing quote of a field (write a quote inside a quoted field as "")',
      );
    pushField(this.rec, start, end, escaped);
    return p;
  }

  /** A malformed field: the one rec would take next, on `line`. */
  private error(line: number, detail: string): Error {
    return roqError('ROQ_LOAD_CSV', { file: this.file, line, col: this.rec.count + 1, detail });
  }
}

/** Where an empty line or a comment line at pos ends (the start of the next line), or -1 when it is neither. */
function lineSkipped(buf: Uint8Array, pos: number, comment: Uint8Array | undefined): number {
  if (buf[pos] === LF) return pos + 1;
  if (buf[pos] === CR && (pos + 1 === buf.length || buf[pos + 1] === LF)) return pos + 2;
  if (comment && startsWith(buf, pos, comment)) {
    const lf = buf.indexOf(LF, pos);
    return lf < 0 ? buf.length : lf + 1;
  }
  return -1;
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
