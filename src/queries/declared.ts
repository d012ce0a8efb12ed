/**
 * Declarative queries: a query schema that names a table instead of a function (`"table": "extent"`) is answered
 * here, with no code of the app's own. Its parameters are bound, in order, to the leading columns of the table's
 * key (or of a named index); an absent optional parameter ends the bound prefix. The answer is the rows of that
 * index range, in index order, up to `limit`, with one cell per field taken from the field's column.
 *
 * Cells: strings and times as written in the file, ints and floats as numbers, bools as booleans (empty: ''), dates
 * as YYYY-MM-DD.
 */
import { Buffer } from 'node:buffer';
import type { ParamValue } from '../params.js';
import type { Cell, FieldType } from '../protocol.js';
import { dictionaryView } from '../store/columns.js';
import { codesWithPrefix, findCode } from '../store/dictionary.js';
import { openSortedIndex, sortKeysOf } from '../store/sortedIndex.js';
import { NULL_INT, type ColumnData, type DictData, type TableData } from '../store/types.js';
import { isoDate } from '../dates.js';
import type { DbOf } from './db.js';

/** What codegen writes for a declarative query (src/generated/registry.ts, or an app's). */
export interface DeclaredQuery {
  table: string;
  /** 'key', or the name of one of the table's indexes. */
  index: string;
  /** The index's columns; the first params.length of them are bound to the parameters. */
  columns: string[];
  params: string[];
  fields: { column: string; type: FieldType }[];
  limit: number;
  /** The bound columns whose schema says `fold: "ascii-case"`: a parameter matches their values in any case. */
  fold?: string[];
  /**
   * The parameters that bound the index column after those bound exactly (the column `range.column`): a prefix of
   * a string column's values, or the least and greatest value of another type's; each optional.
   */
  range?: { column: string; prefix?: string; min?: string; max?: string };
}

const lowerAscii = (s: string) => s.replace(/[A-Z]+/g, (m) => m.toLowerCase());

/** Per dictionary, its codes by their text with A–Z lowered; made on a folded column's first lookup in a worker. */
const foldedCodes = new WeakMap<DictData, Map<string, number[]>>();

function codesFolded(dict: DictData, value: string): number[] {
  let byText = foldedCodes.get(dict);
  if (!byText) {
    byText = new Map();
    const buf = Buffer.from(dict.bytes.buffer, dict.bytes.byteOffset, dict.bytes.byteLength);
    for (let code = 0; code < dict.size; code++) {
      const text = lowerAscii(buf.toString('utf8', dict.offsets[code], dict.offsets[code + 1]));
      byText.set(text, [...(byText.get(text) ?? []), code]);
    }
    foldedCodes.set(dict, byText);
  }
  return byText.get(lowerAscii(value)) ?? [];
}

/** The index keys a parameter value matches in a column: none for an unknown string, several when case-folded. */
function keysOf(column: ColumnData, value: ParamValue, fold: boolean): number[] {
  if (column.type !== 'string') return [Number(value)];
  if (fold) return codesFolded(column.dict, String(value));
  const code = findCode(column.dict, String(value));
  return code < 0 ? [] : [code];
}

/** Every combination of one key per bound column, in index order (ascending codes give ascending ranges). */
function combinations(choices: number[][]): number[][] {
  return choices.reduce<number[][]>((acc, ks) => acc.flatMap((prefix) => ks.map((k) => [...prefix, k])), [[]]);
}

/** One column's cells, as a function of the row. */
function cellsOf(column: ColumnData): (row: number) => Cell {
  switch (column.type) {
    case 'string':
      return dictionaryView(column.codes, column.dict).text;
    case 'time':
      return dictionaryView(column.codes, column.dict).text;
    case 'int':
      return (row) => (column.values[row] === NULL_INT ? '' : column.values[row]!);
    case 'bool':
      return (row) => (column.values[row] === NULL_INT ? '' : column.values[row] !== 0);
    case 'date':
      return (row) => (column.values[row] === NULL_INT ? '' : isoDate(column.values[row]!));
    case 'float':
      return (row) => (Number.isNaN(column.values[row]) ? '' : column.values[row]!);
  }
}

function tableOf(db: DbOf<unknown>, name: string): TableData {
  const t = db.data[name];
  if (!t) throw new Error(`the generation has no table ${name}; it was loaded by a different build`);
  return t;
}

const given = (v: ParamValue | undefined): v is ParamValue =>
  v !== undefined && v !== '' && !(typeof v === 'number' && Number.isNaN(v));

type Index = ReturnType<typeof openSortedIndex>;

/**
 * The positions of a range's rows under one exact key, as a function of the index and the key; undefined when the
 * query has no range or none of its parameters is given.
 */
function rangeOf(
  table: TableData,
  q: DeclaredQuery,
  params: Record<string, ParamValue>,
): ((index: Index, key: number[]) => [number, number]) | undefined {
  const r = q.range;
  if (!r) return undefined;
  const column = table.columns[r.column]!;
  const prefix = r.prefix === undefined ? undefined : params[r.prefix];
  if (given(prefix) && column.type === 'string') {
    const [lo, hi] = codesWithPrefix(column.dict, String(prefix));
    return (index, key) => [index.lowerBound([...key, lo]), index.lowerBound([...key, hi])];
  }
  const min = r.min === undefined ? undefined : params[r.min];
  const max = r.max === undefined ? undefined : params[r.max];
  if (!given(min) && !given(max)) return undefined;
  return (index, key) => [
    given(min) ? index.lowerBound([...key, Number(min)]) : index.lowerBound(key),
    given(max) ? index.upperBound([...key, Number(max)]) : index.upperBound(key),
  ];
}

export function runDeclared(db: DbOf<unknown>, q: DeclaredQuery, params: Record<string, ParamValue>): Cell[][] {
  const table = tableOf(db, q.table);
  const rows = q.index === 'key' ? table.key : table.indexes[q.index];
  if (!rows) throw new Error(`table ${q.table} has no index ${q.index}; rebuild`);
  const choices: number[][] = [];
  for (let i = 0; i < q.params.length; i++) {
    const value = params[q.params[i]!];
    if (value === undefined || value === '' || (typeof value === 'number' && Number.isNaN(value))) break;
    const column = q.columns[i]!;
    const ks = keysOf(table.columns[column]!, value, q.fold?.includes(column) === true);
    if (ks.length === 0) return [];
    choices.push(ks);
  }
  const index = openSortedIndex(rows, sortKeysOf(table, q.columns));
  const cells = q.fields.map((f) => cellsOf(table.columns[f.column]!));
  const bounds = choices.length === q.params.length ? rangeOf(table, q, params) : undefined;
  const out: Cell[][] = [];
  for (const key of combinations(choices)) {
    const [start, end] = bounds ? bounds(index, key) : [index.lowerBound(key), index.upperBound(key)];
    for (let pos = start; pos < end && out.length < q.limit; pos++) {
      const row = index.rows[pos]!;
      out.push(cells.map((cell) => cell(row)));
    }
  }
  return out;
}
