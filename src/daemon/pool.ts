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
  return new WorkerPool(o);
}

class WorkerPool implements Pool {
  private readonly o: PoolOptions;
  private readonly threads = new Map<number, Thread>();
  private readonly timers = new Map<number, NodeJS.Timeout>();
  private closing = false;
  private tail: NodeJS.Timeout | undefined;

  constructor(o: PoolOptions) {
    this.o = o;
  }

  apply(effect: PoolEffect): void {
    switch (effect.kind) {
      case 'post':
        return this.post(effect.worker, effect.message);
      case 'arm':
        return this.arm(effect.worker, effect.ms);
      case 'disarm':
        return this.disarm(effect.worker);
      case 'terminate':
        return void this.threads.get(effect.worker)?.thread.terminate();
      case 'spawn':
        if (effect.delayMs > 0) setTimeout(() => this.spawn(effect.worker), effect.delayMs).unref();
        else this.spawn(effect.worker);
        return;
      default: {
        const never: never = effect;
        throw new Error(`not a pool effect: ${JSON.stringify(never)}`);
      }
    }
  }

  drain(): void {
    for (const [worker, t] of this.threads) this.drainOne(worker, t);
  }

  async close(): Promise<void> {
    this.closing = true;
    this.o.core.close();
    for (const t of this.timers.values()) clearTimeout(t);
    clearTimeout(this.tail);
    this.timers.clear();
    await Promise.all([...this.threads.values()].map((t) => t.thread.terminate()));
  }

  /** The worker's reports, in order, to the core; and jobs waiting here for room in its inbox, if it has some. */
  private drainOne(worker: number, t: Thread): void {
    for (let text = t.outbox.read(); text !== undefined; text = t.outbox.read())
      this.o.perform(this.o.core.fromWorker(worker, JSON.parse(text) as DoneReport));
    if (t.overflow.length > 0) this.flush(t);
  }

  private post(worker: number, message: ToWorker): void {
    // A slot whose thread starts later (after a pause) is given the live generations when it starts.
    const t = this.threads.get(worker);
    if (!t) return;
    if (message.type === 'query') return this.send(t, message);
    // A generation carries SharedArrayBuffers, which only a message can share; the bell wakes the worker.
    t.thread.postMessage(message);
    t.inbox.ring();
  }

  /**
   * A job into the worker's inbox, behind those it holds. Jobs that do not fit (a worker stuck for long, whose
   * inbox fills with jobs taken back from it) wait here, in order, until it has read some (`drainOne`, at every
   * event and when it says `idle`); a stuck one is terminated at its deadline with them.
   */
  private send(t: Thread, message: ToWorker): void {
    const text = JSON.stringify(message);
    if (t.overflow.length > 0 || !t.inbox.write(text)) t.overflow.push(text);
    t.inbox.ring();
    if (!this.tail) this.tail = setTimeout(this.readTail, TAIL_MS);
  }

  /** Reports of workers that went idle without a word (nothing waited for them): read within TAIL_MS. */
  private readonly readTail = (): void => {
    this.tail = undefined;
    this.drain();
    if (this.o.core.busy() > 0 && !this.closing) this.tail = setTimeout(this.readTail, TAIL_MS);
  };

  private flush(t: Thread): void {
    while (t.overflow.length > 0 && t.inbox.write(t.overflow[0]!)) t.overflow.shift();
    t.inbox.ring();
  }

  /** `idle`: the worker ran out of jobs while others wait, so its reports are read now (`drain`). */
  private fromPort(worker: number, msg: PortFromWorker): void {
    if (msg.type === 'rest') return this.o.rest(msg);
    this.drain();
    if (msg.type !== 'idle') this.o.perform(this.o.core.fromWorker(worker, msg));
  }

  private spawn(worker: number): void {
    const given = this.o.core.startWorker(worker);
    if (this.closing || !given) return;
    const setup: WorkerSetup = {
      run: this.o.run,
      generations: given.generations,
      faults: this.o.faults,
      cells: given.cells,
      waiting: given.waiting,
      inbox: newRing(INBOX_BYTES),
      outbox: newRing(OUTBOX_BYTES),
    };
    const thread = new Worker(this.o.source, { eval: true, workerData: setup });
    const t: Thread = {
      thread,
      inbox: new RingWriter(setup.inbox),
      outbox: new RingReader(setup.outbox),
      overflow: [],
    };
    this.threads.set(worker, t);
    thread.on('message', (msg: PortFromWorker) => this.fromPort(worker, msg));
    thread.on('error', (e) => this.o.core.workerError(worker, e.message));
    thread.on('exit', (code) => {
      // What it reported before it ended counts as done, not as lost with it.
      this.drain();
      this.threads.delete(worker);
      this.o.perform(this.o.core.workerExited(worker, code));
    });
  }

  private disarm(worker: number): void {
    clearTimeout(this.timers.get(worker));
    this.timers.delete(worker);
  }

  private arm(worker: number, ms: number): void {
    this.disarm(worker);
    this.timers.set(
      worker,
      setTimeout(() => {
        this.timers.delete(worker);
        this.drain();
        this.o.perform(this.o.core.deadline(worker));
      }, ms),
    );
  }
}
