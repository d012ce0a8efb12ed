/**
 * The worker pool: the owner of the worker threads and of their deadline timers. It does what the core (core.ts)
 * decides — start a thread for a slot, post it a message, arm or cancel its deadline, terminate it — and tells
 * the core what the threads do: ready, done, errors, exits, deadlines passed. Which job goes to which worker,
 * what a death or a deadline costs and when a generation is dropped are the core's decisions, not the pool's.
 *
 * Each thread runs src/daemon/worker.ts on the live generations (given in workerData and by message; their
 * SharedArrayBuffers are shared, not copied), with the claim cells the core made for it (messages.ts). Threads
 * start from `source`, the worker bundle's text read once when the daemon started: a worker that replaces a dead
 * one runs the same code as its daemon even after a new release has replaced the files on disk.
 */
import { Worker } from 'node:worker_threads';
import type { Core } from './core.js';
import type { Effect } from './effect-types.js';
import type { FromWorker, ToWorker, WorkerSetup } from './messages.js';

export interface PoolOptions {
  core: Core;
  run: string;
  faults: boolean;
  deadlineMs: number;
  /** The worker bundle's text (dist/worker.js). */
  source: string;
  /** Performs what the core answers to the events the pool reports. */
  perform(effects: Effect[]): void;
}

type PoolEffect = Extract<Effect, { kind: 'post' | 'arm' | 'disarm' | 'terminate' | 'spawn' }>;

export interface Pool {
  /** Performs one of the core's effects on the threads. */
  apply(effect: PoolEffect): void;
  close(): Promise<void>;
}

export function createPool(o: PoolOptions): Pool {
  const threads = new Map<number, Worker>();
  const timers = new Map<number, NodeJS.Timeout>();
  let closing = false;

  function spawn(worker: number): void {
    const given = o.core.startWorker(worker);
    if (closing || !given) return;
    const setup: WorkerSetup = {
      run: o.run,
      generations: given.generations,
      faults: o.faults,
      writeWaitMs: Math.min(1000, Math.ceil(o.deadlineMs / 2)),
      cells: given.cells,
    };
    const thread = new Worker(o.source, { eval: true, workerData: setup });
    threads.set(worker, thread);
    thread.on('message', (msg: FromWorker) => o.perform(o.core.fromWorker(worker, msg)));
    thread.on('error', (e) => o.core.workerError(worker, e.message));
    thread.on('exit', (code) => {
      threads.delete(worker);
      o.perform(o.core.workerExited(worker, code));
    });
  }

  function disarm(worker: number): void {
    clearTimeout(timers.get(worker));
    timers.delete(worker);
  }

  function arm(worker: number, ms: number): void {
    disarm(worker);
    timers.set(
      worker,
      setTimeout(() => {
        timers.delete(worker);
        o.perform(o.core.deadline(worker));
      }, ms),
    );
  }

  return {
    apply(effect) {
      switch (effect.kind) {
        case 'post':
          // A slot whose thread starts later (after a pause) is given the live generations when it starts.
          return void threads.get(effect.worker)?.postMessage(effect.message satisfies ToWorker);
        case 'arm':
          return arm(effect.worker, effect.ms);
        case 'disarm':
          return disarm(effect.worker);
        case 'terminate':
          return void threads.get(effect.worker)?.terminate();
        case 'spawn':
          if (effect.delayMs > 0) setTimeout(() => spawn(effect.worker), effect.delayMs).unref();
          else spawn(effect.worker);
          return;
        default: {
          const never: never = effect;
          throw new Error(`not a pool effect: ${JSON.stringify(never)}`);
        }
      }
    },
    async close() {
      closing = true;
      o.core.close();
      for (const t of timers.values()) clearTimeout(t);
      timers.clear();
      await Promise.all([...threads.values()].map((t) => t.terminate()));
    },
  };
}
