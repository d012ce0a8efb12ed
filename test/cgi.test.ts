/**
 * The CGI program as Apache runs it: dist/roq.cgi in a child process with a CGI environment, under Node and under
 * Bun, against a real daemon, a run directory with no daemon, and a REQUESTS FIFO that this test holds and answers
 * (or not) by hand. The demo server is tested in demo.test.ts. Build first; `npm test` does.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFifo } from '../src/client.js';
import { visitorMessage } from '../src/errors.js';
import {
  encodeAnswer,
  parseRequest,
  REQUESTS_FIFO,
  responseFifoName,
  type Answer,
  type Request,
} from '../src/protocol.js';
import { answerFifos } from '../src/daemon/fifo.js';
import { cgiEnv, HAVE_BUN, runCgi, type CgiResult, type Runtime } from './helpers/cgi.js';
import { makeRunDir, ROOT, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';

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

const RUNTIMES: Runtime[] = HAVE_BUN ? ['node', 'bun'] : ['node'];

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

describe.each(RUNTIMES)('roq.cgi under %s against a real daemon', (runtime) => {
  const ask = (query: string, more: Partial<Parameters<typeof runCgi>[0]> = {}) =>
    runCgi({ query, runtime, ...more, env: { ROQ_RUN_DIR: daemon.run, ...more.env } });

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

/** Answers the next request arriving on a held REQUESTS FIFO with `answer`, as a daemon's worker would. */
async function answerNext(held: ReturnType<typeof heldRequests>, answer: Answer): Promise<Request> {
  const line = await waitFor('a request line', () => held.read(), 10_000);
  const parsed = parseRequest(line.replace(/\n$/, ''));
  if (!parsed.ok || parsed.request.kind !== 'query') throw new Error(`bad request line ${line}`);
  const fd = fs.openSync(
    join(held.run, responseFifoName(parsed.request.pid, parsed.request.token)),
    fs.constants.O_WRONLY | fs.constants.O_NONBLOCK,
  );
  fs.writeSync(fd, encodeAnswer(answer, parsed.request.proof));
  fs.closeSync(fd);
  return parsed.request;
}

describe.each(RUNTIMES)('roq.cgi under %s without a working daemon', (runtime) => {
  const BAD: [string, string, string][] = [
    ['stop=202&date=2026-02-30', 'date', 'ROQ_PARAM_NO_SUCH_DAY'],
    ['stop=202&date=2026-11-09&after=25:61', 'after', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=202&date=2026-11-09&limit=0', 'limit', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=202&date=2026-11-09&limit=1000', 'limit', 'ROQ_PARAM_INVALID'],
    ['query=departures&stop=&date=2026-11-09', 'stop', 'ROQ_PARAM_MISSING'],
    ['query=departures&stop=202', 'date', 'ROQ_PARAM_MISSING'],
    ['q=' + 'x'.repeat(101), 'q', 'ROQ_PARAM_INVALID'],
  ];

  it.each(BAD)(
    'refuses %s with 400 naming the parameter, without contacting any daemon',
    async (query, param, code) => {
      // No daemon at all: a 400 rather than a 503 proves the daemon was never asked.
      const json = await runCgi({ runtime, query: query + '&format=json', env: { ROQ_RUN_DIR: empty } });
      expect(json.status).toBe(400);
      expect(jsonError(json)).toMatchObject({ code, param });
      expect(jsonError(json).message).toContain(`'${param}'`);
      const html = await runCgi({ runtime, query, env: { ROQ_RUN_DIR: empty } });
      expect(html.status).toBe(400);
      expect(html.body).toContain('role="alert"');
      // The raw departures page names the parameter and code; the passenger's board says which field to fix.
      if (query.startsWith('query=departures')) expect(html.body).toContain(`<code>${param}</code>`);
      else expect(html.body).not.toMatch(/ROQ_|HTTP 400|<code>/);
      expect(html.body).toMatch(new RegExp(`name="${param}"[^>]*aria-invalid="true"`));
    },
  );

  it('never sends a bad parameter to the daemon', async () => {
    const held = heldRequests();
    try {
      const query = 'stop=202&date=2026-11-09&after=25:61';
      const json = await runCgi({ runtime, query: `${query}&format=json`, env: { ROQ_RUN_DIR: held.run } });
      expect(json.status).toBe(400);
      expect(held.read()).toBe('');
      // The board's page asks for the station's name with the stop alone, and is a 400 without an answer too.
      const r = await runCgi({ runtime, query, env: { ROQ_RUN_DIR: held.run, ROQ_CGI_TIMEOUT_MS: '300' } });
      expect(r.status).toBe(400);
      expect(held.read()).toMatch(/^roq2 \d+ \w+ \w+ board stop=202&limit=1\n$/);
    } finally {
      held.close();
    }
  });

  it('answers 503 with Retry-After when no daemon ever ran on the run directory', async () => {
    const r = await runCgi({ runtime, query: 'q=minal&format=json', env: { ROQ_RUN_DIR: empty } });
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('5');
    expect(jsonError(r).code).toBe('ROQ_DAEMON_DOWN');
    const html = await runCgi({ runtime, query: 'q=minal', env: { ROQ_RUN_DIR: join(empty, 'missing') } });
    expect(html.status).toBe(503);
    // The visitor reads a plain sentence; the run directory, errno and the admin command go to the error log.
    expect(html.body).toContain(visitorMessage('ROQ_DAEMON_DOWN', ''));
    expect(html.body).not.toContain(empty);
    expect(html.stderr).toContain('ROQ_DAEMON_DOWN');
  });

  it('gives up on a silent daemon within ROQ_CGI_TIMEOUT_MS: 503, Retry-After, no FIFO left', async () => {
    const held = heldRequests();
    try {
      const r = await runCgi({
        runtime,
        query: 'q=minal&format=json',
        env: { ROQ_RUN_DIR: held.run, ROQ_CGI_TIMEOUT_MS: '300' },
        timeoutMs: 15_000,
      });
      expect(r.status).toBe(503);
      expect(r.headers['retry-after']).toBe('5');
      expect(jsonError(r).code).toBe('ROQ_DAEMON_TIMEOUT');
      expect(r.ms).toBeGreaterThanOrEqual(300);
      expect(r.ms).toBeLessThan(3000);
      expect(held.read()).toMatch(/^roq2 \d+ \w+ \w+ stops q=minal\n$/);
      expect(answerFifos(held.run)).toEqual([]);
    } finally {
      held.close();
    }
  });

  it("shows the daemon's error answers with the catalog's status", async () => {
    const held = heldRequests();
    try {
      const cases: [Answer, number][] = [
        [{ status: 'error', code: 'ROQ_QUERY_FAILED', message: "query 'stops' failed inside the daemon: <boom>" }, 500],
        [{ status: 'timeout', code: 'ROQ_QUERY_DEADLINE', message: 'ran past its deadline' }, 503],
        [{ status: 'error', code: 'ROQ_PARAM_INVALID', message: 'bad q', param: 'q' }, 400],
        [{ status: 'error', code: 'ROQ_SOMETHING_NEW', message: 'from a newer daemon' }, 500],
      ];
      for (const [answer, status] of cases) {
        const [r, req] = await Promise.all([
          runCgi({ runtime, query: 'q=minal', env: { ROQ_RUN_DIR: held.run } }),
          answerNext(held, answer),
        ]);
        expect(req).toMatchObject({ query: 'stops', params: { q: 'minal' } });
        expect(r.status).toBe(status);
        if (answer.status === 'ok') continue;
        // A daemon's failure detail is for the admin: the visitor reads the catalog's plain sentence.
        // A bad parameter on the board's page is said in a passenger's words, naming the field to fix.
        const shown = status === 400 ? '“minal” cannot be searched' : visitorMessage(answer.code, answer.message);
        expect(r.body).toContain(escaped(shown));
        if (status !== 400 && shown !== answer.message) expect(r.stderr).toContain(answer.message);
        if (status === 503) expect(r.headers['retry-after']).toBe('5');
      }
      const [json] = await Promise.all([
        runCgi({ runtime, query: 'q=minal&format=json', env: { ROQ_RUN_DIR: held.run } }),
        answerNext(held, { status: 'error', code: 'ROQ_PARAM_INVALID', message: 'bad q', param: 'q' }),
      ]);
      expect(JSON.parse(json.body)).toEqual({ error: { code: 'ROQ_PARAM_INVALID', message: 'bad q', param: 'q' } });
      expect(answerFifos(held.run)).toEqual([]);
    } finally {
      held.close();
    }
  });

  it('answers 405 for DELETE, naming the allowed methods', async () => {
    const r = await runCgi({ runtime, method: 'DELETE', query: 'q=minal&format=json', env: { ROQ_RUN_DIR: empty } });
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD, POST');
    expect(jsonError(r).code).toBe('ROQ_METHOD');
  });

  it('answers 413 for a body over 16 KiB, read or not', async () => {
    const big = await runCgi({ runtime, method: 'POST', body: 'q=' + 'x'.repeat(20_000), env: { ROQ_RUN_DIR: empty } });
    expect(big.status).toBe(413);
    expect(big.body).toContain('ROQ_REQUEST_TOO_LARGE');
    const claimed = await runCgi({
      runtime,
      method: 'POST',
      body: 'q=x',
      env: { ROQ_RUN_DIR: empty, CONTENT_LENGTH: '16385' },
    });
    expect(claimed.status).toBe(413);
  });

  it('refuses bodies it cannot read: wrong type, broken escapes, cut short', async () => {
    const multipart = await runCgi({
      runtime,
      method: 'POST',
      body: 'q=x',
      contentType: 'multipart/form-data; boundary=x',
      env: { ROQ_RUN_DIR: empty },
    });
    expect(multipart.status).toBe(415);
    const broken = await runCgi({ runtime, method: 'POST', body: 'q=%E0%A4%A', env: { ROQ_RUN_DIR: empty } });
    expect(broken.status).toBe(400);
    expect(broken.body).toContain('ROQ_FORM_ENCODING');
    expect(broken.body).toContain('a broken %-escape in the request body');
    // Well-formed escapes of bytes that are not UTF-8: the escape is not what is wrong.
    const latin1 = await runCgi({ runtime, query: 'q=%FF', env: { ROQ_RUN_DIR: empty } });
    expect(latin1.status).toBe(400);
    expect(latin1.body).toContain('the query string has %-escaped bytes that are not UTF-8 text');
    const short = await runCgi({
      runtime,
      method: 'POST',
      body: 'q=x',
      env: { ROQ_RUN_DIR: empty, CONTENT_LENGTH: '10' },
    });
    expect(short.status).toBe(400);
    expect(short.body).toContain('ended after 3 of 10 bytes');
  });
});

const EXE = join(ROOT, 'dist/roq-cgi');

describe.skipIf(!fs.existsSync(EXE))('the compiled CGI program (dist/roq-cgi)', () => {
  it('reads no .env or bunfig.toml from its working directory: files in cgi-bin do not configure it', () => {
    // Bun executables load both by default; whoever may write into the web server's working directory could then
    // set the program's variables or preload code into it (scripts/cgi-compile-flags.json turns both off).
    const dir = fs.mkdtempSync(join(fs.realpathSync(tmpdir()), 'roq-cgi-cwd-'));
    try {
      fs.writeFileSync(join(dir, '.env'), 'SCRIPT_NAME=/from-dotenv\n');
      fs.writeFileSync(
        join(dir, 'preload.js'),
        `require('fs').writeFileSync(${JSON.stringify(join(dir, 'preloaded'))}, 'x');\n`,
      );
      fs.writeFileSync(join(dir, 'bunfig.toml'), 'preload = ["./preload.js"]\n');
      const env: Record<string, string> = cgiEnv({
        query: 'stop=202&date=2026-11-09&after=25:61',
        env: { ROQ_RUN_DIR: empty },
      });
      delete env.SCRIPT_NAME;
      const r = spawnSync(EXE, [], { cwd: dir, env, encoding: 'utf8', timeout: 15_000 });
      expect(r.stdout).toContain('Status: 400');
      expect(r.stdout).toContain('<form');
      expect(r.stdout).not.toContain('/from-dotenv');
      expect(fs.existsSync(join(dir, 'preloaded'))).toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
