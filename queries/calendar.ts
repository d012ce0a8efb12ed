/**
 * GTFS service calendars (docs/QUERIES.md): which service_ids run on a day, and the date arithmetic around it.
 * Days are yyyymmdd numbers, as the loader stores GTFS dates and parseParams returns `date` parameters.
 */
import type { Db } from '../.roq/generated/tables.js';
import { memoized } from 'roq/queries/db.js';
import { dayNumber, dayOfNumber, weekdayOf } from 'roq/dates.js';
import { NULL_INT } from 'roq/store/types.js';

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

/**
 * The service_ids active on `day`: a calendar.txt row whose date range holds the day and whose weekday flag is 1,
 * unless calendar_dates.txt removes it that day (exception_type 2); or a calendar_dates.txt row adding it that day
 * (exception_type 1). Either file may be absent; then it contributes nothing.
 */
export function servicesActiveOn(db: Db, day: number): Set<string> {
  const { calendar, calendarDates } = db.tables;
  const active = new Set<string>();
  const flag = calendar[WEEKDAYS[weekdayOf(day)]!];
  for (let row = 0; row < calendar.rows; row++) {
    if (calendar.startDate(row) <= day && day <= calendar.endDate(row) && flag(row) === 1)
      active.add(calendar.serviceId(row));
  }
  const ix = calendarDates.byDate;
  const end = ix.upperBound([day]);
  const added: string[] = [];
  for (let i = ix.lowerBound([day]); i < end; i++) {
    const row = ix.rows[i]!;
    const type = calendarDates.exceptionType(row);
    if (type === 2) active.delete(calendarDates.serviceId(row));
    else if (type === 1) added.push(calendarDates.serviceId(row));
  }
  for (const s of added) active.add(s);
  return active;
}

/** servicesActiveOn as trips.service_id dictionary codes, so that checking a trip is one lookup. Memoized per day. */
export function tripServicesActiveOn(db: Db, day: number): Set<number> {
  return memoized(db, `tripServices:${day}`, () => {
    const codes = new Set<number>();
    for (const id of servicesActiveOn(db, day)) {
      const code = db.tables.trips.serviceIdCodeOf(id);
      if (code >= 0) codes.add(code);
    }
    return codes;
  });
}

/** At most this many (day, calendar row) evaluations to group services; past it, each service is its own group. */
const GROUPING_BUDGET = 4_000_000;

/**
 * trips service_id code → its service group: services active on exactly the same days share a group; -1 for a
 * service active on no day. A city bus feed exporting one service_id per depot and day type (37 service_ids, three
 * day types) has a handful of groups, so a board opens and merges a run per group, not per service. Exact: each day
 * from the first to the last date that calendar.txt or calendar_dates.txt names is evaluated with servicesActiveOn,
 * and on no other day can a service be active. When a calendar row has an empty date (its days are unbounded) or
 * the days are too many to evaluate, each service is its own group.
 */
export function serviceGroups(db: Db): Int32Array {
  const { calendar, calendarDates, trips } = db.tables;
  const services = db.data['trips']?.columns['service_id'];
  const count = services?.type === 'string' ? services.dict.size : 0;
  const identity = Int32Array.from({ length: count }, (_, i) => i);
  let first = Infinity;
  let last = -Infinity;
  for (let row = 0; row < calendar.rows; row++) {
    const start = calendar.startDate(row);
    const end = calendar.endDate(row);
    if (start === NULL_INT || end === NULL_INT) return identity;
    if (start > end) continue;
    first = Math.min(first, start);
    last = Math.max(last, end);
  }
  for (let row = 0; row < calendarDates.rows; row++) {
    const day = calendarDates.date(row);
    if (day === NULL_INT) continue;
    first = Math.min(first, day);
    last = Math.max(last, day);
  }
  // Date.UTC reads years below 100 as 19xx: such a feed keeps a group per service.
  if (first > last || first < 1000_01_01) return identity;
  const span = dayNumber(last) - dayNumber(first) + 1;
  if (span * (calendar.rows + 1) > GROUPING_BUDGET) return identity;
  const days = daysFrom(first, last);
  // Each service's signature: the indexes of the days it is active on.
  const signature: string[] = new Array<string>(count).fill('');
  const codeOf = new Map<string, number>();
  days.forEach((day, k) => {
    for (const id of servicesActiveOn(db, day)) {
      let code = codeOf.get(id);
      if (code === undefined) codeOf.set(id, (code = trips.serviceIdCodeOf(id)));
      if (code >= 0) signature[code] += `${k},`;
    }
  });
  const groups = new Map<string, number>();
  return Int32Array.from(signature, (s) => {
    if (s === '') return -1;
    let group = groups.get(s);
    if (group === undefined) groups.set(s, (group = groups.size));
    return group;
  });
}

/** The days from `first` to `last` (yyyymmdd numbers), in order. */
function daysFrom(first: number, last: number): number[] {
  const out: number[] = [];
  for (let n = dayNumber(first); n <= dayNumber(last); n++) out.push(dayOfNumber(n));
  return out;
}
