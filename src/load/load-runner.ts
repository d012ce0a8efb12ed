/**
 * The daemon's side of its load thread (load-thread.ts): a thread started for each load and ended after it, from
 * the bundle's text read when the daemon started.
 */
import { Worker } from 'node:worker_threads';
import { fromWire, roqError, type WireError } from '../errors.js';
import type { GenerationData } from '../store/types.js';
import type { FileLoaded } from './loader.js';
import type { Log } from '../daemon/log.js';
import type { FromLoadThread, LoadJob, ToLoadThread } from './messages.js';

export interface LoadThread {
  /** Builds a generation in the load thread; rejects with the load's RoqError. One load at a time. */
  load(job: LoadJob, onFile?: (f: FileLoaded) => void): Promise<GenerationData>;
  close(): Promise<void>;
}

/**
 * The daemon's load thread (load-thread.ts), started from `source`, the thread's bundle read into memory when the
 * daemon started, so that new code on disk never runs in an old daemon. A thread is started for each load and
 * ended after it: a kept thread would keep the heap it grew while parsing (measured: +25 to 40 MB of RSS on the
 * sample data, more on big exports) for a reload that comes once a day, against ~30 ms to start one.
 */
export function createLoadThread(source: string, log: Log): LoadThread {
  let thread: Worker | undefined;
  let pending:
    | { job: LoadJob; onFile?: (f: FileLoaded) => void; settle(err: Error | undefined, g?: GenerationData): void }
    | undefined;

  function fail(detail: string): void {
    const p = pending;
    pending = undefined;
    p?.settle(roqError('ROQ_LOAD_INTERNAL', { dir: p.job.dataDir, detail }));
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
          if (msg.stack) log.error(`loading ${p.job.dataDir}: ${msg.stack}`);
          const unknown = (w: WireError) =>
            roqError('ROQ_LOAD_INTERNAL', { dir: p.job.dataDir, detail: `${w.code}: ${w.message}` });
          return p.settle(fromWire(msg.error, unknown));
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
