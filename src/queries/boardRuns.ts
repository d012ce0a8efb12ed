/**
 * Board runs: the stop_times rows a departure board can show, grouped by (stop, service) and, inside a group, in
 * board order (departure seconds, trip_id bytes, stop_sequence). Built once per generation on the load side, in
 * shared memory, and read by every worker.
 *
 * Why: the byStopDeparture index puts all of a stop's rows in time order, whatever day their trip runs on. On a
 * feed whose services each run on a few dates (a commuter railroad exporting calendar_dates only), about 1.5 % of
 * a stop's rows run on any date, so a board walked that index skipping ~98 % of what it visited. With runs, a board
 * opens one cursor per (stop, service) active on the day, binary-searches each for the time, and merges them: it
 * visits only rows of trips that run. Rows no board can show (pickup_type 1, no departure time, a trip_id that
 * trips.txt lacks) are left out here, so the merge does not meet them either.
 */
import type { GenerationData, TableData } from '../store/types.js';
import { sharedInt32 } from '../store/shared.js';

// A type, not an interface, so that it fits GenerationData.derived's Record of arrays.
export type BoardRunsData = {
  /** stop_times rows, grouped by run, each run in board order. */
  rows: Int32Array;
  /** Departure seconds of rows[i], beside it so the time searches stay in one array. */
  seconds: Int32Array;
  /** Per run: the stop_times stop_id code, the trips service_id code, and its first position in rows. */
  runStop: Int32Array;
  runService: Int32Array;
  /** runStart[r] .. runStart[r + 1] are run r's positions; one entry more than there are runs. */
  runStart: Int32Array;
};

/** Its name in GenerationData.derived. */
export const DERIVED_BOARD_RUNS = 'boardRuns';

/** Stable counting sort of `order` by key[order[i]], whose values lie in [0, size). */
function countingSort(order: Int32Array, key: Int32Array, size: number): Int32Array {
  const start = new Int32Array(size + 1);
  for (let i = 0; i < order.length; i++) start[key[order[i]!]! + 1]!++;
  for (let v = 1; v <= size; v++) start[v]! += start[v - 1]!;
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const x = order[i]!;
    out[start[key[x]!]!++] = x;
  }
  return out;
}

/**
 * Builds the runs from loaded stop_times and trips tables (null when either is absent from the catalog). The
 * byStopDeparture index already orders each stop's rows as a board does, and the two counting sorts are stable,
 * so each (stop, service) group keeps that order: linear time, no comparisons.
 */
export function buildBoardRuns(tables: Record<string, TableData>): BoardRunsData | null {
  const st = tables['stop_times'];
  const trips = tables['trips'];
  const byStop = st?.indexes['byStopDeparture'];
  const stop = st?.columns['stop_id'];
  const dep = st?.columns['departure_time'];
  const pickup = st?.columns['pickup_type'];
  const tripRef = st?.references['trip_id'];
  const tripCodes = st?.columns['trip_id'];
  const service = trips?.columns['service_id'];
  if (!st || !byStop || stop?.type !== 'string' || dep?.type !== 'time' || pickup?.type !== 'int' || !tripRef || tripCodes?.type !== 'string' || service?.type !== 'string') {
    return null;
  }
  // Locals, not property reads through the column unions, keep these loops over millions of rows monomorphic.
  const stopCodes = stop.codes;
  const departs = dep.values;
  const pickups = pickup.values;
  const tripOf = tripRef;
  const tripIds = tripCodes.codes;
  const services = service.codes;
  // Rows a board can show, in byStopDeparture order; serviceOf[row] for those.
  const serviceOf = new Int32Array(st.rows);
  let kept = new Int32Array(byStop.length);
  let n = 0;
  for (let i = 0; i < byStop.length; i++) {
    const row = byStop[i]!;
    const trip = tripOf[tripIds[row]!]!;
    if (trip < 0 || pickups[row] === 1 || departs[row]! < 0) continue;
    serviceOf[row] = services[trip]!;
    kept[n++] = row;
  }
  kept = kept.subarray(0, n);
  const byService = countingSort(kept, serviceOf, service.dict.size);
  const sorted = countingSort(byService, stopCodes, stop.dict.size);

  let runs = 0;
  for (let i = 0; i < n; i++) {
    const row = sorted[i]!;
    const prev = i === 0 ? -1 : sorted[i - 1]!;
    if (prev < 0 || stopCodes[row] !== stopCodes[prev] || serviceOf[row] !== serviceOf[prev]) runs++;
  }
  const out: BoardRunsData = {
    rows: sharedInt32(n),
    seconds: sharedInt32(n),
    runStop: sharedInt32(runs),
    runService: sharedInt32(runs),
    runStart: sharedInt32(runs + 1),
  };
  const { rows, seconds, runStop, runService, runStart } = out;
  let r = -1;
  for (let i = 0; i < n; i++) {
    const row = sorted[i]!;
    rows[i] = row;
    seconds[i] = departs[row]!;
    if (r < 0 || stopCodes[row] !== runStop[r] || serviceOf[row] !== runService[r]) {
      r++;
      runStop[r] = stopCodes[row]!;
      runService[r] = serviceOf[row]!;
      runStart[r] = i;
    }
  }
  out.runStart[runs] = n;
  return out;
}

/** What the queries derive from a generation's tables at load time, by name (GenerationData.derived). */
export function deriveQueryData(tables: Record<string, TableData>): NonNullable<GenerationData['derived']> {
  const runs = buildBoardRuns(tables);
  return runs ? { [DERIVED_BOARD_RUNS]: runs } : {};
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
