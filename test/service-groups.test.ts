/**
 * Service groups (src/queries/calendar.ts, serviceGroups): the board runs keep one run per stop and group of
 * services active on exactly the same days, so a board of a bus network with a service_id per depot and day type
 * merges a few runs instead of dozens. Grouping two services that differ on a single day would show a trip on a day
 * it does not run; these cases pin down what may share a group and what may not.
 */
import { describe, expect, it } from 'vitest';
import { loadGeneration } from '../src/load/loader.js';
import { openDb } from '../src/queries/db.js';
import { serviceGroups } from '../queries/calendar.js';
import { openGeneration, runQuery } from '../src/engine.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';

const CALENDAR = 'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date';

/** A feed with one trip per service (trip T<service> at 08:00 from stop S1), and the given calendars. */
function feedOf(services: string[], calendar: string[], dates: string[]): Record<string, string> {
  return {
    ...TINY_FEED,
    'trips.txt': csv(
      'route_id,service_id,trip_id,trip_headsign,direction_id',
      ...services.map((s) => `R1,${s},T${s},N,0`),
    ),
    'stop_times.txt': csv(
      'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
      ...services.flatMap((s) => [`T${s},08:00:00,08:00:00,S1,1`, `T${s},08:10:00,08:10:00,N,2`]),
    ),
    'calendar.txt': csv(CALENDAR, ...calendar),
    'calendar_dates.txt': csv('service_id,date,exception_type', ...dates),
  };
}

/** service_id → group, through the trips dictionary. */
async function groupsOf(files: Record<string, string>): Promise<Record<string, number>> {
  const g = await loadGeneration(writeFeed(files), 1, { warn: () => undefined });
  const db = openDb(g);
  const groups = serviceGroups(db);
  const out: Record<string, number> = {};
  for (let code = 0; code < groups.length; code++) out[db.tables.trips.serviceIdOfCode(code)] = groups[code]!;
  return out;
}

describe('service groups', () => {
  it('put services active on the same days together, and apart when one exception tells them apart', async () => {
    const g = await groupsOf(
      feedOf(
        ['A_WK', 'B_WK', 'C_WK', 'A_SA', 'B_SA', 'NEVER'],
        [
          'A_WK,1,1,1,1,1,0,0,20250101,20250331',
          'B_WK,1,1,1,1,1,0,0,20250101,20250331',
          // Same days as A_WK, written differently: a wider range whose extra days are removed or are weekends.
          'C_WK,1,1,1,1,1,0,0,20250101,20250402',
          'A_SA,0,0,0,0,0,1,0,20250101,20250331',
          'B_SA,0,0,0,0,0,1,0,20250101,20250331',
          'NEVER,0,0,0,0,0,0,0,20250101,20250331',
        ],
        ['C_WK,20250401,2', 'C_WK,20250402,2', 'B_SA,20250315,2', 'B_SA,20250316,1'],
      ),
    );
    expect(g['A_WK']).toBe(g['B_WK']);
    expect(g['A_WK']).toBe(g['C_WK']);
    expect(g['A_SA']).not.toBe(g['B_SA']);
    expect(g['A_SA']).not.toBe(g['A_WK']);
    expect(g['NEVER']).toBe(-1);
    expect(new Set(Object.values(g)).size).toBe(4);
  });

  it('keep a group per service when the calendar spans more days than grouping evaluates', async () => {
    // Identical services, but over 9,000 years: evaluating every day would stall the load.
    const g = await groupsOf(
      feedOf(['A', 'B'], ['A,1,1,1,1,1,1,1,10000101,99991231', 'B,1,1,1,1,1,1,1,10000101,99991231'], []),
    );
    expect(g['A']).not.toBe(g['B']);
    expect(g['A']).toBeGreaterThanOrEqual(0);
    expect(g['B']).toBeGreaterThanOrEqual(0);
  });

  it('leave departures exact on the days that tell grouped-looking services apart', async () => {
    const files = feedOf(
      ['A', 'B'],
      ['A,1,1,1,1,1,0,0,20250101,20250131', 'B,1,1,1,1,1,0,0,20250101,20250131'],
      ['B,20250115,2', 'A,20250118,1'],
    );
    const db = openGeneration(await loadGeneration(writeFeed(files), 1, { warn: () => undefined }));
    const trips = (date: string) => runQuery(db, 'departures', { stop: 'S', date }).rows.map((r) => r[5]);
    expect(trips('2025-01-14')).toEqual(['TA', 'TB']);
    expect(trips('2025-01-15')).toEqual(['TA']);
    expect(trips('2025-01-18')).toEqual(['TA']);
    expect(trips('2025-02-03')).toEqual([]);
  });
});
