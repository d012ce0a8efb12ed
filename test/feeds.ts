/**
 * Small hand-made GTFS feeds for tests: writeFeed({ 'stops.txt': '…', … }) writes the files into a fresh temporary
 * directory and returns its path. Directories are removed when the test file's tests are done (helpers/temp.ts).
 *
 * TINY_FEED is a complete, valid feed (one station with a platform, two routes, three trips, calendar and
 * calendar_dates) for tests that need some feed rather than a particular one:
 *   writeFeed(TINY_FEED), or writeFeed({ ...TINY_FEED, 'stops.txt': other }).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from './helpers/temp.js';

export function writeFeed(files: Record<string, string>): string {
  const dir = tempDir('roq-feed-');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Lines → file text: one record per line, '\n' line ends, a final line end. */
export function csv(...lines: string[]): string {
  return lines.join('\n') + '\n';
}

export const TINY_FEED: Record<string, string> = {
  'agency.txt': csv(
    'agency_id,agency_name,agency_url,agency_timezone',
    'A,Tiny Transit,https://example.org,Europe/Berlin',
  ),
  'stops.txt': csv(
    'stop_id,stop_name,stop_lat,stop_lon,location_type,parent_station',
    'S,Central Station,52.5,13.4,1,',
    'S1,Central Station Platform 1,52.5,13.4,0,S',
    'N,North Park,52.6,13.4,0,',
  ),
  'routes.txt': csv(
    'route_id,agency_id,route_short_name,route_long_name,route_type',
    'R1,A,1,Red Line,3',
    'R2,A,2,Blue Line,3',
  ),
  'trips.txt': csv(
    'route_id,service_id,trip_id,trip_headsign,direction_id',
    'R1,WEEK,T1,North Park,0',
    'R1,WEEK,T2,North Park,0',
    'R2,SUN,T3,Central Station,1',
  ),
  'stop_times.txt': csv(
    'trip_id,arrival_time,departure_time,stop_id,stop_sequence',
    'T1,08:00:00,08:00:00,S1,1',
    'T1,08:10:00,08:10:00,N,2',
    'T2,23:50:00,23:50:00,S1,1',
    'T2,24:20:00,24:20:00,N,2',
    'T3,9:00:00,9:00:00,N,1',
    'T3,9:10:00,9:10:00,S,2',
  ),
  'calendar.txt': csv(
    'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date',
    'WEEK,1,1,1,1,1,0,0,20250101,20251231',
    'SUN,0,0,0,0,0,0,1,20250101,20251231',
  ),
  'calendar_dates.txt': csv('service_id,date,exception_type', 'WEEK,20251225,2', 'SUN,20251225,1'),
};
