/**
 * HTTP caching of answers: what makes an answer cacheable by browsers and by caches in front of several nodes
 * (Apache mod_cache, Varnish, a CDN). Every answer the daemon gave carries `X-Roq-Generation: <content hash>`;
 * a 200 answer gets a strong ETag and Cache-Control from its query's schema (`maxAge` seconds; absent: `no-cache`,
 * stored but checked every time), and a request whose If-None-Match names that ETag gets 304 with no body.
 *
 * The ETag is the generation's content hash (equal on every node holding the same files) and a digest of the
 * format, the query, its parameters as validated and the body, so `after=8:00` and `after=08:00:00` share one,
 * while JSON and HTML differ. The body is part of the digest because a strong ETag promises the same bytes, and
 * some answers depend on more than the data and the parameters: an HTML page echoes the form as typed and
 * defaults fields to today or now, and a query may take the current time.
 */
import { RoqError } from '../errors.js';
import { createHash } from 'node:crypto';
import { QUERY_SPECS } from '../app/queries.js';
import { formParams, parseParams } from '../params.js';
import type { CgiResponse, Outcome } from './outcome.js';

export const GENERATION_HEADER = 'X-Roq-Generation';

/**
 * 64 bits of the text's MD5 (node:crypto, native). Not a security measure: a strong ETag only has to tell a URL's
 * answers apart.
 */
function digest(text: string): string {
  return createHash('md5').update(text).digest('hex').slice(0, 16);
}

/**
 * The answered query's parameters in the form, as validated, defaults filled in, in the schema's order:
 * `stop=102&date=20261102&…`; empty when they do not validate as they stand (a page may add parameters of its
 * own, such as the current time): the body digest then tells answers apart.
 */
export function canonicalParams(query: string, form: Record<string, string>): string {
  try {
    const spec = QUERY_SPECS[query];
    if (!spec) return '';
    const values = parseParams(query, spec.params, formParams(spec, form));
    return Object.entries(values)
      .map(([k, v]) => `${k}=${typeof v === 'number' && Number.isNaN(v) ? '' : String(v)}`)
      .join('&');
  } catch (e) {
    // A request that does not validate is answered with its error page; anything else is a bug to be seen.
    if (e instanceof RoqError) return '';
    throw e;
  }
}

export function etagFor(hash: string, query: string, canonical: string, json: boolean, body: string): string {
  return `"${hash.slice(0, 16)}-${digest(`${json ? 'json' : 'html'}\0${query}\0${canonical}\0${body}`)}"`;
}

/** Whether an If-None-Match header value names `etag` (weak comparison, as RFC 9110 says for this header). */
export function matchesIfNoneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return header.split(',').some((t) => {
    const tag = t.trim();
    return tag === '*' || tag === etag || tag === `W/${etag}`;
  });
}

// Plain loops, no callbacks or destructuring: the CGI program runs this once per process, in the interpreter.
function setHeader(headers: [string, string][], name: string, value: string): void {
  const lower = name.toLowerCase();
  for (let i = 0; i < headers.length; i++)
    if (headers[i]![0].toLowerCase() === lower) return void (headers[i] = [name, value]);
  headers.push([name, value]);
}

/**
 * Adds the generation, ETag and Cache-Control to the response of an answered query, and makes it a 304 when the
 * client already has it. Anything else (the bare form, errors) is returned as it is: not cacheable.
 *
 * The answer to a POST gets `Cache-Control: private, no-store` and no ETag: its fields come from the body, which
 * win over the URL's (env.readForm) and which no cache keys on, so a shared cache that stored it would serve it
 * under the URL of another request (docs/SECURITY.md).
 */
export function withHttpCaching(
  response: CgiResponse,
  outcome: Outcome,
  form: Record<string, string>,
  json: boolean,
  ifNoneMatch: string | undefined,
  post = false,
): CgiResponse {
  if (outcome.kind !== 'rows' || !outcome.hash || response.status !== 200) return response;
  const headers = response.headers.slice();
  if (post) {
    setHeader(headers, GENERATION_HEADER, outcome.hash);
    setHeader(headers, 'Cache-Control', 'private, no-store');
    return { ...response, headers };
  }
  const etag = etagFor(outcome.hash, outcome.query, canonicalParams(outcome.query, form), json, response.body);
  const maxAge = QUERY_SPECS[outcome.query]?.maxAge;
  setHeader(headers, GENERATION_HEADER, outcome.hash);
  setHeader(headers, 'ETag', etag);
  setHeader(headers, 'Cache-Control', maxAge ? `public, max-age=${maxAge}` : 'no-cache');
  if (matchesIfNoneMatch(ifNoneMatch, etag)) {
    return { status: 304, headers: headers.filter(([n]) => n.toLowerCase() !== 'content-type'), body: '' };
  }
  return { ...response, headers };
}
