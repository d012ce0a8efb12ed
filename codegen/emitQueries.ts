/**
 * Emits an app's .roq/generated/queries.ts (specs, parameter and row types; imported by every program, so it
 * imports types only) and .roq/generated/registry.ts (query name → its hand-written implementation in queries/).
 */
import { doc, header, literal, pascal, quote } from './names.js';
import type { QuerySchema, Schemas } from './schema.js';

/** The implementation a query's schema promises: `export function run<Name>` in the app's queries/<name>.ts. */
export function runnerOf(q: QuerySchema): { file: string; fn: string } {
  return { file: `queries/${q.name}.ts`, fn: `run${pascal(q.name)}` };
}

function paramsInterface(q: QuerySchema): string {
  const lines = q.params.map((p) => {
    const type = p.type === 'string' ? 'string' : p.type === 'bool' ? 'boolean' : 'number';
    const unit = p.type === 'date' ? ' (yyyymmdd)' : p.type === 'time' ? ' (seconds since midnight)' : '';
    const absent =
      p.required || p.default !== undefined
        ? ''
        : p.type === 'string'
          ? '; empty when absent'
          : p.type === 'bool'
            ? '; false when absent'
            : '; NaN when absent';
    return `  /** ${doc((p.description ?? p.name) + unit + absent)} */\n  ${p.name}: ${type};`;
  });
  return `/** Parameters of ${q.name}, as parseParams returns them. */\nexport interface ${pascal(q.name)}Params {\n${lines.join('\n')}\n}`;
}

function rowType(q: QuerySchema): string {
  const cells = q.fields.map(
    (f) => `${f.name}: ${f.type === 'string' ? 'string' : f.type === 'bool' ? 'boolean' : 'number'}`,
  );
  const one = `export type ${pascal(q.name)}Row = [${cells.join(', ')}];`;
  if (one.length <= 118) return `/** One answer row of ${q.name}, cells in field order. */\n${one}`;
  return `/** One answer row of ${q.name}, cells in field order. */\nexport type ${pascal(q.name)}Row = [\n${cells.map((c) => `  ${c},`).join('\n')}\n];`;
}

export function emitQueries(schemas: Schemas): string {
  const parts = [
    `${header(schemas.queryDir, schemas.imports.regenerate)}/** The queries roq answers: parameters, answer fields, and their TypeScript types. Types-only imports: the CGI
 * program bundles this file. */
import type { ParamSpec } from '${schemas.imports.lib}/params.js';
import type { Field } from '${schemas.imports.lib}/protocol.js';

export interface QuerySpec {
  name: string;
  description: string;
  params: ParamSpec[];
  fields: Field[];
  /** Seconds an HTTP cache may keep an answer (the schema's maxAge); absent: no caching. */
  maxAge?: number;
  /** Field name → its label (the column heading) and help, where the schema gives them. */
  fieldText?: Record<string, { label?: string; help?: string }>;
  /** A declarative query's most rows: an answer that long may have been cut short. */
  limit?: number;
}`,
  ];
  for (const q of schemas.queries) parts.push(paramsInterface(q), rowType(q));
  const specs: Record<string, unknown> = {};
  for (const q of schemas.queries)
    specs[q.name] = {
      name: q.name,
      description: q.description,
      params: q.params,
      fields: q.fields,
      ...(q.maxAge ? { maxAge: q.maxAge } : {}),
      ...(q.fieldText ? { fieldText: q.fieldText } : {}),
      ...(q.declared ? { limit: q.declared.limit } : {}),
    };
  parts.push(`export type QueryName = ${schemas.queries.map((q) => quote(q.name)).join(' | ') || 'never'};`);
  parts.push(`export const QUERY_SPECS: Record<string, QuerySpec> = ${literal(specs)};`);
  return parts.join('\n\n') + '\n';
}

export function emitRegistry(schemas: Schemas): string {
  const qs = schemas.queries;
  const { lib, queries } = schemas.imports;
  const coded = qs.filter((q) => !q.declared);
  const declared = qs.filter((q) => q.declared);
  const imports = coded.map(
    (q) => `import { ${[runnerOf(q).fn, ...(q.derive ? [q.derive] : [])].join(', ')} } from '${queries}/${q.name}.js';`,
  );
  const derivers = coded.filter((q) => q.derive);
  if (declared.length) imports.unshift(`import { runDeclared, type DeclaredQuery } from '${lib}/queries/declared.js';`);
  const types = coded.map((q) => `${pascal(q.name)}Params`);
  const table = declared.length
    ? `\n/** The declarative queries: a table, an index prefix bound to the parameters, fields, a limit. No code of their own. */
const DECLARED: Record<string, DeclaredQuery> = ${literal(Object.fromEntries(declared.map((q) => [q.name, q.declared])))};\n`
    : '';
  const runner = (q: QuerySchema) =>
    q.declared
      ? `  ${q.name}: (db, params) => runDeclared(db, DECLARED.${q.name}!, params),`
      : `  ${q.name}: (db, params) => ${runnerOf(q).fn}(db, params as unknown as ${pascal(q.name)}Params),`;
  return `${header(schemas.queryDir, schemas.imports.regenerate)}/** Query name → its hand-written implementation, queries/<name>.ts exporting run<Name>. */
import type { ParamValue } from '${lib}/params.js';
import type { Cell } from '${lib}/protocol.js';
import type { Deriver } from '${lib}/queries/derived.js';
import type { Db } from './tables.js';
${types.length ? `import type { ${types.join(', ')} } from './queries.js';\n` : ''}${imports.join('\n')}
${table}
/** Runs a query on parameters already checked by parseParams against the query's spec. */
export type QueryRunner = (db: Db, params: Record<string, ParamValue>) => Cell[][];

export const QUERY_RUNNERS: Record<string, QueryRunner> = {
${qs.map(runner).join('\n')}
};

/** Query name → the function that derives its data once per generation, in the load thread (\`"derive"\`). */
export const DERIVERS: Record<string, Deriver<Db>> = {${derivers.length ? '\n' + derivers.map((q) => `  ${q.name}: ${q.derive},`).join('\n') + '\n' : ''}};
`;
}
