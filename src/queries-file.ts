/**
 * `<run>/queries.json`: the queries the daemon on a run directory answers, with their parameters and fields, as
 * its app's schemas define them. The daemon writes it once it holds the run directory's lock (a daemon taking
 * over rewrites it with its own app's), so that `roq query` can check and print any app's queries without having
 * been built with that app's schemas.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { QuerySpec } from './generated/queries.js';

export const QUERIES_FILE = 'queries.json';

/** Written to a temporary name and renamed, so a reader sees the old file or the new one, never half of one. */
export function writeQueriesFile(run: string, specs: Record<string, QuerySpec>): void {
  const path = join(run, QUERIES_FILE);
  const tmp = `${path}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify({ queries: specs }, null, 1) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, path);
}

/** The running app's query specs, or undefined when the file is absent or unreadable (a daemon before 0.3). */
export function readQueriesFile(run: string): Record<string, QuerySpec> | undefined {
  try {
    const { queries } = JSON.parse(fs.readFileSync(join(run, QUERIES_FILE), 'utf8')) as { queries?: Record<string, QuerySpec> };
    return queries && typeof queries === 'object' ? queries : undefined;
  } catch {
    return undefined;
  }
}
