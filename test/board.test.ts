/**
 * The `board` query in process: its worked cases on the sample feed (answered alike by the engine and by the naive
 * reference in test/board-reference.ts), random boards against that reference, "later departures" walked page by
 * page, each rule on a hand-made feed (platforms, destination from the last stop, feed_info dates, time zones,
 * arrivals left out), and the page's pure parts (route colours at AA contrast, station choices).
 */
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration, runQuery, type Db } from '../src/engine.js';
import { rowsToObjects, type Cell } from '../src/protocol.js';
import {
  boardPage,
  contrast,
  MIN_CONTRAST,
  routeStyle,
  stationChoices,
  singleStationLocation,
} from '../src/cgi/board.js';
import { referenceBoard, type BoardParams } from './board-reference.js';
import { csv, writeFeed } from './feeds.js';
import { rng } from './helpers/rng.js';

const LIRR = new URL('../data/gtfs-lirr', import.meta.url).pathname;
const at = (instant: string) => Date.parse(instant) / 1000;

function board(db: Db, p: BoardParams): Record<string, Cell>[] {
  const raw = Object.fromEntries(
    Object.entries(p)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [k, String(v)]),
  );
  const r = runQuery(db, 'board', raw);
  return rowsToObjects(r.fields, r.rows);
}

const departures = (rows: Record<string, Cell>[]) => rows.filter((r) => r.kind === 'departure');
const head = (rows: Record<string, Cell>[]) => rows.find((r) => r.kind === 'board')!;

describe('board on the sample feed', () => {
  const cases = readFileSync(new URL('./cases/gtfs-lirr-board-cases.jsonl', import.meta.url), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { params: BoardParams; expected: Record<string, Cell>[] });
  let db: Db;
  let reference: ReturnType<typeof referenceBoard>;
  beforeAll(async () => {
    db = openGeneration(await loadGeneration(LIRR, 1, { warn: () => {} }));
    reference = referenceBoard(LIRR);
  });

  cases.forEach((c, i) => {
    it(`worked case ${i + 1}: ${JSON.stringify(c.params)}`, () => {
      expect(JSON.stringify(board(db, c.params))).toBe(JSON.stringify(c.expected));
      expect(JSON.stringify(reference(c.params))).toBe(JSON.stringify(c.expected));
    });
  });

  it('leaves out the trains that end at the station: at Penn Station they are most of the morning rows', () => {
    const api = runQuery(db, 'departures', { stop: '237', date: '2026-11-02', after: '08:00', limit: '100' });
    const shown = departures(board(db, { stop: '237', date: '2026-11-02', after: '08:00', limit: 100 }));
    const morning = (time: Cell) => String(time) < '10:00:00';
    const rows = api.rows.filter((r) => morning(r[0]!)).length;
    const kept = shown.filter((r) => r.date === '2026-11-02' && morning(r.time!)).length;
    expect(kept).toBeGreaterThan(0);
    expect(rows - kept).toBeGreaterThan(rows / 2);
    expect(shown.every((r) => r.destination !== 'Penn Station')).toBe(true);
  });

  it('takes now in the feed time zone: the same instant is 23:40 in New York, in winter and in summer time', () => {
    expect(head(board(db, { stop: '102', now: at('2026-11-03T04:40:00Z') }))).toMatchObject({
      date: '2026-11-02',
      time: '23:40:00',
      time_zone: 'America/New_York',
    });
    expect(head(board(db, { stop: '102', now: at('2026-10-02T03:40:00Z') }))).toMatchObject({
      date: '2026-10-01',
      time: '23:40:00',
    });
  });

  it('"later departures" walked page by page give the one long board, none lost or repeated at equal times', () => {
    const long = departures(board(db, { stop: '102', date: '2026-11-02', after: '07:00', limit: 100 })).slice(0, 60);
    const walked: Record<string, Cell>[] = [];
    let p: BoardParams = { stop: '102', date: '2026-11-02', after: '07:00', limit: 7 };
    while (walked.length < long.length) {
      const rows = board(db, p);
      walked.push(...departures(rows));
      const h = head(rows);
      expect(h.later_date).not.toBe('');
      p = {
        stop: '102',
        date: String(h.later_date),
        after: String(h.later_time),
        skip: Number(h.later_skip),
        limit: 7,
      };
    }
    expect(walked.slice(0, long.length).map((r) => `${r.date} ${r.time} ${r.trip_id}`)).toEqual(
      long.map((r) => `${r.date} ${r.time} ${r.trip_id}`),
    );
    // Jamaica has several trains at one minute: the walk crossed some with a skip.
    expect(long.some((r, i) => i > 0 && r.time === long[i - 1]!.time)).toBe(true);
  });

  it('agrees with the reference on random boards', () => {
    const r = rng(12);
    const stops = ['102', '237', '241', '202', '27', '56', '1', '24', '349', 'nope'];
    for (let n = 0; n < 25; n++) {
      const p: BoardParams = { stop: r.pick(stops), limit: r.int(1, 30) };
      if (r.next() < 0.3) p.now = at('2026-09-15T00:00:00Z') + r.int(0, 60 * 86400);
      else {
        p.date = `2026-${r.pick(['09-20', '09-21', '10-04', '10-31', '11-01', '11-07', '11-08', '11-09'])}`;
        if (r.next() < 0.8) p.after = `${String(r.int(0, 23)).padStart(2, '0')}:${r.pick(['00', '15', '29', '53'])}`;
        if (r.next() < 0.3) p.skip = r.int(0, 3);
      }
      if (r.next() < 0.3) p.route = r.pick(['1', '4', '10', '12', 'none']);
      expect(board(db, p), JSON.stringify(p)).toEqual(reference(p));
    }
  });
});

describe('board rules on a hand-made feed', () => {
  // 2025-03-10 is a Monday. Station P has platforms P1 and P2 (platform_code 1 and 2B); trip T2 has no headsign.
  const FEED = {
    'agency.txt': csv(
      'agency_id,agency_name,agency_url,agency_timezone',
      'A,Tiny Rail,https://example.org,Europe/Berlin',
    ),
    'feed_info.txt': csv(
      'feed_publisher_name,feed_publisher_url,feed_lang,feed_start_date,feed_end_date,feed_version',
      'Tiny Publisher,https://example.org,en,20250301,20250331,v7',
    ),
    'stops.txt': csv(
      'stop_id,stop_name,location_type,parent_station,platform_code',
      'P,Parent Station,1,,',
      'P1,Parent Station Platform 1,0,P,1',
      'P2,Parent Station Platform 2,0,P, 2B ',
      'E,Parent Station Entrance,2,P,',
      'X,Far End,0,,',
    ),
    'routes.txt': csv(
      'route_id,route_short_name,route_long_name,route_type,route_color,route_text_color',
      'R1,S1,Red Line,2,00985F,FFFFFF',
      'R2,,Blue Line,2,zz,',
    ),
    'trips.txt': csv(
      'route_id,service_id,trip_id,trip_headsign,trip_short_name',
      'R1,WK,T1,Northbound,101',
      'R2,WK,T2,,202',
      'R1,WK,T3,Back,303',
    ),
    'stop_times.txt': csv(
      'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
      'T1,08:00:00,08:00:00,P1,1',
      'T1,08:30:00,08:30:00,X,2',
      'T2,23:50:00,23:50:00,P2,1',
      'T2,24:40:00,24:40:00,X,3',
      'T3,07:00:00,07:00:00,X,1',
      'T3,08:00:00,08:00:00,P1,2',
    ),
    'calendar.txt': csv(
      'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date',
      'WK,1,1,1,1,1,0,0,20250101,20251231',
    ),
  };
  let db: Db;
  let reference: ReturnType<typeof referenceBoard>;
  beforeAll(async () => {
    const dir = writeFeed(FEED);
    db = openGeneration(await loadGeneration(dir, 1, { warn: () => {} }));
    reference = referenceBoard(dir);
  });

  it('shows platform, train number, destination (the last stop when there is no headsign) and the station routes', () => {
    const rows = board(db, { stop: 'P', date: '2025-03-10', after: '07:30' });
    expect(rows).toEqual(reference({ stop: 'P', date: '2025-03-10', after: '07:30' }));
    expect(head(rows)).toMatchObject({
      stop_name: 'Parent Station',
      feed_name: 'Tiny Publisher',
      feed_version: 'v7',
      first_date: '2025-03-01',
      last_date: '2025-03-31',
      time_zone: 'Europe/Berlin',
    });
    expect(
      rows.filter((r) => r.kind === 'route').map((r) => [r.route_id, r.route_name, r.route_color, r.route_text_color]),
    ).toEqual([
      ['R2', 'Blue Line', '', ''],
      ['R1', 'S1', '00985F', 'FFFFFF'],
    ]);
    // T3 ends at P1 at 08:00: an arrival, left out. T1 leaves P1 at 08:00, T2 leaves P2 at 23:50.
    expect(departures(rows).map((r) => [r.date, r.time, r.destination, r.train, r.platform, r.stop_id])).toEqual([
      ['2025-03-10', '08:00:00', 'Northbound', '101', '1', 'P1'],
      ['2025-03-10', '23:50:00', 'Far End', '202', '2B', 'P2'],
      ['2025-03-11', '08:00:00', 'Northbound', '101', '1', 'P1'],
      ['2025-03-11', '23:50:00', 'Far End', '202', '2B', 'P2'],
    ]);
  });

  it('rolls past midnight: a Friday board shows nothing on Saturday, a Sunday board shows all of Monday', () => {
    expect(
      departures(board(db, { stop: 'P', date: '2025-03-14', after: '09:00' })).map((r) => `${r.date} ${r.time}`),
    ).toEqual(['2025-03-14 23:50:00']);
    expect(
      departures(board(db, { stop: 'P', date: '2025-03-16', after: '09:00' })).map((r) => `${r.date} ${r.time}`),
    ).toEqual(['2025-03-17 08:00:00', '2025-03-17 23:50:00']);
  });

  it('renders the platform as a Track column, +1 with the date for the next day, and honest notices', () => {
    const page = (params: Record<string, string>) => {
      const r = runQuery(db, 'board', params);
      return boardPage({ kind: 'rows', query: 'board', fields: r.fields, rows: r.rows, generation: 1 }, params, '/d');
    };
    const html = page({ stop: 'P', date: '2025-03-10', after: '07:30' });
    expect(html).toContain('<th scope="col">Track</th>');
    expect(html).toContain('<td class="time">23:50</td><td class="dest">Far End</td>');
    expect(html).toContain('<td class="platform">2B</td>');
    expect(html).toContain(
      '<td class="time">08:00 <span class="plus" aria-hidden="true">+1</span><span class="sr">, Tue 11 Mar</span></td>',
    );
    expect(html).toContain('<h1>Parent Station</h1>');
    expect(html).toContain(
      'Timetable: Tiny Publisher (version v7), covering Saturday 1 Mar 2025 to Monday 31 Mar 2025.',
    );
    expect(html).toContain('href="/d?query=board&amp;stop=P&amp;date=2025-03-10&amp;after=07%3A30&amp;format=json"');
    expect(page({ stop: 'P', date: '2025-04-01' })).toContain('Tuesday 1 Apr 2025 is outside this timetable.');
    const unknown = page({ stop: '<b>', date: '2025-03-10' });
    expect(unknown).toContain('No station has the id “&lt;b&gt;”');
    expect(unknown).not.toContain('<table>');
  });

  it('says which dates the feed covers from calendar files when feed_info has none, and falls back to UTC for an unknown zone', async () => {
    const dir = writeFeed({
      ...FEED,
      'feed_info.txt': csv('feed_publisher_name,feed_publisher_url,feed_lang', 'P,https://e.org,en'),
      'agency.txt': csv('agency_id,agency_name,agency_url,agency_timezone', 'A,Tiny Rail,https://e.org,Mars/Olympus'),
      'calendar_dates.txt': csv('service_id,date,exception_type', 'WK,20260105,1', 'WK,20241201,2'),
    });
    const other = openGeneration(await loadGeneration(dir, 1, { warn: () => {} }));
    const p = { stop: 'P', now: at('2025-03-10T23:30:00Z') };
    expect(head(board(other, p))).toMatchObject({
      first_date: '2025-01-01',
      last_date: '2026-01-05',
      time_zone: 'UTC',
      date: '2025-03-10',
      time: '23:30:00',
    });
    expect(board(other, p)).toEqual(referenceBoard(dir)(p));
  });
});

describe('the board page pure parts', () => {
  it('shows every route colour at AA contrast, keeping the feed text colour when it reaches it', () => {
    const r = rng(7);
    for (let n = 0; n < 500; n++) {
      const hex = () => r.int(0, 0xffffff).toString(16).padStart(6, '0').toUpperCase();
      const [bg, fg] = [hex(), r.next() < 0.2 ? '' : hex()];
      const m = /^background-color:#([0-9A-F]{6});color:#([0-9A-F]{6})$/.exec(routeStyle(bg, fg))!;
      expect(m[1]).toBe(bg);
      expect(contrast(m[1]!, m[2]!)).toBeGreaterThanOrEqual(MIN_CONTRAST);
      if (fg !== '' && contrast(bg, fg) >= MIN_CONTRAST) expect(m[2]).toBe(fg);
    }
    expect(routeStyle('', 'FFFFFF')).toBe('');
    expect(contrast('000000', 'FFFFFF')).toBeCloseTo(21, 5);
  });

  it('says when a station search may have left stations out', () => {
    const fields = ['stop_id', 'stop_name', 'stop_lat', 'stop_lon', 'location_type', 'parent_station'].map((name) => ({
      name,
      type: 'string' as const,
    }));
    const page = (n: number) =>
      boardPage(
        {
          kind: 'rows',
          query: 'stops',
          fields,
          rows: Array.from({ length: n }, (_, i) => [`S${i}`, `Stop ${i}`, '', '', '', '']),
          generation: 1,
        },
        { q: 'stop' },
        '/d',
      );
    expect(page(20)).toContain('Only the first 20 stops found are listed');
    expect(page(19)).not.toContain('Only the first');
    expect(page(19)).toContain('<li><a href="/d?stop=S18">Stop 18</a></li>');
  });

  it('offers stations, not their platforms or entrances, and goes straight to the one station found', () => {
    const s = (stop_id: string, location_type: string, parent_station: string) => ({
      stop_id,
      stop_name: stop_id,
      location_type,
      parent_station,
    });
    const found = [s('P', '1', ''), s('P1', '0', 'P'), s('E', '2', 'P'), s('Q1', '0', 'Q')];
    expect(stationChoices(found).map((x) => x.stop_id)).toEqual(['P', 'Q1']);
    expect(singleStationLocation(found, '/d')).toBeUndefined();
    expect(singleStationLocation(found.slice(0, 3), '/d')).toBe('/d?stop=P');
  });
});
