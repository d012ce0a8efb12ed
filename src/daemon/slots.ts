/**
 * The core's picture of one worker (core.ts): the jobs it holds, its claim cells, its counters — and the two
 * questions asked of all of them together: which worker gets the next job, and how many jobs wait for a worker
 * without being claimed. Plain data over the claim cells in shared memory; no I/O.
 */
import { QUEUED_PER_WORKER, unclaimed, type ClaimCells } from './messages.js';
import type { Job } from './effect-types.js';

export interface Slot {
  worker: number;
  index: number;
  ready: boolean;
  /** Set once the core gives it nothing more (killed, died): its exit is then expected. */
  retired: boolean;
  /** The job it runs (or is about to start), then the jobs waiting in its inbox. */
  jobs: Job[];
  cells: ClaimCells;
  /** The claim cell of each job handed to it. */
  cellOf: Map<Job, number>;
  lastError: string | undefined;
  served: number;
  heap: number;
}

/**
 * The worker for the next job: an idle one first; none when every worker holds all it may. Between workers
 * holding as many jobs, the one whose current job started last (one running long may be stuck until its
 * deadline).
 */
export function pickSlot(slots: readonly Slot[]): Slot | undefined {
  let slot: Slot | undefined;
  for (const s of slots) {
    if (!s.ready || s.retired || s.jobs.length > QUEUED_PER_WORKER) continue;
    if (
      !slot ||
      s.jobs.length < slot.jobs.length ||
      (s.jobs.length === slot.jobs.length && s.jobs.length > 0 && s.jobs[0]!.startedAt > slot.jobs[0]!.startedAt)
    )
      slot = s;
  }
  return slot;
}

/** Jobs handed to workers that they have not claimed yet: waiting behind the job each runs. */
export function unclaimedJobs(slots: readonly Slot[]): number {
  let n = 0;
  for (const s of slots) if (s.jobs.length > 1) n += unclaimed(s.cells);
  return n;
}
