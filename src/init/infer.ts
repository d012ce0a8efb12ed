/**
 * Schema inference for `roq init`: one delimited file's bytes → a table schema (and, when a key was found, the
 * lookup query of that table), with a sentence per decision saying why, for the user to check and edit. Pure:
 * bytes in, JSON and sentences out. The file is read with the loader's own scanner, so what is inferred is what
 * the loader will accept: every value of a column parses as the type chosen, or the column is a string.
 */
import { Buffer } from 'node:buffer';
import { scanCsv } from '../store/csv.js';
import {
  isBlank,
  parseBoolBytes,
  parseClockTimeBytes,
  parseDateBytes,
  parseFloatBytes,
  parseIntBytes,
  parseIsoDateBytes,
  parseTimeBytes,
} from '../store/values.js';

type Parser = (buf: Uint8Array, s: number, e: number) => number;

/** Candidate types, most specific first; a column takes the first that every non-empty value parses as. */
const CANDIDATES: { type: string; format?: string; parse: Parser; what: string }[] = [
  { type: 'date', format: 'iso', parse: parseIsoDateBytes, what: 'a date YYYY-MM-DD' },
  { type: 'time', format: 'clock', parse: parseClockTimeBytes, what: 'a clock time below 24:00' },
  { type: 'time', parse: parseTimeBytes, what: 'a time H:MM:SS (of a service day: may pass 24:00)' },
  { type: 'int', parse: parseIntBytes, what: 'a whole number' },
  { type: 'float', parse: parseFloatBytes, what: 'a decimal number' },
  { type: 'bool', parse: parseBoolBytes, what: 'true or false (or yes/no, t/f, y/n)' },
];

export const DELIMITER_NAMES: Record<string, string> = { ',': 'comma', '\t': 'tab', ';': 'semicolon', '|': 'pipe' };

export interface InferredColumn {
  name: string;
  type: string;
  required?: boolean;
  format?: string;
  heading?: string;
}

export interface Inferred {
  table: Record<string, unknown>;
  /** The lookup query by key, or undefined when no key was found. */
  query?: Record<string, unknown>;
  /** One sentence per decision, each starting with `table` or `table.column`. */
  reasons: string[];
}

/** A name of [a-z0-9_] starting with a letter, as schemas require: "Organization Name" → organization_name. */
export function snakeName(text: string, fallback: string): string {
  const s = text
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
  if (s === '') return fallback;
  return /^[a-z]/.test(s) ? s : `c_${s}`;
}

/**
 * The separator of the file: of comma, tab, semicolon and pipe, the one that appears the same non-zero number of
 * times (outside quotes) on most of the first lines. A comma when none does.
 */
export function detectDelimiter(text: string): string {
  const lines = text
    .split(/\r?\n/)
    .filter((l) => l !== '')
    .slice(0, 20);
  let best = ',';
  let bestScore = 0;
  for (const d of Object.keys(DELIMITER_NAMES)) {
    const counts = lines.map((l) => l.replace(/"[^"]*"/g, '').split(d).length - 1);
    const first = counts[0] ?? 0;
    const score = first === 0 ? 0 : counts.filter((c) => c === first).length * 1000 + first;
    if (score > bestScore) [best, bestScore] = [d, score];
  }
  return best;
}

interface Field {
  start: number;
  end: number;
  escaped: boolean;
}

/** The file as records of fields (buffer offsets), with the scanner's checks. */
function records(buf: Buffer, path: string, sep: string): Field[][] {
  const out: Field[][] = [];
  scanCsv(
    buf,
    path,
    (rec) => {
      const fields: Field[] = [];
      for (let i = 0; i < rec.count; i++)
        fields.push({ start: rec.starts[i]!, end: rec.ends[i]!, escaped: rec.escaped[i] === 1 });
      out.push(fields);
    },
    sep.charCodeAt(0),
  );
  return out;
}

const text = (buf: Buffer, f: Field | undefined): string =>
  f
    ? f.escaped
      ? buf.toString('utf8', f.start, f.end).replaceAll('""', '"')
      : buf.toString('utf8', f.start, f.end)
    : '';

/** The first line is a header unless one of its fields is empty, repeated, or a number, date or time. */
function looksLikeHeader(buf: Buffer, first: Field[]): boolean {
  const names = first.map((f) => headingOf(buf, f));
  // A heading on two lines cannot be named in a schema (codegen refuses it): such a line is data, not names.
  if (names.some((n) => n === '' || /[\r\n]/.test(n)) || new Set(names).size !== names.length) return false;
  return first.every((f) => CANDIDATES.every((c) => Number.isNaN(c.parse(buf, f.start, f.end))));
}

/**
 * A header field as the loader reads it (store/table.ts compares a column's `heading` with it): trimmed, with a
 * quoted field's `""` left as it is, so that a heading holding a quote matches the file.
 */
const headingOf = (buf: Buffer, f: Field | undefined): string => (f ? buf.toString('utf8', f.start, f.end).trim() : '');

/** Column names whose accessors are the generated table's own members (codegen refuses them): never inferred. */
const RESERVED_NAMES = ['rows', 'present', 'key', 'find_key'];

const INT = CANDIDATES.findIndex((c) => c.type === 'int');
const FLOAT = CANDIDATES.findIndex((c) => c.type === 'float');

/** False for digits that a number would not give back as written: a leading zero (007, 00.5) or a plus sign. */
function canonicalInt(buf: Buffer, s: number, e: number): boolean {
  const t = buf.toString('latin1', s, Math.min(e, s + 3)).trim();
  return !/^[+]|^-?0[0-9]/.test(t);
}

function columnType(buf: Buffer, rows: Field[][], i: number) {
  let empty = 0;
  const alive = CANDIDATES.map(() => true);
  for (const r of rows) {
    const f = r[i];
    if (!f || isBlank(buf, f.start, f.end)) {
      empty++;
      continue;
    }
    for (let c = 0; c < CANDIDATES.length; c++)
      if (alive[c] && Number.isNaN(CANDIDATES[c]!.parse(buf, f.start, f.end))) alive[c] = false;
    // A code such as 007 or +1 is text: stored as a number it would come back as 7 or 1.
    if (!canonicalInt(buf, f.start, f.end)) alive[INT] = alive[FLOAT] = false;
  }
  const values = rows.length - empty;
  return { pick: values === 0 ? -1 : alive.indexOf(true), empty, values };
}

/** Eight digits that are all real dates are GTFS dates (YYYYMMDD) when the column's name says date. */
function isGtfsDateColumn(buf: Buffer, rows: Field[][], i: number, name: string): boolean {
  if (!/date/.test(name)) return false;
  return rows.every((r) => {
    const f = r[i];
    return !f || isBlank(buf, f.start, f.end) || !Number.isNaN(parseDateBytes(buf, f.start, f.end));
  });
}

/** Whether the given columns are, together, non-empty and unique over the rows. */
function unique(buf: Buffer, rows: Field[][], cols: number[]): boolean {
  const seen = new Set<string>();
  for (const r of rows) {
    const key = cols.map((i) => text(buf, r[i])).join('\u0000');
    if (cols.some((i) => text(buf, r[i]) === '') || seen.has(key)) return false;
    seen.add(key);
  }
  return rows.length > 0;
}

const count = (n: number) => n.toLocaleString('en-US');
const PARAM_RANGE = { min: -2147483647, max: 2147483647 };

/**
 * Infers the schema of one file. `file` is its name in the data directory; `table` the table name to give it.
 * Throws the scanner's RoqError (file:line:column) on broken quoting or ragged rows.
 */
export function inferTable(file: string, table: string, buf: Buffer, path = file): Inferred {
  const reasons: string[] = [];
  const sep = detectDelimiter(buf.toString('utf8', 0, Math.min(buf.length, 64 * 1024)));
  const all = records(buf, path, sep);
  const header = all.length > 0 && looksLikeHeader(buf, all[0]!);
  const rows = header ? all.slice(1) : all;
  const width = all[0]?.length ?? 0;
  reasons.push(
    `${table}: ${file}, ${DELIMITER_NAMES[sep]}-separated, ${header ? 'a header line' : 'no header line (a field of the first line is empty, repeated or a value)'}, ${count(rows.length)} rows`,
  );
  const used = new Set<string>(RESERVED_NAMES);
  const columns: InferredColumn[] = [];
  for (let i = 0; i < width; i++) {
    const heading = header ? headingOf(buf, all[0]![i]) : '';
    let name = snakeName(heading, `column_${i + 1}`);
    for (let k = 2; used.has(name); k++) name = `${snakeName(heading, `column_${i + 1}`)}_${k}`;
    used.add(name);
    const { pick, empty, values } = columnType(buf, rows, i);
    const col: InferredColumn = { name, type: 'string' };
    let why = values === 0 ? 'every value is empty' : 'some values are text';
    if (isGtfsDateColumn(buf, rows, i, name) && values > 0 && pick >= 0 && CANDIDATES[pick]!.type === 'int') {
      col.type = 'date';
      why = 'every value is a date YYYYMMDD and the name says date';
    } else if (pick >= 0) {
      col.type = CANDIDATES[pick]!.type;
      if (CANDIDATES[pick]!.format) col.format = CANDIDATES[pick]!.format;
      why = `every value is ${CANDIDATES[pick]!.what}`;
    }
    if (empty === 0 && values > 0) col.required = true;
    if (header && heading !== name) col.heading = heading;
    columns.push(col);
    reasons.push(
      `${table}.${name}: ${col.type}${col.format ? ` (${col.format})` : ''}, ${count(values)} values${empty ? `, ${count(empty)} empty (optional)` : ''}: ${why}`,
    );
  }
  // A key: the first column that is unique on its own (not a float), else the first two or three together.
  const candidates = [
    ...columns.map((c, i) => (c.type === 'float' ? [] : [i])).filter((k) => k.length),
    [0, 1],
    [0, 1, 2],
  ];
  const keyCols = candidates.find((k) => k.every((i) => i < width) && unique(buf, rows, k));
  const spec: Record<string, unknown> = { table, file, description: `${file}, as found by roq init.` };
  if (sep !== ',') spec.delimiter = DELIMITER_NAMES[sep];
  if (!header) spec.header = false;
  spec.columns = columns;
  let query: Record<string, unknown> | undefined;
  if (keyCols) {
    const key = keyCols.map((i) => columns[i]!.name);
    spec.key = key;
    reasons.push(
      `${table}.${key[0]}: ${key.length === 1 ? 'unique' : `unique with ${key.slice(1).join(', ')}`} over ${count(rows.length)} rows: the key; query ${table}(${key.join(', ')}) looks a row up by it`,
    );
    query = lookupQuery(
      table,
      key.map((k) => columns.find((c) => c.name === k)!),
      columns,
      rows,
      buf,
      keyCols,
    );
  } else {
    reasons.push(
      `${table}: no column, nor the first two or three together, is unique: no key, so no lookup query (add an index and a query by hand)`,
    );
  }
  return { table: spec, query, reasons };
}

function lookupQuery(
  table: string,
  keys: InferredColumn[],
  columns: InferredColumn[],
  rows: Field[][],
  buf: Buffer,
  keyCols: number[],
): Record<string, unknown> {
  const params = keys.map((c, j) => {
    const p: Record<string, unknown> = { name: c.name, type: c.type, required: true };
    if (c.type === 'int') Object.assign(p, PARAM_RANGE);
    if (c.type === 'string') p.maxLength = rows.reduce((n, r) => Math.max(n, text(buf, r[keyCols[j]!]).length), 255);
    return p;
  });
  return {
    query: table,
    description: `The ${table} row with this key.`,
    table,
    params,
    fields: columns.map((c) => ({ name: c.name })),
  };
}
