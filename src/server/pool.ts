/**
 * The worker pool: a fixed set of worker threads, started once, each running src/server/worker.ts on the live
 * generations (given in workerData and by message; their SharedArrayBuffers are shared, not copied). The pool runs
 * one job per worker at a time and enforces the per-job deadline. It never queues: `run` says whether an idle
 * worker took the job, and `onIdle` tells the dispatcher when to offer the next one.
 *
 * Workers start from `source`, the worker bundle's text read once when the daemon started: a worker that replaces
 * a dead one runs the same code as its daemon even after a new release has replaced the files on disk.
 *
 * When a job goes wrong the worker is the price, never the daemon:
 *  - past its deadline: the worker is terminated (which stops even a tight loop) and replaced, and the pool writes
 *    the client a `status=timeout` answer ROQ_QUERY_DEADLINE;
 *  - the worker dies (process.exit in the thread, an uncaught error, out of memory): it is replaced, and its
 *    client gets ROQ_WORKER_DIED. A worker that dies before it is ready is replaced after a pause, so a broken
 *    worker file costs a log line a second, not a busy loop.
 */
import { Worker } from 'node:worker_threads';
import { roqError, type RoqError } from '../errors.js';
import { encodeAnswer } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { writeAnswer } from './fifo.js';
import type { Log } from './log.js';

// ---- messages between the pool and its workers ----

export interface WorkerSetup {
  run: string;
  /** Every live generation: the current one, and older ones that queued or running jobs still name. */
  generations: GenerationData[];
  /** Fault-injection queries (tests only; see worker.ts). */
  faults: boolean;
  /** How long a worker waits for a slow client to take a long answer. */
  writeWaitMs: number;
}

export type ToWorker =
  | { type: 'query'; seq: number; pid: number; token: string; query: string; params: Record<string, string>; generation: number }
  | { type: 'generation'; generation: GenerationData }
  | { type: 'drop'; id: number };

export type JobStatus = 'ok' | 'error' | 'failed';
export type FromWorker =
  | { type: 'ready'; heap: number }
  | { type: 'done'; seq: number; status: JobStatus; rows: number; workMs: number; heap?: number; detail?: string; undelivered?: string };

// ---- the pool ----

export interface Job {
  seq: number;
  pid: number;
  token: string;
  query: string;
  params: Record<string, string>;
  /** The parameters as the request line carried them (urlencoded), for the access log. */
  encoded: string;
  /** The generation that answers it: the one current when its line was read. */
  generation: number;
  /** performance.now() when its line was read, and when a worker took it. */
  readAt: number;
  startedAt: number;
}

/** How a job ended, as the dispatcher counts it. */
export type Outcome = JobStatus | 'timeout' | 'died';

/** What the worker reported about a job it finished (zero when the worker could not say). */
export interface JobReport {
  rows: number;
  workMs: number;
}

export interface WorkerStats {
  index: number;
  state: 'starting' | 'idle' | 'busy';
  served: number;
  /** The thread's V8 heap in bytes, as last reported. */
  heap: number;
}

export interface PoolOptions {
  size: number;
  deadlineMs: number;
  run: string;
  faults: boolean;
  /** The worker bundle's text (dist/worker.js). */
  source: string;
  log: Log;
  /** A worker became free: offer it the next queued job. */
  onIdle(): void;
  onOutcome(job: Job, outcome: Outcome, report: JobReport): void;
  /** A generation was dropped from every worker (the daemon then collects garbage on its own thread). */
  onDropped?(): void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  job: Job | null;
  timer: NodeJS.Timeout | undefined;
  /** Set when the pool itself ends the worker, so its exit is not mistaken for a death. */
  retired: boolean;
  lastError: string | undefined;
  served: number;
  heap: number;
}

export interface Pool {
  /** Resolves when every first worker has started; rejects if one dies first. */
  ready(): Promise<void>;
  /** Hands the job to an idle worker; false when all are busy. */
  run(job: Job): boolean;
  /** Opens a generation in every worker (before any job names it). */
  addGeneration(generation: GenerationData): void;
  /** Closes a generation no job names any more, so its memory can be freed. */
  dropGeneration(id: number): void;
  busy(): number;
  stats(): { size: number; busy: number; replaced: number; workers: WorkerStats[] };
  close(): Promise<void>;
}

/** Error answers the pool writes are small (< PIPE_BUF): one write, so the dispatcher waits for no client. */
const DISPATCHER_WRITE_WAIT_MS = 20;

export function createPool(o: PoolOptions): Pool {
  const slots: Slot[] = [];
  // Empty at first: the workers start while the daemon loads its first generation, which comes by addGeneration.
  const live = new Map<number, GenerationData>();
  let replaced = 0;
  let closing = false;
  let initial: { resolve(): void; reject(e: Error): void; pending: number } | undefined;
  const initialReady = new Promise<void>((resolve, reject) => (initial = { resolve, reject, pending: o.size }));

  function spawnSlot(index: number): void {
    const setup: WorkerSetup = { run: o.run, generations: [...live.values()], faults: o.faults, writeWaitMs: Math.min(1000, Math.ceil(o.deadlineMs / 2)) };
    const worker = new Worker(o.source, { eval: true, workerData: setup });
    const slot: Slot = { index, worker, ready: false, job: null, timer: undefined, retired: false, lastError: undefined, served: 0, heap: 0 };
    slots[index] = slot;
    slot.worker.on('message', (msg: FromWorker) => onMessage(slot, msg));
    slot.worker.on('error', (e) => (slot.lastError = e.message));
    slot.worker.on('exit', (code) => onExit(slot, code));
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
        slot.heap = msg.heap;
        if (!slot.ready) {
          slot.ready = true;
          if (initial && --initial.pending === 0) {
            initial.resolve();
            initial = undefined;
          }
        }
        if (!slot.job) o.onIdle();
        return;
      case 'done': {
        const job = slot.job;
        if (!job || job.seq !== msg.seq) return; // the deadline already answered it
        clearTimeout(slot.timer);
        slot.job = null;
        slot.served++;
        if (msg.heap !== undefined) slot.heap = msg.heap;
        if (msg.status === 'failed') o.log.error(`query '${job.query}' failed: ${msg.detail ?? '(no detail)'}`);
        if (msg.undelivered) o.log.warn(`answer to pid ${job.pid} (${job.query}) not delivered: ${msg.undelivered}`);
        o.onOutcome(job, msg.status, { rows: msg.rows, workMs: msg.workMs });
        o.onIdle();
        return;
      }
      default: {
        const never: never = msg;
        o.log.error(`unknown message from a worker: ${JSON.stringify(never)}`);
      }
    }
  }

  /** Writes an error answer from the dispatcher's thread, for a job whose worker can no longer answer. */
  function answerInstead(job: Job, status: 'error' | 'timeout', err: RoqError): void {
    const d = writeAnswer(o.run, job.pid, job.token, encodeAnswer({ status, code: err.code, message: err.message }), DISPATCHER_WRITE_WAIT_MS);
    if (!d.sent) o.log.warn(`${err.code} answer to pid ${job.pid} not delivered: ${d.reason}`);
  }

  function replace(slot: Slot, delayMs: number): void {
    if (closing) return;
    replaced++;
    const respawn = () => !closing && slots[slot.index] === slot && spawnSlot(slot.index);
    if (delayMs > 0) setTimeout(respawn, delayMs).unref();
    else respawn();
  }

  function onDeadline(slot: Slot): void {
    const job = slot.job;
    if (!job) return;
    slot.job = null;
    slot.retired = true;
    void slot.worker.terminate();
    o.log.warn(`query '${job.query}' of pid ${job.pid} passed its deadline of ${o.deadlineMs} ms; worker ${slot.index} replaced`);
    answerInstead(job, 'timeout', roqError('ROQ_QUERY_DEADLINE', { query: job.query, ms: o.deadlineMs }));
    o.onOutcome(job, 'timeout', { rows: 0, workMs: o.deadlineMs });
    replace(slot, 0);
    o.onIdle();
  }

  function onExit(slot: Slot, code: number): void {
    clearTimeout(slot.timer);
    if (slot.retired || closing) return;
    const detail = slot.lastError ?? `exit code ${code}`;
    o.log.error(`worker ${slot.index} died (${detail})${slot.job ? ` running '${slot.job.query}' of pid ${slot.job.pid}` : ''}; replacing it`);
    if (!slot.ready && initial) {
      initial.reject(new Error(`a worker died while starting (${detail})`));
      initial = undefined;
      return;
    }
    const job = slot.job;
    slot.job = null;
    if (job) {
      answerInstead(job, 'error', roqError('ROQ_WORKER_DIED', { query: job.query, detail }));
      o.onOutcome(job, 'died', { rows: 0, workMs: 0 });
    }
    replace(slot, slot.ready ? 0 : 1000);
    o.onIdle();
  }

  for (let i = 0; i < o.size; i++) spawnSlot(i);

  return {
    ready: () => initialReady,
    run(job) {
      const slot = slots.find((s) => s.ready && !s.job && !s.retired);
      if (!slot) return false;
      slot.job = job;
      job.startedAt = performance.now();
      slot.timer = setTimeout(() => onDeadline(slot), o.deadlineMs);
      const msg: ToWorker = { type: 'query', seq: job.seq, pid: job.pid, token: job.token, query: job.query, params: job.params, generation: job.generation };
      slot.worker.postMessage(msg);
      return true;
    },
    addGeneration(g) {
      live.set(g.id, g);
      // A worker still starting gets it too: messages wait in its port until it listens.
      const msg: ToWorker = { type: 'generation', generation: g };
      for (const s of slots) if (!s.retired) s.worker.postMessage(msg);
    },
    dropGeneration(id) {
      if (!live.delete(id)) return;
      const msg: ToWorker = { type: 'drop', id };
      for (const s of slots) if (!s.retired) s.worker.postMessage(msg);
      o.onDropped?.();
    },
    busy: () => slots.filter((s) => s.job).length,
    stats: () => ({
      size: o.size,
      busy: slots.filter((s) => s.job).length,
      replaced,
      workers: slots.map((s) => ({ index: s.index, state: !s.ready ? 'starting' : s.job ? 'busy' : 'idle', served: s.served, heap: s.heap })),
    }),
    async close() {
      closing = true;
      for (const s of slots) clearTimeout(s.timer);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
