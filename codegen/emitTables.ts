/**
 * Emits src/generated/catalog.ts (the table specs as data, for the loader) and src/generated/tables.ts (a typed
 * accessor object per table over the shared arrays, for the queries).
 */
import type { ColumnSpec, TableSpec } from '../src/store/types.js';
import { camel, doc, header, literal, pascal, quote } from './names.js';
import type { Schemas } from './schema.js';

export function emitCatalog(schemas: Schemas): string {
  const specs: TableSpec[] = schemas.tables.map(({ source: _source, ...spec }) => spec);
  return `${header(schemas.tableDir, schemas.imports.regenerate)}/** Every table roq loads: where its file is, its columns, key, indexes and references. */
import type { TableSpec } from '${schemas.imports.lib}/store/types.js';

export const TABLES: readonly TableSpec[] = ${literal(specs)};
`;
}

const TS_TYPE: Record<ColumnSpec['type'], string> = {
  string: 'string',
  int: 'number',
  float: 'number',
  bool: 'boolean',
  time: 'number',
  date: 'number',
};

function describeColumn(c: ColumnSpec): string {
  const what: string[] = [c.type];
  if (c.required) what.push('required');
  if (c.default !== undefined) what.push(`default ${c.default}`);
  if (c.references) what.push(`references ${c.references.table}.${c.references.column}`);
  const meaning: Record<ColumnSpec['type'], string> = {
    string: '',
    int: c.default === undefined && !c.required ? '; NULL_INT when empty' : '',
    float: c.default === undefined && !c.required ? '; NaN when empty' : '',
    bool: c.default === undefined && !c.required ? '; false when empty' : '',
    date: ': yyyymmdd' + (c.default === undefined && !c.required ? ', NULL_INT when empty' : ''),
    time:
      ': seconds from the start of the service day' +
      (c.default === undefined && !c.required ? ', NULL_TIME when empty' : ''),
  };
  return `${c.name} (${what.join(', ')})${meaning[c.type]}`;
}

function interfaceOf(t: TableSpec): string {
  const T = pascal(t.name);
  const lines: string[] = [];
  lines.push(`/** ${t.name} (${t.file}${t.optional ? ', optional' : ''}): ${doc(t.description)} */`);
  lines.push(`export interface ${T}Table {`);
  lines.push('  readonly rows: number;');
  lines.push('  /** false when the optional file was absent (the table is then empty) */');
  lines.push('  readonly present: boolean;');
  for (const c of t.columns) {
    const m = camel(c.name);
    lines.push(`  /** ${doc(describeColumn(c))} */`);
    lines.push(`  ${m}(row: number): ${TS_TYPE[c.type]};`);
    if (c.type === 'string') {
      lines.push(`  /** ${c.name}'s dictionary code: codes order as the strings' bytes do */`);
      lines.push(`  ${m}Code(row: number): number;`);
      lines.push(`  /** the ${c.name} code of a value, or -1 when no row has it */`);
      lines.push(`  ${m}CodeOf(value: string): number;`);
      lines.push(`  ${m}OfCode(code: number): string;`);
    }
    if (c.type === 'time') {
      lines.push(`  /** ${c.name} exactly as written in the file */`);
      lines.push(`  ${m}Text(row: number): string;`);
      lines.push(`  /** the code of ${c.name}'s text in its dictionary, and the text of a code */`);
      lines.push(`  ${m}TextCode(row: number): number;`);
      lines.push(`  ${m}TextOfCode(code: number): string;`);
    }
    if (c.references) {
      lines.push(`  /** the ${c.references.table} row whose ${c.references.column} is this row's ${c.name}, or -1 */`);
      lines.push(`  ${m}Row(row: number): number;`);
    }
  }
  for (const ref of t.references ?? []) {
    lines.push(`  /** the ${ref.table} row whose key is this row's (${ref.columns.join(', ')}), or -1 */`);
    lines.push(`  ${camel(ref.name)}Row(row: number): number;`);
  }
  if (t.key.length) {
    lines.push(`  /** rows sorted by the key (${t.key.join(', ')}), the first row of each key only */`);
    lines.push('  readonly key: SortedIndex;');
    const args = t.key.map((k) => `${camel(k)}: ${TS_TYPE[t.columns.find((c) => c.name === k)!.type]}`).join(', ');
    lines.push('  /** the row with this key, or -1 */');
    lines.push(`  findKey(${args}): number;`);
  }
  for (const ix of t.indexes) {
    lines.push(
      `  /** rows sorted by (${ix.columns.join(', ')}); keys: ${ix.columns.map((n) => keyMeaning(t, n)).join(', ')} */`,
    );
    lines.push(`  readonly ${ix.name}: SortedIndex;`);
  }
  lines.push('}');
  return lines.join('\n');
}

function keyMeaning(t: TableSpec, name: string): string {
  const type = t.columns.find((c) => c.name === name)!.type;
  return type === 'string' ? 'code' : type === 'time' ? 'seconds' : type;
}

const OPENER: Record<ColumnSpec['type'], string> = {
  string: 'stringColumn',
  int: 'intColumn',
  float: 'floatColumn',
  bool: 'boolColumn',
  time: 'timeColumn',
  date: 'dateColumn',
};

function openerOf(t: TableSpec): string {
  const T = pascal(t.name);
  const locals: string[] = [];
  const members: string[] = ['    rows: t.rows,', '    present: t.present,'];
  for (const c of t.columns) {
    const m = camel(c.name);
    const v = `${m}Col`;
    locals.push(`  const ${v} = ${OPENER[c.type]}(t, ${quote(c.name)});`);
    switch (c.type) {
      case 'string':
        members.push(
          `    ${m}: ${v}.text,`,
          `    ${m}Code: (row) => ${v}.codes[row]!,`,
          `    ${m}CodeOf: ${v}.codeOf,`,
          `    ${m}OfCode: ${v}.textOfCode,`,
        );
        break;
      case 'time':
        members.push(
          `    ${m}: (row) => ${v}.seconds[row]!,`,
          `    ${m}Text: ${v}.text.text,`,
          `    ${m}TextCode: (row) => ${v}.text.codes[row]!,`,
          `    ${m}TextOfCode: ${v}.text.textOfCode,`,
        );
        break;
      case 'bool':
        members.push(`    ${m}: (row) => ${v}[row] === 1,`);
        break;
      default:
        members.push(`    ${m}: (row) => ${v}[row]!,`);
    }
    if (c.references) {
      locals.push(`  const ${m}Ref = reference(t, ${quote(c.name)});`);
      members.push(`    ${m}Row: (row) => ${m}Ref[${v}.codes[row]!]!,`);
    }
  }
  for (const ref of t.references ?? []) {
    locals.push(`  const ${camel(ref.name)}Ref = reference(t, ${quote(ref.name)});`);
    members.push(`    ${camel(ref.name)}Row: (row) => ${camel(ref.name)}Ref[row]!,`);
  }
  if (t.key.length) {
    locals.push(`  const key = keyIndex(t, ${literal(t.key)});`);
    const cols = t.key.map((k) => t.columns.find((c) => c.name === k)!);
    const args = cols.map((c) => camel(c.name)).join(', ');
    const values = cols
      .map((c) => (c.type === 'string' ? `${camel(c.name)}Col.codeOf(${camel(c.name)})` : camel(c.name)))
      .join(', ');
    members.push('    key,', `    findKey: (${args}) => findByKey(key, [${values}]),`);
  }
  for (const ix of t.indexes) members.push(`    ${ix.name}: namedIndex(t, ${quote(ix.name)}, ${literal(ix.columns)}),`);
  return `export function open${T}(t: TableData): ${T}Table {
${locals.join('\n')}
  return {
${members.join('\n')}
  };
}`;
}

export function emitTables(schemas: Schemas): string {
  const tables = schemas.tables;
  const lib = schemas.imports.lib;
  const used = new Set(tables.flatMap((t) => t.columns.map((c) => OPENER[c.type])));
  const store = [
    ...Object.values(OPENER).filter((o, i, all) => used.has(o) && all.indexOf(o) === i),
    ...(tables.some((t) => t.key.length) ? ['findByKey', 'keyIndex'] : []),
    ...(tables.some((t) => t.indexes.length) ? ['namedIndex'] : []),
    ...(tables.some((t) => t.columns.some((c) => c.references) || t.references?.length) ? ['reference'] : []),
  ].sort();
  const parts = [
    `${header(schemas.tableDir, schemas.imports.regenerate)}/**
 * Typed accessors over a loaded generation, one object per table: \`tables.orders.shippedAt(row)\` is the
 * time in seconds, \`shippedAtText(row)\` the text as written. They wrap the shared arrays; nothing is copied.
 */
import type { TableData } from '${lib}/store/types.js';
import type { SortedIndex } from '${lib}/store/sortedIndex.js';
import type { DbOf } from '${lib}/queries/db.js';
import { ${store.join(', ')} } from '${lib}/store/columns.js';

export { NULL_INT, NULL_TIME } from '${lib}/store/types.js';
export type { SortedIndex } from '${lib}/store/sortedIndex.js';`,
  ];
  for (const t of tables) parts.push(interfaceOf(t), openerOf(t));
  parts.push(`/** Every table of the catalog. */
export interface Tables {
${tables.map((t) => `  ${camel(t.name)}: ${pascal(t.name)}Table;`).join('\n')}
}

/** What a query function receives: a generation of these tables (see ${lib}/queries/db.ts). */
export type Db = DbOf<Tables>;

/** Wraps a generation's tables; cheap (no data is read), done once per generation in each worker. */
export function openTables(tables: Record<string, TableData>): Tables {
  const table = (name: string): TableData => {
    const t = tables[name];
    if (!t) throw new Error(\`the generation has no table \${name}; it was loaded by a different build\`);
    return t;
  };
  return {
${tables.map((t) => `    ${camel(t.name)}: open${pascal(t.name)}(table(${quote(t.name)})),`).join('\n')}
  };
}`);
  return parts.join('\n\n') + '\n';
}
