/**
 * The baseline a user would pick instead of roq: import the GTFS files into SQLite once (as node-gtfs users do),
 * then answer docs/QUERIES.md with prepared statements. It is meant to be a good-faith SQLite setup, not a straw
 * man: times are stored as seconds, the board walks an index on (stop_id, departure_seconds) that also covers the
 * columns it filters and sorts on, the stop search walks (stop_name, stop_id), and ANALYZE runs after the import.
 * test/baselines.test.ts checks that it answers exactly like roq, so comparing their speed is fair.
 *
 * Parameters go through roq's own parseParams and query specs: the same defaults, the same accepted forms
 * (HH:MM or HH:MM:SS) and the same errors, so a difference in the answers can only come from the query itself.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { parse } from 'csv-parse/sync';
import { parseParams } from '../src/params.js';
import { QUERY_SPECS } from '../src/app/queries.js';

type CsvRow = Record<string, string | undefined>;
export type Params = Record<string, string | number | undefined>;
export type Row = Record<string, string | number>;

const WEEKDAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;
const DAY = 86400;

/**
 * Calls onRow for each row of a table file (none when the file is absent). The file is parsed by csv-parse in
 * pieces of about 8 MB, cut at line feeds outside quotes (an even number of quotes before them), so a 150 MB
 * stop_times.txt never becomes 2.4 M row objects at once.
 */
function forEachRow(dataDir: string, file: string, onRow: (r: CsvRow) => void): void {
  const path = join(dataDir, file);
  if (!existsSync(path)) return;
  const buf = readFileSync(path);
  let columns: string[] | undefined;
  let from = buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  while (from < buf.length) {
    const to = recordBoundary(buf, from, columns ? from + (8 << 20) : from);
    const piece = buf.subarray(from, to);
    if (!columns) {
      const header = (parse(piece, { skip_empty_lines: true }) as string[][])[0];
      columns = (header ?? []).map((x) => x.trim());
    } else {
      for (const r of parse(piece, { columns, skip_empty_lines: true }) as CsvRow[]) onRow(r);
    }
    from = to;
  }
}

/** The position after the first line feed at or after `at` that ends a record, or the end of buf; `from` starts one. */
function recordBoundary(buf: Buffer, from: number, at: number): number {
  if (at >= buf.length) return buf.length;
  let quotes = 0;
  for (let i = from; i < at; i++) if (buf[i] === 0x22) quotes++;
  for (let i = at; i < buf.length; i++) {
    const b = buf[i];
    if (b === 0x22) quotes++;
    else if (b === 0x0a && quotes % 2 === 0) return i + 1;
  }
  return buf.length;
}

/** GTFS time (hours may exceed 23 and have one digit) → seconds; null when empty or malformed. */
function gtfsSeconds(text: string | undefined): number | null {
  const m = /^\s*(\d+):(\d\d):(\d\d)\s*$/.exec(text ?? '');
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

const int = (text: string | undefined, missing: number): number => {
  const t = (text ?? '').trim();
  return t === '' ? missing : Number(t);
};

const asciiLower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());

const SCHEMA = `
  CREATE TABLE stops (stop_id TEXT, stop_name TEXT, stop_name_lower TEXT, stop_lat TEXT, stop_lon TEXT,
                      location_type TEXT, parent_station TEXT);
  CREATE TABLE routes (route_id TEXT PRIMARY KEY, route_short_name TEXT, route_long_name TEXT) WITHOUT ROWID;
  CREATE TABLE trips (trip_id TEXT PRIMARY KEY, route_id TEXT, service_id TEXT, trip_headsign TEXT,
                      direction_id TEXT) WITHOUT ROWID;
  CREATE TABLE stop_times (trip_id TEXT, stop_id TEXT, stop_sequence INTEGER, departure_time TEXT,
                           departure_seconds INTEGER, pickup_type INTEGER);
  CREATE TABLE calendar (service_id TEXT, start_date INTEGER, end_date INTEGER, monday INTEGER, tuesday INTEGER,
                         wednesday INTEGER, thursday INTEGER, friday INTEGER, saturday INTEGER, sunday INTEGER);
  CREATE TABLE calendar_dates (service_id TEXT, date INTEGER, exception_type INTEGER);
`;

// Created after the rows are in (faster than maintaining them row by row).
const INDEXES = `
  CREATE INDEX stop_times_board ON stop_times (stop_id, departure_seconds, trip_id, stop_sequence, pickup_type, departure_time);
  CREATE INDEX stops_parent ON stops (parent_station);
  CREATE INDEX stops_name ON stops (stop_name, stop_id);
  CREATE INDEX calendar_dates_day ON calendar_dates (date, service_id, exception_type);
  ANALYZE;
`;

/**
 * Imports the tables both queries need from dataDir's CSV files into a new SQLite file at dbPath (replacing it).
 * A trip_id or route_id given twice keeps its first row, as the reference does. Missing columns become ''.
 */
export function buildSqlite(dataDir: string, dbPath: string): void {
  rmSync(dbPath, { force: true });
  const db = new Database(dbPath);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(SCHEMA);
    const s = (v: string | undefined) => v ?? '';
    const load = <T extends unknown[]>(file: string, sql: string, values: (r: CsvRow) => T) => {
      const insert = db.prepare(sql);
      db.transaction(() => forEachRow(dataDir, file, (r) => insert.run(...values(r))))();
    };
    load('stops.txt', 'INSERT INTO stops VALUES (?, ?, ?, ?, ?, ?, ?)', (r) => [
      s(r.stop_id),
      s(r.stop_name),
      asciiLower(s(r.stop_name)),
      s(r.stop_lat),
      s(r.stop_lon),
      s(r.location_type),
      s(r.parent_station),
    ]);
    load('routes.txt', 'INSERT OR IGNORE INTO routes VALUES (?, ?, ?)', (r) => [
      s(r.route_id),
      s(r.route_short_name),
      s(r.route_long_name),
    ]);
    load('trips.txt', 'INSERT OR IGNORE INTO trips VALUES (?, ?, ?, ?, ?)', (r) => [
      s(r.trip_id),
      s(r.route_id),
      s(r.service_id),
      s(r.trip_headsign),
      s(r.direction_id),
    ]);
    load('stop_times.txt', 'INSERT INTO stop_times VALUES (?, ?, ?, ?, ?, ?)', (r) => [
      s(r.trip_id),
      s(r.stop_id),
      int(r.stop_sequence, 0),
      s(r.departure_time),
      gtfsSeconds(r.departure_time),
      int(r.pickup_type, 0),
    ]);
    load('calendar.txt', 'INSERT INTO calendar VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)', (r) => [
      s(r.service_id),
      int(r.start_date, 0),
      int(r.end_date, 0),
      ...WEEKDAYS.slice(1)
        .concat('sunday')
        .map((d) => int(r[d], 0)),
    ]);
    load('calendar_dates.txt', 'INSERT INTO calendar_dates VALUES (?, ?, ?)', (r) => [
      s(r.service_id),
      int(r.date, 0),
      int(r.exception_type, 0),
    ]);
    db.exec(INDEXES);
  } finally {
    db.close();
  }
}

// The service_ids active on day $<d> (yyyymmdd), whose weekday is $<d>_wd (0 = Sunday), per docs/QUERIES.md.
const activeOn = (d: string) => `
  SELECT service_id FROM calendar c
   WHERE c.start_date <= $${d} AND $${d} <= c.end_date
     AND CASE $${d}_wd WHEN 0 THEN c.sunday WHEN 1 THEN c.monday WHEN 2 THEN c.tuesday WHEN 3 THEN c.wednesday
                       WHEN 4 THEN c.thursday WHEN 5 THEN c.friday ELSE c.saturday END = 1
     AND NOT EXISTS (SELECT 1 FROM calendar_dates x
                      WHERE x.date = $${d} AND x.service_id = c.service_id AND x.exception_type = 2)
  UNION
  SELECT service_id FROM calendar_dates WHERE date = $${d} AND exception_type = 1`;

// One service day's candidates: trips of the services active on $<d>, departing in [after, 86400) once the
// day's $<d>_offset (0 for the date itself, 86400 for the day before) is taken off.
const candidates = (d: string) => `
  SELECT st.departure_seconds - $${d}_offset AS t, $${d}_iso AS service_date, st.departure_time, st.stop_id,
         st.stop_sequence, st.trip_id, tr.trip_headsign, tr.direction_id, tr.route_id
    FROM stop_times st JOIN trips tr ON tr.trip_id = st.trip_id
   WHERE st.stop_id IN (SELECT stop_id FROM board)
     AND st.departure_seconds >= $after + $${d}_offset AND st.departure_seconds < ${DAY} + $${d}_offset
     AND st.pickup_type <> 1
     AND tr.service_id IN (SELECT service_id FROM active_${d})
     AND ($route = '' OR tr.route_id = $route)`;

const DEPARTURES_SQL = `
  WITH board(stop_id) AS (SELECT $stop UNION SELECT stop_id FROM stops WHERE parent_station = $stop),
       active_today(service_id) AS (${activeOn('today')}),
       active_eve(service_id) AS (${activeOn('eve')})
  SELECT printf('%02d:%02d:%02d', d.t / 3600, d.t / 60 % 60, d.t % 60) AS time,
         d.service_date AS service_date, d.departure_time AS departure_time, d.stop_id AS stop_id,
         d.stop_sequence AS stop_sequence, d.trip_id AS trip_id, d.trip_headsign AS trip_headsign,
         d.direction_id AS direction_id, d.route_id AS route_id,
         coalesce(r.route_short_name, '') AS route_short_name, coalesce(r.route_long_name, '') AS route_long_name
    FROM (${candidates('today')} UNION ALL ${candidates('eve')}) d
    LEFT JOIN routes r ON r.route_id = d.route_id
   ORDER BY d.t, d.trip_id COLLATE BINARY, d.stop_sequence
   LIMIT $limit`;

const STOPS_SQL = `
  SELECT stop_id, stop_name, stop_lat, stop_lon, location_type, parent_station FROM stops
   WHERE instr(stop_name_lower, $q) > 0
   ORDER BY stop_name COLLATE BINARY, stop_id COLLATE BINARY
   LIMIT $limit`;

/** yyyymmdd → { yyyymmdd of the day before, weekdays, ISO forms }. */
function serviceDays(day: number) {
  const d = new Date(Date.UTC(Math.floor(day / 10000), (Math.floor(day / 100) % 100) - 1, day % 100));
  const e = new Date(d.getTime() - DAY * 1000);
  const num = (x: Date) => x.getUTCFullYear() * 10000 + (x.getUTCMonth() + 1) * 100 + x.getUTCDate();
  const iso = (x: Date) => x.toISOString().slice(0, 10);
  return {
    today: num(d),
    today_wd: d.getUTCDay(),
    today_iso: iso(d),
    eve: num(e),
    eve_wd: e.getUTCDay(),
    eve_iso: iso(e),
  };
}

function validated(query: 'departures' | 'stops', params: Params) {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(params)) if (v !== undefined) raw[k] = String(v);
  return parseParams(query, QUERY_SPECS[query]!.params, raw);
}

/**
 * Opens a database made by buildSqlite, read-only. departures and stops validate their parameters like roq
 * (throwing its RoqError on a bad value) and return the rows as objects whose keys follow docs/QUERIES.md's field
 * order, ints as numbers.
 */
export function openSqliteQueries(dbPath: string) {
  const db = new Database(dbPath, { readonly: true, fileMustExist: true });
  const departuresStmt = db.prepare(DEPARTURES_SQL);
  const stopsStmt = db.prepare(STOPS_SQL);
  return {
    departures(params: Params): Row[] {
      const p = validated('departures', params);
      return departuresStmt.all({
        ...serviceDays(p.date as number),
        today_offset: 0,
        eve_offset: DAY,
        stop: p.stop,
        after: p.after,
        route: p.route,
        limit: p.limit,
      }) as Row[];
    },
    stops(params: Params): Row[] {
      const p = validated('stops', params);
      return stopsStmt.all({ q: asciiLower(p.q as string), limit: p.limit }) as Row[];
    },
    close(): void {
      db.close();
    },
  };
}
