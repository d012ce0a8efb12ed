/**
 * One web request, from its CGI environment to the response to print: method, form (query string, and body for
 * POST), validation, the daemon's answer, the page or JSON. No process state: main.ts runs it once per process,
 * and the fuzzer (bench/fuzz.ts, test/fuzz.test.ts) runs it in process many thousand times.
 */
import { RoqError, roqError } from '../errors.js';
import { utf8, writeAll } from '../sysio.js';
import { cgiSettings, readBody, readForm, requestMethod, type CgiSettings, type Method } from './env.js';
import { answerForm, forVisitor, pageError, renderHtml, renderJson, type CgiResponse, type Outcome } from './page.js';
import { healthResponse, isHealthCheck } from './health.js';
import { withHttpCaching } from './http-cache.js';
import { frontAnswers, namedQuery } from './route.js';

export type Env = Record<string, string | undefined>;
/** Reads the request body (CONTENT_LENGTH bytes); the default reads fd 0. */
export type BodyReader = (length: number, timeoutMs: number) => Promise<string>;

/** A line for the web server's error log (fd 2), written without creating process.stderr (see main.ts). */
export function logError(text: string): void {
  try {
    writeAll(2, utf8(text), 1000);
  } catch {
    /* nowhere to report it */
  }
}

/**
 * The response for an outcome. An error whose message is for the admin only is shown to the visitor (page and
 * JSON alike: same code, plain message) as the catalog's plain sentence, and logged in full to the web server's
 * error log.
 */
export function render(
  outcome: Outcome,
  form: Record<string, string>,
  json: boolean,
  settings: CgiSettings,
  log: (text: string) => void = logError,
): CgiResponse {
  if (outcome.kind === 'error') {
    const { error, internal } = forVisitor(outcome.error);
    if (internal) log(`roq.cgi: ${internal}\n`);
    outcome = { ...outcome, error };
  }
  return json ? renderJson(outcome) : renderHtml(outcome, form, settings.scriptName);
}

/** The 500 response for a failure nobody foresaw; the details go to stderr, which is the web server's error log. */
export function internalError(
  e: unknown,
  json: boolean,
  settings: CgiSettings,
  log: (text: string) => void = logError,
): CgiResponse {
  log(`roq.cgi: ${(e as Error)?.stack ?? String(e)}\n`);
  const err = roqError('ROQ_CGI_INTERNAL', { detail: (e as Error)?.name ?? 'error' });
  try {
    return render({ kind: 'error', error: pageError(err) }, {}, json, settings, () => undefined);
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

export async function handleRequest(
  env: Env,
  body: BodyReader = readBody,
  log?: (text: string) => void,
): Promise<{ response: CgiResponse; head: boolean }> {
  const settings = cgiSettings(env);
  let method: Method = 'GET';
  let form: Record<string, string> | undefined;
  try {
    method = requestMethod(env);
    if (isHealthCheck(env)) return { response: await healthResponse(settings), head: method === 'HEAD' };
    form = await readForm(env, method, settings.timeoutMs, body);
    const post = method === 'POST';
    const ifNoneMatch = post ? undefined : env.HTTP_IF_NONE_MATCH;
    // A query named by the path reaches the board's pages (and the ETag's parameters) as the `query` field.
    const named = namedQuery(env, form);
    if (frontAnswers(env, form)) {
      // Loaded here, not imported: the board's pages and JSON (most requests) never initialize the front end.
      const { answerFront } = await import('./front.js');
      const { response, outcome } = await answerFront(env, form, settings, log ?? logError);
      return {
        response: withHttpCaching(
          response,
          outcome,
          { ...form, query: named },
          form.format === 'json' || form.format === 'csv',
          ifNoneMatch,
          post,
        ),
        head: method === 'HEAD',
      };
    }
    if (named !== '') form = { ...form, query: named };
    const json = wantsJson(form, env);
    const outcome = await answerForm(form, settings.runDir, settings.timeoutMs, json, settings.now);
    return {
      response: withHttpCaching(render(outcome, form, json, settings, log), outcome, form, json, ifNoneMatch, post),
      head: method === 'HEAD',
    };
  } catch (e) {
    return { response: await failed(e, env, form, settings, log), head: method === 'HEAD' };
  }
}

/**
 * The response to an error thrown while handling a request, often before it was routed (a refused method, a broken
 * form): the error page of the part that would have answered it, so every app's error pages are its own and only
 * the board's requests get the board's page.
 */
async function failed(
  e: unknown,
  env: Env,
  form: Record<string, string> | undefined,
  settings: CgiSettings,
  log?: (text: string) => void,
): Promise<CgiResponse> {
  const json = wantsJson(form, env);
  const known = form ?? (json ? { format: 'json' } : {});
  if (!frontAnswers(env, known)) {
    if (!(e instanceof RoqError)) return internalError(e, json, settings, log);
    return render({ kind: 'error', error: pageError(e) }, known, json, settings, log);
  }
  const write = log ?? logError;
  if (!(e instanceof RoqError)) write(`roq.cgi: ${(e as Error)?.stack ?? String(e)}\n`);
  const error = e instanceof RoqError ? e : roqError('ROQ_CGI_INTERNAL', { detail: (e as Error)?.name ?? 'error' });
  try {
    const { frontError } = await import('./front.js');
    return frontError(env, known, pageError(error), settings, write);
  } catch (again) {
    write(`roq.cgi: ${(again as Error)?.stack ?? String(again)}\n`);
    return plainInternalError(roqError('ROQ_CGI_INTERNAL', { detail: (again as Error)?.name ?? 'error' }));
  }
}
