/**
 * The shapes of roq's loaded data. A generation is plain data — objects, numbers, strings and typed arrays whose
 * buffers are SharedArrayBuffers — so that handing it to a worker_thread (postMessage or workerData) shares every
 * big array instead of copying it. Nothing here holds functions or class instances; the typed accessors that give
 * the arrays meaning are built per worker by src/generated/tables.ts.
 */

import type { DateRange } from '../protocol.js';

export type ColumnType = 'string' | 'int' | 'float' | 'bool' | 'time' | 'date';

/** A column as a schema describes it (src/generated/catalog.ts holds them all). */
export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** The header must name the column and no value may be empty. */
  required: boolean;
  /** The text used for an empty value (parsed like a value from the file). */
  default?: string;
  /** Another table's single key column that this column's values name (e.g. orders.order_id). */
  references?: { table: string; column: string };
  /** The column's name in the file's header line, when it is not `name` (e.g. "Organization Name"). */
  heading?: string;
  /**
   * How a date or time is written, when not the default way: dates 'iso' (YYYY-MM-DD) rather than YYYYMMDD, times
   * 'clock' (HH:MM[:SS] below 24:00) rather than service-day H:MM:SS that may pass 24:00.
   */
  format?: 'iso' | 'clock';
  /** 'ascii-case': lookups by this string column ignore the case of A–Z (`bookworm` finds `Bookworm`). */
  fold?: 'ascii-case';
}

export interface IndexSpec {
  name: string;
  columns: string[];
}

export interface TableSpec {
  name: string;
  file: string;
  /** A missing file gives an empty table instead of a load error. */
  optional: boolean;
  description: string;
  columns: ColumnSpec[];
  /** Columns that identify a row; empty when the table has no key. */
  key: string[];
  indexes: IndexSpec[];
  /** The field separator when it is not a comma: '\t', ';' or '|'. */
  delimiter?: string;
  /** false: the file has no header line; its fields are the columns in schema order. */
  header?: boolean;
  /** Lines starting with this text are comments, skipped like empty lines (tzdata's "#"). */
  comment?: string;
  /** true: a row may leave off trailing fields (Debian's distro-info CSVs do); the missing ones are empty. */
  shortRows?: boolean;
  /**
   * References by several columns to another table's whole (composite) key, e.g. (auth_name, code) → extent. Each
   * is resolved at load time into one target row per row (-1 when none), stored in TableData.references[name].
   */
  references?: CompositeReference[];
}

export interface CompositeReference {
  /** The accessor's base name: `<name>Row(row)`; the target table's name unless the schema gives one. */
  name: string;
  columns: string[];
  table: string;
}

/**
 * A dictionary of distinct strings sorted by UTF-8 bytes: entry i is bytes[offsets[i], offsets[i+1]). Because the
 * order is byte order, comparing two codes of one dictionary compares their strings as bytes.
 */
export interface DictData {
  size: number;
  offsets: Uint32Array;
  bytes: Uint8Array;
}

/** Stored value for an empty int or date without a default. */
export const NULL_INT = -2147483648;
/** Stored seconds for an empty time. */
export const NULL_TIME = -1;

export type ColumnData =
  | { type: 'string'; codes: Int32Array; dict: DictData }
  | { type: 'int'; values: Int32Array }
  /** 1 for true, 0 for false, NULL_INT when empty */
  | { type: 'bool'; values: Int32Array }
  | { type: 'date'; values: Int32Array }
  | { type: 'float'; values: Float64Array }
  /** seconds from the start of the service day, and the raw text as a string column (output needs it verbatim) */
  | { type: 'time'; values: Int32Array; codes: Int32Array; dict: DictData };

export interface TableData {
  name: string;
  file: string;
  /** false when an optional file was absent */
  present: boolean;
  rows: number;
  columns: Record<string, ColumnData>;
  /** Row ids sorted by the key columns, the first row of each key only; null when the table has no key. */
  key: Int32Array | null;
  /** Row ids sorted by each index's columns, ties by row id. */
  indexes: Record<string, Int32Array>;
  /**
   * Per referencing column: source dictionary code → target row, or -1 when the target has no such key; per
   * composite reference (by its name): source row → target row, or -1.
   */
  references: Record<string, Int32Array>;
}

export interface FileStats {
  file: string;
  rows: number;
  bytes: number;
}

export interface GenerationData {
  id: number;
  dataDir: string;
  /** ms since the epoch when loading finished */
  loadedAt: number;
  loadMs: number;
  /** Content hash of the data files (loader.contentHash): equal on every node that loaded the same files. */
  hash: string;
  tables: Record<string, TableData>;
  stats: { files: FileStats[]; rows: number; bytes: number };
  /** Query name → the typed arrays its derive function built from this generation (src/queries/derived.ts). */
  derived?: Record<string, Record<string, Int32Array | Uint32Array | Float64Array | Uint8Array>>;
  /** The days the data covers (YYYY-MM-DD), where the app defines them (its validDates hook, src/app-info.ts). */
  dates?: DateRange;
}
