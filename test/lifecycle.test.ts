/**
 * The admin's story over real processes: start, refuse a second start, fail cleanly on bad data, stop gracefully
 * with requests in flight, recover from kill -9, reload on SIGHUP, and survive queries that throw, kill their
 * worker or run past their deadline.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { encodeRequest, type Answer } from '../src/protocol.js';
import { isAlive } from '../src/control/lifecycle.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import {
  answerFifo,
  daemonsPerTest,
  makeRunDir,
  pidOf,
  ROOT,
  ROQ,
  roqCli,
  waitFor,
  writeRequests,
} from './helpers/daemon.js';

const FIRST_CASE = JSON.parse(
  fs.readFileSync(join(ROOT, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8').split('\n')[0]!,
) as {
  query: string;
  params: Record<string, string | number>;
  expected: Record<string, string | number>[];
};

const { daemon } = daemonsPerTest();

function stringParams(p: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));
}

/** The first LIRR case, asked through the client library: the daemon still answers correctly. */
async function expectCorrectAnswer(run: string): Promise<void> {
  const a = await ask(run, FIRST_CASE.query, stringParams(FIRST_CASE.params), { timeoutMs: 30_000 });
  expect(a.status).toBe('ok');
  if (a.status === 'ok') expect(a.rows).toHaveLength(FIRST_CASE.expected.length);
  const r = await roqCli([
    'query',
    FIRST_CASE.query,
    ...Object.entries(FIRST_CASE.params).map(([k, v]) => `${k}=${v}`),
    '--json',
    '--run',
    run,
  ]);
  expect(r.stdout.trim()).toBe(JSON.stringify(FIRST_CASE.expected));
}

function errorOf(a: Answer): { status: string; code: string; message: string } {
  if (a.status === 'ok') throw new Error(`expected an error answer, got ${a.rows.length} rows`);
  return { status: a.status, code: a.code, message: a.message };
}

async function statusJson(run: string) {
  const r = await roqCli(['status', '--run', run, '--json']);
  return r.code === 0 ? JSON.parse(r.stdout) : undefined;
}

describe('roq start', () => {
  it('refuses a second start on the same run directory, naming the running pid', async () => {
    const d = await daemon();
    const r = await roqCli(['start', '--run', d.run]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('ROQ_ALREADY_RUNNING');
    expect(r.stderr).toContain(`pid ${d.pid}`);
    // The daemon's own lock refuses too, for a start that races past the CLI's check.
    const raw = spawnSync(process.execPath, [ROQ, 'daemon', '--run', d.run, '--workers', '1'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(raw.status).toBe(1);
    expect(raw.stdout).toMatch(/^ERROR .*ROQ_ALREADY_RUNNING/);
    expect(raw.stdout).toContain(String(d.pid));
    expect(pidOf(d.run)).toBe(d.pid);
    await expectCorrectAnswer(d.run);
  });

  it('fails on a bad data file naming file:line:column, leaving no daemon behind', async () => {
    const data = writeFeed({
      ...TINY_FEED,
      'stop_times.txt': csv(
        'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
        'T1,08:00:00,08:00:00,S1,1',
        'T1,08:10:00,8h10,N,2',
      ),
    });
    const run = makeRunDir();
    const r = await roqCli(['start', '--run', run, '--data', data, '--workers', '1']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/stop_times\.txt:3:\d+/);
    expect(r.stderr).toContain('ROQ_LOAD');
    expect(pidOf(run)).toBeUndefined();
    expect(fs.existsSync(join(run, 'daemon', 'roq.pid.lock'))).toBe(false);
    // Nobody reads REQUESTS: a client is told the daemon is down.
    await expect(ask(run, 'stops', { q: 'x' }, { timeoutMs: 1000 })).rejects.toMatchObject({ code: 'ROQ_DAEMON_DOWN' });
    fs.rmSync(run, { recursive: true, force: true });
  });

  it('recovers after kill -9 without manual cleanup, reusing REQUESTS and removing answer FIFOs of dead clients', async () => {
    const d = await daemon();
    // A client killed with -9 leaves its answer FIFO behind; a live client's FIFO must stay.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const stale = join(d.run, `resp.${dead.stdout}.leftover1`);
    const live = answerFifo(d.run);
    spawnSync('mkfifo', [stale]);
    process.kill(d.pid, 'SIGKILL');
    await waitFor('the killed daemon to be gone', () => !isAlive(d.pid));
    expect(pidOf(d.run)).toBe(d.pid); // the stale pid file is still there
    const again = await daemon({ run: d.run });
    expect(again.pid).not.toBe(d.pid);
    await expectCorrectAnswer(d.run);
    expect((await statusJson(d.run)).pid).toBe(again.pid);
    expect(fs.existsSync(stale)).toBe(false);
    expect(fs.existsSync(join(d.run, `resp.${live.pid}.${live.token}`))).toBe(true);
    live.close();
  });
});

describe('roq stop', () => {
  it('answers the requests already queued before it exits', async () => {
    const d = await daemon({ workers: 1, env: { ROQ_TEST_FAULTS: '1' } });
    const N = 6;
    const fifos = Array.from({ length: N }, () => answerFifo(d.run));
    // One worker, and the first request keeps it busy: the other five are still queued when the stop comes.
    const lines = fifos.map((f, i) =>
      encodeRequest(
        i === 0
          ? { kind: 'query', pid: f.pid, token: f.token, proof: f.proof, query: 'fault_sleep', params: { ms: '300' } }
          : {
              kind: 'query',
              pid: f.pid,
              token: f.token,
              proof: f.proof,
              query: FIRST_CASE.query,
              params: stringParams(FIRST_CASE.params),
            },
      ),
    );
    writeRequests(d.run, lines.join(''));
    const stop = await roqCli(['stop', '--run', d.run]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(stop.stdout).toContain(`pid ${d.pid}`);
    const answers = await Promise.all(fifos.map((f) => f.answer));
    fifos.forEach((f) => f.close());
    expect(answers.map((a) => a.status)).toEqual(Array(N).fill('ok'));
    expect(answers.slice(1).map((a) => (a.status === 'ok' ? a.rows.length : -1))).toEqual(
      Array(N - 1).fill(FIRST_CASE.expected.length),
    );
    expect(isAlive(d.pid)).toBe(false);
    expect(pidOf(d.run)).toBeUndefined();
    expect(fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8')).toMatch(/stopping: answering \d+ queued/);
    // Stopping what is not running says so.
    const again = await roqCli(['stop', '--run', d.run]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain('ROQ_NOT_RUNNING');
  });
});

describe('faults cost a worker, never the daemon', () => {
  it('a throwing query, a dying worker and a query past its deadline each get the right error answer', async () => {
    const d = await daemon({ workers: 2, deadline: 300, env: { ROQ_TEST_FAULTS: '1' } });
    const opts = { timeoutMs: 10_000 };

    expect(errorOf(await ask(d.run, 'fault_throw', {}, opts))).toMatchObject({
      status: 'error',
      code: 'ROQ_QUERY_FAILED',
    });
    await expectCorrectAnswer(d.run);

    const died = errorOf(await ask(d.run, 'fault_exit', {}, opts));
    expect(died).toMatchObject({ status: 'error', code: 'ROQ_WORKER_DIED' });
    expect(died.message).toContain('fault_exit');
    await expectCorrectAnswer(d.run);

    const hung = errorOf(await ask(d.run, 'fault_hang', {}, opts));
    expect(hung).toMatchObject({ status: 'timeout', code: 'ROQ_QUERY_DEADLINE' });
    expect(hung.message).toContain('300 ms');
    await expectCorrectAnswer(d.run);

    // Both workers stuck at once: both are replaced and the daemon serves on.
    const both = await Promise.all([ask(d.run, 'fault_hang', {}, opts), ask(d.run, 'fault_hang', {}, opts)]);
    expect(both.map((a) => a.status)).toEqual(['timeout', 'timeout']);
    await expectCorrectAnswer(d.run);

    const s = await waitFor('status.json to count the faults', async () => {
      const st = await statusJson(d.run);
      return st?.status?.served.timeout === 3 ? st : undefined;
    });
    expect(s.status.served).toMatchObject({ failed: 1, died: 1, timeout: 3 });
    expect(s.status.workers).toMatchObject({ size: 2, replaced: 4 });
    expect(isAlive(d.pid)).toBe(true);
  });

  it('fault queries are unknown queries unless ROQ_TEST_FAULTS=1', async () => {
    const d = await daemon({ workers: 1, env: { ROQ_TEST_FAULTS: '' } });
    expect(errorOf(await ask(d.run, 'fault_exit', {}, { timeoutMs: 5000 }))).toMatchObject({
      status: 'error',
      code: 'ROQ_QUERY_UNKNOWN',
    });
  });
});

describe('the production build', () => {
  it('has no fault queries, even with ROQ_TEST_FAULTS=1: only the test build (dist/test/) has them', async () => {
    const text = (f: string) => fs.readFileSync(join(ROOT, 'dist', f), 'utf8');
    expect(text('roq.js')).not.toContain('ROQ_TEST_FAULTS');
    expect(text('worker.js')).not.toContain('fault_hang');
    expect(text('test/roq.js')).toContain('ROQ_TEST_FAULTS');
    expect(text('test/worker.js')).toContain('fault_hang');
    const d = await daemon({ workers: 1, program: ROQ, env: { ROQ_TEST_FAULTS: '1' } });
    expect(errorOf(await ask(d.run, 'fault_exit', {}, { timeoutMs: 5000 }))).toMatchObject({
      status: 'error',
      code: 'ROQ_QUERY_UNKNOWN',
    });
  });
});

describe('reload on SIGHUP', () => {
  it('swaps in the new generation, and keeps the old one when the new data is bad', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1 });
    const nameOf = async () => {
      const a = await ask(d.run, 'stops', { q: 'north' }, { timeoutMs: 30_000 });
      return a.status === 'ok' ? { generation: a.generation, name: a.rows[0]?.[1] } : undefined;
    };
    expect(await nameOf()).toEqual({ generation: 1, name: 'North Park' });

    fs.writeFileSync(join(data, 'stops.txt'), TINY_FEED['stops.txt']!.replace('North Park', 'North Park Renamed'));
    process.kill(d.pid, 'SIGHUP');
    await waitFor('generation 2 to answer', async () => (await nameOf())?.generation === 2);
    expect(await nameOf()).toEqual({ generation: 2, name: 'North Park Renamed' });

    fs.writeFileSync(join(data, 'stops.txt'), csv('stop_id,stop_name', 'S,Central', 'N'));
    process.kill(d.pid, 'SIGHUP');
    const log = join(d.run, 'daemon', 'roq.log');
    await waitFor('the failed reload in the log', () =>
      /reload failed.*stops\.txt:3:\d+/.test(fs.readFileSync(log, 'utf8')),
    );
    expect(await nameOf()).toEqual({ generation: 2, name: 'North Park Renamed' });
  });
});
