/**
 * The raw departures page (`?query=departures&stop=…`): the departures query's rows as a table, with the search
 * form, for readers who want the timetable's own fields rather than the board. A page module (docs/SCHEMAS.md,
 * "Page modules"): it answers the departures query in HTML and JSON and fills templates/departures.html.
 */
import { formParams, querySpecOf } from 'roq/params.js';
import { rowsToObjects } from 'roq/protocol.js';
import { today } from 'roq/dates.js';
import { errorView } from 'roq/web/error-view.js';
import type { AppPage, Outcome, PageRequest } from 'roq/web/pages.js';
import { QUERY_SPECS } from '../.roq/generated/queries.js';

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

/** The view the template shows: the form as submitted (date defaulting to today), then the outcome. */
export function pageView(
  outcome: Outcome,
  form: Readonly<Record<string, string>>,
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

/** The instant a request is answered at: ROQ_NOW's in tests, else the clock's. */
export function requestDate(request: PageRequest): Date {
  return request.now === undefined ? new Date() : new Date(request.now * 1000);
}

export const page: AppPage = {
  answers: ['departures'],
  answer: (request, ask) => ask('departures', formParams(querySpecOf(QUERY_SPECS, 'departures'), request.form)),
  view: (outcome, request) => ({ view: pageView(outcome, request.form, request.script, requestDate(request)) }),
};
