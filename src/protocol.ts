/**
 * The wire protocol between clients (CGI program, CLI) and the daemon: the only module that knows the bytes on
 * REQUESTS and on response FIFOs. Both sides import it; docs/PROTOCOL.md describes the same format for humans.
 *
 * Request: one line, at most PIPE_BUF (4096) bytes including its '\n', so that concurrent writers into the one
 * REQUESTS FIFO never interleave (POSIX makes such writes atomic):
 *
 *     roq2 <pid> <token> <proof> <query> <params>\n
 *
 *  - pid: the client's process id, or -1 for a pseudo-request the daemon writes to itself (reload, stop);
 *  - token: 1–32 of [A-Za-z0-9], chosen at random by the client; its answer FIFO is <run>/resp.<pid>.<token>. The
 *    name is not a secret (anyone who can list the directory sees it); it is random so nobody can make it first;
 *  - proof: 16–64 of [A-Za-z0-9], a secret chosen at random by the client. It travels only in the request line
 *    (REQUESTS is readable by the daemon alone) and the daemon echoes it in the answer: an answer without it was
 *    not written by the daemon, and the client ignores it (see answerParser, answer-parser.ts);
 *  - query: the query name ([a-z][a-z0-9_]*), or for pid -1 the control word, or `.ping` (PING_QUERY): a health
 *    check that the daemon answers itself, running no query (its name can never be a query's);
 *  - params: application/x-www-form-urlencoded, possibly empty.
 *
 * Version 1 (`roq1 <pid> <token> <query> <params>`, no proof) is still answered, for clients of 0.1 during an
 * upgrade, while the daemon's `--roq1` is on (the default until 0.3; 0.4 drops it); those clients cannot tell a
 * forged answer from the daemon's (docs/SECURITY.md).
 *
 * Version 3 is the web request, which the relay (the per-request CGI program, src/relay/relay.c) sends and a worker
 * answers with the whole CGI response, rendered in the daemon:
 *
 *     roq3 <pid> <token> <proof> .web <form>\n
 *
 * with <form> the CGI request's parts as `k=v` pairs (see WEB_FIELDS), and the answer framed by length and sealed
 * by a digest keyed from the proof (see encodeWebAnswer); both are in web-protocol.ts. Queries (the CLI, tools, a
 * previous release's CGI program) stay version 2.
 *
 * Every request starts with `roq<digits> ` and is written whole: after garbage without a line end (a writer killed
 * mid-write, or a hostile one), the next request is found inside the line by its prefix (findRequest).
 *
 * Answer: `name=value` lines into the client's FIFO, in this order: `roq=2`, `proof=…`, `status=…`, for errors `code=`,
 * `message=` and optionally `param=`, for ok `generation=`, `hash=` (the generation's content hash; since 0.2, and
 * clients ignore lines they do not know) and `fields=` then one `row=` line per row, and finally
 * `end=<rows>`. Values are escaped (see escapeValue), so every line is one line and every row value is one
 * comma-separated cell. The end line makes the answer self-delimiting: the client never needs EOF, which matters
 * because it holds its FIFO open read-write.
 */

import { roqError, type RoqError, type WireError } from './errors.js';
import { utf8 } from './sysio.js';
import { encodeWebForm, parseWebForm, type WebFields } from './web-protocol.js';

export const PROTOCOL_VERSION = 2;
export const REQUEST_MAGIC = 'roq2';
/** The previous version, still answered (without proof) for clients of 0.1. */
export const LEGACY_MAGIC = 'roq1';
/** POSIX PIPE_BUF on Linux: writes up to this size into a FIFO are atomic. */
export const MAX_REQUEST_BYTES = 4096;
export const REQUESTS_FIFO = 'REQUESTS';
export const CONTROL_PID = -1;
/** The health check's request word: not a query name (QUERY_RE has no '.'), so no app's query can take it. */
export const PING_QUERY = '.ping';
/**
 * The load balancers' health check: a web request for `<script>/_health` (PATH_INFO), which the dispatcher answers
 * itself, like PING_QUERY, without waiting for a worker.
 */
export const HEALTH_PATH = '/_health';
/** The web request's magic and word (the only word version 3 has); its answer is web-protocol.ts's. */
export const WEB_MAGIC = 'roq3';
export const WEB_WORD = '.web';

export type ControlWord = 'reload' | 'stop';
export const CONTROL_WORDS: readonly ControlWord[] = ['reload', 'stop'];

export type Request =
  | {
      kind: 'query';
      pid: number;
      token: string;
      /** The secret the answer echoes; undefined for a version 1 request (and its answer carries none). */
      proof?: string;
      query: string;
      params: Record<string, string>;
      /** as received (parsed lines only) */ encoded?: string;
    }
  | { kind: 'control'; word: ControlWord; token: string }
  | { kind: 'ping'; pid: number; token: string; proof?: string }
  | { kind: 'web'; pid: number; token: string; proof: string; web: WebFields };

/** Whether a request is of version 1 (a client of 0.1): it carries no proof, so its client trusts any answer. */
export function isLegacy(r: Request): boolean {
  return r.kind !== 'control' && r.proof === undefined;
}

export type FieldType = 'string' | 'int' | 'float' | 'bool';
export interface Field {
  name: string;
  type: FieldType;
}

/** A cell: a number for int and float fields, a boolean for bool fields, else a string; '' is an empty value. */
export type Cell = string | number | boolean;
/** The first and last day (YYYY-MM-DD) a generation's data covers, where the app defines one (its validDates hook, src/app-info.ts). */
export interface DateRange {
  start: string;
  end: string;
  /**
   * The data's time zone (IANA), in which its "today" is taken (dates.today), where the app defines one. In the
   * JSON of status.json and the CLI's reports only: an answer's `dates=` line carries the range alone.
   */
  zone?: string;
}

export type AnswerStatus = 'ok' | 'error' | 'timeout';
export type Answer =
  | {
      status: 'ok';
      generation: number;
      /** content hash of the generation (absent from daemons before it) */ hash?: string;
      fields: Field[];
      rows: Cell[][];
      dates?: DateRange;
    }
  | { status: 'error' | 'timeout'; code: string; message: string; param?: string };

/** The error answer that carries `w` (errors.toWire): its code, message and parameter; details stay behind. */
export function errorAnswer(status: 'error' | 'timeout', w: WireError): Answer {
  return { status, code: w.code, message: w.message, ...(w.param === undefined ? {} : { param: w.param }) };
}

const TOKEN_RE = /^[A-Za-z0-9]{1,32}$/;
const PROOF_RE = /^[A-Za-z0-9]{16,64}$/;
const QUERY_RE = /^[a-z][a-z0-9_]{0,63}$/;

/** Name of a client's answer FIFO inside the run directory. */
export function responseFifoName(pid: number, token: string): string {
  return `resp.${pid}.${token}`;
}

const RESPONSE_FIFO_NAME = /^resp\.([0-9]{1,10})\.([A-Za-z0-9]{1,32})$/;

/** The pid and token of a name of responseFifoName's form; undefined for any other name. */
export function parseResponseFifoName(name: string): { pid: number; token: string } | undefined {
  const m = RESPONSE_FIFO_NAME.exec(name);
  return m ? { pid: Number(m[1]), token: m[2]! } : undefined;
}

export function encodeParams(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/** A client's request line: version 2 with a proof, version 1 (as 0.1 clients wrote it) without. */
function requestLine(pid: number, token: string, proof: string | undefined, query: string, params: string): string {
  return proof === undefined
    ? `${LEGACY_MAGIC} ${pid} ${token} ${query} ${params}\n`
    : `${REQUEST_MAGIC} ${pid} ${token} ${proof} ${query} ${params}\n`;
}

/** The UTF-8 size of a client's request line. */
function lineBytes(line: string): number {
  return utf8(line).length;
}

/** The longest proof a client makes (client.ts: randomToken(18)); the protocol allows up to 64. */
export const CLIENT_PROOF_CHARS = 24;

/** The size of a client's request line for `query` with `params` with the longest pid, token and proof. */
function worstLineBytes(query: string, params: Record<string, string>): number {
  return lineBytes(
    requestLine(0x7fffffff, 'x'.repeat(32), 'x'.repeat(CLIENT_PROOF_CHARS), query, encodeParams(params)),
  );
}

/**
 * Whether a client's request for `query` with `params` fits one atomic line (MAX_REQUEST_BYTES), whatever pid
 * and token it gets: asked before anything is sent, so a request that cannot be written is refused as too large.
 */
export function requestFits(query: string, params: Record<string, string>): boolean {
  return worstLineBytes(query, params) <= MAX_REQUEST_BYTES;
}

/** Refuses, before anything is sent, a request that would not fit one atomic line (long non-ASCII values can). */
export function assertRequestFits(query: string, params: Record<string, string>): void {
  const bytes = worstLineBytes(query, params);
  if (bytes > MAX_REQUEST_BYTES) throw tooLarge(bytes);
}

function tooLarge(bytes: number): RoqError {
  return roqError('ROQ_REQUEST_TOO_LARGE', {
    size: `a request line of ${bytes} bytes`,
    max: `${MAX_REQUEST_BYTES} bytes (UTF-8, with its parameters %-encoded)`,
  });
}

/** Encodes a request line (with its '\n'); throws ROQ_REQUEST_TOO_LARGE beyond MAX_REQUEST_BYTES. */
export function encodeRequest(req: Request): string {
  const line =
    req.kind === 'control'
      ? `${REQUEST_MAGIC} ${CONTROL_PID} ${req.token} ${req.token} ${req.word} \n`
      : req.kind === 'web'
        ? `${WEB_MAGIC} ${req.pid} ${req.token} ${req.proof} ${WEB_WORD} ${encodeWebForm(req.web)}\n`
        : requestLine(
            req.pid,
            req.token,
            req.proof,
            req.kind === 'ping' ? PING_QUERY : req.query,
            req.kind === 'ping' ? '' : encodeParams(req.params),
          );
  // Longer, it could interleave with other writers' requests (writes up to PIPE_BUF are atomic).
  const bytes = lineBytes(line);
  if (bytes > MAX_REQUEST_BYTES) throw tooLarge(bytes);
  return line;
}

export type ParsedRequest =
  | { ok: true; request: Request }
  | {
      ok: false;
      reason: string;
      pid?: number;
      token?: string;
      proof?: string;
      version?: string;
      /** A version 3 line: its error is answered as a web answer (a page). */
      web?: true;
    };

/**
 * Parses one request line (without its '\n'). Never throws: anything a writer into REQUESTS can send yields either
 * a request or a reason to drop it. When the line is of another protocol version but names a pid and token, they
 * are returned so the daemon can still answer with a clear error.
 */
export function parseRequest(line: string): ParsedRequest {
  if (Buffer.byteLength(line) >= MAX_REQUEST_BYTES) return { ok: false, reason: 'request line too long' };
  const parts = line.split(' ');
  const magic = parts[0]!;
  if (magic === WEB_MAGIC) return parseWebRequest(parts);
  const legacy = magic === LEGACY_MAGIC;
  const fields = legacy ? 5 : 6;
  if (parts.length !== fields && !(parts.length === 5 && magic !== REQUEST_MAGIC)) {
    return { ok: false, reason: `expected ${fields} space-separated fields, got ${parts.length}` };
  }
  const pidText = parts[1]!;
  const token = parts[2]!;
  const [proof, query, params] = (legacy || parts.length === 5 ? [undefined, ...parts.slice(3)] : parts.slice(3)) as [
    string | undefined,
    string,
    string,
  ];
  const pid = /^-?[0-9]{1,10}$/.test(pidText) ? Number(pidText) : NaN;
  if (!Number.isSafeInteger(pid) || (pid < 1 && pid !== CONTROL_PID) || pid > 0x7fffffff) {
    return { ok: false, reason: `bad pid '${pidText.slice(0, 16)}'` };
  }
  if (!TOKEN_RE.test(token)) return { ok: false, reason: 'bad token' };
  if (magic !== REQUEST_MAGIC && !legacy) {
    const version = /^roq[0-9]+$/.test(magic) ? magic : undefined;
    return { ok: false, reason: `unknown protocol '${magic.slice(0, 16)}'`, pid, token, version };
  }
  if (proof !== undefined && pid !== CONTROL_PID && !PROOF_RE.test(proof))
    return { ok: false, reason: 'bad proof', pid, token };
  if (query === PING_QUERY && pid !== CONTROL_PID)
    return {
      ok: true,
      request: proof === undefined ? { kind: 'ping', pid, token } : { kind: 'ping', pid, token, proof },
    };
  const known = proof !== undefined ? { pid, token, proof } : { pid, token };
  if (!QUERY_RE.test(query)) return { ok: false, reason: 'bad query name', ...known };
  if (pid === CONTROL_PID) {
    const word = CONTROL_WORDS.find((w) => w === query);
    if (!word || legacy) return { ok: false, reason: `unknown control word '${query}'` };
    return { ok: true, request: { kind: 'control', word, token: proof! } };
  }
  let decoded: Record<string, string>;
  try {
    decoded = decodeParams(params);
  } catch {
    return { ok: false, reason: 'bad parameter encoding', ...known };
  }
  const request: Request = { kind: 'query', pid, token, query, params: decoded, encoded: params };
  if (proof !== undefined) request.proof = proof;
  return { ok: true, request };
}

/** The space-separated fields of a request line: 6 for version 2 (and other versions), 5 for version 1. */
const REQUEST_FIELDS = [6, 5] as const;
const MAGIC_FIELD = /roq[0-9]+$/;

/**
 * Finds a request inside a line that does not parse as one: garbage a writer left without a line end, followed by
 * a whole request (requests are written in one atomic write, so a request is always a suffix of such a line).
 * A request has 6 or 5 space-separated fields, and nothing in it but its magic is glued to what precedes it, so
 * only two suffixes can be one: those starting at the `roq<digits>` that ends the 6th or the 5th field from the
 * end. At most two parses, each of at most the line: linear in the line, however many `roq1 ` a hostile writer
 * packs into it. Returns the earlier suffix that parses (or names a pid, for an error answer), with how many bytes
 * of garbage preceded it; undefined when there is none. `parse` is for tests that count the work.
 */
export function findRequest(
  line: string,
  parse: (line: string) => ParsedRequest = parseRequest,
): { parsed: ParsedRequest; skipped: number } | undefined {
  if (line.indexOf('roq', 1) < 0) return undefined; // plain garbage: no magic past the start, so no request
  for (const fields of REQUEST_FIELDS) {
    const start = fieldStart(line, fields);
    if (start < 0) continue;
    const end = line.indexOf(' ', start);
    const magic = MAGIC_FIELD.exec(line.slice(start, end));
    const at = start + (magic?.index ?? 0);
    if (!magic || at < 1) continue;
    const parsed = parse(line.slice(at));
    if (parsed.ok || parsed.pid !== undefined) return { parsed, skipped: at };
  }
  return undefined;
}

/** Where the `fields`-th space-separated field from the end of `line` starts; -1 if it has fewer fields. */
function fieldStart(line: string, fields: number): number {
  let space = line.length;
  for (let i = 0; i < fields - 1; i++) {
    space = space === 0 ? -1 : line.lastIndexOf(' ', space - 1);
    if (space < 0) return -1;
  }
  return space === 0 ? 0 : line.lastIndexOf(' ', space - 1) + 1;
}

/** Decodes urlencoded parameters; the first occurrence of a name wins. Throws URIError on broken %-escapes. */
export function decodeParams(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (text === '') return out;
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decodeURIComponent((eq < 0 ? pair : pair.slice(0, eq)).replace(/\+/g, ' '));
    const value = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1).replace(/\+/g, ' '));
    if (!(name in out)) out[name] = value;
  }
  return out;
}

// Escaping keeps each answer line one line and each row cell one cell: only the four framing bytes are touched,
// so the common case (no such byte) costs one regex test and no allocation.
const NEEDS_ESCAPE = /[%,\n\r]/;
const ESCAPE_ALL = /[%,\n\r]/g;
const ESCAPES: Record<string, string> = { '%': '%25', ',': '%2C', '\n': '%0A', '\r': '%0D' };

export function escapeValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(ESCAPE_ALL, (c) => ESCAPES[c]!) : value;
}

export function unescapeValue(value: string): string {
  return value.indexOf('%') < 0
    ? value
    : value.replace(/%(25|2C|0A|0D)/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

const WIRE_TYPE: Record<FieldType, string> = { string: 's', int: 'i', float: 'f', bool: 'b' };
export const FIELD_TYPE: Record<string, FieldType> = { s: 'string', i: 'int', f: 'float', b: 'bool' };

function fieldsLine(fields: readonly Field[]): string {
  return fields.map((f) => `${f.name}:${WIRE_TYPE[f.type]}`).join(',');
}

/** The first lines of an answer: the version, and the request's proof unless it was a version 1 request. */
function answerHead(proof: string | undefined): string {
  return proof === undefined ? 'roq=1\n' : `roq=${PROTOCOL_VERSION}\nproof=${proof}\n`;
}

/**
 * Encodes a complete answer as one string, ready for a single write into the client's FIFO. `proof` is the
 * request's (undefined for a version 1 request, whose client expects `roq=1` and no proof).
 */
export function encodeAnswer(answer: Answer, proof?: string): string {
  if (answer.status !== 'ok') {
    let out = `${answerHead(proof)}status=${answer.status}\ncode=${escapeValue(answer.code)}\nmessage=${escapeValue(answer.message)}\n`;
    if (answer.param !== undefined) out += `param=${escapeValue(answer.param)}\n`;
    return out + 'end=0\n';
  }
  let out = `${answerHead(proof)}status=ok\ngeneration=${answer.generation}\n${answer.hash ? `hash=${escapeValue(answer.hash)}\n` : ''}`;
  if (answer.dates) out += `dates=${answer.dates.start}..${answer.dates.end}\n`;
  out += `fields=${fieldsLine(answer.fields)}\n`;
  for (const row of answer.rows) {
    out += 'row=';
    for (let i = 0; i < row.length; i++) {
      const cell = row[i]!;
      out += (i ? ',' : '') + (typeof cell === 'string' ? escapeValue(cell) : String(cell));
    }
    out += '\n';
  }
  return out + `end=${answer.rows.length}\n`;
}

/** Rows as JSON-ready objects whose keys follow the field order. */
export function rowsToObjects(fields: readonly Field[], rows: readonly Cell[][]): Record<string, Cell>[] {
  return rows.map((row) => {
    const o: Record<string, Cell> = {};
    fields.forEach((f, i) => (o[f.name] = row[i]!));
    return o;
  });
}

// ---- version 3: the web request line (its form and answer: web-protocol.ts) ----

/**
 * Whether a web request fits one atomic line (MAX_REQUEST_BYTES) whatever pid, token and proof it gets. A relay
 * asks it without the body to tell a body too large (413) from a URL too long (414).
 */
export function webRequestFits(web: WebFields): boolean {
  const line = `${WEB_MAGIC} ${0x7fffffff} ${'x'.repeat(32)} ${'x'.repeat(64)} ${WEB_WORD} ${encodeWebForm(web)}\n`;
  return lineBytes(line) <= MAX_REQUEST_BYTES;
}

/** A version 3 line split on spaces (magic first); never throws, like parseRequest. */
function parseWebRequest(parts: string[]): ParsedRequest {
  if (parts.length !== 6) return { ok: false, reason: `expected 6 space-separated fields, got ${parts.length}` };
  const [, pidText, token, proof, word, form] = parts as [string, string, string, string, string, string];
  const pid = /^[0-9]{1,10}$/.test(pidText) ? Number(pidText) : NaN;
  if (!(pid >= 1 && pid <= 0x7fffffff)) return { ok: false, reason: `bad pid '${pidText.slice(0, 16)}'` };
  if (!TOKEN_RE.test(token)) return { ok: false, reason: 'bad token' };
  // An answer without a proof is one no relay takes: not worth writing.
  if (!PROOF_RE.test(proof)) return { ok: false, reason: 'bad proof' };
  const known = { pid, token, proof, web: true as const };
  if (word !== WEB_WORD) return { ok: false, reason: `unknown version 3 word '${word.slice(0, 16)}'`, ...known };
  const web = parseWebForm(form);
  if (!web) return { ok: false, reason: 'bad web form encoding', ...known };
  return { ok: true, request: { kind: 'web', pid, token, proof, web } };
}
