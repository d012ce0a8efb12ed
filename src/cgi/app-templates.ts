/**
 * The app's own pages, as the CGI program is built for one app. This file is the default app's (roq's project
 * root): its home page is the departure board (page.ts, templates/page.html), which also shows the answers of
 * the queries in BOARD_QUERIES. An app's build (scripts/build.js --app) replaces this module with one holding
 * the app's templates/<query>.html texts, an empty BOARD_QUERIES and the generated index as home.
 */

/**
 * Query name → the app's template for its page; queries without one get the generic page (front.html). The app's
 * partials come in the same record under `_NAME` (templates/_NAME.html; see partials.appPartials): no query's name
 * starts with `_`.
 */
export const APP_TEMPLATES: Record<string, string> = {};

/** The queries the departure board (page.ts) answers as pages and JSON; their CSV is the generic one. */
export const BOARD_QUERIES: readonly string[] = ['board', 'departures', 'network', 'stops'];

/** What the app is called on its pages. */
export const APP_TITLE = 'Train departures';
