/**
 * The worker pool: a fixed set of worker threads, started once, each running src/server/worker.ts on the current
 * generation (given in workerData; its SharedArrayBuffers are shared, not copied). The pool runs one job per
 * worker at a time and enforces the per-job deadline. It never queues: `run` says whether an idle worker took the
 * job, and `onIdle` tells the dispatcher when to offer the next one.
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
  generation: GenerationData;
  /** Fault-injection queries (tests only; see worker.ts). */
  faults: boolean;
  /** How long a worker waits for a slow client to take a long answer. */
  writeWaitMs: number;
}

export type ToWorker =
  | { type: 'query'; seq: number; pid: number; token: string; query: string; params: Record<string, string> }
  | { type: 'generation'; generation: GenerationData };

export type JobStatus = 'ok' | 'error' | 'failed';
export type FromWorker =
  | { type: 'ready'; generation: number }
  | { type: 'done'; seq: number; status: JobStatus; detail?: string; undelivered?: string };

// ---- the pool ----

export interface Job {
  seq: number;
  pid: number;
  token: string;
  query: string;
  params: Record<string, string>;
}

/** How a job ended, as the dispatcher counts it. */
export type Outcome = JobStatus | 'timeout' | 'died';

export interface PoolOptions {
  size: number;
  deadlineMs: number;
  run: string;
  generation: GenerationData;
  faults: boolean;
  workerFile: string;
  log: Log;
  /** A worker became free: offer it the next queued job. */
  onIdle(): void;
  onOutcome(job: Job, outcome: Outcome): void;
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
}

export interface Pool {
  /** Resolves when every first worker has opened the generation; rejects if one dies first. */
  ready(): Promise<void>;
  /** Hands the job to an idle worker; false when all are busy. */
  run(job: Job): boolean;
  setGeneration(generation: GenerationData): void;
  busy(): number;
  stats(): { size: number; busy: number; replaced: number };
  close(): Promise<void>;
}

/** Error answers the pool writes are small (< PIPE_BUF): one write, so the dispatcher waits for no client. */
const DISPATCHER_WRITE_WAIT_MS = 20;

export function createPool(o: PoolOptions): Pool {
  const slots: Slot[] = [];
  let generation = o.generation;
  let replaced = 0;
  let closing = false;
  let initial: { resolve(): void; reject(e: Error): void; pending: number } | undefined;
  const initialReady = new Promise<void>((resolve, reject) => (initial = { resolve, reject, pending: o.size }));

  function spawnSlot(index: number): void {
    const setup: WorkerSetup = { run: o.run, generation, faults: o.faults, writeWaitMs: Math.min(1000, Math.ceil(o.deadlineMs / 2)) };
    const slot: Slot = { index, worker: new Worker(o.workerFile, { workerData: setup }), ready: false, job: null, timer: undefined, retired: false, lastError: undefined };
    slots[index] = slot;
    slot.worker.on('message', (msg: FromWorker) => onMessage(slot, msg));
    slot.worker.on('error', (e) => (slot.lastError = e.message));
    slot.worker.on('exit', (code) => onExit(slot, code));
  }

  function onMessage(slot: Slot, msg: FromWorker): void {
    switch (msg.type) {
      case 'ready':
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
        if (msg.status === 'failed') o.log.error(`query '${job.query}' failed: ${msg.detail ?? '(no detail)'}`);
        if (msg.undelivered) o.log.warn(`answer to pid ${job.pid} (${job.query}) not delivered: ${msg.undelivered}`);
        o.onOutcome(job, msg.status);
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
    o.onOutcome(job, 'timeout');
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
      o.onOutcome(job, 'died');
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
      slot.timer = setTimeout(() => onDeadline(slot), o.deadlineMs);
      const msg: ToWorker = { type: 'query', seq: job.seq, pid: job.pid, token: job.token, query: job.query, params: job.params };
      slot.worker.postMessage(msg);
      return true;
    },
    setGeneration(g) {
      generation = g;
      const msg: ToWorker = { type: 'generation', generation: g };
      for (const s of slots) if (!s.retired) s.worker.postMessage(msg);
    },
    busy: () => slots.filter((s) => s.job).length,
    stats: () => ({ size: o.size, busy: slots.filter((s) => s.job).length, replaced }),
    async close() {
      closing = true;
      for (const s of slots) clearTimeout(s.timer);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
