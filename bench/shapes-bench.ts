/**
 * The shapes of real feeds (bench/shapes.ts) beside the sample: for each, roq against SQLite on the same seeded
 * departures mix with every answer compared (bench/compare.ts), load speed in MB/s (best of a few in-process
 * loads, so one noisy neighbour does not set the figure), and the daemon's RSS against the raw bytes of the
 * files it loaded. Every loop is bounded in count and in time.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGeneration } from '../src/load/loader.js';
import { compareInProcess, type Compared } from './compare.js';
import { startRoq, stopRoq } from './daemon.js';
import { shapeFeed, SHAPES, type ShapeName } from './shapes.js';
import { ms, rssMb } from './stats.js';

type Say = (line?: string) => void;

export interface ShapesSetup {
  roq: string;
  /** The sample feed, measured the same way as the first row. */
  sample: string;
  /** 1 = the full sizes; the smoke run uses a small fraction. */
  scale: number;
  quick: boolean;
  loads: number;
}

interface ShapeRow {
  name: string;
  compared: Compared;
  loadMs: number;
  cpuMs: number;
  bytes: number;
  rss: number;
}

/**
 * Best-of-n in-process load of dir: wall time, and the CPU time of this process over the same load (the loader
 * runs on one thread; the rest is the collector's helpers), which a shared machine disturbs less than wall time.
 */
async function bestLoad(dir: string, n: number): Promise<{ loadMs: number; cpuMs: number; bytes: number }> {
  let best = Infinity;
  let cpuMs = Infinity;
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    // Timed around loadGeneration rather than by its loadMs, so the queries' derived data (built after the
    // tables, see derived.ts) counts too.
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const g = await loadGeneration(dir, 1, { warn: () => {} });
    const wall = performance.now() - t0;
    const c = process.cpuUsage(c0);
    best = Math.min(best, wall);
    cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000);
    bytes = g.stats.bytes;
  }
  return { loadMs: best, cpuMs, bytes };
}

/** The daemon's RSS (2 workers) half a second after it serves dir. */
async function daemonRss(roq: string, dir: string): Promise<number> {
  const run = mkdtempSync(join(tmpdir(), 'roq-shape-run-'));
  try {
    const started = startRoq(roq, run, ['--data', dir, '--workers', '2', '--access-log', 'off']);
    await new Promise((res) => setTimeout(res, 500));
    return rssMb(started.pid);
  } finally {
    stopRoq(roq, run);
    rmSync(run, { recursive: true, force: true });
  }
}

export async function shapesBench(o: ShapesSetup, say: Say): Promise<void> {
  const feeds: [string, string][] = [['sample (LIRR)', o.sample]];
  for (const shape of SHAPES) {
    const t0 = performance.now();
    const dir = shapeFeed(shape as ShapeName, o.scale);
    say(
      `(${shape}${o.scale === 1 ? '' : ` ×${o.scale}`}: ${dir}, ready in ${ms((performance.now() - t0) / 1000, 1)} s)`,
    );
    feeds.push([`${shape}${o.scale === 1 ? '' : ` ×${o.scale}`}`, dir]);
  }
  say();
  const rows: ShapeRow[] = [];
  for (const [name, dir] of feeds) {
    const compared = await compareInProcess(dir, say, o.quick);
    const { loadMs, cpuMs, bytes } = await bestLoad(dir, o.loads);
    rows.push({ name, compared, loadMs, cpuMs, bytes, rss: await daemonRss(o.roq, dir) });
  }
  say('## Feed shapes: roq against SQLite, load speed, memory');
  say(
    'Departures p50/p99 of the seeded mix above (every answer compared equal); load = best of ' +
      o.loads +
      ' in-process',
  );
  say(
    "loads of every table (wall time, and MB per second of the process's CPU time); RSS = `roq start` with 2 workers,",
  );
  say('0.5 s after serving, against the bytes of the files loaded. "In blocks": the same queries in blocks of 250 per');
  say('engine, turns alternating (each engine on the caches its own last query left; bench/compare.ts).');
  say();
  say(
    '| feed | MB | roq p50 | roq p99 | SQLite p50 | SQLite p99 | p50: roq faster by | in blocks: roq p50 / p99, faster by | load | load MB/s | MB per CPU-s | SQLite import | daemon RSS | RSS / raw bytes |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const c = r.compared;
    const mb = r.bytes / 1e6;
    say(
      `| ${r.name} | ${mb.toFixed(1)} | ${ms(c.roq.p50)} ms | ${ms(c.roq.p99)} ms | ${ms(c.sqlite.p50)} ms | ${ms(c.sqlite.p99)} ms | ` +
        `${(c.sqlite.p50 / c.roq.p50).toFixed(1)}× | ${ms(c.blocks.roq.p50)} / ${ms(c.blocks.roq.p99)} ms, ${(c.blocks.sqlite.p50 / c.blocks.roq.p50).toFixed(1)}× | ` +
        `${ms(r.loadMs / 1000, 2)} s | ${(mb / (r.loadMs / 1000)).toFixed(0)} | ${(mb / (r.cpuMs / 1000)).toFixed(0)} | ` +
        `${ms(c.sqlite.buildMs / 1000, 1)} s | ${ms(r.rss, 0)} MB | ${(r.rss / mb).toFixed(2)}× |`,
    );
  }
  say();
}
