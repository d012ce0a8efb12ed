/**
 * Everything that crosses the boundary between the daemon's main thread and a worker thread: the worker's setup,
 * the messages each way, and the claim cells in shared memory through which a job waiting for a worker is
 * claimed by the worker or taken back by the main thread. Both sides import this file and nothing of the other,
 * so the worker bundle does not carry the pool.
 *
 * Two ways across: jobs and their reports travel as records in two shared rings per worker (ring.ts: `inbox`
 * main → worker, `outbox` worker → main), since a `postMessage` per job cost more than the query; the rare
 * messages — a generation to open or drop, `ready`, and `idle` (a worker going to sleep, so the main thread reads
 * its outbox now) — go through the worker's port, which also carries a generation's SharedArrayBuffers.
 *
 * A worker's claim cells: [0] the tag of the job it is running (0: none); [1 … CLAIM_CELLS] one cell per job
 * handed to it and not yet claimed: +tag while the job waits, −tag once the worker claimed it, 0 once the main
 * thread took it back. A cell is used again only once it is ≤ 0. Whoever wins the compare-and-exchange on a cell
 * has the job, so it is answered exactly once.
 */
import type { WebFields } from '../web-protocol.js';
import type { GenerationData } from '../store/types.js';
import type { AnswerRest } from './answer-drain.js';

/** Bytes of a worker's inbox and outbox rings: far more than the few jobs and reports in flight at once. */
export const INBOX_BYTES = 1 << 18;
export const OUTBOX_BYTES = 1 << 16;
/** A failed query's detail (a stack) is cut to this in its report, so a report always fits the outbox. */
export const MAX_DETAIL = 8000;

/** Jobs a busy worker may hold besides the one it runs (see core.ts). */
export const QUEUED_PER_WORKER = 2;
/** Claim cells per worker: more than the jobs a worker holds at once, so a free one is always there. */
export const CLAIM_CELLS = 2 * (QUEUED_PER_WORKER + 1);

export type ClaimCells = Int32Array;

/** A job's tag: its sequence number folded into a positive int32. */
export function tagOf(seq: number): number {
  return (seq % 0x3fffffff) + 1;
}

/** Fresh cells for one worker, in memory the worker shares. */
export function newClaimCells(): ClaimCells {
  return new Int32Array(new SharedArrayBuffer(4 * (1 + CLAIM_CELLS)));
}

/** The worker's side: claims the job waiting in `cell` and marks it running; false if it was taken back. */
export function claimJob(cells: ClaimCells, cell: number, seq: number): boolean {
  const tag = tagOf(seq);
  if (Atomics.compareExchange(cells, cell, tag, -tag) !== tag) return false;
  Atomics.store(cells, 0, tag);
  return true;
}

/** The worker's side: it runs nothing now (written before its report, so a deadline seen after finds it done). */
export function jobFinished(cells: ClaimCells): void {
  Atomics.store(cells, 0, 0);
}

/** The main thread's side: takes a job back from `cell` unless the worker claimed it first. */
export function takeBackJob(cells: ClaimCells, cell: number, seq: number): boolean {
  const tag = tagOf(seq);
  return Atomics.compareExchange(cells, cell, tag, 0) === tag;
}

/** The main thread's side: puts a job in a free cell for the worker to claim; returns the cell. */
export function offerJob(cells: ClaimCells, seq: number): number {
  let cell = 1;
  while (Atomics.load(cells, cell) > 0) cell++;
  if (cell > CLAIM_CELLS) throw new Error('no free claim cell'); // cannot happen: see CLAIM_CELLS
  Atomics.store(cells, cell, tagOf(seq));
  return cell;
}

/** How many jobs handed to the worker it has not claimed yet (they wait behind the one it runs). */
export function unclaimed(cells: ClaimCells): number {
  let n = 0;
  for (let cell = 1; cell <= CLAIM_CELLS; cell++) if (Atomics.load(cells, cell) > 0) n++;
  return n;
}

/** Whether the worker is running job `seq` right now (it claimed it and has not finished it). */
export function isRunning(cells: ClaimCells, seq: number): boolean {
  return Atomics.load(cells, 0) === tagOf(seq);
}

export interface WorkerSetup {
  run: string;
  /** Every live generation: the current one, and older ones that queued or running jobs still name. */
  generations: GenerationData[];
  /** Fault-injection queries (tests only; see worker.ts). */
  faults: boolean;
  cells: ClaimCells;
  /**
   * [0]: how many jobs wait for a worker — in the core's queue, or unclaimed behind a worker's running job — so
   * a worker that falls idle says so at once (core.ts keeps it up to date).
   */
  waiting: Int32Array;
  /** The rings (ring.ts): jobs in, reports out. */
  inbox: SharedArrayBuffer;
  outbox: SharedArrayBuffer;
}

export type QueryJob = Extract<ToWorker, { type: 'query' }>;

export type ToWorker =
  | {
      type: 'query';
      seq: number;
      cell: number;
      pid: number;
      token: string;
      proof?: string;
      query: string;
      params: Record<string, string>;
      generation: number;
      /** A web request (protocol version 3): answered with a whole CGI response; query and params are unused. */
      web?: WebFields;
    }
  | { type: 'generation'; generation: GenerationData }
  | { type: 'drop'; id: number };

export type JobStatus = 'ok' | 'error' | 'failed';

export type FromWorker =
  | { type: 'ready'; heap: number }
  | {
      type: 'done';
      seq: number;
      status: JobStatus;
      rows: number;
      workMs: number;
      heap?: number;
      detail?: string;
      undelivered?: string;
      /**
       * For a web request: the query it named ('' for none), the parameters it asked it with (urlencoded; absent
       * when it ran none) and the HTTP status of its response.
       */
      query?: string;
      params?: string;
      http?: number;
    };

export type DoneReport = Extract<FromWorker, { type: 'done' }>;

/**
 * What a worker posts through its port (reports go through its outbox). `idle`: read my outbox now — it ran out
 * of jobs while others wait for a worker, or its outbox is full. `rest`: an answer its client's FIFO could not
 * take at once, for the main thread to write as the client reads (answer-drain.ts); the descriptor is the main
 * thread's from then on.
 */
export type PortFromWorker = Exclude<FromWorker, DoneReport> | { type: 'idle' } | ({ type: 'rest' } & AnswerRest);
