/**
 * Schema validation: the JSON files under schemas/ → checked, normalized specs for the emitters. Every error names
 * the schema file and the field at fault, as `schemas/tables/orders.json: columns[2].type: unknown type 'strng'
 * (expected string, int, float, time, date)`, because that is where the person running codegen must look.
 */
import { Buffer } from 'node:buffer';
import type { ParamSpec } from '../src/params.js';
import { parseClockTime, parseIsoDate } from '../src/dates.js';
import type { Field } from '../src/protocol.js';
import type { DeclaredQuery } from '../src/queries/declared.js';
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

export interface SchemaFile {
  /** Path as it should appear in messages and generated headers, e.g. schemas/tables/orders.json. */
  path: string;
  json: unknown;
}

export interface SchemaFiles {
  tables: SchemaFile[];
  queries: SchemaFile[];
}

export interface QuerySchema {
  name: string;
  description: string;
  params: ParamSpec[];
  fields: Field[];
  /** Seconds an HTTP cache may keep an answer (Cache-Control max-age); absent: no caching. */
  maxAge?: number;
  /** The fields' labels (column headings on the page) and help, where the schema gives them. */
  fieldText?: Record<string, { label?: string; help?: string }>;
  source: string;
  /** Set for a declarative query (one that names a table): what the generic runner needs. */
  declared?: DeclaredQuery;
  /** The function of the query's module that derives data once per generation (`"derive"` in the schema). */
  derive?: string;
}

/** Where generated files import roq's modules and the app's query functions from. */
export interface ImportPaths {
  /** roq's src/, as seen from the generated directory: 'roq', which every build resolves to roq's src/. */
  lib: string;
  /** The app's hand-written query functions, as seen from DIR/.roq/generated/: '../../queries'. */
  queries: string;
  /** The command that regenerates the files, for their headers: `npm run codegen`, or `roq build` for an app. */
  regenerate: string;
}

/** From <app>/.roq/generated/: roq's modules by the bare `roq/` prefix every build resolves, the app's queries two up. */
export const APP_IMPORTS: ImportPaths = {
  lib: 'roq',
  queries: '../../queries',
  regenerate: 'roq build [--app DIR]',
};

export interface Schemas {
  tables: SourcedTable[];
  queries: QuerySchema[];
  /** The directories the schemas came from, for the generated headers. */
  tableDir: string;
  queryDir: string;
  imports: ImportPaths;
}

export class SchemaError extends Error {
  constructor(file: string, field: string, problem: string) {
    super(`${file}: ${field ? field + ': ' : ''}${problem}`);
    this.name = 'SchemaError';
  }
}

const COLUMN_TYPES: readonly ColumnType[] = ['string', 'int', 'float', 'bool', 'time', 'date'];
const PARAM_TYPES = ['string', 'int', 'float', 'bool', 'date', 'time'] as const;
const FIELD_TYPES = ['string', 'int', 'float', 'bool'] as const;
const SNAKE = /^[a-z][a-z0-9_]*$/;
const INDEX_NAME = /^[a-z][A-Za-z0-9]*$/;
const ONE_LINE = /^[^\r\n]*$/;

type Obj = Record<string, unknown>;

/** A cursor over one schema file: reports problems at a field path. */
function checker(file: string) {
  const fail = (field: string, problem: string): never => {
    throw new SchemaError(file, field, problem);
  };
  const show = (v: unknown): string => (typeof v === 'string' ? `'${v}'` : (JSON.stringify(v) ?? String(v)));
  return {
    fail,
    object(v: unknown, field: string, allowed: readonly string[]): Obj {
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return fail(field, `expected an object, got ${show(v)}`);
      for (const k of Object.keys(v)) {
        if (!allowed.includes(k))
          fail(field ? `${field}.${k}` : k, `unknown property (expected one of ${allowed.join(', ')})`);
      }
      return v as Obj;
    },
    array(v: unknown, field: string): unknown[] {
      if (!Array.isArray(v)) return fail(field, `expected an array, got ${show(v)}`);
      return v;
    },
    string(v: unknown, field: string, pattern?: RegExp, what?: string): string {
      if (typeof v !== 'string') return fail(field, `expected a string, got ${show(v)}`);
      if (pattern && !pattern.test(v)) fail(field, `${show(v)} is not ${what}`);
      return v;
    },
    optString(v: unknown, field: string): string {
      return v === undefined ? '' : this.string(v, field);
    },
    bool(v: unknown, field: string): boolean {
      if (v === undefined) return false;
      if (typeof v !== 'boolean') return fail(field, `expected true or false, got ${show(v)}`);
      return v;
    },
    integer(v: unknown, field: string): number {
      if (typeof v !== 'number' || !Number.isInteger(v)) return fail(field, `expected a whole number, got ${show(v)}`);
      return v;
    },
    oneOf<T extends string>(v: unknown, field: string, options: readonly T[], what: string): T {
      if (!options.includes(v as T)) fail(field, `unknown ${what} ${show(v)} (expected ${options.join(', ')})`);
      return v as T;
    },
    unique(names: string[], field: (i: number) => string, what: string): void {
      names.forEach((n, i) => {
        if (names.indexOf(n) !== i) fail(field(i), `${what} '${n}' appears twice`);
      });
    },
  };
}

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

type SourcedTable = TableSpec & { source: string };

/** The separators a table may declare, by name. */
const DELIMITERS: Record<string, string> = { comma: ',', tab: '\t', semicolon: ';', pipe: '|' };

type Checker = ReturnType<typeof checker>;
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
function linkReferences(checked: { spec: SourcedTable; refs: (string | undefined)[] }[]): void {
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

const QUERY_PROPERTIES = ['query', 'description', 'params', 'fields', 'maxAge', 'table', 'index', 'limit', 'derive'];
/** A parameter's properties, in the one order every generated parameter spec has, whatever the schema's. */
const PARAM_PROPERTIES = [
  'name',
  'type',
  'required',
  'default',
  'maxLength',
  'min',
  'max',
  'description',
  'label',
  'help',
];

type ParamBase = { name: string; required?: boolean; description?: string; label?: string; help?: string };
type ParamType = (typeof PARAM_TYPES)[number];

export function validateQuery(file: SchemaFile): QuerySchema {
  const c = checker(file.path);
  const o = c.object(file.json, '', QUERY_PROPERTIES);
  const name = c.string(o.query, 'query', SNAKE, 'a query name of [a-z0-9_] starting with a letter');
  const declarative = o.table !== undefined;
  const params = c.array(o.params ?? [], 'params').map((raw, i) => validateParam(c, raw, `params[${i}]`, declarative));
  c.unique(
    params.map((p) => p.name),
    (i) => `params[${i}].name`,
    'parameter',
  );
  const ordered = params.map(
    (p) =>
      Object.fromEntries(
        PARAM_PROPERTIES.filter((k) => k in p).map((k) => [k, (p as Record<string, unknown>)[k]]),
      ) as ParamSpec,
  );
  const fieldText: Record<string, { label?: string; help?: string }> = {};
  const fields = validateFields(c, o.fields, declarative, fieldText);
  if (!declarative) {
    for (const prop of ['index', 'limit'])
      if (o[prop] !== undefined) c.fail(prop, `only a query that names a table takes ${prop}`);
  } else if (o.derive !== undefined)
    c.fail('derive', 'a query that names a table has no code of its own to derive data with');
  const maxAge = o.maxAge === undefined ? undefined : c.integer(o.maxAge, 'maxAge');
  if (maxAge !== undefined && (maxAge < 0 || maxAge > 31_536_000))
    c.fail('maxAge', `expected seconds from 0 to 31536000 (a year), got ${maxAge}`);
  const q: QuerySchema = {
    name,
    description: c.optString(o.description, 'description'),
    params: ordered,
    fields,
    ...(maxAge ? { maxAge } : {}),
    ...(Object.keys(fieldText).length ? { fieldText } : {}),
    source: file.path,
  };
  if (o.derive !== undefined)
    q.derive = c.string(o.derive, 'derive', /^[a-z][A-Za-z0-9]*$/, "the name of a function of the query's module");
  return q;
}

/** One entry of `params` (at `at`); a declarative query's parameters may also say how they `match`. */
function validateParam(c: Checker, raw: unknown, at: string, declarative: boolean): ParamSpec {
  const po = c.object(raw, at, declarative ? [...PARAM_PROPERTIES, 'match'] : PARAM_PROPERTIES);
  const pname = c.string(po.name, `${at}.name`, SNAKE, 'a parameter name of [a-z0-9_] starting with a letter');
  const type = c.oneOf(po.type, `${at}.type`, PARAM_TYPES, 'type');
  const base: ParamBase = { name: pname };
  if (po.required !== undefined) base.required = c.bool(po.required, `${at}.required`);
  for (const k of ['description', 'label', 'help'] as const)
    if (po[k] !== undefined) base[k] = c.string(po[k], `${at}.${k}`, ONE_LINE, 'text on one line');
  const only = (prop: string, types: readonly string[]) => {
    if (po[prop] !== undefined && !types.includes(type))
      c.fail(`${at}.${prop}`, `only ${types.join(', ')} parameters take ${prop}`);
  };
  only('maxLength', ['string']);
  only('min', ['int', 'float']);
  only('max', ['int', 'float']);
  return typedParam(c, po, at, type, base);
}

/** The parameter's type-specific part: its bounds, length and default, each checked against the others. */
function typedParam(c: Checker, po: Obj, at: string, type: ParamType, base: ParamBase): ParamSpec {
  const dflt = `${at}.default`;
  switch (type) {
    case 'string': {
      const p: ParamSpec = { ...base, type };
      if (po.maxLength !== undefined) p.maxLength = c.integer(po.maxLength, `${at}.maxLength`);
      if (po.default !== undefined) p.default = c.string(po.default, dflt);
      return p;
    }
    case 'int': {
      const min = c.integer(po.min, `${at}.min`);
      const max = c.integer(po.max, `${at}.max`);
      if (min > max) c.fail(`${at}.max`, `max ${max} is below min ${min}`);
      const p: ParamSpec = { ...base, type, min, max };
      if (po.default !== undefined) {
        p.default = c.integer(po.default, dflt);
        if (p.default < min || p.default > max) c.fail(dflt, `${p.default} is outside ${min}..${max}`);
      }
      return p;
    }
    case 'float':
      return floatParam(c, po, at, base);
    case 'bool': {
      const p: ParamSpec = { ...base, type };
      if (po.default !== undefined) p.default = c.bool(po.default, dflt);
      return p;
    }
    case 'date':
    case 'time': {
      const p: ParamSpec = { ...base, type };
      if (po.default !== undefined) {
        p.default = c.string(po.default, dflt);
        const ok = type === 'date' ? parseIsoDate(p.default) : parseClockTime(p.default);
        if (Number.isNaN(ok)) c.fail(dflt, `'${p.default}' is not a valid ${type}`);
      }
      return p;
    }
  }
}

/** A float parameter: its bounds are optional, and its default lies within those it has. */
function floatParam(c: Checker, po: Obj, at: string, base: ParamBase): ParamSpec {
  const dflt = `${at}.default`;
  const p: ParamSpec = { ...base, type: 'float' };
  const num = (v: unknown, field: string): number =>
    typeof v === 'number' && Number.isFinite(v) ? v : c.fail(field, `expected a number, got ${JSON.stringify(v)}`);
  if (po.min !== undefined) p.min = num(po.min, `${at}.min`);
  if (po.max !== undefined) p.max = num(po.max, `${at}.max`);
  if (p.min !== undefined && p.max !== undefined && p.min > p.max)
    c.fail(`${at}.max`, `max ${p.max} is below min ${p.min}`);
  if (po.default !== undefined) {
    p.default = num(po.default, dflt);
    if ((p.min !== undefined && p.default < p.min) || (p.max !== undefined && p.default > p.max))
      c.fail(dflt, `${p.default} is outside ${p.min ?? ''}..${p.max ?? ''}`);
  }
  return p;
}

/** The query's `fields`; their labels and help go into `fieldText`, by field name. */
function validateFields(
  c: Checker,
  json: unknown,
  declarative: boolean,
  fieldText: Record<string, { label?: string; help?: string }>,
): Field[] {
  const fields: Field[] = c.array(json, 'fields').map((raw, i) => {
    const fo = c.object(raw, `fields[${i}]`, [
      'name',
      'type',
      'description',
      'label',
      'help',
      ...(declarative ? ['column'] : []),
    ]);
    const name = c.string(fo.name, `fields[${i}].name`, SNAKE, 'a field name of [a-z0-9_] starting with a letter');
    for (const k of ['label', 'help'] as const)
      if (fo[k] !== undefined)
        (fieldText[name] ??= {})[k] = c.string(fo[k], `fields[${i}].${k}`, ONE_LINE, 'text on one line');
    // A declarative query's field types follow its columns (linkDeclared); one written here must agree.
    if (declarative && fo.type === undefined) return { name, type: 'string' };
    return { name, type: c.oneOf(fo.type, `fields[${i}].type`, FIELD_TYPES, 'type') };
  });
  if (fields.length === 0) c.fail('fields', 'a query needs at least one field');
  c.unique(
    fields.map((f) => f.name),
    (i) => `fields[${i}].name`,
    'field',
  );
  return fields;
}

/** The field type of a declarative query's column: numbers stay numbers, bools bools, dates and times are text. */
function fieldTypeOf(type: ColumnType): Field['type'] {
  return type === 'int' || type === 'float' || type === 'bool' ? type : 'string';
}

/**
 * Completes a declarative query (one whose schema names a table) once the tables are known: the table, the index
 * its parameters are bound to (the key unless `index` names another), each parameter's type against its column's,
 * and each field's column. Errors point at the query schema's field.
 */
function linkDeclared(q: QuerySchema, json: Obj, tables: readonly SourcedTable[]): void {
  const c = checker(q.source);
  const tableName = c.string(json.table, 'table');
  const t = tables.find((x) => x.name === tableName);
  if (!t) return c.fail('table', `no table '${tableName}' (tables: ${tables.map((x) => x.name).join(', ') || 'none'})`);
  const { index, columns } = declaredIndex(c, json, t);
  const match = paramMatches(c, json, t, index, columns);
  const exact = match.filter((m) => m === 'exact').length;
  checkParamColumns(c, q, t, columns, match);
  const fields = declaredFields(c, q, json, t);
  const limit = json.limit === undefined ? 100 : c.integer(json.limit, 'limit');
  if (limit < 1 || limit > 100_000) c.fail('limit', `${limit} is outside 1..100000`);
  const names = q.params.map((p) => p.name);
  q.declared = { table: t.name, index, columns: [...columns], params: names.slice(0, exact), fields, limit };
  if (exact < names.length) {
    const range: NonNullable<DeclaredQuery['range']> = { column: columns[exact]! };
    match.forEach((m, i) => {
      if (m !== 'exact') range[m] = names[i]!;
    });
    q.declared.range = range;
  }
  const folded = columns.filter((n, i) => i < exact && t.columns.find((x) => x.name === n)!.fold);
  if (folded.length) q.declared.fold = folded;
}

const MATCHES = ['exact', 'prefix', 'min', 'max'] as const;
type Match = (typeof MATCHES)[number];

/** The index a declarative query's parameters bind to: the key, unless `index` names another. */
function declaredIndex(c: Checker, json: Obj, t: SourcedTable): { index: string; columns: readonly string[] } {
  const index = json.index === undefined ? 'key' : c.string(json.index, 'index');
  const columns = index === 'key' ? t.key : t.indexes.find((ix) => ix.name === index)?.columns;
  if (!columns || columns.length === 0) {
    const known = [...(t.key.length ? ['key'] : []), ...t.indexes.map((ix) => ix.name)];
    return c.fail(
      'index',
      `table '${t.name}' has no ${index === 'key' ? 'key' : `index '${index}'`} (it has: ${known.join(', ') || 'no key and no index'})`,
    );
  }
  return { index, columns };
}

/** How each parameter matches: the exact ones first, then at most one column's range, within the index. */
function paramMatches(c: Checker, json: Obj, t: SourcedTable, index: string, columns: readonly string[]): Match[] {
  const paramsJson = (json.params ?? []) as Obj[];
  const match = paramsJson.map((p, i) =>
    p.match === undefined ? 'exact' : c.oneOf(p.match, `params[${i}].match`, MATCHES, 'match'),
  );
  const exact = match.filter((m) => m === 'exact').length;
  match.forEach((m, i) => {
    if (m === 'exact' && i >= exact)
      c.fail(`params[${i}].match`, 'parameters matched exactly come first, then those of a range (prefix, min, max)');
  });
  if (exact + (exact < match.length ? 1 : 0) > columns.length)
    c.fail(
      `params[${columns.length}]`,
      `the ${index} of '${t.name}' has ${columns.length} column(s) (${columns.join(', ')}); parameters bind to them in order`,
    );
  return match;
}

/** Each parameter against the column it binds to: its type, and a match the column's type allows. */
function checkParamColumns(
  c: Checker,
  q: QuerySchema,
  t: SourcedTable,
  columns: readonly string[],
  match: readonly Match[],
): void {
  const exact = match.filter((m) => m === 'exact').length;
  q.params.forEach((p, i) => {
    const col = t.columns.find((x) => x.name === columns[Math.min(i, exact)])!;
    const m = match[i]!;
    if (m !== 'exact' && match.indexOf(m) !== i) c.fail(`params[${i}].match`, `a second '${m}' parameter`);
    if (m === 'prefix' && (col.type !== 'string' || match.some((x) => x === 'min' || x === 'max')))
      c.fail(`params[${i}].match`, `a prefix matches a string column alone; ${t.name}.${col.name} is ${col.type}`);
    if ((m === 'min' || m === 'max') && col.type === 'string')
      c.fail(`params[${i}].match`, `${m} bounds a column of numbers, dates or times; ${t.name}.${col.name} is text`);
    // A parameter's type is named as its column's is.
    if (col.type !== p.type)
      c.fail(
        `params[${i}].type`,
        `'${p.name}' binds to ${t.name}.${col.name}, a ${col.type} column: make it ${col.type}`,
      );
  });
}

/** Each field's column (its `column`, or the column of its name); the field takes the type the column gives. */
function declaredFields(c: Checker, q: QuerySchema, json: Obj, t: SourcedTable): DeclaredQuery['fields'] {
  const fieldsJson = json.fields as Obj[];
  return q.fields.map((f, i) => {
    const column =
      fieldsJson[i]!.column === undefined ? f.name : c.string(fieldsJson[i]!.column, `fields[${i}].column`);
    const col = t.columns.find((x) => x.name === column);
    if (!col)
      return c.fail(
        `fields[${i}]${fieldsJson[i]!.column === undefined ? '.name' : '.column'}`,
        `table '${t.name}' has no column '${column}'`,
      );
    const type = fieldTypeOf(col.type);
    if (fieldsJson[i]!.type !== undefined && fieldsJson[i]!.type !== type)
      c.fail(`fields[${i}].type`, `${t.name}.${column} gives ${type} values`);
    f.type = type;
    return { column, type };
  });
}

function dirOf(files: SchemaFile[], fallback: string): string {
  const p = files[0]?.path;
  return p ? p.slice(0, p.lastIndexOf('/') + 1) + '*.json' : fallback;
}

/** Validates a whole schema set; files are taken in path order so output does not depend on directory listing. */
export function validateSchemas(input: SchemaFiles, imports: ImportPaths = APP_IMPORTS): Schemas {
  const byPath = (a: SchemaFile, b: SchemaFile) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  const tableFiles = [...input.tables].sort(byPath);
  const queryFiles = [...input.queries].sort(byPath);
  const checked = tableFiles.map(validateTable);
  const tables = checked.map((x) => x.spec);
  tables.forEach((t, i) => {
    const first = tables.findIndex((x) => x.name === t.name);
    if (first !== i)
      throw new SchemaError(t.source, 'table', `table '${t.name}' is also defined in ${tables[first]!.source}`);
    const sameFile = tables.findIndex((x) => x.file === t.file);
    if (sameFile !== i)
      throw new SchemaError(t.source, 'file', `file '${t.file}' is also described by ${tables[sameFile]!.source}`);
  });
  linkReferences(checked);
  const queries = queryFiles.map(validateQuery);
  queries.forEach((q, i) => {
    const json = queryFiles[i]!.json as Obj;
    if (json.table !== undefined) linkDeclared(q, json, tables);
  });
  queries.forEach((q, i) => {
    const first = queries.findIndex((x) => x.name === q.name);
    if (first !== i)
      throw new SchemaError(q.source, 'query', `query '${q.name}' is also defined in ${queries[first]!.source}`);
  });
  return {
    tables,
    queries,
    tableDir: dirOf(tableFiles, 'schemas/tables/*.json'),
    queryDir: dirOf(queryFiles, 'schemas/queries/*.json'),
    imports,
  };
}
