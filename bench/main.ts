/**
 * `npm run bench`: roq's first benchmarks on the sample feed. Every figure is printed next to a baseline measured
 * in the same run, as a ratio, so results from different machines compare; docs/BENCHMARKS.md records them.
 *
 *  1. start-up: `roq start` until serving, and daemon RSS with 1 and with 4 workers (→ memory per extra worker);
 *     baseline: parsing the same files once with csv-parse (what every request would cost without a daemon).
 *  2. in-process query latency (engine only) over the worked cases; baseline: the same per-request parse.
 *  3. FIFO round trip through a real daemon at 1, 16 and 64 concurrent clients; baseline: an echo daemon on the
 *     same FIFOs (bench/echo-daemon.ts).
 *  4. the CGI program spawned directly under Node and under Bun; baseline: an empty process of each runtime.
 *  5. operations under load (bench/operations.ts): latency while reloading against steady state, the longest gap
 *     during a takeover, RSS after 1 and after 50 reloads.
 *  6. roq's engine against SQLite (better-sqlite3) in process, on the same random queries, answers compared.
 *  7. the web path through a private Apache httpd with autocannon: hello-world CGIs (sh, Node, Bun), roq's CGI
 *     (Bun, Node), a naive CSV-per-request CGI and a SQLite CGI (bench/web.ts); a chart goes to docs/.
 *  8. scale: the sample feed ×1, ×10, ×100: load time, MB/s, RSS, query p50 (bench/scale.ts).
 *  9. shapes: generated feeds with the shapes of real ones (bench/shapes.ts: a sparse-service railroad, a city bus
 *     network with a 153 MB stop_times.txt) beside the sample: departures against SQLite, load MB/s, RSS against
 *     raw bytes (bench/shapes-bench.ts).
 * 10. cluster: three nodes behind HAProxy: throughput, skew window of a cluster refresh, 304s (bench/cluster.ts).
 * 11. resync: what a garbled 4 KB line on REQUESTS costs the dispatcher, against plain garbage (bench/resync.ts).
 * Every loop is bounded in count and in time. `--quick` shortens every loop; `--smoke` runs every section for a
 * few seconds (part of `npm test`, so the benchmark cannot rot); `--only=NAME` runs one of core, operations,
 * resync, compare, web, scale, shapes, cluster.
 */
import { spawn, spawnSync, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery } from '../src/engine.js';
import { ask, openChannel } from '../src/client.js';
import { compareInProcess } from './compare.js';
import { startRoq, stopRoq } from './daemon.js';
import { operationsBench } from './operations.js';
import { resyncBench } from './resync.js';
import { scaleBench } from './scale.js';
import { shapesBench } from './shapes-bench.js';
import { buildSqlite } from './sqlite.js';
import { clusterBench } from './cluster.js';
import { webBench, webChart } from './web.js';
import { ms, rssMb, summary } from './stats.js';

const root = resolve(__dirname, '..');
const data = join(root, 'data/gtfs-lirr');
const roq = join(root, 'dist/roq.js');
const cgi = join(root, 'dist/roq.cgi');
const bun = join(root, 'node_modules/.bin/bun');
const cases = readFileSync(join(root, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { query: string; params: Record<string, string | number> });
/**
 * How long one benchmark request may wait for its answer. It only guards against a hang: the figures are the
 * latencies measured, and the smoke run inside `npm test` shares a busy machine, where 64 clients on 2 cores can
 * wait seconds for a turn (a 5 s deadline failed there).
 */
const ANSWER_DEADLINE_MS = 60_000;
const stringParams = (p: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));

const out: string[] = [];
const say = (line = '') => {
  out.push(line);
  console.log(line);
};

function timeIt(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

/** Per-request parsing without a daemon: the tables departures needs, parsed with csv-parse. */
function parsePerRequest(): void {
  for (const f of ['stop_times.txt', 'trips.txt', 'routes.txt', 'calendar_dates.txt', 'stops.txt']) {
    parse(readFileSync(join(data, f)), { columns: true, bom: true });
  }
}

const startDaemon = (run: string, workers: number) =>
  startRoq(roq, run, ['--data', data, '--workers', String(workers)]);
const stopDaemon = (run: string) => stopRoq(roq, run);

/** Starts bench/echo-daemon.ts on `run` and resolves once it reads REQUESTS. */
function startEcho(run: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(root, 'dist/echo-daemon.js'), run], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the echo daemon did not start within 10 s')), 10_000);
    child.stdout!.once('data', () => {
      clearTimeout(timer);
      resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`the echo daemon exited (${code})`)));
  });
}

async function operations(quick: boolean): Promise<void> {
  const run = mkdtempSync(join(tmpdir(), 'roq-bench-'));
  try {
    startDaemon(run, 2);
    await operationsBench(
      roq,
      run,
      cases.map((c) => ({ query: c.query, params: stringParams(c.params) })),
      quick,
      say,
    );
  } finally {
    stopDaemon(run);
    rmSync(run, { recursive: true, force: true });
  }
}

async function web(mode: Mode): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'roq-bench-web-'));
  try {
    mkdirSync(join(base, 'web'), { recursive: true });
    const sqliteDb = join(base, 'web', 'gtfs.sqlite');
    buildSqlite(data, sqliteDb);
    const results = await webBench(
      {
        root,
        base,
        data,
        sqliteDb,
        connections: 8,
        seconds: mode === 'smoke' ? 1 : mode === 'quick' ? 3 : 10,
        startDaemon: (run) => startDaemon(run, 2),
        stopDaemon,
      },
      say,
    );
    if (results && mode !== 'smoke') {
      const chart = join(root, 'docs/bench-web.svg');
      writeFileSync(
        chart,
        webChart(
          results,
          `Departures through Apache (mod_cgid), 8 connections — requests per second, ${new Date().toISOString().slice(0, 10)}`,
        ),
      );
      say(`Chart: docs/bench-web.svg`);
      say();
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

type Mode = 'full' | 'quick' | 'smoke';

async function main(): Promise<void> {
  const mode: Mode = process.argv.includes('--smoke') ? 'smoke' : process.argv.includes('--quick') ? 'quick' : 'full';
  const quick = mode !== 'full';
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7);
  say(`# roq benchmarks — ${new Date().toISOString()} (${mode})`);
  say(
    `machine: ${execFileSync('nproc').toString().trim()} cores, node ${process.version}, bun ${spawnSync(bun, ['--version']).stdout?.toString().trim()}`,
  );
  say();
  const sections: Record<string, () => Promise<void>> = {
    core: () => core(mode),
    operations: () => operations(quick),
    resync: async () => resyncBench(quick, say),
    compare: async () => void (await compareInProcess(data, say, quick)),
    web: () => web(mode),
    shapes: () =>
      shapesBench(
        { roq, sample: data, scale: mode === 'smoke' ? 0.01 : 1, quick, loads: mode === 'full' ? 3 : 1 },
        say,
      ),
    cluster: () => clusterBench({ root, data, seconds: mode === 'full' ? 10 : 3 }, say),
    scale: () =>
      scaleBench(
        {
          roq,
          sample: data,
          factors: mode === 'smoke' ? [1, 2] : mode === 'quick' ? [1, 10] : [1, 10, 100],
          queries: mode === 'smoke' ? 200 : 3000,
        },
        say,
      ),
  };
  if (only && !sections[only])
    throw new Error(`--only=${only}: no such section; one of ${Object.keys(sections).join(', ')}`);
  for (const [name, run] of Object.entries(sections)) {
    if (only && name !== only) continue;
    if (mode === 'smoke' && name === 'operations') continue; // its reload loops take tens of seconds even when short
    if (mode === 'smoke' && name === 'cluster') continue; // test/cluster.test.ts runs the same cluster in npm test
    await run();
  }
  say(`Original C server, for reference (not measured here): 10–20 ms a query, 7–10 s to load 5 MB.`);
}

/** Sections 1–4: start-up and memory, in-process latency, FIFO round trips, the CGI program spawned directly. */
async function core(mode: Mode): Promise<void> {
  const quick = mode !== 'full';
  const smoke = mode === 'smoke';
  // 1. baseline: per-request parsing
  const parseSamples = Array.from({ length: quick ? 2 : 5 }, () => timeIt(parsePerRequest));
  const parseMs = summary(parseSamples).p50;
  say('## Start-up and memory (sample feed)');
  say('| what | value | against per-request parse |');
  say('|---|---:|---:|');
  say(`| parse the departures tables once with csv-parse (baseline) | ${ms(parseMs, 1)} ms | 1× |`);

  const inproc = await loadGeneration(data, 1, { warn: () => {} });
  say(
    `| load every table in-process (${inproc.stats.rows} rows, ${(inproc.stats.bytes / 1e6).toFixed(1)} MB) | ${ms(inproc.loadMs, 1)} ms | ${(inproc.loadMs / parseMs).toFixed(2)}× |`,
  );

  const rss: Record<number, number> = {};
  for (const workers of smoke ? [1] : [1, 4]) {
    const run = mkdtempSync(join(tmpdir(), 'roq-bench-'));
    try {
      const s = startDaemon(run, workers);
      await new Promise((r) => setTimeout(r, 300));
      rss[workers] = rssMb(s.pid);
      say(
        `| \`roq start\` until serving, ${workers} worker(s) | ${ms(s.ms, 1)} ms | ${(s.ms / parseMs).toFixed(2)}× |`,
      );
      say(`| daemon RSS, ${workers} worker(s) | ${ms(rss[workers]!, 1)} MB | |`);
    } finally {
      stopDaemon(run);
      rmSync(run, { recursive: true, force: true });
    }
  }
  if (!smoke) say(`| memory per extra worker ((RSS₄ − RSS₁) / 3) | ${ms((rss[4]! - rss[1]!) / 3, 1)} MB | |`);
  say();

  // 2. in-process latency
  const db = openGeneration(inproc);
  const rounds = smoke ? 1 : quick ? 5 : 50;
  const lat: number[] = [];
  const budget = Date.now() + 20_000;
  for (let r = 0; r < rounds && Date.now() < budget; r++) {
    for (const c of cases) {
      const p = stringParams(c.params);
      const t0 = performance.now();
      runQuery(db, c.query, p);
      lat.push(performance.now() - t0);
    }
  }
  const q = summary(lat);
  say('## Query latency in-process (engine only, the 100 worked cases)');
  say('| n | p50 | p99 | max | p50 against per-request parse |');
  say('|---:|---:|---:|---:|---:|');
  say(`| ${q.n} | ${ms(q.p50)} ms | ${ms(q.p99)} ms | ${ms(q.max)} ms | ${(parseMs / q.p50).toFixed(0)}× faster |`);
  say();

  // 3. FIFO round trips through a real daemon, against an echo daemon on the same FIFOs (the floor)
  say('## FIFO round trip through the daemon (2 workers; Node clients in the bench process)');
  say('`ask` makes and removes an answer FIFO per request, as the CGI program and the CLI do (Node runs mkfifo(1)');
  say("for that); a channel keeps one answer FIFO per simulated client, so its figures are the daemon's own. The");
  say('baseline is bench/echo-daemon.ts: the same clients and FIFOs, a canned answer of about the same size, no');
  say('query, no worker thread, no checks — what the kernel and the clients leave for any daemon.');
  say();
  say('| daemon | client | concurrent clients | requests | p50 | p99 | queries/s | against the echo daemon |');
  say('|---|---|---:|---:|---:|---:|---:|---:|');
  type Client = { send: (c: (typeof cases)[number]) => Promise<unknown>; close: () => void };
  const load = async (clients: number, total: number, perClient: () => Client) => {
    const samples: number[] = [];
    let next = 0;
    const stopAt = Date.now() + 30_000;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: clients }, async () => {
        const client = perClient();
        try {
          while (next < total && Date.now() < stopAt) {
            const c = cases[next++ % cases.length]!;
            const s = performance.now();
            const a = (await client.send(c)) as { status: string };
            samples.push(performance.now() - s);
            if (a.status !== 'ok') throw new Error(`bench query failed: ${JSON.stringify(a)}`);
          }
        } finally {
          client.close();
        }
      }),
    );
    return { ...summary(samples), qps: samples.length / ((performance.now() - t0) / 1000) };
  };
  const channel = (run: string) => (): Client => {
    const ch = openChannel(run);
    return { send: (c) => ch.request(c.query, stringParams(c.params), ANSWER_DEADLINE_MS), close: () => ch.close() };
  };
  // against: the echo daemon's queries/s at the same level, 'floor' for the echo rows, undefined where no echo
  // figure compares (the echo has no mkfifo-per-request client).
  const row = (
    daemon: string,
    client: string,
    clients: number,
    f: Awaited<ReturnType<typeof load>>,
    against: number | 'floor' | undefined,
  ) =>
    say(
      `| ${daemon} | ${client} | ${clients} | ${f.n} | ${ms(f.p50)} ms | ${ms(f.p99)} ms | ${f.qps.toFixed(0)} | ${against === 'floor' ? '1× (floor)' : against ? `${((100 * f.qps) / against).toFixed(0)} %` : ''} |`,
    );
  const levels = [1, 16, 64];
  const perLevel = smoke ? 300 : quick ? 2000 : 20_000;
  const echoRun = mkdtempSync(join(tmpdir(), 'roq-bench-'));
  const echo = await startEcho(echoRun);
  const floors: number[] = [];
  try {
    for (const clients of levels) {
      const f = await load(clients, perLevel, channel(echoRun));
      floors.push(f.qps);
      row('echo (baseline)', 'channel', clients, f, 'floor');
    }
  } finally {
    echo.kill('SIGTERM');
    rmSync(echoRun, { recursive: true, force: true });
  }
  const run = mkdtempSync(join(tmpdir(), 'roq-bench-'));
  try {
    startDaemon(run, 2);
    const asked = await load(1, smoke ? 20 : quick ? 200 : 1000, () => ({
      send: (c) => ask(run, c.query, stringParams(c.params), { timeoutMs: ANSWER_DEADLINE_MS }),
      close: () => {},
    }));
    row('roq', '`ask` (mkfifo per request)', 1, asked, undefined);
    for (const [i, clients] of levels.entries())
      row('roq', 'channel', clients, await load(clients, perLevel, channel(run)), floors[i]);
  } finally {
    stopDaemon(run);
    rmSync(run, { recursive: true, force: true });
  }
  say();

  // 4. the CGI program per request, spawned directly
  say('## CGI program per request (spawned directly, one departures query)');
  say('| runtime | empty process p50 (baseline) | CGI request p50 | CGI p99 | ratio to empty process |');
  say('|---|---:|---:|---:|---:|');
  const run2 = mkdtempSync(join(tmpdir(), 'roq-bench-'));
  try {
    startDaemon(run2, 2);
    const env = {
      ...process.env,
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      QUERY_STRING: 'stop=237&date=2026-11-02&after=08:00&format=json',
      SCRIPT_NAME: '/roq',
      SERVER_PROTOCOL: 'HTTP/1.1',
      ROQ_RUN_DIR: run2,
    };
    for (const [name, exe] of [
      ['node', process.execPath],
      ['bun', bun],
    ] as const) {
      const n = smoke ? 3 : quick ? 10 : 50;
      const empty = Array.from({ length: n }, () => timeIt(() => spawnSync(exe, ['-e', '0'])));
      const req = Array.from({ length: n }, () =>
        timeIt(() => {
          const r = spawnSync(exe, [cgi], { env, encoding: 'utf8' });
          if (!/Status: 200/.test(r.stdout))
            throw new Error(`CGI under ${name} failed: ${r.stdout.slice(0, 200)} ${r.stderr}`);
        }),
      );
      const e = summary(empty),
        c = summary(req);
      say(
        `| ${name} | ${ms(e.p50, 1)} ms | ${ms(c.p50, 1)} ms | ${ms(c.p99, 1)} ms | ${(c.p50 / e.p50).toFixed(2)}× |`,
      );
    }
  } finally {
    stopDaemon(run2);
    rmSync(run2, { recursive: true, force: true });
  }
  say();
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
