/**
 * The queries in-process: every worked case of the sample feed, then each rule of docs/QUERIES.md on small
 * hand-made feeds. (The daemon's tests send the same cases through real processes.)
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it, beforeAll } from 'vitest';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery, QUERY_NAMES, type Db } from '../src/engine.js';
import { rowsToObjects, type Cell } from '../src/protocol.js';
import { RoqError } from '../src/errors.js';
import { servicesActiveOn } from '../queries/calendar.js';
import {
  clockTime,
  dayLabel,
  dayNumber,
  dayOfNumber,
  daysAfter,
  isoDate,
  previousDay,
  today,
  weekdayOf,
} from '../src/dates.js';
import { coverageLine, expiredWarning } from '../src/valid-dates.js';
import { csv, writeFeed, TINY_FEED } from './feeds.js';

const stringParams = (p: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));

async function open(files: Record<string, string>): Promise<Db> {
  return openGeneration(await loadGeneration(writeFeed(files), 1, { warn: () => {} }));
}

function ask(db: Db, query: string, params: Record<string, string | number>): Record<string, Cell>[] {
  const r = runQuery(db, query, stringParams(params));
  return rowsToObjects(r.fields, r.rows);
}

/** The departures as `time service_date trip_id stop_id/sequence`, compact enough to read in an assertion. */
function board(db: Db, params: Record<string, string | number>): string[] {
  return ask(db, 'departures', params).map(
    (r) => `${r.time} ${r.service_date} ${r.trip_id} ${r.stop_id}/${r.stop_sequence}`,
  );
}

describe('the worked cases of the sample feed', () => {
  const cases = readFileSync(new URL('./cases/gtfs-lirr-cases.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { query: string; params: Record<string, string | number>; expected: unknown[] });
  let db: Db;
  beforeAll(async () => {
    db = openGeneration(
      await loadGeneration(new URL('../data/gtfs-lirr', import.meta.url).pathname, 1, { warn: () => {} }),
    );
  });

  it('has 100 cases', () => expect(cases).toHaveLength(100));
  cases.forEach((c, i) => {
    it(`case ${i + 1}: ${c.query} ${JSON.stringify(c.params)}`, () => {
      expect(JSON.stringify(ask(db, c.query, c.params))).toBe(JSON.stringify(c.expected));
    });
  });
});

// A feed to test the departure rules on. Dates: 2025-03-10 is a Monday.
const STOPS = csv(
  'stop_id,stop_name,parent_station',
  'P,Parent Station,',
  'P1,Parent Station Platform 1,P',
  'P2,Parent Station Platform 2,P',
  'G,Grandchild of P,P1',
  'X,Elsewhere,',
);
const ROUTES = csv('route_id,route_short_name,route_long_name', 'R1,1,Red Line', 'R2,2,Blue Line');
const WEEKDAYS_MARCH = csv(
  'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date',
  'WK,1,1,1,1,1,0,0,20250301,20250331',
);

function feed(trips: string[], stopTimes: string[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    'stops.txt': STOPS,
    'routes.txt': ROUTES,
    'trips.txt': csv('route_id,service_id,trip_id,trip_headsign,direction_id', ...trips),
    // pickup_type is optional in the rows below; an absent one is written empty.
    'stop_times.txt': csv(
      'trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type',
      ...stopTimes.map((r) => (r.split(',').length === 5 ? r + ',' : r)),
    ),
    'calendar.txt': WEEKDAYS_MARCH,
    ...extra,
  };
}

describe('departures', () => {
  it('shows a trip past midnight on the next day, with the service date of the day before', async () => {
    const db = await open(feed(['R1,WK,LATE,Night,0'], ['LATE,25:05:00,25:10:00,X,4', 'LATE,23:55:00,23:59:00,P,1']));
    // Monday 2025-03-10's trip leaves X at 01:10 on Tuesday.
    expect(ask(db, 'departures', { stop: 'X', date: '2025-03-11' })).toEqual([
      {
        time: '01:10:00',
        service_date: '2025-03-10',
        departure_time: '25:10:00',
        stop_id: 'X',
        stop_sequence: 4,
        trip_id: 'LATE',
        trip_headsign: 'Night',
        direction_id: '0',
        route_id: 'R1',
        route_short_name: '1',
        route_long_name: 'Red Line',
      },
    ]);
    // Not on the service day itself (it is not a clock time of that day) …
    expect(board(db, { stop: 'X', date: '2025-03-10' })).toEqual([]);
    // … and `after` applies to the clock time.
    expect(board(db, { stop: 'X', date: '2025-03-11', after: '01:10' })).toEqual(['01:10:00 2025-03-10 LATE X/4']);
    expect(board(db, { stop: 'X', date: '2025-03-11', after: '01:10:01' })).toEqual([]);
    // Sunday 2025-03-09 has no service, so Monday's board shows nothing after midnight.
    expect(board(db, { stop: 'P', date: '2025-03-10' })).toEqual(['23:59:00 2025-03-10 LATE P/1']);
  });

  it('follows calendar.txt weekdays and its inclusive date range', async () => {
    const db = await open(feed(['R1,WK,T,To X,0'], ['T,08:00:00,08:00:00,X,1']));
    const on = (date: string) => board(db, { stop: 'X', date }).length === 1;
    expect(on('2025-03-10')).toBe(true); // Monday
    expect(on('2025-03-14')).toBe(true); // Friday
    expect(on('2025-03-15')).toBe(false); // Saturday
    expect(on('2025-03-16')).toBe(false); // Sunday
    expect(on('2025-03-03')).toBe(true); // first Monday, start_date is 2025-03-01
    expect(on('2025-03-31')).toBe(true); // end_date itself
    expect(on('2025-04-01')).toBe(false); // a Tuesday after end_date
    expect(on('2025-02-28')).toBe(false); // a Friday before start_date
  });

  it('applies calendar_dates removals (2) and additions (1)', async () => {
    const dates = csv(
      'service_id,date,exception_type',
      'WK,20250312,2',
      'WK,20250315,1',
      'EXTRA,20250316,1',
      'WK,20250313,2',
      'WK,20250313,1',
    );
    const db = await open(
      feed(['R1,WK,T,To X,0', 'R2,EXTRA,E,To X,1'], ['T,08:00:00,08:00:00,X,1', 'E,09:00:00,09:00:00,X,1'], {
        'calendar_dates.txt': dates,
      }),
    );
    expect(board(db, { stop: 'X', date: '2025-03-11' })).toEqual(['08:00:00 2025-03-11 T X/1']);
    expect(board(db, { stop: 'X', date: '2025-03-12' })).toEqual([]); // removed
    expect(board(db, { stop: 'X', date: '2025-03-13' })).toEqual(['08:00:00 2025-03-13 T X/1']); // removed and added: added wins
    expect(board(db, { stop: 'X', date: '2025-03-15' })).toEqual(['08:00:00 2025-03-15 T X/1']); // a Saturday, added
    expect(board(db, { stop: 'X', date: '2025-03-16' })).toEqual(['09:00:00 2025-03-16 E X/1']); // a service only calendar_dates knows
    expect([...servicesActiveOn(db, 20250313)].sort()).toEqual(['WK']);
  });

  it('works without calendar.txt, from calendar_dates.txt alone', async () => {
    const files = feed(['R1,ONLY,T,To X,0'], ['T,08:00:00,08:00:00,X,1'], {
      'calendar_dates.txt': csv('service_id,date,exception_type', 'ONLY,20250310,1'),
    });
    delete files['calendar.txt'];
    const db = await open(files);
    expect(board(db, { stop: 'X', date: '2025-03-10' })).toEqual(['08:00:00 2025-03-10 T X/1']);
    expect(board(db, { stop: 'X', date: '2025-03-11' })).toEqual([]);
  });

  it('includes the direct children of a station, and a stop only stop_times knows', async () => {
    const db = await open(
      feed(
        ['R1,WK,T1,a,0', 'R1,WK,T2,b,0', 'R1,WK,T3,c,0', 'R1,WK,T4,d,0', 'R1,WK,T5,e,0'],
        [
          'T1,08:00:00,08:00:00,P,1',
          'T2,08:01:00,08:01:00,P1,1',
          'T3,08:02:00,08:02:00,P2,1',
          'T4,08:03:00,08:03:00,G,1',
          'T5,08:04:00,08:04:00,GHOST,1',
        ],
      ),
    );
    expect(board(db, { stop: 'P', date: '2025-03-10' })).toEqual([
      '08:00:00 2025-03-10 T1 P/1',
      '08:01:00 2025-03-10 T2 P1/1',
      '08:02:00 2025-03-10 T3 P2/1',
    ]);
    expect(board(db, { stop: 'P1', date: '2025-03-10' })).toEqual([
      '08:01:00 2025-03-10 T2 P1/1',
      '08:03:00 2025-03-10 T4 G/1',
    ]);
    expect(board(db, { stop: 'GHOST', date: '2025-03-10' })).toEqual(['08:04:00 2025-03-10 T5 GHOST/1']);
    expect(board(db, { stop: 'NOWHERE', date: '2025-03-10' })).toEqual([]);
  });

  it('leaves out rows without pickup and rows without a departure time', async () => {
    const db = await open(
      feed(
        ['R1,WK,T1,a,0', 'R1,WK,T2,b,0', 'R1,WK,T3,c,0', 'R1,WK,T4,d,0'],
        ['T1,08:00:00,08:00:00,X,1,1', 'T2,08:01:00,,X,1,0', 'T3,08:02:00,08:02:00,X,1,0', 'T4,08:03:00,08:03:00,X,1,'],
      ),
    );
    expect(board(db, { stop: 'X', date: '2025-03-10' })).toEqual([
      '08:02:00 2025-03-10 T3 X/1',
      '08:03:00 2025-03-10 T4 X/1',
    ]);
  });

  it('reads one-digit hours numerically and shows them raw', async () => {
    const db = await open(
      feed(['R1,WK,EARLY,a,0', 'R1,WK,LATER,b,0'], ['LATER,10:00:00,10:00:00,X,1', 'EARLY,7:05:00,7:05:00,X,1']),
    );
    const rows = ask(db, 'departures', { stop: 'X', date: '2025-03-10', after: '7:00' });
    expect(rows.map((r) => [r.time, r.departure_time, r.trip_id])).toEqual([
      ['07:05:00', '7:05:00', 'EARLY'],
      ['10:00:00', '10:00:00', 'LATER'],
    ]);
  });

  it('filters by route when one is given', async () => {
    const db = await open(
      feed(['R1,WK,T1,a,0', 'R2,WK,T2,b,0'], ['T1,08:00:00,08:00:00,X,1', 'T2,08:01:00,08:01:00,X,1']),
    );
    expect(board(db, { stop: 'X', date: '2025-03-10', route: 'R2' })).toEqual(['08:01:00 2025-03-10 T2 X/1']);
    expect(board(db, { stop: 'X', date: '2025-03-10', route: '' })).toHaveLength(2);
    expect(board(db, { stop: 'X', date: '2025-03-10', route: 'R9' })).toEqual([]);
  });

  it('orders by time, then trip_id as bytes, then stop_sequence numerically', async () => {
    const trips = ['B', 'a', 'A10', 'A9', 'LOOP', 'Y', 'é', 'z'].map((t) => `R1,WK,${t},h,0`);
    const db = await open(
      feed(trips, [
        'B,08:00:00,08:00:00,X,1',
        'a,08:00:00,08:00:00,X,1',
        'A10,08:00:00,08:00:00,X,1',
        'A9,08:00:00,08:00:00,X,1',
        'LOOP,08:00:00,08:00:00,X,12',
        'LOOP,08:00:00,08:00:00,X,3',
        'é,08:00:00,08:00:00,X,1',
        'z,08:00:00,08:00:00,X,1',
        'Y,24:30:00,24:30:00,X,1', // Monday's trip at 00:30 on Tuesday …
        'z,00:30:00,00:30:00,X,2', // … and Tuesday's at 00:30: same clock time, ordered by trip_id
      ]),
    );
    expect(board(db, { stop: 'X', date: '2025-03-10', after: '08:00' })).toEqual(
      ['A10/1', 'A9/1', 'B/1', 'LOOP/3', 'LOOP/12', 'a/1', 'z/1', 'é/1'].map(
        (t) => `08:00:00 2025-03-10 ${t.replace('/', ' X/')}`,
      ),
    );
    expect(board(db, { stop: 'X', date: '2025-03-11', after: '00:00', limit: 2 })).toEqual([
      '00:30:00 2025-03-10 Y X/1',
      '00:30:00 2025-03-11 z X/2',
    ]);
  });

  it('returns the first `limit` rows, 10 by default', async () => {
    const trips = Array.from({ length: 30 }, (_, i) => `R1,WK,T${String(i).padStart(2, '0')},h,0`);
    const times = Array.from(
      { length: 30 },
      (_, i) =>
        `T${String(i).padStart(2, '0')},,${String(6 + Math.floor(i / 2)).padStart(2, '0')}:${i % 2 ? '30' : '00'}:00,X,1`,
    );
    const db = await open(feed(trips, times));
    expect(board(db, { stop: 'X', date: '2025-03-10' })).toHaveLength(10);
    expect(board(db, { stop: 'X', date: '2025-03-10', limit: 3 })).toEqual([
      '06:00:00 2025-03-10 T00 X/1',
      '06:30:00 2025-03-10 T01 X/1',
      '07:00:00 2025-03-10 T02 X/1',
    ]);
    expect(board(db, { stop: 'X', date: '2025-03-10', limit: 100 })).toHaveLength(30);
  });

  it('gives empty strings for columns the feed lacks and routes it does not list', async () => {
    const db = await open({
      ...feed([], []),
      'routes.txt': csv('route_id', 'R1'),
      'trips.txt': csv('route_id,service_id,trip_id', 'R1,WK,T1', 'R404,WK,T2'),
      'stop_times.txt': csv('trip_id,departure_time,stop_id,stop_sequence', 'T1,08:00:00,X,1', 'T2,08:01:00,X,1'),
    });
    expect(
      ask(db, 'departures', { stop: 'X', date: '2025-03-10' }).map((r) => [
        r.trip_headsign,
        r.direction_id,
        r.route_id,
        r.route_short_name,
        r.route_long_name,
      ]),
    ).toEqual([
      ['', '', 'R1', '', ''],
      ['', '', 'R404', '', ''],
    ]);
  });

  it('ignores stop_times of trips that trips.txt does not list', async () => {
    const db = await open(feed(['R1,WK,T1,a,0'], ['T1,08:00:00,08:00:00,X,1', 'NOPE,08:01:00,08:01:00,X,1']));
    expect(board(db, { stop: 'X', date: '2025-03-10' })).toEqual(['08:00:00 2025-03-10 T1 X/1']);
  });
});

describe('stops', () => {
  const stops = csv(
    'stop_id,stop_name,stop_lat,stop_lon',
    'b,Park Lane,1,2',
    'a,Park Lane,3,4',
    'B,Park Lane,5,6',
    'z,Zoo PARK,7,8',
    'e,apple park,9,10',
    'u,ÄPARK Ä,11,12',
    'n,Nowhere,13,14',
  );
  let db: Db;
  beforeAll(async () => {
    db = await open({ ...TINY_FEED, 'stops.txt': stops });
  });

  it('matches ignoring ASCII case, in stop_name then stop_id byte order', () => {
    expect(ask(db, 'stops', { q: 'pArK' }).map((r) => `${r.stop_name}/${r.stop_id}`)).toEqual([
      'Park Lane/B',
      'Park Lane/a',
      'Park Lane/b',
      'Zoo PARK/z',
      'apple park/e',
      'ÄPARK Ä/u',
    ]);
  });

  it('folds ASCII letters only', () => {
    expect(ask(db, 'stops', { q: 'äpark' })).toEqual([]);
    expect(ask(db, 'stops', { q: 'Äpark ä' })).toEqual([]);
    expect(ask(db, 'stops', { q: 'Äpark Ä' }).map((r) => r.stop_id)).toEqual(['u']);
  });

  it('gives every field as text, empty for missing columns, and honours limit', () => {
    expect(ask(db, 'stops', { q: 'nowhere' })).toEqual([
      { stop_id: 'n', stop_name: 'Nowhere', stop_lat: '13', stop_lon: '14', location_type: '', parent_station: '' },
    ]);
    expect(ask(db, 'stops', { q: 'park', limit: 2 }).map((r) => r.stop_id)).toEqual(['B', 'a']);
  });

  it('returns 20 rows by default', async () => {
    const many = csv(
      'stop_id,stop_name',
      ...Array.from({ length: 30 }, (_, i) => `s${i},Stop ${String(i).padStart(2, '0')}`),
    );
    const db2 = await open({ ...TINY_FEED, 'stops.txt': many });
    expect(ask(db2, 'stops', { q: 'stop' })).toHaveLength(20);
  });
});

describe('bad parameters name the parameter', () => {
  let db: Db;
  beforeAll(async () => {
    db = await open(TINY_FEED);
  });
  const fails = (query: string, params: Record<string, string>, code: string, param?: string) => {
    try {
      runQuery(db, query, params);
    } catch (e) {
      expect(e).toBeInstanceOf(RoqError);
      expect((e as RoqError).code).toBe(code);
      if (param) {
        expect((e as RoqError).param).toBe(param);
        expect((e as RoqError).message).toContain(`'${param}'`);
      }
      return;
    }
    throw new Error('no error');
  };

  it('refuses malformed values', () => {
    fails('departures', { date: '2025-03-10' }, 'ROQ_PARAM_MISSING', 'stop');
    fails('departures', { stop: 'S' }, 'ROQ_PARAM_MISSING', 'date');
    fails('departures', { stop: 'S', date: '2025-02-30' }, 'ROQ_PARAM_NO_SUCH_DAY', 'date');
    fails('departures', { stop: 'S', date: '2025-03-10', after: '25:61' }, 'ROQ_PARAM_INVALID', 'after');
    fails('departures', { stop: 'S', date: '2025-03-10', limit: '0' }, 'ROQ_PARAM_INVALID', 'limit');
    fails('departures', { stop: 'S', date: '2025-03-10', limit: '1000' }, 'ROQ_PARAM_INVALID', 'limit');
    fails('departures', { stop: 'S', date: '2025-03-10', stpo: 'S' }, 'ROQ_PARAM_UNKNOWN', 'stpo');
    fails('stops', {}, 'ROQ_PARAM_MISSING', 'q');
    fails('stops', { q: 'a', limit: '101' }, 'ROQ_PARAM_INVALID', 'limit');
  });

  it('refuses unknown queries, including names of Object.prototype', () => {
    fails('nope', {}, 'ROQ_QUERY_UNKNOWN');
    fails('constructor', {}, 'ROQ_QUERY_UNKNOWN');
    fails('__proto__', {}, 'ROQ_QUERY_UNKNOWN');
    expect(QUERY_NAMES).toEqual(['board', 'departures', 'network', 'stops']);
  });

  it('answers an unknown stop or route with no rows', () => {
    expect(runQuery(db, 'departures', { stop: 'nope', date: '2025-03-10' }).rows).toEqual([]);
    expect(runQuery(db, 'departures', { stop: 'S', date: '2025-03-10', route: 'nope' }).rows).toEqual([]);
  });
});

describe('what the engine pulls in', () => {
  // Workers load the engine and the CGI program loads the query specs; neither should carry the loader's weight.
  async function inputsOf(entry: string): Promise<string[]> {
    const { build } = await import('esbuild');
    const r = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      logLevel: 'silent',
    });
    return Object.keys(r.metafile.inputs);
  }

  it('keeps csv-parse, fast-glob and the loader out of the engine', async () => {
    const inputs = await inputsOf('src/engine.ts');
    expect(inputs.filter((p) => /csv-parse|fast-glob|store\/(csv|builders|table)\.ts|server\/loader/.test(p))).toEqual(
      [],
    );
  });

  it('keeps the generated queries.ts free of runtime imports (every program bundles it)', async () => {
    expect(await inputsOf('.roq/generated/queries.ts')).toEqual(['.roq/generated/queries.ts']);
  });
});

describe('calendar arithmetic', () => {
  it('steps back over month, year and leap days', () => {
    expect(previousDay(20250301)).toBe(20250228);
    expect(previousDay(20240301)).toBe(20240229);
    expect(previousDay(20250101)).toBe(20241231);
    expect(weekdayOf(20250310)).toBe(1);
    expect(isoDate(20250309)).toBe('2025-03-09');
    expect(clockTime(3 * 3600 + 7 * 60 + 9)).toBe('03:07:09');
  });

  it("takes today in the data's time zone, not the server's", () => {
    // 12:00 UTC on 7 December is already 8 December at UTC+14 and still 7 December at UTC-10.
    const now = new Date('2026-12-07T12:00:00Z');
    const east = { start: '2026-01-01', end: '2026-12-07', zone: 'Pacific/Kiritimati' };
    const west = { ...east, zone: 'Pacific/Honolulu' };
    expect([today(now, east.zone), today(now, west.zone)]).toEqual(['2026-12-08', '2026-12-07']);
    expect(coverageLine(east, now)).toBe(
      'data covers 2026-01-01 to 2026-12-07 (ENDED: today is 2026-12-08; load a newer export)\n',
    );
    expect(coverageLine(west, now)).toBe('data covers 2026-01-01 to 2026-12-07\n');
    expect(expiredWarning(east, now)).toMatch(/today \(2026-12-08\) is past its end/);
    expect(expiredWarning(west, now)).toBeUndefined();
  });

  it('counts whole days forward and back from one day number, and names days as the pages do', () => {
    expect([daysAfter(20241231, 1), daysAfter(20240228, 2), daysAfter(20260301, -366)]).toEqual([
      20250101, 20240301, 20250228,
    ]);
    expect(dayOfNumber(dayNumber(20261102))).toBe(20261102);
    expect(dayNumber(19700102)).toBe(1);
    expect([dayLabel(20261102), dayLabel(20261102, true)]).toEqual(['Monday 2 Nov 2026', 'Mon 2 Nov']);
  });
});
