/**
 * roq's engine against what a user would pick instead: the same feed imported into SQLite with good indexes and
 * queried with a prepared statement (bench/sqlite.ts). Both run in this process on the same seeded random mix of
 * departure boards — any stop (parent stations included), any day of the feed's calendar, any time, sometimes one
 * route — and every answer of one must equal the other's, or the run fails: a speed-up over a baseline that
 * answers differently would mean nothing. SQLite is the baseline (1×); the figures are per query, both sides
 * validating the parameters and returning row objects in field order.
 * Every loop is bounded in count and in time.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery, type Db } from '../src/engine.js';
import { rowsToObjects } from '../src/protocol.js';
import { rng } from '../test/helpers/rng.js';
import { buildSqlite, openSqliteQueries } from './sqlite.js';
import { ms, summary } from './stats.js';

type Say = (line?: string) => void;
type Departures = Record<string, string>;

function column(dataDir: string, file: string, name: string): string[] {
  const path = join(dataDir, file);
  if (!existsSync(path)) return [];
  const rows: Record<string, string>[] = parse(readFileSync(path), {
    columns: true,
    bom: true,
    skip_empty_lines: true,
  });
  return rows.map((r) => (r[name] ?? '').trim());
}

const utcDay = (yyyymmdd: string) => Date.UTC(+yyyymmdd.slice(0, 4), +yyyymmdd.slice(4, 6) - 1, +yyyymmdd.slice(6, 8));

/** `n` seeded departures queries over the feed's stops, routes and calendar days. */
function departuresMix(dataDir: string, n: number, seed: number): Departures[] {
  const r = rng(seed);
  const stops = column(dataDir, 'stops.txt', 'stop_id');
  const parents = [...new Set(column(dataDir, 'stops.txt', 'parent_station').filter(Boolean))];
  const routes = column(dataDir, 'routes.txt', 'route_id');
  const days = [
    ...column(dataDir, 'calendar_dates.txt', 'date'),
    ...column(dataDir, 'calendar.txt', 'start_date'),
    ...column(dataDir, 'calendar.txt', 'end_date'),
  ]
    .filter((d) => /^\d{8}$/.test(d))
    .map(utcDay);
  if (stops.length === 0 || days.length === 0)
    throw new Error(`${dataDir}: no stops or no calendar days to make queries from`);
  const first = Math.min(...days);
  const span = Math.round((Math.max(...days) - first) / 864e5);
  const pad = (x: number) => String(x).padStart(2, '0');
  return Array.from({ length: n }, () => {
    const q: Departures = {
      stop: parents.length > 0 && r.next() < 0.25 ? r.pick(parents) : r.pick(stops),
      date: new Date(first + r.int(0, span) * 864e5).toISOString().slice(0, 10),
      after: `${pad(r.int(0, 23))}:${pad(r.int(0, 59))}`,
    };
    if (routes.length > 0 && r.next() < 0.25) q.route = r.pick(routes);
    if (r.next() < 0.3) q.limit = String(r.int(1, 100));
    return q;
  });
}

function roqDepartures(db: Db, q: Departures) {
  const { fields, rows } = runQuery(db, 'departures', q);
  return rowsToObjects(fields, rows);
}

/**
 * Builds the SQLite baseline of dataDir in a temporary directory, loads roq's generation of it, and prints via
 * `say` the start-up costs and the latency of both on the same queries (quick: ~500, else ~5000). Throws when
 * any answer differs. Returns both sides' figures (ms, bytes).
 */
export interface Compared {
  sqlite: { p50: number; p99: number; buildMs: number };
  roq: { p50: number; p99: number; loadMs: number; bytes: number };
  /** The same queries in blocks (see blockRounds): each engine mostly on caches its own last query left. */
  blocks: { sqlite: { p50: number; p99: number }; roq: { p50: number; p99: number } };
}

/** Queries per block in blockRounds. */
const BLOCK = 250;

/**
 * The queries again, in blocks of BLOCK per engine, the engines' turns alternating (roq first, then SQLite first),
 * so both get the same treatment: after its first query a block runs on the caches its engine's previous query left,
 * as on a server doing nothing else. Query by query (the main figure) each engine runs half the time on caches the
 * other just evicted, as on a machine shared with other work; roq, reading little memory per query, feels that
 * more than SQLite does. Times per query, bounded by `stopAt`.
 */
function blockRounds(
  queries: readonly Departures[],
  engines: readonly [(q: Departures) => unknown, (q: Departures) => unknown],
  stopAt: number,
): [number[], number[]] {
  const times: [number[], number[]] = [[], []];
  for (let from = 0, b = 0; from < queries.length && Date.now() < stopAt; from += BLOCK, b++) {
    const block = queries.slice(from, from + BLOCK);
    for (const e of b % 2 === 0 ? [0, 1] : [1, 0]) {
      for (const q of block) {
        const t0 = performance.now();
        engines[e]!(q);
        times[e]!.push(performance.now() - t0);
      }
    }
  }
  return times;
}

export async function compareInProcess(dataDir: string, say: Say, quick: boolean): Promise<Compared> {
  const work = mkdtempSync(join(tmpdir(), 'roq-compare-'));
  const dbPath = join(work, 'feed.sqlite');
  let sqlite: ReturnType<typeof openSqliteQueries> | undefined;
  try {
    const b0 = performance.now();
    buildSqlite(dataDir, dbPath);
    const buildMs = performance.now() - b0;
    const dbMb = statSync(dbPath).size / 1e6;
    sqlite = openSqliteQueries(dbPath);
    const generation = await loadGeneration(dataDir, 1, { warn: () => {} });
    const roq = openGeneration(generation);

    const total = quick ? 500 : 5000;
    const queries = departuresMix(dataDir, total, 4242);
    const budgetMs = quick ? 20_000 : 120_000;
    const stopAt = Date.now() + budgetMs;
    // Warm-up (JIT, SQLite's page cache, roq's per-day memos), answers checked but not timed.
    const warm = Math.min(100, queries.length);
    for (let i = 0; i < warm && Date.now() < stopAt; i++) {
      sqlite.departures(queries[i]!);
      roqDepartures(roq, queries[i]!);
    }

    const lite: number[] = [];
    const ours: number[] = [];
    let mismatches = 0;
    const examples: string[] = [];
    let nonEmpty = 0;
    for (let i = 0; i < queries.length && Date.now() < stopAt; i++) {
      const q = queries[i]!;
      // Alternate who goes first, so neither always runs on the caches the other just warmed.
      let a: unknown, b: unknown;
      const runLite = () => {
        const t0 = performance.now();
        a = sqlite!.departures(q);
        lite.push(performance.now() - t0);
      };
      const runRoq = () => {
        const t0 = performance.now();
        b = roqDepartures(roq, q);
        ours.push(performance.now() - t0);
      };
      if (i % 2 === 0) {
        runLite();
        runRoq();
      } else {
        runRoq();
        runLite();
      }
      if ((b as unknown[]).length > 0) nonEmpty++;
      if (JSON.stringify(a) !== JSON.stringify(b)) {
        mismatches++;
        if (examples.length < 3) examples.push(JSON.stringify(q));
      }
    }

    const [blockRoq, blockLite] = blockRounds(
      queries,
      [(q) => roqDepartures(roq, q), (q) => sqlite!.departures(q)],
      Date.now() + (quick ? 10_000 : 60_000),
    );
    const base = summary(lite);
    const mine = summary(ours);
    const blocks = { roq: summary(blockRoq), sqlite: summary(blockLite) };
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const feed = dataDir.split('/').filter(Boolean).pop();
    say(
      `## roq against SQLite, in-process (departures, ${base.n} seeded random queries on ${feed}, ${nonEmpty} non-empty)`,
    );
    say('SQLite: the six tables the queries need, imported once with indexes, one prepared statement per query');
    say(
      '(bench/sqlite.ts; test/baselines.test.ts checks it answers like roq). Both validate the parameters and return',
    );
    say(
      `row objects; every answer was compared: ${mismatches} differed. Ratios are against SQLite (1×), lower is faster.`,
    );
    say();
    say('| start-up | time | size | ratio to SQLite |');
    say('|---|---:|---:|---:|');
    say(
      `| SQLite: import the CSV files, build indexes, ANALYZE (baseline) | ${ms(buildMs, 1)} ms | ${ms(dbMb, 1)} MB db file | 1× |`,
    );
    say(
      `| roq: load every table into a generation | ${ms(generation.loadMs, 1)} ms | ${ms(generation.stats.bytes / 1e6, 1)} MB of CSV read | ${(generation.loadMs / buildMs).toFixed(2)}× |`,
    );
    say();
    say('| engine | queries | p50 | p99 | mean | queries/s | ratio to SQLite (p50) |');
    say('|---|---:|---:|---:|---:|---:|---:|');
    const line = (name: string, s: typeof base, xs: number[], ratio: string) =>
      say(
        `| ${name} | ${s.n} | ${ms(s.p50)} ms | ${ms(s.p99)} ms | ${ms(mean(xs))} ms | ${(1000 / mean(xs)).toFixed(0)} | ${ratio} |`,
      );
    line('SQLite (baseline)', base, lite, '1×');
    line('roq engine', mine, ours, `${ms(mine.p50 / base.p50)}× (${(base.p50 / mine.p50).toFixed(0)}× faster)`);
    say();
    say(
      `In blocks of ${BLOCK} queries per engine, turns alternating (each engine on the caches its own last query left):`,
    );
    say(
      `SQLite p50 ${ms(blocks.sqlite.p50)} ms, p99 ${ms(blocks.sqlite.p99)} ms; roq p50 ${ms(blocks.roq.p50)} ms, ` +
        `p99 ${ms(blocks.roq.p99)} ms (${(blocks.sqlite.p50 / blocks.roq.p50).toFixed(0)}× faster).`,
    );
    say();
    if (mismatches > 0)
      throw new Error(`roq and SQLite differ on ${mismatches} of ${base.n} queries, e.g. ${examples.join(' ')}`);
    return {
      sqlite: { p50: base.p50, p99: base.p99, buildMs },
      roq: { p50: mine.p50, p99: mine.p99, loadMs: generation.loadMs, bytes: generation.stats.bytes },
      blocks: {
        sqlite: { p50: blocks.sqlite.p50, p99: blocks.sqlite.p99 },
        roq: { p50: blocks.roq.p50, p99: blocks.roq.p99 },
      },
    };
  } finally {
    sqlite?.close();
    rmSync(work, { recursive: true, force: true });
  }
}
