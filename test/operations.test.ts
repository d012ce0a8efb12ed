/**
 * Operations without loss, over real daemons: `roq reload` and SIGHUP (background load, swap at the pseudo-request,
 * failures keep the old data, bursts coalesce), `roq upgrade` and `roq start --takeover` (success, failed and
 * never-ready successors, concurrent upgrades), code that never changes under a running daemon, releases that
 * talk to each other, the access log and SIGUSR1, and descriptor or FIFO leaks.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { type Answer } from '../src/protocol.js';
import { answerFifos } from '../src/daemon/fifo.js';
import { isAlive } from '../src/control/lifecycle.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { runCgi } from './helpers/cgi.js';
import {
  answerFifo,
  daemonsPerTest,
  LIRR,
  makeRunDir,
  pidOf,
  ROOT,
  roqCli,
  waitFor,
  writeRequests,
} from './helpers/daemon.js';

const OLD_RELEASE = join(ROOT, 'test/fixtures/release-0.1.0');
/** The previous release's CGI program: protocol 2 queries, validation in the web server's process. */
const PREVIOUS_CGI = join(ROOT, 'test/fixtures/release-0.2.0/roq.cgi');
const FAULTS = { ROQ_TEST_FAULTS: '1' };

const { daemon } = daemonsPerTest();

interface Status {
  pid: number;
  version: string;
  generation: { id: number; rows: number; perFile: { file: string; rows: number }[] };
  reload: {
    requested: number;
    loading: boolean;
    last?: { status: string; generation?: number; error?: { message: string } };
  };
  workers: { size: number; threads: { state: string; served: number; heap: number }[] };
  served: Record<string, number>;
}

async function status(run: string): Promise<Status> {
  const r = await roqCli(['status', '--json', '--run', run]);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { status: Status }).status;
}

/** The name of stop N in the tiny feed, and the generation that said so. */
async function northName(run: string): Promise<{ generation: number; name: unknown }> {
  const a = await ask(run, 'stops', { q: 'north' }, { timeoutMs: 30_000 });
  if (a.status !== 'ok') throw new Error(`stops answered ${JSON.stringify(a)}`);
  return { generation: a.generation, name: a.rows[0]?.[1] };
}

function renameNorth(data: string, name: string): void {
  fs.writeFileSync(join(data, 'stops.txt'), TINY_FEED['stops.txt']!.replace('North Park', name));
}

/** The daemon's open descriptors: the least of a few looks, since a status write or an answer holds one briefly. */
async function fdCount(pid: number): Promise<number> {
  let least = Infinity;
  for (let i = 0; i < 5; i++) {
    least = Math.min(least, fs.readdirSync(`/proc/${pid}/fd`).length);
    await new Promise((r) => setTimeout(r, 30));
  }
  return least;
}

/** The PIDs of every daemon process serving, loading or waiting on `run`. */
function daemonsOn(run: string): number[] {
  const r = spawnSync('pgrep', ['-f', `roq.js daemon --run ${run} `], { encoding: 'utf8' });
  return r.stdout.trim().split('\n').filter(Boolean).map(Number);
}

function fifosIn(run: string): string[] {
  return fs.readdirSync(run).filter((f) => fs.lstatSync(join(run, f)).isFIFO());
}

describe('roq reload', () => {
  it('prints the new generation and its row counts, and exits 1 naming file:line:column when the data is bad', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1 });
    renameNorth(data, 'North Park Two');
    const ok = await roqCli(['reload', '--run', d.run]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/generation 2 serving/);
    expect(ok.stdout).toMatch(/stops\.txt\s+3 rows/);
    expect(await northName(d.run)).toEqual({ generation: 2, name: 'North Park Two' });

    fs.writeFileSync(
      join(data, 'stop_times.txt'),
      csv('trip_id,arrival_time,departure_time,stop_id,stop_sequence', 'T1,08:00:00,8:61:00,S1,1'),
    );
    const bad = await roqCli(['reload', '--run', d.run]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/stop_times\.txt:2:\d+: column 'departure_time'/);
    expect(bad.stderr).toContain('ROQ_RELOAD_FAILED');
    expect(await northName(d.run)).toEqual({ generation: 2, name: 'North Park Two' });
    const s = await status(d.run);
    expect(s.reload.last).toMatchObject({ status: 'failed' });
    expect(s.reload.last?.error?.message).toMatch(/stop_times\.txt:2:/);

    fs.rmSync(join(data, 'routes.txt'));
    const missing = await roqCli(['reload', '--run', d.run]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/routes\.txt: required table file is missing/);
    expect((await status(d.run)).pid).toBe(d.pid);
  });

  it('fails clearly when no daemon runs', async () => {
    const r = await roqCli(['reload', '--run', makeRunDir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('ROQ_NOT_RUNNING');
  });
});

describe('reload on SIGHUP', () => {
  it('answers requests read before the swap line from the old generation, and after it from the new', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1, env: FAULTS });
    // Occupy the only worker, so that the next requests are read and queued before the swap line.
    const blocker = answerFifo(d.run);
    writeRequests(d.run, blocker.request({ query: 'fault_sleep', params: { ms: '600' } }));
    const before = Array.from({ length: 3 }, () => answerFifo(d.run));
    for (const c of before) writeRequests(d.run, c.request({ query: 'stops', params: { q: 'north' } }));
    renameNorth(data, 'North Park Two');
    process.kill(d.pid, 'SIGHUP');
    // The load thread finishes while the worker is still asleep; the swap line is read right away.
    await waitFor('the swap', async () => (await status(d.run)).generation.id === 2);
    const after = answerFifo(d.run);
    writeRequests(d.run, after.request({ query: 'stops', params: { q: 'north' } }));
    const gens = async (c: ReturnType<typeof answerFifo>) => {
      const a = await c.answer;
      c.close();
      return a.status === 'ok' ? [a.generation, a.rows[0]?.[a.rows[0].length === 1 ? 0 : 1]] : a;
    };
    expect(await gens(blocker)).toEqual([1, 600]);
    for (const c of before) expect(await gens(c)).toEqual([1, 'North Park']);
    expect(await gens(after)).toEqual([2, 'North Park Two']);
  });

  it('coalesces 100 SIGHUPs within a second into at most 2 reloads and loses no request', async () => {
    const data = writeFeed(TINY_FEED);
    // Every load sleeps 12 s first, so the whole burst arrives while the first load runs, however busy the machine
    // (100 signals 5 ms apart took 5 s at a load average of 35).
    const d = await daemon({ data, workers: 2, env: { ...FAULTS, ROQ_TEST_LOAD_DELAY_MS: '12000' } });
    renameNorth(data, 'North Park Two');
    const answers: Promise<Answer>[] = [];
    const t0 = Date.now();
    for (let i = 0; i < 100; i++) {
      process.kill(d.pid, 'SIGHUP');
      if (i % 10 === 0) answers.push(ask(d.run, 'stops', { q: 'north' }, { timeoutMs: 60_000 }));
      await new Promise((r) => setTimeout(r, 5));
    }
    expect(Date.now() - t0).toBeLessThan(11_000); // the burst itself, not a speed target: it must fit the first load
    const done = await waitFor(
      'the reloads to settle',
      async () => {
        const s = await status(d.run);
        return !s.reload.loading && s.reload.last && s;
      },
      90_000,
    );
    for (const a of await Promise.all(answers)) expect(a.status).toBe('ok');
    expect(done.generation.id).toBeLessThanOrEqual(3); // generation 1 plus at most two reloads
    expect(done.generation.id).toBeGreaterThanOrEqual(2);
    const loads = fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8').match(/reload: loading generation/g) ?? [];
    expect(loads.length).toBeLessThanOrEqual(2);
    expect(await northName(d.run)).toEqual({ generation: done.generation.id, name: 'North Park Two' });
  });

  it('leaks no descriptor and no FIFO across 100 reloads', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 2 });
    await northName(d.run);
    const fds = await fdCount(d.pid);
    for (let i = 0; i < 100; i++) {
      process.kill(d.pid, 'SIGHUP');
      await waitFor(`reload ${i + 1}`, async () => (await status(d.run)).generation.id === i + 2);
    }
    await northName(d.run);
    expect(await fdCount(d.pid)).toBeLessThanOrEqual(fds);
    expect(fifosIn(d.run)).toEqual(['REQUESTS']);
  }, 300_000);
});

describe('a stopping daemon', () => {
  it('leaves the requests behind its stop line in the FIFO for the next daemon, even those written while it drains', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1, env: FAULTS });
    // Hold REQUESTS open as a daemon taking over would, so the kernel keeps what the old one leaves.
    const hold = fs.openSync(join(d.run, 'REQUESTS'), fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    try {
      const blocker = answerFifo(d.run);
      writeRequests(d.run, blocker.request({ query: 'fault_sleep', params: { ms: '800' } }));
      // The stop line goes into REQUESTS behind the blocker; once the daemon has read it, it says so in its log,
      // and whatever is written from then on is behind the stop line, however long the blocker keeps it draining.
      process.kill(d.pid, 'SIGTERM');
      const log = join(d.run, 'daemon', 'roq.log');
      await waitFor('the stop line to be read', () => fs.readFileSync(log, 'utf8').includes('stopping: answering'));
      const behind = Array.from({ length: 5 }, () => answerFifo(d.run, 15_000));
      for (const c of behind) writeRequests(d.run, c.request({ query: 'stops', params: { q: 'north' } }));
      expect((await blocker.answer).status).toBe('ok');
      await waitFor('the old daemon to exit', () => !isAlive(d.pid));
      // The old daemon flushed its access log before it exited: it answered the blocker and none of the five.
      const accessLog = join(d.run, 'daemon', 'access.log');
      const answered = (query: string) =>
        fs
          .readFileSync(accessLog, 'utf8')
          .split('\n')
          .filter((l) => l.includes(` query=${query} `)).length;
      expect([answered('fault_sleep'), answered('stops')]).toEqual([1, 0]);
      const next = await daemon({ data: writeFeed(TINY_FEED), workers: 1, run: d.run });
      for (const c of behind) {
        expect(await c.answer).toMatchObject({ status: 'ok', rows: [['N', 'North Park', '52.6', '13.4', '0', '']] });
        c.close();
      }
      blocker.close();
      expect(next.pid).not.toBe(d.pid);
      await waitFor("the five in the next daemon's access log", () => answered('stops') === 5);
    } finally {
      fs.closeSync(hold);
    }
  });
});

describe('roq upgrade', () => {
  it('replaces the daemon: new pid, same options, answers throughout; then refuses when none runs', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1, deadline: 1500 });
    const r = await roqCli(['upgrade', '--run', d.run]);
    expect(r.code, r.stderr).toBe(0);
    // Both builds by version and commit: two builds of one version are told apart.
    expect(r.stdout).toMatch(
      new RegExp(`pid ${d.pid} \\(0\\.2\\.0 \\(commit \\w+(-dirty)?\\)\\) -> pid \\d+ \\(0\\.2\\.0 \\(commit`),
    );
    const next = pidOf(d.run)!;
    expect(next).not.toBe(d.pid);
    await waitFor('the old daemon to exit', () => !isAlive(d.pid));
    const s = await status(d.run);
    expect(s.workers.size).toBe(1);
    expect(s.generation.id).toBe(2); // it goes on from the old daemon's generation
    expect(await northName(d.run)).toEqual({ generation: 2, name: 'North Park' });
    await roqCli(['stop', '--run', d.run]);
    const none = await roqCli(['upgrade', '--run', d.run]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('ROQ_NOT_RUNNING');
  });

  it('keeps the old daemon serving when the new one fails to load, or is not ready in time', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1 });
    const bad = writeFeed({ ...TINY_FEED, 'trips.txt': csv('route_id,service_id,trip_id', 'R1,WEEK') });
    const failed = await roqCli(['upgrade', '--run', d.run, '--data', bad]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/could not take over from pid \d+: .*trips\.txt:2:/);
    expect(failed.stderr).toContain('the old daemon serves on');

    const slow = await roqCli(['upgrade', '--run', d.run, '--ready-timeout', '500'], {
      env: { ...FAULTS, ROQ_TEST_LOAD_DELAY_MS: '5000' },
    });
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/not ready within 500 ms/);
    expect(pidOf(d.run)).toBe(d.pid);
    expect(await northName(d.run)).toEqual({ generation: 1, name: 'North Park' });
    await waitFor('no second daemon left', () => daemonsOn(d.run).join() === String(d.pid));
  });

  it('refuses a second upgrade while one is running', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const env = { ...FAULTS, ROQ_TEST_LOAD_DELAY_MS: '1500' };
    const first = roqCli(['upgrade', '--run', d.run], { env });
    await waitFor('the first upgrade to hold its lock', () => fs.existsSync(join(d.run, 'daemon', 'upgrade.lock')));
    const second = await roqCli(['upgrade', '--run', d.run], { env });
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('ROQ_UPGRADE_RUNNING');
    expect((await first).code).toBe(0);
    expect(pidOf(d.run)).not.toBe(d.pid);
  });

  it('leaks no FIFO and no descriptor across 10 upgrades', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    await northName(d.run);
    const fds = await fdCount(d.pid);
    for (let i = 0; i < 10; i++) {
      const r = await roqCli(['upgrade', '--run', d.run]);
      expect(r.code, r.stderr).toBe(0);
    }
    const pid = pidOf(d.run)!;
    await northName(d.run);
    expect(await fdCount(pid)).toBeLessThanOrEqual(fds);
    expect(fifosIn(d.run)).toEqual(['REQUESTS']);
    expect([...answerFifos(d.run), ...fs.readdirSync(d.run).filter((f) => f.endsWith('.tmp'))]).toEqual([]);
  }, 300_000);

  it('takes over from a daemon of the previous release (0.1.0)', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1, program: join(OLD_RELEASE, 'roq.js') });
    // This release's `roq status` reads the older status file too.
    const before = await roqCli(['status', '--run', d.run]);
    expect(before.code, before.stderr).toBe(0);
    expect(before.stdout).toMatch(/roq \(release before 0\.2\) is serving/);
    const r = await roqCli(['start', '--takeover', '--run', d.run, '--data', writeFeed(TINY_FEED), '--workers', '1']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('the old daemon to exit', () => !isAlive(d.pid));
    expect((await status(d.run)).version).toBe('0.2.0');
    expect((await northName(d.run)).name).toBe('North Park');
  });
});

describe('the code a daemon runs never changes under it', () => {
  it('replaces a dead worker and reloads with the code it started with, whatever is on disk now', async () => {
    const release = fs.mkdtempSync(join(makeRunDir(), 'release-'));
    // The test build (its fault_exit kills the worker), as a release of its own.
    for (const f of ['roq.js', 'worker.js', 'load-thread.js'])
      fs.copyFileSync(join(ROOT, 'dist/test', f), join(release, f));
    fs.copyFileSync(join(ROOT, 'dist/package.json'), join(release, 'package.json'));
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1, env: FAULTS, program: join(release, 'roq.js') });
    for (const f of ['worker.js', 'load-thread.js'])
      fs.writeFileSync(join(release, f), 'throw new Error("new code on disk");\n');
    const died = await ask(d.run, 'fault_exit', {}, { timeoutMs: 5000 });
    expect(died).toMatchObject({ status: 'error', code: 'ROQ_WORKER_DIED' });
    expect(await northName(d.run)).toEqual({ generation: 1, name: 'North Park' });
    renameNorth(data, 'North Park Two');
    const r = await roqCli(['reload', '--run', d.run]);
    expect(r.code, r.stderr).toBe(0);
    expect(await northName(d.run)).toEqual({ generation: 2, name: 'North Park Two' });
  });
});

describe('releases within one protocol version', () => {
  it("the previous release's CGI program works against this daemon; this CGI program refuses the previous daemon", async () => {
    const query = 'q=jamaica&format=json';
    const now = await daemon({ workers: 1 });
    const oldCgi = await runCgi({
      query,
      program: join(OLD_RELEASE, 'roq.cgi'),
      env: { ROQ_RUN_DIR: now.run },
    });
    expect(oldCgi.status, oldCgi.raw).toBe(200);
    expect(JSON.stringify(JSON.parse(oldCgi.body))).toContain('Jamaica');
    // Protocol 2 (issue 16): a client accepts only answers that echo its request's secret, which a 0.1 daemon
    // cannot do, so upgrade the daemon before the CGI program (docs/PROTOCOL.md).
    const oldDaemon = await daemon({ workers: 1, program: join(OLD_RELEASE, 'roq.js'), data: LIRR });
    const newCgi = await runCgi({ query, env: { ROQ_RUN_DIR: oldDaemon.run, ROQ_CGI_TIMEOUT_MS: '1000' } });
    expect(newCgi.status, newCgi.raw).toBe(503);
    expect(newCgi.body).not.toContain('Jamaica');
  });

  it("the previous release's CGI program (protocol 2) is answered while Apache still runs it: JSON, pages, health", async () => {
    const now = await daemon({ workers: 1 });
    const env = { ROQ_RUN_DIR: now.run };
    const json = await runCgi({ query: 'q=jamaica&format=json', program: PREVIOUS_CGI, env });
    expect(json.status, json.raw).toBe(200);
    // Its page is its own template's, with the rows this daemon answered.
    const page = await runCgi({ query: 'q=park', program: PREVIOUS_CGI, env });
    expect(page.status).toBe(200);
    expect(page.body).toContain('Belmont Park');
    expect(JSON.parse(json.body)).toEqual(JSON.parse((await runCgi({ query: 'q=jamaica&format=json', env })).body));
    const bad = await runCgi({ query: 'stop=102&date=2026-02-30&format=json', program: PREVIOUS_CGI, env });
    expect(bad.status).toBe(400);
    const health = await runCgi({ program: PREVIOUS_CGI, env: { ...env, PATH_INFO: '/_health' } });
    expect(health.status, health.raw).toBe(200);
    expect(health.body).toMatch(/^ok generation 1 hash [0-9a-f]{32}\n$/);
  });

  it('answers a request of an unknown protocol version with a clear error', async () => {
    const d = await daemon({ workers: 1, data: writeFeed(TINY_FEED) });
    const c = answerFifo(d.run, 10_000, process.pid, false);
    writeRequests(d.run, `roq9 ${c.pid} ${c.token} stops q=north\n`);
    const a = await c.answer;
    c.close();
    expect(a).toMatchObject({ status: 'error', code: 'ROQ_PROTOCOL_VERSION' });
    if (a.status === 'error') expect(a.message).toContain("'roq9'");
  });
});

describe('observability', () => {
  it('writes one access-log line per request, and reopens the logs on SIGUSR1', async () => {
    const d = await daemon({ workers: 1, data: writeFeed(TINY_FEED) });
    await northName(d.run);
    await ask(d.run, 'stops', { q: 'x', limit: '0' }, { timeoutMs: 30_000 });
    const log = join(d.run, 'daemon', 'access.log');
    const lines = await waitFor('two access-log lines', () => {
      const l = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
      return l.length === 2 && l;
    });
    expect(lines[0]).toMatch(
      new RegExp(
        `^\\S+Z pid=${process.pid} query=stops params=q=north status=ok rows=1 wait_ms=[0-9.]+ work_ms=[0-9.]+ total_ms=[0-9.]+ gen=1$`,
      ),
    );
    expect(lines[1]).toMatch(/query=stops params=q=x&limit=0 status=error rows=0 /);

    fs.renameSync(log, log + '.1');
    fs.renameSync(join(d.run, 'daemon', 'roq.log'), join(d.run, 'roq.log.1'));
    process.kill(d.pid, 'SIGUSR1');
    await waitFor('the daemon log to be reopened', () => fs.existsSync(join(d.run, 'daemon', 'roq.log')));
    await northName(d.run);
    await waitFor(
      'a line in the new access log',
      () => fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes('status=ok'),
    );
    expect(
      fs
        .readFileSync(log + '.1', 'utf8')
        .trim()
        .split('\n'),
    ).toHaveLength(2);
    expect(fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8')).toContain('logs reopened');
  });

  it('reports version, generation per file, workers and the last reload in roq status --json', async () => {
    const d = await daemon({ workers: 2, data: writeFeed(TINY_FEED) });
    await northName(d.run);
    await roqCli(['reload', '--run', d.run]);
    const s = await waitFor('a status with a served request', async () => {
      const x = await status(d.run);
      return (x.served.ok ?? 0) >= 1 && x;
    });
    expect(s.version).toBe('0.2.0');
    expect(s.generation.perFile.find((f) => f.file === 'stops.txt')?.rows).toBe(3);
    expect(s.workers.threads).toHaveLength(2);
    expect(s.workers.threads.reduce((n, t) => n + t.served, 0)).toBeGreaterThanOrEqual(1);
    expect(s.workers.threads.every((t) => t.heap > 0)).toBe(true);
    expect(s.reload).toMatchObject({ requested: 1, loading: false, last: { status: 'ok', generation: 2 } });
    const text = await roqCli(['status', '--run', d.run]);
    expect(text.stdout).toMatch(/roq 0\.2\.0 \(commit [0-9a-f]{7}(-dirty)?\) is serving/);
    expect(text.stdout).toMatch(/last: ok at .*generation 2/);
  });
});
