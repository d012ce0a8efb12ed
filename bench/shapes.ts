/**
 * Two synthetic feeds with the shapes of real feeds roq had not seen (issue 14), made deterministically from a
 * seed, so that the benchmarks and the equality tests run on them without committing 150 MB of files:
 *
 *  - **sparse**: a big commuter railroad. 114 stops, 49,131 trips, 629,760 stop_times, 654 service_ids of which
 *    400 are used by trips, calendar_dates.txt only (no calendar.txt) over 257 service dates; each service runs on
 *    2–6 dates, so about 1.5 % of the trips run on any date, while the main terminal has ~40,000 stop_times rows.
 *    About 2.5 % of the departures are at or past 24:00:00 (up to 26:01), about 2.4 % of the rows have
 *    pickup_type 1 (the last stop of a trip where nobody boards).
 *  - **bigfile**: a city bus network. stop_times.txt ~153 MB: 2.4 M rows of 8 columns (with `timepoint`, which the
 *    schema does not describe), 58,000 trips with ids of about 30 characters, 4,576 stops, 37 calendar.txt rows
 *    and a few holiday exceptions; trips.txt ~5.6 MB with long headsigns.
 *
 * `scale` shrinks the trips (and so the stop_times) for the tests; the stops, services and dates stay, so the
 * proportions do too. Files go into a cache directory keyed by shape, scale and GENERATOR_VERSION and are reused
 * while complete (a `.complete` marker is written last).
 */
import { closeSync, existsSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rng } from '../test/helpers/rng.js';

export type ShapeName = 'sparse' | 'bigfile';
export const SHAPES: readonly ShapeName[] = ['sparse', 'bigfile'];

/** Bump when a generator's output changes, so stale caches are not reused. */
const GENERATOR_VERSION = 1;

type Rng = ReturnType<typeof rng>;

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;
const clock = (s: number) => `${pad2(Math.floor(s / 3600))}:${pad2(Math.floor(s / 60) % 60)}:${pad2(s % 60)}`;
const ymd = (ms: number) => new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');

/** Appends lines to a file through a 1 MB string buffer (the big shape writes 150 MB). */
class LineWriter {
  private fd: number;
  private chunk = '';
  constructor(path: string, header: string) {
    this.fd = openSync(path, 'w');
    this.chunk = header + '\n';
  }
  line(text: string): void {
    this.chunk += text + '\n';
    if (this.chunk.length > 1 << 20) {
      writeSync(this.fd, this.chunk);
      this.chunk = '';
    }
  }
  close(): void {
    writeSync(this.fd, this.chunk);
    closeSync(this.fd);
  }
}

function writeLines(path: string, header: string, lines: Iterable<string>): void {
  const w = new LineWriter(path, header);
  for (const l of lines) w.line(l);
  w.close();
}

/** n items split as evenly as possible into `parts` counts (the first ones one larger). */
const share = (n: number, parts: number, i: number) => Math.floor(n / parts) + (i < n % parts ? 1 : 0);

/** The commuter railroad with sparse services (see the file comment). */
function writeSparse(dir: string, scale: number, r: Rng): void {
  const STOPS = 114;
  const BRANCHES = 8;
  const trips = Math.round(49_131 * scale);
  const stopTimes = Math.round(629_760 * scale);
  const SERVICES = 654;
  const USED = 400;
  const DATES = 257;
  const firstDay = Date.UTC(2026, 5, 1);

  // Stop 0 is the main terminal; the other 113 lie on 8 branches of ~14 stops, in outbound order.
  const stopId = (i: number) => String(i === 0 ? 237 : 1000 + i * 3);
  const branches: number[][] = Array.from({ length: BRANCHES }, () => []);
  for (let i = 1; i < STOPS; i++) branches[(i - 1) % BRANCHES]!.push(i);
  writeLines(
    join(dir, 'stops.txt'),
    'stop_id,stop_code,stop_name,stop_desc,stop_lat,stop_lon,stop_url,wheelchair_boarding',
    Array.from(
      { length: STOPS },
      (_, i) =>
        `${stopId(i)},,${i === 0 ? 'Grand Terminal' : `Station ${i} ${['Hills', 'Park', 'Junction', 'Beach', 'Heights'][i % 5]}`},,${(40.7 + i / 500).toFixed(6)},${(-73.9 - i / 400).toFixed(6)},,1`,
    ),
  );
  writeLines(join(dir, 'agency.txt'), 'agency_id,agency_name,agency_url,agency_timezone', [
    'RR,Sparse Commuter Railroad,https://example.org,America/New_York',
  ]);
  writeLines(
    join(dir, 'routes.txt'),
    'route_id,agency_id,route_short_name,route_long_name,route_type,route_color',
    branches.map((_, b) => `${b + 1},RR,,Branch ${String.fromCharCode(65 + b)} Line,2,00${b}F${b}F`),
  );

  // Services: each used one runs on 2–6 dates, the first of them chosen so that every date has some service;
  // the unused ones have dates too (a real export keeps them). calendar_dates only: all exception_type 1.
  const serviceId = (s: number) => `GO${500 + (s % 50)}_${25 + Math.floor(s / 50)}_${s}`;
  const dates: string[] = [];
  for (let s = 0; s < SERVICES; s++) {
    const days = new Set<number>([s < DATES ? s : r.int(0, DATES - 1)]);
    const want = r.int(2, 6);
    while (days.size < want) days.add(r.int(0, DATES - 1));
    for (const d of [...days].sort((a, b) => a - b)) dates.push(`${serviceId(s)},${ymd(firstDay + d * 864e5)},1`);
  }
  writeLines(join(dir, 'calendar_dates.txt'), 'service_id,date,exception_type', dates);

  const tripsOut = new LineWriter(
    join(dir, 'trips.txt'),
    'route_id,service_id,trip_id,trip_headsign,trip_short_name,direction_id,shape_id',
  );
  const timesOut = new LineWriter(
    join(dir, 'stop_times.txt'),
    'trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type',
  );
  for (let t = 0; t < trips; t++) {
    const b = r.int(0, BRANCHES - 1);
    const branch = branches[b]!;
    const service = r.int(0, USED - 1);
    const inbound = r.next() < 0.5;
    const length = share(stopTimes, trips, t);
    // 82 % of the trips start or end at the terminal; the others run along one branch only.
    let path: number[];
    if (r.next() < 0.82) path = [0, ...branch.slice(0, length - 1)];
    else {
      const from = r.int(0, Math.max(0, branch.length - length));
      path = branch.slice(from, from + length);
    }
    while (path.length < length) path.push(branch[branch.length - 1 - (path.length % 2)]!); // short branches loop back
    if (inbound) path.reverse();
    const gaps = path.map((_, i) => (i === 0 ? 0 : r.int(3, 5) * 60));
    const span = gaps.reduce((a, g) => a + g, 0);
    const latest = 26 * 3600 + 60 - span; // no departure after 26:01:00
    let start = r.next() < 0.967 ? r.int(4 * 60 + 30, 23 * 60) * 60 : r.int(23 * 60, Math.floor(latest / 60)) * 60;
    if (start > latest) start = latest;
    const tripId = `${serviceId(service)}_${String(t).padStart(5, '0')}`;
    tripsOut.line(
      `${b + 1},${serviceId(service)},${tripId},${stopId(path[path.length - 1]!) === '237' ? 'Grand Terminal' : `Station ${path[path.length - 1]}`},${1000 + t},${inbound ? 1 : 0},${b + 1}_${inbound ? 'in' : 'out'}`,
    );
    const noPickupAtEnd = r.next() < 0.307;
    let time = start;
    for (let i = 0; i < path.length; i++) {
      time += gaps[i]!;
      const last = i === path.length - 1;
      timesOut.line(
        `${tripId},${clock(time)},${clock(time)},${stopId(path[i]!)},${i + 1},${last && noPickupAtEnd ? 1 : 0},${i === 0 ? 1 : 0}`,
      );
    }
  }
  tripsOut.close();
  timesOut.close();
}

/** The city bus network with a 153 MB stop_times.txt (see the file comment). */
function writeBigFile(dir: string, scale: number, r: Rng): void {
  const STOPS = 4_576;
  const ROUTES = 230;
  const trips = Math.round(58_000 * scale);
  const stopTimes = Math.round(2_400_000 * scale);
  const stopId = (i: number) => String(300_000 + i * 7);
  const streets = [
    'FLATBUSH AV',
    'CHURCH AV',
    'NOSTRAND AV',
    'KINGS HWY',
    'OCEAN PKWY',
    'ATLANTIC AV',
    'UTICA AV',
    'BEDFORD AV',
    'MYRTLE AV',
    'FULTON ST',
  ];
  writeLines(
    join(dir, 'stops.txt'),
    'stop_id,stop_name,stop_desc,stop_lat,stop_lon,zone_id,stop_url,location_type,parent_station',
    Array.from(
      { length: STOPS },
      (_, i) =>
        `${stopId(i)},${streets[i % 10]}/${streets[(i * 7 + 3) % 10]} ${i},,${(40.6 + (i % 97) / 1000).toFixed(6)},${(-73.95 - (i % 89) / 1000).toFixed(6)},,,0,`,
    ),
  );
  writeLines(join(dir, 'agency.txt'), 'agency_id,agency_name,agency_url,agency_timezone,agency_lang,agency_phone', [
    'CB,City Bus,https://example.org,America/New_York,en,555-0100',
  ]);
  const routeId = (k: number) => `B${k + 1}`;
  writeLines(
    join(dir, 'routes.txt'),
    'agency_id,route_id,route_short_name,route_long_name,route_desc,route_type,route_color,route_text_color',
    Array.from(
      { length: ROUTES },
      (_, k) =>
        `CB,${routeId(k)},B${k + 1},${streets[k % 10]} - ${streets[(k + 3) % 10]},"Via ${streets[(k + 5) % 10]}, ${streets[(k + 6) % 10]}",3,00AEEF,FFFFFF`,
    ),
  );

  // 37 calendar rows: per depot, weekday / saturday / sunday services over three months.
  const kinds = [
    ['Weekday', '1,1,1,1,1,0,0'],
    ['Saturday', '0,0,0,0,0,1,0'],
    ['Sunday', '0,0,0,0,0,0,1'],
  ] as const;
  const services: string[] = [];
  const calendar: string[] = [];
  for (let s = 0; s < 37; s++) {
    const [kind, days] = kinds[s % 3]!;
    const id = `${['CA', 'EN', 'FB', 'FP', 'GH', 'JG', 'UP', 'YU', 'KB', 'CS', 'QV', 'MQ', 'LG'][Math.floor(s / 3)]}_B6-${kind}`;
    services.push(id);
    calendar.push(`${id},${days},20260907,20261205`);
  }
  writeLines(
    join(dir, 'calendar.txt'),
    'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date',
    calendar,
  );
  const holidays = ['20261012', '20261111', '20261126'];
  writeLines(
    join(dir, 'calendar_dates.txt'),
    'service_id,date,exception_type',
    services.flatMap((id, s) => holidays.map((d) => `${id},${d},${s % 3 === 0 ? 2 : 1}`)),
  );

  // Each route runs a pattern of 45–60 stops out and back; a trip rides the first 41 or 42 of its direction's.
  const patterns = Array.from({ length: ROUTES }, () => {
    const n = r.int(45, 60);
    return Array.from({ length: n }, () => r.int(0, STOPS - 1));
  });
  const tripsOut = new LineWriter(
    join(dir, 'trips.txt'),
    'route_id,service_id,trip_id,trip_headsign,direction_id,block_id,shape_id',
  );
  const timesOut = new LineWriter(
    join(dir, 'stop_times.txt'),
    'trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type,drop_off_type,timepoint',
  );
  for (let t = 0; t < trips; t++) {
    const k = t % ROUTES;
    const s = r.int(0, services.length - 1);
    const dir0 = r.next() < 0.5;
    const pattern = dir0 ? patterns[k]! : [...patterns[k]!].reverse();
    const length = share(stopTimes, trips, t);
    const tripId =
      `${services[s]!.slice(0, 2)}_B6-${services[s]!.slice(6)}-${String(t).padStart(6, '0')}_${routeId(k)}_${dir0 ? 'N' : 'S'}`.padEnd(
        30,
        '0',
      );
    const headsign = `${dir0 ? 'LIMITED' : 'LOCAL'} ${streets[(k + 1) % 10]} via ${streets[(k + 2) % 10]} / ${streets[(k + 4) % 10]}`;
    tripsOut.line(
      `${routeId(k)},${services[s]},${tripId},${headsign},${dir0 ? 0 : 1},${services[s]!.slice(0, 2)}_${k}_${t % 97},${routeId(k)}0${dir0 ? 1 : 2}`,
    );
    let time = r.int(5 * 60, 24 * 60 + 30) * 60 + r.pick([0, 0, 30]);
    for (let i = 0; i < length; i++) {
      time += i === 0 ? 0 : r.int(40, 150);
      const timed = i === 0 || i === length - 1 || i % 6 === 0;
      const text = clock(time);
      timesOut.line(`${tripId},${text},${text},${stopId(pattern[i % pattern.length]!)},${i + 1},0,0,${timed ? 1 : 0}`);
    }
  }
  tripsOut.close();
  timesOut.close();
}

/**
 * The directory of `shape` at `scale` (1 = the sizes above), generated on first use from `seed` into the cache
 * directory (default: the OS temporary directory) and reused afterwards.
 */
export function shapeFeed(
  shape: ShapeName,
  scale = 1,
  seed = 14,
  cacheDir = join(tmpdir(), 'roq-bench-shapes'),
): string {
  const dir = join(cacheDir, `${shape}-x${scale}-s${seed}-v${GENERATOR_VERSION}`);
  const marker = join(dir, '.complete');
  if (existsSync(marker)) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const r = rng(seed);
  if (shape === 'sparse') writeSparse(dir, scale, r);
  else writeBigFile(dir, scale, r);
  writeFileSync(marker, `${new Date().toISOString()}\n`);
  return dir;
}
