/**
 * Emits src/generated/queries.ts (specs, parameter and row types; imported by the CGI program, so it imports
 * types only) and src/generated/registry.ts (query name → its hand-written implementation in src/queries/).
 */
import { doc, header, literal, pascal, quote } from './names.js';
import type { QuerySchema, Schemas } from './schema.js';

/** The implementation a query's schema promises: `export function run<Name>` in src/queries/<name>.ts. */
export function runnerOf(q: QuerySchema): { file: string; fn: string } {
  return { file: `src/queries/${q.name}.ts`, fn: `run${pascal(q.name)}` };
}

function paramsInterface(q: QuerySchema): string {
  const lines = q.params.map((p) => {
    const type = p.type === 'string' ? 'string' : 'number';
    const unit = p.type === 'date' ? ' (yyyymmdd)' : p.type === 'time' ? ' (seconds since midnight)' : '';
    const absent = p.required || p.default !== undefined ? '' : p.type === 'string' ? '; empty when absent' : '; NaN when absent';
    return `  /** ${doc((p.description ?? p.name) + unit + absent)} */\n  ${p.name}: ${type};`;
  });
  return `/** Parameters of ${q.name}, as parseParams returns them. */\nexport interface ${pascal(q.name)}Params {\n${lines.join('\n')}\n}`;
}

function rowType(q: QuerySchema): string {
  const cells = q.fields.map((f) => `${f.name}: ${f.type === 'int' ? 'number' : 'string'}`);
  const one = `export type ${pascal(q.name)}Row = [${cells.join(', ')}];`;
  if (one.length <= 118) return `/** One answer row of ${q.name}, cells in field order. */\n${one}`;
  return `/** One answer row of ${q.name}, cells in field order. */\nexport type ${pascal(q.name)}Row = [\n${cells.map((c) => `  ${c},`).join('\n')}\n];`;
}

export function emitQueries(schemas: Schemas): string {
  const parts = [
    `${header(schemas.queryDir)}/** The queries roq answers: parameters, answer fields, and their TypeScript types. Types-only imports: the CGI
 * program bundles this file. */
import type { ParamSpec } from '../params.js';
import type { Field } from '../protocol.js';

export interface QuerySpec {
  name: string;
  description: string;
  params: ParamSpec[];
  fields: Field[];
  /** Seconds an HTTP cache may keep an answer (the schema's maxAge); absent: no caching. */
  maxAge?: number;
}`,
  ];
  for (const q of schemas.queries) parts.push(paramsInterface(q), rowType(q));
  const specs: Record<string, unknown> = {};
  for (const q of schemas.queries) specs[q.name] = { name: q.name, description: q.description, params: q.params, fields: q.fields, ...(q.maxAge ? { maxAge: q.maxAge } : {}) };
  parts.push(`export type QueryName = ${schemas.queries.map((q) => quote(q.name)).join(' | ') || 'never'};`);
  parts.push(`export const QUERY_SPECS: Record<string, QuerySpec> = ${literal(specs)};`);
  return parts.join('\n\n') + '\n';
}

export function emitRegistry(schemas: Schemas): string {
  const qs = schemas.queries;
  const imports = qs.map((q) => `import { ${runnerOf(q).fn} } from '../queries/${q.name}.js';`);
  const types = qs.map((q) => `${pascal(q.name)}Params`);
  return `${header(schemas.queryDir)}/** Query name → its hand-written implementation, src/queries/<name>.ts exporting run<Name>. */
import type { ParamValue } from '../params.js';
import type { Cell } from '../protocol.js';
import type { Db } from '../queries/db.js';
${types.length ? `import type { ${types.join(', ')} } from './queries.js';\n` : ''}${imports.join('\n')}

/** Runs a query on parameters already checked by parseParams against the query's spec. */
export type QueryRunner = (db: Db, params: Record<string, ParamValue>) => Cell[][];

export const QUERY_RUNNERS: Record<string, QueryRunner> = {
${qs.map((q) => `  ${q.name}: (db, params) => ${runnerOf(q).fn}(db, params as unknown as ${pascal(q.name)}Params),`).join('\n')}
};
`;
}
