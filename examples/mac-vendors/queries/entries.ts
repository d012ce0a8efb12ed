/**
 * What vendor and vendors share: the four registry tables (one per file, same columns) and one answer row per
 * registry entry, with trailing spaces removed from the values as the queries' contract says.
 */
import type { Db } from '../.roq/generated/tables.js';
import { compareCodePoints } from 'roq/store/dictionary.js';
import type { VendorRow } from '../.roq/generated/queries.js';

export type RegistryTable = Db['tables']['oui'];

/** The four registries; their tables have the same columns, so one accessor type serves all. */
export function registryTables(db: Db): RegistryTable[] {
  const { oui, mam, oui36, iab } = db.tables;
  return [oui, mam, oui36, iab];
}

const TRAILING_SPACES = / +$/;

export function trimEnd(text: string): string {
  return text.replace(TRAILING_SPACES, '');
}

/** The answer row of one entry: registry, assignment, prefix_bits, organization, address. */
export function entryRow(t: RegistryTable, row: number): VendorRow {
  const assignment = t.assignment(row);
  return [t.registry(row), assignment, 4 * assignment.length, trimEnd(t.organization(row)), trimEnd(t.address(row))];
}

/** Byte order of UTF-8 text (= code point order), the order the queries promise. */
export const compareText = compareCodePoints;
