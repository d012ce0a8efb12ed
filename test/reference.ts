/**
 * A deliberately naive reference of docs/QUERIES.md, for differential tests: it parses the feed's files with
 * csv-parse and answers by scanning every row, sharing no code with the engine (no dictionaries, no indexes, no
 * merge). Slow and obviously correct is the point.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';

type Row = Record<string, string>;

/** A feed file as rows of trimmed column names; a missing file is an empty table. Shared by the test references. */
export function table(dir: string, file: string): Row[] {
  const path = join(dir, file);
  if (!existsSync(path)) return [];
  return parse(readFileSync(path), {
    columns: (h: string[]) => h.map((x) => x.trim()),
    bom: true,
    skip_empty_lines: true,
    relax_column_count: false,
  });
}

function seconds(text: string): number {
  const m = /^\s*(\d+):(\d\d):(\d\d)\s*$/.exec(text);
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : NaN;
}

const pad = (n: number) => String(n).padStart(2, '0');
const ymd = (d: Date) => `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
const iso = (s: string) => `${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}`;

function bytesCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

export function referenceFeed(dir: string) {
  const stops = table(dir, 'stops.txt');
  const stopTimes = table(dir, 'stop_times.txt');
  const trips = new Map<string, Row>();
  for (const t of table(dir, 'trips.txt')) if (!trips.has(t.trip_id!)) trips.set(t.trip_id!, t);
  const routes = new Map<string, Row>();
  for (const r of table(dir, 'routes.txt')) if (!routes.has(r.route_id!)) routes.set(r.route_id!, r);
  const calendar = table(dir, 'calendar.txt');
  const calendarDates = table(dir, 'calendar_dates.txt');
  const days = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];

  function active(service: string, day: string): boolean {
    const exceptions = calendarDates.filter((c) => c.service_id === service && c.date!.trim() === day);
    if (exceptions.some((c) => c.exception_type!.trim() === '1')) return true;
    const weekday = days[new Date(Date.UTC(+day.slice(0, 4), +day.slice(4, 6) - 1, +day.slice(6, 8))).getUTCDay()]!;
    return calendar.some(
      (c) =>
        c.service_id === service &&
        c.start_date!.trim() <= day &&
        day <= c.end_date!.trim() &&
        c[weekday]!.trim() === '1' &&
        !exceptions.some((e) => e.exception_type!.trim() === '2'),
    );
  }

  function departures(p: { stop: string; date: string; after?: string; route?: string; limit?: number }) {
    const [y, m, d] = p.date.split('-').map(Number) as [number, number, number];
    const today = ymd(new Date(Date.UTC(y, m - 1, d)));
    const eve = ymd(new Date(Date.UTC(y, m - 1, d - 1)));
    const after = seconds((p.after ?? '00:00').split(':').length === 2 ? `${p.after}:00` : p.after!);
    const stopSet = new Set([
      p.stop,
      ...stops.filter((s) => (s.parent_station ?? '') === p.stop).map((s) => s.stop_id!),
    ]);
    const rows: { t: number; day: string; st: Row; trip: Row }[] = [];
    for (const st of stopTimes) {
      if (!stopSet.has(st.stop_id!) || (st.pickup_type ?? '').trim() === '1' || (st.departure_time ?? '').trim() === '')
        continue;
      const trip = trips.get(st.trip_id!);
      if (!trip || (p.route && trip.route_id !== p.route)) continue;
      const s = seconds(st.departure_time!);
      if (after <= s && s < 86400 && active(trip.service_id!, today)) rows.push({ t: s, day: today, st, trip });
      if (after <= s - 86400 && s - 86400 < 86400 && active(trip.service_id!, eve))
        rows.push({ t: s - 86400, day: eve, st, trip });
    }
    rows.sort(
      (a, b) =>
        a.t - b.t ||
        bytesCompare(a.st.trip_id!, b.st.trip_id!) ||
        Number(a.st.stop_sequence) - Number(b.st.stop_sequence),
    );
    return rows.slice(0, p.limit ?? 10).map(({ t, day, st, trip }) => {
      const route = routes.get(trip.route_id!);
      return {
        time: `${pad(Math.floor(t / 3600))}:${pad(Math.floor(t / 60) % 60)}:${pad(t % 60)}`,
        service_date: iso(day),
        departure_time: st.departure_time!,
        stop_id: st.stop_id!,
        stop_sequence: Number(st.stop_sequence),
        trip_id: st.trip_id!,
        trip_headsign: trip.trip_headsign ?? '',
        direction_id: trip.direction_id ?? '',
        route_id: trip.route_id!,
        route_short_name: route?.route_short_name ?? '',
        route_long_name: route?.route_long_name ?? '',
      };
    });
  }

  function stopsQuery(p: { q: string; limit?: number }) {
    const lower = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
    return stops
      .filter((s) => lower(s.stop_name ?? '').includes(lower(p.q)))
      .sort((a, b) => bytesCompare(a.stop_name ?? '', b.stop_name ?? '') || bytesCompare(a.stop_id!, b.stop_id!))
      .slice(0, p.limit ?? 20)
      .map((s) => ({
        stop_id: s.stop_id!,
        stop_name: s.stop_name ?? '',
        stop_lat: s.stop_lat ?? '',
        stop_lon: s.stop_lon ?? '',
        location_type: s.location_type ?? '',
        parent_station: s.parent_station ?? '',
      }));
  }

  return {
    departures,
    stops: stopsQuery,
    stopIds: stops.map((s) => s.stop_id!),
    routeIds: [...routes.keys()],
    stopNames: stops.map((s) => s.stop_name ?? ''),
  };
}
