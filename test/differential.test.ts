/**
 * Differential tests: the engine against the naive reference of docs/QUERIES.md (test/reference.ts) on random
 * queries — over the sample feed, and over seeded random feeds with everything the sample lacks (calendar.txt,
 * parent stations, route_short_name, pickup_type 1, empty departure times, one-digit hours, loops through one
 * stop, equal departure times, trip_ids whose byte order is not their numeric order, non-ASCII, quoting, a BOM
 * and CRLF). roq is checked against feeds we do not have; this is how we check it against feeds we can make.
 */
import { describe, expect, it } from 'vitest';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery, type Db } from '../src/engine.js';
import { rowsToObjects } from '../src/protocol.js';
import { referenceFeed } from './reference.js';
import { writeFeed } from './feeds.js';
import { rng } from './helpers/rng.js';
import { shapeFeed } from '../bench/shapes.js';

const pad = (n: number) => String(n).padStart(2, '0');
const q = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

interface FeedOptions {
  calendar: boolean;
  crlf: boolean;
  /** Every trip its own service_id (all running in January): more (stop, service) runs than a board merges. */
  servicePerTrip?: boolean;
  trips?: number;
}

function randomFeed(seed: number, opts: FeedOptions): Record<string, string> {
  const r = rng(seed);
  const eol = opts.crlf ? '\r\n' : '\n';
  const file = (lines: string[][]) =>
    (opts.crlf ? '\ufeff' : '') + lines.map((l) => l.map(q).join(',')).join(eol) + eol;
  const names = [
    'Central',
    'central Park',
    'Zürich HB',
    'Ämterplatz',
    'Oak, North',
    'Harbour "Quay"',
    'PARK LANE',
    'Mill',
  ];
  const stops: string[][] = [['stop_id', 'stop_name', 'stop_lat', 'stop_lon', 'location_type', 'parent_station']];
  const stopIds: string[] = [];
  names.forEach((name, i) => {
    const id = `S${i * 7}`;
    stops.push([id, name, `52.${i}`, `13.${i}`, i % 3 === 0 ? '1' : '', '']);
    if (i % 3 === 0) {
      for (let p = 1; p <= 2; p++) {
        stops.push([`${id}p${p}`, `${name} Platform ${p}`, `52.${i}`, `13.${i}`, '0', id]);
        stopIds.push(`${id}p${p}`);
      }
    } else stopIds.push(id);
  });
  const routes = [
    ['route_id', 'route_short_name', 'route_long_name', 'route_type'],
    ['R1', '1', 'Red', '3'],
    ['R2', '', 'Blue, the long one', '3'],
    ['R10', '10', '', '3'],
  ];
  const services = ['WK', 'WE', 'ALL', 'XMAS', 'ODD'];
  const trips: string[][] = [['route_id', 'service_id', 'trip_id', 'trip_headsign', 'direction_id']];
  const times: string[][] = [['trip_id', 'arrival_time', 'departure_time', 'stop_id', 'stop_sequence', 'pickup_type']];
  const tripIds = ['T1', 'T2', 'T9', 'T10', 'T11', 'T100', 'Tü', 'Ta', 'TA', 't1'];
  for (let n = 0; n < (opts.trips ?? 60); n++) {
    const id = n < tripIds.length ? tripIds[n]! : `X${r.int(0, 9999)}_${n}`;
    if (opts.servicePerTrip) services.push(`P${n}`);
    trips.push([
      r.pick(routes.slice(1))[0]!,
      opts.servicePerTrip ? `P${n}` : r.pick(services),
      id,
      r.pick(['North', 'South', 'Loop, via "Mill"']),
      r.pick(['0', '1', '']),
    ]);
    let t = r.int(0, 30) * 3600 + r.pick([0, 15, 30, 45]) * 60;
    const visits = r.int(2, 6);
    for (let s = 0; s < visits; s++) {
      const h = Math.floor(t / 3600);
      const text = `${h < 10 && r.next() < 0.5 ? String(h) : pad(h)}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`;
      const empty = r.next() < 0.05;
      times.push([
        id,
        empty ? '' : text,
        empty ? '' : text,
        r.pick(stopIds.concat(['S7', 'S0'])),
        String(s * r.int(1, 3) + 1),
        r.next() < 0.1 ? '1' : r.pick(['0', '']),
      ]);
      t += r.pick([0, 60, 300, 900]);
    }
  }
  const files: Record<string, string> = {
    'stops.txt': file(stops),
    'routes.txt': file(routes),
    'trips.txt': file(trips),
    'stop_times.txt': file(times),
  };
  const dates: string[][] = [['service_id', 'date', 'exception_type']];
  for (let n = 0; n < 25; n++) dates.push([r.pick(services), `202601${pad(r.int(1, 31))}`, r.pick(['1', '2'])]);
  files['calendar_dates.txt'] = file(dates);
  if (opts.calendar) {
    files['calendar.txt'] = file([
      [
        'service_id',
        'monday',
        'tuesday',
        'wednesday',
        'thursday',
        'friday',
        'saturday',
        'sunday',
        'start_date',
        'end_date',
      ],
      ['WK', '1', '1', '1', '1', '1', '0', '0', '20260101', '20260131'],
      ['WE', '0', '0', '0', '0', '0', '1', '1', '20260105', '20260125'],
      ['ALL', '1', '1', '1', '1', '1', '1', '1', '20251215', '20260120'],
      ['ODD', '1', '0', '1', '0', '1', '0', '1', '20260110', '20260110'],
      ...services
        .filter((id) => id.startsWith('P'))
        .map((id) => [id, '1', '1', '1', '1', '1', '1', '1', '20260101', '20260131']),
    ]);
  }
  return files;
}

async function compare(dir: string, seed: number, count: number, dates: string[]) {
  const db: Db = openGeneration(await loadGeneration(dir, 1, { warn: () => {} }));
  const ref = referenceFeed(dir);
  const r = rng(seed);
  let nonEmpty = 0;
  for (let n = 0; n < count; n++) {
    if (r.next() < 0.85) {
      const p = {
        stop: r.next() < 0.95 ? r.pick(ref.stopIds) : 'nope',
        date: r.pick(dates),
        after:
          r.next() < 0.5
            ? `${pad(r.int(0, 23))}:${pad(r.int(0, 59))}`
            : `${pad(r.int(0, 23))}:${pad(r.int(0, 59))}:${pad(r.int(0, 59))}`,
        route: r.next() < 0.3 ? r.pick(ref.routeIds) : '',
        limit: r.int(1, 100),
      };
      const got = runQuery(db, 'departures', { ...p, limit: String(p.limit) });
      const expected = ref.departures(p);
      if (expected.length) nonEmpty++;
      expect(JSON.stringify(rowsToObjects(got.fields, got.rows)), JSON.stringify(p)).toBe(JSON.stringify(expected));
    } else {
      const name = r.pick(ref.stopNames);
      const start = r.int(0, Math.max(0, name.length - 2));
      const text = name.slice(start, start + r.int(1, 4));
      const p = { q: r.next() < 0.5 ? text.toUpperCase() : text, limit: r.int(1, 100) };
      if (p.q === '') continue;
      const got = runQuery(db, 'stops', { q: p.q, limit: String(p.limit) });
      expect(JSON.stringify(rowsToObjects(got.fields, got.rows)), JSON.stringify(p)).toBe(JSON.stringify(ref.stops(p)));
    }
  }
  return nonEmpty;
}

const januaryDates = Array.from({ length: 33 }, (_, i) => `2026-01-${pad(i)}`)
  .filter((d) => !/-(00|32)$/.test(d))
  .concat(['2025-12-31', '2026-02-01']);

describe('the engine agrees with the naive reference', () => {
  it('on random queries over the sample feed', async () => {
    const dates = Array.from({ length: 52 }, (_, i) => new Date(Date.UTC(2026, 8, 20 + i)).toISOString().slice(0, 10));
    const nonEmpty = await compare(new URL('../data/gtfs-lirr', import.meta.url).pathname, 42, 150, dates);
    expect(nonEmpty).toBeGreaterThan(50);
  });

  it.each([
    [1, { calendar: true, crlf: false }],
    [2, { calendar: false, crlf: false }],
    [3, { calendar: true, crlf: true }],
    [4, { calendar: true, crlf: false }],
  ])('on random queries over random feed %i %j', async (seed, opts) => {
    const nonEmpty = await compare(writeFeed(randomFeed(seed, opts)), seed * 1000, 400, januaryDates);
    expect(nonEmpty).toBeGreaterThan(50);
  });

  // Boards of this feed open more (stop, service) runs than departures.ts merges, so they walk the stop's index
  // range instead: both ways must give the same answers.
  it('on random queries over a feed where every trip has its own service', async () => {
    const nonEmpty = await compare(
      writeFeed(randomFeed(5, { calendar: true, crlf: false, servicePerTrip: true, trips: 300 })),
      5000,
      300,
      januaryDates,
    );
    expect(nonEmpty).toBeGreaterThan(50);
  });
});

describe('the engine agrees with the naive reference on the benchmark shapes (bench/shapes.ts, scaled down)', () => {
  const days = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => new Date(from + i * 864e5).toISOString().slice(0, 10));
  it('sparse services: a railroad exporting calendar_dates only, ~1.5 % of trips running on a date', async () => {
    const dir = shapeFeed('sparse', 0.05, 7, writeFeed({}));
    const nonEmpty = await compare(
      dir,
      14,
      200,
      days(Date.UTC(2026, 4, 31), 259).filter((_, i) => i % 6 === 0 || i === 258),
    );
    expect(nonEmpty).toBeGreaterThan(40);
  });

  it('big file: a bus network with calendar.txt, holidays and an extra timepoint column', async () => {
    const dir = shapeFeed('bigfile', 0.02, 7, writeFeed({}));
    const nonEmpty = await compare(dir, 15, 200, [
      ...days(Date.UTC(2026, 8, 6), 92).filter((_, i) => i % 5 === 0),
      '2026-10-12',
      '2026-11-11',
      '2026-11-26',
    ]);
    expect(nonEmpty).toBeGreaterThan(40);
  });
});
