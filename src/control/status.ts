/**
 * `<run>/daemon/status.json` (in the daemon's private directory, private-dir.ts): what the daemon tells `roq status`, `roq reload` and `roq upgrade` about itself. The daemon
 * rewrites it once a second and whenever a reload starts or ends; a write goes to a temporary file that is then
 * renamed, so a reader never sees half a file. Writes are serialized and coalesced: asking again while one is
 * pending asks for nothing more.
 */
import * as fs from 'node:fs';
import { privatePath, readNoFollow, replaceFileAsync } from '../daemon/private-dir.js';
import type { DateRange } from '../protocol.js';
import { readLegacyStatus } from './compat.js';
import type { StatusOptions } from './daemon-options.js';
import type { FileStats, GenerationData } from '../store/types.js';
import type { Log } from '../daemon/log.js';
import type { HealthSummary } from '../daemon/watch.js';

// ---- the parts of the contract: counters, workers, REQUESTS, reloads ----

export interface Counters {
  received: number;
  ok: number;
  error: number;
  failed: number;
  timeout: number;
  died: number;
  busy: number;
  dropped: number;
}

export interface WorkerStats {
  index: number;
  state: 'starting' | 'idle' | 'busy';
  served: number;
  /** The thread's V8 heap in bytes, as last reported. */
  heap: number;
}

/** Whether clients can reach the daemon through REQUESTS, for `roq status`. */
export interface RequestsState {
  ok: boolean;
  detail?: string;
}

/** What an admin asked of the reloader besides a plain reload (SIGHUP): see `roq reload --hold`, `roq swap`. */
export type HoldAction = 'hold' | 'swap' | 'drop';
export const HOLD_ACTIONS: readonly HoldAction[] = ['hold', 'swap', 'drop'];

export interface ReloadOutcome {
  /**
   * For a plain reload: the number of reload requests (signals) counted when it started; it answers all of them.
   * 0 for the outcome of a hold, swap or drop, which answer their `request` instead.
   */
  covers: number;
  /** Absent for a plain reload. */
  action?: HoldAction;
  /** The id of the admin request (its file's name, see actions.ts) that asked for the hold, swap or drop. */
  request?: string;
  status: 'ok' | 'failed';
  startedAt: number;
  finishedAt: number;
  ms: number;
  generation?: number;
  hash?: string;
  rows?: number;
  bytes?: number;
  files?: FileStats[];
  /** The days the new generation's data covers, where the app defines them. */
  dates?: DateRange;
  error?: { code: string; message: string };
}

/** What status.json says of any generation, serving or held: which data it is, and what loading it took. */
export interface GenerationFacts {
  id: number;
  hash: string;
  dataDir: string;
  loadedAt: number;
  loadMs: number;
  rows: number;
  bytes: number;
}

export function generationFacts(g: GenerationData): GenerationFacts {
  return {
    id: g.id,
    hash: g.hash,
    dataDir: g.dataDir,
    loadedAt: g.loadedAt,
    loadMs: Math.round(g.loadMs),
    rows: g.stats.rows,
    bytes: g.stats.bytes,
  };
}

/** A generation loaded by `roq reload --hold`: complete and valid, not serving until `roq swap`. */
export interface HeldGeneration extends GenerationFacts {
  files: FileStats[];
}

export interface ReloadState {
  /** Reload requests counted so far. */
  requested: number;
  loading: boolean;
  last?: ReloadOutcome;
  /** The newest outcomes, oldest first (at most RECENT), so that a waiting CLI misses none between its polls. */
  recent?: ReloadOutcome[];
  held?: HeldGeneration;
}

export const STATUS_FILE = 'status.json';

/** What `roq status` and `roq reload` read from `<run>/daemon/status.json`. */
export interface StatusFile {
  pid: number;
  version: string;
  /** the commit the daemon was built from, and its release directory when it runs from one (version.ts) */
  commit?: string;
  release?: string;
  run: string;
  state: 'serving' | 'stopping';
  startedAt: number;
  updatedAt: number;
  /** What the daemon was started with; `roq upgrade` starts its successor with the same. */
  options: StatusOptions;
  generation: {
    id: number;
    /** content hash (loader.contentHash); absent from daemons before it */ hash?: string;
    dataDir: string;
    loadedAt: number;
    loadMs: number;
    rows: number;
    bytes: number;
    files: number;
    perFile: { file: string; rows: number; bytes: number }[];
    dates?: DateRange;
  };
  workers: { size: number; busy: number; replaced: number; threads: WorkerStats[] };
  queued: number;
  served: Counters;
  reload: ReloadState;
  memory: { rss: number; heapUsed: number };
  /** Whether clients can reach the daemon: REQUESTS is the FIFO it reads (it is made again if removed). */
  requests: RequestsState;
  /** Events worth a human that have not ended, and the state they make (absent from daemons before 0.3). */
  health?: HealthSummary;
}

/**
 * The daemon's status file, or undefined when there is none yet or it is being replaced. With `pid`, only a file
 * that daemon wrote: one left by an earlier daemon is ignored. With `legacy` (the daemon is one of 0.1), its file in
 * the run directory itself is read when there is no private one and the run directory's owner owns it: for
 * display only (`roq status`); `roq upgrade` never takes options from it.
 */
export function readStatusFile(run: string, pid?: number, legacy = false): StatusFile | undefined {
  const text = readNoFollow(privatePath(run, STATUS_FILE)) ?? (legacy ? readLegacyStatus(run) : undefined);
  try {
    const s = JSON.parse(text ?? '') as StatusFile;
    return pid === undefined || s.pid === pid ? s : undefined;
  } catch {
    return undefined;
  }
}

export interface StatusWriter {
  /** Asks for a write of a fresh snapshot. */
  request(): void;
  /** Resolves once the writes asked for so far are done. */
  flushed(): Promise<void>;
  /** Removes the file if this process wrote the one there (a successor may already have written its own). */
  remove(): void;
}

export function createStatusWriter(run: string, snapshot: () => StatusFile, log: Log): StatusWriter {
  const path = privatePath(run, STATUS_FILE);
  let chain: Promise<void> = Promise.resolve();
  let wanted = false;
  async function write(): Promise<void> {
    wanted = false;
    try {
      await replaceFileAsync(path, JSON.stringify(snapshot()) + '\n');
    } catch (e) {
      log.warn(`writing ${path}: ${(e as Error).message}`);
    }
  }
  return {
    request() {
      if (wanted) return;
      wanted = true;
      chain = chain.then(write);
    },
    flushed: () => chain,
    remove() {
      if (readStatusFile(run, process.pid)) fs.rmSync(path, { force: true });
    },
  };
}
