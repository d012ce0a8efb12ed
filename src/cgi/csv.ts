/**
 * format=csv: an answer as RFC 4180 text, a header line of field names then one line per row, CRLF line ends. A
 * cell is quoted when it holds a comma, a quote, a line break or leading or trailing spaces, with quotes doubled.
 */
import type { Cell, Field } from '../protocol.js';

const NEEDS_QUOTES = /[",\r\n]|^\s|\s$/;

export function csvCell(cell: Cell): string {
  const text = String(cell);
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export function toCsv(fields: readonly Field[], rows: readonly Cell[][]): string {
  let out = fields.map((f) => csvCell(f.name)).join(',') + '\r\n';
  for (const row of rows) out += row.map(csvCell).join(',') + '\r\n';
  return out;
}
