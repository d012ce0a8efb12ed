/**
 * The passenger's pages of the GTFS sample app: finding a station by name, and a station's departure board
 * (the `board` query, docs/QUERIES.md). Plain data in, a view for templates/board.html out; the CGI calls
 * boardPage() for every HTML request that is not for the raw `departures` table. Links carry everything in the
 * URL, so the pages need no JavaScript, and each board links to the JSON of exactly what it shows.
 */
import { dayLabel, daysAfter, isoDate, parseIsoDate } from '../dates.js';
import { QUERY_SPECS } from '../generated/queries.js';
import { rowsToObjects, type Cell } from '../protocol.js';
import boardTemplate from '../../templates/board.html';
import { renderRoqPage } from './partials.js';
import type { Outcome } from './page.js';
import { errorView } from './view.js';

type Obj = Record<string, Cell>;

/** YYYY-MM-DD shifted by whole days. */
export function addDays(iso: string, days: number): string {
  return isoDate(daysAfter(parseIsoDate(iso), days));
}

/** "Monday 2 Nov 2026", or with short: "Mon 2 Nov". */
export function dateLabel(iso: string, short = false): string {
  return dayLabel(parseIsoDate(iso), short);
}

/** HH:MM:SS → HH:MM, or HH:MM:SS when the seconds matter (a time input takes both). */
function timeValue(t: string): string {
  return t.endsWith(':00') ? t.slice(0, 5) : t;
}

/** WCAG 2 relative luminance of a 6-digit hex colour. */
export function luminance(hex: string): number {
  const c = [0, 2, 4]
    .map((i) => parseInt(hex.slice(i, i + 2), 16) / 255)
    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
}

/** WCAG 2 contrast ratio of two 6-digit hex colours, 1 to 21. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

/** What normal-size text needs (WCAG 2 AA, 1.4.3). */
export const MIN_CONTRAST = 4.5;

/**
 * The colours a route's name is shown in: the feed's route_color as the background, and its route_text_color when
 * the two reach AA contrast; otherwise (or when the text colour is missing) black or white, whichever contrasts
 * more — one of them always reaches 4.5:1. No route_color: no style, the page's own colours.
 */
export function routeStyle(color: string, text: string): string {
  if (color === '') return '';
  const ink =
    text !== '' && contrast(color, text) >= MIN_CONTRAST
      ? text
      : contrast(color, '000000') >= contrast(color, 'FFFFFF')
        ? '000000'
        : 'FFFFFF';
  return `background-color:#${color};color:#${ink}`;
}

function href(script: string, params: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '' && v !== 0) q.set(k, String(v));
  return `${script}?${q.toString()}`;
}

/**
 * The stations among the stops a name search found: stops and stations, not entrances or boarding areas; a
 * platform whose station is in the list too is left out (its station's board includes it).
 */
export function stationChoices(found: Obj[]): Obj[] {
  const ids = new Set(found.map((s) => String(s.stop_id)));
  return found.filter(
    (s) => ['', '0', '1'].includes(String(s.location_type).trim()) && !ids.has(String(s.parent_station)),
  );
}

/** Where a search with exactly one station goes: straight to its board. */
export function singleStationLocation(found: Obj[], script: string): string | undefined {
  const stations = stationChoices(found);
  return stations.length === 1 ? href(script, { stop: String(stations[0]!.stop_id) }) : undefined;
}

/** The stops query's default limit, from its schema. */
const STOPS_LIMIT = Number(QUERY_SPECS.stops?.params.find((p) => p.name === 'limit')?.default ?? 20);

function boardView(rows: Obj[], form: Record<string, string>, script: string): Record<string, unknown> {
  const head = rows.find((r) => r.kind === 'board')!;
  const date = String(head.date);
  const after = String(head.time);
  const stop = String(head.stop_id);
  const route = form.route ?? '';
  const limit = form.limit;
  const isNow = !form.date && !form.after;
  const name = String(head.stop_name) || `Stop ${stop}`;
  const first = String(head.first_date);
  const last = String(head.last_date);
  const outside = first !== '' && (date < first || date > last);
  const departures = rows
    .filter((r) => r.kind === 'departure')
    .map((r) => {
      const day = String(r.date);
      return {
        time: String(r.time).slice(0, 5),
        nextDay: day !== date ? { label: dateLabel(day, true) } : undefined,
        destination: r.destination,
        route: { name: r.route_name, style: routeStyle(String(r.route_color), String(r.route_text_color)) },
        train: r.train,
        platform: r.platform,
        trip: r.trip_id,
      };
    });
  const routes = rows
    .filter((r) => r.kind === 'route')
    .map((r) => ({ id: r.route_id, name: r.route_name, selected: r.route_id === route }));
  const base = { stop, route, limit };
  const later = String(head.later_date);
  return {
    title: `${name} departures`,
    station: name,
    stop,
    isNow,
    when: `${dateLabel(date)}, from ${after.slice(0, 5)}`,
    dateValue: date,
    afterValue: timeValue(after),
    routes,
    routeName: routes.find((r) => r.selected)?.name,
    // An unknown stop_id answers an empty board (as in the API); the page says so instead of "no departures".
    unknown: head.stop_name === '' && routes.length === 0,
    departures,
    found: departures.length > 0,
    hasTrain: departures.some((d) => d.train !== ''),
    hasPlatform: departures.some((d) => d.platform !== ''),
    rollsOver: departures.some((d) => d.nextDay),
    feed: {
      name: head.feed_name,
      version: head.feed_version,
      covers: first ? `${dateLabel(first)} to ${dateLabel(last)}` : '',
    },
    outside: outside
      ? {
          date: dateLabel(date),
          edge: date < first ? dateLabel(first) : dateLabel(last),
          href: href(script, { ...base, date: date < first ? first : last, after: timeValue(after) }),
        }
      : undefined,
    links: {
      json: href(script, { query: 'board', ...base, date, after: timeValue(after), skip: form.skip, format: 'json' }),
      later: later
        ? href(script, {
            ...base,
            date: later,
            after: timeValue(String(head.later_time)),
            skip: Number(head.later_skip),
          })
        : undefined,
      previous: {
        href: href(script, { ...base, date: addDays(date, -1), after: timeValue(after) }),
        label: dateLabel(addDays(date, -1), true),
      },
      next: {
        href: href(script, { ...base, date: addDays(date, 1), after: timeValue(after) }),
        label: dateLabel(addDays(date, 1), true),
      },
      now: isNow ? undefined : href(script, base),
    },
  };
}

/** The page for every HTML outcome but the raw departures table: the search form, then stations, board or error. */
export function boardPage(outcome: Outcome, form: Record<string, string>, script: string): string {
  const view: Record<string, unknown> = { title: 'Train departures', script, q: form.q ?? '', invalid: {} };
  if (outcome.kind === 'error') {
    Object.assign(view, errorView(outcome.error));
    if (form.stop)
      view.retry = { stop: form.stop, date: form.date ?? '', after: form.after ?? '', route: form.route ?? '' };
  } else if (outcome.kind === 'form' && outcome.prompt) {
    view.prompt = outcome.prompt;
  } else if (outcome.kind === 'rows' && outcome.query === 'stops') {
    const stations = stationChoices(rowsToObjects(outcome.fields, outcome.rows)).map((s) => ({
      name: s.stop_name,
      href: href(script, { stop: String(s.stop_id) }),
    }));
    view.title = `Stations matching ${form.q ?? ''}`;
    // The stops query stops at its limit: a full answer may have left some out.
    const limit = Number(form.limit) || STOPS_LIMIT;
    view.stations = {
      q: form.q ?? '',
      list: stations,
      found: stations.length > 0,
      more: outcome.rows.length >= limit ? { limit } : undefined,
    };
  } else if (outcome.kind === 'rows' && outcome.query === 'board') {
    const board = boardView(rowsToObjects(outcome.fields, outcome.rows), form, script);
    view.title = board.title;
    view.board = board;
    view.generation = outcome.generation;
  }
  return renderRoqPage('board.html', boardTemplate, view);
}
