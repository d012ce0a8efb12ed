/**
 * One web request, from its CGI environment to the response: method, form (query string, and body for POST),
 * validation, the query, the page or JSON or CSV, ETag and 304. It runs in a daemon's worker (web.ts), which hands
 * it the environment and body the relay forwarded and a way to ask queries of the request's generation; it holds
 * no state of its own, and is synchronous, since a worker serves its jobs without returning to an event loop.
 */
import { RoqError, roqError } from '../errors.js';
import { cgiSettings, readForm, requestMethod, type CgiSettings, type Method } from './env.js';
import { answerFront, frontError } from './front.js';
import {
  forVisitor,
  pageError,
  renderJson,
  type Ask,
  type CgiResponse,
  type Outcome,
  type PageError,
  visibleOutcome,
} from './outcome.js';
import { pageAsk, renderPage, type AppPageEntry, type PageRequest } from './pages.js';
import { healthResponse, isHealthCheck } from './health.js';
import { withHttpCaching } from './http-cache.js';
import { namedQuery, pageAnswering } from './route.js';

export type Env = Record<string, string | undefined>;

/** Where a message for the admin goes (the worker reports it in the daemon's log); visitors never see it. */
export type AdminLog = (text: string) => void;

/**
 * The response of an app page for an outcome. An error whose message is for the admin only is shown to the visitor
 * (page and JSON alike: same code, plain message) as the catalog's plain sentence, and logged in full.
 */
export function render(entry: AppPageEntry, outcome: Outcome, request: PageRequest, log: AdminLog): CgiResponse {
  const shown = visibleOutcome(outcome, log);
  return request.json ? renderJson(shown) : renderPage(entry, shown, request);
}

/**
 * The 500 response for a failure nobody foresaw, in the look of the part that would have answered; the details go
 * to the admin's log.
 */
export function internalError(e: unknown, env: Env, json: boolean, settings: CgiSettings, log: AdminLog): CgiResponse {
  log((e as Error)?.stack ?? String(e));
  const err = roqError('ROQ_CGI_INTERNAL', { detail: (e as Error)?.name ?? 'error' });
  try {
    return errorResponse(pageError(err), env, json ? { format: 'json' } : {}, settings, () => undefined);
  } catch {
    return plainInternalError(err);
  }
}

/** The last resort when even an error page cannot be rendered: the visitor's sentence as plain text. */
function plainInternalError(err: RoqError): CgiResponse {
  return {
    status: 500,
    headers: [
      ['Content-Type', 'text/plain; charset=utf-8'],
      ['Cache-Control', 'no-store'],
    ],
    body: forVisitor(pageError(err)).error.message + '\n',
  };
}

/** Whether the client asked for JSON, looked up without failing: error responses need to know it too. */
export function wantsJson(form: Record<string, string> | undefined, env: Env): boolean {
  if (form) return form.format === 'json';
  return /(?:^|&)format=json(?:&|$)/.test(env.QUERY_STRING ?? '');
}

/** What a request came to: the response, whether it was HEAD (no body), and the query it named, if any. */
export interface Handled {
  response: CgiResponse;
  head: boolean;
  query: string;
}

/**
 * Answers one request. Every path ends in a response: RoqErrors become error pages (or JSON errors) with their
 * status, anything else the 500 page, its stack given to `log`.
 */
export function handleRequest(env: Env, body: string, ask: Ask, log: AdminLog): Handled {
  const settings = cgiSettings(env);
  let method: Method = 'GET';
  let form: Record<string, string> | undefined;
  let query = '';
  const done = (response: CgiResponse): Handled => ({ response, head: method === 'HEAD', query });
  try {
    method = requestMethod(env);
    if (isHealthCheck(env)) return done(healthResponse(ask));
    form = readForm(env, method, body);
    const post = method === 'POST';
    const ifNoneMatch = post ? undefined : env.HTTP_IF_NONE_MATCH;
    query = namedQuery(env, form);
    const entry = pageAnswering(env, form);
    if (!entry) {
      const { response, outcome } = answerFront(env, form, settings, ask, log);
      const data = form.format === 'json' || form.format === 'csv';
      return done(withHttpCaching(response, outcome, { ...form, query }, data, ifNoneMatch, post));
    }
    // A query named by the path reaches the page as the `query` field, as it would from a form.
    if (query !== '') form = { ...form, query };
    const request = pageRequest(form, env, settings);
    const outcome = answerPage(entry, request, ask);
    if (outcome.kind === 'rows' || (outcome.kind === 'error' && outcome.query)) query = outcome.query ?? query;
    const response = render(entry, outcome, request, log);
    return done(withHttpCaching(response, outcome, form, request.json, ifNoneMatch, post));
  } catch (e) {
    return done(failed(e, env, form, settings, log));
  }
}

function pageRequest(form: Record<string, string>, env: Env, settings: CgiSettings): PageRequest {
  return {
    form,
    json: wantsJson(form, env),
    script: settings.scriptName,
    ...(settings.now !== undefined ? { now: settings.now } : {}),
  };
}

/** A page's outcome; a RoqError it throws (a form it cannot use) is an error outcome like any other. */
function answerPage(entry: AppPageEntry, request: PageRequest, ask: Ask): Outcome {
  try {
    return entry.page.answer(request, pageAsk(ask));
  } catch (e) {
    if (!(e instanceof RoqError)) throw e;
    return { kind: 'error', error: pageError(e) };
  }
}

/**
 * The response to an error thrown while handling a request, often before it was routed (a refused method, a broken
 * form): the error page of the part that would have answered it, so every app's error pages are its own.
 */
function failed(
  e: unknown,
  env: Env,
  form: Record<string, string> | undefined,
  settings: CgiSettings,
  log: AdminLog,
): CgiResponse {
  const json = wantsJson(form, env);
  const known = form ?? (json ? { format: 'json' } : {});
  if (!(e instanceof RoqError)) return internalError(e, env, json, settings, log);
  try {
    return errorResponse(pageError(e), env, known, settings, log);
  } catch (again) {
    log((again as Error)?.stack ?? String(again));
    return plainInternalError(roqError('ROQ_CGI_INTERNAL', { detail: (again as Error)?.name ?? 'error' }));
  }
}

/** An error's response from the page that would have answered the request, else from the generic front end. */
export function errorResponse(
  error: PageError,
  env: Env,
  form: Record<string, string>,
  settings: CgiSettings,
  log: AdminLog,
): CgiResponse {
  const entry = pageAnswering(env, form);
  if (entry) return render(entry, { kind: 'error', error }, pageRequest(form, env, settings), log);
  return frontError(env, form, error, settings, log);
}
