/**
 * vendors(q, limit): entries whose organization contains q, ignoring ASCII letter case only, ordered by
 * organization then assignment (byte order; then address and registry, so that equal pairs keep one order).
 *
 * The answer order and the lower-cased organizations are derived once per generation by the load thread
 * (deriveVendors) into shared memory: every worker searches the same packed bytes, with no first-query spike.
 */
import type { Db } from '../.roq/generated/tables.js';
import { derivedOf, packedMatches, packStrings, type Derived } from 'roq/queries/derived.js';
import type { VendorsParams, VendorsRow } from '../.roq/generated/queries.js';
import { compareText, entryRow, registryTables } from './entries.js';

/** Lower-cases A–Z and nothing else, so that the answer depends on no locale. */
export function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20));
}

/** Every entry in answer order — its registry table and row — with the lower-cased organizations, packed. */
export function deriveVendors(db: Db): Derived {
  const entries: { table: number; row: number; cells: VendorsRow }[] = [];
  registryTables(db).forEach((t, table) => {
    for (let row = 0; row < t.rows; row++) entries.push({ table, row, cells: entryRow(t, row) });
  });
  entries.sort((x, y) => {
    const [a, b] = [x.cells, y.cells];
    return compareText(a[3], b[3]) || compareText(a[1], b[1]) || compareText(a[4], b[4]) || compareText(a[0], b[0]);
  });
  const { bytes, starts } = packStrings(entries.map((e) => asciiLower(e.cells[3])));
  return {
    tables: Uint8Array.from(entries, (e) => e.table),
    rows: Int32Array.from(entries, (e) => e.row),
    lower: bytes,
    starts,
  };
}

export function runVendors(db: Db, p: VendorsParams): VendorsRow[] {
  const d = derivedOf(db, 'vendors') as { tables: Uint8Array; rows: Int32Array; lower: Uint8Array; starts: Int32Array };
  const tables = registryTables(db);
  return packedMatches(d.lower, d.starts, asciiLower(p.q), p.limit).map((i) =>
    entryRow(tables[d.tables[i]!]!, d.rows[i]!),
  );
}
