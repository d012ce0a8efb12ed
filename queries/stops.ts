/**
 * stops(q, limit?): stops whose stop_name contains q, ignoring ASCII letter case only (so the answer does not
 * depend on a locale or on Unicode case tables), in (stop_name, stop_id) byte order — the order of the byName
 * index. The lower-cased names are derived once per generation (deriveStops, run by the load thread) and packed
 * in that order into shared bytes, which one Buffer#indexOf per match searches until `limit` matches.
 */
import type { StopsParams, StopsRow } from '../.roq/generated/queries.js';
import type { Db } from '../.roq/generated/tables.js';
import { derivedOf, packedMatches, packStrings, type Derived } from 'roq/queries/derived.js';

/** Lower-cases A–Z and nothing else. */
export function asciiLower(s: string): string {
  return /[A-Z]/.test(s) ? s.replace(/[A-Z]/g, (c) => String.fromCharCode(c.charCodeAt(0) | 0x20)) : s;
}

/** The stops' lower-cased names in byName order, packed (see derived.ts). */
export function deriveStops(db: Db): Derived {
  const { stops } = db.tables;
  const { bytes, starts } = packStrings(Array.from(stops.byName.rows, (row) => asciiLower(stops.stopName(row))));
  return { lowerNames: bytes, starts };
}

export function runStops(db: Db, p: StopsParams): StopsRow[] {
  const { stops } = db.tables;
  const { lowerNames, starts } = derivedOf(db, 'stops') as { lowerNames: Uint8Array; starts: Int32Array };
  const rows = stops.byName.rows;
  return packedMatches(lowerNames, starts, asciiLower(p.q), p.limit).map((i) => {
    const row = rows[i]!;
    return [
      stops.stopId(row),
      stops.stopName(row),
      stops.stopLat(row),
      stops.stopLon(row),
      stops.locationType(row),
      stops.parentStation(row),
    ];
  });
}
