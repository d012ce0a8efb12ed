/**
 * What the engine knows of the app it serves beyond its schemas: its name on pages, the word for its data in the
 * messages roq writes ("the data ended on …"), and the hooks of its optional app.ts. docs/SCHEMAS.md, "app.ts".
 */
import type { DateRange } from './protocol.js';

/** What an app's app.ts may export; every hook is optional. `Db` is the app's generated `Db` (.roq/generated). */
export interface AppHooks<Db> {
  /**
   * The days the data is valid for, computed once per generation in the load thread after the derive functions:
   * `roq start`, `status`, `reload` and `check` print it, the daemon warns when today is past it, pages and JSON
   * carry it (the Roq-Data-Dates header), and an empty answer for a date outside it says so. `zone`, an IANA time
   * zone, makes "today" the data's today. Undefined: the data has no dates.
   */
  validDates?(db: Db): DateRange | undefined;
}

export interface AppInfo<Db> extends AppHooks<Db> {
  /** app.json's title. */
  title: string;
  /** app.json's dataNoun ("data" when it says none). */
  dataNoun: string;
  /** app.json's data: the data directory commands use without --data or $ROQ_DATA_DIR ("data" when it says none). */
  dataDir: string;
  /** app.json's example: a `roq query` line for the help, with the day the data covers it for. */
  example?: string;
}
