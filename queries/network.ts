/**
 * network(limit?): what the board's landing page shows before a station is chosen (docs/QUERIES.md): one
 * `network` row with the feed's name, version, the dates it covers and its time zone (as the board has them), then
 * the main stations — those the most routes call at, counting a platform's routes for its parent station — so a
 * visitor is one click from the busiest boards.
 */
import type { NetworkParams, NetworkRow } from '../.roq/generated/queries.js';
import type { Db } from '../.roq/generated/tables.js';
import { memoized } from 'roq/queries/db.js';
import { isoDate } from 'roq/dates.js';
import { byteOrder, feedFacts, routesCallingAt } from './board.js';

interface Station {
  id: string;
  name: string;
  routes: number;
}

/** Every station with its count of routes, most first, then by name and stop_id (bytes); once per generation. */
function stationsByRoutes(db: Db): Station[] {
  return memoized(db, 'network:stations', () => {
    const { stops, stopTimes } = db.tables;
    const routes = new Map<string, Set<number>>();
    for (const [code, calling] of routesCallingAt(db)) {
      const id = stopTimes.stopIdOfCode(code);
      const row = stops.findKey(id);
      const station = (row < 0 ? '' : stops.parentStation(row).trim()) || id;
      let set = routes.get(station);
      if (!set) routes.set(station, (set = new Set()));
      for (const r of calling) set.add(r);
    }
    return [...routes]
      .map(([id, set]) => {
        const row = stops.findKey(id);
        return { id, name: row < 0 ? id : stops.stopName(row), routes: set.size };
      })
      .sort((a, b) => b.routes - a.routes || byteOrder(a.name, b.name) || byteOrder(a.id, b.id));
  });
}

export function runNetwork(db: Db, p: NetworkParams): NetworkRow[] {
  const feed = feedFacts(db);
  const date = (d: number) => (Number.isNaN(d) ? '' : isoDate(d));
  const head: NetworkRow = [
    'network',
    '',
    '',
    0,
    feed.name,
    feed.version,
    date(feed.first),
    date(feed.last),
    feed.timeZone,
  ];
  const stations = stationsByRoutes(db)
    .slice(0, p.limit)
    .map((s): NetworkRow => ['station', s.id, s.name, s.routes, '', '', '', '', '']);
  return [head, ...stations];
}
