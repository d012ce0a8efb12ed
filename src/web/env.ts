/**
 * The CGI environment (RFC 3875): the request method, the form fields from QUERY_STRING and from a POSTed
 * urlencoded body, and roq's own settings that the web server passes in (Apache's SetEnv). In the daemon the
 * environment is the one the relay forwarded (web.ts makes it from the request line), and the body came with it.
 */
import { decodeParams } from '../protocol.js';
import { emptyWebFields, type WebFields } from '../web-protocol.js';
import { roqError } from '../errors.js';

/** Largest form (query string or body) the CGI program accepts; every real form is far smaller. */
export const MAX_FORM_BYTES = 16 * 1024;
export const DEFAULT_RUN_DIR = '/run/roq';
export const DEFAULT_TIMEOUT_MS = 3000;

export type Method = 'GET' | 'HEAD' | 'POST';

export interface CgiSettings {
  runDir: string;
  /** How long to wait for the daemon's answer, and separately for the request body. */
  timeoutMs: number;
  /** SCRIPT_NAME: where the page's forms submit to. */
  scriptName: string;
  /**
   * ROQ_NOW: the instant pages take as "now" (ISO 8601, e.g. 2026-11-02T07:58:00-05:00), in seconds since
   * the epoch; absent: the daemon's clock. For tests and demos of data whose dates are past: only the web
   * server's configuration (SetEnv) can set it, never a visitor.
   */
  now?: number;
}

function instant(text: string | undefined): number | undefined {
  const ms = text ? Date.parse(text) : NaN;
  return Number.isFinite(ms) && ms >= 0 ? Math.floor(ms / 1000) : undefined;
}

export function cgiSettings(env: Record<string, string | undefined>): CgiSettings {
  const ms = Number(env.ROQ_CGI_TIMEOUT_MS);
  return {
    runDir: env.ROQ_RUN_DIR || DEFAULT_RUN_DIR,
    timeoutMs: Number.isInteger(ms) && ms > 0 && ms <= 60_000 ? ms : DEFAULT_TIMEOUT_MS,
    scriptName: env.SCRIPT_NAME ?? '',
    now: instant(env.ROQ_NOW),
  };
}

/** The request method, or a ROQ_METHOD error (405) for anything but GET, HEAD and POST. */
export function requestMethod(env: Record<string, string | undefined>): Method {
  const m = env.REQUEST_METHOD ?? 'GET';
  if (m === 'GET' || m === 'HEAD' || m === 'POST') return m;
  throw roqError('ROQ_METHOD', { method: m.slice(0, 20) });
}

/** More fields than any form of the page has, many times over; past it the request is refused (413). */
export const MAX_FORM_FIELDS = 64;

function decodeForm(text: string, where: string): Record<string, string> {
  let fields = 1;
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) fields++;
  if (fields > MAX_FORM_FIELDS)
    throw roqError('ROQ_REQUEST_TOO_LARGE', { size: `${fields} fields`, max: `${MAX_FORM_FIELDS} fields` });
  try {
    return decodeParams(text);
  } catch {
    // Either an escape that is not % and two hex digits, or well-formed escapes of bytes that are not UTF-8 (%FF).
    const broken = /%(?![0-9A-Fa-f]{2})/.test(text);
    throw roqError('ROQ_FORM_ENCODING', {
      detail: broken ? `a broken %-escape in the ${where}` : `the ${where} has %-escaped bytes that are not UTF-8 text`,
    });
  }
}

/**
 * The form fields of the request: QUERY_STRING's, and for POST the body's, which win over the query string's on a
 * name both have. Within each, the first occurrence of a name wins (as decodeParams does). Throws ROQ_METHOD,
 * ROQ_REQUEST_TOO_LARGE, ROQ_MEDIA_TYPE or ROQ_FORM_ENCODING (also for a body shorter than CONTENT_LENGTH: the
 * client hung up, or the relay gave up waiting for the rest). The body is ignored for GET and HEAD.
 */
export function readForm(
  env: Record<string, string | undefined>,
  method: Method,
  body: string,
): Record<string, string> {
  const query = env.QUERY_STRING ?? '';
  if (query.length > MAX_FORM_BYTES)
    throw roqError('ROQ_REQUEST_TOO_LARGE', { size: `${query.length} bytes`, max: `${MAX_FORM_BYTES} bytes` });
  const fields = decodeForm(query, 'query string');
  if (method !== 'POST') return fields;
  const length = env.CONTENT_LENGTH ? Number(env.CONTENT_LENGTH) : 0;
  if (!Number.isSafeInteger(length) || length < 0)
    throw roqError('ROQ_FORM_ENCODING', {
      detail: `CONTENT_LENGTH '${String(env.CONTENT_LENGTH).slice(0, 20)}' is not a byte count`,
    });
  if (length > MAX_FORM_BYTES)
    throw roqError('ROQ_REQUEST_TOO_LARGE', { size: `${length} bytes`, max: `${MAX_FORM_BYTES} bytes` });
  if (length === 0) return fields;
  const type = (env.CONTENT_TYPE ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded')
    throw roqError('ROQ_MEDIA_TYPE', { type: type.slice(0, 60) || 'none' });
  const got = Buffer.byteLength(body);
  if (got < length) throw roqError('ROQ_FORM_ENCODING', { detail: `the body ended after ${got} of ${length} bytes` });
  return Object.assign(fields, decodeForm(body, 'request body'));
}

/**
 * The web request a relay forwards for a CGI environment and the body it read (relay.c and main.ts alike): the
 * meta-variables the daemon's page needs, and for POST the body with CONTENT_TYPE and CONTENT_LENGTH as given.
 */
export function webFieldsOf(env: Record<string, string | undefined>, body: string): WebFields {
  const post = env.REQUEST_METHOD === 'POST';
  return {
    ...emptyWebFields(),
    method: env.REQUEST_METHOD ?? '',
    script: env.SCRIPT_NAME ?? '',
    path: env.PATH_INFO ?? '',
    query: env.QUERY_STRING ?? '',
    contentType: post ? (env.CONTENT_TYPE ?? '') : '',
    contentLength: post ? (env.CONTENT_LENGTH ?? '') : '',
    body: post ? body : '',
    ifNoneMatch: env.HTTP_IF_NONE_MATCH ?? '',
    now: env.ROQ_NOW ?? '',
  };
}
