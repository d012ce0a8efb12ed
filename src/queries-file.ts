/**
 * `<run>/queries.json`: the queries the daemon on a run directory answers, with their parameters and fields, as
 * its app's schemas define them. The daemon writes it once it holds the run directory's lock (a daemon taking
 * over rewrites it with its own app's), so that `roq query` can check and print any app's queries without having
 * been built with that app's schemas.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { QuerySpec } from './generated/queries.js';
import { readNoFollow, replaceFile } from './daemon/private-dir.js';

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
 * The running app's query specs, or undefined when the file is absent, unreadable (a daemon before 0.3) or not
 * the run directory owner's.
 */
export function readQueriesFile(run: string): Record<string, QuerySpec> | undefined {
  try {
    // Only the daemon's: a file someone else made there (while none was) is not the running app's.
    if (fs.lstatSync(join(run, QUERIES_FILE)).uid !== fs.statSync(run).uid) return undefined;
    const { queries } = JSON.parse(readNoFollow(join(run, QUERIES_FILE)) ?? '') as {
      queries?: Record<string, QuerySpec>;
    };
    return queries && typeof queries === 'object' ? queries : undefined;
  } catch {
    return undefined;
  }
}
