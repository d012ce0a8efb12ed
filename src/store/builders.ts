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
import { ByteInterner } from './interner.js';
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
  const interner = new ByteInterner();
  const codes = new GrowInt32();
  // Consecutive rows often repeat a value (a parent's key in a child table's rows): compare bytes, skip hashing.
  let lastBuf: Buffer | null = null;
  let lastS = 0;
  let lastE = 0;
  let lastCode = 0;
  let lastText: string | null = null;
  let lastTextCode = 0;

  return {
    addText(text: string): void {
      lastBuf = null;
      if (text !== lastText) [lastText, lastTextCode] = [text, interner.internText(text)];
      codes.push(lastTextCode);
    },
    addBytes(buf: Buffer, s: number, e: number, escaped: boolean): void {
      if (escaped) {
        lastBuf = null;
        codes.push(interner.internText(buf.toString('utf8', s, e).replaceAll('""', '"')));
        return;
      }
      if (lastBuf === buf && sameBytes(buf, lastS, s, e - s, lastE - lastS)) {
        codes.push(lastCode);
        return;
      }
      lastCode = interner.intern(buf, s, e);
      [lastBuf, lastS, lastE] = [buf, s, e];
      codes.push(lastCode);
    },
    /** Adds a code an earlier addBytes or addText returned (the time builder's cache by seconds). */
    addCode(code: number): void {
      lastBuf = null;
      codes.push(code);
    },
    /** The code the last add gave. */
    lastCode: () => codes.data[codes.length - 1]!,
    finish(): { codes: Int32Array; dict: DictData } {
      const { dict, rank } = buildDictionary(interner.values);
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
  const parse: BytesParser =
    type === 'int'
      ? parseIntBytes
      : type === 'bool'
        ? parseBoolBytes
        : type === 'date'
          ? formatParser('date', spec.format)
          : parseFloatBytes;
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
  const bad = (buf: Buffer, s: number, e: number): string =>
    `${expected}, got '${buf.toString('utf8', s, Math.min(e, s + 40))}'`;
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

const digit = (b: number): number => (b >= 0x30 && b <= 0x39 ? b - 0x30 : -100);

/** The seconds of a time written exactly HH:MM:SS (two-digit hours, minutes and seconds ≤ 59), else -1. */
function canonicalSeconds(buf: Buffer, s: number, e: number): number {
  if (e - s !== 8 || buf[s + 2] !== 0x3a || buf[s + 5] !== 0x3a) return -1;
  const h = digit(buf[s]!) * 10 + digit(buf[s + 1]!);
  const m0 = digit(buf[s + 3]!),
    m1 = digit(buf[s + 4]!),
    s0 = digit(buf[s + 6]!),
    s1 = digit(buf[s + 7]!);
  if (h < 0 || m0 < 0 || m0 > 5 || m1 < 0 || s0 < 0 || s0 > 5 || s1 < 0) return -1;
  return h * 3600 + (m0 * 10 + m1) * 60 + s0 * 10 + s1;
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
  // Text in the canonical form HH:MM:SS is a function of its seconds, so its code is cached by seconds and the
  // bytes are interned once per distinct time rather than once per row.
  let codeOfSeconds = new Int32Array(0);
  // Any other form (one-digit hours, spaces, quotes, an empty or a bad value): parsed in full, text interned.
  const addOther = (buf: Buffer, s: number, e: number, escaped: boolean): string | null => {
    const v = parseTimeBytes(buf, s, e);
    if (v === v) {
      seconds.push(v);
      text.addBytes(buf, s, e, escaped);
      return null;
    }
    if (isBlank(buf, s, e)) return empty();
    return `expected a time ${spec.format === 'clock' ? 'HH:MM or HH:MM:SS below 24:00' : 'H:MM:SS'}, got '${buf.toString('utf8', s, Math.min(e, s + 40))}'`;
  };
  // The fast path reads service-day times (hours may pass 24); a clock time goes through its own parser.
  const canonical = spec.format === 'clock' ? () => -1 : canonicalSeconds;
  return {
    add(buf, s, e, escaped) {
      const v = canonical(buf, s, e);
      if (v >= 0) {
        seconds.push(v);
        if (v < codeOfSeconds.length && codeOfSeconds[v]! > 0) text.addCode(codeOfSeconds[v]! - 1);
        else {
          text.addBytes(buf, s, e, false);
          if (v >= codeOfSeconds.length) {
            const grown = new Int32Array(Math.max(v + 1, codeOfSeconds.length * 2, 1 << 16));
            grown.set(codeOfSeconds);
            codeOfSeconds = grown;
          }
          codeOfSeconds[v] = text.lastCode() + 1;
        }
        return null;
      }
      return addOther(buf, s, e, escaped);
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
