/**
 * The web front end driven by the schemas: every query of the app at /cgi-bin/roq-relay/QUERY (PATH_INFO) or with
 * a `query=` field, answered as an HTML page (the app's template for the query, else the generic page: a form
 * generated from the parameters and a table of the fields), or as format=json or format=csv. Without a query
 * named, the home page lists the app's queries with their descriptions — unless one of the app's page modules
 * answers the home page (pages.ts).
 *
 * Parameters are validated against the spec of the query asked (outcome.askOutcome), before the query runs,
 * so an error names that query's parameters and no other's. Every value shown passes through the template engine's
 * escaping, and errors reach visitors as outcome.forVisitor words them (no run directories or admin commands).
 */
import { RoqError, roqError } from '../errors.js';
import { QUERY_SPECS, type QuerySpec } from '../app/queries.js';
import { formParams, querySpecOf } from '../params.js';
import { encodeParams } from '../protocol.js';
import frontTemplate from './templates/front.html';
import { APP_INFO } from '../app/app.js';
import { APP_TEMPLATES } from '../app/pages.js';
import { toCsv } from './csv.js';
import type { CgiSettings } from './env.js';
import { inputOf } from './form.js';
import {
  askOutcome,
  visibleOutcome,
  type Ask,
  headersFor,
  pageError,
  renderJson,
  type CgiResponse,
  type Outcome,
  type PageError,
} from './outcome.js';
import { cursorOf, pageOf, resultsOf } from './results.js';
import { formatOf, namedQuery, unknownFormat, type Format } from './route.js';
import { renderRoqPage } from './partials.js';
import { renderAppTemplate } from './pages.js';
import { errorHeading } from './error-view.js';

type Env = Record<string, string | undefined>;

/** The fields of the generic page that are not a query's parameters. */
const PAGE_FIELDS = new Set(['query', 'format', 'cursor']);

const decodeName = (raw: string): string => {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw; // readForm has refused a broken %-escape already
  }
};

/**
 * The rule for parameters, the same as the CLI's: a name the query does not have is refused (a typo such as
 * `stpo=` is an error, not a silent default), and so is a name given twice in the query string (which value
 * would count?). Throws ROQ_PARAM_UNKNOWN or ROQ_PARAM_REPEATED naming the parameter.
 */
function checkFields(spec: QuerySpec, form: Record<string, string>, queryString: string): void {
  const unknown = Object.keys(form).find((k) => !PAGE_FIELDS.has(k) && !spec.params.some((p) => p.name === k));
  if (unknown !== undefined) throw roqError('ROQ_PARAM_UNKNOWN', { param: unknown.slice(0, 40), query: spec.name });
  const seen = new Set<string>();
  for (const pair of queryString.split('&')) {
    const name = decodeName(pair.split('=')[0]!);
    if (name !== '' && seen.has(name)) throw roqError('ROQ_PARAM_REPEATED', { param: name.slice(0, 40) });
    seen.add(name);
  }
}

/** The URL of the page of an answer that starts at `cursor`, in the format asked (html: none said). */
function pageLink(script: string, spec: QuerySpec, form: Record<string, string>, cursor: number, format: Format) {
  const fields: Record<string, string> = { ...formParams(spec, form) };
  if (format !== 'html') fields.format = format;
  if (cursor || format !== 'html') fields.cursor = String(cursor);
  const search = encodeParams(fields);
  return `${script}/${spec.name}${search ? `?${search}` : ''}`;
}

/** The view of the generic page (and of an app's template for a query): index, form, error, results. */
export function frontView(
  query: string,
  outcome: Outcome,
  form: Record<string, string>,
  script: string,
): Record<string, unknown> {
  const spec = Object.hasOwn(QUERY_SPECS, query) ? QUERY_SPECS[query] : undefined;
  const error: PageError | undefined = outcome.kind === 'error' ? outcome.error : undefined;
  const view: Record<string, unknown> = {
    title: spec ? `${spec.name} · ${APP_INFO.title}` : APP_INFO.title,
    app: APP_INFO.title,
    home: `${script}/`,
    queries: Object.values(QUERY_SPECS).map((q) => ({
      name: q.name,
      description: q.description,
      href: `${script}/${q.name}`,
      current: q.name === query,
    })),
  };
  // The generic page shows the code of every error, 5xx too (templates/_error.html shows it where showCode is set).
  const heading = error && errorHeading(error.status, 'The service is not available right now');
  if (error) view.error = { ...error, heading, showCode: true };
  if (spec) {
    const raw = formParams(spec, form);
    // Every parameter at fault is marked, as the error lists them all (the first is error.param).
    const invalid = error?.problems?.map((p) => p.param) ?? (error?.param ? [error.param] : []);
    const link = (format: string) => `${script}/${spec.name}?${encodeParams({ ...raw, format })}`;
    view.query = {
      name: spec.name,
      description: spec.description,
      action: `${script}/${spec.name}`,
      inputs: spec.params.map((p) => inputOf(p, form, invalid)),
      json: link('json'),
      csv: link('csv'),
    };
  }
  if (outcome.kind === 'rows' && spec) {
    const page = pageOf(outcome.rows, cursorOf(form), (c) => pageLink(script, spec, form, c, 'html'), spec.limit);
    view.results = {
      ...resultsOf(outcome.fields, page.rows, outcome.generation, spec?.fieldText),
      // A page of one row of a longer answer is still a row of a table, not the answer's record.
      ...(page.paging ? { paging: page.paging, one: false } : {}),
    };
  }
  return view;
}

function respond(
  query: string,
  outcome: Outcome,
  form: Record<string, string>,
  format: Format,
  settings: CgiSettings,
): CgiResponse {
  const status = outcome.kind === 'error' ? outcome.error.status : 200;
  // JSON and CSV carry the whole answer, or with a cursor the page the HTML shows (and JSON the next page's URL).
  let next: string | null | undefined;
  if (outcome.kind === 'rows' && form.cursor !== undefined && format !== 'html') {
    const spec = querySpecOf(QUERY_SPECS, query);
    const link = (c: number) => pageLink(settings.scriptName, spec, form, c, format);
    const page = pageOf(outcome.rows, cursorOf(form), link, spec.limit);
    outcome = { ...outcome, rows: [...page.rows] };
    next = page.paging?.next ?? null;
  }
  if (format === 'json') return renderJson(outcome, next);
  if (format === 'csv') {
    if (outcome.kind !== 'rows') {
      const message = outcome.kind === 'error' ? `${outcome.error.message} [${outcome.error.code}]` : 'no query';
      return { status, headers: headersFor(status, 'text/plain; charset=utf-8'), body: message + '\n' };
    }
    const headers = headersFor(200, 'text/csv; charset=utf-8; header=present');
    headers.push(['Content-Disposition', `inline; filename="${query}.csv"`]);
    return { status, headers, body: toCsv(outcome.fields, outcome.rows) };
  }
  return {
    status,
    headers: headersFor(status, 'text/html; charset=utf-8'),
    body: renderHtmlPage(query, frontView(query, outcome, form, settings.scriptName)),
  };
}

/**
 * The app's own template for the query (templates/QUERY.html, with the app's partials and roq's), else the
 * generic page. Only a query's name picks a template: `_NAME` is a partial, never a page.
 */
function renderHtmlPage(query: string, view: Record<string, unknown>): string {
  if (!Object.hasOwn(QUERY_SPECS, query) || !Object.hasOwn(APP_TEMPLATES, query))
    return renderRoqPage('front.html', frontTemplate, view);
  return renderAppTemplate(query, view);
}

/**
 * Answers a request that frontAnswers accepted. RoqErrors (a bad parameter, an unknown query, the daemon down)
 * become error pages in the format asked; anything else is thrown for the caller's 500. The outcome comes back
 * too, for the HTTP caching of answers (http-cache.ts).
 */
export function answerFront(
  env: Env,
  form: Record<string, string>,
  settings: CgiSettings,
  ask: Ask,
  log: (text: string) => void,
): { response: CgiResponse; outcome: Outcome } {
  const query = namedQuery(env, form);
  const format = formatOf(form);
  let outcome: Outcome = { kind: 'form' };
  try {
    const asked = unknownFormat(form);
    if (asked !== undefined) throw roqError('ROQ_FORMAT_UNKNOWN', { format: asked.slice(0, 20) });
    if (query !== '') {
      const spec = querySpecOf(QUERY_SPECS, query);
      checkFields(spec, form, env.QUERY_STRING ?? '');
      const raw = formParams(spec, form);
      // An HTML visit without parameters shows the empty form, unless the query needs none.
      const formOnly = format === 'html' && Object.keys(raw).length === 0 && spec.params.some((p) => p.required);
      if (!formOnly) outcome = askOutcome(spec.name, raw, ask);
    } else if (format !== 'html') {
      querySpecOf(QUERY_SPECS, ''); // no query named: ROQ_QUERY_UNKNOWN, listing them
    }
  } catch (e) {
    if (!(e instanceof RoqError)) throw e;
    outcome = { kind: 'error', error: pageError(e) };
  }
  outcome = visibleOutcome(outcome, log);
  return { response: respond(query, outcome, form, format, settings), outcome };
}

/**
 * The front end's error page (or JSON, or CSV text) for an error met before a query could be asked — a method
 * other than GET, HEAD or POST, a broken %-escape, too many fields: in the generic page's look, as the rest of
 * what the front end answers. `form` is what could be read of the request (empty when reading it failed).
 */
export function frontError(
  env: Env,
  form: Record<string, string>,
  error: PageError,
  settings: CgiSettings,
  log: (text: string) => void,
): CgiResponse {
  return respond(namedQuery(env, form), visibleOutcome({ kind: 'error', error }, log), form, formatOf(form), settings);
}
