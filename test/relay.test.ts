/**
 * The relay (src/relay/relay.c) against a hostile daemon: the test holds REQUESTS and the relay's answer FIFO and
 * plays every part a daemon, or someone else who may write into the FIFO, could play. Every case runs the release
 * build (dist/roq-relay) and a build with AddressSanitizer and UndefinedBehaviorSanitizer; the fuzzer at the end
 * drives the sanitized one with random environments, bodies and answers. What must hold throughout: stdout is
 * either the proven answer's bytes exactly or one of the relay's own fixed pages; the relay never crashes, never
 * outlives its deadline, and removes its FIFO. The protocol-sync block keeps relay.c's constants and request
 * grammar in step with src/protocol.ts and src/web-protocol.ts. Build first (`npm test` does).
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RESPONSE_FIFO_MODE } from '../src/client.js';
import { DEFAULT_RUN_DIR, DEFAULT_TIMEOUT_MS } from '../src/web/env.js';
import { CATALOG } from '../src/errors.js';
import {
  CLIENT_PROOF_CHARS,
  encodeRequest,
  MAX_REQUEST_BYTES,
  REQUESTS_FIFO,
  responseFifoName,
  WEB_MAGIC,
  WEB_WORD,
} from '../src/protocol.js';
import { encodeWebAnswer, MAX_WEB_RESPONSE_BYTES, WEB_FIELDS, WEB_VERSION } from '../src/web-protocol.js';
import { randomToken } from '../src/token.js';
import { cgiEnv } from './helpers/cgi-env.js';
import { makeRunDir } from './helpers/daemon.js';
import { rng } from './helpers/rng.js';
import {
  buildSanitizedRelay,
  HostileDaemon,
  RELAY,
  RELAY_SOURCE,
  runRelay,
  sanitizerReport,
  writeAnswer,
  type Received,
  type RelayResult,
} from './helpers/relay.js';

const work = fs.mkdtempSync(join(tmpdir(), 'roq-relay-test-'));
let asan = '';
const runs: string[] = [];
const daemons: HostileDaemon[] = [];

beforeAll(() => {
  asan = buildSanitizedRelay(work);
}, 120_000);

afterEach(() => {
  for (const d of daemons.splice(0)) d.close();
});

afterAll(() => {
  for (const r of runs) fs.rmSync(r, { recursive: true, force: true });
  fs.rmSync(work, { recursive: true, force: true });
});

function runDir(): string {
  const run = makeRunDir();
  runs.push(run);
  return run;
}

function hostile(run = runDir()): HostileDaemon {
  const d = new HostileDaemon(run);
  daemons.push(d);
  return d;
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

/** A CGI response as a worker writes it, with bytes that are not text, CRLF, and a Content-Length. */
function webResponse(body: Buffer = Buffer.from([0x7b, 0x00, 0xff, 0x0a, 0x72, 0x6f, 0x71, 0x3d, 0x33, 0x0a, 0x7d])) {
  return Buffer.concat([
    utf8(`Status: 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
}

function env(run: string, extra: Record<string, string> = {}, timeoutMs = 5000): Record<string, string> {
  return cgiEnv({ env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: String(timeoutMs), ...extra } });
}

/** Runs the relay while `answer` plays the daemon for the one request line it writes. */
async function relayAgainst(
  program: string,
  daemon: HostileDaemon,
  e: Record<string, string>,
  answer: (r: Received) => Promise<unknown>,
  body?: Buffer,
): Promise<{ result: RelayResult; received: Received | undefined }> {
  const relay = runRelay({ program, env: e, ...(body ? { body } : {}) });
  let received: Received | undefined;
  const played = Promise.race([
    daemon.next(20_000).then(async (r) => {
      received = r;
      await answer(r);
    }),
    relay.then(() => undefined),
  ]).catch(() => undefined);
  const result = await relay;
  await played;
  return { result, received };
}

function ownPage(r: RelayResult, status: number): void {
  expect(r.status, r.raw.toString('latin1') + r.stderr).toBe(status);
  expect(r.headers['content-type']).toBe('text/plain; charset=utf-8');
  expect(r.headers['cache-control']).toBe('no-store');
  expect(Number(r.headers['content-length'])).toBe(r.body.length);
  expect(r.body.toString()).toMatch(/^ROQ_[A-Z_]+: [^/\n]+\n$/);
}

function clean(r: RelayResult, run: string): void {
  expect(sanitizerReport(r.stderr), r.stderr).toBe(false);
  expect(r.signal, r.stderr).toBeNull();
  expect(r.code, r.stderr).toBe(0);
  expect(fs.readdirSync(run).filter((f) => f.startsWith('resp.'))).toEqual([]);
}

const BUILDS = [
  ['release', () => RELAY],
  ['sanitized', () => asan],
] as const;

describe.each(BUILDS)('the relay (%s build)', (_name, program) => {
  it('copies a proven answer to stdout byte for byte, and nothing else', async () => {
    const daemon = hostile();
    const response = webResponse();
    const { result, received } = await relayAgainst(program(), daemon, env(daemon.run), (r) =>
      writeAnswer(r.fifo, [encodeWebAnswer(r.request.proof, response)]),
    );
    expect(received).toBeDefined();
    expect(result.raw.equals(response)).toBe(true);
    clean(result, daemon.run);
  });

  it('writes the request line protocol.ts writes for the same environment', async () => {
    const daemon = hostile();
    const e = env(daemon.run, {
      REQUEST_METHOD: 'POST',
      SCRIPT_NAME: '/cgi-bin/roq relay',
      PATH_INFO: '/departures/ü',
      QUERY_STRING: 'stop=Jamaica&x=%41+b&&=&format=json',
      CONTENT_TYPE: 'application/x-www-form-urlencoded; charset=UTF-8',
      HTTP_IF_NONE_MATCH: '"abc", W/"def"',
      ROQ_NOW: '2026-11-02T07:58:00-05:00',
    });
    const body = utf8('stop=Penn+Station&q=%E2%82%AC&n=a b\n\r');
    const { received } = await relayAgainst(
      program(),
      daemon,
      { ...e, CONTENT_LENGTH: String(body.length) },
      (r) => writeAnswer(r.fifo, [encodeWebAnswer(r.request.proof, webResponse())]),
      body,
    );
    const web = received!.request.web;
    expect(web).toMatchObject({
      method: 'POST',
      script: '/cgi-bin/roq relay',
      path: '/departures/ü',
      query: 'stop=Jamaica&x=%41+b&&=&format=json',
      contentType: 'application/x-www-form-urlencoded; charset=UTF-8',
      contentLength: String(body.length),
      body: body.toString(),
      ifNoneMatch: '"abc", W/"def"',
      now: '2026-11-02T07:58:00-05:00',
    });
    expect(received!.line + '\n').toBe(encodeRequest(received!.request));
    expect(received!.request.pid).toBeGreaterThan(1);
  });

  it('skips answers without the proof and spliced garbage, then takes the proven one cut anywhere', async () => {
    const daemon = hostile();
    const response = webResponse(Buffer.alloc(70_000, 0x61));
    const { result } = await relayAgainst(program(), daemon, env(daemon.run), async (r) => {
      const forged = encodeWebAnswer(randomToken(18), utf8('Status: 200 OK\r\n\r\nforged'));
      const proven = Buffer.from(encodeWebAnswer(r.request.proof, response));
      const cuts = [1, 7, 13, 40, 41, 4096, 65_536, proven.length - 3, proven.length - 1];
      const pieces = cuts.map((c, i) => proven.subarray(i ? cuts[i - 1]! : 0, c));
      pieces.push(proven.subarray(cuts.at(-1)!));
      await writeAnswer(r.fifo, [utf8('roq=3\nroq=3\nproof=\n'), forged, utf8('garbage roq=3'), ...pieces]);
    });
    expect(result.raw.equals(response)).toBe(true);
    clean(result, daemon.run);
  });

  it('answers 503 at its deadline when only forged answers come, writing none of their bytes', async () => {
    const daemon = hostile();
    const { result } = await relayAgainst(program(), daemon, env(daemon.run, {}, 400), (r) =>
      writeAnswer(r.fifo, [encodeWebAnswer(randomToken(18), utf8('Status: 200 OK\r\n\r\nFORGED'))]),
    );
    ownPage(result, 503);
    expect(result.headers['retry-after']).toBeDefined();
    expect(result.raw.includes('FORGED')).toBe(false);
    clean(result, daemon.run);
  });

  it('answers 503 at its deadline when the daemon never answers, or stops mid-answer', async () => {
    for (const cut of [0, 30]) {
      const daemon = hostile();
      const { result } = await relayAgainst(program(), daemon, env(daemon.run, {}, 300), (r) =>
        writeAnswer(r.fifo, [Buffer.from(encodeWebAnswer(r.request.proof, webResponse())).subarray(0, cut)]),
      );
      ownPage(result, 503);
      expect(result.ms).toBeLessThan(300 + 5000); // the deadline ends it, not the test's kill
      clean(result, daemon.run);
      daemon.close();
    }
  });

  it('skips a proven head whose digest or length does not hold: another writer spliced bytes into it', async () => {
    const tamper: ((proof: string) => Uint8Array)[] = [
      (proof) => {
        const a = Buffer.from(encodeWebAnswer(proof, webResponse()));
        a[a.length - 30] = a[a.length - 30]! ^ 1; // one bit of the response
        return a;
      },
      (proof) => utf8(`roq=3\nproof=${proof}\nlength=1x\nSECRET`),
      (proof) => utf8(`roq=3\nproof=${proof}\nlength=6\nSECRETend=0000000000000000\n`),
    ];
    for (const t of tamper) {
      const daemon = hostile();
      const { result } = await relayAgainst(program(), daemon, env(daemon.run, {}, 300), (r) =>
        writeAnswer(r.fifo, [t(r.request.proof)]),
      );
      ownPage(result, 503);
      expect(result.raw.includes('SECRET')).toBe(false);
      clean(result, daemon.run);
      daemon.close();
    }
  });

  it('refuses at once, with a 500, a proven answer larger than it may hold', async () => {
    const daemon = hostile();
    const { result } = await relayAgainst(program(), daemon, env(daemon.run), (r) =>
      writeAnswer(r.fifo, [utf8(`roq=3\nproof=${r.request.proof}\nlength=${MAX_WEB_RESPONSE_BYTES + 1}\n`)]),
    );
    ownPage(result, 500);
    clean(result, daemon.run);
  });

  it('relays an answer of the largest size a worker may write', async () => {
    const daemon = hostile();
    const head = utf8('Status: 200 OK\r\n\r\n');
    const response = Buffer.concat([head, Buffer.alloc(MAX_WEB_RESPONSE_BYTES - head.length, 0x62)]);
    const { result } = await relayAgainst(program(), daemon, env(daemon.run, {}, 20_000), (r) =>
      writeAnswer(r.fifo, [encodeWebAnswer(r.request.proof, response)], 20_000),
    );
    expect(result.raw.length).toBe(response.length);
    expect(result.raw.equals(response)).toBe(true);
    clean(result, daemon.run);
  }, 60_000);

  it('reads a body too large for a request line whole, then answers 413 itself; a long URL gets 414', async () => {
    const daemon = hostile();
    const body = Buffer.alloc(200_000, 0x61);
    const big = await runRelay({
      program: program(),
      env: { ...env(daemon.run, { REQUEST_METHOD: 'POST' }), CONTENT_LENGTH: String(body.length) },
      body,
    });
    ownPage(big, 413);
    expect(big.stderr).not.toMatch(/EPIPE/);
    clean(big, daemon.run);
    const long = await runRelay({ program: program(), env: env(daemon.run, { QUERY_STRING: 'q='.padEnd(2000, '%') }) });
    ownPage(long, 414);
    clean(long, daemon.run);
    const head = await runRelay({
      program: program(),
      env: env(daemon.run, { REQUEST_METHOD: 'HEAD', QUERY_STRING: 'x'.repeat(MAX_REQUEST_BYTES) }),
    });
    expect(head.status).toBe(414);
    expect(head.body.length).toBe(0);
    expect(daemon.rejected).toEqual([]);
  });

  it('forwards a body cut short, late or with a bogus CONTENT_LENGTH as it came, for the daemon to refuse', async () => {
    const cases: { cl: string; body?: Buffer; keepStdin?: boolean; b: string }[] = [
      { cl: '100', body: utf8('stop=x'), b: 'stop=x' },
      { cl: '100', keepStdin: true, b: '' },
      { cl: '-1', body: utf8('stop=x'), b: '' },
    ];
    for (const c of cases) {
      const daemon = hostile();
      const e = {
        ...env(daemon.run, { REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain' }, 300),
        CONTENT_LENGTH: c.cl,
      };
      let received: Received | undefined;
      const answered = daemon.next().then((r) => {
        received = r;
        return writeAnswer(r.fifo, [encodeWebAnswer(r.request.proof, webResponse())]);
      });
      const result = await runRelay({ program: program(), env: e, ...c });
      await answered;
      expect(received!.request.web).toMatchObject({ contentLength: c.cl, body: c.b, contentType: 'text/plain' });
      expect(result.raw.equals(webResponse())).toBe(true);
      clean(result, daemon.run);
      daemon.close();
    }
  });

  it('answers 503 without writing a request when no daemon reads REQUESTS or it is not the daemon’s', async () => {
    const none = runDir();
    ownPage(await runRelay({ program: program(), env: env(none) }), 503);
    // REQUESTS made by someone else than the run directory's owner: the relay must not hand it a request.
    const run = runDir();
    const fifo = join(run, REQUESTS_FIFO);
    const daemon = hostile(run);
    fs.chownSync(fifo, 65534, 65534);
    const { result, received } = await relayAgainst(program(), daemon, env(run, {}, 500), async () => undefined);
    ownPage(result, 503);
    expect(received).toBeUndefined();
    clean(result, run);
  });
});

describe('the relay with an answer cut at every byte', () => {
  it('takes a proven answer written in two parts, whichever byte the cut falls before', async () => {
    const daemon = hostile();
    const response = webResponse(utf8('{"rows":[]}'));
    for (let cut = 0; cut <= 120; cut++) {
      const { result } = await relayAgainst(RELAY, daemon, env(daemon.run), async (r) => {
        const whole = Buffer.from(encodeWebAnswer(r.request.proof, response));
        await writeAnswer(r.fifo, [whole.subarray(0, Math.min(cut, whole.length)), whole.subarray(cut)]);
      });
      expect(result.raw.equals(response), `cut before byte ${cut}: ${result.raw.toString()}`).toBe(true);
    }
    expect(fs.readdirSync(daemon.run).filter((f) => f.startsWith('resp.'))).toEqual([]);
  }, 60_000);
});

describe('the relay under a fuzzer (sanitized build, hostile environment, bodies and answers)', () => {
  const ROUNDS = 40;
  const TIMEOUT = 400;
  const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const bytes = (r: () => number, n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)));
  const text = (r: () => number, n: number) =>
    Array.from({ length: n }, () => pick(r, ['a', '%', '&', '=', '+', ' ', 'é', '€', '\n', '"', '/', '%zz', '0'])).join(
      '',
    );

  type Action = 'proven' | 'cut' | 'forged' | 'flipped' | 'silent' | 'huge' | 'junk-then-proven';
  const ACTIONS: Action[] = ['proven', 'cut', 'forged', 'flipped', 'silent', 'huge', 'junk-then-proven'];

  it(`never crashes, hangs or writes unproven bytes in ${ROUNDS} rounds`, async () => {
    const r = rng(22).next;
    for (let round = 0; round < ROUNDS; round++) {
      const daemon = hostile();
      const action = pick(r, ACTIONS);
      const method = pick(r, ['GET', 'POST', 'HEAD', 'PUT', '', 'G\u00e9T']);
      const body = r() < 0.5 ? bytes(r, Math.floor(r() ** 3 * 9000)) : undefined;
      const e: Record<string, string> = env(
        daemon.run,
        {
          REQUEST_METHOD: method,
          QUERY_STRING: r() < 0.05 ? 'q='.padEnd(60_000, 'é') : text(r, Math.floor(r() ** 2 * 1500)),
          PATH_INFO: text(r, Math.floor(r() * 40)),
          HTTP_IF_NONE_MATCH: text(r, Math.floor(r() * 60)),
        },
        TIMEOUT,
      );
      if (body)
        e.CONTENT_LENGTH = r() < 0.9 ? String(body.length) : pick(r, ['', 'x', '99999999999', String(body.length + 5)]);
      const marker = `MARK${round}x${randomToken(6)}`;
      const response = webResponse(Buffer.concat([utf8(marker), bytes(r, Math.floor(r() ** 4 * 200_000))]));
      const { result, received } = await relayAgainst(
        asan,
        daemon,
        e,
        async (got) => {
          const proven = Buffer.from(encodeWebAnswer(got.request.proof, response));
          const at = 1 + Math.floor(r() * (proven.length - 2));
          const chunks: Record<Action, () => Uint8Array[]> = {
            proven: () => [proven],
            cut: () => [proven.subarray(0, at)],
            forged: () => [encodeWebAnswer(randomToken(18), response)],
            flipped: () => {
              const f = Buffer.from(proven);
              f[at] = f[at]! ^ (1 << Math.floor(r() * 8));
              return [f];
            },
            silent: () => [],
            huge: () => [utf8(`roq=3\nproof=${got.request.proof}\nlength=99999999\n`), bytes(r, 100_000)],
            'junk-then-proven': () => [bytes(r, 3000), utf8('roq=3\n'), proven.subarray(0, at), proven.subarray(at)],
          };
          await writeAnswer(got.fifo, chunks[action](), 5000);
        },
        body,
      );
      const what = `round ${round} (${action}, ${method}): ${result.stderr}`;
      expect(sanitizerReport(result.stderr), what).toBe(false);
      expect(result.signal, what).toBeNull();
      expect(result.code, what).toBe(0);
      expect(result.ms, what).toBeLessThan(TIMEOUT * 2 + 5000);
      expect(
        fs.readdirSync(daemon.run).filter((f) => f.startsWith('resp.')),
        what,
      ).toEqual([]);
      if (received && (action === 'proven' || action === 'junk-then-proven')) {
        expect(result.raw.equals(response), what).toBe(true);
      } else {
        expect(result.raw.includes(marker), what).toBe(false);
        expect([413, 414, 500, 503], what).toContain(result.status);
      }
      daemon.close();
    }
  }, 120_000);
});

describe('relay.c and protocol.ts, web-protocol.ts agree', () => {
  const source = fs.readFileSync(RELAY_SOURCE, 'utf8');
  /** The value of `#define NAME value`, with C string literals and simple arithmetic taken as JavaScript. */
  function define(name: string): string | number {
    const m = new RegExp(`^#define ${name} (.+)$`, 'm').exec(source);
    if (!m) throw new Error(`relay.c defines no ${name}`);
    const v = m[1]!.trim();
    if (v.startsWith('"')) return JSON.parse(v) as string;
    if (/^0[0-7]+$/.test(v)) return parseInt(v, 8);
    if (!/^[0-9 ()*+]+$/.test(v)) throw new Error(`${name} is ${v}`);
    return Function(`return ${v}`)() as number;
  }

  it("has the protocol's constants", () => {
    expect(define('MAX_REQUEST_BYTES')).toBe(MAX_REQUEST_BYTES);
    expect(define('WEB_MAGIC')).toBe(WEB_MAGIC);
    expect(define('WEB_KIND')).toBe(WEB_WORD);
    expect(define('ANSWER_HEAD')).toBe(`roq=${WEB_VERSION}\n`);
    expect(define('MAX_WEB_RESPONSE_BYTES')).toBe(MAX_WEB_RESPONSE_BYTES);
    expect(`${define('RESPONSE_PREFIX')}1.t`).toBe(responseFifoName(1, 't'));
    expect(define('REQUESTS_FIFO')).toBe(REQUESTS_FIFO);
    expect(define('RESPONSE_FIFO_MODE')).toBe(RESPONSE_FIFO_MODE);
    expect(define('TOKEN_CHARS')).toBe(randomToken().length);
    expect(define('PROOF_CHARS')).toBe(CLIENT_PROOF_CHARS);
    expect(define('DEFAULT_RUN_DIR')).toBe(DEFAULT_RUN_DIR);
    expect(define('DEFAULT_TIMEOUT_MS')).toBe(DEFAULT_TIMEOUT_MS);
  });

  it("writes the form fields in web-protocol.ts's order, from the variables it names", () => {
    const table = /FIELDS\[\] = \{([\s\S]*?)\};/.exec(source)![1]!;
    const names = [...table.matchAll(/\{ '([a-z])', (?:"([A-Z_]+)"|NULL) \}/g)].map((m) => m[1]);
    expect(names).toEqual(WEB_FIELDS.map(([name]) => name));
  });

  it('answers its own pages with codes and statuses of the catalog', () => {
    const pages = [...source.matchAll(/\{ "([0-9]{3}) [^"]+", "(ROQ_[A-Z_]+)"/g)];
    expect(pages.length).toBeGreaterThan(4);
    for (const [, status, code] of pages) {
      expect(code! in CATALOG, code).toBe(true);
      if (code !== 'ROQ_PROTOCOL')
        expect([Number(status), 413].includes(CATALOG[code as keyof typeof CATALOG].status), code).toBe(true);
    }
  });
});
