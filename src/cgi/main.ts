/**
 * roq.cgi: one web request per process (RFC 3875). It reads the CGI environment and form, validates, asks the
 * daemon through the FIFO protocol, writes one response (CGI headers, a blank line, the page) to stdout and exits.
 *
 * It starts once per request, so it imports only the protocol, the client, the error catalog, parameter
 * validation, the generated query specs and the template; and it must never hang or crash: every path ends in
 * exactly one response and process.exit, and a watchdog answers 503 should anything stall past its deadlines.
 */
import { roqError } from '../errors.js';
import { utf8, writeAll } from '../sysio.js';
import { cgiSettings } from './env.js';
import { handleRequest, internalError, logError, render, wantsJson } from './handler.js';
import { pageError, statusLine, type CgiResponse } from './page.js';

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
  for (const h of r.headers) text += `${h[0]}: ${h[1]}\n`;
  text += '\n';
  if (!head) text += r.body;
  try {
    writeAll(1, utf8(text), 10_000);
  } catch {
    // EPIPE: the web server hung up, nobody is left to answer; or it stopped reading for 10 s.
  }
  process.exit(0);
}

// The deadlines inside (body read, daemon answer) end every path; this only guards against a bug that stalls.
setTimeout(
  () => {
    logError('roq.cgi: watchdog: no response within the deadline\n');
    const e = roqError('ROQ_DAEMON_TIMEOUT', { run: settings.runDir, ms: settings.timeoutMs });
    respond(render({ kind: 'error', error: pageError(e) }, {}, wantsJson(undefined, process.env), settings), false);
  },
  2 * settings.timeoutMs + 1000,
);

const fail = (e: unknown) => respond(internalError(e, wantsJson(undefined, process.env), settings), false);
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

handleRequest(process.env).then(({ response, head }) => respond(response, head), fail);
