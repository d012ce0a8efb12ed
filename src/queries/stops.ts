/**
 * stops(q, limit?): stops whose stop_name contains q, ignoring ASCII letter case only (so the answer does not
 * depend on a locale or on Unicode case tables), in (stop_name, stop_id) byte order — the order of the byName
 * index, which the scan walks until `limit` matches.
 */
import type { StopsParams, StopsRow } from '../generated/queries.js';
import type { Db } from './db.js';
import { memoized } from './db.js';

/** Lower-cases A–Z and nothing else. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20)) : s;
}

export function runStops(db: Db, p: StopsParams): StopsRow[] {
  const { stops } = db.tables;
  const names = memoized(db, 'stops:lowerNames', () => Array.from({ length: stops.rows }, (_, row) => asciiLower(stops.stopName(row))));
  const q = asciiLower(p.q);
  const out: StopsRow[] = [];
  const rows = stops.byName.rows;
  for (let i = 0; i < rows.length && out.length < p.limit; i++) {
    const row = rows[i]!;
    if (!names[row]!.includes(q)) continue;
    out.push([stops.stopId(row), stops.stopName(row), stops.stopLat(row), stops.stopLon(row), stops.locationType(row), stops.parentStation(row)]);
  }
  return out;
}
