/**
 * A bounded, seeded fuzzer of the web path: hostile query strings, bodies, methods and CGI variables go through
 * the real CGI program against a real daemon, and hostile lines go straight into REQUESTS. Every input must get a
 * well-formed response with an expected status, all data HTML-escaped, within a bound, and the daemon must keep
 * answering correctly. The seed is fixed so a failure reproduces; ROQ_FUZZ_COUNT raises the count for longer runs.
 */
import { closeSync, constants, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_BUN, runCgi, type CgiRequest, type Runtime } from './helpers/cgi.js';
import { answerFifo, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { encodeRequest, REQUESTS_FIFO } from '../src/protocol.js';
import { rng } from './helpers/rng.js';


const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';
const NAMES = ['stop', 'date', 'after', 'route', 'limit', 'q', 'format', '', 'x', 'stop[]', '%', '__proto__', 'constructor', 'STOP'];
const VALUES = [
  '102', '237', '2026-11-02', '2026-02-30', '9999-99-99', '2026-1-1', '-1', '08:00', '25:61', '23:59:59', '8:0',
  '0', '1', '100', '101', '-5', '1e9', '99999999999999999999', '0x10', ' 5', 'json', 'html',
  encodeURIComponent(SCRIPT), encodeURIComponent(IMG), "'%3B%20DROP%20TABLE", '%', '%G1', '%E2%82', '%FF%FE', '%C0%AF',
  'x'.repeat(5000), encodeURIComponent('Zürich 🚆'), '%00', '%0A%0D', '+++', '&&&', '==',
];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'DELETE', 'PUT', 'BREW', ''];
const STATUSES = new Set([200, 400, 405, 413, 415]);

function randomQuery(r: ReturnType<typeof rng>): string {
  const n = Math.floor(r.next() * 6);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(r.next() < 0.1 ? r.pick(VALUES) : `${r.pick(NAMES)}=${r.pick(VALUES)}`);
  if (r.next() < 0.3) parts.push('format=json');
  if (r.next() < 0.05) parts.push('q=' + 'y'.repeat(70_000));
  return parts.join('&');
}

function randomRequest(r: ReturnType<typeof rng>, run: string): CgiRequest {
  const method = r.pick(METHODS);
  const req: CgiRequest = { method, query: randomQuery(r), env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '3000' }, timeoutMs: 10_000 };
  if (method === 'POST') {
    req.body = r.next() < 0.1 ? 'z'.repeat(20_000) : randomQuery(r);
    if (r.next() < 0.2) req.contentType = r.pick(['multipart/form-data; boundary=x', 'text/plain', '', 'application/x-www-form-urlencoded; charset=utf-8']);
    if (r.next() < 0.15) req.env!.CONTENT_LENGTH = r.pick(['-1', 'abc', '99999999999', '5', '']);
  }
  if (r.next() < 0.05) req.env!.QUERY_STRING = undefined as unknown as string;
  return req;
}

describe('fuzzing the web path', () => {
  let daemon: RunningDaemon;
  beforeAll(async () => {
    daemon = await startDaemon({ workers: 2 });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('answers every hostile request with a well-formed, escaped page in bounded time', async () => {
    const count = Number(process.env.ROQ_FUZZ_COUNT) || 120;
    const r = rng(20261123);
    const requests = Array.from({ length: count }, (_, i) => ({ req: randomRequest(r, daemon.run), runtime: (HAVE_BUN && i % 4 !== 0 ? 'bun' : 'node') as Runtime }));
    const tally = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests.length) {
          const { req, runtime } = requests[next++]!;
          const res = await runCgi({ ...req, runtime });
          const what = `${runtime} ${req.method} ${JSON.stringify(req.query?.slice(0, 200))}: ${res.stderr.slice(0, 300)}`;
          expect(res.code, what).toBe(0);
          expect(STATUSES.has(res.status), `${what} → ${res.status}`).toBe(true);
          expect(res.headers['content-type'], what).toMatch(/; charset=utf-8$/);
          expect(res.body, what).not.toContain(SCRIPT);
          expect(res.body, what).not.toContain('<img src=x');
          if (req.method !== 'HEAD' && res.headers['content-type']!.startsWith('application/json')) expect(() => JSON.parse(res.body), what).not.toThrow();
          tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
        }
      }),
    );
    console.log(`fuzz: ${count} CGI requests, statuses ${JSON.stringify(Object.fromEntries(tally))}`);
    expect(tally.get(200)).toBeGreaterThan(0);
    expect(tally.get(400)).toBeGreaterThan(0);
    expect(readdirSync(daemon.run).filter((f) => f.startsWith('resp.'))).toEqual([]);
  });

  it('drops garbage written straight into REQUESTS and keeps answering the good requests around it', async () => {
    const r = rng(7);
    const requestsFifo = join(daemon.run, REQUESTS_FIFO);
    for (let i = 0; i < 40; i++) {
      // Raw bytes, invalid UTF-8 included; a newline inside would only split one garbage line into two.
      const bytes = Buffer.from(Array.from({ length: Math.floor(r.next() * 300) }, () => Math.floor(r.next() * 256)).map((b) => (b === 10 ? 32 : b)));
      const garbage = r.pick([bytes, Buffer.concat([Buffer.from('roq1 '), bytes]), Buffer.concat([Buffer.from('roq1 -1 x reload'), bytes]), Buffer.alloc(5000, 0x78)]);
      const good = answerFifo(daemon.run);
      const fd = openSync(requestsFifo, constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        writeSync(fd, Buffer.concat([garbage, Buffer.from('\n')]));
        writeSync(fd, encodeRequest({ kind: 'query', pid: good.pid, token: good.token, query: 'stops', params: { q: 'minal' } }));
      } finally {
        closeSync(fd);
      }
      expect(await good.answer).toMatchObject({ status: 'ok', rows: [['241', 'Atlantic Terminal', '40.68359596', '-73.97567112', '', '']] });
      good.close();
    }
  });
});
