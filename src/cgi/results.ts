/**
 * The results of a query as the generic page shows them: a table whose columns are the query's fields (numbers
 * aligned right) and whose rows are the answer's cells, plus links to the same answer as JSON and CSV. Each row also
 * carries its values by field name, so that an app's own template can lay a row out as it likes
 * (`{{values.organization}}`) instead of cell by cell.
 */
import type { Cell, Field } from '../protocol.js';
import { labelOf } from './form.js';

export interface ResultsView {
  columns: { name: string; label: string; numeric: boolean }[];
  rows: { cells: { text: string; numeric: boolean }[]; values: Record<string, string> }[];
  count: number;
  one: boolean;
  found: boolean;
  generation: number;
}

export function resultsOf(fields: readonly Field[], rows: readonly Cell[][], generation: number): ResultsView {
  const numeric = fields.map((f) => f.type === 'int' || f.type === 'float');
  return {
    columns: fields.map((f, i) => ({ name: f.name, label: labelOf(f.name), numeric: numeric[i]! })),
    rows: rows.map((r) => ({
      cells: r.map((c, i) => ({ text: String(c), numeric: numeric[i]! })),
      values: Object.fromEntries(fields.map((f, i) => [f.name, String(r[i])])),
    })),
    count: rows.length,
    one: rows.length === 1,
    found: rows.length > 0,
    generation,
  };
}
