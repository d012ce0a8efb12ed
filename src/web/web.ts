/**
 * A web request in the daemon. The relay forwarded the CGI request (protocol.WebFields); here it becomes the
 * environment and body the handler reads, and the handler's response becomes the bytes of a whole CGI response —
 * `Status:` line, headers with Content-Length, a blank line, the body (none for HEAD) — which the caller frames
 * (web-protocol.encodeWebAnswer) and writes into the relay's FIFO. A worker answers with answerWeb; the dispatcher's
 * own answers (busy, deadline, a worker that died, the health check) come from mainThreadResponse.
 */
import { roqError } from '../errors.js';
import type { Answer } from '../protocol.js';
import { MAX_WEB_RESPONSE_BYTES, type WebFields } from '../web-protocol.js';
import { cgiSettings } from './env.js';
import { errorResponse, handleRequest, internalError, wantsJson, type Env } from './handler.js';
import { healthResponse, HEALTH_PATH } from './health.js';
import { answerPageError, pageError, statusLine, type Ask, type CgiResponse } from './outcome.js';

/** The CGI meta-variables the handler reads, from the forwarded request. */
export function webEnv(web: WebFields): Env {
  const env: Env = {
    REQUEST_METHOD: web.method || 'GET',
    SCRIPT_NAME: web.script,
    PATH_INFO: web.path,
    QUERY_STRING: web.query,
  };
  if (web.contentType) env.CONTENT_TYPE = web.contentType;
  if (web.contentLength) env.CONTENT_LENGTH = web.contentLength;
  if (web.ifNoneMatch) env.HTTP_IF_NONE_MATCH = web.ifNoneMatch;
  if (web.now) env.ROQ_NOW = web.now;
  return env;
}

/** Whether the request is the load balancers' health check (`<script>/_health`). */
export function isWebHealthCheck(web: WebFields): boolean {
  return web.path === HEALTH_PATH;
}

/** Statuses that never carry a body (RFC 9110), so no Content-Length either. */
const bodiless = (status: number) => status === 304 || status === 204 || status < 200;

/** A header value on one line whatever went into it: a line break would let it start a header of its own. */
const oneLine = (text: string) => (/[\r\n]/.test(text) ? text.replace(/[\r\n]+/g, ' ') : text);

/**
 * The CGI response's bytes. Every response with a body says its Content-Length — caches in front (mod_cache)
 * store only answers whose size they know — and HEAD keeps it while the body is left out.
 */
export function responseBytes(r: CgiResponse, head: boolean): Uint8Array {
  const body = Buffer.from(r.body, 'utf8');
  let text = `Status: ${statusLine(r.status)}\n`;
  for (const [name, value] of r.headers) text += `${name}: ${oneLine(value)}\n`;
  if (!bodiless(r.status)) text += `Content-Length: ${body.length}\n`;
  text += '\n';
  return head || bodiless(r.status) ? Buffer.from(text, 'utf8') : Buffer.concat([Buffer.from(text, 'utf8'), body]);
}

/** What a web request came to, for the worker's report and the access log. */
export interface WebResult {
  response: Uint8Array;
  status: number;
  /** The query that answered, or the one the request named; '' for the home page, the bare form and the like. */
  query: string;
  /** What the admin should see (a stack, a message hidden from the visitor), one note per line. */
  notes?: string;
}

/** Answers a web request in a worker: the handler, with `ask` running queries on the request's generation. */
export function answerWeb(web: WebFields, ask: Ask): WebResult {
  const notes: string[] = [];
  const log = (text: string) => void notes.push(text);
  const env = webEnv(web);
  const handled = handleRequest(env, web.body, ask, log);
  let status = handled.response.status;
  let response = responseBytes(handled.response, handled.head);
  if (response.length > MAX_WEB_RESPONSE_BYTES) {
    const big = new RangeError(`a response of ${response.length} bytes; at most ${MAX_WEB_RESPONSE_BYTES} fit`);
    const page = internalError(big, env, wantsJson(undefined, env), cgiSettings(env), log);
    status = page.status;
    response = responseBytes(page, handled.head);
  }
  return { response, status, query: handled.query, ...(notes.length > 0 ? { notes: notes.join('\n') } : {}) };
}

/**
 * The response the dispatcher writes itself for a web request: the health page for `/_health` (with a ping's
 * answer: the current generation and its hash), else the error page of an error answer (busy, a deadline, a
 * worker that died, a request it could not parse), JSON when the request asked for format=json. Admin details
 * are left out, as on every page (outcome.forVisitor); the dispatcher logs them.
 */
export function mainThreadResponse(web: WebFields, answer: Answer): Uint8Array {
  const env = webEnv(web);
  const head = env.REQUEST_METHOD === 'HEAD';
  if (isWebHealthCheck(web) && answer.status === 'ok')
    return responseBytes(
      healthResponse(() => answer),
      head,
    );
  const error =
    answer.status === 'ok'
      ? pageError(roqError('ROQ_CGI_INTERNAL', { detail: 'an ok answer without a page' }))
      : answerPageError(answer);
  const form: Record<string, string> = wantsJson(undefined, env) ? { format: 'json' } : {};
  const page = errorResponse(error, env, form, cgiSettings(env), () => undefined);
  return responseBytes(page, head);
}
