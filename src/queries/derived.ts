/**
 * Derived data: structures a query builds from the tables (a sort order, lower-cased names, a lookup array) once
 * per generation instead of once per worker on its first query. A query schema names its module's function with
 * `"derive": "deriveStops"`; the load thread runs it after loading and before the generation is handed to the
 * workers (so a reload swaps tables and derived data together, and a failing function fails the load, the old
 * generation serving on). Its result — typed arrays only — is copied into shared memory once, and every worker
 * reads the same arrays as `db.derived.<query>.<name>`.
 */
import { Buffer } from 'node:buffer';
import type { GenerationData } from '../store/types.js';
import { openDb, type Db, type DbOf } from './db.js';

export type DerivedValue = Int32Array | Uint32Array | Float64Array | Uint8Array;
export type Derived = Record<string, DerivedValue>;
export type Deriver<D extends DbOf<unknown> = Db> = (db: D) => Derived;

/** A typed array on a SharedArrayBuffer: the same one if it is already shared, else a shared copy. */
function share<T extends DerivedValue>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const copy = new (a.constructor as new (b: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength));
  copy.set(a as never);
  return copy;
}

/**
 * Runs every query's deriver on a loaded generation and stores the shared results in it. Throws (with the query
 * named) when a deriver throws or returns something other than typed arrays.
 */
export function deriveAll(generation: GenerationData, derivers: Readonly<Record<string, Deriver>>): void {
  const names = Object.keys(derivers);
  if (names.length === 0) return;
  const db = openDb(generation);
  const out: Record<string, Derived> = {};
  for (const query of names) {
    let result: Derived;
    try {
      result = derivers[query]!(db);
    } catch (e) {
      throw new Error(`deriving the data of query ${query} failed: ${(e as Error)?.message ?? String(e)}`);
    }
    const shared: Derived = {};
    for (const [name, value] of Object.entries(result)) {
      if (!ArrayBuffer.isView(value) || value instanceof DataView)
        throw new Error(`the derived data of query ${query}: '${name}' is not a typed array`);
      shared[name] = share(value);
    }
    out[query] = shared;
  }
  generation.derived = out;
}

/**
 * Strings packed for shared memory: their UTF-8 bytes one after another, and starts[i] … starts[i+1] the bytes of
 * string i. Searching `bytes` with Buffer#indexOf finds text in all of them at native speed.
 */
export function packStrings(strings: readonly string[]): { bytes: Uint8Array; starts: Int32Array } {
  const starts = new Int32Array(strings.length + 1);
  let total = 0;
  strings.forEach((s, i) => {
    starts[i] = total;
    total += Buffer.byteLength(s, 'utf8');
  });
  starts[strings.length] = total;
  const bytes = new Uint8Array(new SharedArrayBuffer(total));
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  strings.forEach((s, i) => buf.write(s, starts[i]!, 'utf8'));
  return { bytes, starts };
}

/** The index of the packed string holding byte `offset`: the last i with starts[i] ≤ offset. */
export function stringAt(starts: Int32Array, offset: number): number {
  let lo = 0;
  let hi = starts.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >>> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * Positions (in the packed order) of the strings containing `needle`, in order, at most `limit` of them. A match
 * that runs over the end of its string is no match, and no later one in that string can be either.
 */
export function packedMatches(bytes: Uint8Array, starts: Int32Array, needle: string, limit: number): number[] {
  const hay = bytesBuffer(bytes);
  const key = Buffer.from(needle, 'utf8');
  const out: number[] = [];
  const count = starts.length - 1;
  if (key.length === 0) {
    for (let i = 0; i < count && out.length < limit; i++) out.push(i);
    return out;
  }
  for (let from = 0; out.length < limit;) {
    const at = hay.indexOf(key, from);
    if (at < 0) break;
    const i = stringAt(starts, at);
    if (at + key.length <= starts[i + 1]!) out.push(i);
    from = starts[i + 1]!;
  }
  return out;
}

/** A Buffer over shared bytes (for indexOf and decoding; TextDecoder refuses shared memory). */
export function bytesBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The derived data of a query, or a clear error when the generation has none (a build without the deriver). */
export function derivedOf(db: DbOf<unknown>, query: string): Derived {
  const d = db.derived[query];
  if (!d)
    throw new Error(
      `generation ${db.generation} has no derived data for query ${query}; it was loaded by a different build`,
    );
  return d;
}
