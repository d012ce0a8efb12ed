/**
 * The per-request program as Apache runs it: the relay (dist/roq-relay) and its Node counterpart (dist/roq.cgi),
 * each in a child process with a CGI environment, against a
 * real daemon (whose workers validate and render every page), a run directory with no daemon, and a REQUESTS FIFO
 * that this test holds and answers (or not) by hand, as a daemon would or a forger might. The demo server is
 * tested in demo.test.ts. Build first; `npm test` does.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFifo } from '../src/client.js';
import { parseRequest, REQUESTS_FIFO, responseFifoName, type Request } from '../src/protocol.js';
import { encodeWebAnswer } from '../src/web-protocol.js';
import { answerFifos } from '../src/daemon/fifo.js';
import { runCgi, type CgiRequest, type CgiResult } from './helpers/cgi.js';
import { makeRunDir, ROOT, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';
import { RELAY } from './helpers/relay.js';

interface Case {
  query: string;
  params: Record<string, string | number>;
  expected: Record<string, string | number>[];
}

const ALL_CASES: Case[] = fs
  .readFileSync(join(ROOT, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Case);
/** Every tenth case: both queries, empty and full answers, with and without optional parameters. */
const CASES = ALL_CASES.filter((_, i) => i % 10 === 0);

/**
 * The per-request programs, each run as Apache runs it: the relay (what deploy/apache.conf serves) and its Node
 * counterpart dist/roq.cgi, for a machine without the compiled one. Both must behave the same.
 */
const PROGRAMS: [string, Pick<CgiRequest, 'runtime' | 'program'>][] = [
  ['the relay (dist/roq-relay)', { runtime: 'exe', program: RELAY }],
  ['roq.cgi under node', { runtime: 'node' }],
];

function formOf(params: Record<string, string | number>, extra: Record<string, string> = {}): string {
  return new URLSearchParams({
    ...Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    ...extra,
  }).toString();
}

/** Independent of the engine under test: what an HTML-escaped text looks like. */
function escaped(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

function jsonError(r: CgiResult): { code: string; message: string; param?: string } {
  return (JSON.parse(r.body) as { error: { code: string; message: string; param?: string } }).error;
}

let daemon: RunningDaemon;
/** A run directory where no daemon ever ran: no REQUESTS FIFO at all. */
let empty: string;

beforeAll(async () => {
  daemon = await startDaemon({ workers: 2 });
  empty = makeRunDir();
});
afterAll(async () => {
  await daemon?.stop();
  if (empty) fs.rmSync(empty, { recursive: true, force: true });
});

describe.each(PROGRAMS)('%s against a real daemon', (_name, program) => {
  const ask = (query: string, more: Partial<Parameters<typeof runCgi>[0]> = {}) =>
    runCgi({ query, ...program, ...more, env: { ROQ_RUN_DIR: daemon.run, ...more.env } });

  it('answers the sampled LIRR cases with format=json exactly, field order included', async () => {
    expect(CASES.length).toBeGreaterThanOrEqual(10);
    for (const c of CASES) {
      const r = await ask(formOf(c.params, { format: 'json' }));
      expect(r.stderr).toBe('');
      expect(r.status, `${c.query} ${JSON.stringify(c.params)}`).toBe(200);
      expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
      // From the query's schema: departures keep 60 s (maxAge), stops none (revalidated by ETag every time).
      expect(r.headers['cache-control']).toBe(c.query === 'departures' ? 'public, max-age=60' : 'no-cache');
      expect(r.body.trim()).toBe(JSON.stringify({ query: c.query, rows: c.expected }));
    }
  });

  it('shows a departures case as an HTML table, every cell escaped, when the page asks for query=departures', async () => {
    const c = ALL_CASES.find((x) => x.query === 'departures' && x.expected.length >= 3)!;
    const r = await ask(formOf(c.params, { query: 'departures' }));
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    const tbody = r.body.slice(r.body.indexOf('<tbody>'), r.body.indexOf('</tbody>'));
    const rows = tbody.split('<tr>').slice(1);
    expect(rows).toHaveLength(c.expected.length);
    c.expected.forEach((row, i) => {
      expect(rows[i]!.trim()).toBe(
        Object.values(row)
          .map((v) => `<td>${escaped(String(v))}</td>`)
          .join('') + '</tr>',
      );
    });
    expect(r.body).toContain('MTA Long Island Rail Road, GTFS static feed');
  });

  it('writes a 100-row board completely before exiting', async () => {
    const c = ALL_CASES.find((x) => x.query === 'departures' && x.expected.length === 100)!;
    const r = await ask(formOf(c.params, { query: 'departures' }));
    expect(r.status).toBe(200);
    expect(r.body.length).toBeGreaterThan(16_000);
    expect(r.body.split('<tr><td>')).toHaveLength(101);
    expect(r.body.endsWith('</html>\n')).toBe(true);
  });

  it('lists the stations matching q as links to their boards, and sends a search with one match straight to its board', async () => {
    const r = await ask('q=park');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<li><a href="/cgi-bin/roq.cgi?stop=24">Belmont Park</a></li>');
    const one = await ask('q=minal');
    expect(one.status).toBe(303);
    expect(one.headers.location).toBe('/cgi-bin/roq.cgi?stop=241');
  });

  it('takes a POSTed form, the query string adding format=json', async () => {
    const c = CASES.find((x) => x.query === 'departures' && x.expected.length > 0)!;
    const r = await ask('format=json', { method: 'POST', body: formOf(c.params) });
    expect(r.status).toBe(200);
    expect(r.body.trim()).toBe(JSON.stringify({ query: c.query, rows: c.expected }));
    const stops = await ask('', { method: 'POST', body: 'q=minal&format=json&submit=Find' });
    expect(JSON.parse(stops.body).rows[0].stop_id).toBe('241');
  });

  it('answers HEAD with the headers only', async () => {
    const r = await ask('q=park', { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.body).toBe('');
  });

  it('shows the station search when neither stop nor q is given', async () => {
    const r = await ask('');
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/<input type="search" name="q" value=""/);
    expect(r.body).not.toContain('role="alert"');
  });

  it('escapes HTML sent in q and stop', async () => {
    const evil = `"><script>alert('x')</script><img src=x onerror=alert(1)>`;
    for (const query of [formOf({ q: evil }), formOf({ stop: evil, date: '2026-11-09' })]) {
      const r = await ask(query);
      // No stop has that id: the board's 404 page, which offers the search.
      expect(r.status).toBe(query.startsWith('stop') ? 404 : 200);
      expect(r.body).not.toContain('<script>');
      expect(r.body).not.toContain('<img');
      expect(r.body).toContain(escaped(evil));
    }
  });

  it('leaves no answer FIFO behind', () => {
    expect(answerFifos(daemon.run)).toEqual([]);
  });
});

/** A REQUESTS FIFO held open by this test: the CGI program can send, and nothing answers unless the test does. */
function heldRequests(): { run: string; read(): string; close(): void } {
  const run = makeRunDir();
  const path = join(run, REQUESTS_FIFO);
  makeFifo(path, 0o620);
  const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
  const buf = Buffer.alloc(65536);
  return {
    run,
    read() {
      try {
        return buf.toString('utf8', 0, fs.readSync(fd, buf));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return '';
        throw e;
      }
    },
    close() {
      fs.closeSync(fd);
      fs.rmSync(run, { recursive: true, force: true });
    },
  };
}

/**
 * Answers the next web request arriving on a held REQUESTS FIFO as a daemon's worker would, with `response` (a
 * whole CGI response) after the `forged` bytes another writer might put into the FIFO first.
 */
async function answerNext(
  held: ReturnType<typeof heldRequests>,
  response: string,
  forged: Uint8Array[] = [],
): Promise<Extract<Request, { kind: 'web' }>> {
  const line = await waitFor('a request line', () => held.read(), 10_000);
  const parsed = parseRequest(line.replace(/\n$/, ''));
  if (!parsed.ok || parsed.request.kind !== 'web') throw new Error(`bad request line ${line}`);
  const fd = fs.openSync(
    join(held.run, responseFifoName(parsed.request.pid, parsed.request.token)),
    fs.constants.O_WRONLY | fs.constants.O_NONBLOCK,
  );
  for (const f of forged) fs.writeSync(fd, f);
  fs.writeSync(fd, encodeWebAnswer(parsed.request.proof, Buffer.from(response)));
  fs.closeSync(fd);
  return parsed.request;
}

describe.each(PROGRAMS)('%s: what the daemon checks', (_name, program) => {
  const run = (req: Parameters<typeof runCgi>[0]) => runCgi({ ...req, ...program, env: { ROQ_RUN_DIR: daemon.run } });
  const BAD: [string, string, string][] = [
    ['stop=202&date=2026-02-30', 'date', 'ROQ_PARAM_NO_SUCH_DAY'],
    ['stop=202&date=2026-11-09&after=25:61', 'after', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=202&date=2026-11-09&limit=0', 'limit', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=202&date=2026-11-09&limit=1000', 'limit', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=&date=2026-11-09', 'stop', 'ROQ_PARAM_MISSING'],
    ['query=departures&stop=202', 'date', 'ROQ_PARAM_MISSING'],
    ['q=' + 'x'.repeat(101), 'q', 'ROQ_PARAM_INVALID'],
  ];

  it.each(BAD)('refuses %s with 400 naming the parameter, the query never run', async (query, param, code) => {
    const json = await run({ query: query + '&format=json' });
    expect(json.status).toBe(400);
    expect(jsonError(json)).toMatchObject({ code, param });
    expect(jsonError(json).message).toContain(`'${param}'`);
    const html = await run({ query });
    expect(html.status).toBe(400);
    expect(html.body).toContain('role="alert"');
    // The raw departures page names the parameter and code; the passenger's board says which field to fix.
    if (query.startsWith('query=departures')) expect(html.body).toContain(`<code>${param}</code>`);
    else expect(html.body).not.toMatch(/ROQ_|HTTP 400|<code>/);
    expect(html.body).toMatch(new RegExp(`name="${param}"[^>]*aria-invalid="true"`));
  });

  it('logs one access line per web request, naming the query, its parameters and the HTTP status', async () => {
    const marker = `x${Date.now()}`;
    await run({ query: `stop=202&date=2026-11-09&after=25:61&format=json&m=${marker}` });
    const log = join(daemon.run, 'daemon', 'access.log');
    const line = await waitFor('the access line', () =>
      fs.existsSync(log)
        ? fs
            .readFileSync(log, 'utf8')
            .split('\n')
            .find((l) => l.includes(marker))
        : undefined,
    );
    expect(line).toMatch(
      / query=departures params=stop=202&date=2026-11-09&after=25:61&format=json&m=\w+ status=error rows=0 /,
    );
    expect(line).toMatch(/ http=400$/);
  });

  it('answers 405 for DELETE, naming the allowed methods', async () => {
    const r = await run({ method: 'DELETE', query: 'q=minal&format=json' });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD, POST');
    expect(jsonError(r).code).toBe('ROQ_METHOD');
  });

  it('answers 413 for a body over 16 KiB, read or not', async () => {
    // Too large for one request line: the program's own page, after reading the whole body.
    const big = await run({ method: 'POST', body: 'q=' + 'x'.repeat(20_000) });
    expect(big.status).toBe(413);
    expect(big.body).toContain('ROQ_REQUEST_TOO_LARGE');
    // Claimed but not sent: the daemon's page.
    const claimed = await runCgi({
      ...program,
      method: 'POST',
      body: 'q=x',
      env: { ROQ_RUN_DIR: daemon.run, CONTENT_LENGTH: '16385' },
    });
    expect(claimed.status).toBe(413);
    expect(claimed.body).toContain('ROQ_REQUEST_TOO_LARGE');
  });

  it('refuses bodies it cannot read: wrong type, broken escapes, cut short', async () => {
    const multipart = await run({ method: 'POST', body: 'q=x', contentType: 'multipart/form-data; boundary=x' });
    expect(multipart.status).toBe(415);
    const broken = await run({ method: 'POST', body: 'q=%E0%A4%A' });
    expect(broken.status).toBe(400);
    expect(broken.body).toContain('ROQ_FORM_ENCODING');
    expect(broken.body).toContain('a broken %-escape in the request body');
    // Well-formed escapes of bytes that are not UTF-8: the escape is not what is wrong.
    const latin1 = await run({ query: 'q=%FF' });
    expect(latin1.status).toBe(400);
    expect(latin1.body).toContain('the query string has %-escaped bytes that are not UTF-8 text');
    const short = await runCgi({
      ...program,
      method: 'POST',
      body: 'q=x',
      env: { ROQ_RUN_DIR: daemon.run, CONTENT_LENGTH: '10' },
    });
    expect(short.status).toBe(400);
    expect(short.body).toContain('ended after 3 of 10 bytes');
  });

  it('gives every response with a body its Content-Length, HEAD the length GET would have', async () => {
    for (const query of ['q=park', 'q=park&format=json', 'stop=202&date=2026-11-09&after=25:61', '']) {
      const get = await run({ query });
      expect(Number(get.headers['content-length']), query).toBe(Buffer.byteLength(get.body));
      const head = await run({ query, method: 'HEAD' });
      expect(head.body).toBe('');
      expect(head.headers['content-length'], query).toBe(get.headers['content-length']);
    }
  });
});

describe.each(PROGRAMS)('%s without a working daemon', (_name, program) => {
  it('answers 503 with Retry-After when no daemon ever ran on the run directory', async () => {
    const r = await runCgi({ ...program, query: 'q=minal&format=json', env: { ROQ_RUN_DIR: empty } });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(r.body).toContain('ROQ_DAEMON_DOWN');
    const html = await runCgi({ ...program, query: 'q=minal', env: { ROQ_RUN_DIR: join(empty, 'missing') } });
    expect(html.status).toBe(503);
    // The visitor reads a plain sentence; the run directory and errno go to the error log.
    expect(html.body).not.toContain(empty);
    expect(html.stderr).toContain('ROQ_DAEMON_DOWN');
  });

  it('gives up on a silent daemon within ROQ_CGI_TIMEOUT_MS: 503, Retry-After, no FIFO left', async () => {
    const held = heldRequests();
    try {
      const r = await runCgi({
        ...program,
        query: 'q=minal&format=json',
        env: { ROQ_RUN_DIR: held.run, ROQ_CGI_TIMEOUT_MS: '300' },
        timeoutMs: 15_000,
      });
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBeDefined();
      expect(r.body).toContain('ROQ_DAEMON_TIMEOUT');
      expect(r.ms).toBeGreaterThanOrEqual(300);
      expect(r.ms).toBeLessThan(3000);
      expect(held.read()).toMatch(
        /^roq3 \d+ \w+ \w+ \.web m=GET&s=%2Fcgi-bin%2Froq\.cgi&q=q%3Dminal%26format%3Djson\n$/,
      );
      expect(answerFifos(held.run)).toEqual([]);
    } finally {
      held.close();
    }
  });

  it("copies the daemon's proven answer byte for byte, and nothing that lacks the proof", async () => {
    const held = heldRequests();
    try {
      const page = 'Status: 418 I am a teapot\nContent-Type: text/plain; charset=utf-8\nContent-Length: 6\n\nteapot';
      const forged = [encodeWebAnswer('F'.repeat(24), Buffer.from('Status: 200 OK\n\nforged')), Buffer.from('garbage')];
      const [r, req] = await Promise.all([
        runCgi({ ...program, query: 'q=minal', env: { ROQ_RUN_DIR: held.run } }),
        answerNext(held, page, forged),
      ]);
      expect(req.web).toMatchObject({ method: 'GET', query: 'q=minal', script: '/cgi-bin/roq.cgi' });
      expect(r.raw).toBe(page);
      expect(answerFifos(held.run)).toEqual([]);
    } finally {
      held.close();
    }
  });
});
