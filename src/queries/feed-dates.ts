/**
 * The dates a GTFS feed covers, computed once per generation when it is loaded: feed_info's feed_start_date and
 * feed_end_date when the feed gives both, else the first and last day any service runs according to calendar
 * (start_date … end_date) and calendar_dates (added days). roq shows the range in `roq status`, `start`, `reload`
 * and `check`, warns in the daemon's log when the feed has run out, and tells a visitor or a CLI user who asks
 * about a day outside it that the timetable does not cover that day (rather than showing an empty board).
 *
 * This is the sample app's rule, kept beside its queries: a catalog without these tables has no date range.
 */
import { dateColumn, intColumn, stringColumn } from '../store/columns.js';
import { NULL_INT, type TableData } from '../store/types.js';
import type { DateRange } from '../protocol.js';
import { isoDate } from '../dates.js';

/** What a GTFS feed's data is to its users, in the sentences of events ("the timetable ended on …"). */
export const DATA_NOUN = 'timetable';

function fromFeedInfo(feedInfo: TableData | undefined): DateRange | undefined {
  if (!feedInfo?.present || feedInfo.rows === 0 || !feedInfo.columns.feed_start_date || !feedInfo.columns.feed_end_date)
    return undefined;
  const start = stringColumn(feedInfo, 'feed_start_date').text(0).trim();
  const end = stringColumn(feedInfo, 'feed_end_date').text(0).trim();
  if (!/^[0-9]{8}$/.test(start) || !/^[0-9]{8}$/.test(end) || start > end) return undefined;
  return { start: isoDate(Number(start)), end: isoDate(Number(end)) };
}

/** Min and max over calendar's date spans and calendar_dates' added days (exception_type 1). */
function fromCalendars(calendar: TableData | undefined, calendarDates: TableData | undefined): DateRange | undefined {
  let lo = Infinity,
    hi = -Infinity;
  const see = (d: number) => {
    if (d === NULL_INT) return;
    if (d < lo) lo = d;
    if (d > hi) hi = d;
  };
  if (calendar?.present && calendar.columns.start_date && calendar.columns.end_date) {
    const starts = dateColumn(calendar, 'start_date'),
      ends = dateColumn(calendar, 'end_date');
    for (let r = 0; r < calendar.rows; r++) (see(starts[r]!), see(ends[r]!));
  }
  if (calendarDates?.present && calendarDates.columns.date && calendarDates.columns.exception_type) {
    const dates = dateColumn(calendarDates, 'date'),
      types = intColumn(calendarDates, 'exception_type');
    for (let r = 0; r < calendarDates.rows; r++) if (types[r] === 1) see(dates[r]!);
  }
  return lo <= hi ? { start: isoDate(lo), end: isoDate(hi) } : undefined;
}

/** The feed's date range, or undefined when these tables say nothing about dates. */
export function feedDateRange(tables: Record<string, TableData>): DateRange | undefined {
  return fromFeedInfo(tables.feed_info) ?? fromCalendars(tables.calendar, tables.calendar_dates);
}

/** "2026-09-21 to 2026-11-08", for status lines. */
export function rangeText(dates: DateRange): string {
  return `${dates.start} to ${dates.end}`;
}

/**
 * A warning for the daemon's log when `today` (YYYY-MM-DD, the server's local date) is past the data's last day:
 * visitors asking about today get no departures until newer data is loaded.
 */
export function expiredWarning(dates: DateRange | undefined, today: string): string | undefined {
  if (!dates || today <= dates.end) return undefined;
  return `the data covers ${rangeText(dates)}: today (${today}) is past its end, so questions about today find nothing; load a newer export (roq reload)`;
}

/** One line for `roq start`, `reload`, `status` and `check`: the range, and whether today is past it. */
export function coverageLine(dates: DateRange | undefined, today: string): string {
  if (!dates) return '';
  const past =
    today > dates.end
      ? ` (ENDED: today is ${today}; load a newer export)`
      : today < dates.start
        ? ` (starts after today, ${today})`
        : '';
  return `data covers ${rangeText(dates)}${past}\n`;
}
