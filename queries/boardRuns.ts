/**
 * Board runs: the stop_times rows a departure board can show, grouped by (stop, service group) and, inside a group,
 * in board order (departure seconds, trip_id bytes, stop_sequence). Built once per generation on the load side, in
 * shared memory, and read by every worker.
 *
 * Why: the byStopDeparture index puts all of a stop's rows in time order, whatever day their trip runs on. On a feed
 * whose services each run on a few dates (a commuter railroad exporting calendar_dates only), about 1.5 % of a
 * stop's rows run on any date, so a board walked that index skipping ~98 % of what it visited. With runs, a board
 * opens one cursor per (stop, service group) active on the day, binary-searches each for the time, and merges them:
 * it visits only rows of trips that run. A service group is the services active on exactly the same days
 * (calendar.ts, serviceGroups): a bus network's service_id per depot and day type makes a few groups of dozens of
 * services, so a board there opens a few runs, not two dozen. Rows no board can show (pickup_type 1, no departure
 * time, a trip_id that trips.txt lacks) are left out here, so the merge does not meet them either. The load thread
 * builds them through departures' deriver (deriveDepartures, named in schemas/queries/departures.json; see
 * derived.ts).
 */
import type { ColumnData, TableData } from 'roq/store/types.js';
import { sharedInt32 } from 'roq/store/shared.js';

// A type, not an interface, so that it fits GenerationData.derived's Record of arrays.
export type BoardRunsData = {
  /**
   * The stop_times rows a board can show, grouped by run, each run in board order: RUN_STRIDE numbers per row,
   * everything the merge compares (departure seconds, trip_id code, stop_sequence) and everything a departures row
   * prints (the departure_time text's code, the trip's headsign, direction_id and route_id codes; the stop is the
   * run's) beside the row number. A board on a big feed merges a couple of dozen runs and prints rows of thousands
   * of trips; read through the columns, each comparison cost three cache misses and each printed row a dozen, in
   * arrays of millions of entries. Here a row's numbers sit in half a cache line and a run is read in order.
   */
  records: Int32Array;
  /** Per run: the stop_times stop_id code, the service group (serviceGroup), and its first position in records. */
  runStop: Int32Array;
  runGroup: Int32Array;
  /** runStart[r] .. runStart[r + 1] are run r's positions; one entry more than there are runs. */
  runStart: Int32Array;
  /**
   * trips service_id code → its service group (calendar.ts, serviceGroups): services active on the same days share
   * a group, and so a run; -1 for a service active on no day, whose rows are in no run.
   */
  serviceGroup: Int32Array;
};

/** Numbers per row in BoardRunsData.records (32 bytes: two records a cache line), and their places. */
export const RUN_STRIDE = 8;
export const AT_SECONDS = 0;
/** The stop_times trip_id code (the merge's second key). */
export const AT_TRIP = 1;
export const AT_SEQUENCE = 2;
export const AT_ROW = 3;
/** The stop_times departure_time text's code. */
export const AT_TIME_TEXT = 4;
/** The trip's trips trip_headsign, direction_id and route_id codes. */
export const AT_HEADSIGN = 5;
export const AT_DIRECTION = 6;
export const AT_ROUTE = 7;

/** The first position after `from` in byStop whose row's stop code is not `code`: gallop, then binary search. */
function endOfStop(byStop: Int32Array, stopCodes: Int32Array, from: number, code: number): number {
  let known = from; // a position holding `code`
  let bound = 1;
  while (from + bound < byStop.length && stopCodes[byStop[from + bound]!] === code) {
    known = from + bound;
    bound *= 2;
  }
  let lo = known + 1;
  let hi = Math.min(from + bound, byStop.length);
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (stopCodes[byStop[mid]!] === code) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The columns the runs are built from, each of the type it must have; null when the catalog lacks one. */
interface RunColumns {
  rows: number;
  byStop: Int32Array;
  stopCodes: Int32Array;
  dep: Extract<ColumnData, { type: 'time' }>;
  pickup: Int32Array;
  tripRef: Int32Array;
  tripCodes: Int32Array;
  sequences: Int32Array;
  service: Extract<ColumnData, { type: 'string' }>;
  headsigns: Int32Array;
  directions: Int32Array;
  routes: Int32Array;
}

function runColumns(tables: Record<string, TableData>): RunColumns | null {
  const st = tables['stop_times'];
  const trips = tables['trips'];
  const byStop = st?.indexes['byStopDeparture'];
  const stop = st?.columns['stop_id'];
  const dep = st?.columns['departure_time'];
  const pickup = st?.columns['pickup_type'];
  const tripRef = st?.references['trip_id'];
  const tripCodes = st?.columns['trip_id'];
  const sequence = st?.columns['stop_sequence'];
  const service = trips?.columns['service_id'];
  const headsign = trips?.columns['trip_headsign'];
  const direction = trips?.columns['direction_id'];
  const route = trips?.columns['route_id'];
  if (!st || !byStop || !tripRef || stop?.type !== 'string' || dep?.type !== 'time' || pickup?.type !== 'int')
    return null;
  if (sequence?.type !== 'int' || tripCodes?.type !== 'string' || service?.type !== 'string') return null;
  if (headsign?.type !== 'string' || direction?.type !== 'string' || route?.type !== 'string') return null;
  return {
    rows: st.rows,
    byStop,
    stopCodes: stop.codes,
    dep,
    pickup: pickup.values,
    tripRef,
    tripCodes: tripCodes.codes,
    sequences: sequence.values,
    service,
    headsigns: headsign.codes,
    directions: direction.codes,
    routes: route.codes,
  };
}

/**
 * The service group of each byStopDeparture position's row, -1 for a row no board shows. byStopDeparture visits
 * rows in random order, so on a big table every read through it is a cache miss unless what it reads fits in the
 * cache: this reads through it one array of 4 bytes a row (9.6 MB for 2.4 M rows, which the last-level cache
 * holds), and the records are written in row order (runRecords).
 */
function groupsInIndexOrder(c: RunColumns, serviceGroup: Int32Array): Int32Array {
  // Locals, not c's properties, in the loops over millions of rows.
  const { rows, byStop, tripRef, tripCodes, pickup } = c;
  const seconds = c.dep.values;
  const services = c.service.codes;
  const shownGroup = new Int32Array(rows);
  for (let row = 0; row < rows; row++) {
    const trip = tripRef[tripCodes[row]!]!;
    shownGroup[row] = trip < 0 || pickup[row] === 1 || seconds[row]! < 0 ? -1 : serviceGroup[services[trip]!]!;
  }
  const groupAt = new Int32Array(byStop.length);
  for (let i = 0; i < byStop.length; i++) groupAt[i] = shownGroup[byStop[i]!]!;
  return groupAt;
}

/** Where the runs are: per run its stop and group and first position; per row its position (-1: in no run). */
interface RunLayout {
  n: number;
  positionOf: Int32Array;
  runStop: number[];
  runGroup: number[];
  runStart: number[];
}

/**
 * Lays out the runs: per stop (a range of byStopDeparture), a stable counting sort by group keeps each
 * (stop, group) run in index order, which is board order.
 */
function layRuns(c: RunColumns, groupAt: Int32Array, groups: number): RunLayout {
  const { byStop, stopCodes } = c;
  const positionOf = new Int32Array(c.rows).fill(-1);
  const out: RunLayout = { n: 0, positionOf, runStop: [], runGroup: [], runStart: [] };
  // count[v]: rows of group v at the current stop, then where its run goes next; reset after each stop.
  const count = new Int32Array(groups);
  const seen: number[] = [];
  for (let from = 0; from < byStop.length;) {
    const code = stopCodes[byStop[from]!]!;
    const to = endOfStop(byStop, stopCodes, from, code);
    seen.length = 0;
    for (let i = from; i < to; i++) {
      const v = groupAt[i]!;
      if (v < 0) continue;
      if (count[v] === 0) seen.push(v);
      count[v]!++;
    }
    seen.sort((x, y) => x - y);
    for (const v of seen) {
      out.runStop.push(code);
      out.runGroup.push(v);
      out.runStart.push(out.n);
      const runLength = count[v]!;
      count[v] = out.n;
      out.n += runLength;
    }
    for (let i = from; i < to; i++) {
      const v = groupAt[i]!;
      if (v >= 0) positionOf[byStop[i]!] = count[v]!++;
    }
    for (const v of seen) count[v] = 0;
    from = to;
  }
  out.runStart.push(out.n);
  return out;
}

function shared(xs: ArrayLike<number>): Int32Array {
  const out = sharedInt32(xs.length);
  for (let i = 0; i < xs.length; i++) out[i] = xs[i]!;
  return out;
}

/**
 * Builds the runs from loaded stop_times and trips tables (null when either is absent from the catalog), a run per
 * stop and service group (`serviceGroup`: trips service_id code → group, or -1 for a service that never runs). The
 * byStopDeparture index already orders each stop's rows as a board does, and the counting sort per stop is
 * stable, so each (stop, service) group keeps that order: linear time, no comparisons.
 */
export function buildBoardRuns(tables: Record<string, TableData>, serviceGroup: Int32Array): BoardRunsData | null {
  const c = runColumns(tables);
  if (!c) return null;
  if (serviceGroup.length !== c.service.dict.size) throw new Error('board runs: one service group per service_id code');
  const groups = serviceGroup.reduce((m, g) => Math.max(m, g), -1) + 1;
  const layout = layRuns(c, groupsInIndexOrder(c, serviceGroup), groups);
  return {
    records: runRecords(layout.n, layout.positionOf, {
      seconds: c.dep.values,
      texts: c.dep.codes,
      tripIds: c.tripCodes,
      sequences: c.sequences,
      tripRef: c.tripRef,
      headsigns: c.headsigns,
      directions: c.directions,
      routes: c.routes,
    }),
    runStop: shared(layout.runStop),
    runGroup: shared(layout.runGroup),
    runStart: shared(layout.runStart),
    serviceGroup: shared(serviceGroup),
  };
}

/**
 * The n records, in shared memory, each written at its row's position from the row's stop_times columns and its
 * trip's trips columns. In row order, so the columns are read in order (and the trips columns of consecutive rows,
 * mostly one trip's, from the cache); the writes go wherever the positions say, but a write does not stall the
 * loop as a read from a random place does.
 */
function runRecords(
  n: number,
  positionOf: Int32Array,
  c: Record<
    'seconds' | 'texts' | 'tripIds' | 'sequences' | 'tripRef' | 'headsigns' | 'directions' | 'routes',
    Int32Array
  >,
): Int32Array {
  const records = sharedInt32(n * RUN_STRIDE);
  const { seconds, texts, tripIds, sequences, tripRef, headsigns, directions, routes } = c;
  for (let row = 0; row < positionOf.length; row++) {
    const p = positionOf[row]!;
    if (p < 0) continue;
    const at = p * RUN_STRIDE;
    const tripId = tripIds[row]!;
    const trip = tripRef[tripId]!;
    records[at + AT_SECONDS] = seconds[row]!;
    records[at + AT_TRIP] = tripId;
    records[at + AT_SEQUENCE] = sequences[row]!;
    records[at + AT_ROW] = row;
    records[at + AT_TIME_TEXT] = texts[row]!;
    records[at + AT_HEADSIGN] = headsigns[trip]!;
    records[at + AT_DIRECTION] = directions[trip]!;
    records[at + AT_ROUTE] = routes[trip]!;
  }
  return records;
}

/** First position in a[lo, hi) whose value is ≥ v. */
export function lowerBoundIn(a: Int32Array, lo: number, hi: number, v: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First run position in [lo, hi) whose departure seconds in `records` are ≥ v. */
export function lowerBoundSeconds(records: Int32Array, lo: number, hi: number, v: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (records[mid * RUN_STRIDE + AT_SECONDS]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
