/**
 * The dates a GTFS feed covers, the app's validDates hook (app.ts), computed once per generation when it is
 * loaded: feed_info's feed_start_date and feed_end_date when the feed gives both, else the first and last day any
 * service runs according to calendar (start_date … end_date) and calendar_dates (added days). roq shows the range
 * in `roq status`, `start`, `reload` and `check`, warns in the daemon's log when the feed has run out, and tells a
 * visitor or a CLI user who asks about a day outside it that the timetable does not cover that day (rather than
 * showing an empty board).
 */
import { dateColumn, intColumn, stringColumn } from 'roq/store/columns.js';
import { NULL_INT, type TableData } from 'roq/store/types.js';
import type { DateRange } from 'roq/protocol.js';
import { isoDate, knownTimeZone } from 'roq/dates.js';

/**
 * Whether `table` is loaded with column `name` of `type`: an app whose tables have GTFS names but other column types
 * (say, one `roq init` made, with dates typed as dates) has no feed dates, rather than a failed load.
 */
function has(table: TableData | undefined, name: string, type: string): table is TableData {
  return table?.present === true && table.columns[name]?.type === type;
}

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
