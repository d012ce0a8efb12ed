/**
 * The data's valid dates (the app's validDates hook, src/app-info.ts) in roq's own messages: `roq start`, `status`,
 * `reload` and `check`, and the daemon's warning when today, in the data's time zone, is past them.
 */
import type { DateRange } from './protocol.js';
import { today } from './dates.js';

/** "2026-09-21 to 2026-11-08", for status lines. */
export function rangeText(dates: DateRange): string {
  return `${dates.start} to ${dates.end}`;
}

/**
 * A warning for the daemon's log when today (in the data's zone, dates.today) is past the data's last day:
 * visitors asking about today find nothing until newer data is loaded.
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
