/**
 * The SQLite baseline of the benchmarks (bench/sqlite.ts) answers exactly like roq, so that comparing their speed
 * compares the same work: it must pass the 100 worked cases, agree with the engine on seeded random queries over
 * the sample feed and on a small feed with what the sample lacks (calendar.txt, a parent station), and refuse the
 * same bad parameters with the same error codes.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { buildSqlite, openSqliteQueries, type Params } from '../bench/sqlite.js';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery, type Db } from '../src/engine.js';
import { rowsToObjects } from '../src/protocol.js';
import { RoqError } from '../src/errors.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { rng } from './helpers/rng.js';
import { shapeFeed } from '../bench/shapes.js';

const root = join(__dirname, '..');
const lirr = join(root, 'data/gtfs-lirr');
const cases = readFileSync(join(root, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l) as { query: 'departures' | 'stops'; params: Params; expected: Record<string, unknown>[] });

const work = mkdtempSync(join(tmpdir(), 'roq-baselines-'));
const opened: { close(): void }[] = [];
afterAll(() => {
  for (const db of opened) db.close();
  rmSync(work, { recursive: true, force: true });
});

type Sqlite = ReturnType<typeof openSqliteQueries>;

async function open(dataDir: string, name: string): Promise<{ sqlite: Sqlite; roq: Db }> {
  const dbPath = join(work, `${name}.sqlite`);
  buildSqlite(dataDir, dbPath);
  const sqlite = openSqliteQueries(dbPath);
  opened.push(sqlite);
  return { sqlite, roq: openGeneration(await loadGeneration(dataDir, 1, { warn: () => {} })) };
}

function roqAnswer(db: Db, query: string, params: Params) {
  const raw = Object.fromEntries(
    Object.entries(params)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
  const { fields, rows } = runQuery(db, query, raw);
  return rowsToObjects(fields, rows);
}

/** Deep equality, and the same keys in the same order (toEqual alone ignores the order). */
function expectSameRows(actual: Record<string, unknown>[], expected: Record<string, unknown>[], what: string): void {
  expect(actual, what).toEqual(expected);
  expect(
    actual.map((r) => Object.keys(r)),
    what,
  ).toEqual(expected.map((r) => Object.keys(r)));
}

const pad = (n: number) => String(n).padStart(2, '0');

function csvColumn(dataDir: string, file: string, column: string): string[] {
  const rows: Record<string, string>[] = parse(readFileSync(join(dataDir, file)), { columns: true, bom: true });
  return rows.map((r) => r[column] ?? '');
}

describe('SQLite baseline on the sample feed', () => {
  let sqlite: Sqlite;
  let roq: Db;
  beforeAll(async () => {
    ({ sqlite, roq } = await open(lirr, 'lirr'));
  });

  it('answers the 100 worked cases exactly', () => {
    expect(cases).toHaveLength(100);
    for (const c of cases)
      expectSameRows(sqlite[c.query](c.params), c.expected, `${c.query} ${JSON.stringify(c.params)}`);
  });

  it('agrees with the engine on 300 seeded random queries', () => {
    const r = rng(20260921);
    const stopIds = csvColumn(lirr, 'stops.txt', 'stop_id');
    const parents = csvColumn(lirr, 'stops.txt', 'parent_station').filter(Boolean);
    const timedStops = [...new Set(csvColumn(lirr, 'stop_times.txt', 'stop_id'))];
    const routeIds = csvColumn(lirr, 'routes.txt', 'route_id');
    const names = csvColumn(lirr, 'stops.txt', 'stop_name');
    const days = csvColumn(lirr, 'calendar_dates.txt', 'date').map(Number);
    const first = Date.UTC(
      Math.floor(Math.min(...days) / 1e4),
      (Math.floor(Math.min(...days) / 100) % 100) - 1,
      Math.min(...days) % 100,
    );
    const span =
      (Date.UTC(
        Math.floor(Math.max(...days) / 1e4),
        (Math.floor(Math.max(...days) / 100) % 100) - 1,
        Math.max(...days) % 100,
      ) -
        first) /
      864e5;
    let nonEmpty = 0;
    for (let i = 0; i < 300; i++) {
      let query: 'departures' | 'stops';
      const params: Params = {};
      if (r.next() < 0.8) {
        query = 'departures';
        params.stop =
          r.next() < 0.05
            ? 'no-such-stop'
            : r.pick(parents.length && r.next() < 0.2 ? parents : r.next() < 0.5 ? timedStops : stopIds);
        // One day either side of the feed: the day after its last day has only the evening before's trips.
        params.date = new Date(first + r.int(-1, span + 1) * 864e5).toISOString().slice(0, 10);
        const h = r.int(0, 23),
          m = r.int(0, 59);
        const after = [undefined, `${pad(h)}:${pad(m)}`, `${h}:${pad(m)}:${pad(r.int(0, 59))}`];
        params.after = r.pick(after);
        if (r.next() < 0.3) params.route = r.next() < 0.1 ? 'no-such-route' : r.pick(routeIds);
        if (r.next() < 0.5) params.limit = r.int(1, 100);
      } else {
        query = 'stops';
        const name = r.pick(names);
        const start = r.int(0, Math.max(0, name.length - 1));
        const part = name.slice(start, start + r.int(1, 6));
        params.q = [...part].map((c) => (r.next() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
        if (r.next() < 0.5) params.limit = r.int(1, 100);
      }
      const expected = roqAnswer(roq, query, params);
      if (expected.length > 0) nonEmpty++;
      expectSameRows(sqlite[query](params), expected, `${query} ${JSON.stringify(params)}`);
    }
    expect(nonEmpty).toBeGreaterThan(150); // the mix must exercise real boards, not mostly empty answers
  });

  it('refuses the same bad parameters with the same error codes', () => {
    const bad: [query: 'departures' | 'stops', params: Params][] = [
      ['departures', { date: '2026-10-01' }],
      ['departures', { stop: '237', date: '2026-02-30' }],
      ['departures', { stop: '237', date: '2026-10-01', after: '25:61' }],
      ['departures', { stop: '237', date: '2026-10-01', limit: 0 }],
      ['departures', { stop: '237', date: '2026-10-01', limit: 1000 }],
      ['departures', { stop: '237', date: '2026-10-01', stpo: 'x' }],
      ['stops', { q: '' }],
    ];
    const codeOf = (fn: () => unknown) => {
      try {
        fn();
      } catch (e) {
        return e instanceof RoqError ? e.code : String(e);
      }
      return 'no error';
    };
    for (const [query, params] of bad) {
      const code = codeOf(() => sqlite[query](params));
      expect(code, `${query} ${JSON.stringify(params)}`).toMatch(/^ROQ_PARAM_/);
      expect(code).toBe(codeOf(() => roqAnswer(roq, query, params)));
    }
  });
});

describe('SQLite baseline on a feed with calendar.txt and a parent station', () => {
  it('agrees with the engine on every stop, on days around the calendar changes', async () => {
    const { sqlite, roq } = await open(writeFeed(TINY_FEED), 'tiny');
    let nonEmpty = 0;
    for (const stop of ['S', 'S1', 'N', 'X'])
      for (const date of [
        '2024-12-31',
        '2025-01-01',
        '2025-06-01',
        '2025-06-02',
        '2025-12-24',
        '2025-12-25',
        '2025-12-26',
        '2026-01-01',
      ])
        for (const after of ['00:00', '08:00:01', '23:59'])
          for (const route of ['', 'R1', 'R2']) {
            const params = { stop, date, after, route };
            const expected = roqAnswer(roq, 'departures', params);
            if (expected.length > 0) nonEmpty++;
            expectSameRows(sqlite.departures(params), expected, JSON.stringify(params));
          }
    expect(nonEmpty).toBeGreaterThan(20);
    for (const q of ['station', 'PARK', 'x']) expectSameRows(sqlite.stops({ q }), roqAnswer(roq, 'stops', { q }), q);
  });
});

describe('SQLite baseline on the benchmark shapes (bench/shapes.ts, scaled down)', () => {
  const days = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => new Date(from + i * 864e5).toISOString().slice(0, 10));
  it.each([
    ['sparse', 0.05, days(Date.UTC(2026, 4, 31), 259)],
    ['bigfile', 0.02, days(Date.UTC(2026, 8, 6), 92)],
  ] as const)('%s: agrees with the engine on 200 seeded random boards', async (shape, scale, dates) => {
    const dir = shapeFeed(shape, scale, 9, work);
    const { sqlite, roq } = await open(dir, shape);
    const r = rng(scale * 1e4);
    const stopIds = [...new Set(csvColumn(dir, 'stop_times.txt', 'stop_id'))];
    const routeIds = csvColumn(dir, 'routes.txt', 'route_id');
    let nonEmpty = 0;
    for (let i = 0; i < 200; i++) {
      const params: Params = {
        stop: r.pick(stopIds),
        date: r.pick(dates),
        after: `${pad(r.int(0, 23))}:${pad(r.int(0, 59))}`,
      };
      if (r.next() < 0.2) params.route = r.pick(routeIds);
      if (r.next() < 0.5) params.limit = r.int(1, 100);
      const expected = roqAnswer(roq, 'departures', params);
      if (expected.length > 0) nonEmpty++;
      expectSameRows(sqlite.departures(params), expected, JSON.stringify(params));
    }
    expect(nonEmpty).toBeGreaterThan(40);
  });
});
