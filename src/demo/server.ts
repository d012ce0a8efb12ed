/**
 * `npm run demo`: roq's web path on one machine. Starts the daemon (`roq start --run run/demo --data
 * data/gtfs-lirr`), then serves the page on 127.0.0.1:8080: through a private Apache httpd running the deployed
 * CGI program (dist/roq-cgi) when Apache is installed (src/demo/apache.ts), else through a small built-in CGI host
 * that runs dist/roq.cgi once per request with the RFC 3875 environment Apache would give it. Ctrl-C stops the
 * server and the daemon it started.
 *
 * Environment: PORT (default 8080; 0 picks a free port), ROQ_DEMO_RUN and ROQ_DEMO_DATA (run and data
 * directories), ROQ_DEMO_HTTPD=apache|builtin (default: apache when installed), ROQ_DEMO_RUNTIME=node|bun for
 * the built-in host (default: Bun when node_modules/.bin/bun exists).
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { HAVE_APACHE, makeWebRunDir, startApache, writeCgi, type Apache } from './apache.js';

const ROOT = resolve(dirname(process.argv[1] ?? 'dist/demo.js'), '..');
const ROQ = join(ROOT, 'dist/roq.js');
const CGI = join(ROOT, 'dist/roq.cgi');
const RUN = resolve(ROOT, process.env.ROQ_DEMO_RUN || 'run/demo');
const DATA = resolve(ROOT, process.env.ROQ_DEMO_DATA || 'data/gtfs-lirr');
const BUN = join(ROOT, 'node_modules/.bin/bun');
const RUNTIME = process.env.ROQ_DEMO_RUNTIME === 'node' || (process.env.ROQ_DEMO_RUNTIME !== 'bun' && !existsSync(BUN)) ? 'node' : 'bun';
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
function cgiEnvironment(req: http.IncomingMessage, url: URL, port: number, bodyLength: number): Record<string, string> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    SERVER_SOFTWARE: 'roq-demo',
    SERVER_NAME: url.hostname,
    SERVER_PORT: String(port),
    REQUEST_METHOD: req.method ?? 'GET',
    QUERY_STRING: url.search.slice(1),
    SCRIPT_NAME: '/',
    PATH_INFO: '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '',
    REMOTE_PORT: String(req.socket.remotePort ?? ''),
    ROQ_RUN_DIR: RUN,
  };
  for (const name of ['TZ', 'ROQ_CGI_TIMEOUT_MS']) if (process.env[name]) env[name] = process.env[name]!;
  const declared = req.headers['content-length'];
  if (declared !== undefined || bodyLength > 0) {
    env.CONTENT_LENGTH = declared ?? String(bodyLength);
    env.CONTENT_TYPE = req.headers['content-type'] ?? '';
  }
  for (const [name, value] of Object.entries(req.headers)) {
    if (name === 'content-length' || name === 'content-type' || name === 'authorization' || value === undefined) continue;
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
    const exe = RUNTIME === 'bun' ? BUN : process.execPath;
    const child = spawn(exe, [CGI], { env, cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
    const out: Buffer[] = [];
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, CGI_LIMIT_MS);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stdin.on('error', () => undefined); // it may answer (413) without reading the body
    child.stdin.end(body);
    const fail = (status: number, text: string): CgiReply => ({ status, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: Buffer.from(text + '\n') });
    child.on('error', (e) => {
      clearTimeout(timer);
      done(fail(500, `could not run ${CGI}: ${e.message}`));
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

async function serve(req: http.IncomingMessage, res: http.ServerResponse, port: number): Promise<void> {
  const started = performance.now();
  const url = new URL(req.url ?? '/', `http://${req.headers.host ?? '127.0.0.1'}`);
  let reply: CgiReply;
  if (url.pathname !== '/') {
    reply = { status: 404, headers: [['Content-Type', 'text/plain; charset=utf-8']], body: Buffer.from('not found; the demo serves /\n') };
  } else {
    const body = await readBody(req);
    reply = await runCgi(cgiEnvironment(req, url, port, body.length), body);
  }
  res.writeHead(reply.status, reply.headers);
  res.end(reply.body);
  const ms = (performance.now() - started).toFixed(1);
  process.stdout.write(`${req.method} ${url.pathname}${url.search} → ${reply.status} (${ms} ms)\n`);
}

const EXECUTABLE = join(ROOT, 'dist/roq-cgi');
const USE_APACHE = HAVE_APACHE && process.env.ROQ_DEMO_HTTPD !== 'builtin';

/** The private Apache httpd, serving the CGI program at /departures. */
async function apacheHost(port: number): Promise<Apache> {
  const dir = `${RUN}-httpd`;
  const program = existsSync(EXECUTABLE) ? EXECUTABLE : writeCgi(join(dir, 'cgi-bin'), 'roq.cgi', process.execPath, readFileSync(CGI, 'utf8'));
  const env: Record<string, string> = { ROQ_RUN_DIR: RUN, PATH: '/usr/bin:/bin' };
  for (const name of ['TZ', 'ROQ_CGI_TIMEOUT_MS']) if (process.env[name]) env[name] = process.env[name]!;
  return startApache({ dir, port, scripts: { '/departures': program }, env });
}

async function main(): Promise<void> {
  if (!existsSync(CGI) || !existsSync(ROQ)) throw new Error('dist/roq.cgi or dist/roq.js is missing; run `node scripts/build.js`');
  // Apache's CGI programs run as the web server's user: the run directory must let them in.
  if (USE_APACHE) makeWebRunDir(RUN);
  const started = await roq(['start', '--run', RUN, '--data', DATA]);
  let ownDaemon = true;
  if (started.code !== 0) {
    if (!started.output.includes('ROQ_ALREADY_RUNNING')) throw new Error(started.output.trim());
    ownDaemon = false; // someone's daemon serves there already: use it, and leave it running
    process.stdout.write(`using the daemon already running on ${RUN}\n`);
  } else {
    process.stdout.write(started.output);
  }

  const port = Number(process.env.PORT ?? 8080);
  if (USE_APACHE) {
    const apache = await apacheHost(port);
    process.stdout.write(`roq demo: ${apache.url}/departures (Apache httpd, ${existsSync(EXECUTABLE) ? 'dist/roq-cgi' : 'dist/roq.cgi under Node'}; daemon on ${RUN}; Ctrl-C stops both)\n`);
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      process.stdout.write(`${signal}: stopping\n`);
      void apache
        .stop()
        .then(() => (ownDaemon ? roq(['stop', '--run', RUN]) : { code: 0, output: '' }))
        .then(({ code, output }) => {
          process.stdout.write(output);
          process.exit(code === 0 ? 0 : 1);
        });
    };
    process.on('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    return;
  }

  const server = http.createServer((req, res) => {
    serve(req, res, (server.address() as AddressInfo).port).catch((e: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end(`demo server error: ${e.message}\n`);
    });
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok());
  });
  const actual = (server.address() as AddressInfo).port;
  process.stdout.write(`roq demo: http://127.0.0.1:${actual}/ (CGI under ${RUNTIME}; daemon on ${RUN}; Ctrl-C stops both)\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping\n`);
    server.close();
    server.closeAllConnections();
    const stopped = ownDaemon ? roq(['stop', '--run', RUN]) : Promise.resolve({ code: 0, output: '' });
    void stopped.then(({ code, output }) => {
      process.stdout.write(output);
      process.exit(code === 0 ? 0 : 1);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((e: Error) => {
  process.stderr.write(`roq demo: ${e.message}\n`);
  process.exit(1);
});
