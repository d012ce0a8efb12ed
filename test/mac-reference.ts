/**
 * A naive reference of the MAC vendor app's two queries (issue 11), sharing no code with it: csv-parse instead of
 * roq's scanner, a scan of every entry instead of indexes, Buffer.compare for byte order.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

export interface MacEntry {
  registry: string;
  assignment: string;
  prefix_bits: number;
  organization: string;
  address: string;
}

const bytes = (a: string, b: string) => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
const trim = (s: string) => s.replace(/ +$/, '');

export function macReference(dataDir: string) {
  const entries: MacEntry[] = [];
  for (const f of ['oui.csv', 'mam.csv', 'oui36.csv', 'iab.csv']) {
    const rows = parse(readFileSync(join(dataDir, f)), { columns: true, bom: true, skip_empty_lines: true }) as Record<
      string,
      string
    >[];
    for (const r of rows) {
      const assignment = r.Assignment!;
      entries.push({
        registry: trim(r.Registry!),
        assignment,
        prefix_bits: 4 * assignment.length,
        organization: trim(r['Organization Name']!),
        address: trim(r['Organization Address']!),
      });
    }
  }
  return {
    entries,
    /** undefined: the input is not a MAC address or prefix (a 400 naming mac). */
    vendor(mac: string): MacEntry[] | undefined {
      const groups = mac.split(/[:.-]/);
      if (groups.some((g) => !/^[0-9a-fA-F]+$/.test(g))) return undefined;
      const digits = groups.join('').toUpperCase();
      if (digits.length < 6 || digits.length > 12) return undefined;
      return entries
        .filter((e) => digits.startsWith(e.assignment.toUpperCase()))
        .sort(
          (a, b) =>
            b.prefix_bits - a.prefix_bits ||
            bytes(a.organization, b.organization) ||
            bytes(a.address, b.address) ||
            bytes(a.registry, b.registry),
        );
    },
    vendors(q: string, limit = 20): MacEntry[] {
      const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
      return entries
        .filter((e) => lower(e.organization).includes(lower(q)))
        .sort(
          (a, b) =>
            bytes(a.organization, b.organization) ||
            bytes(a.assignment, b.assignment) ||
            bytes(a.address, b.address) ||
            bytes(a.registry, b.registry),
        )
        .slice(0, limit);
    },
  };
}
