/**
 * roq.cgi: one web request per process (RFC 3875). It reads the CGI environment and form, validates, asks the
 * daemon through the FIFO protocol, writes one response (CGI headers, a blank line, the page) to stdout and exits.
 *
 * It starts once per request, so it imports only the protocol, the client, the error catalog, parameter
 * validation, the generated query specs and the template; and it must never hang or crash: every path ends in
 * exactly one response and process.exit, and a watchdog answers 503 should anything stall past its deadlines.
 */
import { RoqError, roqError } from '../errors.js';
import { writeAll } from '../sysio.js';
import { cgiSettings, readForm, requestMethod, type Method } from './env.js';
import { answerForm, pageError, renderHtml, renderJson, statusLine, type CgiResponse, type Outcome } from './page.js';

const settings = cgiSettings(process.env);
let responded = false;

/**
 * Writes the response to fd 1 and exits. The write is synchronous on purpose: process.stdout would be an async
 * stream (exiting before its callback cuts the page off), and creating it costs Bun about 9 ms per request. A
 * blocking pipe takes the whole text; a non-blocking one may take part of it or say EAGAIN, so writeAll loops
 * until all is written, for at most 10 s (a web server that stopped reading must not keep us forever).
 * Only the first call does anything.
 */
function respond(r: CgiResponse, head: boolean): void {
  if (responded) return;
  responded = true;
  let text = `Status: ${statusLine(r.status)}\n`;
  for (const [name, value] of r.headers) text += `${name}: ${value}\n`;
  text += '\n';
  if (!head) text += r.body;
  try {
    writeAll(1, Buffer.from(text), 10_000);
  } catch {
    // EPIPE: the web server hung up, nobody is left to answer; or it stopped reading for 10 s.
  }
  process.exit(0);
}

/** A line for the web server's error log (fd 2), written without creating process.stderr (see respond). */
function logError(text: string): void {
  try {
    writeAll(2, Buffer.from(text), 1000);
  } catch {
    /* nowhere to report it */
  }
}

function render(outcome: Outcome, form: Record<string, string>, json: boolean): CgiResponse {
  return json ? renderJson(outcome) : renderHtml(outcome, form, settings.scriptName);
}

/** The 500 response for a failure nobody foresaw; the details go to stderr, which is the web server's error log. */
function internalError(e: unknown, json: boolean): CgiResponse {
  logError(`roq.cgi: ${(e as Error)?.stack ?? String(e)}\n`);
  const err = roqError('ROQ_CGI_INTERNAL', { detail: (e as Error)?.name ?? 'error' });
  try {
    return render({ kind: 'error', error: pageError(err) }, {}, json);
  } catch {
    return { status: 500, headers: [['Content-Type', 'text/plain; charset=utf-8'], ['Cache-Control', 'no-store']], body: err.message + '\n' };
  }
}

/** Whether the client asked for JSON, looked up without failing: error responses need to know it too. */
function wantsJson(form: Record<string, string> | undefined): boolean {
  if (form) return form.format === 'json';
  return /(?:^|&)format=json(?:&|$)/.test(process.env.QUERY_STRING ?? '');
}

async function handle(): Promise<{ response: CgiResponse; head: boolean }> {
  let method: Method = 'GET';
  let form: Record<string, string> | undefined;
  try {
    method = requestMethod(process.env);
    form = await readForm(process.env, method, settings.timeoutMs);
    const json = wantsJson(form);
    return { response: render(await answerForm(form, settings.runDir, settings.timeoutMs, json), form, json), head: method === 'HEAD' };
  } catch (e) {
    const json = wantsJson(form);
    if (!(e instanceof RoqError)) return { response: internalError(e, json), head: method === 'HEAD' };
    return { response: render({ kind: 'error', error: pageError(e) }, form ?? {}, json), head: method === 'HEAD' };
  }
}

// The deadlines inside (body read, daemon answer) end every path; this only guards against a bug that stalls.
setTimeout(() => {
  logError('roq.cgi: watchdog: no response within the deadline\n');
  const e = roqError('ROQ_DAEMON_TIMEOUT', { run: settings.runDir, ms: settings.timeoutMs });
  respond(render({ kind: 'error', error: pageError(e) }, {}, wantsJson(undefined)), false);
}, 2 * settings.timeoutMs + 1000);

process.on('uncaughtException', (e) => respond(internalError(e, wantsJson(undefined)), false));
process.on('unhandledRejection', (e) => respond(internalError(e, wantsJson(undefined)), false));

handle().then(
  ({ response, head }) => respond(response, head),
  (e) => respond(internalError(e, wantsJson(undefined)), false),
);
