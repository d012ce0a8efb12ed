/**
 * departures(stop, date, after, route?, limit?): the departure board of a stop, exactly as docs/QUERIES.md defines
 * it. The stop_times index byStopDeparture orders rows by (stop_id, departure seconds, trip_id bytes,
 * stop_sequence), so for one stop and one service day the candidates form a range already in board order. The
 * board merges up to two such ranges per stop (today's trips, and yesterday's trips running past midnight) and
 * stops as soon as `limit` rows pass the filters. With the generation's board runs (boardRuns.ts) the ranges are
 * per (stop, service group) and only of the groups active that day, so trips that do not run are never visited.
 */
import type { DeparturesParams, DeparturesRow } from '../.roq/generated/queries.js';
import { memoized } from 'roq/queries/db.js';
import type { Db } from '../.roq/generated/tables.js';
import { clockTime, isoDate, previousDay } from 'roq/dates.js';
import { serviceGroups, tripServicesActiveOn } from './calendar.js';
import {
  AT_DIRECTION,
  AT_HEADSIGN,
  AT_ROUTE,
  AT_SECONDS,
  AT_SEQUENCE,
  AT_TIME_TEXT,
  AT_TRIP,
  buildBoardRuns,
  lowerBoundIn,
  lowerBoundSeconds,
  RUN_STRIDE,
  type BoardRunsData,
} from './boardRuns.js';
import type { Derived } from 'roq/queries/derived.js';
import { cursorHeap } from 'roq/queries/cursorHeap.js';

const DAY = 86400;

/**
 * Per worker and generation, what a board needs before it opens a cursor, computed once per date and per stop:
 * looked up afresh, a date's services cost a dozen hash probes and the stop's codes two binary searches of
 * dictionaries, each a cache miss when other work ran between two boards.
 */
interface BoardMemo {
  /** yyyymmdd → the service days of a board of that date. Cleared when it holds MEMO_DATES dates. */
  days: Map<number, readonly ServiceDay[]>;
  /** stop_id → boardStopCodes; only stops the feed has are kept, so unknown ids cannot grow it. */
  stops: Map<string, readonly number[]>;
}

/** A year and a half of dates: more than a feed's boards ask for, few enough that a flood of dates costs little. */
const MEMO_DATES = 512;

function boardMemo(db: Db): BoardMemo {
  return memoized(db, 'departures:memo', () => ({ days: new Map(), stops: new Map() }));
}

/**
 * The stop_times stop_id codes of a stop and of the stops naming it as parent_station (direct children only).
 * Memoized per stop: the array is shared, never to be changed by a caller.
 */
export function boardStopCodes(db: Db, stop: string): readonly number[] {
  const memo = boardMemo(db).stops;
  let codes = memo.get(stop);
  if (!codes) {
    codes = stopCodesOf(db, stop);
    if (codes.length > 0) memo.set(stop, codes);
  }
  return codes;
}

function stopCodesOf(db: Db, stop: string): number[] {
  const { stops, stopTimes } = db.tables;
  const ids = [stop];
  const parent = stops.parentStationCodeOf(stop);
  if (parent >= 0) {
    const ix = stops.byParentStation;
    const end = ix.upperBound([parent]);
    for (let i = ix.lowerBound([parent]); i < end; i++) ids.push(stops.stopId(ix.rows[i]!));
  }
  // A stop_id that stop_times uses counts even when stops.txt does not list it.
  const codes = new Set<number>();
  for (const id of ids) {
    const code = stopTimes.stopIdCodeOf(id);
    if (code >= 0) codes.add(code);
  }
  return [...codes];
}

/**
 * One range of rows in board order whose departure, less `offset`, is at or after `after`: a (stop, service) run
 * of the board runs, already cut to trips that run and rows a board shows (`checked`), which ends at the run's end
 * (the merge drops it at its first row past the day), or a stop's range of the byStopDeparture index, cut at the
 * day's end, whose rows still need those checks.
 */
interface Cursor {
  /** Its place in the list of cursors: the last tie-breaker of the merge. */
  order: number;
  /** Board run records (RUN_STRIDE numbers a position), or the index's row numbers (one a position). */
  rows: Int32Array;
  pos: number;
  end: number;
  /** The stop_times stop_id code of a run's rows; -1 for an index cursor. */
  stop: number;
  day: ServiceDay;
  checked: boolean;
}

interface ServiceDay {
  offset: number;
  serviceDay: number;
  /** serviceDay as YYYY-MM-DD: every row of the day prints it. */
  iso: string;
  services: Set<number>;
  /** The board runs' service groups of those services, ascending (empty without board runs). */
  groups: Int32Array;
}

/**
 * Past this many runs open at once, merging them costs more than walking the stop's index range: a feed whose
 * every trip has its own service_id has as many runs as rows. Such boards take the index path.
 */
const MAX_RUN_CURSORS = 48;

/**
 * Cursors over the board runs of `codes` active on each day, or null when there would be too many to merge. A
 * stop has a run per service that stops there (hundreds on a railroad), a day few active services: each active
 * service's run is found by binary search among the stop's runs, which are sorted by service code.
 */
function runCursors(
  runs: BoardRunsData,
  codes: readonly number[],
  days: readonly ServiceDay[],
  after: number,
): Cursor[] | null {
  const { runStop, runGroup, runStart, records } = runs;
  const cursors: Cursor[] = [];
  for (const code of codes) {
    const first = lowerBoundIn(runStop, 0, runStop.length, code);
    const last = lowerBoundIn(runStop, first, runStop.length, code + 1);
    if (first === last) continue;
    for (const d of days) {
      for (const group of d.groups) {
        const r = lowerBoundIn(runGroup, first, last, group);
        if (r === last || runGroup[r] !== group) continue;
        // The run's end, not the day's: a second binary search per run cost more cache misses than the merge
        // saves, so the merge drops a run cursor at its first row past the day instead (see runDepartures).
        const end = runStart[r + 1]!;
        const pos = lowerBoundSeconds(records, runStart[r]!, end, after + d.offset);
        if (pos === end || records[pos * RUN_STRIDE + AT_SECONDS]! >= DAY + d.offset) continue;
        if (cursors.length === MAX_RUN_CURSORS) return null;
        cursors.push({ order: cursors.length, rows: records, pos, end, stop: code, day: d, checked: true });
      }
    }
  }
  return cursors;
}

/** Cursors over each stop's byStopDeparture range per day: every row of the stop in the time window. */
function indexCursors(db: Db, codes: readonly number[], days: readonly ServiceDay[], after: number): Cursor[] {
  const ix = db.tables.stopTimes.byStopDeparture;
  const cursors: Cursor[] = [];
  for (const code of codes) {
    for (const d of days) {
      if (d.services.size === 0) continue;
      const pos = ix.lowerBound([code, after + d.offset]);
      const end = ix.lowerBound([code, DAY + d.offset]);
      if (pos < end) cursors.push({ order: cursors.length, rows: ix.rows, pos, end, stop: -1, day: d, checked: false });
    }
  }
  return cursors;
}

/** The board runs of the generation (boardRuns.ts), built once in the load thread. */
export function deriveDepartures(db: Db): Derived {
  return buildBoardRuns(db.data, serviceGroups(db)) ?? {};
}

/**
 * The service days a board of `date` reads: the date itself, and the day before for trips running past midnight.
 * Memoized per date (boardMemo).
 */
function serviceDays(db: Db, date: number, runs: BoardRunsData | undefined): readonly ServiceDay[] {
  const memo = boardMemo(db).days;
  let days = memo.get(date);
  if (!days) {
    const day = (offset: number, serviceDay: number): ServiceDay => ({
      offset,
      serviceDay,
      iso: isoDate(serviceDay),
      services: tripServicesActiveOn(db, serviceDay),
      groups: runs ? activeGroups(runs.serviceGroup, tripServicesActiveOn(db, serviceDay)) : new Int32Array(0),
    });
    days = [day(0, date), day(DAY, previousDay(date))];
    if (memo.size >= MEMO_DATES) memo.clear();
    memo.set(date, days);
  }
  return days;
}

/** The service groups of `services` (trips service_id codes), each once, ascending. */
function activeGroups(serviceGroup: Int32Array, services: Set<number>): Int32Array {
  const groups = new Set<number>();
  for (const service of services) {
    const group = serviceGroup[service]!;
    if (group >= 0) groups.add(group);
  }
  return Int32Array.from(groups).sort();
}

export function runDepartures(db: Db, p: DeparturesParams): DeparturesRow[] {
  const { stopTimes } = db.tables;
  const out: DeparturesRow[] = [];
  let routeCode = -1;
  if (p.route !== '') {
    routeCode = db.tables.trips.routeIdCodeOf(p.route);
    if (routeCode < 0) return out;
  }
  // A generation loaded by a build without board runs (or with older ones) has none: the index serves it.
  const derived = db.derived['departures'] as Partial<BoardRunsData> | undefined;
  const runs = derived?.records && derived.serviceGroup ? (derived as BoardRunsData) : undefined;
  const days = serviceDays(db, p.date, runs);
  const codes = boardStopCodes(db, p.stop);
  const runCursorsOrNull = runs ? runCursors(runs, codes, days, p.after) : null;
  const cursors = runCursorsOrNull ?? indexCursors(db, codes, days, p.after);

  // Board order of a cursor's current row against another's: effective time, trip_id bytes, stop_sequence; equal
  // rows (a trip listing a stop twice with one sequence number) come in cursor order, as a scan would give them.
  // Run cursors compare their records, index cursors the stop_times columns.
  const compareIndex = (a: Cursor, b: Cursor): number => {
    const ra = a.rows[a.pos]!;
    const rb = b.rows[b.pos]!;
    const d = stopTimes.departureTime(ra) - a.day.offset - (stopTimes.departureTime(rb) - b.day.offset);
    if (d !== 0) return d;
    const c = stopTimes.tripIdCode(ra) - stopTimes.tripIdCode(rb);
    if (c !== 0) return c;
    return stopTimes.stopSequence(ra) - stopTimes.stopSequence(rb) || a.order - b.order;
  };
  const compareRuns = (a: Cursor, b: Cursor): number => {
    const ra = a.pos * RUN_STRIDE;
    const rb = b.pos * RUN_STRIDE;
    const d = a.rows[ra + AT_SECONDS]! - a.day.offset - (b.rows[rb + AT_SECONDS]! - b.day.offset);
    if (d !== 0) return d;
    const c = a.rows[ra + AT_TRIP]! - b.rows[rb + AT_TRIP]!;
    if (c !== 0) return c;
    return a.rows[ra + AT_SEQUENCE]! - b.rows[rb + AT_SEQUENCE]! || a.order - b.order;
  };
  const heap = cursorHeap(cursors, runCursorsOrNull ? compareRuns : compareIndex);
  const row = runCursorsOrNull ? recordRow(db) : columnsRow(db, routeCode);

  while (out.length < p.limit) {
    const next = heap.top();
    if (!next) break;
    if (next.checked && next.rows[next.pos * RUN_STRIDE + AT_SECONDS]! - next.day.offset >= DAY) {
      // A run cursor past its day: every row left in it is later still.
      next.pos = next.end;
      heap.advanced();
      continue;
    }
    const at = next.pos++;
    heap.advanced();
    if (next.checked && routeCode >= 0 && next.rows[at * RUN_STRIDE + AT_ROUTE] !== routeCode) continue;
    const printed = row(next, at);
    if (printed) out.push(printed);
  }
  return out;
}

/**
 * A departures row from a board run's record: everything it prints but the strings' texts is in the record, so a
 * row costs the record's cache line and the strings (decoded once per worker and dictionary code).
 */
function recordRow(db: Db) {
  const { stopTimes, trips, routes } = db.tables;
  const routeRows = db.data['trips']!.references['route_id']!;
  return (c: Cursor, pos: number): DeparturesRow => {
    const r = c.rows;
    const at = pos * RUN_STRIDE;
    const routeCode = r[at + AT_ROUTE]!;
    const route = routeRows[routeCode]!;
    return [
      clockTime(r[at + AT_SECONDS]! - c.day.offset),
      c.day.iso,
      stopTimes.departureTimeTextOfCode(r[at + AT_TIME_TEXT]!),
      stopTimes.stopIdOfCode(c.stop),
      r[at + AT_SEQUENCE]!,
      stopTimes.tripIdOfCode(r[at + AT_TRIP]!),
      trips.tripHeadsignOfCode(r[at + AT_HEADSIGN]!),
      trips.directionIdOfCode(r[at + AT_DIRECTION]!),
      trips.routeIdOfCode(routeCode),
      route < 0 ? '' : routes.routeShortName(route),
      route < 0 ? '' : routes.routeLongName(route),
    ];
  };
}

/**
 * A departures row from an index cursor's stop_times row, read through the columns, or null when the row is no
 * departure of the board (no pickup, a trip not in trips.txt or not running that day, another route).
 */
function columnsRow(db: Db, routeCode: number) {
  const { stopTimes, trips, routes } = db.tables;
  return (c: Cursor, pos: number): DeparturesRow | null => {
    const row = c.rows[pos]!;
    const trip = stopTimes.tripIdRow(row);
    if (stopTimes.pickupType(row) === 1 || trip < 0 || !c.day.services.has(trips.serviceIdCode(trip))) return null;
    if (routeCode >= 0 && trips.routeIdCode(trip) !== routeCode) return null;
    const route = trips.routeIdRow(trip);
    return [
      clockTime(stopTimes.departureTime(row) - c.day.offset),
      c.day.iso,
      stopTimes.departureTimeText(row),
      stopTimes.stopId(row),
      stopTimes.stopSequence(row),
      stopTimes.tripId(row),
      trips.tripHeadsign(trip),
      trips.directionId(trip),
      trips.routeId(trip),
      route < 0 ? '' : routes.routeShortName(route),
      route < 0 ? '' : routes.routeLongName(route),
    ];
  };
}
