/**
 * dist/roq.cgi: the per-request program written in Node, doing what the relay (src/relay/relay.c, dist/roq-relay)
 * does in C: read the CGI environment and the body, forward them to the daemon as one web request (protocol
 * version 3), and copy the daemon's proven answer — a whole CGI response, rendered by a worker — to stdout. It
 * renders nothing. It is the relay for a machine without a C compiler, and the tests' second implementation of
 * the relay's side of the protocol; Node's start-up (~40 ms) makes it far slower than the relay.
 *
 * Its own pages are the relay's (plain text, no server paths): 503 when the daemon is down or silent, 413/414
 * for a request that cannot fit one request line, 500 for an answer it cannot use.
 */
import { askWeb } from '../client.js';
import { RoqError } from '../errors.js';
import { MAX_REQUEST_BYTES, webRequestFits } from '../protocol.js';
import { writeAll } from '../sysio.js';
import { cgiSettings, webFieldsOf } from '../web/env.js';

interface OwnPage {
  status: string;
  code: string;
  text: string;
  retry?: number;
}

const DAEMON_DOWN: OwnPage = {
  status: '503 Service Unavailable',
  code: 'ROQ_DAEMON_DOWN',
  text: 'The service is not available right now. Please try again in a few minutes.',
  retry: 5,
};
const DAEMON_TIMEOUT: OwnPage = {
  status: '503 Service Unavailable',
  code: 'ROQ_DAEMON_TIMEOUT',
  text: 'The service did not answer in time. Please try again in a moment.',
  retry: 2,
};
const BODY_TOO_LARGE: OwnPage = {
  status: '413 Content Too Large',
  code: 'ROQ_REQUEST_TOO_LARGE',
  text: 'The request is too large. Please send a shorter form.',
};
const URI_TOO_LONG: OwnPage = {
  status: '414 URI Too Long',
  code: 'ROQ_REQUEST_TOO_LARGE',
  text: 'The request is too large. Please use a shorter address.',
};
const BROKEN_ANSWER: OwnPage = {
  status: '500 Internal Server Error',
  code: 'ROQ_PROTOCOL',
  text: 'Something went wrong on our side while answering. Please try again; if it keeps happening, tell the site owner.',
};

const env = process.env;
const settings = cgiSettings(env);
const head = env.REQUEST_METHOD === 'HEAD';

function ownPage(page: OwnPage): Uint8Array {
  const body = `${page.code}: ${page.text}\n`;
  const retry = page.retry ? `Retry-After: ${page.retry}\n` : '';
  return Buffer.from(
    `Status: ${page.status}\nContent-Type: text/plain; charset=utf-8\nCache-Control: no-store\n${retry}` +
      `Content-Length: ${Buffer.byteLength(body)}\n\n${head ? '' : body}`,
  );
}

/** A line for the web server's error log (stderr). */
function logError(text: string): void {
  try {
    writeAll(2, Buffer.from(`roq.cgi: ${text}\n`), 1000);
  } catch {
    /* nowhere to report it */
  }
}

/**
 * Reads the CONTENT_LENGTH bytes the web server announced, whatever the method, so that it never writes into a
 * closed pipe: all of them, keeping only the first `keep` (more cannot be forwarded anyway). Stops at EOF, at an
 * error or at the deadline; the daemon tells a body cut short from CONTENT_LENGTH (`c`).
 */
function readBody(length: number, keep: number, deadline: number): Promise<{ kept: Buffer; got: number }> {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const kept = Buffer.alloc(Math.min(length, keep));
  const scratch = Buffer.alloc(Math.min(length, 65536));
  let got = 0;
  return new Promise((resolve) => {
    const done = () => resolve({ kept: kept.subarray(0, Math.min(got, keep)), got });
    const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
    const more = (): void => {
      if (got >= length || Date.now() >= deadline) return void (clearTimeout(timer), done());
      fs.read(0, scratch, 0, Math.min(scratch.length, length - got), null, (err, n) => {
        if (err?.code === 'EAGAIN') return void setTimeout(more, 2); // a non-blocking pipe (Node's own spawn)
        if (err || n === 0) return void (clearTimeout(timer), done());
        if (got < keep) scratch.copy(kept, got, 0, Math.min(n, keep - got));
        got += n;
        more();
      });
    };
    more();
  });
}

/** The daemon's page for this request, or the relay's own when there is none to be had. */
async function relay(): Promise<Uint8Array> {
  const deadline = Date.now() + settings.timeoutMs;
  const length = /^[0-9]{1,9}$/.test(env.CONTENT_LENGTH ?? '') ? Number(env.CONTENT_LENGTH) : 0;
  const { kept, got } = length > 0 ? await readBody(length, MAX_REQUEST_BYTES, deadline) : { kept: '', got: 0 };
  if (got > MAX_REQUEST_BYTES) return ownPage(BODY_TOO_LARGE);
  const web = webFieldsOf(env, kept.toString());
  if (!webRequestFits(web)) return ownPage(webRequestFits({ ...web, body: '' }) ? BODY_TOO_LARGE : URI_TOO_LONG);
  try {
    return await askWeb(settings.runDir, web, { timeoutMs: settings.timeoutMs });
  } catch (e) {
    logError(e instanceof RoqError ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e));
    if (!(e instanceof RoqError)) return ownPage(BROKEN_ANSWER);
    return ownPage(
      e.code === 'ROQ_DAEMON_TIMEOUT' ? DAEMON_TIMEOUT : e.code === 'ROQ_PROTOCOL' ? BROKEN_ANSWER : DAEMON_DOWN,
    );
  }
}

function respond(bytes: Uint8Array): never {
  try {
    writeAll(1, bytes, 10_000);
  } catch {
    // EPIPE: the web server hung up, nobody is left to answer; or it stopped reading for 10 s.
  }
  process.exit(0);
}

relay().then(respond, (e: unknown) => {
  logError((e as Error)?.stack ?? String(e));
  respond(ownPage(BROKEN_ANSWER));
});
