/**
 * A table schema (schemas/tables/*.json): its columns, key, indexes, file layout and references, checked into the
 * TableSpec the loader and the table emitter use; linkReferences resolves references once every table is known.
 */
import { Buffer } from 'node:buffer';
import type { ColumnSpec, ColumnType, IndexSpec, TableSpec } from '../src/store/types.js';
import {
  formatParser,
  parseBoolBytes,
  parseDateBytes,
  parseFloatBytes,
  parseIntBytes,
  parseTimeBytes,
} from '../src/store/values.js';
import { camel } from './names.js';
import { type Checker, checker, type Obj, type SchemaFile, SNAKE } from './schema-checker.js';

const COLUMN_TYPES: readonly ColumnType[] = ['string', 'int', 'float', 'bool', 'time', 'date'];
const INDEX_NAME = /^[a-z][A-Za-z0-9]*$/;

const PARSERS: Record<Exclude<ColumnType, 'string'>, (b: Uint8Array, s: number, e: number) => number> = {
  int: parseIntBytes,
  float: parseFloatBytes,
  bool: parseBoolBytes,
  time: parseTimeBytes,
  date: parseDateBytes,
};

function columnDefault(c: Checker, v: unknown, type: ColumnType, field: string, format?: string): string | undefined {
  if (v === undefined) return undefined;
  const text = typeof v === 'number' && (type === 'int' || type === 'float') ? String(v) : c.string(v, field);
  if (type !== 'string') {
    const b = Buffer.from(text);
    const parse = type === 'date' || type === 'time' ? formatParser(type, format) : PARSERS[type];
    if (Number.isNaN(parse(b, 0, b.length))) c.fail(field, `'${text}' is not a valid ${type} value`);
  }
  return text;
}

/** The formats a date or time column may declare; the first is the default (compact YYYYMMDD dates, times past 24:00 allowed). */
const FORMATS: Partial<Record<ColumnType, readonly string[]>> = {
  date: ['yyyymmdd', 'iso'],
  time: ['service', 'clock'],
};

export type SourcedTable = TableSpec & { source: string };

/** The separators a table may declare, by name. */
const DELIMITERS: Record<string, string> = { comma: ',', tab: '\t', semicolon: ';', pipe: '|' };

/** Checks that a value names a column of the table being checked, and returns it. */
type ColumnRef = (v: unknown, field: string) => string;
/** Takes a generated accessor's name for the schema's field, failing when another field took it already. */
type Claim = (member: string, field: string) => void;

const TABLE_PROPERTIES = [
  'table',
  'file',
  'optional',
  'description',
  'columns',
  'key',
  'indexes',
  'delimiter',
  'header',
  'comment',
  'shortRows',
  'references',
];
const COLUMN_PROPERTIES = [
  'name',
  'type',
  'required',
  'default',
  'references',
  'description',
  'heading',
  'format',
  'fold',
];

/** Checks one table schema; `refs` are its columns' `references` texts, resolved by linkReferences. */
export function validateTable(file: SchemaFile): { spec: SourcedTable; refs: (string | undefined)[] } {
  const c = checker(file.path);
  const o = c.object(file.json, '', TABLE_PROPERTIES);
  const name = c.string(o.table, 'table', SNAKE, 'a table name of [a-z0-9_] starting with a letter');
  const dataFile = c.string(o.file, 'file', /^[^/\\]+$/, 'a file name without directories');
  const columnsRaw = c.array(o.columns, 'columns');
  if (columnsRaw.length === 0) c.fail('columns', 'a table needs at least one column');
  const references: (string | undefined)[] = [];
  const columns: ColumnSpec[] = columnsRaw.map((raw, i) => {
    const { col, ref } = validateColumn(c, raw, `columns[${i}]`);
    references.push(ref);
    return col;
  });
  const names = columns.map((col) => col.name);
  c.unique(names, (i) => `columns[${i}].name`, 'column');
  const columnRef: ColumnRef = (v, field) => {
    const n = c.string(v, field);
    if (!names.includes(n)) c.fail(field, `no column '${n}' in this table`);
    return n;
  };
  const key = o.key === undefined ? [] : c.array(o.key, 'key').map((v, i) => columnRef(v, `key[${i}]`));
  c.unique(key, (i) => `key[${i}]`, 'key column');
  const indexes = validateIndexes(c, o.indexes, columnRef);
  const claim = claimAccessors(c, columns, references, indexes);
  const composite = validateCompositeReferences(c, o.references, columnRef, claim);
  const spec: SourcedTable = {
    name,
    file: dataFile,
    optional: c.bool(o.optional, 'optional'),
    description: c.optString(o.description, 'description'),
    columns,
    key,
    indexes,
    source: file.path,
  };
  readTableLayout(c, o, spec);
  if (composite.length) spec.references = composite;
  return { spec, refs: references };
}

/** One entry of `columns` (at `at`): the column, and its `references` text, resolved later by linkReferences. */
function validateColumn(c: Checker, raw: unknown, at: string): { col: ColumnSpec; ref: string | undefined } {
  const co = c.object(raw, at, COLUMN_PROPERTIES);
  const type = c.oneOf(co.type, `${at}.type`, COLUMN_TYPES, 'type');
  const col: ColumnSpec = {
    name: c.string(co.name, `${at}.name`, SNAKE, 'a column name of [a-z0-9_] starting with a letter'),
    type,
    required: c.bool(co.required, `${at}.required`),
  };
  if (co.format !== undefined) {
    const formats = FORMATS[type];
    if (!formats) c.fail(`${at}.format`, 'only date and time columns take a format');
    const f = c.oneOf(co.format, `${at}.format`, formats!, `${type} format`);
    if (f === 'iso' || f === 'clock') col.format = f;
  }
  if (co.fold !== undefined) {
    if (type !== 'string') c.fail(`${at}.fold`, 'only string columns take fold');
    col.fold = c.oneOf(co.fold, `${at}.fold`, ['ascii-case'] as const, 'fold');
  }
  const d = columnDefault(c, co.default, type, `${at}.default`, col.format);
  if (d !== undefined) col.default = d;
  if (co.description !== undefined) c.string(co.description, `${at}.description`);
  if (co.heading !== undefined)
    col.heading = c.string(co.heading, `${at}.heading`, /^[^\r\n]+$/, 'a heading on one line');
  const ref =
    co.references === undefined
      ? undefined
      : c.string(co.references, `${at}.references`, /^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$/, 'of the form table.column');
  return { col, ref };
}

function validateIndexes(c: Checker, json: unknown, columnRef: ColumnRef): IndexSpec[] {
  const indexes: IndexSpec[] = (json === undefined ? [] : c.array(json, 'indexes')).map((raw, i) => {
    const io = c.object(raw, `indexes[${i}]`, ['name', 'columns', 'description']);
    const cols = c
      .array(io.columns, `indexes[${i}].columns`)
      .map((v, j) => columnRef(v, `indexes[${i}].columns[${j}]`));
    if (cols.length === 0) c.fail(`indexes[${i}].columns`, 'an index needs at least one column');
    return {
      name: c.string(io.name, `indexes[${i}].name`, INDEX_NAME, 'an index name in camelCase ([a-z][A-Za-z0-9]*)'),
      columns: cols,
    };
  });
  c.unique(
    indexes.map((ix) => ix.name),
    (i) => `indexes[${i}].name`,
    'index',
  );
  return indexes;
}

/**
 * Generated accessor names must not collide (order_id → orderId, orderIdCode, …; index names; fixed members). Claims
 * the columns' and the indexes' names, and returns the claim for the table-level references that follow.
 */
function claimAccessors(
  c: Checker,
  columns: readonly ColumnSpec[],
  references: readonly (string | undefined)[],
  indexes: readonly IndexSpec[],
): Claim {
  const members = new Map<string, string>([
    ['rows', ''],
    ['present', ''],
    ['key', ''],
    ['findKey', ''],
  ]);
  const claim: Claim = (member, field) => {
    if (members.has(member))
      c.fail(field, `the generated accessor '${member}' collides with ${members.get(member) || 'a built-in member'}`);
    members.set(member, field);
  };
  columns.forEach((col, i) => {
    const m = camel(col.name);
    const suffixes =
      col.type === 'string' ? ['', 'Code', 'CodeOf', 'OfCode'] : col.type === 'time' ? ['', 'Text'] : [''];
    if (references[i]) suffixes.push('Row');
    for (const s of suffixes) claim(m + s, `columns[${i}].name`);
  });
  indexes.forEach((ix, i) => claim(ix.name, `indexes[${i}].name`));
  return claim;
}

/** The table-level `references` (two or more columns to another table's key), resolved later by linkReferences. */
function validateCompositeReferences(
  c: Checker,
  json: unknown,
  columnRef: ColumnRef,
  claim: Claim,
): NonNullable<TableSpec['references']> {
  return (json === undefined ? [] : c.array(json, 'references')).map((raw, i) => {
    const ro = c.object(raw, `references[${i}]`, ['columns', 'table', 'name']);
    const cols = c
      .array(ro.columns, `references[${i}].columns`)
      .map((v, j) => columnRef(v, `references[${i}].columns[${j}]`));
    if (cols.length < 2)
      c.fail(
        `references[${i}].columns`,
        'a table-level reference names two or more columns (for one, write "references" on the column)',
      );
    const table = c.string(ro.table, `references[${i}].table`, SNAKE, 'a table name');
    const ref = {
      name:
        ro.name === undefined
          ? table
          : c.string(ro.name, `references[${i}].name`, SNAKE, 'a name of [a-z0-9_] starting with a letter'),
      columns: cols,
      table,
    };
    claim(`${camel(ref.name)}Row`, `references[${i}]`);
    return ref;
  });
}

/** How the table's file is laid out, where it differs from the default (comma-separated, a header line). */
function readTableLayout(c: Checker, o: Obj, spec: SourcedTable): void {
  if (o.delimiter !== undefined) {
    const d = DELIMITERS[c.oneOf(o.delimiter, 'delimiter', Object.keys(DELIMITERS), 'delimiter')]!;
    if (d !== ',') spec.delimiter = d;
  }
  if (o.header !== undefined && !c.bool(o.header, 'header')) spec.header = false;
  if (o.comment !== undefined)
    spec.comment = c.string(
      o.comment,
      'comment',
      /^[^\r\n",;|\t]+$/,
      'a line prefix (no separator, quote or line end)',
    );
  if (c.bool(o.shortRows, 'shortRows')) spec.shortRows = true;
}

/** Resolves `references` once every table is known: the target must be a string column that is its table's key. */
export function linkReferences(checked: { spec: SourcedTable; refs: (string | undefined)[] }[]): void {
  const tables = checked.map((x) => x.spec);
  for (const { spec: t, refs } of checked) {
    const c = checker(t.source);
    refs.forEach((ref, i) => {
      if (!ref) return;
      const field = `columns[${i}].references`;
      const [tableName, columnName] = ref.split('.') as [string, string];
      const target = tables.find((x) => x.name === tableName);
      if (!target) return c.fail(field, `no table '${tableName}' (tables: ${tables.map((x) => x.name).join(', ')})`);
      const col = target.columns.find((x) => x.name === columnName);
      if (!col) return c.fail(field, `table '${tableName}' has no column '${columnName}'`);
      if (target.key.length !== 1 || target.key[0] !== columnName)
        c.fail(field, `'${ref}' is not the whole key of table '${tableName}' (its key is [${target.key.join(', ')}])`);
      if (col.type !== 'string' || t.columns[i]!.type !== 'string')
        c.fail(field, 'only string columns can reference, and only string columns');
      t.columns[i]!.references = { table: tableName, column: columnName };
    });
    (t.references ?? []).forEach((ref, i) => {
      const field = `references[${i}]`;
      const target = tables.find((x) => x.name === ref.table);
      if (!target)
        return c.fail(`${field}.table`, `no table '${ref.table}' (tables: ${tables.map((x) => x.name).join(', ')})`);
      if (target.key.length !== ref.columns.length)
        c.fail(
          `${field}.columns`,
          `table '${ref.table}' has a key of ${target.key.length} column(s) [${target.key.join(', ')}]; name as many columns, in its order`,
        );
      ref.columns.forEach((name, j) => {
        const from = t.columns.find((x) => x.name === name)!;
        const to = target.columns.find((x) => x.name === target.key[j])!;
        if (from.type !== to.type || from.type === 'float')
          c.fail(
            `${field}.columns[${j}]`,
            `${t.name}.${name} is ${from.type}, ${target.name}.${to.name} ${to.type}: a reference pairs columns of one type other than float`,
          );
      });
    });
  }
}
