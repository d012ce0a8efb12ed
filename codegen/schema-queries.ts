/**
 * A query schema (schemas/queries/*.json): its parameters, fields and caching, checked into a QuerySchema; for a
 * declarative query (one that names a table), linkDeclared binds its parameters and fields to the table's columns.
 */
import type { ParamSpec } from '../src/params.js';
import { parseClockTime, parseIsoDate } from '../src/dates.js';
import type { Field } from '../src/protocol.js';
import type { DeclaredQuery } from '../src/queries/declared.js';
import type { ColumnType } from '../src/store/types.js';
import { type Checker, checker, type Obj, ONE_LINE, type SchemaFile, SNAKE } from './schema-checker.js';
import type { SourcedTable } from './schema-tables.js';

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

const PARAM_TYPES = ['string', 'int', 'float', 'bool', 'date', 'time'] as const;
const FIELD_TYPES = ['string', 'int', 'float', 'bool'] as const;

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
export function linkDeclared(q: QuerySchema, json: Obj, tables: readonly SourcedTable[]): void {
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
