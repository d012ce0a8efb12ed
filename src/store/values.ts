/**
 * Parsing of typed values straight from a file's bytes (no string per value). Each parser takes buf[s, e) and
 * returns the value or NaN when the text is not of the type; the caller turns NaN into a load error naming
 * file:line:column. Spaces and tabs around a number, date or time are ignored (hand-edited files have them); the
 * text of a time is kept exactly as written anyway.
 */
import { Buffer } from 'node:buffer';
import { daysInMonth } from '../dates.js';

export function isBlank(buf: Uint8Array, s: number, e: number): boolean {
  for (let i = s; i < e; i++) if (buf[i] !== 0x20 && buf[i] !== 0x09) return false;
  return true;
}

function trimStart(buf: Uint8Array, s: number, e: number): number {
  while (s < e && (buf[s] === 0x20 || buf[s] === 0x09)) s++;
  return s;
}

function trimEnd(buf: Uint8Array, s: number, e: number): number {
  while (e > s && (buf[e - 1] === 0x20 || buf[e - 1] === 0x09)) e--;
  return e;
}

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= 0x30 && b <= 0x39;

/** A whole number in the int32 range except -2^31 (the stored null); optional sign. */
export function parseIntBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  let neg = false;
  if (buf[s] === 0x2d || buf[s] === 0x2b) {
    neg = buf[s] === 0x2d;
    s++;
  }
  if (s === e || e - s > 10) return NaN;
  let v = 0;
  for (let i = s; i < e; i++) {
    const b = buf[i]!;
    if (b < 0x30 || b > 0x39) return NaN;
    v = v * 10 + (b - 0x30);
  }
  if (v > 2147483647) return NaN;
  return neg ? -v : v;
}

/** A service-day time H:MM:SS as seconds; the hours may have one digit or exceed 23 (times past midnight). */
export function parseTimeBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  let i = s;
  let h = 0;
  while (i < e && isDigit(buf[i])) h = h * 10 + (buf[i++]! - 0x30);
  if (i === s || i - s > 4 || buf[i] !== 0x3a) return NaN;
  const m = twoDigits(buf, i + 1, e);
  if (Number.isNaN(m) || buf[i + 3] !== 0x3a) return NaN;
  const sec = twoDigits(buf, i + 4, e);
  if (Number.isNaN(sec) || i + 6 !== e || m > 59 || sec > 59) return NaN;
  return h * 3600 + m * 60 + sec;
}

function twoDigits(buf: Uint8Array, i: number, e: number): number {
  if (i + 2 > e || !isDigit(buf[i]) || !isDigit(buf[i + 1])) return NaN;
  return (buf[i]! - 0x30) * 10 + (buf[i + 1]! - 0x30);
}

/** A compact date YYYYMMDD that exists in the Gregorian calendar, as the number yyyymmdd. */
export function parseDateBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  if (e - s !== 8) return NaN;
  return dateDigits(buf, s, e, -1, -1);
}

/** The digits of buf[s, e) as yyyymmdd, skipping the separators at `sep1` and `sep2`; NaN unless a real date. */
function dateDigits(buf: Uint8Array, s: number, e: number, sep1: number, sep2: number): number {
  let v = 0;
  for (let i = s; i < e; i++) {
    if (i === sep1 || i === sep2) continue;
    if (!isDigit(buf[i])) return NaN;
    v = v * 10 + (buf[i]! - 0x30);
  }
  const y = Math.floor(v / 10000);
  const m = Math.floor(v / 100) % 100;
  const d = v % 100;
  if (m < 1 || m > 12 || d < 1 || d > daysInMonth(y, m)) return NaN;
  return v;
}

const POW10 = Array.from({ length: 23 }, (_, k) => 10 ** k);
const FLOAT_TEXT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/;

/**
 * A decimal number. Up to 15 significant digits without exponent it is computed as m / 10^k, which IEEE division
 * rounds correctly because both operands are exact; anything else goes through Number().
 */
export function parseFloatBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  let i = s;
  const neg = buf[i] === 0x2d;
  if (neg || buf[i] === 0x2b) i++;
  let m = 0;
  let digits = 0;
  let frac = -1;
  for (; i < e; i++) {
    const b = buf[i]!;
    if (b >= 0x30 && b <= 0x39) {
      m = m * 10 + (b - 0x30);
      digits++;
      if (frac >= 0) frac++;
    } else if (b === 0x2e && frac < 0) frac = 0;
    else break;
  }
  if (i === e && digits > 0 && digits <= 15) {
    const v = frac > 0 ? m / POW10[frac]! : m;
    return neg ? -v : v;
  }
  const text = Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('latin1');
  return FLOAT_TEXT.test(text) ? Number(text) : NaN;
}

/** An ISO date YYYY-MM-DD that exists in the Gregorian calendar, as the number yyyymmdd (how dates are stored). */
export function parseIsoDateBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  if (e - s !== 10 || buf[s + 4] !== 0x2d || buf[s + 7] !== 0x2d) return NaN;
  return dateDigits(buf, s, e, s + 4, s + 7);
}

/** A clock time H:MM or H:MM:SS below 24:00 as seconds since midnight. */
export function parseClockTimeBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  let i = s;
  let h = 0;
  while (i < e && isDigit(buf[i])) h = h * 10 + (buf[i++]! - 0x30);
  if (i === s || i - s > 2 || buf[i] !== 0x3a || h > 23) return NaN;
  const m = twoDigits(buf, i + 1, e);
  if (Number.isNaN(m) || m > 59) return NaN;
  if (i + 3 === e) return h * 3600 + m * 60;
  if (buf[i + 3] !== 0x3a) return NaN;
  const sec = twoDigits(buf, i + 4, e);
  if (Number.isNaN(sec) || i + 6 !== e || sec > 59) return NaN;
  return h * 3600 + m * 60 + sec;
}

/** The parser of a date or time column's declared format (see docs/SCHEMAS.md). */
export function formatParser(
  type: 'date' | 'time',
  format: string | undefined,
): (buf: Uint8Array, s: number, e: number) => number {
  if (type === 'date') return format === 'iso' ? parseIsoDateBytes : parseDateBytes;
  return format === 'clock' ? parseClockTimeBytes : parseTimeBytes;
}

/** true/false, t/f, yes/no, y/n, 1/0 in any case, as 1 or 0. */
export function parseBoolBytes(buf: Uint8Array, s: number, e: number): number {
  s = trimStart(buf, s, e);
  e = trimEnd(buf, s, e);
  const n = e - s;
  if (n < 1 || n > 5) return NaN;
  let word = '';
  for (let i = s; i < e; i++) word += String.fromCharCode(buf[i]! | (buf[i]! >= 0x41 && buf[i]! <= 0x5a ? 0x20 : 0));
  return BOOL_WORDS[word] ?? NaN;
}

const BOOL_WORDS: Record<string, number> = { true: 1, false: 0, t: 1, f: 0, yes: 1, no: 0, y: 1, n: 0, '1': 1, '0': 0 };
