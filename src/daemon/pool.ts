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
import type { AnswerRest } from './answer-drain.js';
import type { Core } from './core.js';
import type { Effect } from './effect-types.js';
import {
  INBOX_BYTES,
  OUTBOX_BYTES,
  type DoneReport,
  type PortFromWorker,
  type ToWorker,
  type WorkerSetup,
} from './messages.js';
import { newRing, RingReader, RingWriter } from './ring.js';

export interface PoolOptions {
  core: Core;
  run: string;
  faults: boolean;
  deadlineMs: number;
  /** The worker bundle's text (dist/worker.js). */
  source: string;
  /** Performs what the core answers to the events the pool reports. */
  perform(effects: Effect[]): void;
  /** An answer a worker could not write whole at once: the main thread writes the rest (answer-drain.ts). */
  rest(rest: AnswerRest): void;
}

/**
 * How late at most the core hears of a job a worker finished while no line came in and nothing waited for a
 * worker (the access log, the counters, a stop or a generation drop waiting for the last job).
 */
const TAIL_MS = 5;

interface Thread {
  thread: Worker;
  inbox: RingWriter;
  outbox: RingReader;
  /** Jobs for the inbox that did not fit yet, in order. */
  overflow: string[];
}

type PoolEffect = Extract<Effect, { kind: 'post' | 'arm' | 'disarm' | 'terminate' | 'spawn' }>;

export interface Pool {
  /** Performs one of the core's effects on the threads. */
  apply(effect: PoolEffect): void;
  /**
   * Gives the core the reports waiting in every worker's outbox. Called before any other event reaches the core
   * (a line read, a deadline, an exit), so the core decides on what the workers have really done.
   */
  drain(): void;
  close(): Promise<void>;
}

export function createPool(o: PoolOptions): Pool {
  const threads = new Map<number, Thread>();
  const timers = new Map<number, NodeJS.Timeout>();
  let closing = false;
  let tail: NodeJS.Timeout | undefined;

  /** The worker's reports, in order, to the core; and jobs waiting here for room in its inbox, if it has some. */
  function drainOne(worker: number, t: Thread): void {
    for (let text = t.outbox.read(); text !== undefined; text = t.outbox.read())
      o.perform(o.core.fromWorker(worker, JSON.parse(text) as DoneReport));
    if (t.overflow.length > 0) flush(t);
  }

  function drain(): void {
    for (const [worker, t] of threads) drainOne(worker, t);
  }

  /**
   * A job into the worker's inbox, behind those it holds. Jobs that do not fit (a worker stuck for long, whose
   * inbox fills with jobs taken back from it) wait here, in order, until it has read some (`drainOne`, at every
   * event and when it says `idle`); a stuck one is terminated at its deadline with them.
   */
  function send(t: Thread, message: ToWorker): void {
    const text = JSON.stringify(message);
    if (t.overflow.length > 0 || !t.inbox.write(text)) t.overflow.push(text);
    t.inbox.ring();
    if (!tail) tail = setTimeout(readTail, TAIL_MS);
  }

  /** Reports of workers that went idle without a word (nothing waited for them): read within TAIL_MS. */
  function readTail(): void {
    tail = undefined;
    drain();
    if (o.core.busy() > 0 && !closing) tail = setTimeout(readTail, TAIL_MS);
  }

  function flush(t: Thread): void {
    while (t.overflow.length > 0 && t.inbox.write(t.overflow[0]!)) t.overflow.shift();
    t.inbox.ring();
  }

  /** `idle`: the worker ran out of jobs while others wait, so its reports are read now (`drain`). */
  function fromPort(worker: number, msg: PortFromWorker): void {
    if (msg.type === 'rest') return o.rest(msg);
    drain();
    if (msg.type !== 'idle') o.perform(o.core.fromWorker(worker, msg));
  }

  function spawn(worker: number): void {
    const given = o.core.startWorker(worker);
    if (closing || !given) return;
    const setup: WorkerSetup = {
      run: o.run,
      generations: given.generations,
      faults: o.faults,
      cells: given.cells,
      waiting: given.waiting,
      inbox: newRing(INBOX_BYTES),
      outbox: newRing(OUTBOX_BYTES),
    };
    const thread = new Worker(o.source, { eval: true, workerData: setup });
    const t: Thread = {
      thread,
      inbox: new RingWriter(setup.inbox),
      outbox: new RingReader(setup.outbox),
      overflow: [],
    };
    threads.set(worker, t);
    thread.on('message', (msg: PortFromWorker) => fromPort(worker, msg));
    thread.on('error', (e) => o.core.workerError(worker, e.message));
    thread.on('exit', (code) => {
      // What it reported before it ended counts as done, not as lost with it.
      drain();
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
        drain();
        o.perform(o.core.deadline(worker));
      }, ms),
    );
  }

  return {
    apply(effect) {
      switch (effect.kind) {
        case 'post': {
          // A slot whose thread starts later (after a pause) is given the live generations when it starts.
          const t = threads.get(effect.worker);
          if (!t) return;
          if (effect.message.type === 'query') return send(t, effect.message);
          // A generation carries SharedArrayBuffers, which only a message can share; the bell wakes the worker.
          t.thread.postMessage(effect.message);
          return t.inbox.ring();
        }
        case 'arm':
          return arm(effect.worker, effect.ms);
        case 'disarm':
          return disarm(effect.worker);
        case 'terminate':
          return void threads.get(effect.worker)?.thread.terminate();
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
      clearTimeout(tail);
      timers.clear();
      await Promise.all([...threads.values()].map((t) => t.thread.terminate()));
    },
    drain,
  };
}
