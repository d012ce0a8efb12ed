/**
 * The engine, as a worker thread uses it: open a generation once (cheap: it wraps the shared arrays in typed
 * accessors), then run queries on it. Kept light on purpose — no csv-parse, no fast-glob, no file system — since
 * every worker loads it.
 */
import { parseParams, querySpecOf } from './params.js';
import type { Cell, Field } from './protocol.js';
import { QUERY_SPECS } from './app/queries.js';
import { QUERY_RUNNERS } from './app/registry.js';
import { openDb, type Db } from './queries/db.js';
import type { GenerationData } from './store/types.js';

export type { Db } from './queries/db.js';
export type { GenerationData } from './store/types.js';

export const QUERY_NAMES: readonly string[] = Object.keys(QUERY_SPECS);

export function openGeneration(data: GenerationData): Db {
  return openDb(data);
}

/**
 * Validates `raw` against the query's spec and runs it. Throws RoqError: ROQ_QUERY_UNKNOWN, or ROQ_PARAM_* naming
 * the parameter. Cells are numbers for int fields and strings otherwise, in the spec's field order.
 */
export function runQuery(db: Db, query: string, raw: Record<string, string>): { fields: Field[]; rows: Cell[][] } {
  const spec = querySpecOf(QUERY_SPECS, query);
  const run = Object.hasOwn(QUERY_RUNNERS, query) ? QUERY_RUNNERS[query] : undefined;
  if (!run) throw new Error(`the generated query runners have no '${query}' query`);
  const params = parseParams(query, spec.params, raw);
  return { fields: spec.fields, rows: run(db, params) };
}
