/**
 * The passenger's pages of the GTFS app, a page module (docs/SCHEMAS.md, "Page modules"): the landing page (the
 * network, its dates and main stations), finding a station by name, and a station's departure board (the `board`
 * query, docs/QUERIES.md), with their JSON API (a form with `stop` asks departures). Plain data in, a view for
 * templates/board.html out. Links carry everything in the URL, so the pages need no JavaScript, and each board
 * links to the JSON of exactly what it shows.
 */
import { roqError } from 'roq/errors.js';
import { dayLabel, daysAfter, isoDate, parseIsoDate } from 'roq/dates.js';
import { expectedForm, formParams, querySpecOf } from 'roq/params.js';
import { rowsToObjects, type Cell } from 'roq/protocol.js';
import { errorView } from 'roq/web/error-view.js';
import type { AppPage, Outcome, PageAsk, PageError, PageRequest, PageView } from 'roq/web/pages.js';
import { QUERY_SPECS } from '../.roq/generated/queries.js';

type Obj = Record<string, Cell>;
type Form = Readonly<Record<string, string>>;

/** YYYY-MM-DD shifted by whole days. */
export function addDays(iso: string, days: number): string {
  return isoDate(daysAfter(parseIsoDate(iso), days));
}

/** "Monday 2 Nov 2026", or with short: "Mon 2 Nov". */
export function dateLabel(iso: string, short = false): string {
  return dayLabel(parseIsoDate(iso), short);
}

/** HH:MM:SS → HH:MM, or HH:MM:SS when the seconds matter (a link must continue exactly where a board stopped). */
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
 * The date and time the visitor chose, carried by every link and form that leads to another station (the search,
 * its redirect, the station list, the landing page's main stations), so that finding a station never falls back
 * to today. Empty fields stay out of the links: no choice means "now".
 */
export interface Chosen {
  date?: string;
  after?: string;
}

export function chosenOf(form: Form): Chosen {
  return { date: form.date || undefined, after: form.after || undefined };
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

/** Where a search with exactly one station goes: straight to its board, on the date and time chosen. */
export function singleStationLocation(found: Obj[], script: string, chosen: Chosen = {}): string | undefined {
  const stations = stationChoices(found);
  return stations.length === 1 ? href(script, { stop: String(stations[0]!.stop_id), ...chosen }) : undefined;
}

/** The stops query's default limit, from its schema. */
const STOPS_LIMIT = Number(QUERY_SPECS.stops?.params.find((p) => p.name === 'limit')?.default ?? 20);

const HEADINGS: Record<number, string> = {
  400: 'Please check the form',
  // The catalog's plain sentence for a 503 says the service is not available; the heading must not repeat it.
  503: 'Departures cannot be shown right now',
};

/** A value a visitor sent, as a page may quote it back: short enough not to swamp the sentence. */
function quoted(value: string | undefined): string {
  const v = value ?? '';
  return `“${v.length > 40 ? `${v.slice(0, 40)}…` : v}”`;
}

/**
 * A bad parameter in a passenger's words: which field to fix, and how. The error keeps its catalog code (the
 * JSON API and the log say it); a passenger is not shown codes, parameter names or HTTP statuses.
 */
function passengerProblem(param: string, message: string, form: Form): string {
  // A date of the right shape that is not a day says why ("February 2026 has 28 days"), which a passenger can use.
  const why = / is not a day of the calendar \(([^)]*)\)$/.exec(message)?.[1];
  if (param === 'date' && why) return `${quoted(form.date)} is not a day: ${why}. Choose a day in the Date field.`;
  if (param === 'date') return `${quoted(form.date)} is not a date. Choose a day in the Date field.`;
  if (param === 'after') return `${quoted(form.after)} is not a time of day. Choose a time in the From field.`;
  if (param === 'q') return `${quoted(form.q)} cannot be searched: type part of a station name, at most 100 letters.`;
  return 'This link holds a value the board cannot use. Choose the date and time below, or find the station by name.';
}

function passengerError(error: PageError, form: Form): Record<string, unknown> {
  const view = errorView(error, HEADINGS);
  // Errors of no parameter (a form that could not be read) keep the catalog's words: no field to point at.
  if (error.status !== 400 || !error.param) return view;
  const each = error.problems ?? [{ param: error.param, message: error.message }];
  const problems = [...new Set(each.map((p) => passengerProblem(p.param, p.message, form)))].map((message) => ({
    message,
  }));
  return { ...view, error: { ...view.error, message: problems[0]!.message, problems, showCode: false } };
}

interface BoardHead {
  date: string;
  after: string;
  stop: string;
  route: string;
  limit?: string;
}

/** The board's links: the JSON of what it shows, later departures, the days before and after, now. */
function boardLinks(head: Obj, b: BoardHead, form: Form, script: string, isNow: boolean) {
  const base = { stop: b.stop, route: b.route, limit: b.limit };
  const later = String(head.later_date);
  const day = (n: number) => ({
    href: href(script, { ...base, date: addDays(b.date, n), after: timeValue(b.after) }),
    label: dateLabel(addDays(b.date, n), true),
  });
  return {
    json: href(script, {
      query: 'board',
      ...base,
      date: b.date,
      after: timeValue(b.after),
      skip: form.skip,
      format: 'json',
    }),
    later: later
      ? href(script, { ...base, date: later, after: timeValue(String(head.later_time)), skip: Number(head.later_skip) })
      : undefined,
    previous: day(-1),
    next: day(1),
    now: isNow ? undefined : href(script, base),
    allLines: href(script, { ...base, route: undefined, date: form.date, after: form.after }),
  };
}

function departuresOf(rows: Obj[], date: string) {
  return rows
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
}

function stationBoardView(rows: Obj[], form: Form, script: string): Record<string, unknown> {
  const head = rows.find((r) => r.kind === 'board')!;
  const b: BoardHead = {
    date: String(head.date),
    after: String(head.time),
    stop: String(head.stop_id),
    route: form.route ?? '',
    limit: form.limit,
  };
  const isNow = !form.date && !form.after;
  const first = String(head.first_date);
  const last = String(head.last_date);
  const outside = first !== '' && (b.date < first || b.date > last);
  const departures = departuresOf(rows, b.date);
  const routes = rows
    .filter((r) => r.kind === 'route')
    .map((r) => ({ id: r.route_id, name: r.route_name, selected: r.route_id === b.route }));
  // An unknown stop_id answers an empty board (as in the API); the page is a 404 that offers the search.
  const unknown = head.stop_name === '' && routes.length === 0;
  // A line that never calls here: every later page and day would be as empty as this one.
  const foreignRoute = b.route !== '' && !unknown && !routes.some((r) => r.selected);
  if (foreignRoute) routes.push({ id: b.route, name: `Line ${b.route}`, selected: true });
  const name = String(head.stop_name) || `Stop ${b.stop}`;
  const links = boardLinks(head, b, form, script, isNow);
  return {
    title: unknown ? 'Station not found' : `${name} departures`,
    heading: unknown ? 'Station not found' : name,
    station: name,
    stop: b.stop,
    isNow,
    when: `${dateLabel(b.date)}, from ${b.after.slice(0, 5)}`,
    dateValue: b.date,
    afterValue: b.after.slice(0, 5),
    routes,
    routeName: routes.find((r) => r.selected)?.name,
    unknown,
    foreignRoute: foreignRoute ? { name: `line ${quoted(b.route)}`, href: links.allLines } : undefined,
    // Nothing to page through for a station that does not exist or a line that does not call.
    pages: !unknown && !foreignRoute,
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
          date: dateLabel(b.date),
          edge: b.date < first ? dateLabel(first) : dateLabel(last),
          href: href(script, {
            stop: b.stop,
            route: b.route,
            limit: b.limit,
            date: b.date < first ? first : last,
            after: timeValue(b.after),
          }),
        }
      : undefined,
    links: { ...links, later: unknown || foreignRoute ? undefined : links.later },
  };
}

/** The landing page: the network's name and dates, the search (with a date and time), and the main stations. */
function landingView(rows: Obj[], chosen: Chosen, script: string): Record<string, unknown> {
  const head = rows.find((r) => r.kind === 'network');
  const first = String(head?.first_date ?? '');
  const last = String(head?.last_date ?? '');
  const stations = rows
    .filter((r) => r.kind === 'station')
    .map((r) => ({ name: r.stop_name, href: href(script, { stop: String(r.stop_id), ...chosen }) }));
  return {
    network: head?.feed_name || 'Train departures',
    version: head?.feed_version ?? '',
    covers: first ? `${dateLabel(first)} to ${dateLabel(last)}` : '',
    dateValue: chosen.date ?? '',
    afterValue: chosen.after ?? '',
    // A date of the right shape may still be no day (2026-02-30): then the page names none rather than failing.
    when: chosen.date && !Number.isNaN(parseIsoDate(chosen.date)) ? dateLabel(chosen.date) : '',
    stations,
    hasStations: stations.length > 0,
  };
}

function stationsView(outcome: Outcome & { kind: 'rows' }, form: Form, script: string) {
  const chosen = chosenOf(form);
  const list = stationChoices(rowsToObjects(outcome.fields, outcome.rows)).map((s) => ({
    name: s.stop_name,
    href: href(script, { stop: String(s.stop_id), ...chosen }),
  }));
  // The stops query stops at its limit: a full answer may have left some out.
  const limit = Number(form.limit) || STOPS_LIMIT;
  return {
    q: form.q ?? '',
    list,
    found: list.length > 0,
    more: outcome.rows.length >= limit ? { limit } : undefined,
  };
}

/**
 * The view of every HTML outcome of the board's page: the search form, then the landing page, stations, board or
 * error; with its status (a board of a stop that does not exist is a 404).
 */
export function boardView(outcome: Outcome, form: Form, script: string): PageView {
  const chosen = chosenOf(form);
  const view: Record<string, unknown> = { title: 'Train departures', script, q: form.q ?? '', invalid: {}, chosen };
  let status: number | undefined;
  if (outcome.kind === 'error') {
    Object.assign(view, errorPart(outcome, form));
  } else if (outcome.kind === 'form' && outcome.prompt) {
    view.prompt = outcome.prompt;
  } else if (outcome.kind === 'rows' && outcome.query === 'network') {
    const landing = landingView(rowsToObjects(outcome.fields, outcome.rows), chosen, script);
    view.landing = landing;
    view.heading = view.title = landing.network;
  } else if (outcome.kind === 'rows' && outcome.query === 'stops') {
    view.title = `Stations matching ${form.q ?? ''}`;
    view.stations = stationsView(outcome, form, script);
  } else if (outcome.kind === 'rows' && outcome.query === 'board') {
    const board = stationBoardView(rowsToObjects(outcome.fields, outcome.rows), form, script);
    view.title = board.title;
    view.heading = board.heading;
    view.board = board;
    view.generation = outcome.generation;
    if (board.unknown) status = 404;
  }
  return { view, ...(status ? { status } : {}) };
}

/** An error's part of the board's view: in a passenger's words, with the station's name when the page knows it. */
function errorPart(outcome: Outcome & { kind: 'error' }, form: Form): Record<string, unknown> {
  const part: Record<string, unknown> = { ...passengerError(outcome.error, form), chosen: {} };
  // A bad date or time keeps the station's name (when the page could learn it) and does not carry the bad value.
  if (outcome.about) part.heading = part.title = outcome.about;
  if (form.stop)
    part.retry = { stop: form.stop, dateValue: form.date ?? '', afterValue: form.after ?? '', route: form.route ?? '' };
  return part;
}

/**
 * The query a form asks for: the one `query` names; else with `stop` the passenger's board for a page and the
 * departures API for JSON; else `q` present → stops; else none (the landing page, or for JSON a missing stop).
 * Only the query's own parameters are picked; the page's other fields (format, the buttons) are not parameters.
 */
export function chooseQuery(form: Form, json = false): { query: string; raw: Record<string, string> } | undefined {
  const query = form.query
    ? form.query
    : 'stop' in form
      ? json
        ? 'departures'
        : 'board'
      : 'q' in form
        ? 'stops'
        : undefined;
  if (query === undefined) return undefined;
  return { query, raw: formParams(querySpecOf(QUERY_SPECS, query), form) };
}

/** A station search with nothing typed is not an error: the form asks for a name. */
const EMPTY_SEARCH_PROMPT = 'Type part of a station name, then press “Find stations”.';

/**
 * Answers a form: an empty station search is the form with a prompt; no query is the landing page (the network)
 * or, for JSON, a missing stop; a search with one station found goes straight to its board; a board's error keeps
 * the station's name.
 */
export function answerBoard(request: PageRequest, ask: PageAsk): Outcome {
  const { form, json } = request;
  const chosen = chooseQuery(form, json);
  if (!json && chosen?.query === 'stops' && chosen.raw.q === undefined)
    return { kind: 'form', prompt: EMPTY_SEARCH_PROMPT };
  if (!chosen) {
    if (!json) return ask('network', {});
    const stop = QUERY_SPECS.departures?.params.find((p) => p.name === 'stop');
    throw roqError('ROQ_PARAM_MISSING', { param: 'stop', expected: stop ? expectedForm(stop) : 'a stop_id' });
  }
  if (chosen.query === 'board' && request.now !== undefined && !chosen.raw.now) chosen.raw.now = String(request.now);
  const outcome = ask(chosen.query, chosen.raw);
  if (outcome.kind === 'error' && !json && chosen.query === 'board') return withStation(outcome, chosen.raw, ask);
  if (outcome.kind !== 'rows' || json || chosen.query !== 'stops') return outcome;
  const location = singleStationLocation(rowsToObjects(outcome.fields, outcome.rows), '', chosenOf(form));
  return location ? { kind: 'redirect', location } : outcome;
}

/**
 * A board's error outcome with the station's name, so that a page for a bad date or time still says which station
 * it is about: the board of the stop alone, asked once more. Without a valid stop, or when that fails too, the
 * error as it was.
 */
function withStation(outcome: Outcome & { kind: 'error' }, raw: Record<string, string>, ask: PageAsk): Outcome {
  const params = outcome.error.problems?.map((p) => p.param) ?? [outcome.error.param];
  if (!raw.stop || params.includes('stop') || outcome.error.status !== 400) return outcome;
  const board = ask('board', { stop: raw.stop, limit: '1', ...(raw.now ? { now: raw.now } : {}) });
  const name = board.kind === 'rows' ? rowsToObjects(board.fields, board.rows)[0]?.stop_name : undefined;
  return name ? { ...outcome, about: String(name) } : outcome;
}

export const page: AppPage = {
  answers: ['', 'board', 'network', 'stops'],
  answer: answerBoard,
  view: (outcome, request) => boardView(outcome, request.form, request.script),
};
