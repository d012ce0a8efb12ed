/**
 * Column builders: the load-side half of the store. A builder receives each row's field as bytes of the file, turns
 * it into the column's stored form and, when the table is complete, moves the result into SharedArrayBuffers
 * (ColumnData). A bad value is reported by returning a sentence for the loader to put after file:line:column;
 * returning instead of throwing keeps the per-value path free of exception machinery.
 */
import { Buffer } from 'node:buffer';
import type { ColumnData, ColumnSpec, DictData } from './types.js';
import { NULL_INT, NULL_TIME } from './types.js';
import { buildDictionary } from './dictionary.js';
import { shareFloat64, shareInt32, sharedInt32 } from './shared.js';
import { formatParser, isBlank, parseBoolBytes, parseFloatBytes, parseIntBytes } from './values.js';

export interface ColumnBuilder {
  /** Adds buf[s, e) as the next row's value; `escaped` means it holds "" pairs. Returns an error sentence or null. */
  add(buf: Buffer, s: number, e: number, escaped: boolean): string | null;
  /** Adds an empty value (the column is absent from the file). Returns an error sentence or null. */
  addEmpty(): string | null;
  finish(): ColumnData;
}

const REQUIRED = 'a value is required';

class GrowInt32 {
  data = new Int32Array(1024);
  length = 0;
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Int32Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    this.data[this.length++] = v;
  }
}

// A JS loop: Buffer#compare with offsets crosses into C++ per call, which costs more than these few bytes.
function sameBytes(buf: Uint8Array, a: number, b: number, len: number, lenA: number): boolean {
  if (len !== lenA) return false;
  for (let i = 0; i < len; i++) if (buf[a + i] !== buf[b + i]) return false;
  return true;
}

/** Strings: provisional codes in order of first appearance, renumbered into the sorted dictionary at the end. */
function stringCodes() {
  const seen = new Map<string, number>();
  const values: string[] = [];
  const codes = new GrowInt32();
  // Consecutive rows often repeat a value (trip_id in stop_times, shape_id in shapes): compare bytes, skip decoding.
  let lastBuf: Buffer | null = null;
  let lastS = 0;
  let lastE = 0;
  let lastCode = 0;

  function codeOf(text: string): number {
    let code = seen.get(text);
    if (code === undefined) {
      code = values.length;
      values.push(text);
      seen.set(text, code);
    }
    return code;
  }
  return {
    addText(text: string): void {
      lastBuf = null;
      codes.push(codeOf(text));
    },
    addBytes(buf: Buffer, s: number, e: number, escaped: boolean): void {
      if (!escaped && lastBuf === buf && sameBytes(buf, lastS, s, e - s, lastE - lastS)) {
        codes.push(lastCode);
        return;
      }
      let text = buf.toString('utf8', s, e);
      if (escaped) text = text.replaceAll('""', '"');
      lastCode = codeOf(text);
      if (escaped) lastBuf = null;
      else [lastBuf, lastS, lastE] = [buf, s, e];
      codes.push(lastCode);
    },
    finish(): { codes: Int32Array; dict: DictData } {
      const { dict, rank } = buildDictionary(values);
      const out = sharedInt32(codes.length);
      for (let i = 0; i < codes.length; i++) out[i] = rank[codes.data[i]!]!;
      return { codes: out, dict };
    },
  };
}

function stringBuilder(spec: ColumnSpec): ColumnBuilder {
  const s = stringCodes();
  const empty = (): string | null => {
    if (spec.default !== undefined) s.addText(spec.default);
    else if (spec.required) return REQUIRED;
    else s.addText('');
    return null;
  };
  return {
    add(buf, start, end, escaped) {
      if (start === end) return empty();
      s.addBytes(buf, start, end, escaped);
      return null;
    },
    addEmpty: empty,
    finish: () => ({ type: 'string', ...s.finish() }),
  };
}

type BytesParser = (buf: Uint8Array, s: number, e: number) => number;

const EXPECTED: Record<'int' | 'date' | 'float' | 'bool', string> = {
  bool: 'expected true or false (or 1/0, yes/no, t/f, y/n)',
  int: 'expected a whole number',
  date: 'expected a date YYYYMMDD',
  float: 'expected a decimal number',
};

/** int, date and float: one number per row; an empty value is the default, or the null of the type. */
function numberBuilder(spec: ColumnSpec, type: 'int' | 'date' | 'float' | 'bool'): ColumnBuilder {
  const parse: BytesParser = type === 'int' ? parseIntBytes : type === 'bool' ? parseBoolBytes : type === 'date' ? formatParser('date', spec.format) : parseFloatBytes;
  const grow = type === 'float' ? new Float64Array(1024) : new Int32Array(1024);
  let data: Int32Array | Float64Array = grow;
  let length = 0;
  const push = (v: number): void => {
    if (length === data.length) {
      const d: Int32Array | Float64Array = type === 'float' ? new Float64Array(length * 2) : new Int32Array(length * 2);
      d.set(data);
      data = d;
    }
    data[length++] = v;
  };
  let emptyValue = type === 'float' ? NaN : NULL_INT;
  if (spec.default !== undefined) {
    const d = Buffer.from(spec.default);
    emptyValue = parse(d, 0, d.length);
  }
  const expected = type === 'date' && spec.format === 'iso' ? 'expected a date YYYY-MM-DD' : EXPECTED[type];
  const bad = (buf: Buffer, s: number, e: number): string => `${expected}, got '${buf.toString('utf8', s, Math.min(e, s + 40))}'`;
  const empty = (): string | null => {
    if (spec.required && spec.default === undefined) return REQUIRED;
    push(emptyValue);
    return null;
  };
  return {
    add(buf, s, e) {
      const v = parse(buf, s, e);
      if (v === v) {
        push(v);
        return null;
      }
      return isBlank(buf, s, e) ? empty() : bad(buf, s, e);
    },
    addEmpty: empty,
    finish(): ColumnData {
      if (data instanceof Float64Array) return { type: 'float', values: shareFloat64(data, length) };
      return { type: type === 'date' ? 'date' : type === 'bool' ? 'bool' : 'int', values: shareInt32(data, length) };
    },
  };
}

/** Times: seconds for ordering and arithmetic, plus the text exactly as written (answers show it verbatim). */
function timeBuilder(spec: ColumnSpec): ColumnBuilder {
  const parseTimeBytes = formatParser('time', spec.format);
  const text = stringCodes();
  const seconds = new GrowInt32();
  let defaultSeconds = NULL_TIME;
  if (spec.default !== undefined) {
    const d = Buffer.from(spec.default);
    defaultSeconds = parseTimeBytes(d, 0, d.length);
  }
  const empty = (): string | null => {
    if (spec.default !== undefined) {
      text.addText(spec.default);
      seconds.push(defaultSeconds);
    } else if (spec.required) return REQUIRED;
    else {
      text.addText('');
      seconds.push(NULL_TIME);
    }
    return null;
  };
  return {
    add(buf, s, e, escaped) {
      const v = parseTimeBytes(buf, s, e);
      if (v === v) {
        seconds.push(v);
        text.addBytes(buf, s, e, escaped);
        return null;
      }
      if (isBlank(buf, s, e)) return empty();
      return `expected a time ${spec.format === 'clock' ? 'HH:MM or HH:MM:SS below 24:00' : 'H:MM:SS'}, got '${buf.toString('utf8', s, Math.min(e, s + 40))}'`;
    },
    addEmpty: empty,
    finish(): ColumnData {
      const t = text.finish();
      return { type: 'time', values: shareInt32(seconds.data, seconds.length), codes: t.codes, dict: t.dict };
    },
  };
}

export function columnBuilder(spec: ColumnSpec): ColumnBuilder {
  switch (spec.type) {
    case 'string':
      return stringBuilder(spec);
    case 'time':
      return timeBuilder(spec);
    case 'int':
    case 'date':
    case 'float':
    case 'bool':
      return numberBuilder(spec, spec.type);
  }
}
