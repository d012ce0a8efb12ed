/**
 * `<run>/status.json`: what the daemon tells `roq status`, `roq reload` and `roq upgrade` about itself. The daemon
 * rewrites it once a second and whenever a reload starts or ends; a write goes to a temporary file that is then
 * renamed, so a reader never sees half a file. Writes are serialized and coalesced: asking again while one is
 * pending asks for nothing more.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { Counters } from './dispatcher.js';
import type { RequestsState } from './fifo.js';
import type { DateRange } from '../protocol.js';
import type { Log } from './log.js';
import type { WorkerStats } from './pool.js';
import type { ReloadState } from './reloader.js';

export const STATUS_FILE = 'status.json';

/** What `roq status` and `roq reload` read from `<run>/status.json`. */
export interface StatusFile {
  pid: number;
  version: string;
  run: string;
  state: 'serving' | 'stopping';
  startedAt: number;
  updatedAt: number;
  /** What the daemon was started with; `roq upgrade` starts its successor with the same. */
  options: { data: string; workers: number; deadlineMs: number; logFile?: string; accessLog?: string };
  generation: { id: number; /** content hash (loader.contentHash); absent from daemons before it */ hash?: string; dataDir: string; loadedAt: number; loadMs: number; rows: number; bytes: number; files: number; perFile: { file: string; rows: number; bytes: number }[]; dates?: DateRange };
  workers: { size: number; busy: number; replaced: number; threads: WorkerStats[] };
  queued: number;
  served: Counters;
  reload: ReloadState;
  memory: { rss: number; heapUsed: number };
  /** Whether clients can reach the daemon: REQUESTS is the FIFO it reads (it is made again if removed). */
  requests: RequestsState;
}

/**
 * The daemon's status file, or undefined when there is none yet or it is being replaced. With `pid`, only a file
 * that daemon wrote: one left by an earlier daemon is ignored.
 */
export function readStatusFile(run: string, pid?: number): StatusFile | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(join(run, STATUS_FILE), 'utf8')) as StatusFile;
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
  const path = join(run, STATUS_FILE);
  let chain: Promise<void> = Promise.resolve();
  let wanted = false;
  async function write(): Promise<void> {
    wanted = false;
    try {
      await fs.promises.writeFile(path + '.tmp', JSON.stringify(snapshot()) + '\n');
      await fs.promises.rename(path + '.tmp', path);
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
