/**
 * board(stop, date?, after?, skip?, route?, limit?, now?): a station's departure board as a passenger reads it
 * (docs/QUERIES.md). It is built on runDepartures, whose rows are already in board order, and adds what a
 * passenger needs and the API rows do not carry: "now" in the feed's time zone, the roll past midnight into the
 * next day, trains that end here left out, the destination, train number, platform and route colours, the routes
 * calling at the station, the feed's name and the dates it covers, and where "later departures" continue.
 *
 * The answer is one table with a `kind` per row: one `board` row, then a `route` row per route, then the
 * `departure` rows. A field that does not apply to a row's kind is empty (later_skip: 0).
 */
import type { BoardParams, BoardRow, DeparturesRow } from '../.roq/generated/queries.js';
import type { Db } from '../.roq/generated/tables.js';
import { memoized } from 'roq/queries/db.js';
import { clockTime, daysAfter, isoDate, knownTimeZone, parseIsoDate } from 'roq/dates.js';
import { boardStopCodes, runDepartures } from './departures.js';

/** Every field of a board row, in the answer's order, empty; a row names only the fields its kind has. */
const BLANK = {
  kind: '',
  date: '',
  time: '',
  stop_id: '',
  stop_name: '',
  destination: '',
  trip_id: '',
  train: '',
  platform: '',
  route_id: '',
  route_name: '',
  route_color: '',
  route_text_color: '',
  feed_name: '',
  feed_version: '',
  first_date: '',
  last_date: '',
  time_zone: '',
  later_date: '',
  later_time: '',
  later_skip: 0,
};
type BoardRecord = Partial<typeof BLANK>;

/** A record as the answer's row: BLANK's key order is the schema's field order (the worked cases check it). */
function boardRow(values: BoardRecord): BoardRow {
  return Object.values({ ...BLANK, ...values }) as BoardRow;
}

export interface FeedFacts {
  name: string;
  version: string;
  /** yyyymmdd, NaN when the feed says nothing about its dates */
  first: number;
  last: number;
  timeZone: string;
}

/**
 * What the board says about the feed: feed_info's publisher and version (else the first agency's name), and the
 * dates it covers — feed_info's feed_start_date/feed_end_date when both are given, else the span of calendar.txt's
 * ranges and of the days calendar_dates.txt adds service on. The time zone is the first agency's agency_timezone
 * (GTFS requires all agencies of a feed to share one); one this runtime does not know falls back to UTC.
 */
export function feedFacts(db: Db): FeedFacts {
  return memoized(db, 'board:feed', () => {
    const { feedInfo, agency } = db.tables;
    const info = feedInfo.rows > 0 ? 0 : -1;
    // The range is the generation's, computed once at load by the same rule (queries/feed-dates.ts).
    const first = db.dates ? parseIsoDate(db.dates.start) : NaN;
    const last = db.dates ? parseIsoDate(db.dates.end) : NaN;
    const name = (info >= 0 ? feedInfo.feedPublisherName(info) : '') || (agency.rows > 0 ? agency.agencyName(0) : '');
    const zone = agency.rows > 0 ? agency.agencyTimezone(0).trim() : '';
    return {
      name,
      version: info >= 0 ? feedInfo.feedVersion(info) : '',
      first,
      last,
      timeZone: knownTimeZone(zone) ? zone : 'UTC',
    };
  });
}

/** The local calendar day (yyyymmdd) and time of day (seconds) of an instant in a time zone. */
export function localTime(db: Db, epochSeconds: number, timeZone: string): { day: number; time: number } {
  const parts: Record<string, number> = {};
  // Making a formatter costs far more than using one: one per zone and worker.
  const format = memoized(
    db,
    `board:format:${timeZone}`,
    () =>
      new Intl.DateTimeFormat('en-US', {
        timeZone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      }),
  );
  for (const p of format.formatToParts(new Date(epochSeconds * 1000)))
    if (p.type !== 'literal') parts[p.type] = Number(p.value);
  return {
    day: parts.year! * 10000 + parts.month! * 100 + parts.day!,
    time: parts.hour! * 3600 + parts.minute! * 60 + parts.second!,
  };
}

/**
 * Per trips row, the stop_times row of its last stop (greatest stop_sequence), or -1: a departure there is the
 * train's arrival, and that stop's name is the destination when the trip has no headsign. One pass over
 * stop_times per worker and generation; also collects the routes calling at each stop.
 */
interface Network {
  lastStop: Int32Array;
  /** stop_times stop_id code → trips' route_id codes calling there */
  routesAt: Map<number, Set<number>>;
  /**
   * A station's route list, made on first use. Kept here rather than as memo keys of their own, so that visiting
   * many stations cannot fill the memo and flush the network with it; only stops the feed has are kept.
   */
  stationRoutes: Map<string, RouteFields[]>;
}

function network(db: Db): Network {
  return memoized(db, 'board:network', () => {
    const { stopTimes, trips } = db.tables;
    const lastStop = new Int32Array(trips.rows).fill(-1);
    const routesAt = new Map<number, Set<number>>();
    for (let row = 0; row < stopTimes.rows; row++) {
      const trip = stopTimes.tripIdRow(row);
      if (trip < 0) continue;
      const last = lastStop[trip]!;
      if (last < 0 || stopTimes.stopSequence(row) > stopTimes.stopSequence(last)) lastStop[trip] = row;
      const code = stopTimes.stopIdCode(row);
      let set = routesAt.get(code);
      if (!set) routesAt.set(code, (set = new Set()));
      set.add(trips.routeIdCode(trip));
    }
    return { lastStop, routesAt, stationRoutes: new Map() };
  });
}

/** stop_times stop_id code → the route_id codes of the trips calling there (any day). */
export function routesCallingAt(db: Db): ReadonlyMap<number, ReadonlySet<number>> {
  return network(db).routesAt;
}

export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The name a passenger knows a route by: route_short_name, else route_long_name, else its route_id. */
function routeName(db: Db, routeRow: number, routeId: string): string {
  const { routes } = db.tables;
  if (routeRow < 0) return routeId;
  return routes.routeShortName(routeRow) || routes.routeLongName(routeRow) || routeId;
}

/** A route's colours as the feed gives them (6 hex digits, upper-cased), or empty when absent or malformed. */
function colour(text: string): string {
  const t = text.trim();
  return /^[0-9A-Fa-f]{6}$/.test(t) ? t.toUpperCase() : '';
}

type RouteFields = Required<Pick<BoardRecord, 'route_id' | 'route_name' | 'route_color' | 'route_text_color'>>;

function routeFields(db: Db, routeId: string): RouteFields {
  const { routes } = db.tables;
  const row = routes.findKey(routeId);
  return {
    route_id: routeId,
    route_name: routeName(db, row, routeId),
    route_color: row < 0 ? '' : colour(routes.routeColor(row)),
    route_text_color: row < 0 ? '' : colour(routes.routeTextColor(row)),
  };
}

/** The station's routes, by name then route_id (bytes). */
function stationRoutes(db: Db, stop: string): RouteFields[] {
  const net = network(db);
  const known = net.stationRoutes.get(stop);
  if (known) return known;
  const codes = boardStopCodes(db, stop);
  const ids = new Set<string>();
  for (const code of codes)
    for (const route of net.routesAt.get(code) ?? []) ids.add(db.tables.trips.routeIdOfCode(route));
  const list = [...ids]
    .map((id) => routeFields(db, id))
    .sort((a, b) => byteOrder(a.route_name, b.route_name) || byteOrder(a.route_id, b.route_id));
  if (codes.length > 0) net.stationRoutes.set(stop, list);
  return list;
}

/**
 * The departures of one calendar day at or after `after`, in board order, fetched from runDepartures in pages
 * (a page continues after the rows already seen at its first second, so equal times are neither lost nor repeated).
 */
function* departuresOn(
  db: Db,
  stop: string,
  day: number,
  after: number,
  route: string,
  pageSize: number,
): Generator<DeparturesRow> {
  let from = after;
  let seenAtFrom = 0;
  for (;;) {
    const limit = seenAtFrom + pageSize;
    const page = runDepartures(db, { stop, date: day, after: from, route, limit });
    for (let i = seenAtFrom; i < page.length; i++) yield page[i]!;
    if (page.length < limit) return;
    // Rows at the page's last second were all yielded; the next page starts at that second and passes over them.
    const lastTime = page[page.length - 1]![0];
    seenAtFrom = page.filter((r) => r[0] === lastTime).length;
    from = Number(lastTime.slice(0, 2)) * 3600 + Number(lastTime.slice(3, 5)) * 60 + Number(lastTime.slice(6, 8));
  }
}

function departureRecord(db: Db, d: DeparturesRow, day: number): BoardRecord | undefined {
  const { trips, stopTimes, stops } = db.tables;
  const [time, , , stopId, sequence, tripId, headsign, , routeId] = d;
  const trip = trips.findKey(tripId);
  const last = trip < 0 ? -1 : network(db).lastStop[trip]!;
  if (last >= 0 && stopTimes.stopSequence(last) === sequence) return undefined; // the train ends here: an arrival
  let destination = headsign;
  if (destination === '' && last >= 0) {
    const end = stops.findKey(stopTimes.stopId(last));
    destination = end < 0 ? stopTimes.stopId(last) : stops.stopName(end);
  }
  const at = stops.findKey(stopId);
  return {
    kind: 'departure',
    date: isoDate(day),
    time,
    stop_id: stopId,
    destination,
    trip_id: tripId,
    train: trip < 0 ? '' : trips.tripShortName(trip),
    platform: at < 0 ? '' : stops.platformCode(at).trim(),
    ...routeFields(db, routeId),
  };
}

export function runBoard(db: Db, p: BoardParams): BoardRow[] {
  const feed = feedFacts(db);
  const local = Number.isNaN(p.date)
    ? localTime(db, Number.isNaN(p.now) ? Math.floor(Date.now() / 1000) : p.now, feed.timeZone)
    : undefined;
  const date = local ? local.day : p.date;
  const after = !Number.isNaN(p.after) ? p.after : local ? local.time : 0;

  // The board's days: its date from `after`, then the next day from midnight. One more departure than shown tells
  // whether there are later ones and where they start.
  const shown: BoardRecord[] = [];
  let more: BoardRecord | undefined;
  let skip = p.skip;
  const pageSize = Math.max(2 * (p.limit + 1), 20);
  days: for (const [day, from] of [
    [date, after],
    [daysAfter(date, 1), 0],
  ] as const) {
    for (const d of departuresOn(db, p.stop, day, from, p.route, pageSize)) {
      const row = departureRecord(db, d, day);
      if (!row) continue;
      if (skip > 0 && day === date && row.time === clockTime(after)) {
        skip--;
        continue;
      }
      if (shown.length === p.limit) {
        more = row;
        break days;
      }
      shown.push(row);
    }
  }

  const stops = db.tables.stops;
  const station = stops.findKey(p.stop);
  const dateText = (d: number) => (Number.isNaN(d) ? '' : isoDate(d));
  const board: BoardRecord = {
    kind: 'board',
    date: isoDate(date),
    time: clockTime(after),
    stop_id: p.stop,
    stop_name: station < 0 ? '' : stops.stopName(station),
    feed_name: feed.name,
    feed_version: feed.version,
    first_date: dateText(feed.first),
    last_date: dateText(feed.last),
    time_zone: feed.timeZone,
  };
  // Later departures continue at the first one not shown, passing over those at its time already shown (and, when
  // that is the board's own start, those the board itself passed over). With none left in the board's two days,
  // they continue on the day after them, while the feed still runs.
  if (more) {
    const at = (r: BoardRecord) => r.date === more.date && r.time === more.time;
    board.later_date = more.date;
    board.later_time = more.time;
    board.later_skip = shown.filter(at).length + (at(board) ? p.skip : 0);
  } else {
    const dayAfter = daysAfter(date, 2);
    if (!Number.isNaN(feed.last) && dayAfter <= feed.last)
      Object.assign(board, { later_date: isoDate(dayAfter), later_time: '00:00:00' });
  }
  const routes = stationRoutes(db, p.stop).map((r) => ({ kind: 'route', ...r }));
  return [board, ...routes, ...shown].map(boardRow);
}
