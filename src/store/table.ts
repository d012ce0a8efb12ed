/**
 * Assembling a table from a file's bytes: the header maps schema columns to fields, every record goes to the column
 * builders, then the key and the indexes are sorted. References between tables are resolved once every table is
 * built (resolveReferences). Load-side only: workers never import this file.
 */
import { Buffer } from 'node:buffer';
import { roqError } from '../errors.js';
import type { CompositeReference, TableData, TableSpec } from './types.js';
import { findByKey } from './columns.js';
import { columnBuilder, type ColumnBuilder } from './builders.js';
import { scanCsv, type CsvRecord } from './csv.js';
import { mapCodes } from './dictionary.js';
import { shareInt32, sharedInt32 } from './shared.js';
import { buildSortedIndex, openSortedIndex, sortKeysOf } from './sortedIndex.js';

export interface LoadLog {
  warn(msg: string): void;
}

/** A table whose optional file is absent: every column present and empty. */
export function emptyTable(spec: TableSpec): TableData {
  const columns: TableData['columns'] = {};
  for (const c of spec.columns) columns[c.name] = columnBuilder(c).finish();
  const indexes: Record<string, Int32Array> = {};
  for (const ix of spec.indexes) indexes[ix.name] = sharedInt32(0);
  return {
    name: spec.name,
    file: spec.file,
    present: false,
    rows: 0,
    columns,
    key: spec.key.length ? sharedInt32(0) : null,
    indexes,
    references: {},
  };
}

/**
 * Parses one table file. `path` is how errors name the file. Throws RoqError: ROQ_LOAD_MISSING_COLUMN,
 * ROQ_LOAD_VALUE (file:line:column and the column's name), ROQ_LOAD_CSV (ragged rows, broken quoting).
 */
export function parseTable(spec: TableSpec, path: string, buf: Buffer, log: LoadLog): TableData {
  const builders = spec.columns.map((c) => columnBuilder(c));
  // fieldOf[i]: the field number of spec.columns[i] in each record, or -1 when the header lacks it.
  let fieldOf: number[] = [];
  let width = 0;
  let rows = 0;
  let lineOf: Int32Array = new Int32Array(1024); // row → line, for warnings about repeated keys
  const header = (names: string[]): void => {
    width = names.length;
    fieldOf = fieldsOfColumns(spec, names, path, log);
  };

  // Without a header line the fields are the columns, in schema order.
  if (spec.header === false) header(spec.columns.map((c) => c.heading ?? c.name));
  const records = scanCsv(
    buf,
    path,
    (rec) => {
      if (width === 0) return header(headerNames(buf, rec));
      if (rec.count > width || (rec.count < width && !spec.shortRows)) throw raggedRow(path, rec, width);
      addRecord(spec, path, builders, fieldOf, buf, rec);
      if (rows === lineOf.length) lineOf = doubled(lineOf);
      lineOf[rows++] = rec.line;
    },
    spec.delimiter === undefined ? undefined : spec.delimiter.charCodeAt(0),
    spec.comment === undefined ? undefined : Buffer.from(spec.comment),
  );
  if (records === 0 && width === 0) header([]);

  const columns: TableData['columns'] = {};
  spec.columns.forEach((c, i) => (columns[c.name] = builders[i]!.finish()));
  const table: TableData = {
    name: spec.name,
    file: spec.file,
    present: true,
    rows,
    columns,
    key: null,
    indexes: {},
    references: {},
  };
  if (spec.key.length) table.key = uniqueKey(table, spec, path, lineOf, log);
  for (const ix of spec.indexes) table.indexes[ix.name] = buildSortedIndex(sortKeysOf(table, ix.columns), rows);
  return table;
}

function headerNames(buf: Buffer, rec: CsvRecord): string[] {
  const names: string[] = [];
  for (let i = 0; i < rec.count; i++) names.push(buf.toString('utf8', rec.starts[i], rec.ends[i]).trim());
  return names;
}

/**
 * The field number of each of the schema's columns in the header `names` (-1 for one it lacks). A required column
 * must be there; columns the schema does not know are ignored, with one warning.
 */
function fieldsOfColumns(spec: TableSpec, names: string[], path: string, log: LoadLog): number[] {
  const fieldOf = spec.columns.map((c) => names.indexOf(c.heading ?? c.name));
  spec.columns.forEach((c, i) => {
    if (c.required && fieldOf[i]! < 0) throw roqError('ROQ_LOAD_MISSING_COLUMN', { file: path, column: c.name });
  });
  const extra = names.filter((n) => !spec.columns.some((c) => (c.heading ?? c.name) === n));
  if (extra.length)
    log.warn(
      `${path}: column${extra.length > 1 ? 's' : ''} ${extra.join(', ')} not in the schema of table ${spec.name}; ignored`,
    );
  return fieldOf;
}

/** A record with more fields than the header, or fewer when the schema does not allow short rows. */
function raggedRow(path: string, rec: CsvRecord, width: number): Error {
  return roqError('ROQ_LOAD_CSV', {
    file: path,
    line: rec.line,
    col: Math.min(rec.count, width) + 1,
    detail: `the row has ${rec.count} field${rec.count === 1 ? '' : 's'}, the header ${width}${rec.count < width ? ' (if rows may leave off empty trailing fields, say "shortRows": true in the table\'s schema)' : ''}`,
  });
}

/** One record's fields into the column builders; a field missing from a short row is empty. */
function addRecord(
  spec: TableSpec,
  path: string,
  builders: ColumnBuilder[],
  fieldOf: readonly number[],
  buf: Buffer,
  rec: CsvRecord,
): void {
  for (let i = 0; i < builders.length; i++) {
    const f = fieldOf[i]!;
    const b = builders[i]!;
    const err = f < 0 || f >= rec.count ? b.addEmpty() : b.add(buf, rec.starts[f]!, rec.ends[f]!, rec.escaped[f] === 1);
    if (err !== null)
      throw roqError('ROQ_LOAD_VALUE', {
        file: path,
        line: rec.line,
        col: f + 1,
        column: spec.columns[i]!.name,
        detail: err,
      });
  }
}

function doubled(lines: Int32Array): Int32Array {
  const grown = new Int32Array(lines.length * 2);
  grown.set(lines);
  return grown;
}

/**
 * Rows sorted by key, keeping the first row (in file order) of each key. Repeated keys give one warning per
 * file: lookups by key (and references) use the first row; the other rows stay in the table.
 */
function uniqueKey(table: TableData, spec: TableSpec, path: string, lineOf: Int32Array, log: LoadLog): Int32Array {
  const keys = sortKeysOf(table, spec.key);
  const sorted = buildSortedIndex(keys, table.rows);
  const kept = new Int32Array(sorted.length);
  let n = 0;
  let repeats = 0;
  let example = '';
  for (let i = 0; i < sorted.length; i++) {
    const row = sorted[i]!;
    const prev = n > 0 ? kept[n - 1]! : -1;
    if (prev >= 0 && keys.every((k) => Object.is(k[row], k[prev]))) {
      if (repeats++ === 0) example = `line ${lineOf[row]} repeats line ${lineOf[prev]}`;
      continue;
    }
    kept[n++] = row;
  }
  if (repeats) {
    log.warn(
      `${path}: ${repeats} row${repeats > 1 ? 's' : ''} repeat a key (${spec.key.join(', ')}), e.g. ${example}; lookups by key use the first row`,
    );
  }
  return shareInt32(kept, n);
}

/**
 * Resolves every `references` column: source dictionary code → the target table's row with that key, or -1.
 * The target column is its table's whole key (codegen checks this), so the key index gives one row per value.
 */
export function resolveReferences(specs: readonly TableSpec[], tables: Record<string, TableData>): void {
  for (const spec of specs) {
    const table = tables[spec.name]!;
    for (const c of spec.columns) {
      if (!c.references) continue;
      const target = tables[c.references.table]!;
      const source = table.columns[c.name]!;
      const key = target.columns[c.references.column]!;
      if (source.type !== 'string' || key.type !== 'string')
        throw new Error(`reference ${spec.name}.${c.name}: only string columns can reference`);
      const rowOfCode = new Int32Array(key.dict.size).fill(-1);
      for (const row of target.key ?? []) rowOfCode[key.codes[row]!] = row;
      const codeMap = mapCodes(source.dict, key.dict);
      const out = sharedInt32(source.dict.size);
      for (let i = 0; i < out.length; i++) out[i] = codeMap[i]! < 0 ? -1 : rowOfCode[codeMap[i]!]!;
      table.references[c.name] = out;
    }
    for (const ref of spec.references ?? []) table.references[ref.name] = compositeReference(table, ref, specs, tables);
  }
}

/**
 * Source row → the target row whose whole key equals the row's `columns`, or -1: strings are compared through
 * their codes mapped into the target's dictionaries, other types by value, with one search of the target's key
 * index per row.
 */
function compositeReference(
  table: TableData,
  ref: CompositeReference,
  specs: readonly TableSpec[],
  tables: Record<string, TableData>,
): Int32Array {
  const target = tables[ref.table]!;
  const keyCols = specs.find((s) => s.name === ref.table)!.key;
  const index = openSortedIndex(target.key ?? sharedInt32(0), sortKeysOf(target, keyCols));
  const parts = ref.columns.map((name, j) => {
    const from = table.columns[name]!;
    const to = target.columns[keyCols[j]!]!;
    if (from.type === 'string' && to.type === 'string') {
      const map = mapCodes(from.dict, to.dict);
      return (row: number) => map[from.codes[row]!]!;
    }
    if (from.type === 'string' || to.type === 'string')
      throw new Error(`reference ${table.name}.${name}: a string column can only reference a string column`);
    return (row: number) => from.values[row]!;
  });
  // A string the target does not have maps to code -1, which matches no key: the row gets -1.
  const out = sharedInt32(table.rows);
  const key: number[] = new Array(parts.length);
  for (let row = 0; row < table.rows; row++) {
    for (let j = 0; j < parts.length; j++) key[j] = parts[j]!(row);
    out[row] = findByKey(index, key);
  }
  return out;
}
