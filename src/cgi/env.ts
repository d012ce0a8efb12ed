/**
 * The CGI environment (RFC 3875): the request method, the form fields from QUERY_STRING and from a POSTed
 * urlencoded body, and roq's own settings that the web server passes in (Apache's SetEnv).
 */
import { sys } from '../sysio.js';
import { decodeParams } from '../protocol.js';
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
   * ROQ_NOW: the instant the board takes as "now" (ISO 8601, e.g. 2026-11-02T07:58:00-05:00), in seconds since
   * the epoch; absent: the daemon's clock. For tests and demos of a feed whose dates are past: only the web
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
 * ROQ_REQUEST_TOO_LARGE, ROQ_MEDIA_TYPE or ROQ_FORM_ENCODING; never reads stdin for GET or HEAD.
 */
export async function readForm(
  env: Record<string, string | undefined>,
  method: Method,
  timeoutMs: number,
  body = readBody,
): Promise<Record<string, string>> {
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
  return Object.assign(fields, decodeForm(await body(length, timeoutMs), 'request body'));
}

/**
 * Reads exactly `length` bytes of the body from stdin (fd 0). The web server sends CONTENT_LENGTH bytes and may
 * keep the pipe open, so this never waits for EOF; an early EOF, or a body that has not arrived within timeoutMs,
 * is a ROQ_FORM_ENCODING error. On timeout the read stays pending; the caller answers and exits anyway.
 */
export function readBody(length: number, timeoutMs: number): Promise<string> {
  return sys().pollIn
    ? Promise.resolve().then(() => readBodyPolling(length, timeoutMs))
    : readBodyAsync(length, timeoutMs);
}

const bodyError = (detail: string) => roqError('ROQ_FORM_ENCODING', { detail });

/** Bun: poll(2) and read(2) on fd 0 until `length` bytes are in or the deadline passes. */
function readBodyPolling(length: number, timeoutMs: number): string {
  const s = sys();
  const buf = new Uint8Array(length); // not Buffer, see sysio.utf8
  const deadline = Date.now() + timeoutMs;
  let got = 0;
  while (got < length) {
    if (!s.pollIn!(0, deadline - Date.now())) throw bodyError(`the body did not arrive within ${timeoutMs} ms`);
    let n: number;
    try {
      n = s.read(0, buf, got, length - got);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') continue;
      throw bodyError(`stdin: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (n === 0) throw bodyError(`the body ended after ${got} of ${length} bytes`);
    got += n;
  }
  return new TextDecoder().decode(buf);
}

/** Node: reads on the thread pool, so that a timer can still give up on a body that never comes. */
function readBodyAsync(length: number, timeoutMs: number): Promise<string> {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  const buf = Buffer.alloc(length);
  return new Promise((resolve, reject) => {
    let got = 0;
    let settled = false;
    const fail = (detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      reject(bodyError(detail));
    };
    const timer = setTimeout(() => fail(`the body did not arrive within ${timeoutMs} ms`), timeoutMs);
    const more = () =>
      fs.read(0, buf, got, length - got, null, (err, n) => {
        if (settled) return;
        if (err?.code === 'EAGAIN') return void setTimeout(more, 5); // a non-blocking pipe (Node's own spawn)
        if (err) return fail(`stdin: ${err.code ?? err.message}`);
        if (n === 0) return fail(`the body ended after ${got} of ${length} bytes`);
        got += n;
        if (got < length) return more();
        settled = true;
        clearTimeout(timer);
        resolve(buf.toString('utf8'));
      });
    more();
  });
}
