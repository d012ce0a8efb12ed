/**
 * Which part of the web front end answers a request: one of the app's page modules (pages.ts), for the queries
 * it names in HTML and JSON, or the schema-driven front end (front.ts) for everything else. Decided from the path
 * and the form alone.
 */
import { pageFor, type AppPageEntry } from './pages.js';

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
 * The app's page module that answers the request, or undefined when the generic front end does: a query a page
 * names (the home page: '') in HTML or JSON. Every query's CSV is the front end's, and so is the error page for a
 * format none answers.
 */
export function pageAnswering(env: Env, form: Record<string, string>): AppPageEntry | undefined {
  if (unknownFormat(form) !== undefined || formatOf(form) === 'csv') return undefined;
  return pageFor(namedQuery(env, form));
}
