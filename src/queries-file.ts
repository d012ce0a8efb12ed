/**
 * `<run>/queries.json`: the queries the daemon on a run directory answers, with their parameters and fields, as
 * its app's schemas define them. The daemon writes it once it holds the run directory's lock (a daemon taking
 * over rewrites it with its own app's), so that `roq query` can check and print any app's queries without having
 * been built with that app's schemas.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { QuerySpec } from './app/queries.js';
import { roqError } from './errors.js';
import { accessError, readNoFollow, replaceFile } from './daemon/private-dir.js';

export const QUERIES_FILE = 'queries.json';

/**
 * Written to a temporary name and renamed, so a reader sees the old file or the new one, never half of one. The
 * run directory's group may create names in it: the temporary file is made O_EXCL|O_NOFOLLOW (replaceFile), so a
 * symlink planted at its name is never followed (docs/SECURITY.md).
 */
export function writeQueriesFile(run: string, specs: Record<string, QuerySpec>): void {
  replaceFile(join(run, QUERIES_FILE), JSON.stringify({ queries: specs }, null, 1) + '\n', 0o644);
}

/**
 * The running app's query specs, or undefined when there is no such file (no daemon has run there yet, or one of
 * 0.1). A file that cannot be read, is not the run directory owner's (someone else made it while none was), or
 * does not hold specs is raised as ROQ_FILE_ACCESS: falling back to the compiled-in queries would check another
 * app's requests against the wrong specs.
 */
export function readQueriesFile(run: string): Record<string, QuerySpec> | undefined {
  const path = join(run, QUERIES_FILE);
  let owner: number;
  try {
    owner = fs.lstatSync(path).uid;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw accessError(path, e);
  }
  if (owner !== fs.statSync(run).uid)
    throw roqError('ROQ_FILE_ACCESS', { path, detail: "not the run directory owner's file; remove it" });
  const text = readNoFollow(path) ?? '';
  let queries: unknown;
  try {
    queries = (JSON.parse(text) as { queries?: unknown }).queries;
  } catch {
    /* told below */
  }
  if (queries && typeof queries === 'object') return queries as Record<string, QuerySpec>;
  throw roqError('ROQ_FILE_ACCESS', { path, detail: 'no query specs in it; restart the daemon to rewrite it' });
}
