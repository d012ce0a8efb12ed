/**
 * What a query runs against: one generation's typed tables plus a per-worker memo for derived data that many
 * queries reuse (active services per day, lower-cased stop names). The memo belongs to the Db, so it is dropped
 * with its generation and never shared between workers.
 */
import type { DateRange } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { openTables, type Tables } from '../generated/tables.js';

export interface Db {
  /** The generation's id, reported with every answer. */
  readonly generation: number;
  readonly tables: Tables;
  /** The generation's load-time structures (GenerationData.derived), shared by every worker. */
  readonly derived: NonNullable<GenerationData['derived']>;
  readonly memo: Map<string, unknown>;
  /** The days the generation's data covers, computed once when it was loaded (feed-dates.ts). */
  readonly dates?: DateRange;
}

export function openDb(data: GenerationData): Db {
  return { generation: data.id, tables: openTables(data.tables), derived: data.derived ?? {}, memo: new Map(), ...(data.dates ? { dates: data.dates } : {}) };
}

/**
 * Returns memo[key], computing it on first use. Bounded: a flood of distinct keys (dates) clears it. 2048 holds a
 * few keys for each day of a year-long feed, so boards cycling over its dates do not recompute them.
 */
export function memoized<T>(db: Db, key: string, compute: () => T): T {
  if (db.memo.has(key)) return db.memo.get(key) as T;
  if (db.memo.size >= 2048) db.memo.clear();
  const value = compute();
  db.memo.set(key, value);
  return value;
}
