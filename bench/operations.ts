/**
 * Benchmarks of operations under load (issue 4): what a reload and a takeover cost the requests around them.
 *
 *  - latency during reloads against steady state: the same closed-loop load (channels, the worked cases) is run
 *    once with nothing else happening and once while the daemon reloads back to back; p50, p99 and max of each,
 *    and the ratio (the baseline is the steady run, in the same process);
 *  - the longest gap during a takeover: while `roq upgrade` replaces the daemon under the same load, the longest
 *    interval in which no answer arrived at any client, and the slowest single request;
 *  - memory across reloads: daemon RSS after 1 reload and after 50.
 * Every loop is bounded in count and time.
 */
import { execFile } from 'node:child_process';
import { openChannel } from '../src/client.js';
import { readPid } from '../src/control/lifecycle.js';
import { readStatusFile } from '../src/control/status.js';
import { ms, rssMb, summary } from './stats.js';

export interface Case {
  query: string;
  params: Record<string, string>;
}

interface Sample {
  start: number;
  end: number;
}

/** Runs `clients` closed-loop channels until `done()` says stop (or maxMs passes); every answer must be ok. */
async function load(
  run: string,
  cases: Case[],
  clients: number,
  done: () => boolean,
  maxMs: number,
): Promise<Sample[]> {
  const samples: Sample[] = [];
  const stopAt = Date.now() + maxMs;
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      const ch = openChannel(run);
      try {
        while (!done() && Date.now() < stopAt) {
          const c = cases[next++ % cases.length]!;
          const start = performance.now();
          const a = await ch.request(c.query, c.params, 10_000);
          if (a.status !== 'ok') throw new Error(`bench query failed: ${JSON.stringify(a)}`);
          samples.push({ start, end: performance.now() });
        }
      } finally {
        ch.close();
      }
    }),
  );
  return samples;
}

const sleep = (t: number) => new Promise((r) => setTimeout(r, t));

/** SIGHUP, then wait until the generation has moved on (at most 30 s). */
async function reloadOnce(run: string, pid: number): Promise<{ start: number; end: number }> {
  const before = readStatusFile(run)!.generation.id;
  const start = performance.now();
  process.kill(pid, 'SIGHUP');
  const giveUp = Date.now() + 30_000;
  for (;;) {
    await sleep(20); // polling costs the clients in this process too: not too often
    const s = readStatusFile(run);
    if (!s) continue; // being replaced
    if (s.generation.id > before && !s.reload.loading) return { start, end: performance.now() };
    if (Date.now() > giveUp) throw new Error('reload did not finish within 30 s');
  }
}

export async function operationsBench(
  roq: string,
  run: string,
  cases: Case[],
  quick: boolean,
  say: (line?: string) => void,
): Promise<void> {
  const clients = 8;
  const pid = () => readPid(run)!;

  // Steady state, then the same load during back-to-back reloads.
  const windowMs = quick ? 2000 : 6000;
  let t0 = Date.now();
  const steady = await load(run, cases, clients, () => Date.now() - t0 > windowMs, windowMs + 5000);
  const reloads: { start: number; end: number }[] = [];
  let reloading = true;
  t0 = Date.now();
  const during = load(run, cases, clients, () => !reloading, 60_000);
  for (let i = 0; i < (quick ? 5 : 15) && Date.now() - t0 < 45_000; i++) reloads.push(await reloadOnce(run, pid()));
  reloading = false;
  const inReload = (await during).filter((s) => reloads.some((r) => s.end >= r.start && s.start <= r.end));
  const st = summary(steady.map((s) => s.end - s.start));
  const rl = summary(inReload.map((s) => s.end - s.start));
  say(`## Latency while reloading (sample feed, 2 workers, ${clients} channel clients, the worked cases)`);
  say('Reload = SIGHUP until the new generation serves; "during" counts the requests that overlapped a reload.');
  say();
  say('| state | requests | p50 | p99 | max | p99 against steady |');
  say('|---|---:|---:|---:|---:|---:|');
  say(`| steady (baseline) | ${st.n} | ${ms(st.p50)} ms | ${ms(st.p99)} ms | ${ms(st.max)} ms | 1× |`);
  say(
    `| during ${reloads.length} reloads | ${rl.n} | ${ms(rl.p50)} ms | ${ms(rl.p99)} ms | ${ms(rl.max)} ms | ${(rl.p99 / st.p99).toFixed(2)}× |`,
  );
  const reloadMs = summary(reloads.map((r) => r.end - r.start));
  say(
    `| (a reload itself, signal to swap) | ${reloadMs.n} | ${ms(reloadMs.p50, 1)} ms | | ${ms(reloadMs.max, 1)} ms | |`,
  );
  say();

  // Takeover: the longest time no answer arrived anywhere, while `roq upgrade` replaces the daemon under load.
  say(`## Takeover under load (\`roq upgrade\`, ${clients} channel clients)`);
  say("Gap = the longest interval in which no client received an answer, within the upgrade's handover.");
  say();
  say(
    '| upgrade | handover (old told to retire → new reads) | longest gap without answers | slowest request | steady p99 |',
  );
  say('|---:|---:|---:|---:|---:|');
  for (let i = 1; i <= 3; i++) {
    let upgrading = true;
    const under = load(run, cases, clients, () => !upgrading, 60_000);
    await sleep(300);
    const u0 = performance.now();
    // Asynchronously: a spawnSync would stop this process's clients and hide the very gap being measured.
    const r = await new Promise<{ stdout: string; stderr: string; failed: boolean }>((done) =>
      execFile(
        process.execPath,
        [roq, 'upgrade', '--run', run],
        { encoding: 'utf8', timeout: 60_000 },
        (err, stdout, stderr) => done({ stdout, stderr, failed: !!err }),
      ),
    );
    const u1 = performance.now();
    await sleep(300);
    upgrading = false;
    if (r.failed) throw new Error(`roq upgrade failed: ${r.stderr}`);
    const handover = /handover took (\d+) ms/.exec(r.stdout)?.[1] ?? '?';
    const samples = (await under).filter((s) => s.end >= u0 && s.start <= u1);
    const ends = samples.map((s) => s.end).sort((a, b) => a - b);
    let gap = 0;
    for (let k = 1; k < ends.length; k++) gap = Math.max(gap, ends[k]! - ends[k - 1]!);
    const slowest = Math.max(...samples.map((s) => s.end - s.start));
    say(`| ${i} | ${handover} ms | ${ms(gap, 1)} ms | ${ms(slowest, 1)} ms | ${ms(st.p99)} ms |`);
  }
  say();

  // Memory: RSS after 1 reload and after 50 (without load: what stays behind is what leaks).
  const n = quick ? 10 : 50;
  await reloadOnce(run, pid());
  await sleep(1500);
  const rss1 = rssMb(pid());
  for (let i = 1; i < n; i++) await reloadOnce(run, pid());
  await sleep(1500);
  const rssN = rssMb(pid());
  say(`## Memory across reloads (sample feed, 2 workers)`);
  say('| after | daemon RSS | against after 1 |');
  say('|---:|---:|---:|');
  say(`| 1 reload (baseline) | ${ms(rss1, 1)} MB | 1× |`);
  say(`| ${n} reloads | ${ms(rssN, 1)} MB | ${(rssN / rss1).toFixed(2)}× |`);
  say();
}
