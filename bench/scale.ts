/**
 * Scale: the sample feed against copies of itself ×10 and ×100 (every id column renamed per copy, so the copies
 * are separate stops, trips and services, as in a feed of a network ten or a hundred times the size). For each:
 * load time in-process and in MB/s, `roq start` until serving and the daemon's RSS, and the p50 of a departures
 * mix, with ratios to ×1. Every loop is bounded in count and in time.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openGeneration, runQuery } from '../src/engine.js';
import { loadGeneration } from '../src/load/loader.js';
import { rng } from '../test/helpers/rng.js';
import { startRoq, stopRoq } from './daemon.js';
import { ms, rssMb, summary } from './stats.js';

type Say = (line?: string) => void;

/** Columns that hold ids, renamed per copy. */
const ID_COLUMNS = new Set([
  'agency_id',
  'route_id',
  'service_id',
  'trip_id',
  'shape_id',
  'stop_id',
  'parent_station',
  'from_stop_id',
  'to_stop_id',
  'from_trip_id',
  'to_trip_id',
  'from_route_id',
  'to_route_id',
]);
/** Tables with one row per feed, not per network. */
const ONCE = new Set(['feed_info.txt']);

/**
 * Writes `times` copies of the sample feed into a new directory. The sample has no quoted fields, so a line split
 * on commas is exact; copy 0 keeps the original ids, so the sample's queries still find their stops.
 */
export function synthesize(sample: string, times: number, into: string): string {
  mkdirSync(into, { recursive: true });
  for (const file of readdirSync(sample).filter((f) => f.endsWith('.txt'))) {
    const lines = readFileSync(join(sample, file), 'utf8')
      .replace(/^\uFEFF/, '')
      .split(/\r?\n/)
      .filter(Boolean);
    const header = lines[0]!.split(',');
    const ids = header.map((h) => ID_COLUMNS.has(h));
    const body = lines.slice(1).map((l) => l.split(','));
    const fd = openSync(join(into, file), 'w');
    try {
      writeSync(fd, lines[0] + '\n');
      for (let k = 0; k < (ONCE.has(file) ? 1 : times); k++) {
        const prefix = k === 0 ? '' : `c${k}_`;
        let chunk = '';
        for (const cells of body) {
          chunk += (prefix ? cells.map((c, i) => (ids[i] && c !== '' ? prefix + c : c)) : cells).join(',') + '\n';
          if (chunk.length > 1 << 20) {
            writeSync(fd, chunk);
            chunk = '';
          }
        }
        writeSync(fd, chunk);
      }
    } finally {
      closeSync(fd);
    }
  }
  return into;
}

export interface ScaleSetup {
  roq: string;
  sample: string;
  factors: number[];
  queries: number;
}

export async function scaleBench(o: ScaleSetup, say: Say): Promise<void> {
  const stops = readFileSync(join(o.sample, 'stops.txt'), 'utf8')
    .split('\n')
    .slice(1)
    .filter(Boolean)
    .map((l) => l.split(',')[0]!);
  const dates = ['2026-09-22', '2026-10-01', '2026-10-10', '2026-10-20', '2026-11-02'];
  const rows: {
    factor: number;
    mb: number;
    rows: number;
    loadMs: number;
    startMs: number;
    rss: number;
    p50: number;
    p99: number;
  }[] = [];
  const base = mkdtempSync(join(tmpdir(), 'roq-scale-'));
  try {
    for (const factor of o.factors) {
      const dir = factor === 1 ? o.sample : synthesize(o.sample, factor, join(base, `x${factor}`));
      const g = await loadGeneration(dir, 1, { warn: () => undefined });
      const db = openGeneration(g);
      const r = rng(factor);
      const lat: number[] = [];
      const stopAt = Date.now() + 20_000;
      for (let i = 0; i < o.queries && Date.now() < stopAt; i++) {
        const k = r.int(0, factor - 1);
        const params = {
          stop: (k === 0 ? '' : `c${k}_`) + r.pick(stops),
          date: r.pick(dates),
          after: `${String(r.int(0, 23)).padStart(2, '0')}:00`,
        };
        const t0 = performance.now();
        runQuery(db, 'departures', params);
        lat.push(performance.now() - t0);
      }
      const q = summary(lat);
      const run = join(base, `run-${factor}`);
      const started = startRoq(o.roq, run, ['--data', dir, '--workers', '2', '--access-log', 'off']);
      await new Promise((res) => setTimeout(res, 500));
      const rss = rssMb(started.pid);
      stopRoq(o.roq, run);
      rows.push({
        factor,
        mb: g.stats.bytes / 1e6,
        rows: g.stats.rows,
        loadMs: g.loadMs,
        startMs: started.ms,
        rss,
        p50: q.p50,
        p99: q.p99,
      });
      if (factor !== 1) rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
  const one = rows[0]!;
  say('## Scale: the sample feed ×1, ×10, ×100 (copies with renamed ids)');
  say('Load = all tables in-process (CSV scan, dictionaries, indexes); start = `roq start` until serving, 2 workers.');
  say();
  say(
    '| feed | MB | rows | load | load MB/s | load against ×1 per MB | `roq start` until serving | daemon RSS | departures p50 | p99 | p50 against ×1 |',
  );
  say('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const x of rows) {
    const perMb = x.loadMs / x.mb / (one.loadMs / one.mb);
    say(
      `| ×${x.factor} | ${x.mb.toFixed(1)} | ${x.rows} | ${ms(x.loadMs / 1000, 2)} s | ${(x.mb / (x.loadMs / 1000)).toFixed(0)} | ${perMb.toFixed(2)}× | ` +
        `${ms(x.startMs / 1000, 2)} s | ${ms(x.rss, 0)} MB | ${ms(x.p50)} ms | ${ms(x.p99)} ms | ${(x.p50 / one.p50).toFixed(2)}× |`,
    );
  }
  say();
}
