/**
 * App page modules: an app's own pages, beyond the generic front end. A page module is `templates/NAME.ts` beside
 * `templates/NAME.html`, exporting `page` (an AppPage). It names the queries whose HTML and JSON it answers ('' for
 * the app's home page); for those, the engine hands it the request, lets it ask queries (validated as every
 * query is) and choose what to show — rows, a redirect, the bare form, an error — and renders the view it builds
 * with its template. JSON is the engine's `{query, rows}` of the outcome, CSV always the generic front end's. The
 * default app's templates/*.ts are the worked example (docs/SCHEMAS.md, "Page modules").
 */
import { APP_INFO } from '../app/app.js';
import { APP_PAGES, APP_TEMPLATES } from '../app/pages.js';
import { QUERY_SPECS } from '../app/queries.js';
import { datesNotice } from '../params.js';
import { askOutcome, datesHeader, headersFor, type Ask, type CgiResponse, type Outcome } from './outcome.js';
import { appPartials, compiledPage } from './partials.js';
import type { View } from './template.js';

export type { Outcome, PageError } from './outcome.js';
export type { View } from './template.js';

/** A request as a page module sees it. */
export interface PageRequest {
  /** The form's fields (query string, or a POST's body), with a query the path names as `query`. */
  readonly form: Readonly<Record<string, string>>;
  /** Whether the client asked for JSON (format=json): answer with the outcome only, no view. */
  readonly json: boolean;
  /** The program's URL path (SCRIPT_NAME): every link starts with it. */
  readonly script: string;
  /** The instant the request is answered at, in seconds since the epoch, when the test environment sets one (ROQ_NOW). */
  readonly now?: number;
}

/**
 * How a page asks a query: the parameters are checked against the query's schema first (every one at fault
 * becomes one error outcome, and no query runs); an answer of no rows for a date outside the data's dates carries
 * a notice saying so.
 */
export type PageAsk = (query: string, params: Record<string, string>) => Outcome;

/** What a page shows for an outcome: its template's view, and a status where it is not the outcome's own. */
export interface PageView {
  view: View;
  status?: number;
}

export interface AppPage {
  /** The queries whose HTML and JSON this page answers; '' is the app's home page (the program's own URL). */
  readonly answers: readonly string[];
  /** The outcome of a request: usually `ask(query, params)`; a redirect; `{ kind: 'form' }` for the bare form. */
  answer(request: PageRequest, ask: PageAsk): Outcome;
  /** The view of an outcome for the page's template (errors included: a page words them for its visitors). */
  view(outcome: Outcome, request: PageRequest): PageView;
}

/** A page module as the build lists it: its page and the template it fills. */
export interface AppPageEntry {
  template: string;
  page: AppPage;
}

/**
 * The page module answering `query` ('' for the home page) in HTML or JSON, if any. A page listed first wins a
 * query two pages name (the build lists them by template name).
 */
export function pageFor(query: string): AppPageEntry | undefined {
  return APP_PAGES.find((p) => p.page.answers.includes(query));
}

/** A page's PageAsk on the request's generation. */
export function pageAsk(ask: Ask): PageAsk {
  return (query, params) => {
    const outcome = askOutcome(query, params, ask);
    if (outcome.kind !== 'rows' || outcome.rows.length > 0) return outcome;
    const notice = datesNotice(QUERY_SPECS[query]!.params, params, outcome.dates, APP_INFO.dataNoun);
    return notice ? { ...outcome, notice } : outcome;
  };
}

/** The HTML of an outcome on a page: a redirect is a 303; anything else the page's template filled with its view. */
export function renderPage(entry: AppPageEntry, outcome: Outcome, request: PageRequest): CgiResponse {
  if (outcome.kind === 'redirect')
    return {
      status: 303,
      headers: [['Location', request.script + outcome.location], ...headersFor(303, 'text/plain; charset=utf-8')],
      body: 'See Other\n',
    };
  const shown = entry.page.view(outcome, request);
  const status = shown.status ?? (outcome.kind === 'error' ? outcome.error.status : 200);
  return {
    status,
    headers: [...headersFor(status, 'text/html; charset=utf-8'), ...datesHeader(outcome)],
    body: renderAppTemplate(entry.template, shown.view),
  };
}

/** Fills the app's templates/NAME.html (compiled once, with the app's partials and roq's) with `view`. */
export function renderAppTemplate(name: string, view: View): string {
  const file = `templates/${name}.html`;
  return compiledPage(`app:${file}`, file, APP_TEMPLATES[name]!, () => appPartials(APP_TEMPLATES))(view);
}
