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
import { clockTime, isoDate, previousDay } from '../dates.js';
import { sortedTripServicesOn, tripServicesActiveOn } from './calendar.js';
import {
  AT_ROW,
  AT_SECONDS,
  AT_SEQUENCE,
  AT_TRIP,
  buildBoardRuns,
  lowerBoundIn,
  lowerBoundSeconds,
  RUN_STRIDE,
  type BoardRunsData,
} from './boardRuns.js';
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
 * One range of rows in board order whose departure, less `offset`, is at or after `after`: a (stop, service) run
 * of the board runs, already cut to trips that run and rows a board shows (`checked`), which ends at the run's end
 * (the merge drops it at its first row past the day), or a stop's range of the byStopDeparture index, cut at the
 * day's end, whose rows still need those checks.
 */
interface Cursor {
  /** Its place in the list of cursors: the last tie-breaker of the merge. */
  order: number;
  /** The row at position pos is rows[pos * stride + rowAt]: board run records, or the index's row numbers. */
  rows: Int32Array;
  stride: number;
  rowAt: number;
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
function runCursors(
  runs: BoardRunsData,
  codes: readonly number[],
  days: readonly ServiceDay[],
  after: number,
): Cursor[] | null {
  const { runStop, runService, runStart, records } = runs;
  const cursors: Cursor[] = [];
  for (const code of codes) {
    const first = lowerBoundIn(runStop, 0, runStop.length, code);
    const last = lowerBoundIn(runStop, first, runStop.length, code + 1);
    if (first === last) continue;
    for (const d of days) {
      for (const service of d.sorted) {
        const r = lowerBoundIn(runService, first, last, service);
        if (r === last || runService[r] !== service) continue;
        // The run's end, not the day's: a second binary search per run cost more cache misses than the merge
        // saves, so the merge drops a run cursor at its first row past the day instead (see runDepartures).
        const end = runStart[r + 1]!;
        const pos = lowerBoundSeconds(records, runStart[r]!, end, after + d.offset);
        if (pos === end || records[pos * RUN_STRIDE + AT_SECONDS]! >= DAY + d.offset) continue;
        if (cursors.length === MAX_RUN_CURSORS) return null;
        cursors.push({
          order: cursors.length,
          rows: records,
          stride: RUN_STRIDE,
          rowAt: AT_ROW,
          pos,
          end,
          offset: d.offset,
          serviceDay: d.serviceDay,
          services: d.services,
          checked: true,
        });
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
      if (pos < end)
        cursors.push({
          order: cursors.length,
          rows: ix.rows,
          stride: 1,
          rowAt: 0,
          pos,
          end,
          offset: d.offset,
          serviceDay: d.serviceDay,
          services: d.services,
          checked: false,
        });
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
    {
      offset: 0,
      serviceDay: p.date,
      services: tripServicesActiveOn(db, p.date),
      sorted: sortedTripServicesOn(db, p.date),
    },
    { offset: DAY, serviceDay: eve, services: tripServicesActiveOn(db, eve), sorted: sortedTripServicesOn(db, eve) },
  ];
  const codes = boardStopCodes(db, p.stop);
  // A generation loaded by a build without board runs has none: the index serves it.
  const runs = db.derived['departures'] as BoardRunsData | undefined;
  const runCursorsOrNull = runs?.records ? runCursors(runs, codes, days, p.after) : null;
  const cursors = runCursorsOrNull ?? indexCursors(db, codes, days, p.after);

  // Board order of a cursor's current row against another's: effective time, trip_id bytes, stop_sequence; equal
  // rows (a trip listing a stop twice with one sequence number) come in cursor order, as a scan would give them.
  // Run cursors compare their records, index cursors the stop_times columns.
  const compareIndex = (a: Cursor, b: Cursor): number => {
    const ra = a.rows[a.pos]!;
    const rb = b.rows[b.pos]!;
    const d = stopTimes.departureTime(ra) - a.offset - (stopTimes.departureTime(rb) - b.offset);
    if (d !== 0) return d;
    const c = stopTimes.tripIdCode(ra) - stopTimes.tripIdCode(rb);
    if (c !== 0) return c;
    return stopTimes.stopSequence(ra) - stopTimes.stopSequence(rb) || a.order - b.order;
  };
  const compareRuns = (a: Cursor, b: Cursor): number => {
    const ra = a.pos * RUN_STRIDE;
    const rb = b.pos * RUN_STRIDE;
    const d = a.rows[ra + AT_SECONDS]! - a.offset - (b.rows[rb + AT_SECONDS]! - b.offset);
    if (d !== 0) return d;
    const c = a.rows[ra + AT_TRIP]! - b.rows[rb + AT_TRIP]!;
    if (c !== 0) return c;
    return a.rows[ra + AT_SEQUENCE]! - b.rows[rb + AT_SEQUENCE]! || a.order - b.order;
  };
  const heap = cursorHeap(cursors, runCursorsOrNull ? compareRuns : compareIndex);

  while (out.length < p.limit) {
    const next = heap.top();
    if (!next) break;
    const at = next.pos++ * next.stride;
    if (next.checked && next.rows[at + AT_SECONDS]! - next.offset >= DAY) {
      // A run cursor past its day: every row left in it is later still.
      next.pos = next.end;
      heap.advanced();
      continue;
    }
    const row = next.rows[at + next.rowAt]!;
    heap.advanced();
    const trip = stopTimes.tripIdRow(row);
    if (!next.checked && (stopTimes.pickupType(row) === 1 || trip < 0 || !next.services.has(trips.serviceIdCode(trip))))
      continue;
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
