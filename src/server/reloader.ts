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
import type { DateRange } from '../protocol.js';
import type { FileStats, GenerationData } from '../store/types.js';
import type { FromLoadThread, LoadJob, ToLoadThread } from './load-thread.js';
import type { FileLoaded } from './loader.js';
import type { Log } from './log.js';
import { expiredWarning, rangeText, today } from '../queries/feed-dates.js';

/**
 * Warns in the log when the serving generation's data ends before today (the server's local date): once when it
 * is loaded, and again each day it keeps serving, so a daemon that runs past its feed's end says so that day,
 * not only at the next reload. Call it as often as wanted (the daemon does, every second).
 */
export function createExpiryWarner(log: Log): (g: GenerationData) => void {
  let warned = '';
  return (g) => {
    const day = today();
    if (warned === `${g.id} ${day}`) return;
    warned = `${g.id} ${day}`;
    const warning = expiredWarning(g.dates, day);
    if (warning) log.warn(`generation ${g.id}: ${warning}`);
  };
}

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
  /** The days the new generation's data covers, where the app defines them. */
  dates?: DateRange;
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
  /** Builds generation `id` (normally in the load thread). */
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
      last = { covers, status: 'ok', startedAt, finishedAt: Date.now(), ms: Date.now() - startedAt, generation: g.id, rows: s.rows, bytes: s.bytes, files: s.files, ...(g.dates ? { dates: g.dates } : {}) };
      o.log.info(`reload: generation ${g.id} serving (${s.rows} rows from ${s.files.length} files, loaded in ${Math.round(g.loadMs)} ms${g.dates ? `; dates ${rangeText(g.dates)}` : ''})`);
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

export interface LoadThread {
  /** Builds a generation in the load thread; rejects with the load's RoqError. One load at a time. */
  load(job: LoadJob, onFile?: (f: FileLoaded) => void): Promise<GenerationData>;
  close(): Promise<void>;
}

/**
 * The daemon's load thread (load-thread.ts), started from `source`, the thread's bundle read into memory when the
 * daemon started, so that new code on disk never runs in an old daemon. A thread is started for each load and
 * ended after it: a kept thread would keep the heap it grew while parsing (measured: +25 to 40 MB of RSS on the
 * sample feed, more on big feeds) for a reload that comes once a day, against ~30 ms to start one.
 */
export function createLoadThread(source: string, log: Log): LoadThread {
  let thread: Worker | undefined;
  let pending: { job: LoadJob; onFile?: (f: FileLoaded) => void; settle(err: Error | undefined, g?: GenerationData): void } | undefined;

  function fail(detail: string): void {
    const p = pending;
    pending = undefined;
    p?.settle(roqError('ROQ_LOAD_FILE', { file: p.job.dataDir, detail }));
  }

  function end(t: Worker): void {
    if (thread === t) thread = undefined;
    void t.terminate();
  }

  function start(): Worker {
    const t = new Worker(source, { eval: true });
    t.on('message', (msg: FromLoadThread) => {
      if (!pending || msg.id !== pending.job.id) return;
      switch (msg.type) {
        case 'warn':
          return log.warn(msg.msg);
        case 'file':
          return pending.onFile?.(msg.file);
        case 'loaded': {
          const p = pending;
          pending = undefined;
          end(t);
          return p.settle(undefined, msg.generation);
        }
        case 'failed': {
          const p = pending;
          pending = undefined;
          end(t);
          return p.settle(msg.code && isErrorCode(msg.code) ? roqError(msg.code, msg.details) : roqError('ROQ_LOAD_FILE', { file: p.job.dataDir, detail: msg.message }));
        }
      }
    });
    // Only the current thread's end fails a load: an ended thread's exit may come after the next load started.
    t.on('error', (e) => thread === t && fail(`the load thread failed: ${e.message}`));
    t.on('exit', (code) => {
      if (thread !== t) return;
      thread = undefined;
      fail(`the load thread exited (code ${code}) without a result`);
    });
    return t;
  }

  return {
    load(job, onFile) {
      if (pending) return Promise.reject(new Error('a load is already running'));
      return new Promise((resolve, reject) => {
        pending = { job, onFile, settle: (err, g) => (err ? reject(err) : resolve(g!)) };
        thread ??= start();
        const msg: ToLoadThread = { type: 'load', job };
        thread.postMessage(msg);
      });
    },
    async close() {
      const t = thread;
      thread = undefined;
      await t?.terminate();
    },
  };
}
