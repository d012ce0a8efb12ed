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
