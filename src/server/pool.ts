/**
 * The worker pool: a fixed set of worker threads, started once, each running src/server/worker.ts on the live
 * generations (given in workerData and by message; their SharedArrayBuffers are shared, not copied). The pool
 * enforces the per-job deadline. `run` says whether a worker took the job, and `onIdle` tells the dispatcher when
 * to offer the next one.
 *
 * A worker holds the job it runs and up to QUEUED_PER_WORKER more, waiting in its port: handing a thread its
 * next job costs a wake-up of ~40 µs each way here, and with a job already waiting the worker starts it the
 * moment it finishes one. An idle worker gets a job first; a job waits behind a running one only when none is
 * idle. A waiting job is not yet the worker's: the worker must claim it in shared memory before it starts it
 * (an atomic compare-and-exchange on the job's cell), and the pool can take it back the same way — to give it to
 * a worker that became idle, or to queue it again when its worker is killed or dies. Whoever wins the exchange
 * has the job, so it is answered exactly once. The same memory says which job a worker is running, so a deadline
 * kill is for that job only.
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

/** Jobs a busy worker may hold besides the one it runs (see the file comment). */
const QUEUED_PER_WORKER = 2;
/** Claim cells per worker: more than the jobs a worker holds at once, so a free one is always there. */
const CLAIM_CELLS = 2 * (QUEUED_PER_WORKER + 1);

/**
 * A worker's shared cells: [0] the tag of the job it is running (0: none); [1 … CLAIM_CELLS] claim cells, one per
 * job handed to it and not yet claimed: +tag while the job waits, −tag once the worker claimed it, 0 once the
 * pool took it back. A cell is used again only once it is ≤ 0.
 */
export type ClaimCells = Int32Array;

/** A job's tag: its sequence number folded into a positive int32. */
export function tagOf(seq: number): number {
  return (seq % 0x3fffffff) + 1;
}

// ---- messages between the pool and its workers ----

export interface WorkerSetup {
  run: string;
  /** Every live generation: the current one, and older ones that queued or running jobs still name. */
  generations: GenerationData[];
  /** Fault-injection queries (tests only; see worker.ts). */
  faults: boolean;
  /** How long a worker waits for a slow client to take a long answer. */
  writeWaitMs: number;
  cells: ClaimCells;
}

export type ToWorker =
  | { type: 'query'; seq: number; cell: number; pid: number; token: string; proof?: string; query: string; params: Record<string, string>; generation: number }
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
  /** The request's secret, echoed in its answer (undefined for a version 1 request). */
  proof?: string;
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
  /** Jobs taken back from a worker that was killed or died before it started them: queue them again, first. */
  onRequeue(jobs: Job[]): void;
  /** A generation was dropped from every worker (the daemon then collects garbage on its own thread). */
  onDropped?(): void;
}

interface Slot {
  index: number;
  worker: Worker;
  ready: boolean;
  /** The job it runs (or is about to start), then the jobs waiting in its port. */
  jobs: Job[];
  cells: ClaimCells;
  /** The claim cell of each job handed to it. */
  cellOf: Map<Job, number>;
  /** The deadline of jobs[0]. */
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
  /** Hands the job to a worker, an idle one first; false when every worker holds all it may. */
  run(job: Job): boolean;
  /** Opens a generation in every worker (before any job names it). */
  addGeneration(generation: GenerationData): void;
  /** Closes a generation no job names any more, so its memory can be freed. */
  dropGeneration(id: number): void;
  /** Jobs the workers hold, running or waiting. */
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
    const cells: ClaimCells = new Int32Array(new SharedArrayBuffer(4 * (1 + CLAIM_CELLS)));
    const setup: WorkerSetup = { run: o.run, generations: [...live.values()], faults: o.faults, writeWaitMs: Math.min(1000, Math.ceil(o.deadlineMs / 2)), cells };
    const worker = new Worker(o.source, { eval: true, workerData: setup });
    const slot: Slot = { index, worker, ready: false, jobs: [], cells, cellOf: new Map(), timer: undefined, retired: false, lastError: undefined, served: 0, heap: 0 };
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
        if (slot.jobs.length === 0) o.onIdle();
        if (slot.jobs.length === 0) rebalance(slot);
        return;
      case 'done': {
        const job = slot.jobs[0];
        if (!job || job.seq !== msg.seq) return; // the deadline already answered it
        clearTimeout(slot.timer);
        slot.jobs.shift();
        slot.cellOf.delete(job);
        if (slot.jobs.length > 0) startDeadline(slot);
        slot.served++;
        if (msg.heap !== undefined) slot.heap = msg.heap;
        if (msg.status === 'failed') o.log.error(`query '${job.query}' failed: ${msg.detail ?? '(no detail)'}`);
        if (msg.undelivered) o.log.warn(`answer to pid ${job.pid} (${job.query}) not delivered: ${msg.undelivered}`);
        o.onOutcome(job, msg.status, { rows: msg.rows, workMs: msg.workMs });
        o.onIdle();
        // Nothing more from the dispatcher: take over a job waiting behind another worker's, if there is one.
        if (slot.jobs.length === 0) rebalance(slot);
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
    const d = writeAnswer(o.run, job.pid, job.token, encodeAnswer({ status, code: err.code, message: err.message }, job.proof), DISPATCHER_WRITE_WAIT_MS);
    if (!d.sent) o.log.warn(`${err.code} answer to pid ${job.pid} not delivered: ${d.reason}`);
  }

  /** Gives the job to the slot's worker: waiting, until the worker claims it (see the file comment). */
  function hand(slot: Slot, job: Job): void {
    const tag = tagOf(job.seq);
    let cell = 1;
    while (Atomics.load(slot.cells, cell) > 0) cell++;
    if (cell > CLAIM_CELLS) throw new Error(`worker ${slot.index} has no free claim cell`); // cannot happen: see CLAIM_CELLS
    Atomics.store(slot.cells, cell, tag);
    slot.cellOf.set(job, cell);
    slot.jobs.push(job);
    if (slot.jobs.length === 1) startDeadline(slot);
    const msg: ToWorker = { type: 'query', seq: job.seq, cell, pid: job.pid, token: job.token, proof: job.proof, query: job.query, params: job.params, generation: job.generation };
    slot.worker.postMessage(msg);
  }

  /** Takes a job the worker has not claimed back from it; false when the worker has claimed it already. */
  function takeBack(slot: Slot, job: Job): boolean {
    const tag = tagOf(job.seq);
    if (Atomics.compareExchange(slot.cells, slot.cellOf.get(job)!, tag, 0) !== tag) return false;
    slot.jobs.splice(slot.jobs.indexOf(job), 1);
    slot.cellOf.delete(job);
    return true;
  }

  /** The job at the head of the slot starts its deadline now: its worker has finished the one before it. */
  function startDeadline(slot: Slot): void {
    slot.jobs[0]!.startedAt = performance.now();
    slot.timer = setTimeout(() => onDeadline(slot), o.deadlineMs);
  }

  function rebalance(idle: Slot): void {
    for (const other of slots) {
      if (other === idle || other.retired || other.jobs.length < 2) continue;
      const waiting = other.jobs[other.jobs.length - 1]!;
      if (takeBack(other, waiting)) return hand(idle, waiting);
    }
  }

  /**
   * A worker that is going (killed or dead): its waiting jobs go back to the dispatcher; a job it had claimed
   * besides the running one (a race of microseconds) is answered like the running one.
   */
  function releaseWaiting(slot: Slot, lost: (job: Job) => void): void {
    const requeue: Job[] = [];
    for (const job of slot.jobs.slice(1)) {
      if (takeBack(slot, job)) requeue.push(job);
      else lost(job);
    }
    slot.jobs = [];
    if (requeue.length > 0) o.onRequeue(requeue);
  }

  function replace(slot: Slot, delayMs: number): void {
    if (closing) return;
    replaced++;
    const respawn = () => !closing && slots[slot.index] === slot && spawnSlot(slot.index);
    if (delayMs > 0) setTimeout(respawn, delayMs).unref();
    else respawn();
  }

  function onDeadline(slot: Slot): void {
    const job = slot.jobs[0];
    if (!job) return;
    // Not running it: the worker finished it (its report is on the way, and will clear this) or has yet to start
    // it (it was busy with a generation message); either way it gets a whole deadline from now.
    if (Atomics.load(slot.cells, 0) !== tagOf(job.seq)) return startDeadline(slot);
    slot.retired = true;
    void slot.worker.terminate();
    o.log.warn(`query '${job.query}' of pid ${job.pid} passed its deadline of ${o.deadlineMs} ms; worker ${slot.index} replaced`);
    const timedOut = (j: Job) => {
      answerInstead(j, 'timeout', roqError('ROQ_QUERY_DEADLINE', { query: j.query, ms: o.deadlineMs }));
      o.onOutcome(j, 'timeout', { rows: 0, workMs: o.deadlineMs });
    };
    releaseWaiting(slot, timedOut);
    timedOut(job);
    replace(slot, 0);
    o.onIdle();
  }

  function onExit(slot: Slot, code: number): void {
    clearTimeout(slot.timer);
    if (slot.retired || closing) return;
    const detail = slot.lastError ?? `exit code ${code}`;
    slot.retired = true; // the pool gives it nothing more; its waiting jobs go back to the dispatcher below
    const job = slot.jobs[0];
    o.log.error(`worker ${slot.index} died (${detail})${job ? ` running '${job.query}' of pid ${job.pid}` : ''}; replacing it`);
    if (!slot.ready && initial) {
      initial.reject(new Error(`a worker died while starting (${detail})`));
      initial = undefined;
      return;
    }
    const died = (j: Job) => {
      answerInstead(j, 'error', roqError('ROQ_WORKER_DIED', { query: j.query, detail }));
      o.onOutcome(j, 'died', { rows: 0, workMs: 0 });
    };
    releaseWaiting(slot, died);
    if (job) died(job);
    replace(slot, slot.ready ? 0 : 1000);
    o.onIdle();
  }

  for (let i = 0; i < o.size; i++) spawnSlot(i);

  return {
    ready: () => initialReady,
    run(job) {
      // The worker holding the fewest jobs; between equals, the one whose current job started last (one running
      // long may be stuck until its deadline).
      let slot: Slot | undefined;
      for (const s of slots) {
        if (!s.ready || s.retired || s.jobs.length > QUEUED_PER_WORKER) continue;
        if (!slot || s.jobs.length < slot.jobs.length || (s.jobs.length === slot.jobs.length && s.jobs.length > 0 && s.jobs[0]!.startedAt > slot.jobs[0]!.startedAt)) slot = s;
      }
      if (!slot) return false;
      hand(slot, job);
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
    busy: () => slots.reduce((n, s) => n + s.jobs.length, 0),
    stats: () => ({
      size: o.size,
      busy: slots.filter((s) => s.jobs.length > 0).length,
      replaced,
      workers: slots.map((s) => ({ index: s.index, state: !s.ready ? 'starting' : s.jobs.length > 0 ? 'busy' : 'idle', served: s.served, heap: s.heap })),
    }),
    async close() {
      closing = true;
      for (const s of slots) clearTimeout(s.timer);
      await Promise.all(slots.map((s) => s.worker.terminate()));
    },
  };
}
