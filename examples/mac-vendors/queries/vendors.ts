/**
 * vendors(q, limit): entries whose organization contains q, ignoring ASCII letter case only, ordered by
 * organization then assignment (byte order; then address and registry, so that equal pairs keep one order).
 */
import type { Db } from 'roq/queries/db.js';
import { memoized } from 'roq/queries/db.js';
import type { VendorsParams, VendorsRow } from '../.roq/generated/queries.js';
import { compareText, entryRow, registryTables } from './entries.js';

/** Lower-cases A–Z and nothing else, so that the answer depends on no locale. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Every entry in answer order, with its lower-cased organization. */
function allEntries(db: Db): { rows: VendorsRow[]; lower: string[] } {
  return memoized(db, 'vendors:entries', () => {
    const rows: VendorsRow[] = [];
    for (const t of registryTables(db)) for (let row = 0; row < t.rows; row++) rows.push(entryRow(t, row));
    rows.sort((a, b) => compareText(a[3], b[3]) || compareText(a[1], b[1]) || compareText(a[4], b[4]) || compareText(a[0], b[0]));
    return { rows, lower: rows.map((r) => asciiLower(r[3])) };
  });
}

export function runVendors(db: Db, p: VendorsParams): VendorsRow[] {
  const { rows, lower } = allEntries(db);
  const q = asciiLower(p.q);
  const out: VendorsRow[] = [];
  for (let i = 0; i < rows.length && out.length < p.limit; i++) if (lower[i]!.includes(q)) out.push(rows[i]!);
  return out;
}
