/**
 * What a web request asks for and what the page shows: choose the query from the form fields, validate its
 * parameters here (a bad value never reaches the daemon), ask the daemon, and render the outcome as the HTML page
 * or, for format=json, as JSON. Everything shown passes through the template engine, which escapes it.
 */
import { ask } from '../client.js';
import { CATALOG, isErrorCode, RoqError, roqError } from '../errors.js';
import { QUERY_SPECS } from '../generated/queries.js';
import { expectedForm, parseParams } from '../params.js';
import { encodeParams, encodeRequest, MAX_REQUEST_BYTES, rowsToObjects, type Cell, type Field } from '../protocol.js';
import pageTemplate from '../../templates/page.html';
import { renderTemplate } from './template.js';
import { pageView } from './view.js';
import { boardPage, singleStationLocation } from './board.js';

export interface PageError {
  status: number;
  code: string;
  message: string;
  param?: string;
}

/** What one request came to: the bare form, an answer's rows, or an error. */
export type Outcome =
  | { kind: 'form' }
  | { kind: 'rows'; query: string; fields: Field[]; rows: Cell[][]; generation: number }
  | { kind: 'error'; error: PageError }
  /** A station search with one match: straight to its board. */
  | { kind: 'redirect'; location: string };

export interface CgiResponse {
  status: number;
  headers: [string, string][];
  body: string;
}

/**
 * The query a form asks for: the one `query` names; else with `stop` the passenger's board for a page and the
 * departures API for JSON; else `q` present → stops; else none (the empty form).
 * Only the query's own parameters are picked; the page's other fields (format, the buttons) are not parameters.
 */
export function chooseQuery(form: Record<string, string>, json = false): { query: string; raw: Record<string, string> } | undefined {
  const query = form.query ? form.query : 'stop' in form ? (json ? 'departures' : 'board') : 'q' in form ? 'stops' : undefined;
  if (query === undefined) return undefined;
  const spec = Object.hasOwn(QUERY_SPECS, query) ? QUERY_SPECS[query] : undefined;
  if (!spec) throw roqError('ROQ_QUERY_UNKNOWN', { query: query.slice(0, 40), known: Object.keys(QUERY_SPECS).join(', ') });
  const raw: Record<string, string> = {};
  for (const p of spec.params) {
    const value = form[p.name];
    if (value !== undefined && value !== '') raw[p.name] = value; // empty counts as missing, as in parseParams
  }
  return { query, raw };
}

export function pageError(e: RoqError): PageError {
  return { status: e.status, code: e.code, message: e.message, param: e.param };
}

/**
 * Answers a form: validates the chosen query's parameters (throwing the RoqError that names the bad one, before
 * anything is sent), then asks the daemon on runDir. Daemon errors and error answers become an error outcome with
 * the catalog's status; unexpected failures are thrown for the caller's 500.
 */
export async function answerForm(form: Record<string, string>, runDir: string, timeoutMs: number, json: boolean, now?: number): Promise<Outcome> {
  const chosen = chooseQuery(form, json);
  if (!chosen) {
    if (!json) return { kind: 'form' };
    const stop = QUERY_SPECS.departures?.params.find((p) => p.name === 'stop');
    throw roqError('ROQ_PARAM_MISSING', { param: 'stop', expected: stop ? expectedForm(stop) : 'a stop_id' });
  }
  if (chosen.query === 'board' && now !== undefined && !chosen.raw.now) chosen.raw.now = String(now);
  const outcome = await askQuery(chosen.query, chosen.raw, runDir, timeoutMs);
  if (outcome.kind === 'rows' && !json && chosen.query === 'stops') {
    const location = singleStationLocation(rowsToObjects(outcome.fields, outcome.rows), '');
    if (location) return { kind: 'redirect', location };
  }
  return outcome;
}

/**
 * Validates raw parameters against the query's spec (throwing the RoqError that names the bad one), then asks the
 * daemon. Error answers become an error outcome with the catalog's status.
 */
export async function askQuery(query: string, raw: Record<string, string>, runDir: string, timeoutMs: number): Promise<Outcome> {
  parseParams(query, QUERY_SPECS[query]!.params, raw);
  // Long non-ASCII values can pass parseParams and still not fit one atomic request line once %-encoded.
  try {
    encodeRequest({ kind: 'query', pid: 0x7fffffff, token: 'x'.repeat(32), query, params: raw });
  } catch {
    throw roqError('ROQ_REQUEST_TOO_LARGE', { size: `${Buffer.byteLength(encodeParams(raw))} bytes of parameters`, max: `${MAX_REQUEST_BYTES - 64} bytes` });
  }
  const answer = await ask(runDir, query, raw, { timeoutMs });
  if (answer.status === 'ok') return { kind: 'rows', query, fields: answer.fields, rows: answer.rows, generation: answer.generation };
  const status = isErrorCode(answer.code) ? CATALOG[answer.code].status : 500;
  return { kind: 'error', error: { status, code: answer.code, message: answer.message, param: answer.param } };
}

const REASONS: Record<number, string> = {
  200: 'OK',
  303: 'See Other',
  400: 'Bad Request',
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
  ['Content-Security-Policy', "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"],
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

export function renderJson(outcome: Outcome): CgiResponse {
  const status = outcome.kind === 'error' ? outcome.error.status : 200;
  let body: string;
  if (outcome.kind === 'error') {
    const { code, message, param } = outcome.error;
    body = safeJson({ error: { code, message, param } });
  } else if (outcome.kind === 'rows') {
    body = safeJson({ query: outcome.query, rows: rowsToObjects(outcome.fields, outcome.rows) });
  } else {
    body = safeJson({ query: null, rows: [] });
  }
  return { status, headers: headersFor(status, 'application/json; charset=utf-8'), body: body + '\n' };
}

export function renderHtml(outcome: Outcome, form: Record<string, string>, scriptName: string, now = new Date()): CgiResponse {
  if (outcome.kind === 'redirect') return { status: 303, headers: [['Location', scriptName + outcome.location], ...headersFor(303, 'text/plain; charset=utf-8')], body: 'See the board of the one station found.\n' };
  const status = outcome.kind === 'error' ? outcome.error.status : 200;
  // The raw departures table keeps the generic page; everything a passenger sees is the board's (src/cgi/board.ts).
  const raw = outcome.kind === 'rows' ? outcome.query === 'departures' : form.query === 'departures';
  if (!raw) return { status, headers: headersFor(status, 'text/html; charset=utf-8'), body: boardPage(outcome, form, scriptName) };
  // One page per process: the template is parsed where it is used, once.
  return { status, headers: headersFor(status, 'text/html; charset=utf-8'), body: renderTemplate(pageTemplate, pageView(outcome, form, scriptName, now)) };
}
