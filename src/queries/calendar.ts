/**
 * GTFS service calendars (docs/QUERIES.md): which service_ids run on a day, and the date arithmetic around it.
 * Days are yyyymmdd numbers, as the loader stores GTFS dates and parseParams returns `date` parameters.
 */
import type { Db } from './db.js';
import { memoized } from './db.js';
import { weekdayOf } from '../dates.js';

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

/** tripServicesActiveOn as an ascending array of codes. Memoized per day. */
export function sortedTripServicesOn(db: Db, day: number): Int32Array {
  return memoized(db, `sortedTripServices:${day}`, () => Int32Array.from(tripServicesActiveOn(db, day)).sort());
}
