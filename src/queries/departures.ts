/**
 * departures(stop, date, after, route?, limit?): the departure board of a stop, exactly as docs/QUERIES.md defines
 * it. The stop_times index byStopDeparture orders rows by (stop_id, departure seconds, trip_id bytes,
 * stop_sequence), so for one stop and one service day the candidates form a range already in board order. The
 * board merges up to two such ranges per stop (today's trips, and yesterday's trips running past midnight) and
 * stops as soon as `limit` rows pass the filters. With the generation's board runs (boardRuns.ts) the ranges are
 * per (stop, service) and only of the services active that day, so trips that do not run are never visited.
 */
import type { DeparturesParams, DeparturesRow } from '../generated/queries.js';
import type { Db } from './db.js';
import { clockTime, isoDate, previousDay, sortedTripServicesOn, tripServicesActiveOn } from './calendar.js';
import { buildBoardRuns, lowerBoundIn, type BoardRunsData } from './boardRuns.js';
import type { Derived } from './derived.js';
import { cursorHeap } from './cursorHeap.js';

const DAY = 86400;

/** The stop_times stop_id codes of a stop and of the stops naming it as parent_station (direct children only). */
export function boardStopCodes(db: Db, stop: string): number[] {
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
 * One range of rows in board order whose departure, less `offset`, lies in [after, 86400): a (stop, service) run
 * of the board runs, already cut to trips that run and rows a board shows (`checked`), or a stop's range of the
 * byStopDeparture index, whose rows still need those checks.
 */
interface Cursor {
  /** Its place in the list of cursors: the last tie-breaker of the merge. */
  order: number;
  rows: Int32Array;
  pos: number;
  end: number;
  offset: number;
  serviceDay: number;
  services: Set<number>;
  checked: boolean;
}

interface ServiceDay {
  offset: number;
  serviceDay: number;
  services: Set<number>;
  /** The same service codes, ascending. */
  sorted: Int32Array;
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
function runCursors(runs: BoardRunsData, codes: readonly number[], days: readonly ServiceDay[], after: number): Cursor[] | null {
  const { runStop, runService, runStart, seconds, rows } = runs;
  const cursors: Cursor[] = [];
  for (const code of codes) {
    const first = lowerBoundIn(runStop, 0, runStop.length, code);
    const last = lowerBoundIn(runStop, first, runStop.length, code + 1);
    if (first === last) continue;
    for (const d of days) {
      for (const service of d.sorted) {
        const r = lowerBoundIn(runService, first, last, service);
        if (r === last || runService[r] !== service) continue;
        const pos = lowerBoundIn(seconds, runStart[r]!, runStart[r + 1]!, after + d.offset);
        const end = lowerBoundIn(seconds, pos, runStart[r + 1]!, DAY + d.offset);
        if (pos === end) continue;
        if (cursors.length === MAX_RUN_CURSORS) return null;
        cursors.push({ order: cursors.length, rows, pos, end, offset: d.offset, serviceDay: d.serviceDay, services: d.services, checked: true });
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
      if (pos < end) cursors.push({ order: cursors.length, rows: ix.rows, pos, end, offset: d.offset, serviceDay: d.serviceDay, services: d.services, checked: false });
    }
  }
  return cursors;
}

/** The board runs of the generation (boardRuns.ts), built once in the load thread. */
export function deriveDepartures(db: Db): Derived {
  return buildBoardRuns(db.data) ?? {};
}

export function runDepartures(db: Db, p: DeparturesParams): DeparturesRow[] {
  const { stopTimes, trips, routes } = db.tables;
  const out: DeparturesRow[] = [];
  let routeCode = -1;
  if (p.route !== '') {
    routeCode = trips.routeIdCodeOf(p.route);
    if (routeCode < 0) return out;
  }
  const eve = previousDay(p.date);
  const days: ServiceDay[] = [
    { offset: 0, serviceDay: p.date, services: tripServicesActiveOn(db, p.date), sorted: sortedTripServicesOn(db, p.date) },
    { offset: DAY, serviceDay: eve, services: tripServicesActiveOn(db, eve), sorted: sortedTripServicesOn(db, eve) },
  ];
  const codes = boardStopCodes(db, p.stop);
  // A generation loaded by a build without board runs has none: the index serves it.
  const runs = db.derived['departures'] as BoardRunsData | undefined;
  const cursors = (runs?.runStart && runCursors(runs, codes, days, p.after)) || indexCursors(db, codes, days, p.after);

  // Board order of a cursor's current row against another's: effective time, trip_id bytes, stop_sequence; equal
  // rows (a trip listing a stop twice with one sequence number) come in cursor order, as a scan would give them.
  const compare = (a: Cursor, b: Cursor): number => {
    const ra = a.rows[a.pos]!;
    const rb = b.rows[b.pos]!;
    const d = stopTimes.departureTime(ra) - a.offset - (stopTimes.departureTime(rb) - b.offset);
    if (d !== 0) return d;
    const c = stopTimes.tripIdCode(ra) - stopTimes.tripIdCode(rb);
    if (c !== 0) return c;
    return stopTimes.stopSequence(ra) - stopTimes.stopSequence(rb) || a.order - b.order;
  };
  const heap = cursorHeap(cursors, compare);

  while (out.length < p.limit) {
    const next = heap.top();
    if (!next) break;
    const row = next.rows[next.pos++]!;
    heap.advanced();
    const trip = stopTimes.tripIdRow(row);
    if (!next.checked && (stopTimes.pickupType(row) === 1 || trip < 0 || !next.services.has(trips.serviceIdCode(trip)))) continue;
    if (routeCode >= 0 && trips.routeIdCode(trip) !== routeCode) continue;
    const route = trips.routeIdRow(trip);
    out.push([
      clockTime(stopTimes.departureTime(row) - next.offset),
      isoDate(next.serviceDay),
      stopTimes.departureTimeText(row),
      stopTimes.stopId(row),
      stopTimes.stopSequence(row),
      stopTimes.tripId(row),
      trips.tripHeadsign(trip),
      trips.directionId(trip),
      trips.routeId(trip),
      route < 0 ? '' : routes.routeShortName(route),
      route < 0 ? '' : routes.routeLongName(route),
    ]);
  }
  return out;
}
