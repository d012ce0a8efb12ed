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
import { visitorMessage } from '../src/errors.js';
import { contrast, MIN_CONTRAST, page, routeStyle, stationChoices, singleStationLocation } from '../templates/board.js';
import { renderPage, type Outcome } from '../src/web/pages.js';
import { referenceBoard, type BoardParams } from './board-reference.js';
import { csv, writeFeed } from './feeds.js';
import { rng } from './helpers/rng.js';

/** The board page module's HTML for an outcome, as the engine renders it. */
function boardPage(outcome: Outcome, form: Record<string, string>, script: string): { status: number; body: string } {
  return renderPage({ template: 'board', page }, outcome, { form, json: false, script });
}

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

  it('names the network, its dates and its main stations for the landing page (network)', () => {
    const r = runQuery(db, 'network', { limit: '3' });
    expect(
      rowsToObjects(r.fields, r.rows).map((x) => [x.kind, x.stop_name || x.feed_name, x.first_date, x.routes]),
    ).toEqual([
      ['network', 'Long Island Rail Road', '2026-09-21', 0],
      ['station', 'Penn Station', '', 11],
      ['station', 'Jamaica', '', 10],
      ['station', 'Grand Central', '', 9],
    ]);
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
      return boardPage({ kind: 'rows', query: 'board', fields: r.fields, rows: r.rows, generation: 1 }, params, '/d')
        .body;
    };
    const html = page({ stop: 'P', date: '2025-03-10', after: '07:30' });
    expect(html).toContain('<th scope="col">Track</th>');
    expect(html).toContain('<td class="time">23:50</td><td class="dest">Far End<span class="route under">B');
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

  const boardOf = (params: Record<string, string>) => {
    const r = runQuery(db, 'board', params);
    return boardPage({ kind: 'rows', query: 'board', fields: r.fields, rows: r.rows, generation: 1 }, params, '/d');
  };

  it('answers a stop that does not exist with a 404 page offering the search, and no later pages or days', () => {
    const page = boardOf({ stop: 'NOPE', date: '2025-03-10' });
    expect(page.status).toBe(404);
    expect(page.body).toContain('<h1>Station not found</h1>');
    expect(page.body).toContain('No station has the id “NOPE”. Find it by name above.');
    expect(page.body).toContain('name="q"');
    expect(page.body).not.toMatch(/Later departures|rel="next"|Another time or line/);
  });

  it('says so when the line chosen does not call at the station, in the heading and the menu, with no endless Later', () => {
    const page = boardOf({ stop: 'X', date: '2025-03-10', route: 'R9' });
    expect(page.status).toBe(200);
    expect(page.body).toContain('· Line R9 only</p>');
    expect(page.body).toContain('<option value="R9" selected>Line R9</option>');
    expect(page.body).toContain('No train of line “R9” calls at Far End. <a href="/d?stop=X&amp;date=2025-03-10">');
    expect(page.body).not.toMatch(/Later departures|No departures from|rel="next"/);
    // A line that does call keeps its Later departures.
    expect(boardOf({ stop: 'P', date: '2025-03-10', route: 'R1' }).body).toContain('<option value="R1" selected>S1');
  });

  it('shows the From field without seconds, even when now has them', () => {
    const page = boardOf({ stop: 'P', now: String(at('2025-03-10T07:31:32+01:00')) });
    expect(page.body).toContain('<input type="time" name="after" value="07:31">');
    expect(page.body).toContain('Monday 10 Mar 2025, from 07:31');
  });

  it('carries the date and time chosen from a board into the station search', () => {
    const page = boardOf({ stop: 'P', date: '2025-03-11', after: '09:15' });
    const search = page.body.slice(page.body.indexOf('role="search"'), page.body.indexOf('</form>'));
    expect(search).toContain('<input type="hidden" name="date" value="2025-03-11">');
    expect(search).toContain('<input type="hidden" name="after" value="09:15">');
    // A board of "now" carries nothing: the search stays on now.
    const now = boardOf({ stop: 'P' }).body;
    expect(now.slice(now.indexOf('role="search"'), now.indexOf('</form>'))).not.toContain('type="hidden"');
  });

  it('shows a landing page: the network, its dates, a search with date and time, the main stations on that date', () => {
    const r = runQuery(db, 'network', {});
    const form = { date: '2025-03-11', after: '09:15' };
    const page = boardPage(
      { kind: 'rows', query: 'network', fields: r.fields, rows: r.rows, generation: 1 },
      form,
      '/d',
    );
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Tiny Publisher</h1>');
    expect(page.body).toContain(
      'Departures on Tuesday 11 Mar 2025 · timetable from Saturday 1 Mar 2025 to Monday 31 Mar 2025',
    );
    expect(page.body).toContain('<input type="date" name="date" value="2025-03-11">');
    expect(page.body).toContain('<input type="time" name="after" value="09:15">');
    // P has two routes (its platforms' trips), X two as well: by name then.
    expect([...page.body.matchAll(/<li><a href="([^"]+)">([^<]+)<\/a><\/li>/g)].map((m) => [m[2], m[1]])).toEqual([
      ['Far End', '/d?stop=X&amp;date=2025-03-11&amp;after=09%3A15'],
      ['Parent Station', '/d?stop=P&amp;date=2025-03-11&amp;after=09%3A15'],
    ]);
  });

  it('shows the landing page for a date of the right shape that is no day, naming no day instead of failing', () => {
    const r = runQuery(db, 'network', {});
    const page = boardPage(
      { kind: 'rows', query: 'network', fields: r.fields, rows: r.rows, generation: 1 },
      { date: '2026-02-30' },
      '/d',
    );
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Tiny Publisher</h1>');
    expect(page.body).not.toContain('Departures on');
  });

  it('words a bad date for a passenger, keeping the station name, without codes', () => {
    const error = {
      status: 400,
      code: 'ROQ_PARAM_NO_SUCH_DAY',
      message: "parameter 'date': 2025-02-30 is not a day of the calendar (February has 28 days)",
      param: 'date',
    };
    const page = boardPage({ kind: 'error', error, about: 'Parent Station' }, { stop: 'P', date: '2025-02-30' }, '/d');
    expect(page.status).toBe(400);
    expect(page.body).toContain('<h1>Parent Station</h1>');
    expect(page.body).toContain('“2025-02-30” is not a day: February has 28 days. Choose a day in the Date field.');
    expect(page.body).not.toMatch(/ROQ_|HTTP 400|parameter/);
    expect(page.body).toMatch(/name="date" value="2025-02-30" aria-invalid="true"/);
  });

  it('says the 503 sentence once', () => {
    const message = visitorMessage('ROQ_DAEMON_DOWN', '');
    const error = { status: 503, code: 'ROQ_DAEMON_DOWN', message };
    const body = boardPage({ kind: 'error', error }, {}, '/d').body;
    const words = (text: string) => text.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');
    const sentence = message.split('.')[0]!;
    expect(words(body).split(sentence).length - 1).toBe(1);
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
      ).body;
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
    // The date and time chosen go along.
    expect(singleStationLocation(found.slice(0, 3), '/d', { date: '2026-11-02', after: '08:00' })).toBe(
      '/d?stop=P&date=2026-11-02&after=08%3A00',
    );
  });
});
