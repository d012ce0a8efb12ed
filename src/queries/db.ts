/**
 * What a query runs against: one generation's typed tables, the data its queries derived from them once in the
 * load thread (shared by every worker, see derived.ts), and a per-worker memo for what depends on a parameter and
 * so cannot be derived ahead (active services per day). The memo belongs to the Db, so it is dropped with its
 * generation and never shared between workers.
 */
import type { DateRange } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { openTables, type Tables } from '../app/tables.js';

/** A generation as queries see it, over a schema set's generated `Tables` (an app's generated tables.ts exports its own `Db`). */
export interface DbOf<T> {
  /** The generation's id, reported with every answer. */
  readonly generation: number;
  readonly tables: T;
  /** The same tables as plain data, for code that is not generated per schema (declarative queries). */
  readonly data: GenerationData['tables'];
  /** What the queries' derive functions built for this generation, in shared memory (see derived.ts). */
  readonly derived: NonNullable<GenerationData['derived']>;
  readonly memo: Map<string, unknown>;
  /** The days the generation's data covers, computed once when it was loaded (the app's validDates hook). */
  readonly dates?: DateRange;
}

export type Db = DbOf<Tables>;

export function openDb(data: GenerationData): Db {
  return {
    generation: data.id,
    tables: openTables(data.tables),
    data: data.tables,
    derived: data.derived ?? {},
    memo: new Map(),
    ...(data.dates ? { dates: data.dates } : {}),
  };
}

/**
 * Returns memo[key], computing it on first use. Bounded: a flood of distinct keys (dates) clears it. 2048 holds a
 * few keys for each day of a year of data, so pages cycling over its dates do not recompute them.
 */
export function memoized<T>(db: DbOf<unknown>, key: string, compute: () => T): T {
  if (db.memo.has(key)) return db.memo.get(key) as T;
  if (db.memo.size >= 2048) db.memo.clear();
  const value = compute();
  db.memo.set(key, value);
  return value;
}
