/**
 * The default app's hooks (docs/SCHEMAS.md, "app.ts"): the days a GTFS feed is valid for, which `roq status`,
 * `roq check`, the daemon's warnings and the board's pages show.
 */
import type { Db } from './.roq/generated/tables.js';
import { feedDateRange } from './queries/feed-dates.js';

export function validDates(db: Db) {
  return feedDateRange(db.data);
}
