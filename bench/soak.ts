/**
 * `node dist/soak.js [--minutes 10]`: a bounded soak. A daemon on the sample feed (fault queries on) gets a steady
 * mixed load from 8 FIFO clients, bursts of fuzzed web requests through the CGI handler, a reload every 5 s, and a
 * worker killed (fault_exit) and a query hung past its deadline (fault_hang) every 7 s. Every 5 s it samples the
 * daemon's RSS, open descriptors and answer FIFOs left in the run directory. At the end it prints the samples and
 * the verdict: every steady request answered ok, fuzz failures 0, RSS and descriptors flat: after a warm-up (a
 * quarter of the run, at least a minute: the allocators grow to their working size over the first ~200,000
 * requests, then stay), the last third of the samples within 15 % of the first third in RSS, and the fewest open
 * descriptors seen in the last third no more than the median of the first (a status write or an answer holds one
 * for a moment and a worker being replaced releases a few, so single samples move by a few; a leak raises the
 * floor). Exit status 1 if not.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ask, openChannel } from '../src/client.js';
import { answerFifos } from '../src/daemon/fifo.js';
import { startRoq, stopRoq } from './daemon.js';
import { fuzzWebPath } from './fuzz.js';
import { rssMb } from './stats.js';

const { values } = parseArgs({ options: { minutes: { type: 'string' } } });
const minutes = Number(values.minutes ?? 10);
const root = resolve(__dirname, '..');
// The test build: the soak kills workers and hangs queries with its fault queries (scripts/build.js).
const roq = join(root, 'dist/test/roq.js');
const run = mkdtempSync(join(tmpdir(), 'roq-soak-'));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const cases = readFileSync(join(root, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { query: string; params: Record<string, string | number> })
  .map((c) => ({
    query: c.query,
    params: Object.fromEntries(Object.entries(c.params).map(([k, v]) => [k, String(v)])),
  }));

interface Sample {
  s: number;
  rss: number;
  fds: number;
  fifos: number;
  ok: number;
  bad: number;
  reloads: number;
  faults: number;
  fuzz: number;
}

async function main(): Promise<number> {
  const env = { ...process.env, ROQ_TEST_FAULTS: '1' };
  const { pid } = startRoq(
    roq,
    run,
    ['--data', join(root, 'data/gtfs-lirr'), '--workers', '2', '--deadline', '500'],
    env,
  );
  const endAt = Date.now() + minutes * 60_000;
  const t0 = Date.now();
  const n = { ok: 0, bad: 0, reloads: 0, faults: 0, fuzz: 0, fuzzFailures: 0 };
  const badExamples: string[] = [];
  const running = () => Date.now() < endAt;

  const steady = Array.from({ length: 8 }, async (_, i) => {
    const ch = openChannel(run);
    try {
      for (let k = i; running(); k++) {
        const c = cases[k % cases.length]!;
        const a = await ch.request(c.query, c.params, 10_000);
        if (a.status === 'ok') n.ok++;
        else {
          n.bad++;
          if (badExamples.length < 5) badExamples.push(JSON.stringify(a).slice(0, 200));
        }
      }
    } finally {
      ch.close();
    }
  });
  const reloads = (async () => {
    while (running()) {
      await sleep(5000);
      process.kill(pid, 'SIGHUP');
      n.reloads++;
    }
  })();
  const faults = (async () => {
    while (running()) {
      await sleep(7000);
      await ask(run, 'fault_exit', {}, { timeoutMs: 5000 });
      await ask(run, 'fault_hang', {}, { timeoutMs: 5000 });
      n.faults += 2;
    }
  })();
  const fuzz = (async () => {
    for (let seed = 1; running(); seed++) {
      const r = await fuzzWebPath(run, 200, seed, 2);
      n.fuzz += r.count;
      n.fuzzFailures += r.failures.length;
      await sleep(3000);
    }
  })();
  const samples: Sample[] = [];
  const sampler = (async () => {
    while (running()) {
      await sleep(5000);
      samples.push({
        s: Math.round((Date.now() - t0) / 1000),
        rss: rssMb(pid),
        fds: readdirSync(`/proc/${pid}/fd`).length,
        fifos: answerFifos(run).length,
        ...n,
      });
    }
  })();
  await Promise.all([...steady, reloads, faults, fuzz, sampler]);
  stopRoq(roq, run);

  console.log(`# roq soak — ${new Date().toISOString()}, ${minutes} min`);
  console.log(
    '| t (s) | daemon RSS (MB) | open fds | answer FIFOs | steady ok | steady not ok | reloads | faults | fuzz inputs |',
  );
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  const every = Math.max(1, Math.floor(samples.length / 12));
  samples.forEach((x, i) => {
    if (i % every === 0 || i === samples.length - 1)
      console.log(
        `| ${x.s} | ${x.rss.toFixed(1)} | ${x.fds} | ${x.fifos} | ${x.ok} | ${x.bad} | ${x.reloads} | ${x.faults} | ${x.fuzz} |`,
      );
  });
  const warm = samples.filter((x) => x.s >= Math.max(60, (minutes * 60) / 4));
  const third = Math.max(1, Math.floor(warm.length / 3));
  const early = warm.slice(0, third);
  const late = warm.slice(-third);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  if (warm.length < 3) console.log('(run at least 2 minutes for a verdict on RSS and descriptors)');
  const rssRatio = warm.length < 3 ? 1 : mean(late.map((x) => x.rss)) / mean(early.map((x) => x.rss));
  const floor = (xs: Sample[]) => Math.min(...xs.map((x) => x.fds));
  const median = (xs: Sample[]) => xs.map((x) => x.fds).sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  // A leak lifts the floor: late on, even the fewest descriptors seen exceed what was usual early on. A sample
  // taken while a worker was being replaced can dip a few below; comparing with the early median ignores that.
  const fdsFlat = warm.length < 3 || floor(late) <= median(early);
  if (warm.length >= 3)
    console.log(
      `open fds after warm-up: first third ${floor(early)}–${Math.max(...early.map((x) => x.fds))}, last third ${floor(late)}–${Math.max(...late.map((x) => x.fds))}`,
    );
  const ok = n.bad === 0 && n.fuzzFailures === 0 && rssRatio < 1.15 && fdsFlat;
  console.log(
    `\nsteady requests ${n.ok} ok, ${n.bad} not ok${badExamples.length ? ` (${badExamples.join('; ')})` : ''}; fuzz ${n.fuzz} inputs, ${n.fuzzFailures} failures; ${n.reloads} reloads; ${n.faults} faults injected`,
  );
  console.log(
    `RSS last third / first third: ${rssRatio.toFixed(2)}×; open fds ${fdsFlat ? 'flat' : 'GREW'}: ${ok ? 'PASS' : 'FAIL'}`,
  );
  return ok ? 0 : 1;
}

main()
  .then((code) => {
    rmSync(run, { recursive: true, force: true });
    process.exit(code);
  })
  .catch((e) => {
    console.error(e);
    stopRoq(roq, run);
    process.exit(1);
  });
