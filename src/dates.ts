/**
 * Dates and times, in one place: the forms roq reads and writes (YYYY-MM-DD, HH:MM[:SS]), the numbers it keeps
 * (a day as yyyymmdd, a time of day as seconds since midnight), the calendar arithmetic of service days, and
 * "today" in the server's time zone. The loader's byte-level parsers (store/values.ts) read the same forms from
 * file bytes without making strings, and check days with `daysInMonth` from here.
 */

/** Today's date in this process's time zone (TZ), YYYY-MM-DD: what "today" means to the feed's users. */
export function today(now = new Date()): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
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

function toUtc(day: number): Date {
  return new Date(Date.UTC(Math.floor(day / 10000), (Math.floor(day / 100) % 100) - 1, day % 100));
}

function fromUtc(d: Date): number {
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

export function previousDay(day: number): number {
  const d = toUtc(day);
  d.setUTCDate(d.getUTCDate() - 1);
  return fromUtc(d);
}

/** 0 = Sunday … 6 = Saturday. */
export function weekdayOf(day: number): number {
  return toUtc(day).getUTCDay();
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
