/**
 * The engine knows no GTFS: no file under src/ or codegen/ names a table, a column or a concept of the departure
 * board, which is an app (queries/, templates/, app.ts, schemas/ at the project root) like any user's. A word here
 * in the engine means app knowledge leaked into it: give the app a hook for it (src/app-info.ts, page modules in
 * src/web/pages.ts) instead. Code and comments alike: a comment that explains the engine by the board's tables
 * tells a reader of src/ the engine is the board's.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '..');
const ENGINE = ['src', 'codegen'];

/**
 * GTFS's tables and columns, and the board's words. Words that are also plain English verbs or engine terms
 * (stop, stops, route, trip, shape, calendar, service) are left out; their GTFS uses are caught by the longer
 * names (stop_times, stop_id, service_id…).
 */
const WORDS = [
  'gtfs',
  'lirr',
  'mta',
  'feed',
  'feeds',
  'feed_info',
  'feed_start_date',
  'calendar_dates',
  'stop_times',
  'stop_id',
  'stop_name',
  'parent_station',
  'trip_id',
  'trips',
  'trip_headsign',
  'headsign',
  'route_id',
  'route_color',
  'service_id',
  'agency',
  'agency_timezone',
  'departure',
  'departures',
  'departure_time',
  'arrival_time',
  'timetable',
  'station',
  'stations',
  'train',
  'trains',
  'transit',
  'passenger',
  'passengers',
  'board',
  'boards',
];

const PATTERN = new RegExp(`(?<![A-Za-z0-9_])(${WORDS.join('|')})(?![A-Za-z0-9_])`, 'gi');

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile() && /\.(ts|js|c|h|html|json)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name));
}

/** Every app word in the engine's files, as `file:line: word`. */
export function appWordsIn(dirs: readonly string[]): string[] {
  const found: string[] = [];
  for (const file of dirs.flatMap((d) => filesUnder(join(ROOT, d)))) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        for (const m of line.matchAll(PATTERN)) found.push(`${relative(ROOT, file)}:${i + 1}: ${m[1]}`);
      });
  }
  return found;
}

describe('the engine and the apps', () => {
  it('names no GTFS table, column or board concept under src/ or codegen/', () => {
    expect(appWordsIn(ENGINE)).toEqual([]);
  });

  it('would see one: the word list finds the departure board in the app', () => {
    const app = appWordsIn(['queries', 'templates']);
    expect(app.some((w) => /board\.ts:\d+: board$/i.test(w))).toBe(true);
    expect(app.some((w) => / stop_times$/.test(w))).toBe(true);
  });
});
