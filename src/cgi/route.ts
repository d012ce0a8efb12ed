/**
 * Which part of the CGI program answers a request: the departure board (page.ts: its pages and its JSON API,
 * docs/QUERIES.md) or the schema-driven front end (front.ts). Decided from the path and the form alone, so that a
 * request for the board's JSON never loads the front end's modules (handler.ts loads them on demand): the program
 * starts once per request, and every module it initializes is paid for on every request.
 */
import { BOARD_QUERIES } from './app-templates.js';

export type Format = 'html' | 'json' | 'csv';
type Env = Record<string, string | undefined>;

/** The query a request names: the first segment of PATH_INFO, else the `query` field; '' when none. */
export function namedQuery(env: Env, form: Record<string, string>): string {
  const path = (env.PATH_INFO ?? '').replace(/^\/+/, '').split('/')[0] ?? '';
  return path || form.query || '';
}

export function formatOf(form: Record<string, string>): Format {
  return form.format === 'json' ? 'json' : form.format === 'csv' ? 'csv' : 'html';
}

/** The format asked when it is none of html, json and csv (answered with a 400 page, not silently as HTML). */
export function unknownFormat(form: Record<string, string>): string | undefined {
  const f = form.format;
  return f === undefined || f === '' || f === 'html' || f === 'json' || f === 'csv' ? undefined : f;
}

/**
 * Whether the front end answers the request rather than the departure board (page.ts): any named query except
 * the board's own queries as HTML or JSON (the board's pages and API, docs/QUERIES.md), and the home page when the
 * app has no board. Every query's CSV is the front end's, and so is the error page for a format none answers.
 */
export function frontAnswers(env: Env, form: Record<string, string>): boolean {
  const query = namedQuery(env, form);
  if (unknownFormat(form) !== undefined) return true;
  if (query === '') return BOARD_QUERIES.length === 0;
  return !(formatOf(form) !== 'csv' && BOARD_QUERIES.includes(query));
}
