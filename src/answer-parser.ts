/**
 * The reading side of an answer (protocol.ts writes it, encodeAnswer): the client's incremental parser of the
 * `name=value` lines a daemon writes into its FIFO, which admits only the answer that carries the request's proof.
 * The CLI, the Node client and the tools use it; the relay reads web answers only (web-protocol.ts).
 */

import {
  FIELD_TYPE,
  PROTOCOL_VERSION,
  unescapeValue,
  type Answer,
  type Cell,
  type DateRange,
  type Field,
  type FieldType,
} from './protocol.js';

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
 * With `proof` (the secret of the request, see protocol.ts's file comment), only an answer whose second line is
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
