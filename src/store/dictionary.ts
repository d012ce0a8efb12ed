/**
 * Sorted string dictionaries (see DictData). Order is UTF-8 byte order, which equals Unicode code point order.
 * JavaScript's `<` compares UTF-16 code units, which disagrees above U+FFFF (a surrogate, 0xD800–0xDFFF, sorts
 * below U+E000–U+FFFF as a code unit but above them as a code point), so sorting uses compareCodePoints.
 */
import { Buffer } from 'node:buffer';
import type { DictData } from './types.js';
import { sharedBytes, sharedUint32 } from './shared.js';

/** Orders strings by code point (= by their UTF-8 bytes). */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move surrogates above the rest of the BMP; below 0xD800 nothing changes.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Builds the shared dictionary of `values` (distinct strings, any order) and returns it with `rank`: rank[i] is the
 * code of values[i] in the sorted dictionary.
 */
export function buildDictionary(values: readonly string[]): { dict: DictData; rank: Int32Array } {
  const order = values.map((_, i) => i).sort((i, j) => compareCodePoints(values[i]!, values[j]!));
  const rank = new Int32Array(values.length);
  const offsets = sharedUint32(values.length + 1);
  let total = 0;
  for (let code = 0; code < order.length; code++) {
    const i = order[code]!;
    rank[i] = code;
    offsets[code] = total;
    total += Buffer.byteLength(values[i]!, 'utf8');
  }
  offsets[order.length] = total;
  const bytes = sharedBytes(total);
  const out = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let code = 0; code < order.length; code++) out.write(values[order[code]!]!, offsets[code]!, 'utf8');
  return { dict: { size: values.length, offsets, bytes }, rank };
}

/** A Buffer over the dictionary's bytes, for decoding (TextDecoder refuses shared memory; Buffer does not). */
export function dictBuffer(dict: DictData): Buffer {
  return Buffer.from(dict.bytes.buffer, dict.bytes.byteOffset, dict.bytes.byteLength);
}

/** Compares entry i of dictionary a with entry j of dictionary b as bytes. */
export function compareEntries(a: DictData, i: number, b: DictData, j: number): number {
  let p = a.offsets[i]!;
  const pe = a.offsets[i + 1]!;
  let q = b.offsets[j]!;
  const qe = b.offsets[j + 1]!;
  for (; p < pe && q < qe; p++, q++) {
    const d = a.bytes[p]! - b.bytes[q]!;
    if (d !== 0) return d;
  }
  return pe - p - (qe - q);
}

/** The code of `value` in the dictionary, or -1 when no row has that value. */
export function findCode(dict: DictData, value: string): number {
  const key = Buffer.from(value, 'utf8');
  let lo = 0;
  let hi = dict.size;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareWithBytes(dict, mid, key);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/**
 * The codes [lo, hi) of the entries that start with `prefix`: byte order keeps them together, after every entry
 * below the prefix. Empty (lo === hi) when none does.
 */
export function codesWithPrefix(dict: DictData, prefix: string): [number, number] {
  const key = Buffer.from(prefix, 'utf8');
  const first = (before: (i: number) => boolean): number => {
    let lo = 0;
    let hi = dict.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (before(mid)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  const startsWith = (i: number) =>
    dict.offsets[i + 1]! - dict.offsets[i]! >= key.length &&
    key.every((b, j) => dict.bytes[dict.offsets[i]! + j] === b);
  const lo = first((i) => compareWithBytes(dict, i, key) < 0);
  return [lo, first((i) => compareWithBytes(dict, i, key) < 0 || startsWith(i))];
}

function compareWithBytes(dict: DictData, i: number, key: Uint8Array): number {
  let p = dict.offsets[i]!;
  const pe = dict.offsets[i + 1]!;
  let q = 0;
  for (; p < pe && q < key.length; p++, q++) {
    const d = dict.bytes[p]! - key[q]!;
    if (d !== 0) return d;
  }
  return pe - p - (key.length - q);
}

/**
 * For every code of `from`, the code of the same string in `to`, or -1: a merge of two sorted dictionaries, so
 * resolving a reference costs no string decoding.
 */
export function mapCodes(from: DictData, to: DictData): Int32Array {
  const out = new Int32Array(from.size).fill(-1);
  let j = 0;
  for (let i = 0; i < from.size && j < to.size; i++) {
    let c = compareEntries(from, i, to, j);
    while (c > 0 && ++j < to.size) c = compareEntries(from, i, to, j);
    if (c === 0) out[i] = j;
  }
  return out;
}
