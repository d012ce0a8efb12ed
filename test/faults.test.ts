/**
 * Faults, each injected into a real daemon (most under load), and what must follow: the daemon serves on, every
 * request that can be answered is, and the rest get a clear error in bounded time. Clients killed before they read
 * or never reading; workers crashing and queries never ending while others are served; the daemon killed -9 under
 * CGI load; a PID reused while an old FIFO of it lies around; the access log's disk full or its file removed;
 * REQUESTS removed or replaced.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ask, makeFifo, openChannel, RESPONSE_FIFO_MODE } from '../src/client.js';
import { encodeRequest, type Answer } from '../src/protocol.js';
import { isAlive } from '../src/control/lifecycle.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { runCgi } from './helpers/cgi.js';
import { answerFifo, daemonsPerTest, pidOf, roqCli, ROOT, waitFor, writeRequests } from './helpers/daemon.js';

const { daemon } = daemonsPerTest();
const FAULTS = { ROQ_TEST_FAULTS: '1' };
const STOPS = { query: 'stops', params: { q: 'north' } } as const;

const logOf = (run: string) => fs.readFileSync(join(run, 'daemon', 'roq.log'), 'utf8');

async function northOk(run: string): Promise<void> {
  expect(await ask(run, STOPS.query, STOPS.params, { timeoutMs: 30_000 })).toMatchObject({
    status: 'ok',
    rows: [['N', 'North Park', '52.6', '13.4', '0', '']],
  });
}

/** Runs `clients` channels of the tiny feed's stops query until `until` resolves; returns every answer. */
async function steadyLoad(run: string, clients: number, until: Promise<unknown>): Promise<Answer[]> {
  let done = false;
  void until.finally(() => (done = true));
  const answers: Answer[] = [];
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const ch = openChannel(run);
      try {
        for (let n = 0; n < 20_000 && !done; n++) answers.push(await ch.request(STOPS.query, STOPS.params, 10_000));
      } finally {
        ch.close();
      }
    }),
  );
  return answers;
}

describe('clients that go away or do not read', () => {
  it('serves on when a client is killed before it reads its answer, and when clients never read', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1, env: FAULTS });
    // A client process that asks for a slow answer, then is killed -9 before it comes.
    const victim = spawn('sleep', ['30'], { stdio: 'ignore' });
    const fifo = join(d.run, `resp.${victim.pid}.victim1`);
    makeFifo(fifo, RESPONSE_FIFO_MODE);
    const held = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK); // its read end, as it would hold
    writeRequests(
      d.run,
      encodeRequest({ kind: 'query', pid: victim.pid!, token: 'victim1', query: 'fault_sleep', params: { ms: '300' } }),
    );
    victim.kill('SIGKILL');
    fs.closeSync(held);
    await waitFor('the victim to be gone', () => !isAlive(victim.pid!));
    // Clients that hold their FIFO open and never read: their answers wait in the kernel; nobody waits for them.
    const idle = Array.from({ length: 20 }, (_, i) => {
      const path = join(d.run, `resp.${process.pid}.idle${i}`);
      makeFifo(path, RESPONSE_FIFO_MODE);
      writeRequests(d.run, encodeRequest({ kind: 'query', pid: process.pid, token: `idle${i}`, ...STOPS }));
      return { path, fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK) };
    });
    await northOk(d.run);
    await waitFor('the dead client to be reported', () =>
      /answer to pid \d+ \(fault_sleep\) not delivered: client gone/.test(logOf(d.run)),
    );
    for (const c of idle) {
      fs.closeSync(c.fd);
      fs.rmSync(c.path);
    }
    await northOk(d.run);
  });

  it('answers a client whose PID has an old FIFO lying around from an earlier process', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    // An earlier process with this PID died and left its FIFO: a new client's token differs, so nothing clashes.
    const stale = join(d.run, `resp.${process.pid}.earlier1`);
    makeFifo(stale, RESPONSE_FIFO_MODE);
    await northOk(d.run);
    expect(fs.existsSync(stale)).toBe(true); // its PID is alive again, so it is not swept; it harms nobody
    fs.rmSync(stale);
  });
});

describe('workers failing under load', () => {
  it('keeps answering everyone else while workers crash and queries never end', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 2, deadline: 300, env: FAULTS });
    const faults = (async () => {
      const outcomes: Answer[] = [];
      for (let i = 0; i < 4; i++) {
        outcomes.push(await ask(d.run, 'fault_exit', {}, { timeoutMs: 5000 }));
        outcomes.push(await ask(d.run, 'fault_hang', {}, { timeoutMs: 5000 }));
      }
      return outcomes;
    })();
    const [answers, outcomes] = await Promise.all([steadyLoad(d.run, 6, faults), faults]);
    expect(outcomes.filter((a) => a.status === 'error' && a.code === 'ROQ_WORKER_DIED')).toHaveLength(4);
    expect(outcomes.filter((a) => a.status === 'timeout' && a.code === 'ROQ_QUERY_DEADLINE')).toHaveLength(4);
    expect(answers.length).toBeGreaterThan(100);
    // A request behind a hanging one in the same worker may wait for the deadline, but every one is answered.
    expect(answers.filter((a) => a.status !== 'ok')).toEqual([]);
    await northOk(d.run);
  }, 60_000);
});

describe('jobs waiting in a worker behind a query that never ends', () => {
  // A busy worker holds up to two more jobs (src/daemon/core.ts); none may be lost or held to the deadline.
  it('are answered by another worker as soon as it is free, long before the deadline', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 2, deadline: 3000, env: FAULTS });
    const ch = Array.from({ length: 8 }, () => openChannel(d.run));
    try {
      const hung = ch[0]!.request('fault_hang', {}, 10_000).then((a) => ({ a, at: performance.now() }));
      await northOk(d.run); // read after the hanging query's line, so that one holds a worker by now
      // The other worker sleeps a while, and a burst arrives meanwhile: both workers are busy, so some of the burst
      // waits in each, and some in the dispatcher's queue.
      const slept = ch[1]!.request('fault_sleep', { ms: '300' }, 10_000);
      const burst = ch
        .slice(2)
        .map((c) => c.request(STOPS.query, STOPS.params, 10_000).then((a) => ({ a, at: performance.now() })));
      expect(await slept).toMatchObject({ status: 'ok', rows: [[300]] });
      const quick = await Promise.all(burst);
      const { a: timedOut, at: timedOutAt } = await hung;
      expect(timedOut).toMatchObject({ status: 'timeout', code: 'ROQ_QUERY_DEADLINE' });
      for (const q of quick)
        expect(q.a).toMatchObject({ status: 'ok', rows: [['N', 'North Park', '52.6', '13.4', '0', '']] });
      // Not one of them waited for the hanging query's end: each was answered before its timeout answer.
      expect(quick.filter((q) => q.at > timedOutAt)).toEqual([]);
      for (const c of ch) expect(c.strays()).toBe(0);
    } finally {
      for (const c of ch) c.close();
    }
  }, 30_000);

  it('go back to the queue when their worker is killed at the deadline, and are answered once', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1, deadline: 500, env: FAULTS });
    const ch = Array.from({ length: 6 }, () => openChannel(d.run));
    try {
      const hung = ch[0]!.request('fault_hang', {}, 10_000);
      const behind = ch.slice(1).map((c) => c.request(STOPS.query, STOPS.params, 10_000));
      expect(await hung).toMatchObject({ status: 'timeout', code: 'ROQ_QUERY_DEADLINE' });
      for (const a of await Promise.all(behind))
        expect(a).toMatchObject({ status: 'ok', rows: [['N', 'North Park', '52.6', '13.4', '0', '']] });
      await northOk(d.run);
      for (const c of ch) expect(c.strays()).toBe(0); // exactly once: no second answer arrived on any channel
    } finally {
      for (const c of ch) c.close();
    }
    expect(logOf(d.run)).toMatch(/passed its deadline of 500 ms; worker 0 replaced/);
  }, 30_000);
});

describe('the daemon killed -9 under load', () => {
  it('gives CGI requests a 503 with Retry-After within the bound, never a hang, and roq start recovers', async () => {
    const d = await daemon({ workers: 2 });
    const timeoutMs = 1500;
    const env = { ROQ_RUN_DIR: d.run, ROQ_CGI_TIMEOUT_MS: String(timeoutMs) };
    const results: { status: number; ms: number; retryAfter?: string }[] = [];
    let stop = false;
    const loops = Array.from({ length: 4 }, async () => {
      for (let n = 0; n < 300 && !stop; n++) {
        const r = await runCgi({
          query: 'stop=102&date=2026-11-02&after=08:00&format=json',
          env,
          timeoutMs: 10_000,
        });
        results.push({ status: r.status, ms: r.ms, retryAfter: r.headers['retry-after'] });
      }
    });
    await waitFor('some answers before the kill', () => results.length >= 8, 20_000);
    process.kill(d.pid, 'SIGKILL');
    const killedAt = results.length;
    await waitFor('CGI requests after the kill', () => results.length >= killedAt + 12, 30_000);
    stop = true;
    await Promise.all(loops);
    const after = results.slice(killedAt);
    for (const r of results) expect([200, 503]).toContain(r.status);
    for (const r of results.filter((x) => x.status === 503)) expect(r.retryAfter).toMatch(/^\d+$/);
    expect(after.filter((r) => r.status === 503).length).toBeGreaterThan(0);
    // Bounded: the CGI program's own timeout plus its start-up, never a hang.
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(timeoutMs + 5000);
    const again = await roqCli(['start', '--run', d.run, '--data', join(ROOT, 'data/gtfs-lirr'), '--workers', '1']);
    expect(again.code, again.stderr).toBe(0);
    const r = await runCgi({
      query: 'stop=102&date=2026-11-02&after=08:00&format=json',
      env,
    });
    expect(r.status).toBe(200);
    await roqCli(['stop', '--run', d.run]);
    expect(pidOf(d.run)).toBeUndefined();
  }, 90_000);
});

describe('the run directory under attack or accident', () => {
  it('serves on when the access log cannot be written (a full disk), saying so once', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    await roqCli(['stop', '--run', d.run]);
    const r = await roqCli([
      'start',
      '--run',
      d.run,
      '--data',
      writeFeed(TINY_FEED),
      '--workers',
      '1',
      '--access-log',
      '/dev/full',
    ]);
    expect(r.code, r.stderr).toBe(0);
    for (let i = 0; i < 5; i++) {
      await northOk(d.run);
      await new Promise((res) => setTimeout(res, 80)); // separate batches of the access log
    }
    await waitFor('the report', () => logOf(d.run).includes('lines are being lost'));
    expect(logOf(d.run).match(/writing the access log \/dev\/full: .*ENOSPC.*lines are being lost/g)).toHaveLength(1);
  });

  it('starts the access log again when its file is removed', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const log = join(d.run, 'daemon', 'access.log');
    await northOk(d.run);
    await waitFor('the first line', () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('status=ok'));
    fs.rmSync(log);
    await northOk(d.run);
    await waitFor('a new access log', () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('status=ok'));
    expect(logOf(d.run)).toContain('was removed; starting it again');
  });

  it('makes REQUESTS again when it is removed, and reports one replaced by a file in roq status', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const requests = join(d.run, 'REQUESTS');
    fs.rmSync(requests);
    await waitFor('REQUESTS made again', () => fs.existsSync(requests) && fs.lstatSync(requests).isFIFO(), 5000);
    await northOk(d.run);
    fs.rmSync(requests);
    fs.writeFileSync(requests, 'not a fifo\n');
    const status = await waitFor(
      'roq status to report it',
      async () => {
        const s = await roqCli(['status', '--run', d.run]);
        return s.stdout.includes('NOT REACHABLE') && s.stdout;
      },
      5000,
    );
    expect(status).toMatch(/REQUESTS is not a FIFO; remove it and the daemon makes a new one/);
    fs.rmSync(requests);
    await waitFor('REQUESTS made again', () => fs.existsSync(requests) && fs.lstatSync(requests).isFIFO(), 5000);
    await northOk(d.run);
    // The daemon still stops cleanly through the newest REQUESTS.
    const stopped = await roqCli(['stop', '--run', d.run]);
    expect(stopped.code, stopped.stderr).toBe(0);
  });
});

describe('one requesting pid cannot fill the queue', () => {
  it('queues at most 64 requests of one pid and answers the rest busy, while another pid is still served', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1, env: FAULTS });
    const sleeper = answerFifo(d.run);
    const flood = answerFifo(d.run);
    const other = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      const bystander = answerFifo(d.run, 10_000, other.pid!);
      writeRequests(d.run, sleeper.request({ query: 'fault_sleep', params: { ms: '1000' } }));
      const line = flood.request(STOPS);
      writeRequests(d.run, line.repeat(50));
      writeRequests(d.run, line.repeat(50));
      writeRequests(d.run, bystander.request(STOPS));
      expect((await bystander.answer).status).toBe('ok');
      bystander.close();
      // One worker runs the sleeper and holds 2 more; 64 wait in the queue; the other 34 are refused at once.
      const busy = async () =>
        JSON.parse((await roqCli(['status', '--run', d.run, '--json'])).stdout).status.served.busy as number;
      await waitFor('the refusals counted in status.json', async () => (await busy()) >= 34);
      expect(await busy()).toBe(34);
    } finally {
      other.kill();
      sleeper.close();
      flood.close();
    }
  });
});
