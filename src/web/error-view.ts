/**
 * An error as every page shows it, the generic front end's and an app page module's alike: a heading by status,
 * the message (or one line per field at fault), and the fields to mark. Plain data in, part of a view out.
 */
import type { PageError } from './outcome.js';

const HEADINGS: Record<number, string> = {
  400: 'Please check the form',
  404: 'No such query',
  405: 'This page only answers GET and POST',
  413: 'The request is too large',
  415: 'The form could not be read',
  503: 'This page cannot be shown right now',
};

/**
 * The heading of an error page by its status, for every page of every app; `unavailable` is a page's own words
 * for a 503.
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
  /** A page's own words for some statuses; the rest are errorHeading's. */
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
