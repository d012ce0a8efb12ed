/**
 * The web path's fuzzer: seeded hostile requests (random bytes, invalid UTF-8, broken %-escapes, huge and negative
 * numbers, impossible dates and times, HTML and script injection, overlong query strings and bodies, unknown
 * methods, missing or odd CGI variables) are forwarded as the relay forwards them, as web requests to a real
 * daemon whose workers render them, thousands a second. Every one must get a well-formed response with an
 * expected status, a Content-Length that says its size, all data escaped, in bounded time; memory must stay
 * bounded. test/fuzz.test.ts runs a
 * bounded count in CI (plus a few hundred through the real program as a process); `node dist/fuzz.js --count
 * 100000` is the long run.
 */
import { webFieldsOf } from '../src/web/env.js';
import { openWebChannel } from '../src/client.js';
import { MAX_REQUEST_BYTES, webRequestFits } from '../src/protocol.js';
import type { WebFields } from '../src/web-protocol.js';
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
// 404: a path naming no query (ROQ_QUERY_UNKNOWN), or the board of a stop no station has; 414: a URL too long for
// one request line (the relay's own page).
export const STATUSES = new Set([200, 400, 404, 405, 413, 414, 415]);

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

/** A CGI response's status, headers (lower-case names) and body bytes; undefined without a header block. */
export function splitCgiResponse(
  bytes: Uint8Array,
): { status: number; headers: Record<string, string>; body: Buffer } | undefined {
  const all = Buffer.from(bytes);
  const end = all.indexOf('\n\n');
  if (end < 0) return undefined;
  const headers: Record<string, string> = {};
  for (const line of all.subarray(0, end).toString('utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 1) return undefined;
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: Number((headers.status ?? '200').split(' ')[0]), headers, body: all.subarray(end + 2) };
}

/** The problems of one response's framing: Content-Length must say the body's size (HEAD: the size GET would have). */
function framingProblems(r: NonNullable<ReturnType<typeof splitCgiResponse>>, head: boolean): string[] {
  if (r.status === 304) return r.body.length === 0 ? [] : ['a 304 with a body'];
  const length = r.headers['content-length'];
  if (length === undefined) return ['no Content-Length'];
  if (head) return r.body.length === 0 ? [] : ['a HEAD response with a body'];
  return Number(length) === r.body.length ? [] : [`Content-Length ${length} for a body of ${r.body.length} bytes`];
}

/**
 * One hostile request as a relay forwards it (relay.c): CONTENT_LENGTH bytes of the body read (none when it is
 * not a byte count), and the relay's own 413 or 414 when the request cannot fit one line.
 */
function relayed(req: CgiRequest): { web: WebFields } | { own: number } {
  const env = cgiEnv(req);
  const length = /^[0-9]{1,9}$/.test(env.CONTENT_LENGTH ?? '') ? Number(env.CONTENT_LENGTH) : 0;
  const body = Buffer.from(req.body ?? '').subarray(0, length);
  if (body.length > MAX_REQUEST_BYTES) return { own: 413 };
  const web = webFieldsOf(env, body.toString('utf8'));
  if (webRequestFits(web)) return { web };
  return { own: webRequestFits({ ...web, body: '' }) ? 413 : 414 };
}

/**
 * Runs `count` seeded hostile requests through the daemon's web path on `run` — forwarded as the relay would,
 * answered by its workers — `parallel` at a time, each over its own long-lived answer FIFO (client.openWebChannel).
 */
export async function fuzzWebPath(run: string, count: number, seed: number, parallel = 8): Promise<FuzzResult> {
  const r = rng(seed);
  const statuses: Record<number, number> = {};
  const failures: string[] = [];
  let maxMs = 0;
  const rss0 = process.memoryUsage().rss;
  let made = 0;
  const budget = Date.now() + Math.max(60_000, count * 5);
  const channels = Array.from({ length: parallel }, () => openWebChannel(run));
  try {
    await Promise.all(
      channels.map(async (channel) => {
        while (made < count && Date.now() < budget) {
          made++;
          const req = randomRequest(r, run);
          const forward = relayed(req);
          if ('own' in forward) {
            statuses[forward.own] = (statuses[forward.own] ?? 0) + 1;
            continue;
          }
          const t0 = performance.now();
          const response = splitCgiResponse(await channel.request(forward.web, 10_000));
          const ms = performance.now() - t0;
          maxMs = Math.max(maxMs, ms);
          const head = forward.web.method === 'HEAD'; // REQUEST_METHOD may be unset: a GET
          const problems = response
            ? [
                ...checkResponse(response.status, response.headers, response.body.toString('utf8'), head),
                ...framingProblems(response, head),
              ]
            : ['no CGI header block'];
          if (ms > 5000) problems.push(`took ${Math.round(ms)} ms`);
          if (problems.length > 0 && failures.length < 20)
            failures.push(`${req.method} ${JSON.stringify(req.query?.slice(0, 120))}: ${problems.join(', ')}`);
          if (response) statuses[response.status] = (statuses[response.status] ?? 0) + 1;
        }
      }),
    );
  } finally {
    for (const c of channels) c.close();
  }
  return { count: made, statuses, failures, maxMs, rssGrowthMb: (process.memoryUsage().rss - rss0) / 1048576 };
}
