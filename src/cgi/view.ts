/**
 * The page's view model: what the template shows for an outcome, built from plain data so it can be tested without
 * the bundler (which is what turns templates/page.html into a string). The form's fields come back as submitted,
 * escaped by the template; the date defaults to today.
 */
import { today } from '../dates.js';
import { rowsToObjects } from '../protocol.js';
import type { Outcome, PageError } from './page.js';

const COLUMN_LABELS: Record<string, string> = {
  time: 'Time',
  service_date: 'Service day',
  departure_time: 'GTFS time',
  stop_id: 'Stop',
  stop_sequence: 'Seq.',
  trip_id: 'Trip',
  trip_headsign: 'Headsign',
  direction_id: 'Dir.',
  route_id: 'Route',
  route_short_name: 'Short name',
  route_long_name: 'Route name',
};

const HEADINGS: Record<number, string> = {
  400: 'Please check the form',
  404: 'No such query',
  405: 'This page only answers GET and POST',
  413: 'The request is too large',
  415: 'The form could not be read',
  503: 'This page cannot be shown right now',
};

/**
 * The heading of an error page by its status, for every page of every app; `unavailable` words the 503 for an
 * app that is no timetable.
 */
export function errorHeading(status: number, unavailable = HEADINGS[503]!): string {
  return status === 503 ? unavailable : (HEADINGS[status] ?? 'Something went wrong');
}

/**
 * An error's part of the view: the heading, the message (or one line per field at fault), every such field
 * marked invalid, and the code only where it helps the visitor fix the form (4xx): a server-side failure shows
 * a plain sentence and nothing else.
 */
export function errorView(
  e: PageError,
  /** A page's own words for some statuses (the board's, to a passenger); the rest are errorHeading's. */
  headings: Record<number, string> = {},
): { error: Record<string, unknown>; invalid: Record<string, boolean> } {
  const problems = e.problems ?? (e.param ? [{ param: e.param, message: e.message }] : []);
  return {
    error: {
      ...e,
      heading: headings[e.status] ?? errorHeading(e.status),
      showCode: e.status < 500,
      problems: e.problems,
    },
    invalid: Object.fromEntries(problems.map((p) => [p.param, true])),
  };
}

/** The view the template shows: the form as submitted (date defaulting to today), then the outcome. */
export function pageView(
  outcome: Outcome,
  form: Record<string, string>,
  scriptName: string,
  now: Date,
): Record<string, unknown> {
  const field = (name: string) => form[name] ?? '';
  const view: Record<string, unknown> = {
    title: 'Train departures',
    script: scriptName,
    form: {
      q: field('q'),
      stop: field('stop'),
      // Today where the data's dates are meant, when the answer says its zone; else the daemon's zone.
      date: form.date || today(now, outcome.kind === 'rows' ? outcome.dates?.zone : undefined),
      after: field('after'),
      route: field('route'),
      limit: field('limit'),
    },
    invalid: {},
  };
  if (outcome.kind === 'error') {
    Object.assign(view, errorView(outcome.error));
  } else if (outcome.kind === 'form') {
    if (outcome.prompt) view.prompt = outcome.prompt;
  } else if (outcome.kind === 'rows') {
    view.generation = outcome.generation;
    if (outcome.notice) view.notice = outcome.notice;
    const found = outcome.rows.length > 0;
    if (outcome.query === 'stops') {
      view.title = `Stations matching ${field('q')}`;
      view.stops = { q: field('q'), found, rows: rowsToObjects(outcome.fields, outcome.rows) };
    } else {
      view.title = `Departures from ${field('stop')}`;
      view.departures = {
        stop: field('stop'),
        date: field('date'),
        after: field('after'),
        route: field('route'),
        found,
        count: outcome.rows.length,
        one: outcome.rows.length === 1,
        columns: outcome.fields.map((f) => ({ label: COLUMN_LABELS[f.name] ?? f.name })),
        rows: outcome.rows.map((cells) => ({ cells })),
      };
    }
  }
  return view;
}
