/**
 * vendor(mac): every registry entry whose assignment is a prefix of the address's hex digits, longest prefix first,
 * equal prefixes by organization then address (byte order). An assignment is looked up by its text in each
 * table's byAssignment index, once per prefix length: a dozen binary searches, whatever the registry holds.
 */
import type { Db } from '../.roq/generated/tables.js';
import { roqError } from 'roq/errors.js';
import type { VendorParams, VendorRow } from '../.roq/generated/queries.js';
import { compareText, entryRow, registryTables } from './entries.js';

/** Hex digits in groups separated by one ':', '-' or '.' each (00:1a:2b…, 001A.2B3C…, 00-1A-2B…, 001a2b…). */
const MAC = /^[0-9A-Fa-f]+(?:[:.-][0-9A-Fa-f]+)*$/;

/** The upper-case hex digits of a MAC address or prefix, or a 400 naming `mac`. */
export function macDigits(mac: string): string {
  const digits = MAC.test(mac) ? mac.replace(/[:.-]/g, '').toUpperCase() : '';
  if (digits.length < 6 || digits.length > 12) {
    throw roqError('ROQ_PARAM_INVALID', {
      param: 'mac',
      expected: '6 to 12 hex digits, optionally separated by :, - or .',
      value: mac.slice(0, 40),
    });
  }
  return digits;
}

export function runVendor(db: Db, p: VendorParams): VendorRow[] {
  const digits = macDigits(p.mac);
  const out: VendorRow[] = [];
  for (const t of registryTables(db)) {
    for (let length = 1; length <= digits.length; length++) {
      const code = t.assignmentCodeOf(digits.slice(0, length));
      if (code < 0) continue;
      const ix = t.byAssignment;
      const end = ix.upperBound([code]);
      for (let i = ix.lowerBound([code]); i < end; i++) out.push(entryRow(t, ix.rows[i]!));
    }
  }
  return out.sort(
    (a, b) => b[2] - a[2] || compareText(a[3], b[3]) || compareText(a[4], b[4]) || compareText(a[0], b[0]),
  );
}
