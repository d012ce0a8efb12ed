/**
 * Dates and times, in one place: the forms roq reads and writes (YYYY-MM-DD, HH:MM[:SS]), the numbers it keeps
 * (a day as yyyymmdd, a time of day as seconds since midnight), the calendar arithmetic of service days, and
 * "today" in the data's time zone. The loader's byte-level parsers (store/values.ts) read the same forms from
 * file bytes without making strings, and check days with `daysInMonth` from here.
 */

/**
 * Today's date, YYYY-MM-DD, in `timeZone` (an IANA name): the data's own zone where it has one (DateRange.zone,
 * which the app's validDates hook gives), so that "today" means what it means to the data's users wherever the
 * server runs. Without one (or one this runtime does not know), this process's time zone (TZ).
 */
export function today(now = new Date(), timeZone?: string): string {
  if (timeZone !== undefined && knownTimeZone(timeZone)) {
    const parts: Record<string, string> = {};
    const format = new Intl.DateTimeFormat('en-US', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
    for (const p of format.formatToParts(now)) parts[p.type] = p.value;
    return `${parts.year}-${parts.month}-${parts.day}`;
  }
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

/** Whether this runtime knows the IANA time zone `zone`. */
export function knownTimeZone(zone: string): boolean {
  if (zone === '') return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** yyyymmdd as a number, or NaN when the text is not an existing Gregorian date. */
export function parseIsoDate(text: string): number {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!m) return NaN;
  const y = Number(m[1]),
    mo = Number(m[2]),
    d = Number(m[3]);
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return NaN;
  return y * 10000 + mo * 100 + d;
}

export function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/**
 * For a text of the right form YYYY-MM-DD whose month exists but whose day does not (2026-02-30, 2026-04-31):
 * why, in words ("February 2026 has 28 days"). Undefined for any other text.
 */
export function missingDay(text: string): string | undefined {
  const m = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/.exec(text);
  if (!m) return undefined;
  const y = Number(m[1]),
    mo = Number(m[2]),
    d = Number(m[3]);
  if (mo < 1 || mo > 12) return undefined;
  const days = daysInMonth(y, mo);
  return d < 1 || d > days ? `${MONTHS[mo - 1]} ${y} has ${days} days` : undefined;
}

/** Seconds since midnight for a clock time H:MM or H:MM:SS below 24:00, or NaN. */
export function parseClockTime(text: string): number {
  const m = /^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?$/.exec(text);
  if (!m) return NaN;
  const h = Number(m[1]),
    mi = Number(m[2]),
    s = m[3] === undefined ? 0 : Number(m[3]);
  if (h > 23 || mi > 59 || s > 59) return NaN;
  return h * 3600 + mi * 60 + s;
}

/**
 * Days since 1970-01-01 of a day (yyyymmdd): the one conversion the calendar arithmetic rests on. Date.UTC reads
 * years below 100 as 19xx, so days before the year 100 are not told apart (no data here has them).
 */
export function dayNumber(day: number): number {
  return Date.UTC(Math.floor(day / 10000), (Math.floor(day / 100) % 100) - 1, day % 100) / 864e5;
}

/** The day (yyyymmdd) of a dayNumber. */
export function dayOfNumber(n: number): number {
  const d = new Date(n * 864e5);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/** The day (yyyymmdd) `days` whole days after `day` (before it, for a negative count). */
export function daysAfter(day: number, days: number): number {
  return dayOfNumber(dayNumber(day) + days);
}

export function previousDay(day: number): number {
  return daysAfter(day, -1);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOf(day: number): number {
  return new Date(dayNumber(day) * 864e5).getUTCDay();
}

const WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

/** "Monday 2 Nov 2026", or with short: "Mon 2 Nov": a day as the pages name it. */
export function dayLabel(day: number, short = false): string {
  const weekday = WEEKDAYS[weekdayOf(day)]!;
  const date = `${day % 100} ${MONTHS[(Math.floor(day / 100) % 100) - 1]!.slice(0, 3)}`;
  return short ? `${weekday.slice(0, 3)} ${date}` : `${weekday} ${date} ${Math.floor(day / 10000)}`;
}

/** yyyymmdd → YYYY-MM-DD. */
export function isoDate(day: number): string {
  const y = Math.floor(day / 10000);
  const m = Math.floor(day / 100) % 100;
  const d = day % 100;
  return `${String(y).padStart(4, '0')}-${m < 10 ? '0' : ''}${m}-${d < 10 ? '0' : ''}${d}`;
}

/** Seconds in [0, 86400) → HH:MM:SS. */
export function clockTime(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor(seconds / 60) % 60;
  const s = seconds % 60;
  return `${h < 10 ? '0' : ''}${h}:${m < 10 ? '0' : ''}${m}:${s < 10 ? '0' : ''}${s}`;
}

/** Whole days from one day to another (both YYYY-MM-DD): negative when `to` is before `from`. */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}
