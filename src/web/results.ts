/**
 * The results of a query as the generic page shows them: a table whose columns are the query's fields (numbers
 * aligned right) and whose rows are the answer's cells, plus links to the same answer as JSON and CSV. Each row also
 * carries its values by field name, so that an app's own template can lay a row out as it likes
 * (`{{values.organization}}`) instead of cell by cell. Column labels are the schema's field `label`s where it gives
 * them; a one-row answer is also given as a record (label and value per field), which the generic page shows as a
 * list rather than a one-row table as wide as the fields are many.
 */
import type { Cell, Field } from '../protocol.js';
import { labelOf } from './form.js';

export interface ResultsView {
  columns: { name: string; label: string; help: string; numeric: boolean }[];
  rows: { cells: { text: string; label: string; numeric: boolean }[]; values: Record<string, string> }[];
  /** The one row as a list of label and value, when the answer is one row (a record reads down, not across). */
  record?: { label: string; help: string; text: string }[];
  count: number;
  one: boolean;
  found: boolean;
  generation: number;
}

export function resultsOf(
  fields: readonly Field[],
  rows: readonly Cell[][],
  generation: number,
  text: Record<string, { label?: string; help?: string }> = {},
): ResultsView {
  const numeric = fields.map((f) => f.type === 'int' || f.type === 'float');
  const columns = fields.map((f, i) => ({
    name: f.name,
    label: text[f.name]?.label ?? labelOf(f.name),
    help: text[f.name]?.help ?? '',
    numeric: numeric[i]!,
  }));
  return {
    columns,
    rows: rows.map((r) => ({
      cells: r.map((c, i) => ({ text: String(c), label: columns[i]!.label, numeric: numeric[i]! })),
      values: Object.fromEntries(fields.map((f, i) => [f.name, String(r[i])])),
    })),
    ...(rows.length === 1
      ? { record: columns.map((c, i) => ({ label: c.label, help: c.help, text: String(rows[0]![i]) })) }
      : {}),
    count: rows.length,
    one: rows.length === 1,
    found: rows.length > 0,
    generation,
  };
}

/** Rows per page of the generic page; an answer longer than this is shown a page at a time. */
export const PAGE_ROWS = 20;

export interface PagingView {
  /** "rows 21–40 of 57" */
  text: string;
  prev?: string;
  next?: string;
}

/** The offset a `cursor` field asks for: a whole number of rows from 0, else 0. */
export function cursorOf(form: Record<string, string>): number {
  const c = form.cursor ?? '';
  return /^[0-9]{1,7}$/.test(c) ? Number(c) : 0;
}

/**
 * The page of an answer that starts at `cursor`, with links to the pages before and after it (`link(cursor)` makes
 * a URL): the generic page shows an answer of any length PAGE_ROWS rows at a time.
 */
export function pageOf<T>(
  rows: readonly T[],
  cursor: number,
  link: (cursor: number) => string,
  limit?: number,
): { rows: readonly T[]; paging?: PagingView } {
  if (rows.length <= PAGE_ROWS && cursor === 0) return { rows };
  const start = Math.min(cursor, Math.max(0, rows.length - 1));
  const page = rows.slice(start, start + PAGE_ROWS);
  // An answer as long as the query's limit may have been cut there: say so rather than give a false total.
  const total = rows.length === limit ? `at least ${rows.length}` : String(rows.length);
  const paging: PagingView = {
    text: `rows ${start + 1}–${start + page.length} of ${total}`,
  };
  if (start > 0) paging.prev = link(Math.max(0, start - PAGE_ROWS));
  if (start + PAGE_ROWS < rows.length) paging.next = link(start + PAGE_ROWS);
  return { rows: page, paging };
}
