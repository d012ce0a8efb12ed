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
import { isoDate, knownTimeZone, today } from '../dates.js';

/**
 * Whether `table` is loaded with column `name` of `type`: an app whose tables have GTFS names but other column types
 * (say, one `roq init` made, with dates typed as dates) has no feed dates, rather than a failed load.
 */
function has(table: TableData | undefined, name: string, type: string): table is TableData {
  return table?.present === true && table.columns[name]?.type === type;
}

/** What a GTFS feed's data is to its users, in the sentences of events ("the timetable ended on …"). */
export const DATA_NOUN = 'timetable';

function fromFeedInfo(feedInfo: TableData | undefined): DateRange | undefined {
  if (!has(feedInfo, 'feed_start_date', 'string') || !has(feedInfo, 'feed_end_date', 'string') || feedInfo.rows === 0)
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
  if (has(calendar, 'start_date', 'date') && has(calendar, 'end_date', 'date')) {
    const starts = dateColumn(calendar, 'start_date'),
      ends = dateColumn(calendar, 'end_date');
    for (let r = 0; r < calendar.rows; r++) (see(starts[r]!), see(ends[r]!));
  }
  if (has(calendarDates, 'date', 'date') && has(calendarDates, 'exception_type', 'int')) {
    const dates = dateColumn(calendarDates, 'date'),
      types = intColumn(calendarDates, 'exception_type');
    for (let r = 0; r < calendarDates.rows; r++) if (types[r] === 1) see(dates[r]!);
  }
  return lo <= hi ? { start: isoDate(lo), end: isoDate(hi) } : undefined;
}

/**
 * The feed's date range, or undefined when these tables say nothing about dates; with the feed's time zone, the
 * first agency's agency_timezone (GTFS has all agencies of a feed share one), when this runtime knows it.
 */
export function feedDateRange(tables: Record<string, TableData>): DateRange | undefined {
  const range = fromFeedInfo(tables.feed_info) ?? fromCalendars(tables.calendar, tables.calendar_dates);
  const agency = tables.agency;
  const zone =
    has(agency, 'agency_timezone', 'string') && agency.rows > 0
      ? stringColumn(agency, 'agency_timezone').text(0).trim()
      : '';
  return range && knownTimeZone(zone) ? { ...range, zone } : range;
}

/** "2026-09-21 to 2026-11-08", for status lines. */
export function rangeText(dates: DateRange): string {
  return `${dates.start} to ${dates.end}`;
}

/**
 * A warning for the daemon's log when today (in the data's zone, dates.today) is past the data's last day:
 * visitors asking about today get no departures until newer data is loaded.
 */
export function expiredWarning(dates: DateRange | undefined, now = new Date()): string | undefined {
  const today = todayIn(dates, now);
  if (!dates || today <= dates.end) return undefined;
  return `the data covers ${rangeText(dates)}: today (${today}) is past its end, so questions about today find nothing; load a newer export (roq reload)`;
}

/** Today in the data's time zone (dates.today). */
export function todayIn(dates: DateRange | undefined, now = new Date()): string {
  return today(now, dates?.zone);
}

/** One line for `roq start`, `reload`, `status` and `check`: the range, and whether today is past it. */
export function coverageLine(dates: DateRange | undefined, now = new Date()): string {
  if (!dates) return '';
  const today = todayIn(dates, now);
  const past =
    today > dates.end
      ? ` (ENDED: today is ${today}; load a newer export)`
      : today < dates.start
        ? ` (starts after today, ${today})`
        : '';
  return `data covers ${rangeText(dates)}${past}\n`;
}
