/**
 * departures(stop, date, after, route?, limit?): the departure board of a stop, exactly as docs/QUERIES.md defines
 * it. The stop_times index byStopDeparture orders rows by (stop_id, departure seconds, trip_id bytes,
 * stop_sequence), so for one stop and one service day the candidates form a range already in board order. The
 * board merges up to two such ranges per stop (today's trips, and yesterday's trips running past midnight) and
 * stops as soon as `limit` rows pass the filters.
 */
import type { DeparturesParams, DeparturesRow } from '../generated/queries.js';
import type { Db } from './db.js';
import { clockTime, isoDate, previousDay, tripServicesActiveOn } from './calendar.js';

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

/** One index range: the rows of one stop whose departure, less `offset`, lies in [after, 86400). */
interface Cursor {
  pos: number;
  end: number;
  offset: number;
  serviceDay: number;
  services: Set<number>;
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
  const days = [
    { offset: 0, serviceDay: p.date, services: tripServicesActiveOn(db, p.date) },
    { offset: DAY, serviceDay: eve, services: tripServicesActiveOn(db, eve) },
  ];
  const ix = stopTimes.byStopDeparture;
  const cursors: Cursor[] = [];
  for (const code of boardStopCodes(db, p.stop)) {
    for (const d of days) {
      if (d.services.size === 0) continue;
      const pos = ix.lowerBound([code, p.after + d.offset]);
      const end = ix.lowerBound([code, DAY + d.offset]);
      if (pos < end) cursors.push({ pos, end, ...d });
    }
  }

  // Board order of a cursor's current row against another's: effective time, trip_id bytes, stop_sequence.
  const before = (a: Cursor, b: Cursor): boolean => {
    const ra = ix.rows[a.pos]!;
    const rb = ix.rows[b.pos]!;
    const ta = stopTimes.departureTime(ra) - a.offset;
    const tb = stopTimes.departureTime(rb) - b.offset;
    if (ta !== tb) return ta < tb;
    const ca = stopTimes.tripIdCode(ra);
    const cb = stopTimes.tripIdCode(rb);
    if (ca !== cb) return ca < cb;
    return stopTimes.stopSequence(ra) < stopTimes.stopSequence(rb);
  };

  while (out.length < p.limit) {
    let next: Cursor | undefined;
    for (const c of cursors) if (c.pos < c.end && (!next || before(c, next))) next = c;
    if (!next) break;
    const row = ix.rows[next.pos++]!;
    if (stopTimes.pickupType(row) === 1) continue;
    const trip = stopTimes.tripIdRow(row);
    if (trip < 0 || !next.services.has(trips.serviceIdCode(trip))) continue;
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
