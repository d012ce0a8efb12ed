/**
 * What one web request came to, whichever part answered it (the generic front end, front.ts, or an app's page
 * module, pages.ts): the outcome (rows, an error, the bare form, a redirect), how a page asks a query (its
 * parameters validated first: a bad value never reaches the query), errors in a visitor's words, and the parts of
 * every response (status line, headers, JSON).
 */
import { errorOfAnswer, type ErrorAnswer } from '../client.js';
import { type RoqError, visitorMessage } from '../errors.js';
import { QUERY_SPECS } from '../app/queries.js';
import { paramProblems } from '../params.js';
import { rowsToObjects, type Answer, type Cell, type DateRange, type Field } from '../protocol.js';

export interface PageError {
  status: number;
  code: string;
  message: string;
  param?: string;
  /** Every parameter at fault, when the form had several (the first is `param`). */
  problems?: { param: string; message: string }[];
}

/** What one request came to: the bare form, an answer's rows, or an error. */
export type Outcome =
  | { kind: 'form'; prompt?: string }
  | {
      kind: 'rows';
      query: string;
      fields: Field[];
      rows: Cell[][];
      generation: number;
      /** the generation's content hash */ hash?: string;
      dates?: DateRange;
      notice?: string;
    }
  | {
      kind: 'error';
      error: PageError;
      /** the query asked, when the error is its answer (the access log names it) */ query?: string;
      /** a page's own words for what the error is about (a record's name) */ about?: string;
    }
  /** A 303 to `location` (relative to the program's URL): a search with one match going straight to it. */
  | { kind: 'redirect'; location: string };

export interface CgiResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * How a page asks a query: in the daemon's worker, a call on the generation the request was read under (the
 * worker's answerFor); `.ping` (protocol.PING_QUERY) answers that generation's id and hash with no rows.
 */
export type Ask = (query: string, params: Record<string, string>) => Answer;

export function pageError(e: RoqError): PageError {
  return { status: e.status, code: e.code, message: e.message, param: e.param };
}

/** All of a form's problems as one error outcome: the first names the parameter, the page marks every one. */
function problemsError(problems: RoqError[]): PageError {
  const first = pageError(problems[0]!);
  return problems.length === 1
    ? first
    : { ...first, problems: problems.map((p) => ({ param: p.param ?? '', message: p.message })) };
}

/**
 * The error as a web visitor may see it: where the catalog's message is for the admin (run directories, errno,
 * commands, a daemon's failure detail), the catalog's plain sentence instead, and the full message returned as
 * `internal` for the web server's error log. Codes this release does not know are treated the same way.
 */
export function forVisitor(e: PageError): { error: PageError; internal?: string } {
  const plain = visitorMessage(e.code, e.message);
  return plain === e.message ? { error: e } : { error: { ...e, message: plain }, internal: `${e.code}: ${e.message}` };
}

/**
 * The outcome as a visitor may see it: an error whose message is for the admin becomes the catalog's plain
 * sentence, and the full message goes to `log`. App page modules and the front end both render through it.
 */
export function visibleOutcome(outcome: Outcome, log: (text: string) => void): Outcome {
  if (outcome.kind !== 'error') return outcome;
  const { error, internal } = forVisitor(outcome.error);
  if (internal) log(internal);
  return { ...outcome, error };
}

/**
 * The one way a page asks a query (the generic front end's and every app page module's): validates the
 * parameters, every one at fault becoming part of one error outcome before the query runs; asks it; and returns
 * the answer's rows, or an error answer as an error outcome with the catalog's status.
 */
export function askOutcome(query: string, raw: Record<string, string>, ask: Ask): Outcome {
  const problems = paramProblems(query, QUERY_SPECS[query]!.params, raw);
  if (problems.length > 0) return { kind: 'error', error: problemsError(problems), query };
  const answer = ask(query, raw);
  if (answer.status !== 'ok') return { kind: 'error', error: answerPageError(answer), query };
  const { fields, rows, generation, hash, dates } = answer;
  return { kind: 'rows', query, fields, rows, generation, ...(hash ? { hash } : {}), ...(dates ? { dates } : {}) };
}

/** An error answer as a page's error, its code as the daemon sent it (see client.errorOfAnswer). */
export function answerPageError(a: ErrorAnswer): PageError {
  const e = errorOfAnswer(a);
  return { ...pageError(e), code: e.answered };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  303: 'See Other',
  304: 'Not Modified',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

export function statusLine(status: number): string {
  return `${status} ${REASONS[status] ?? 'Error'}`;
}

// The page needs no script, no frames and no foreign resources; saying so makes any injection that slipped past
// escaping inert as well.
const SECURITY_HEADERS: [string, string][] = [
  [
    'Content-Security-Policy',
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  ],
  ['X-Content-Type-Options', 'nosniff'],
];

export function headersFor(status: number, contentType: string): [string, string][] {
  const h: [string, string][] = [['Content-Type', contentType], ['Cache-Control', 'no-store'], ...SECURITY_HEADERS];
  if (status === 503) h.push(['Retry-After', '5']);
  if (status === 405) h.push(['Allow', 'GET, HEAD, POST']);
  return h;
}

const HTML_SIGNIFICANT = /[<>&]/g;

/**
 * JSON with <, > and & written as \u escapes: the same data to any JSON parser, but no markup even if something
 * were to read the body as HTML despite its type (it is also sent with nosniff and a CSP that allows nothing).
 */
function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(HTML_SIGNIFICANT, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
}

/**
 * The days the answering generation's data covers, as a header: JSON clients learn the range without a change
 * to the body, which stays exactly `{query, rows}` (docs/QUERIES.md; the worked cases compare it byte for byte).
 */
export function datesHeader(outcome: Outcome): [string, string][] {
  return outcome.kind === 'rows' && outcome.dates
    ? [['Roq-Data-Dates', `${outcome.dates.start}/${outcome.dates.end}`]]
    : [];
}

/**
 * `next`: when a page of the answer was asked for (the generic front end's cursor), the URL of the next page, or
 * null on the last.
 */
export function renderJson(outcome: Outcome, next?: string | null): CgiResponse {
  const status = outcome.kind === 'error' ? outcome.error.status : 200;
  let body: string;
  if (outcome.kind === 'error') {
    const { code, message, param } = outcome.error;
    body = safeJson({ error: { code, message, param } });
  } else if (outcome.kind === 'rows') {
    const rows = rowsToObjects(outcome.fields, outcome.rows);
    body = safeJson(next === undefined ? { query: outcome.query, rows } : { query: outcome.query, rows, next });
  } else {
    body = safeJson({ query: null, rows: [] });
  }
  return {
    status,
    headers: [...headersFor(status, 'application/json; charset=utf-8'), ...datesHeader(outcome)],
    body: body + '\n',
  };
}
