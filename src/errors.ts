/**
 * The error catalog: every error a user can see — CGI pages, CLI messages, load errors, protocol errors — has a
 * stable code here, an HTTP status for the web path, and a message that says what is wrong and what to do.
 * Messages are templates; `{name}` is filled from the details given to roqError. docs/ERRORS.md lists them all.
 */

export interface CatalogEntry {
  status: number;
  text: string;
  /**
   * What a web visitor is told instead of `text`, when `text` holds what only the server's admin should see (run
   * directories, errno values, admin commands, a daemon's stack): one plain sentence without placeholders. The
   * full text goes to the web server's error log.
   */
  visitor?: string;
}

const UNAVAILABLE = 'The service is not available right now. Please try again in a few minutes.';
const FAILED =
  'Something went wrong on our side while answering. Please try again; if it keeps happening, tell the site owner.';

export const CATALOG = {
  ROQ_PARAM_MISSING: { status: 400, text: "parameter '{param}' is required: {expected}" },
  ROQ_PARAM_INVALID: { status: 400, text: "parameter '{param}' is invalid: expected {expected}, got '{value}'" },
  ROQ_PARAM_NO_SUCH_DAY: { status: 400, text: "parameter '{param}': {value} is not a day of the calendar ({detail})" },
  ROQ_PARAM_UNKNOWN: { status: 400, text: "unknown parameter '{param}' for query '{query}'" },
  ROQ_PARAM_REPEATED: { status: 400, text: "parameter '{param}' is given twice; give it once" },
  ROQ_QUERY_UNKNOWN: { status: 404, text: "unknown query '{query}'; known queries: {known}" },
  ROQ_FORMAT_UNKNOWN: { status: 400, text: "unknown format '{format}'; ask for format=html, json or csv" },
  ROQ_REQUEST_TOO_LARGE: { status: 413, text: 'the request is too large ({size}); at most {max} are accepted' },
  ROQ_METHOD: { status: 405, text: "method '{method}' is not allowed; use GET or POST" },
  ROQ_DAEMON_DOWN: {
    status: 503,
    text: 'the roq daemon is not running on {run} ({detail}); start it with `roq start --run {run}`',
    visitor: UNAVAILABLE,
  },
  ROQ_REQUESTS_UNTRUSTED: {
    status: 503,
    text: "{path} is not the daemon's: {detail}; refused. Stop the daemon, remove it and start the daemon again (docs/SECURITY.md)",
    visitor: UNAVAILABLE,
  },
  ROQ_DAEMON_TIMEOUT: {
    status: 503,
    text: 'the roq daemon on {run} did not answer within {ms} ms; try again shortly, or check `roq status --run {run}`',
    visitor: 'The service did not answer in time. Please try again in a moment.',
  },
  ROQ_DAEMON_BUSY: {
    status: 503,
    text: 'the roq daemon request queue on {run} is full; try again shortly',
    visitor: 'The service is very busy right now. Please try again in a moment.',
  },
  ROQ_PROTOCOL: {
    status: 502,
    text: 'the roq daemon sent a malformed answer ({detail}); check that the CGI program and the daemon are of the same release',
    visitor: FAILED,
  },
  ROQ_PROTOCOL_VERSION: {
    status: 400,
    text: "request of protocol '{version}' is not understood; this daemon speaks roq2 (and roq1 for clients of 0.1): update the client",
    visitor: FAILED,
  },
  ROQ_QUERY_FAILED: {
    status: 500,
    text: "query '{query}' failed inside the daemon: {detail}; the daemon serves on, see its log",
    visitor: FAILED,
  },
  ROQ_QUERY_DEADLINE: {
    status: 503,
    text: "query '{query}' ran past its deadline of {ms} ms and was stopped; the daemon serves on",
    visitor: 'Answering this took too long and was stopped. Please try again, perhaps with fewer results.',
  },
  ROQ_WORKER_DIED: {
    status: 500,
    text: "the worker running query '{query}' died ({detail}); it has been replaced, try again",
    visitor: FAILED,
  },
  ROQ_LOAD_FILE: { status: 500, text: '{file}: {detail}' },
  ROQ_LOAD_INTERNAL: {
    status: 500,
    text: 'loading {dir} failed unexpectedly ({detail}); the previous data serves on, and the daemon log has the details',
  },
  ROQ_LOAD_MISSING_FILE: {
    status: 500,
    text: '{file}: required table file is missing from {dir}; put the complete export (every required file) there, or point --data at the directory that holds it',
  },
  ROQ_LOAD_NO_DATA: {
    status: 500,
    text: '{dir}: the data directory holds none of the files to load ({files}); put the export there (an archive: unpack it into {dir}), or point --data at the directory that holds it',
  },
  ROQ_LOAD_MISSING_COLUMN: {
    status: 500,
    text: "{file}:1:1: required column '{column}' is missing from the header line",
  },
  ROQ_LOAD_VALUE: { status: 500, text: "{file}:{line}:{col}: column '{column}': {detail}" },
  ROQ_LOAD_CSV: { status: 500, text: '{file}:{line}:{col}: {detail}' },
  ROQ_LOAD_NO_DATA_DIR: {
    status: 500,
    text: '{dir}: no data directory there ({detail}); give the directory that holds the data with --data DIR (or $ROQ_DATA_DIR)',
  },
  ROQ_ALREADY_RUNNING: {
    status: 500,
    text: 'roq is already running on {run} as pid {pid}; stop it first with `roq stop --run {run}`, or use another run directory',
  },
  ROQ_NOT_RUNNING: { status: 500, text: 'roq is not running on {run}; start it with `roq start --run {run}`' },
  ROQ_START_FAILED: { status: 500, text: 'roq failed to start on {run}: {detail}' },
  ROQ_STOP_FAILED: {
    status: 500,
    text: 'roq on {run} (pid {pid}) did not stop within {ms} ms; look at {run}/daemon/roq.log, or end it with `kill -9 {pid}`',
  },
  ROQ_RELOAD_FAILED: { status: 500, text: 'the reload on {run} failed and the previous data serves on: {detail}' },
  ROQ_NOTHING_HELD: {
    status: 500,
    text: 'no generation is held on {run}, so there is nothing to swap in; load one first with `roq reload --hold --run {run}`',
  },
  ROQ_RELOAD_TIMEOUT: {
    status: 500,
    text: 'the reload on {run} did not finish within {ms} ms; it may still be loading: see `roq status --run {run}` and {run}/daemon/roq.log',
  },
  ROQ_TAKEOVER_FAILED: {
    status: 500,
    text: 'the new daemon on {run} could not take over from pid {pid}: {detail}; the old daemon serves on',
  },
  ROQ_RUN_DIR_MISSING: {
    status: 500,
    text: 'the run directory {run} does not exist; name the one the daemon was started with (--run or $ROQ_RUN_DIR), or start one there with `roq start --run {run}`',
  },
  ROQ_FILE_ACCESS: {
    status: 500,
    text: "cannot read {path} ({detail}); run this as the daemon's user (the run directory's owner) or as root",
    visitor: FAILED,
  },
  ROQ_UPGRADE_RUNNING: {
    status: 500,
    text: 'another `roq upgrade` is running on {run}; wait for it to finish (lock {lock})',
  },
  ROQ_BAD_REQUEST: {
    status: 400,
    text: 'the request could not be understood ({detail}); check that the client and the daemon are of the same release',
    visitor: FAILED,
  },
  ROQ_USAGE: { status: 400, text: '{detail}; see `roq {command} --help`' },
  ROQ_FORM_ENCODING: {
    status: 400,
    text: 'the form data could not be read ({detail}); send it as application/x-www-form-urlencoded',
  },
  ROQ_MEDIA_TYPE: {
    status: 415,
    text: "a form body of type '{type}' is not accepted; send application/x-www-form-urlencoded",
  },
  ROQ_BUILD_FAILED: { status: 500, text: 'building the app {app} failed: {detail}' },
  ROQ_CGI_INTERNAL: {
    status: 500,
    text: "the roq web front end failed unexpectedly ({detail}); the daemon's log has the details",
    visitor: FAILED,
  },
} as const satisfies Record<string, CatalogEntry>;

export type ErrorCode = keyof typeof CATALOG;

export class RoqError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: Record<string, string | number>;
  /** `message` and `status`: as another process or thread made them (fromWire); by default, the catalog's. */
  constructor(code: ErrorCode, details: Record<string, string | number> = {}, message?: string, status?: number) {
    super(message ?? formatMessage(code, details));
    this.name = 'RoqError';
    this.code = code;
    this.status = status ?? CATALOG[code].status;
    this.details = details;
  }
  /** The parameter at fault, when the error is about one. */
  get param(): string | undefined {
    const p = this.details.param;
    return p === undefined ? undefined : String(p);
  }
}

/**
 * An error as plain data, the one form in which errors cross a thread or process boundary: a worker's or the
 * dispatcher's error answer (its code, message and parameter become the answer's lines), the load thread's
 * result, the detached daemon's readiness report. `toWire` on one side, `fromWire` on the other.
 */
export interface WireError {
  code: string;
  message: string;
  param?: string;
  details?: Record<string, string | number>;
}

export function toWire(e: RoqError): WireError {
  return { code: e.code, message: e.message, ...(e.param === undefined ? {} : { param: e.param }), details: e.details };
}

/**
 * The RoqError a WireError stands for: its code and status, its parameter, and the message as the sender wrote it
 * (it had the details). A code this release does not know (a newer peer's) is for `unknown` to turn into one.
 */
export function fromWire(w: WireError, unknown: (w: WireError) => RoqError): RoqError {
  if (!isErrorCode(w.code)) return unknown(w);
  return new RoqError(w.code, w.details ?? (w.param === undefined ? {} : { param: w.param }), w.message);
}

export function formatMessage(code: ErrorCode, details: Record<string, string | number>): string {
  return CATALOG[code].text.replace(/\{(\w+)\}/g, (_, k: string) => (k in details ? String(details[k]) : `{${k}}`));
}

/** The names in braces in a catalog text: the details its message needs. */
type Placeholders<T extends string> = T extends `${string}{${infer K}}${infer Rest}` ? K | Placeholders<Rest> : never;

/**
 * The details of error `C`, typed from its catalog text, so a placeholder left out or misspelt is a type error,
 * not a `{name}` in a user's message. `param` may always be given: it names the parameter at fault.
 */
export type ErrorDetails<C extends ErrorCode> = {
  [K in Placeholders<(typeof CATALOG)[C]['text']>]: string | number;
} & { param?: string };

export function roqError<C extends ErrorCode>(
  code: C,
  ...details: Placeholders<(typeof CATALOG)[C]['text']> extends never
    ? [details?: { param?: string }]
    : [details: ErrorDetails<C>]
): RoqError {
  return new RoqError(code, (details[0] ?? {}) as Record<string, string | number>);
}

/**
 * The message for a web visitor: the catalog's plain sentence when the full one is for the admin only. A code
 * this release does not know (a newer daemon's) could say anything, so it gets the plain failure sentence.
 */
export function visitorMessage(code: string, message: string): string {
  if (!isErrorCode(code)) return FAILED;
  return (CATALOG[code] as CatalogEntry).visitor ?? message;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(CATALOG, code);
}
