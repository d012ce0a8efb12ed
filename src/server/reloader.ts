/**
 * Reloads, as SIGHUP asks for them. The signal handler only records (`request`); the reloader then builds the next
 * generation in a load thread while the current one serves on, and hands the finished generation to `install`,
 * which stages it and writes the swap pseudo-request into REQUESTS. The reload is complete when the dispatcher
 * reads that line: requests read before it are answered from the old generation, requests after it from the new.
 *
 * Signals that arrive during a load coalesce into one more reload after it (the files may have changed again
 * while the first load was reading them), so a burst of SIGHUPs costs at most two loads. A load that fails leaves
 * the current generation serving; the outcome (and the error naming file:line:column) is kept for `roq status`
 * and `roq reload`, which waits for the first reload that started after its signal (`covers`).
 */
import { Worker } from 'node:worker_threads';
import { isErrorCode, roqError, type RoqError } from '../errors.js';
import type { FileStats, GenerationData } from '../store/types.js';
import type { FromLoadThread, LoadJob } from './load-thread.js';
import type { Log } from './log.js';

export interface ReloadOutcome {
  /** The number of reload requests (signals) counted when this reload started: it answers all of them. */
  covers: number;
  status: 'ok' | 'failed';
  startedAt: number;
  finishedAt: number;
  ms: number;
  generation?: number;
  rows?: number;
  bytes?: number;
  files?: FileStats[];
  error?: { code: string; message: string };
}

export interface ReloadState {
  /** Reload requests counted so far. */
  requested: number;
  loading: boolean;
  last?: ReloadOutcome;
}

export interface Reloader {
  /** Records one reload request; safe to call from a signal handler. */
  request(): void;
  state(): ReloadState;
  /** Stops starting loads; a load in progress is abandoned. */
  close(): void;
}

export interface ReloaderOptions {
  log: Log;
  /** Builds generation `id` (normally loadInThread). */
  load(id: number): Promise<GenerationData>;
  nextId(): number;
  /** Stages the generation and resolves once it serves (the swap line was read), or rejects. */
  install(g: GenerationData): Promise<void>;
  /** The state changed: a request was counted or a reload ended. */
  changed(): void;
}

export function createReloader(o: ReloaderOptions): Reloader {
  let requested = 0;
  let loading = false;
  let again = false;
  let closed = false;
  let last: ReloadOutcome | undefined;

  async function reload(): Promise<void> {
    loading = true;
    again = false;
    const covers = requested;
    const startedAt = Date.now();
    const id = o.nextId();
    o.log.info(`reload: loading generation ${id} in the background`);
    try {
      const g = await o.load(id);
      if (closed) return;
      await o.install(g);
      const s = g.stats;
      last = { covers, status: 'ok', startedAt, finishedAt: Date.now(), ms: Date.now() - startedAt, generation: g.id, rows: s.rows, bytes: s.bytes, files: s.files };
      o.log.info(`reload: generation ${g.id} serving (${s.rows} rows from ${s.files.length} files, loaded in ${Math.round(g.loadMs)} ms)`);
    } catch (e) {
      const err = e as RoqError;
      last = { covers, status: 'failed', startedAt, finishedAt: Date.now(), ms: Date.now() - startedAt, error: { code: err.code ?? 'ROQ_LOAD_FILE', message: err.message } };
      o.log.error(`reload failed; the current generation serves on: ${err.message}`);
    } finally {
      loading = false;
      if (!closed) {
        o.changed();
        if (again) void reload();
      }
    }
  }

  return {
    request() {
      if (closed) return;
      requested++;
      if (loading) again = true;
      else void reload();
      o.changed();
    },
    state: () => ({ requested, loading, ...(last ? { last } : {}) }),
    close() {
      closed = true;
    },
  };
}

/**
 * Loads generation `id` in a new thread started from `source` (the load thread's bundle, read into memory when
 * the daemon started, so that new code on disk never runs in an old daemon). Rejects with the load's RoqError.
 */
export function loadInThread(source: string, job: LoadJob, log: Log): Promise<GenerationData> {
  return new Promise((resolve, reject) => {
    const thread = new Worker(source, { eval: true, workerData: job });
    let settled = false;
    const settle = (err: Error | undefined, g?: GenerationData) => {
      if (settled) return;
      settled = true;
      if (err) reject(err);
      else resolve(g!);
    };
    thread.on('message', (msg: FromLoadThread) => {
      switch (msg.type) {
        case 'warn':
          return log.warn(msg.msg);
        case 'loaded':
          return settle(undefined, msg.generation);
        case 'failed':
          return settle(msg.code && isErrorCode(msg.code) ? roqError(msg.code, msg.details) : roqError('ROQ_LOAD_FILE', { file: job.dataDir, detail: msg.message }));
      }
    });
    thread.on('error', (e) => settle(roqError('ROQ_LOAD_FILE', { file: job.dataDir, detail: `the load thread failed: ${e.message}` })));
    thread.on('exit', (code) => settle(roqError('ROQ_LOAD_FILE', { file: job.dataDir, detail: `the load thread exited (code ${code}) without a result` })));
  });
}
