/**
 * Sorted indexes: a permutation of row ids ordered by the values of some columns (string columns by dictionary
 * code, which is byte order; times by seconds; ints, dates and floats by value), ties broken by row id. A range of
 * rows sharing a key prefix is found by binary search, and within it rows come in index order, so a query that
 * wants that order just walks the range.
 */
import type { ColumnData, TableData } from './types.js';
import { sharedInt32 } from './shared.js';

export type SortKey = Int32Array | Float64Array;

export interface SortedIndex {
  /** Row ids in index order. */
  readonly rows: Int32Array;
  /** First position whose key, compared on the first key.length columns, is ≥ key. */
  lowerBound(key: readonly number[]): number;
  /** First position whose key, compared on the first key.length columns, is > key. */
  upperBound(key: readonly number[]): number;
}

/** The numbers a column sorts by. */
export function sortKeyOf(column: ColumnData): SortKey {
  return column.type === 'string' ? column.codes : column.values;
}

// NaN (an empty float) sorts first and equals itself, so the order is total.
function compareNumbers(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  return a !== a ? (b !== b ? 0 : -1) : 1;
}

/** Row ids 0..rows-1 sorted by `keys` then by row id, in a shared array. */
export function buildSortedIndex(keys: readonly SortKey[], rows: number): Int32Array {
  const out = sharedInt32(rows);
  out.set(radixOrder(keys, rows) ?? comparisonOrder(keys, rows));
  return out;
}

/**
 * The usual case, in linear time: every key is an Int32Array of dense values (dictionary codes, seconds, small
 * ints), so stable counting sorts from the last key to the first give the order, row ids breaking ties because
 * the first pass starts from row order. Returns null when some key is sparse or a float; the caller then sorts by
 * comparison.
 */
function radixOrder(keys: readonly SortKey[], rows: number): Int32Array | null {
  const ranges: [number, number][] = [];
  for (const k of keys) {
    if (!(k instanceof Int32Array)) return null;
    let min = 0;
    let max = -1;
    for (let i = 0; i < rows; i++) {
      const v = k[i]!;
      if (i === 0 || v < min) min = v;
      if (i === 0 || v > max) max = v;
    }
    if (max - min > Math.max(1 << 16, 4 * rows)) return null;
    ranges.push([min, max]);
  }
  let order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  let next = new Int32Array(rows);
  for (let c = keys.length - 1; c >= 0; c--) {
    const k = keys[c] as Int32Array;
    const [min, max] = ranges[c]!;
    const start = new Int32Array(max - min + 2);
    for (let i = 0; i < rows; i++) start[k[i]! - min + 1]!++;
    for (let v = 1; v < start.length; v++) start[v]! += start[v - 1]!;
    for (let i = 0; i < rows; i++) {
      const row = order[i]!;
      next[start[k[row]! - min]!++] = row;
    }
    [order, next] = [next, order];
  }
  return order;
}

function comparisonOrder(keys: readonly SortKey[], rows: number): Int32Array {
  const order = new Int32Array(rows);
  for (let i = 0; i < rows; i++) order[i] = i;
  return order.sort((a, b) => {
    for (const k of keys) {
      const c = compareNumbers(k[a]!, k[b]!);
      if (c !== 0) return c;
    }
    return a - b;
  });
}

/** Wraps a stored permutation with binary searches over the given columns' sort keys. */
export function openSortedIndex(rows: Int32Array, keys: readonly SortKey[]): SortedIndex {
  // Compares the row at position pos with key on key.length columns.
  function compareAt(pos: number, key: readonly number[]): number {
    const row = rows[pos]!;
    for (let c = 0; c < key.length; c++) {
      const d = compareNumbers(keys[c]![row]!, key[c]!);
      if (d !== 0) return d;
    }
    return 0;
  }
  function search(key: readonly number[], upper: boolean): number {
    if (key.length > keys.length) throw new Error(`index key of ${key.length} values for ${keys.length} columns`);
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareAt(mid, key);
      if (c < 0 || (upper && c === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
  return {
    rows,
    lowerBound: (key) => search(key, false),
    upperBound: (key) => search(key, true),
  };
}

/** The sort keys of the named columns of a loaded table. */
export function sortKeysOf(table: TableData, columns: readonly string[]): SortKey[] {
  return columns.map((name) => {
    const column = table.columns[name];
    if (!column) throw new Error(`table ${table.name} has no column ${name}`);
    return sortKeyOf(column);
  });
}
