/**
 * Validation of query parameters, driven by the query specs generated from schemas/queries/*.json. The CGI
 * program validates before it contacts the daemon (a bad value never costs a round trip) and the daemon validates
 * again (anything can be written into REQUESTS). Both call parseParams with the same spec.
 */
import { missingDay, parseClockTime, parseIsoDate } from './dates.js';
import { RoqError, roqError } from './errors.js';
import type { QuerySpec } from './app/queries.js';
import type { DateRange } from './protocol.js';

/**
 * The spec of query `name` among `specs` (an app's, or the run directory's queries.json); ROQ_QUERY_UNKNOWN
 * listing the known ones when there is none. The one place that check is made: CLI, CGI pages and engine alike.
 */
export function querySpecOf(specs: Record<string, QuerySpec>, name: string): QuerySpec {
  const spec = Object.hasOwn(specs, name) ? specs[name] : undefined;
  if (!spec) throw roqError('ROQ_QUERY_UNKNOWN', { query: name.slice(0, 40), known: Object.keys(specs).join(', ') });
  return spec;
}

/** A query's own parameters from a form: its other fields are dropped, and an empty value counts as missing. */
export function formParams(spec: QuerySpec, form: Record<string, string>): Record<string, string> {
  const raw: Record<string, string> = {};
  for (const p of spec.params) {
    const value = form[p.name];
    if (value !== undefined && value !== '') raw[p.name] = value;
  }
  return raw;
}

/** What the pages and help say of a parameter: `label` names its input, `help` is the line below it. */
type ParamText = { description?: string; label?: string; help?: string };

export type ParamSpec = ParamText &
  (
    | { name: string; type: 'string'; required?: boolean; default?: string; maxLength?: number }
    | { name: string; type: 'int'; required?: boolean; default?: number; min: number; max: number }
    | { name: string; type: 'float'; required?: boolean; default?: number; min?: number; max?: number }
    | { name: string; type: 'bool'; required?: boolean; default?: boolean }
    | { name: string; type: 'date'; required?: boolean; default?: string }
    | { name: string; type: 'time'; required?: boolean; default?: string }
  );

/** Parsed values: strings stay strings; ints and floats are numbers; dates are yyyymmdd numbers; times are seconds. */
export type ParamValue = string | number | boolean;

const EXPECTED = {
  string: (maxLength: number) => `text of at most ${maxLength} characters without control characters`,
  int: (min: number, max: number) => `a whole number from ${min} to ${max}`,
  float: (min?: number, max?: number) =>
    `a decimal number${min !== undefined && max !== undefined ? ` from ${min} to ${max}` : min !== undefined ? ` of at least ${min}` : max !== undefined ? ` of at most ${max}` : ''}`,
  bool: () => 'true or false (also 1 or 0, yes or no, on or off)',
  date: () => 'a date YYYY-MM-DD',
  time: () => 'a time of day HH:MM or HH:MM:SS (00:00 to 23:59:59)',
};

export function expectedForm(spec: ParamSpec): string {
  switch (spec.type) {
    case 'string':
      return EXPECTED.string(spec.maxLength ?? 256);
    case 'int':
      return EXPECTED.int(spec.min, spec.max);
    case 'float':
      return EXPECTED.float(spec.min, spec.max);
    case 'bool':
      return EXPECTED.bool();
    case 'date':
      return EXPECTED.date();
    case 'time':
      return EXPECTED.time();
  }
}

const FLOAT_TEXT = /^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]{1,3})?$/;
const BOOL_TEXT: Record<string, boolean> = {
  true: true,
  false: false,
  '1': true,
  '0': false,
  yes: true,
  no: false,
  on: true,
  off: false,
};

/** A decimal number, or NaN (no hex, no Infinity, no text around it). */
export function parseDecimal(text: string): number {
  const n = FLOAT_TEXT.test(text) ? Number(text) : NaN;
  return Number.isFinite(n) ? n : NaN;
}

/** true or false from the usual spellings in any case, or undefined. */
export function parseBool(text: string): boolean | undefined {
  const key = text.toLowerCase();
  return Object.hasOwn(BOOL_TEXT, key) ? BOOL_TEXT[key] : undefined;
}

// Control characters (C0, DEL, C1) are refused in text parameters: no key or name needs them, and refusing
// them keeps logs and pages clean.
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;

/** Characters as a person counts them (code points): an emoji is one, not the two UTF-16 units of text.length. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

function parseOne(spec: ParamSpec, text: string): ParamValue {
  const bad = () =>
    roqError('ROQ_PARAM_INVALID', { param: spec.name, expected: expectedForm(spec), value: text.slice(0, 40) });
  switch (spec.type) {
    case 'string':
      if (codePoints(text) > (spec.maxLength ?? 256) || CONTROL_CHARS.test(text)) throw bad();
      return text;
    case 'int': {
      if (!/^-?[0-9]{1,10}$/.test(text)) throw bad();
      const n = Number(text);
      if (n < spec.min || n > spec.max) throw bad();
      return n;
    }
    case 'float': {
      const n = parseDecimal(text);
      if (Number.isNaN(n) || (spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max))
        throw bad();
      return n;
    }
    case 'bool': {
      const b = parseBool(text);
      if (b === undefined) throw bad();
      return b;
    }
    case 'date': {
      const d = parseIsoDate(text);
      if (Number.isNaN(d)) {
        const missing = missingDay(text);
        throw missing ? roqError('ROQ_PARAM_NO_SUCH_DAY', { param: spec.name, value: text, detail: missing }) : bad();
      }
      return d;
    }
    case 'time': {
      const t = parseClockTime(text);
      if (Number.isNaN(t)) throw bad();
      return t;
    }
  }
}

/**
 * Validates raw text parameters against a query's specs. Missing optional parameters take their defaults; an empty
 * value counts as missing. Unknown names are refused so that a typo ("stpo=") is an error, not a silent default.
 * Throws a RoqError naming the parameter at fault.
 */
export function parseParams(
  query: string,
  specs: readonly ParamSpec[],
  raw: Record<string, string>,
): Record<string, ParamValue> {
  for (const name of Object.keys(raw)) {
    if (!specs.some((s) => s.name === name)) throw roqError('ROQ_PARAM_UNKNOWN', { param: name.slice(0, 40), query });
  }
  const out: Record<string, ParamValue> = {};
  for (const spec of specs) {
    const text = raw[spec.name];
    if (text === undefined || text === '') {
      if (spec.required) throw roqError('ROQ_PARAM_MISSING', { param: spec.name, expected: expectedForm(spec) });
      if (spec.default === undefined) out[spec.name] = spec.type === 'string' ? '' : spec.type === 'bool' ? false : NaN;
      else out[spec.name] = typeof spec.default === 'string' ? parseOne(spec, spec.default) : spec.default;
      continue;
    }
    out[spec.name] = parseOne(spec, text);
  }
  return out;
}

/**
 * Every problem with a form's parameters, not just the first: one RoqError per unknown name and per parameter at
 * fault, in the spec's order. The web page marks them all at once; the daemon and the CLI use parseParams.
 */
export function paramProblems(query: string, specs: readonly ParamSpec[], raw: Record<string, string>): RoqError[] {
  const problems: RoqError[] = [];
  for (const name of Object.keys(raw)) {
    if (!specs.some((s) => s.name === name))
      problems.push(roqError('ROQ_PARAM_UNKNOWN', { param: name.slice(0, 40), query }));
  }
  for (const spec of specs) {
    try {
      parseParams(query, [spec], raw[spec.name] === undefined ? {} : { [spec.name]: raw[spec.name]! });
    } catch (e) {
      if (!(e instanceof RoqError)) throw e;
      problems.push(e);
    }
  }
  return problems;
}

/**
 * When a date parameter asks about a day outside the days the data covers: a sentence saying so, with the range.
 * An empty answer for such a day is not the stop's or the route's fault, and the user should be told.
 */
export function datesNotice(
  specs: readonly ParamSpec[],
  raw: Record<string, string>,
  range: DateRange | undefined,
  /** What the data is to its users (app.json's dataNoun): "The data covers …". */
  noun = 'data',
): string | undefined {
  if (!range) return undefined;
  for (const spec of specs) {
    const value = raw[spec.name];
    if (spec.type !== 'date' || value === undefined || Number.isNaN(parseIsoDate(value))) continue;
    if (value < range.start || value > range.end)
      return `The ${noun} covers ${range.start} to ${range.end}; ${value} is outside it, so there is nothing to show for that day.`;
  }
  return undefined;
}
