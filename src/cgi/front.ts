/**
 * The web front end driven by the schemas: every query of the app at /cgi-bin/roq-cgi/QUERY (PATH_INFO) or with
 * a `query=` field, answered as an HTML page (the app's template for the query, else the generic page: a form
 * generated from the parameters and a table of the fields), or as format=json or format=csv. Without a query
 * named, the home page lists the app's queries with their descriptions — unless the app's home is the departure
 * board (the default app), which page.ts serves as before.
 *
 * Parameters are validated against the spec of the query asked (page.askOutcome), before the daemon is contacted,
 * so an error names that query's parameters and no other's. Every value shown passes through the template engine's
 * escaping, and errors reach visitors as page.forVisitor words them (no run directories or admin commands).
 */
import { RoqError } from '../errors.js';
import { QUERY_SPECS } from '../generated/queries.js';
import { formParams, querySpecOf } from '../params.js';
import { encodeParams } from '../protocol.js';
import frontTemplate from '../../templates/front.html';
import { APP_TEMPLATES, APP_TITLE } from './app-templates.js';
import { toCsv } from './csv.js';
import type { CgiSettings } from './env.js';
import { inputOf } from './form.js';
import {
  askOutcome,
  forVisitor,
  headersFor,
  pageError,
  renderJson,
  type CgiResponse,
  type Outcome,
  type PageError,
} from './page.js';
import { resultsOf } from './results.js';
import { formatOf, namedQuery, type Format } from './route.js';
import { appPartials, renderRoqPage } from './partials.js';
import { compileTemplate } from './template.js';
import { errorHeading } from './view.js';

type Env = Record<string, string | undefined>;

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
    title: spec ? `${spec.name} · ${APP_TITLE}` : APP_TITLE,
    app: APP_TITLE,
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
  if (outcome.kind === 'rows') view.results = resultsOf(outcome.fields, outcome.rows, outcome.generation);
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
  if (format === 'json') return renderJson(outcome);
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
  const options = { file: `templates/${query}.html`, partials: appPartials(APP_TEMPLATES) };
  return compileTemplate(APP_TEMPLATES[query]!, options)(view);
}

/**
 * Answers a request that frontAnswers accepted. RoqErrors (a bad parameter, an unknown query, the daemon down)
 * become error pages in the format asked; anything else is thrown for the caller's 500. The outcome comes back
 * too, for the HTTP caching of answers (http-cache.ts).
 */
export async function answerFront(
  env: Env,
  form: Record<string, string>,
  settings: CgiSettings,
  log: (text: string) => void,
): Promise<{ response: CgiResponse; outcome: Outcome }> {
  const query = namedQuery(env, form);
  const format = formatOf(form);
  let outcome: Outcome = { kind: 'form' };
  try {
    if (query !== '') {
      const spec = querySpecOf(QUERY_SPECS, query);
      const raw = formParams(spec, form);
      // An HTML visit without parameters shows the empty form, unless the query needs none.
      const formOnly = format === 'html' && Object.keys(raw).length === 0 && spec.params.some((p) => p.required);
      if (!formOnly) outcome = await askOutcome(spec.name, raw, settings.runDir, settings.timeoutMs);
    } else if (format !== 'html') {
      querySpecOf(QUERY_SPECS, ''); // no query named: ROQ_QUERY_UNKNOWN, listing them
    }
  } catch (e) {
    if (!(e instanceof RoqError)) throw e;
    outcome = { kind: 'error', error: pageError(e) };
  }
  outcome = visible(outcome, log);
  return { response: respond(query, outcome, form, format, settings), outcome };
}

/**
 * The front end's error page (or JSON, or CSV text) for an error met before a query could be asked — a method
 * other than GET, HEAD or POST, a broken %-escape, too many fields: in the app's own words and look, not the
 * board's. `form` is what could be read of the request (empty when reading it failed).
 */
export function frontError(
  env: Env,
  form: Record<string, string>,
  error: PageError,
  settings: CgiSettings,
  log: (text: string) => void,
): CgiResponse {
  return respond(namedQuery(env, form), visible({ kind: 'error', error }, log), form, formatOf(form), settings);
}

/** What a visitor may see: the catalog's plain sentence where the message is for the admin (see page.forVisitor). */
function visible(outcome: Outcome, log: (text: string) => void): Outcome {
  if (outcome.kind !== 'error') return outcome;
  const { error, internal } = forVisitor(outcome.error);
  if (internal) log(`roq.cgi: ${internal}\n`);
  return { kind: 'error', error };
}
