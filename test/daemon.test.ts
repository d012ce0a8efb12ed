/**
 * The daemon over its FIFOs, and the CLI around it: what a writer into REQUESTS can get wrong (garbage, over-long
 * lines, another protocol version, a client that vanished) costs a log line or an error answer and never the
 * daemon; validation happens before the daemon is contacted; status and help say what an admin needs.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { encodeRequest, MAX_REQUEST_BYTES } from '../src/protocol.js';
import {
  answerFifo,
  LIRR,
  makeRunDir,
  roqCli,
  startDaemon,
  waitFor,
  writeRequests,
  type RunningDaemon,
} from './helpers/daemon.js';

const STOPS = { query: 'stops', params: { q: 'minal' } };
const logOf = (d: RunningDaemon) => fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8');

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ workers: 2 });
});
afterAll(async () => {
  await d?.stop();
});

async function stillServes(): Promise<void> {
  const a = await ask(d.run, STOPS.query, STOPS.params, { timeoutMs: 30_000 });
  expect(a.status).toBe('ok');
  if (a.status === 'ok') expect(a.rows[0]?.[1]).toBe('Atlantic Terminal');
}

describe('requests through the FIFOs', () => {
  it('answers through the client library, with the generation and typed fields', async () => {
    const a = await ask(
      d.run,
      'departures',
      { stop: '55', date: '2026-10-09', after: '00:00', limit: '100' },
      { timeoutMs: 30_000 },
    );
    expect(a.status).toBe('ok');
    if (a.status !== 'ok') return;
    expect(a.generation).toBe(1);
    expect(a.fields.find((f) => f.name === 'stop_sequence')?.type).toBe('int');
    expect(a.rows.length).toBe(100); // an answer of several PIPE_BUFs, written in pieces
  });

  it('answers many concurrent clients, each with its own answer', async () => {
    const qs = ['minal', 'Jamaica', 'Penn', 'Hicksville', 'Babylon', 'zzz-none'];
    const answers = await Promise.all(
      Array.from({ length: 60 }, (_, i) => ask(d.run, 'stops', { q: qs[i % qs.length]! }, { timeoutMs: 10_000 })),
    );
    answers.forEach((a, i) => {
      expect(a.status).toBe('ok');
      if (a.status !== 'ok') return;
      const q = qs[i % qs.length]!.toLowerCase();
      for (const row of a.rows) expect(String(row[1]).toLowerCase()).toContain(q);
    });
  });

  it('validates parameters again in the daemon, naming the parameter', async () => {
    const a = await ask(d.run, 'departures', { stop: '202', date: '2026-02-30' }, { timeoutMs: 30_000 });
    expect(a).toMatchObject({ status: 'error', code: 'ROQ_PARAM_NO_SUCH_DAY', param: 'date' });
    expect(await ask(d.run, 'nosuch', {}, { timeoutMs: 30_000 })).toMatchObject({
      status: 'error',
      code: 'ROQ_QUERY_UNKNOWN',
    });
  });

  it('answers a request of another protocol version with ROQ_PROTOCOL_VERSION', async () => {
    const f = answerFifo(d.run, 10_000, process.pid, false);
    writeRequests(d.run, `roq9 ${f.pid} ${f.token} stops q=minal\n`);
    expect(await f.answer).toMatchObject({ status: 'error', code: 'ROQ_PROTOCOL_VERSION' });
    f.close();
  });

  it('answers a broken request that names its client with ROQ_BAD_REQUEST', async () => {
    const f = answerFifo(d.run);
    writeRequests(d.run, `roq2 ${f.pid} ${f.token} ${f.proof} stops q=%zz\n`);
    expect(await f.answer).toMatchObject({ status: 'error', code: 'ROQ_BAD_REQUEST' });
    f.close();
  });

  it('drops garbage and over-long lines with a log line, and serves the requests around them', async () => {
    const before = f2();
    const after = f2();
    const long = 'roq1 1 abc stops q=' + 'x'.repeat(MAX_REQUEST_BYTES + 100) + '\n';
    writeRequests(d.run, before.request(STOPS));
    writeRequests(d.run, 'GET / HTTP/1.0\n\n\u0000\u00ff garbage\n');
    writeRequests(d.run, long.slice(0, 3000));
    writeRequests(d.run, long.slice(3000));
    writeRequests(d.run, 'roq1 -1 abc nosuchword \n');
    writeRequests(d.run, after.request(STOPS));
    expect((await before.answer).status).toBe('ok');
    expect((await after.answer).status).toBe('ok');
    before.close();
    after.close();
    await waitFor(
      'the log lines',
      () =>
        /request dropped: line of more than 4095 bytes/.test(logOf(d)) &&
        /unknown control word 'nosuchword'/.test(logOf(d)),
    );
    await stillServes();
  });

  it('serves the request written after bytes that had no line end (a writer killed mid-request), however many', async () => {
    for (const partial of ['roq2 12345 half', 'x'.repeat(MAX_REQUEST_BYTES * 2), 'roq2 ']) {
      writeRequests(d.run, partial);
      const a = await ask(d.run, 'stops', { q: 'minal' }, { timeoutMs: 30_000 });
      expect(a.status, JSON.stringify(partial.slice(0, 20))).toBe('ok');
    }
    await waitFor('the dropped garbage in the log', () =>
      /request dropped: \d+ bytes without a line end before a request/.test(logOf(d)),
    );
  });

  it('a client that vanished costs one log line', async () => {
    writeRequests(d.run, encodeRequest({ kind: 'query', pid: 999999, token: 'gone', ...STOPS }));
    await waitFor('the undelivered line in the log', () =>
      /answer to pid 999999 .*not delivered: client gone \(ENOENT\)/.test(logOf(d)),
    );
    await stillServes();
  });

  it('writes no answer into a path that is not a FIFO', async () => {
    const path = join(d.run, 'resp.4242.plainfile');
    fs.writeFileSync(path, '');
    writeRequests(d.run, encodeRequest({ kind: 'query', pid: 4242, token: 'plainfile', ...STOPS }));
    await waitFor('the refusal in the log', () => logOf(d).includes(`${path} is not a FIFO`));
    expect(fs.readFileSync(path, 'utf8')).toBe('');
    fs.rmSync(path);
  });
});

function f2() {
  return answerFifo(d.run);
}

describe('the roq command', () => {
  it('validates parameters before contacting the daemon, naming the parameter', async () => {
    const run = makeRunDir(); // no daemon here: a param error must come before any attempt to reach one
    const bad = await roqCli(['query', 'departures', 'stop=202', 'date=2026-02-30', '--run', run]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("parameter 'date'");
    const unknown = await roqCli(['query', 'departures', 'stop=202', 'date=2026-02-03', 'stpo=1', '--run', run]);
    expect(unknown.stderr).toContain("unknown parameter 'stpo'");
    // Valid values (255 characters each) whose %-encoding does not fit one atomic request line: refused by name.
    const euros = '€'.repeat(255);
    const big = await roqCli(['query', 'board', `stop=${euros}`, `route=${euros}`, '--run', run]);
    expect([big.code, big.stderr]).toEqual([2, expect.stringContaining('[ROQ_REQUEST_TOO_LARGE]')]);
    expect(big.stderr).not.toMatch(/RangeError|\n\s+at /);
    const down = await roqCli(['query', 'stops', 'q=x', '--run', run]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain('ROQ_DAEMON_DOWN');
    expect((await roqCli(['status', '--run', run])).stderr).toContain('ROQ_NOT_RUNNING');
    fs.rmSync(run, { recursive: true, force: true });
  });

  it('prints a readable table without --json', async () => {
    const r = await roqCli(['query', 'stops', 'q=minal', '--run', d.run]);
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^stop_id\s+stop_name\s+stop_lat/);
    expect(r.stdout).toContain('Atlantic Terminal');
  });

  it('reports status as text and as JSON', async () => {
    const s = await waitFor('status.json to count served requests', async () => {
      const r = await roqCli(['status', '--run', d.run, '--json']);
      const j = r.code === 0 ? JSON.parse(r.stdout) : undefined;
      return j?.status?.served.ok > 0 ? j : undefined;
    });
    expect(s).toMatchObject({ running: true, pid: d.pid, run: d.run, state: 'serving' });
    expect(s.status.generation).toMatchObject({ id: 1, dataDir: LIRR });
    // "Today" for the data is taken in its own time zone, the feed's agency_timezone.
    expect(s.status.generation.dates.zone).toBe('America/New_York');
    expect(s.status.generation.rows).toBeGreaterThan(100_000);
    expect(s.status.workers.size).toBe(2);
    expect(s.uptimeMs).toBeGreaterThanOrEqual(0);
    const text = await roqCli(['status', '--run', d.run]);
    expect(text.stdout).toContain(`pid         ${d.pid}`);
    expect(text.stdout).toMatch(/generation {2}1: \d+ rows/);
  });

  it('has help for every subcommand', async () => {
    const top = await roqCli(['--help']);
    expect(top.code).toBe(0);
    for (const cmd of ['start', 'stop', 'status', 'query']) {
      expect(top.stdout).toMatch(new RegExp(`^  ${cmd} `, 'm'));
      const h = await roqCli([cmd, '--help']);
      expect(h.code).toBe(0);
      expect(h.stdout).toMatch(new RegExp(`^usage: roq ${cmd}`));
    }
    const bad = await roqCli(['start', '--wokers', '2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('ROQ_USAGE');
  });

  it('refuses to start when REQUESTS exists and is not a FIFO', async () => {
    const run = makeRunDir();
    fs.writeFileSync(join(run, 'REQUESTS'), 'not a fifo');
    const r = await roqCli(['start', '--run', run, '--workers', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('REQUESTS exists and is not a FIFO');
    expect(fs.existsSync(join(run, 'daemon', 'roq.pid'))).toBe(false);
    fs.rmSync(run, { recursive: true, force: true });
  });
});
