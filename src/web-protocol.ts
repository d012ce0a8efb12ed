/**
 * Version 3 of the wire protocol (protocol.ts has the request line and the rest): the web request's form, the CGI
 * request's parts as the relay (src/relay/relay.c) forwards them, and the web answer a worker writes back, framed by
 * length and sealed by a digest keyed from the request's proof, with the Node client's incremental reader of it.
 * docs/PROTOCOL.md describes the same bytes for humans; the relay mirrors them in C.
 */

import { siphash24 } from './siphash.js';
import { utf8 } from './sysio.js';

/** The web answer's version (its first line, `roq=3`), that of the web request line (protocol.ts: WEB_MAGIC). */
export const WEB_VERSION = 3;
/**
 * The largest CGI response a web answer carries (its `length=`): the relay reads a whole answer into a buffer of
 * about this size before it writes a byte. A response the daemon renders larger is answered with an error page.
 */
export const MAX_WEB_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * A CGI request as the relay forwards it: each field is the CGI meta-variable's value ('' when unset), `body` the
 * POST body as read (at most what fits the line), `contentLength` CONTENT_LENGTH as the web server gave it, so the
 * daemon can tell a body cut short from a whole one.
 */
export interface WebFields {
  method: string;
  script: string;
  path: string;
  query: string;
  contentType: string;
  contentLength: string;
  body: string;
  ifNoneMatch: string;
  now: string;
}

/**
 * The wire names of the web form's fields, in the order the relay writes them (each omitted when empty): m
 * REQUEST_METHOD, s SCRIPT_NAME, p PATH_INFO, q QUERY_STRING, t CONTENT_TYPE, c CONTENT_LENGTH, b the body,
 * i HTTP_IF_NONE_MATCH, n ROQ_NOW (Apache's SetEnv). The daemon reads them in any order and ignores names it does
 * not know, so a later relay may add fields.
 */
export const WEB_FIELDS: readonly (readonly [string, keyof WebFields])[] = [
  ['m', 'method'],
  ['s', 'script'],
  ['p', 'path'],
  ['q', 'query'],
  ['t', 'contentType'],
  ['c', 'contentLength'],
  ['b', 'body'],
  ['i', 'ifNoneMatch'],
  ['n', 'now'],
];

export function emptyWebFields(): WebFields {
  return {
    method: '',
    script: '',
    path: '',
    query: '',
    contentType: '',
    contentLength: '',
    body: '',
    ifNoneMatch: '',
    now: '',
  };
}

/** Bytes a web form value carries as they are; every other byte is written %XX (upper-case hex). */
const WEB_UNRESERVED = /^[A-Za-z0-9._~-]$/;

function percentEncode(value: string): string {
  let out = '';
  for (const byte of utf8(value)) {
    const c = String.fromCharCode(byte);
    out += WEB_UNRESERVED.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The `<form>` of a web request line, as the relay writes it. */
export function encodeWebForm(web: WebFields): string {
  const pairs: string[] = [];
  for (const [name, key] of WEB_FIELDS) if (web[key] !== '') pairs.push(`${name}=${percentEncode(web[key])}`);
  return pairs.join('&');
}

const WEB_VALUE = /^(?:[A-Za-z0-9._~-]|%[0-9A-Fa-f]{2})*$/;
const WEB_NAMES: ReadonlyMap<string, keyof WebFields> = new Map(WEB_FIELDS);

/**
 * %XX-decodes a web form value into text. The bytes are whatever the web server passed (a query string may carry
 * bytes that are not UTF-8): those decode to U+FFFD, as the environment of a Node CGI program shows them.
 */
function percentDecode(value: string): string {
  if (value.indexOf('%') < 0) return value;
  try {
    return decodeURIComponent(value);
  } catch {
    const bytes: number[] = [];
    for (let i = 0; i < value.length; i++)
      bytes.push(value[i] === '%' ? parseInt(value.slice(i + 1, (i += 2) + 1), 16) : value.charCodeAt(i));
    return new TextDecoder().decode(new Uint8Array(bytes));
  }
}

/** Parses a web request's `<form>`; undefined when it breaks the grammar (a field twice counts the first). */
export function parseWebForm(form: string): WebFields | undefined {
  const web = emptyWebFields();
  if (form === '') return web;
  const seen = new Set<string>();
  for (const pair of form.split('&')) {
    const eq = pair.indexOf('=');
    if (eq < 1 || !WEB_VALUE.test(pair.slice(eq + 1))) return undefined;
    const key = WEB_NAMES.get(pair.slice(0, eq));
    if (key === undefined || seen.has(key)) continue;
    seen.add(key);
    web[key] = percentDecode(pair.slice(eq + 1));
  }
  return web;
}

/**
 * The digest key of a web answer: the proof's bytes folded into 16 by XOR (byte i of the proof into key byte
 * i mod 16). A proof has at least 16 characters, so every key byte depends on it.
 */
export function webAnswerKey(proof: string): Uint8Array {
  const key = new Uint8Array(16);
  for (let i = 0; i < proof.length; i++) key[i % 16]! ^= proof.charCodeAt(i);
  return key;
}

const WEB_ANSWER_HEAD = `roq=${WEB_VERSION}\n`;

/**
 * A web answer, ready for one write into the relay's FIFO:
 *
 *     roq=3\nproof=<proof>\nlength=<N>\n<the N bytes of the CGI response>end=<digest>\n
 *
 * `<digest>` is SipHash-2-4 (siphash.ts) of the N bytes, keyed with webAnswerKey(proof), as 16 lower-case hex
 * digits. The relay writes nothing of an answer until all of it is in and proof, length and digest check out.
 * Throws a RangeError for a response longer than MAX_WEB_RESPONSE_BYTES, which no relay would take.
 */
export function encodeWebAnswer(proof: string, response: Uint8Array): Uint8Array {
  if (response.length > MAX_WEB_RESPONSE_BYTES)
    throw new RangeError(`a web answer carries at most ${MAX_WEB_RESPONSE_BYTES} bytes, not ${response.length}`);
  const head = utf8(`${WEB_ANSWER_HEAD}proof=${proof}\nlength=${response.length}\n`);
  const end = utf8(`end=${siphash24(webAnswerKey(proof), response)}\n`);
  const out = new Uint8Array(head.length + response.length + end.length);
  out.set(head, 0);
  out.set(response, head.length);
  out.set(end, head.length + response.length);
  return out;
}

const HEAD_BYTES = utf8(WEB_ANSWER_HEAD);
const LENGTH_RE = /^length=(0|[1-9][0-9]{0,7})$/;
const END_RE = /^end=([0-9a-f]{16})$/;
/** `end=` + 16 hex digits + '\n' */
const END_BYTES = 21;

function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The line of `bytes` starting at `at` (without '\n') and the index after it; undefined while it is incomplete. */
function lineAt(bytes: Uint8Array, at: number): { text: string; next: number } | undefined {
  const nl = bytes.indexOf(10, at);
  if (nl < 0) return undefined;
  return { text: new TextDecoder().decode(bytes.subarray(at, nl)), next: nl + 1 };
}

/**
 * Checks the candidate answer starting at `at` (a `roq=3\n`): 'wait' until enough bytes are in, 'reject' when it
 * is not this request's proven answer, else the response's bounds.
 */
function webCandidate(bytes: Uint8Array, at: number, proof: string): 'wait' | 'reject' | [number, number] {
  const proofLine = lineAt(bytes, at + HEAD_BYTES.length);
  if (!proofLine) return 'wait';
  if (proofLine.text !== `proof=${proof}`) return 'reject';
  const lengthLine = lineAt(bytes, proofLine.next);
  if (!lengthLine) return 'wait';
  const m = LENGTH_RE.exec(lengthLine.text);
  const length = m ? Number(m[1]) : -1;
  if (length < 0 || length > MAX_WEB_RESPONSE_BYTES) return 'reject';
  const start = lengthLine.next;
  if (bytes.length < start + length + END_BYTES) return 'wait';
  const response = bytes.subarray(start, start + length);
  const end = END_RE.exec(new TextDecoder().decode(bytes.subarray(start + length, start + length + END_BYTES - 1)));
  if (!end || bytes[start + length + END_BYTES - 1] !== 10) return 'reject';
  return end[1] === siphash24(webAnswerKey(proof), response) ? [start, start + length] : 'reject';
}

/**
 * Incremental reader of a web answer (the Node client's side; the relay does the same in C): give it bytes as
 * they arrive; `push` returns true once a proven answer is complete, and `result()` is its CGI response. Anything
 * that is not this request's proven answer — another writer's bytes, a candidate with a wrong proof, length or
 * digest — is skipped by looking for the next `roq=3\n` after the start of the rejected candidate.
 */
export function webAnswerParser(proof: string) {
  let buffered = new Uint8Array(0);
  let scan = 0;
  let rejected = 0;
  let response: Uint8Array | undefined;
  return {
    push(chunk: Uint8Array): boolean {
      if (response) return true;
      const joined = new Uint8Array(buffered.length + chunk.length);
      joined.set(buffered, 0);
      joined.set(chunk, buffered.length);
      buffered = joined;
      for (;;) {
        const at = indexOfBytes(buffered, HEAD_BYTES, scan);
        if (at < 0) return false;
        scan = at;
        const verdict = webCandidate(buffered, at, proof);
        if (verdict === 'wait') return false;
        if (verdict !== 'reject') {
          response = buffered.slice(verdict[0], verdict[1]);
          return true;
        }
        rejected++;
        scan = at + 1;
      }
    },
    /** Candidates skipped because they were not this request's proven answer. */
    get rejected() {
      return rejected;
    },
    result(): Uint8Array {
      if (!response) throw new Error('web answer incomplete');
      return response;
    },
  };
}
