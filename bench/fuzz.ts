/**
 * The web path's fuzzer, in process: seeded hostile requests (random bytes, invalid UTF-8, broken %-escapes, huge
 * and negative numbers, impossible dates and times, HTML and script injection, overlong query strings and bodies,
 * unknown methods, missing or odd CGI variables) go through the CGI program's own request handler
 * (src/cgi/handler.ts) against a real daemon, thousands a second. Every one must get a well-formed response with
 * an expected status, all data escaped, in bounded time; memory must stay bounded. test/fuzz.test.ts runs a
 * bounded count in CI (plus a few hundred through the real program as a process); `node dist/fuzz.js --count
 * 100000` is the long run.
 */
import { roqError } from '../src/errors.js';
import { handleRequest } from '../src/cgi/handler.js';
import { cgiEnv, type CgiRequest } from '../test/helpers/cgi-env.js';
import { rng } from '../test/helpers/rng.js';

export const SCRIPT = '<script>alert(1)</script>';
const IMG = '"><img src=x onerror=alert(1)>';
const NAMES = [
  'stop',
  'date',
  'after',
  'route',
  'limit',
  'q',
  'format',
  '',
  'x',
  'stop[]',
  '%',
  '__proto__',
  'constructor',
  'STOP',
  'hasOwnProperty',
];
const VALUES = [
  '102',
  '237',
  '2026-11-02',
  '2026-02-30',
  '9999-99-99',
  '2026-1-1',
  '-1',
  '08:00',
  '25:61',
  '23:59:59',
  '8:0',
  '24:00',
  '00:00:60',
  '0',
  '1',
  '100',
  '101',
  '-5',
  '1e9',
  '99999999999999999999',
  '-99999999999999999999',
  '0x10',
  ' 5',
  'NaN',
  'Infinity',
  'json',
  'html',
  encodeURIComponent(SCRIPT),
  encodeURIComponent(IMG),
  "'%3B%20DROP%20TABLE",
  '%',
  '%G1',
  '%E2%82',
  '%FF%FE',
  '%C0%AF',
  '%ED%A0%80',
  'x'.repeat(5000),
  encodeURIComponent('Zürich 🚆'),
  '%00',
  '%0A%0D',
  '+++',
  '&&&',
  '==',
  '%26%3D',
  '{{title}}',
  '${x}',
];
const METHODS = ['GET', 'GET', 'GET', 'POST', 'POST', 'HEAD', 'DELETE', 'PUT', 'BREW', '', 'get', 'G\u0000T'];
// 404: a path naming no query (ROQ_QUERY_UNKNOWN), or the board of a stop no station has.
export const STATUSES = new Set([200, 400, 404, 405, 413, 415]);

/** Random bytes as a query-string fragment (percent-encoded or raw, invalid UTF-8 included). */
function randomBytes(r: ReturnType<typeof rng>): string {
  const n = r.int(0, 40);
  let s = '';
  for (let i = 0; i < n; i++) {
    const b = r.int(0, 255);
    s += r.next() < 0.5 ? `%${b.toString(16).padStart(2, '0')}` : String.fromCharCode(b);
  }
  return s;
}

function randomQuery(r: ReturnType<typeof rng>): string {
  const n = Math.floor(r.next() * 6);
  const parts: string[] = [];
  for (let i = 0; i < n; i++) {
    const x = r.next();
    parts.push(
      x < 0.1
        ? r.pick(VALUES)
        : x < 0.2
          ? randomBytes(r)
          : `${r.pick(NAMES)}=${r.next() < 0.15 ? randomBytes(r) : r.pick(VALUES)}`,
    );
  }
  if (r.next() < 0.3) parts.push('format=json');
  if (r.next() < 0.02) parts.push('q=' + 'y'.repeat(70_000));
  if (r.next() < 0.02) parts.push(Array.from({ length: 200 }, (_, i) => `f${i}=1`).join('&'));
  return parts.join('&');
}

/** One hostile request, as a web server would present it to the CGI program. */
export function randomRequest(r: ReturnType<typeof rng>, run: string): CgiRequest {
  const method = r.pick(METHODS);
  const req: CgiRequest = {
    method,
    query: randomQuery(r),
    env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '3000' },
    timeoutMs: 10_000,
  };
  if (method === 'POST') {
    req.body = r.next() < 0.1 ? 'z'.repeat(20_000) : randomQuery(r);
    if (r.next() < 0.2)
      req.contentType = r.pick([
        'multipart/form-data; boundary=x',
        'text/plain',
        '',
        'application/x-www-form-urlencoded; charset=utf-8',
        'APPLICATION/X-WWW-FORM-URLENCODED',
      ]);
    if (r.next() < 0.15) req.env!.CONTENT_LENGTH = r.pick(['-1', 'abc', '99999999999', '5', '', '1e3', '0x10']);
  }
  if (r.next() < 0.05) req.env!.QUERY_STRING = undefined as unknown as string;
  if (r.next() < 0.03) req.env!.REQUEST_METHOD = undefined as unknown as string;
  if (r.next() < 0.03) req.env!.SCRIPT_NAME = `/x"><script>`;
  return req;
}

export interface FuzzResult {
  count: number;
  statuses: Record<number, number>;
  failures: string[];
  maxMs: number;
  rssGrowthMb: number;
}

/** What a well-formed response to a hostile request looks like; returns the problems found. */
export function checkResponse(status: number, headers: Record<string, string>, body: string, head: boolean): string[] {
  const problems: string[] = [];
  if (!STATUSES.has(status)) problems.push(`status ${status}`);
  const type = headers['content-type'] ?? '';
  if (!/; charset=utf-8$/.test(type)) problems.push(`content-type '${type}'`);
  if (body.includes(SCRIPT) || body.includes('<img src=x') || body.includes('<script>'))
    problems.push('unescaped markup in the body');
  if (!head && type.startsWith('application/json')) {
    try {
      JSON.parse(body);
    } catch {
      problems.push('malformed JSON');
    }
  }
  if (!head && type.startsWith('text/html') && !body.startsWith('<!doctype html>')) problems.push('not an HTML page');
  return problems;
}

/** Runs `count` seeded hostile requests through the handler against the daemon on `run`, `parallel` at a time. */
export async function fuzzWebPath(run: string, count: number, seed: number, parallel = 8): Promise<FuzzResult> {
  const r = rng(seed);
  const statuses: Record<number, number> = {};
  const failures: string[] = [];
  let maxMs = 0;
  const rss0 = process.memoryUsage().rss;
  let made = 0;
  const budget = Date.now() + Math.max(60_000, count * 5);
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (made < count && Date.now() < budget) {
        made++;
        const req = randomRequest(r, run);
        const env = cgiEnv(req);
        const bodyText = req.body ?? '';
        // The web server sends CONTENT_LENGTH bytes of body; a shorter one ends early, as a closed pipe would.
        const body = (length: number) => {
          const bytes = Buffer.from(bodyText);
          return bytes.length >= length
            ? Promise.resolve(bytes.subarray(0, length).toString('utf8'))
            : Promise.reject(
                roqError('ROQ_FORM_ENCODING', { detail: `the body ended after ${bytes.length} of ${length} bytes` }),
              );
        };
        const t0 = performance.now();
        const { response, head } = await handleRequest(env, body, (text) =>
          failures.push(`internal error: ${text.slice(0, 300)}`),
        );
        const ms = performance.now() - t0;
        maxMs = Math.max(maxMs, ms);
        const headers = Object.fromEntries(response.headers.map(([k, v]) => [k.toLowerCase(), v]));
        const problems = checkResponse(response.status, headers, head ? '' : response.body, head);
        if (ms > 5000) problems.push(`took ${Math.round(ms)} ms`);
        if (problems.length > 0 && failures.length < 20)
          failures.push(`${req.method} ${JSON.stringify(req.query?.slice(0, 120))}: ${problems.join(', ')}`);
        statuses[response.status] = (statuses[response.status] ?? 0) + 1;
      }
    }),
  );
  return { count: made, statuses, failures, maxMs, rssGrowthMb: (process.memoryUsage().rss - rss0) / 1048576 };
}
