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
 *    not written by the daemon, and the client ignores it (see answerParser);
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
 * by a digest keyed from the proof (see encodeWebAnswer). Queries (the CLI, tools, a previous release's CGI
 * program) stay version 2.
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
import { siphash24 } from './siphash.js';
import { utf8 } from './sysio.js';

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
/** The web request's magic and word (the only word version 3 has). */
export const WEB_MAGIC = 'roq3';
export const WEB_VERSION = 3;
export const WEB_WORD = '.web';
/**
 * The largest CGI response a web answer carries (its `length=`): the relay reads a whole answer into a buffer of
 * about this size before it writes a byte. A response the daemon renders larger is answered with an error page.
 */
export const MAX_WEB_RESPONSE_BYTES = 4 * 1024 * 1024;

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
const FIELD_TYPE: Record<string, FieldType> = { s: 'string', i: 'int', f: 'float', b: 'bool' };

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

/**
 * A row's cell as its field's type says. A number or bool field's empty cell is an empty value (a declarative
 * query's empty column); a bool cell is `true` or `false` on the wire.
 */
function cellOf(type: FieldType, wire: string): Cell {
  if (type === 'string') return unescapeValue(wire);
  if (wire === '') return '';
  if (type === 'bool') {
    if (wire !== 'true' && wire !== 'false')
      throw new Error(`bool cell '${wire.slice(0, 20)}' is neither true nor false`);
    return wire === 'true';
  }
  return Number(wire);
}

/**
 * Incremental answer parser: give it text as it arrives; `done` turns true after the end line.
 *
 * With `proof` (the secret of the request, see the file comment), only an answer whose second line is
 * `proof=<it>` counts: anything else — a forged answer from someone who may write into the client's FIFO but never
 * saw the request line, garbage, an answer of version 1 — is skipped up to its end line and counted in
 * `rejected`, and the parser waits on for the daemon's answer (the caller keeps its deadline). Once an answer has
 * proved itself, a malformed line throws an Error naming it, so a client can report a broken daemon instead of
 * hanging. Without `proof` (tools reading a version 1 answer), every answer counts.
 */
export function answerParser(proof?: string): AnswerParser {
  return new AnswerParser(proof);
}

const ANSWER_HEAD = `roq=${PROTOCOL_VERSION}`;
const DATES_VALUE = /^([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})$/;

export class AnswerParser {
  private readonly proof: string | undefined;
  private buffered = '';
  private complete = false;
  private version = 0;
  private status = '';
  private generation = 0;
  private hash: string | undefined;
  private fields: Field[] = [];
  private dates: DateRange | undefined;
  private readonly rows: Cell[][] = [];
  private readonly attrs: Record<string, string> = {};
  /** seek: before an answer; proof: after `roq=`, the proof line is due; skip: inside a rejected answer; in: proved. */
  private gate: 'seek' | 'proof' | 'skip' | 'in';
  private skipped = 0;

  constructor(proof?: string) {
    this.proof = proof;
    this.gate = proof === undefined ? 'in' : 'seek';
  }

  /** Takes a chunk; returns true once the answer is complete. */
  push(chunk: string): boolean {
    this.buffered += chunk;
    let nl: number;
    while (!this.complete && (nl = this.buffered.indexOf('\n')) >= 0) {
      const text = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      if (this.admit(text)) this.line(text);
    }
    return this.complete;
  }

  /** Answers (or stray lines) skipped because they did not carry the request's proof. */
  get rejected(): number {
    return this.skipped;
  }

  get done(): boolean {
    return this.complete;
  }

  /** Text after the end line: whatever followed the answer in the same chunk. */
  get leftover(): string {
    return this.buffered;
  }

  result(): Answer {
    if (!this.complete) throw new Error('answer incomplete');
    if (this.version === 0) throw new Error('answer without a roq= line');
    const status = this.status;
    if (status === 'ok')
      return {
        status: 'ok',
        generation: this.generation,
        ...(this.hash === undefined ? {} : { hash: this.hash }),
        fields: this.fields,
        rows: this.rows,
        ...(this.dates ? { dates: this.dates } : {}),
      };
    if (status === 'error' || status === 'timeout') {
      const a: Answer = { status, code: this.attrs.code ?? 'ROQ_UNKNOWN', message: this.attrs.message ?? '' };
      if (this.attrs.param !== undefined) a.param = this.attrs.param;
      return a;
    }
    throw new Error(`unknown answer status '${status}'`);
  }

  /** The gate in front of line(): true when the line belongs to an answer that proved itself. */
  private admit(text: string): boolean {
    if (this.gate === 'in') return true;
    if (text === ANSWER_HEAD) {
      this.gate = 'proof'; // an answer starts, possibly right after a rejected one that never ended
      return false;
    }
    if (this.gate === 'proof' && text === `proof=${this.proof}`) {
      this.gate = 'in';
      this.version = PROTOCOL_VERSION;
      return false;
    }
    if (this.gate !== 'skip') {
      this.skipped++;
      this.gate = 'skip';
    }
    if (text.startsWith('end=')) this.gate = 'seek';
    return false;
  }

  private line(text: string): void {
    const eq = text.indexOf('=');
    if (eq < 1) throw new Error(`malformed answer line '${text.slice(0, 40)}'`);
    const name = text.slice(0, eq);
    const value = text.slice(eq + 1);
    switch (name) {
      case 'roq':
        return this.versionLine(value);
      case 'status':
        this.status = value;
        return;
      case 'generation':
        this.generation = Number(value);
        return;
      case 'hash':
        this.hash = unescapeValue(value);
        return;
      case 'dates': {
        const m = DATES_VALUE.exec(value);
        if (m) this.dates = { start: m[1]!, end: m[2]! };
        return;
      }
      case 'fields':
        this.fields = fieldsOf(value);
        return;
      case 'row':
        return this.rowLine(value);
      case 'end':
        if (Number(value) !== this.rows.length) throw new Error(`end says ${value} rows, got ${this.rows.length}`);
        this.complete = true;
        return;
      default:
        this.attrs[name] = unescapeValue(value); // code, message, param, proof; unknown names are ignored for forward compatibility
    }
  }

  private versionLine(value: string): void {
    this.version = Number(value);
    if (this.version !== PROTOCOL_VERSION && this.version !== 1)
      throw new Error(`answer of protocol version ${value}; this client speaks ${PROTOCOL_VERSION}`);
  }

  private rowLine(value: string): void {
    const fields = this.fields;
    const cells = value.split(',');
    if (cells.length !== fields.length) throw new Error(`row of ${cells.length} cells for ${fields.length} fields`);
    this.rows.push(cells.map((c, i) => cellOf(fields[i]!.type, c)));
  }
}

/** The `fields=` line's value: `name:type` pairs, an unknown type read as a string. */
function fieldsOf(value: string): Field[] {
  if (value === '') return [];
  return value.split(',').map((f) => {
    const [n, t] = f.split(':');
    return { name: n ?? '', type: FIELD_TYPE[t ?? ''] ?? 'string' };
  });
}

/** Rows as JSON-ready objects whose keys follow the field order. */
export function rowsToObjects(fields: readonly Field[], rows: readonly Cell[][]): Record<string, Cell>[] {
  return rows.map((row) => {
    const o: Record<string, Cell> = {};
    fields.forEach((f, i) => (o[f.name] = row[i]!));
    return o;
  });
}

// ---- version 3: the web request and its answer ----

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

/**
 * Whether a web request fits one atomic line (MAX_REQUEST_BYTES) whatever pid, token and proof it gets. A relay
 * asks it without the body to tell a body too large (413) from a URL too long (414).
 */
export function webRequestFits(web: WebFields): boolean {
  const line = `${WEB_MAGIC} ${0x7fffffff} ${'x'.repeat(32)} ${'x'.repeat(64)} ${WEB_WORD} ${encodeWebForm(web)}\n`;
  return lineBytes(line) <= MAX_REQUEST_BYTES;
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
