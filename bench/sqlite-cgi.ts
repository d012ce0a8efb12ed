/**
 * The SQLite CGI program of the benchmarks: what a user without roq's daemon would deploy — a CGI program that
 * opens the database bench/sqlite.ts built (file named by ROQ_SQLITE_DB) and answers departures from
 * QUERY_STRING with a prepared statement. Same parameters, validation, output and status lines as
 * bench/naive-cgi.ts, so the two, and roq.cgi with format=json, answer the same URL with the same body.
 *
 * better-sqlite3 is a native addon: the bundle (dist/sqlite.cgi) leaves it external, and the require resolves from
 * the repository's node_modules because dist/ lies inside the repository.
 */
import { serveJson } from './cgi-shell.js';
import { openSqliteQueries } from './sqlite.js';

function answer(): unknown {
  const raw = Object.fromEntries(new URLSearchParams(process.env.QUERY_STRING ?? ''));
  delete raw.format;
  const dbPath = process.env.ROQ_SQLITE_DB;
  if (!dbPath) throw new Error('ROQ_SQLITE_DB is not set: it must name the database bench/sqlite.ts built');
  const db = openSqliteQueries(dbPath);
  return { query: 'departures', rows: db.departures(raw) };
}

serveJson(answer);
