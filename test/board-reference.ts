/**
 * A deliberately naive reference of the `board` query (docs/QUERIES.md), for the board's tests: it reads the feed
 * with csv-parse, takes its departures from the naive departures reference (test/reference.ts) and works out the
 * rest by scanning rows, sharing no code with src/queries/board.ts. It converts "now" to the feed's local time a
 * different way too (a formatted string rather than formatToParts).
 */
import { readFileSync } from 'node:fs';
import { referenceFeed, table } from './reference.js';

type Row = Record<string, string>;

/**
 * Every field of a board row, empty (0 for an int), in the answer's order as the query's schema lists them: the
 * specification, read here from the schema file rather than the engine's generated code.
 */
const BLANK: Record<string, string | number> = Object.fromEntries(
  (
    JSON.parse(readFileSync(new URL('../schemas/queries/board.json', import.meta.url), 'utf8')) as {
      fields: { name: string; type: string }[];
    }
  ).fields.map((f) => [f.name, f.type === 'int' ? 0 : '']),
);

const bytes = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));
const iso = (ymd: string) => `${ymd.slice(0, 4)}-${ymd.slice(4, 6)}-${ymd.slice(6, 8)}`;
const shift = (isoDate: string, days: number) => {
  const d = new Date(`${isoDate}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
};

export interface BoardParams {
  stop: string;
  date?: string;
  after?: string;
  skip?: number;
  route?: string;
  limit?: number;
  now?: number;
}

export function referenceBoard(dir: string) {
  const ref = referenceFeed(dir);
  const stops = table(dir, 'stops.txt');
  const stopTimes = table(dir, 'stop_times.txt');
  const trips = table(dir, 'trips.txt');
  const routes = table(dir, 'routes.txt');
  const agency = table(dir, 'agency.txt');
  const info = table(dir, 'feed_info.txt')[0];
  const calendar = table(dir, 'calendar.txt');
  const calendarDates = table(dir, 'calendar_dates.txt');

  const stopOf = (id: string) => stops.find((s) => s.stop_id === id);
  const tripOf = (id: string) => trips.find((t) => t.trip_id === id);
  const lastVisits = new Map<string, Row>();
  for (const st of stopTimes) {
    const last = lastVisits.get(st.trip_id!);
    if (!last || Number(st.stop_sequence) > Number(last.stop_sequence)) lastVisits.set(st.trip_id!, st);
  }
  const lastVisit = (tripId: string) => lastVisits.get(tripId);
  const colour = (c = '') => (/^[0-9A-Fa-f]{6}$/.test(c.trim()) ? c.trim().toUpperCase() : '');
  const route = (id: string) => {
    const r = routes.find((x) => x.route_id === id);
    return {
      route_id: id,
      route_name: (r?.route_short_name ?? '') || (r?.route_long_name ?? '') || id,
      route_color: colour(r?.route_color),
      route_text_color: colour(r?.route_text_color),
    };
  };

  let zone = (agency[0]?.agency_timezone ?? '').trim();
  try {
    new Date().toLocaleString('sv-SE', { timeZone: zone || 'none' });
  } catch {
    zone = 'UTC';
  }
  const eight = (s = '') => (/^\d{8}$/.test(s.trim()) ? s.trim() : '');
  let first = eight(info?.feed_start_date);
  let last = eight(info?.feed_end_date);
  if (!first || !last) {
    const starts = [
      ...calendar.map((c) => c.start_date!.trim()),
      ...calendarDates.filter((c) => c.exception_type!.trim() === '1').map((c) => c.date!.trim()),
    ];
    const ends = [
      ...calendar.map((c) => c.end_date!.trim()),
      ...calendarDates.filter((c) => c.exception_type!.trim() === '1').map((c) => c.date!.trim()),
    ];
    first = starts.length ? starts.sort()[0]! : '';
    last = ends.length ? ends.sort().at(-1)! : '';
  }

  return function board(p: BoardParams): Record<string, string | number>[] {
    const local = new Date((p.now ?? Math.floor(Date.now() / 1000)) * 1000).toLocaleString('sv-SE', {
      timeZone: zone,
      hour12: false,
    }); // "2026-11-02 23:40:00"
    const date = p.date ?? local.slice(0, 10);
    const after =
      p.after !== undefined
        ? p.after.length === 5
          ? `${p.after}:00`
          : p.after
        : p.date === undefined
          ? local.slice(11, 19)
          : '00:00:00';
    const limit = p.limit ?? 10;
    let skip = p.skip ?? 0;
    const all: Record<string, string | number>[] = [];
    for (const [day, from] of [
      [date, after],
      [shift(date, 1), '00:00:00'],
    ] as const) {
      for (const d of ref.departures({ stop: p.stop, date: day, after: from, route: p.route, limit: 1e9 })) {
        if (Number(lastVisit(d.trip_id)?.stop_sequence) === d.stop_sequence) continue; // ends here
        if (skip > 0 && day === date && d.time === after) {
          skip--;
          continue;
        }
        const trip = tripOf(d.trip_id)!;
        const end = lastVisit(d.trip_id)!;
        all.push({
          ...BLANK,
          kind: 'departure',
          date: day,
          time: d.time,
          stop_id: d.stop_id,
          destination: trip.trip_headsign || stopOf(end.stop_id!)?.stop_name || end.stop_id!,
          trip_id: d.trip_id,
          train: trip.trip_short_name ?? '',
          platform: (stopOf(d.stop_id)?.platform_code ?? '').trim(),
          ...route(d.route_id),
        });
      }
    }
    const shown = all.slice(0, limit);
    const more = all[limit];
    let later: [string, string, number] = ['', '', 0];
    if (more) {
      const atMore = (r: Record<string, string | number>) => r.date === more.date && r.time === more.time;
      later = [
        String(more.date),
        String(more.time),
        shown.filter(atMore).length + (more.date === date && more.time === after ? (p.skip ?? 0) : 0),
      ];
    } else if (last && shift(date, 2).replace(/-/g, '') <= last) later = [shift(date, 2), '00:00:00', 0];

    const here = new Set([p.stop, ...stops.filter((s) => s.parent_station === p.stop).map((s) => s.stop_id!)]);
    const routeIds = new Set(
      stopTimes
        .filter((st) => here.has(st.stop_id!) && tripOf(st.trip_id!))
        .map((st) => tripOf(st.trip_id!)!.route_id!),
    );
    const routeRows = [...routeIds]
      .map(route)
      .sort((a, b) => bytes(a.route_name, b.route_name) || bytes(a.route_id, b.route_id));
    return [
      {
        ...BLANK,
        kind: 'board',
        date,
        time: after,
        stop_id: p.stop,
        stop_name: stopOf(p.stop)?.stop_name ?? '',
        feed_name: info?.feed_publisher_name || agency[0]?.agency_name || '',
        feed_version: info?.feed_version ?? '',
        first_date: first ? iso(first) : '',
        last_date: last ? iso(last) : '',
        time_zone: zone,
        later_date: later[0],
        later_time: later[1],
        later_skip: later[2],
      },
      ...routeRows.map((r) => ({ ...BLANK, kind: 'route', ...r })),
      ...shown,
    ];
  };
}
