/**
 * One visitor's requests on one keep-alive connection, through Apache httpd's mod_cgid as deployed.
 *
 * httpd learns that a CGI answer has ended when the program's stdout closes. It then signals the process it started
 * and, if that process is still there, sleeps 10 ms before it reads the connection's next request (mod_cgid's
 * cleanup_nonchild_process). A program's stdout closes in the middle of its exit, so a plain program is often still
 * there: through Apache the relay took 12 ms a request on one connection where `Connection: close` took 2.4 ms.
 * The relay leaves its stdout to a child that outlives it (relay.c, leave_stdout_to_child). Timings belong in the
 * bench (docs/BENCHMARKS.md, "The web path"); here, the behaviour: run as mod_cgid runs it (test/helpers/cgid-like.c),
 * the relay is gone whenever its answer ends, its exit status unchanged; and through a real Apache every answer on
 * one connection carries its Content-Length, never chunked (deploy/apache.conf's ap_trust_cgilike_cl).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, installForWeb, makeWebRunDir, startApache, type Apache } from '../tools/demo/apache.js';
import { cgiEnv } from './helpers/cgi-env.js';
import { ROOT, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { RELAY, runRelay } from './helpers/relay.js';
import { tempDir } from './helpers/temp.js';

const QUERY = 'stop=102&date=2026-11-02&after=08:00&limit=5';

let daemon: RunningDaemon | undefined;
let apache: Apache | undefined;
let cgidLike = '';

beforeAll(async () => {
  const base = tempDir('roq-keepalive-');
  fs.chmodSync(base, 0o755); // Apache's CGI programs (www-data) pass through it
  cgidLike = join(base, 'cgid-like');
  const cc = spawnSync(
    process.env.CC || 'cc',
    ['-O2', '-Wall', '-Wextra', '-Werror', '-o', cgidLike, join(ROOT, 'test/helpers/cgid-like.c')],
    { encoding: 'utf8' },
  );
  if (cc.status !== 0) throw new Error(`cc test/helpers/cgid-like.c failed: ${cc.stderr}`);
  const run = makeWebRunDir(join(base, 'run'));
  daemon = await startDaemon({ run, workers: 2 });
  if (HAVE_APACHE)
    apache = await startApache({
      dir: join(base, 'web'),
      scripts: { '/departures': installForWeb(RELAY, join(base, 'web', 'cgi-bin', 'roq-relay')) },
      env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '5000' },
    });
}, 60_000);

afterAll(async () => {
  await apache?.stop();
  await daemon?.stop();
});

/** One HTTP/1.1 response read off a connection: status line, headers (lower-case names), body as sent. */
interface Answer {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Where the response at the start of `buf` ends, or -1 while incomplete; chunked bodies are left encoded. */
function answerEnd(buf: Buffer): number {
  const head = buf.indexOf('\r\n\r\n');
  if (head < 0) return -1;
  const text = buf.subarray(0, head).toString('latin1');
  const length = /\r\ncontent-length: *(\d+)/i.exec(text);
  if (length) return buf.length >= head + 4 + Number(length[1]) ? head + 4 + Number(length[1]) : -1;
  if (/\r\ntransfer-encoding: *chunked/i.test(text)) {
    const last = buf.indexOf('\r\n0\r\n\r\n', head + 2);
    return last < 0 ? -1 : last + 7;
  }
  throw new Error(`an answer with neither Content-Length nor chunked encoding: ${text}`);
}

function parseAnswer(raw: Buffer): Answer {
  const head = raw.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = raw.subarray(0, head).toString('latin1').split('\r\n');
  const headers = new Map(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine!.split(' ')[1]), headers, body: raw.subarray(head + 4) };
}

/** GETs `paths` one after the other on one keep-alive connection, as a browser does a visitor's pages. */
function oneConnection(port: number, paths: string[]): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const answers: Answer[] = [];
    let buf = Buffer.alloc(0);
    const socket = net.connect(port, '127.0.0.1');
    const timer = setTimeout(() => socket.destroy(new Error(`no whole answer within 20 s: ${buf}`)), 20_000);
    const ask = () => socket.write(`GET ${paths[answers.length]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    socket.on('connect', ask);
    socket.on('error', (e) => (clearTimeout(timer), reject(e)));
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      const end = answerEnd(buf);
      if (end < 0) return;
      answers.push(parseAnswer(buf.subarray(0, end)));
      buf = buf.subarray(end);
      if (answers.length < paths.length) return void ask();
      clearTimeout(timer);
      socket.end();
      resolve(answers);
    });
  });
}

describe('the relay, run as mod_cgid runs it', () => {
  it('is gone whenever its answer ends, so the web server never waits for it to exit', () => {
    const env = cgiEnv({ query: `${QUERY}&format=json`, env: { ROQ_RUN_DIR: daemon!.run } });
    const seen = new Map<string, number>();
    // Without the child that holds stdout, most runs find the relay still there (one in two through Apache).
    for (let i = 0; i < 40; i++) {
      const r = spawnSync(cgidLike, [RELAY], { env, encoding: 'utf8', timeout: 15_000 });
      expect(r.status, r.stderr).toBe(0);
      const outcome = r.stdout.trim().replace(/^\d+ /, '');
      seen.set(outcome, (seen.get(outcome) ?? 0) + 1);
      expect(Number(r.stdout.split(' ')[0]), r.stdout).toBeGreaterThan(1000);
    }
    expect(Object.fromEntries(seen)).toEqual({ gone: 40 });
  });

  it('still exits with its own status, after the answer has reached its stdout whole', async () => {
    const r = await runRelay({ env: cgiEnv({ query: `${QUERY}&format=json`, env: { ROQ_RUN_DIR: daemon!.run } }) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(Number(r.headers['content-length']));
  });
});

describe.skipIf(!HAVE_APACHE)('one keep-alive connection through a real Apache httpd (mod_cgid)', () => {
  it('carries every answer with its Content-Length, never chunked', async () => {
    const paths = Array.from({ length: 10 }, (_, i) =>
      i % 2 ? `/departures?${QUERY}&format=json` : `/departures?${QUERY}`,
    );
    const answers = await oneConnection(apache!.port, paths);
    expect(answers.length).toBe(paths.length);
    for (const [i, a] of answers.entries()) {
      expect(a.status, paths[i]).toBe(200);
      expect(a.headers.get('transfer-encoding'), paths[i]).toBeUndefined();
      expect(Number(a.headers.get('content-length')), paths[i]).toBe(a.body.length);
    }
    expect(answers[1]!.body.toString('utf8')).toContain('"rows"');
  });
});
