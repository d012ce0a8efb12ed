/**
 * `npm run demo`: roq's web path on one machine. Checks that its port is free, starts the daemon on the sample
 * feed, then serves the page at 127.0.0.1:8080/departures (and `/` redirects there): through a private Apache
 * httpd running the relay (dist/roq-relay, the deployed per-request program) when Apache is installed
 * (tools/demo/apache.ts), else through a small built-in CGI host that runs the relay once per request with the
 * RFC 3875 environment Apache would give it. One line per request goes to the output. Ctrl-C (also with the output piped into `tee`, whose
 * end goes away with the same Ctrl-C), SIGTERM or SIGHUP stop the server and the daemon it started.
 *
 * As a deployment does, what Apache runs (the relay, the run directory) is put in a temporary directory the
 * web server's user can read, not in the checkout, which may sit in a 0700 home directory. When today is outside
 * the days the sample covers, `/` opens a day inside them, and the demo says so.
 *
 * `npm run demo -- --app DIR [--data DATA]` serves another app the same way (the MAC vendor sample:
 * `--app examples/mac-vendors`): `roq start --app` builds it into DIR/.roq/ when needed, its daemon renders every
 * query of the app at /<its directory's name>/QUERY through the same relay, and DATA defaults to DIR/data.
 *
 * Environment: PORT (default 8080; 0 picks a free port), ROQ_DEMO_RUN and ROQ_DEMO_DATA (run and data
 * directories), ROQ_DEMO_HTTPD=apache|builtin (default: apache when installed).
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { today } from '../../src/dates.js';
import { readStatusFile } from '../../src/control/status.js';
import { HAVE_APACHE, installForWeb, makeWebDir, makeWebRunDir, startApache, type Apache } from './apache.js';
import { followLog } from './follow.js';

const ROOT = resolve(dirname(process.argv[1] ?? 'dist/demo.js'), '..');
const ROQ = join(ROOT, 'dist/roq.js');

const USAGE = 'usage: npm run demo [-- --app DIR] [--data DIR]\n';
const HELP = `${USAGE}
Serves an app on one machine: starts its daemon on the data, then the web page at http://127.0.0.1:8080/departures
(\`/\` leads there) through a private Apache httpd when Apache is installed, else through a small built-in host.
Ctrl-C stops the server and the daemon.

  --app DIR    serve the app in DIR (built first when needed) at /<its directory's name>/QUERY
               (default: roq's own departure board on the sample feed)
  --data DIR   the data directory (default: the app's data/, or data/gtfs-lirr)
  --help       this text

Environment: PORT (default 8080; 0 picks a free port), ROQ_DEMO_HTTPD=apache|builtin.
`;
/** `--app DIR` and `--data DIR`, as the user typed them: relative to where `npm run` was started. */
function demoArgs(): { app?: string; data?: string } {
  try {
    const { values } = parseArgs({
      options: { app: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
    if (values.help) {
      process.stdout.write(HELP);
      process.exit(0);
    }
    const cwd = process.env.INIT_CWD || process.cwd();
    return { app: values.app && resolve(cwd, values.app), data: values.data && resolve(cwd, values.data) };
  } catch (e) {
    process.stderr.write(`roq demo: ${(e as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}
const ARGS = demoArgs();
/** The app served: roq's own (the GTFS board) unless --app names another. */
const APP = ARGS.app;
/** The per-request program: one for every app, since the app's daemon renders its pages. */
const RELAY = join(ROOT, 'dist/roq-relay');
const DATA =
  ARGS.data ??
  (process.env.ROQ_DEMO_DATA
    ? resolve(ROOT, process.env.ROQ_DEMO_DATA)
    : APP
      ? join(APP, 'data')
      : join(ROOT, 'data/gtfs-lirr'));
/** A CGI process still running after this long is killed and the client gets 504. */
const CGI_LIMIT_MS = 10_000;
/** The demo hands the CGI program at most this much body; it refuses more than 16 KiB by itself anyway. */
const MAX_BODY = 64 * 1024;

function roq(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [ROQ, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });
}

/** The environment Apache gives a CGI program (RFC 3875 section 4.1), plus PATH and roq's own settings. */
function cgiEnvironment(
  req: http.IncomingMessage,
  url: URL,
  port: number,
  bodyLength: number,
  run: string,
  pathInfo: string,
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'roq-demo',
    SERVER_NAME: url.hostname,
    SERVER_PORT: String(port),
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.slice(1),
    SCRIPT_NAME: PAGE,
    PATH_INFO: pathInfo,
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    REMOTE_PORT: String(req.socket.remotePort ?? ''),
    ROQ_RUN_DIR: run,
  };
  for (const name of ['TZ', 'ROQ_CGI_TIMEOUT_MS']) if (process.env[name]) env[name] = process.env[name]!;
  const declared = req.headers['content-length'];
  if (declared !== undefined || bodyLength > 0) {
    env.CONTENT_LENGTH = declared ?? String(bodyLength);
    env.CONTENT_TYPE = req.headers['content-type'] ?? '';
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'content-length' || name === 'content-type' || name === 'authorization' || value === undefined)
      continue;
    env['HTTP_' + name.toUpperCase().replace(/-/g, '_')] = Array.isArray(value) ? value.join(', ') : value;
  }
  return env;
}

/** Reads the request body, keeping at most MAX_BODY bytes. */
function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((done, fail) => {
    const chunks: Buffer[] = [];
    let kept = 0;
    req.on('data', (c: Buffer) => {
      if (kept < MAX_BODY) chunks.push(c.subarray(0, MAX_BODY - kept));
      kept += c.length;
    });
    req.on('end', () => done(Buffer.concat(chunks)));
    req.on('error', fail);
  });
}

interface CgiReply {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

/** Splits the CGI program's output into status, headers and body (RFC 3875 section 6); throws if malformed. */
function parseCgiOutput(out: Buffer): CgiReply {
  const lf = out.indexOf('\n\n');
  const crlf = out.indexOf('\r\n\r\n');
  const [end, sep] = crlf >= 0 && (lf < 0 || crlf < lf) ? [crlf, 4] : [lf, 2];
  if (end < 0) throw new Error('no blank line after the CGI headers');
  let status = 200;
  const headers: [string, string][] = [];
  for (const line of out.subarray(0, end).toString('latin1').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon < 1) throw new Error(`malformed CGI header line '${line.slice(0, 60)}'`);
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number(value.split(' ')[0]) || 500;
    else headers.push([name, value]);
    if (name.toLowerCase() === 'location' && status === 200) status = 302;
  }
  return { status, headers, body: out.subarray(end + sep) };
}

function runCgi(env: Record<string, string>, body: Buffer): Promise<CgiReply> {
  return new Promise((done) => {
    const child = spawn(RELAY, [], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, CGI_LIMIT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stdin.on('error', () => undefined); // it may answer (413) without reading the body
    child.stdin.end(body);
    const fail = (status: number, text: string): CgiReply => ({
      status,
      headers: [['Content-Type', 'text/plain; charset=utf-8']],
      body: Buffer.from(text + '\n'),
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      done(fail(500, `could not run ${RELAY}: ${e.message}`));
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (killed) return done(fail(504, `the CGI program did not finish within ${CGI_LIMIT_MS} ms`));
      try {
        done(parseCgiOutput(Buffer.concat(out)));
      } catch (e) {
        done(fail(502, `the CGI program's output is malformed: ${(e as Error).message}`));
      }
    });
  });
}

/**
 * The page's path, through Apache and the built-in host alike; `/` redirects to it. An app's queries are below
 * it (PATH_INFO), as under /cgi-bin/roq-cgi/ in a deployment.
 */
const PAGE = APP ? `/${basename(APP).replace(/[^A-Za-z0-9._-]/g, '-')}` : '/departures';

/** PATH_INFO for a path under PAGE, decoded as Apache decodes it; undefined for a path elsewhere. */
function pathInfoOf(pathname: string): string | undefined {
  if (pathname !== PAGE && !pathname.startsWith(PAGE + '/')) return undefined;
  try {
    return decodeURIComponent(pathname.slice(PAGE.length));
  } catch {
    return pathname.slice(PAGE.length);
  }
}

function redirect(location: string): CgiReply {
  return {
    status: 302,
    headers: [
      ['Location', location],
      ['Content-Type', 'text/plain; charset=utf-8'],
    ],
    body: Buffer.from(`see ${location}\n`),
  };
}

async function serve(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  port: number,
  run: string,
  home: string,
): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  let reply: CgiReply;
  const pathInfo = pathInfoOf(url.pathname);
  if (url.pathname === '/') {
    reply = redirect(home);
  } else if (pathInfo === undefined) {
    reply = {
      status: 404,
      headers: [['Content-Type', 'text/plain; charset=utf-8']],
      body: Buffer.from(`not found; the demo serves ${PAGE}\n`),
    };
  } else {
    const body = await readBody(req);
    reply = await runCgi(cgiEnvironment(req, url, port, body.length, run, pathInfo), body);
  }
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
  say(`${req.method} ${url.pathname}${url.search} -> ${reply.status} (${(performance.now() - started).toFixed(1)} ms)`);
}

const USE_APACHE = HAVE_APACHE && process.env.ROQ_DEMO_HTTPD !== 'builtin';

/**
 * A line on the output. With the output piped (`npm run demo | tee log`), Ctrl-C ends the reader too: writes then
 * fail with EPIPE, which must not stop the demo from stopping its daemon. So write errors are ignored.
 */
function say(text: string): void {
  try {
    process.stdout.write(text.endsWith('\n') ? text : text + '\n');
  } catch {
    /* the reader is gone */
  }
}
process.stdout.on('error', () => undefined);

/** Resolves if 127.0.0.1:port can be bound; rejects with a message naming the port when it is taken. */
function portFree(port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new Error(
          e.code === 'EADDRINUSE'
            ? `127.0.0.1:${port} is taken (another demo or server runs there); stop it, or choose another port: PORT=${port + 1} npm run demo`
            : `cannot listen on 127.0.0.1:${port}: ${e.message}`,
        ),
      ),
    );
    s.listen(port, '127.0.0.1', () => s.close(() => resolve()));
  });
}

/**
 * Where `/` leads: the page, on a day the data covers. When today is outside the daemon's data (the sample is a
 * timetable of the past), the nearest day inside it, said on the output.
 */
function homePage(run: string): string {
  const dates = readStatusFile(run)?.generation.dates;
  const now = today();
  if (!dates || (now >= dates.start && now <= dates.end)) return PAGE;
  const day = now > dates.end ? dates.end : dates.start;
  say(`the data covers ${dates.start} to ${dates.end}, and today (${now}) is outside it: / opens the board of ${day}`);
  return `${PAGE}?date=${day}`;
}

/** The private Apache httpd, serving the CGI program at PAGE from a directory of its own that www-data can read. */
async function apacheHost(web: string, run: string, port: number, home: string): Promise<Apache> {
  const cgiBin = join(web, 'cgi-bin');
  const program = installForWeb(RELAY, join(cgiBin, 'roq-relay'));
  const env: Record<string, string> = { ROQ_RUN_DIR: run };
  for (const name of ['TZ', 'ROQ_CGI_TIMEOUT_MS']) if (process.env[name]) env[name] = process.env[name]!;
  return startApache({ dir: join(web, 'httpd'), port, scripts: { [PAGE]: program }, env, home, logRequests: true });
}

/** The built-in host; resolves with its port once it listens. */
function builtinHost(port: number, run: string, home: string): Promise<{ port: number; stop(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    serve(req, res, (server.address() as net.AddressInfo).port, run, home).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`demo server error: ${e.message}\n`);
    });
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () =>
      ok({
        port: (server.address() as net.AddressInfo).port,
        stop: () => {
          server.closeAllConnections();
          return new Promise<void>((done) => server.close(() => done()));
        },
      }),
    );
  });
}

/** What the demo made, undone in reverse order on every way out. */
const cleanups: (() => Promise<unknown> | void)[] = [];
let stopping = false;

async function stopAll(why: string, code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    if (why) say(`${why}: stopping`);
    for (const undo of cleanups.reverse()) {
      try {
        await undo();
      } catch (e) {
        process.stderr.write(`roq demo: while stopping: ${(e as Error).message}\n`);
      }
    }
  }
  process.exit(code);
}

async function main(): Promise<void> {
  if (!existsSync(ROQ)) throw new Error('dist/roq.js is missing; run `node scripts/build.js`');
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void stopAll(signal, 0));
  const port = Number(process.env.PORT ?? 8080);
  await portFree(port);
  const web = makeWebDir('roq-demo-');
  cleanups.push(() => rmSync(web, { recursive: true, force: true }));
  // Apache's CGI programs run as the web server's user: the run directory must let them in.
  const run = process.env.ROQ_DEMO_RUN ? resolve(ROOT, process.env.ROQ_DEMO_RUN) : join(web, 'run');
  if (USE_APACHE) makeWebRunDir(run);
  const app = APP ? ['--app', APP] : [];
  const started = await roq(['start', '--run', run, '--data', DATA, ...app]);
  if (started.code !== 0) throw new Error(started.output.trim());
  cleanups.push(async () => say((await roq(['stop', '--run', run, ...app])).output));
  if (!existsSync(RELAY)) throw new Error(`${RELAY} is missing; run \`node scripts/build.js\``);
  say(started.output);
  const home = homePage(run);

  if (USE_APACHE) {
    const apache = await apacheHost(web, run, port, home);
    cleanups.push(() => apache.stop());
    const follow = followLog(join(web, 'httpd', 'access.log'), say);
    cleanups.push(() => follow.stop());
    say(
      `roq demo: ${apache.url}${PAGE} (Apache httpd running ${relative(ROOT, RELAY)}, error log ${join(web, 'httpd', 'error.log')}; daemon on ${run}; Ctrl-C stops both)`,
    );
    return;
  }
  const host = await builtinHost(port, run, home);
  cleanups.push(() => host.stop());
  say(
    `roq demo: http://127.0.0.1:${host.port}${PAGE} (the relay run per request; daemon on ${run}; Ctrl-C stops both)`,
  );
}

main().catch((e: Error) => {
  process.stderr.write(`roq demo: ${e.message}\n`);
  void stopAll('', 1);
});
