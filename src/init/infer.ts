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
  fold?: 'ascii-case';
}

export interface Inferred {
  table: Record<string, unknown>;
  /** The lookup query by key, or undefined when no key was found. */
  query?: Record<string, unknown>;
  /** The query listing the table's rows (`TABLE_browse`). */
  browse: Record<string, unknown>;
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

/** The prefix of comment lines when the file starts with one ("#", as tzdata's .tab files do), else undefined. */
export function detectComment(text: string): string | undefined {
  const first = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .find((l) => l.trim() !== '');
  return first?.startsWith('#') ? '#' : undefined;
}

/**
 * The separator of the file: of comma, tab, semicolon and pipe, the one that appears the same non-zero number of
 * times (outside quotes) on most of the first lines (comment lines left out). A comma when none does.
 */
export function detectDelimiter(text: string, comment?: string): string {
  const lines = text
    .split(/\r?\n/)
    .filter((l) => l !== '' && !(comment && l.startsWith(comment)))
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

/** The file as records of fields (buffer offsets), read by the loader's own scanner with the same options. */
function records(buf: Buffer, path: string, sep: string, comment: string | undefined): Field[][] {
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
    comment === undefined ? undefined : Buffer.from(comment),
  );
  return out;
}

const text = (buf: Buffer, f: Field | undefined): string =>
  f
    ? f.escaped
      ? buf.toString('utf8', f.start, f.end).replaceAll('""', '"')
      : buf.toString('utf8', f.start, f.end)
    : '';

/** The names a header line gives, trimmed as the loader trims them (it does not undo "" in a heading). */
const headingsOf = (buf: Buffer, line: Field[]): string[] =>
  line.map((f) => buf.toString('utf8', f.start, f.end).trim());

/** Names that could head columns: none empty, none repeated, none on two lines, and none a number, date or time. */
function couldBeHeadings(buf: Buffer, line: Field[]): boolean {
  const names = headingsOf(buf, line);
  if (names.some((n) => n === '' || /[\r\n]/.test(n)) || new Set(names).size !== names.length) return false;
  return line.every((f) => CANDIDATES.every((c) => Number.isNaN(c.parse(buf, f.start, f.end))));
}

/**
 * Whether the first line is a header. Not when its fields could not be names (couldBeHeadings), nor when a later
 * row is longer (a header names every column), nor when its fields look like the values below them: a column whose
 * values all have one length, the first line's field having it too (iso3166.tab's "AD" above "AE", "AF"), counts
 * against; one whose field has another length counts for. Ties are a header, as most exports have one.
 */
function looksLikeHeader(buf: Buffer, all: Field[][]): boolean {
  const first = all[0]!;
  if (!couldBeHeadings(buf, first)) return false;
  const rows = all.slice(1);
  if (rows.some((r) => r.length > first.length)) return false;
  let votes = 0;
  first.forEach((f, i) => {
    const lengths = new Set(rows.filter((r) => r[i]).map((r) => [...text(buf, r[i])].length));
    if (rows.length < 3 || lengths.size !== 1) return;
    votes += lengths.has([...text(buf, f)].length) ? -1 : 1;
  });
  return votes >= 0;
}

/**
 * Column names for a file without a header line, from the last comment line before the data when it splits into
 * as many fields as the rows have and could be a header (tzdata's "#codes	coordinates	TZ	comments").
 */
function commentHeadings(buf: Buffer, comment: string, sep: string, width: number): string[] | undefined {
  const head = buf.toString('utf8', 0, Math.min(buf.length, 64 * 1024)).split(/\r?\n/);
  const firstData = head.findIndex((l) => l.trim() !== '' && !l.startsWith(comment));
  const line = head[firstData - 1];
  if (firstData < 1 || !line?.startsWith(comment)) return undefined;
  const names = line
    .slice(comment.length)
    .split(sep)
    .map((n) => n.trim());
  if (names.length !== width || names.some((n) => n === '' || /"/.test(n)) || new Set(names).size !== width)
    return undefined;
  return names;
}

const INT = CANDIDATES.findIndex((c) => c.type === 'int');
const FLOAT = CANDIDATES.findIndex((c) => c.type === 'float');
const BOOL = CANDIDATES.findIndex((c) => c.type === 'bool');

/**
 * Whether a value stored as the candidate type is shown as written: a number only when it reads back to the same
 * text (2.0, 007, +1, 1e3 and " 5" would come back as 2, 7, 1, 1000 and 5), a bool only from true or false
 * (Y/N, 1/0 and yes/no are data, shown as true and false they would change).
 */
function readsBack(candidate: number, value: string, parsed: number): boolean {
  if (candidate === INT || candidate === FLOAT) return String(parsed) === value;
  if (candidate === BOOL) return /^(true|false)$/i.test(value);
  return true;
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
    for (let c = 0; c < CANDIDATES.length; c++) {
      if (!alive[c]) continue;
      const v = CANDIDATES[c]!.parse(buf, f.start, f.end);
      if (Number.isNaN(v) || !readsBack(c, text(buf, f), v)) alive[c] = false;
    }
  }
  const values = rows.length - empty;
  return { pick: values === 0 ? -1 : alive.indexOf(true), empty, values };
}

/** Eight digits that are all real dates are compact dates (YYYYMMDD) when the column's name says date. */
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

/** Whether every row has the same value in column i (such a column names nothing: a registry's "IAB"). */
function constant(buf: Buffer, rows: Field[][], i: number): boolean {
  return rows.length > 1 && rows.every((r) => text(buf, r[i]) === text(buf, rows[0]![i]));
}

const IDENTIFIER = /(^|_)(id|code|key|uuid|guid)$/;

/**
 * The key, with the reason for it, or undefined. Being unique today is not reason enough (`code` alone is unique in
 * a table where (auth_name, code) is the real key, until the next export): a key is the leading columns, one to
 * three of them together, unique and never empty, because exports lead with the key (a column with one value
 * throughout is passed over: it tells no row apart); else one of those three columns alone; else a unique column
 * whose name says it identifies a row.
 */
function chooseKey(
  buf: Buffer,
  rows: Field[][],
  columns: InferredColumn[],
): { cols: number[]; why: string } | undefined {
  const usable = columns.map((c, i) => c.type !== 'float' && !constant(buf, rows, i));
  const lead = usable.indexOf(true);
  for (let n = 1; lead >= 0 && n <= 3 && lead + n <= columns.length; n++) {
    const cols = Array.from({ length: n }, (_, j) => lead + j);
    if (!cols.every((i) => usable[i])) break;
    if (unique(buf, rows, cols))
      return {
        cols,
        why: `${n === 1 ? 'the leading column is' : 'the leading columns are together'} unique and never empty (exports lead with the key)`,
      };
  }
  // Debian's distro-info: the leading version is empty for sid, the codename beside it is the key.
  const leading = columns.findIndex((_, i) => i < lead + 3 && usable[i] && unique(buf, rows, [i]));
  if (leading >= 0)
    return { cols: [leading], why: 'it is the first of the leading columns that is unique and never empty' };
  const named = columns.findIndex((c, i) => usable[i] && IDENTIFIER.test(c.name) && unique(buf, rows, [i]));
  if (named >= 0) return { cols: [named], why: 'its name says it identifies a row, and it is unique and never empty' };
  return undefined;
}

const count = (n: number) => n.toLocaleString('en-US');
const PARAM_RANGE = { min: -2147483647, max: 2147483647 };

/** snake_case → the camelCase of generated accessors (codegen/names.ts camel). */
const camel = (snake: string): string => snake.replace(/_([a-z0-9])/g, (_, ch: string) => ch.toUpperCase());

/** The accessors codegen makes for a column (codegen/schema-tables.ts claims them), which must not collide. */
function accessorsOf(name: string, type: string): string[] {
  const m = camel(name);
  const suffixes = type === 'string' ? ['', 'Code', 'CodeOf', 'OfCode'] : type === 'time' ? ['', 'Text'] : [''];
  return suffixes.map((x) => m + x);
}

const NAME_LIKE = /(^|_)(name|names|codename|title|label|series|city|country|place|word)(_|$)/;

/**
 * Marks a key column `fold: "ascii-case"` when it holds names (by its name) that stay unique whatever their case:
 * a visitor typing `bookworm` means the `Bookworm` row. Codes and ids keep their case (AD and ad may both exist).
 */
function suggestFold(buf: Buffer, rows: Field[][], col: InferredColumn, i: number, table: string, reasons: string[]) {
  if (col.type !== 'string' || !NAME_LIKE.test(col.name)) return;
  const folded = new Set(rows.map((r) => text(buf, r[i]).replace(/[A-Z]+/g, (m) => m.toLowerCase())));
  if (folded.size !== rows.length) return;
  col.fold = 'ascii-case';
  reasons.push(`${table}.${col.name}: fold ascii-case: a name, unique whatever its case, so lookups ignore case`);
}

/** The index a table without a key is listed by (its first column's order). */
const BROWSE_INDEX = 'browseIndex';

/** What a file is, before its columns: separator, comment prefix, header, records and width. */
interface Shape {
  sep: string;
  comment?: string;
  header: boolean;
  rows: Field[][];
  headings: string[];
  width: number;
}

/** Why a file cannot be a table, or its shape. Throws the scanner's RoqError (file:line:column) on broken quoting. */
function shapeOf(buf: Buffer, path: string): Shape | string {
  if (buf.length === 0) return 'empty (0 bytes)';
  if (buf.includes(0)) return 'not text: it holds NUL bytes (a binary file, or UTF-16: convert it to UTF-8)';
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch {
    return 'not UTF-8 text (convert it, e.g. iconv -f latin1 -t utf-8)';
  }
  const head = buf.toString('utf8', 0, Math.min(buf.length, 64 * 1024));
  const comment = detectComment(head);
  const sep = detectDelimiter(head, comment);
  const all = records(buf, path, sep, comment);
  if (all.length === 0) return 'empty (no line but blank or comment lines)';
  const header = looksLikeHeader(buf, all);
  const rows = header ? all.slice(1) : all;
  const width = header ? all[0]!.length : Math.max(...rows.map((r) => r.length));
  const named = header ? headingsOf(buf, all[0]!) : comment && commentHeadings(buf, comment, sep, width);
  return { sep, comment, header, rows, width, headings: named || [] };
}

/** The columns, each typed by its values, with names that are unique and whose accessors do not collide. */
function inferColumns(buf: Buffer, shape: Shape, table: string, reasons: string[]): InferredColumn[] {
  const { rows, headings } = shape;
  const used = new Set<string>(['rows', 'present', 'key', 'findKey', BROWSE_INDEX]);
  const columns: InferredColumn[] = [];
  for (let i = 0; i < shape.width; i++) {
    const heading = headings[i] ?? '';
    const { pick, empty, values } = columnType(buf, rows, i);
    const base = snakeName(heading, `column_${i + 1}`);
    let type = pick >= 0 ? CANDIDATES[pick]!.type : 'string';
    let name = base;
    for (let k = 2; accessorsOf(name, type).some((m) => used.has(m)); k++) name = `${base}_${k}`;
    for (const m of accessorsOf(name, type)) used.add(m);
    const col: InferredColumn = { name, type };
    let why = values === 0 ? 'every value is empty' : 'some values are text';
    if (isGtfsDateColumn(buf, rows, i, name) && values > 0 && type === 'int') {
      type = col.type = 'date';
      why = 'every value is a date YYYYMMDD and the name says date';
    } else if (pick >= 0) {
      if (CANDIDATES[pick]!.format) col.format = CANDIDATES[pick]!.format;
      why = `every value is ${CANDIDATES[pick]!.what}`;
    }
    if (empty === 0 && values > 0) col.required = true;
    if (heading && heading !== name) col.heading = heading;
    columns.push(col);
    reasons.push(
      `${table}.${name}: ${col.type}${col.format ? ` (${col.format})` : ''}, ${count(values)} values${empty ? `, ${count(empty)} empty (optional)` : ''}: ${why}`,
    );
  }
  return columns;
}

export interface Refused {
  /** Why the file makes no table: empty, not UTF-8 text, or a scanner error at file:line:column. */
  refused: string;
}

/**
 * Infers the schema of one file. `file` is its name in the data directory; `table` the table name to give it.
 * A file that cannot be a table (empty, not text, broken quoting) is refused with the reason.
 */
export function inferTable(file: string, table: string, buf: Buffer, path = file): Inferred | Refused {
  let shape: Shape | string;
  try {
    shape = shapeOf(buf, path);
  } catch (e) {
    shape = (e as Error).message;
  }
  if (typeof shape === 'string') return { refused: shape };
  const { sep, header, rows, width } = shape;
  const reasons = [
    `${table}: ${file}, ${DELIMITER_NAMES[sep]}-separated${shape.comment ? `, lines starting ${shape.comment} are comments` : ''}, ${header ? 'a header line' : 'no header line (a field of the first line is empty, repeated or a value, or the fields look like the values below)'}, ${count(rows.length)} rows`,
  ];
  const short = rows.some((r) => r.length < width);
  if (short) reasons.push(`${table}: some rows leave off trailing fields: they are empty (shortRows)`);
  const columns = inferColumns(buf, shape, table, reasons);
  const spec: Record<string, unknown> = { table, file, description: `${file}, as found by roq init.` };
  if (sep !== ',') spec.delimiter = DELIMITER_NAMES[sep];
  if (!header) spec.header = false;
  if (shape.comment) spec.comment = shape.comment;
  if (short) spec.shortRows = true;
  spec.columns = columns;
  const key = chooseKey(buf, rows, columns);
  const src: QuerySource = { table, columns, labels: shape.headings, rows, buf };
  let query: Record<string, unknown> | undefined;
  if (key) {
    const names = key.cols.map((i) => columns[i]!.name);
    spec.key = names;
    reasons.push(
      `${table}.${names[0]}: ${names.length === 1 ? 'unique' : `unique with ${names.slice(1).join(', ')}`} over ${count(rows.length)} rows, ${key.why}: the key; query ${table}(${names.join(', ')}) looks a row up by it`,
    );
    for (const i of key.cols) suggestFold(buf, rows, columns[i]!, i, table, reasons);
    query = lookupQuery(src, key.cols);
  } else {
    reasons.push(
      `${table}: neither the leading columns nor a column named as an identifier (id, code, key) is unique: no key, so no lookup query (add one by hand if a column is a key)`,
    );
    spec.indexes = [{ name: BROWSE_INDEX, columns: [columns[0]!.name] }];
  }
  const browse = browseQuery(src, key ? 'key' : BROWSE_INDEX, key?.cols ?? [0]);
  reasons.push(
    `${table}: query ${table}_browse lists the rows${key ? ' in key order' : ` by ${columns[0]!.name}`}, filtered by ${(browse.params as { name: string }[]).map((p) => p.name).join(', ')} when given`,
  );
  return { table: spec, query, browse, reasons };
}

/** What the queries of one table are made from: its columns, their labels (the header as written) and rows. */
interface QuerySource {
  table: string;
  columns: InferredColumn[];
  labels: string[];
  rows: Field[][];
  buf: Buffer;
}

/** The parameter that binds to column i: its type, label, and the bounds the validator needs. */
function paramOf(src: QuerySource, i: number, required: boolean) {
  const c = src.columns[i]!;
  const p: Record<string, unknown> = { name: c.name, type: c.type };
  if (required) p.required = true;
  if (c.type === 'int') Object.assign(p, PARAM_RANGE);
  if (c.type === 'string') p.maxLength = src.rows.reduce((n, r) => Math.max(n, [...text(src.buf, r[i])].length), 255);
  if (src.labels[i]) p.label = src.labels[i];
  // The help says what a value looks like in this file, rather than what the validator accepts.
  const example = src.rows.map((r) => text(src.buf, r[i])).find((v) => v.trim() !== '');
  if (example !== undefined && [...example].length <= 40) p.help = `e.g. ${example}${c.fold ? ' (in any case)' : ''}`;
  return p;
}

const fieldsOf = (src: QuerySource) =>
  src.columns.map((c, i) => (src.labels[i] ? { name: c.name, label: src.labels[i] } : { name: c.name }));

function lookupQuery(src: QuerySource, keyCols: number[]): Record<string, unknown> {
  return {
    query: src.table,
    description: `The ${src.table} row with this key.`,
    table: src.table,
    params: keyCols.map((i) => paramOf(src, i, true)),
    fields: fieldsOf(src),
  };
}

/** Every row of the table in index order, narrowed by the index's leading columns when given. */
function browseQuery(src: QuerySource, index: string, cols: number[]): Record<string, unknown> {
  return {
    query: `${src.table}_browse`,
    description: `The rows of ${src.table}, narrowed by ${cols.map((i) => src.columns[i]!.name).join(' and ')} when given.`,
    table: src.table,
    ...(index === 'key' ? {} : { index }),
    params: cols.map((i) => paramOf(src, i, false)),
    fields: fieldsOf(src),
  };
}
