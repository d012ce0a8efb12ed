/**
 * Read-side views of a loaded table, used by the generated accessors (src/generated/tables.ts) inside workers.
 * They only wrap the shared arrays; decoded strings are cached per worker, per dictionary code, so a value that is
 * output often is decoded once.
 */
import type { DictData, TableData } from './types.js';
import { dictBuffer, findCode } from './dictionary.js';
import { openSortedIndex, sortKeysOf, type SortedIndex } from './sortedIndex.js';

export interface StringColumn {
  readonly codes: Int32Array;
  readonly dict: DictData;
  /** The value of a row. */
  text(row: number): string;
  /** The string of a dictionary code. */
  textOfCode(code: number): string;
  /** The code of a value, or -1 when no row has it. */
  codeOf(value: string): number;
}

function column(table: TableData, name: string, type: string) {
  const c = table.columns[name];
  if (!c || c.type !== type) {
    throw new Error(
      `table ${table.name}: column ${name} is ${c ? c.type : 'absent'}, the generated code expects ${type}; rebuild`,
    );
  }
  return c;
}

export function dictionaryView(codes: Int32Array, dict: DictData): StringColumn {
  const buf = dictBuffer(dict);
  // Sized on first use: an array grown from [] by a write at a large index becomes a hash table in V8 (dictionary
  // elements), a probe per lookup; one made with its length is a flat array. Columns never output cost nothing.
  let cache: (string | undefined)[] | undefined;
  const textOfCode = (code: number): string => {
    cache ??= new Array<string | undefined>(dict.size);
    let s = cache[code];
    if (s === undefined) {
      s = buf.toString('utf8', dict.offsets[code], dict.offsets[code + 1]);
      cache[code] = s;
    }
    return s;
  };
  return {
    codes,
    dict,
    text: (row) => textOfCode(codes[row]!),
    textOfCode,
    codeOf: (value) => findCode(dict, value),
  };
}

export function stringColumn(table: TableData, name: string): StringColumn {
  const c = column(table, name, 'string');
  if (c.type !== 'string') throw new Error('unreachable');
  return dictionaryView(c.codes, c.dict);
}

/** Seconds per row (NULL_TIME when empty) and the raw text. */
export function timeColumn(table: TableData, name: string): { seconds: Int32Array; text: StringColumn } {
  const c = column(table, name, 'time');
  if (c.type !== 'time') throw new Error('unreachable');
  return { seconds: c.values, text: dictionaryView(c.codes, c.dict) };
}

export function intColumn(table: TableData, name: string): Int32Array {
  const c = column(table, name, 'int');
  if (c.type !== 'int') throw new Error('unreachable');
  return c.values;
}

export function dateColumn(table: TableData, name: string): Int32Array {
  const c = column(table, name, 'date');
  if (c.type !== 'date') throw new Error('unreachable');
  return c.values;
}

/** 1, 0, or NULL_INT when empty. */
export function boolColumn(table: TableData, name: string): Int32Array {
  const c = column(table, name, 'bool');
  if (c.type !== 'bool') throw new Error('unreachable');
  return c.values;
}

export function floatColumn(table: TableData, name: string): Float64Array {
  const c = column(table, name, 'float');
  if (c.type !== 'float') throw new Error('unreachable');
  return c.values;
}

export function namedIndex(table: TableData, name: string, columns: readonly string[]): SortedIndex {
  const rows = table.indexes[name];
  if (!rows) throw new Error(`table ${table.name} has no index ${name}; rebuild`);
  return openSortedIndex(rows, sortKeysOf(table, columns));
}

export function keyIndex(table: TableData, columns: readonly string[]): SortedIndex {
  if (!table.key) throw new Error(`table ${table.name} has no key; rebuild`);
  return openSortedIndex(table.key, sortKeysOf(table, columns));
}

/** Source dictionary code → target row (-1 when absent) for a referencing column. */
export function reference(table: TableData, name: string): Int32Array {
  const r = table.references[name];
  if (!r) throw new Error(`table ${table.name}: column ${name} has no resolved reference; rebuild`);
  return r;
}

/**
 * The row at a key, or -1: the key index holds the first row of each key only. A string that no row has gives
 * code -1, which matches nothing, so callers pass codeOf() results straight in.
 */
export function findByKey(index: SortedIndex, key: readonly number[]): number {
  const pos = index.lowerBound(key);
  return pos < index.rows.length && pos < index.upperBound(key) ? index.rows[pos]! : -1;
}
