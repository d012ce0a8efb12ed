/**
 * What goes into and out of the core (core.ts) besides the events themselves: the jobs it hands out, how they
 * end, and the effects it asks its edges to perform (effects.ts performs them). Plain data only.
 */
import type { Answer, ControlWord } from '../protocol.js';
import type { WebFields } from '../web-protocol.js';
import type { JobStatus, ToWorker } from './messages.js';

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
  /** The clock when its line was read, and when a worker took it. */
  readAt: number;
  startedAt: number;
  /** A web request (protocol version 3), answered with a page; `query` is WEB_WORD until its worker names one. */
  web?: WebFields;
  /** The HTTP status its worker answered a web request with. */
  http?: number;
}

/** How a job ended, as the daemon counts it. */
export type Outcome = JobStatus | 'timeout' | 'died';

/** What the worker reported about a job it finished (zero when the worker could not say). */
export interface JobReport {
  rows: number;
  workMs: number;
}

/**
 * What the core asks its edges to do, in order. Workers are named by `worker`, an id that is never reused: a
 * replacement gets a new one, so a late event of a terminated thread cannot be taken for its successor's.
 */
export type Effect =
  | { kind: 'post'; worker: number; message: ToWorker }
  /**
   * Write an answer from the main thread (an error, a health answer): the job's worker cannot, or there is none.
   * For a web request (`web`), the answer is rendered as its page (cgi/web.ts) and framed as a web answer.
   */
  | {
      kind: 'answer';
      pid: number;
      token: string;
      proof: string | undefined;
      answer: Answer;
      about: Warner;
      web?: WebFields;
    }
  /** (Re)arm the worker's deadline timer: `deadline(worker)` in `ms`. */
  | { kind: 'arm'; worker: number; ms: number }
  | { kind: 'disarm'; worker: number }
  | { kind: 'terminate'; worker: number }
  /** Start a worker thread for slot `index` after `delayMs`, with `startWorker(worker)`'s setup. */
  | { kind: 'spawn'; worker: number; index: number; delayMs: number }
  /** Every worker was told to drop a generation: time for a full collection. */
  | { kind: 'dropped'; id: number }
  | { kind: 'writeControl'; word: ControlWord; token: string }
  | { kind: 'accessLog'; job: Job; outcome: Outcome | 'busy'; report: JobReport }
  /** A warning is rate-limited per `about` (one budget for what writers of REQUESTS cause, one for workers). */
  | { kind: 'log'; level: 'info' | 'error'; message: string }
  | { kind: 'log'; level: 'warn'; message: string; about: Warner }
  /** Read no more of REQUESTS, and give what was read already to `line`, then call `finishIfDone` soon. */
  | { kind: 'stopReading' }
  /** Everything read before the stop line has been answered. */
  | { kind: 'stopped' }
  /** A staged generation serves (`error` absent), or never will. */
  | { kind: 'staged'; id: number; error?: string }
  /** Every first worker is ready (`error` absent), or one died while starting. */
  | { kind: 'started'; error?: string };

/** Whose doing a warning is: a writer into REQUESTS (anyone in the web server's group), or a job in a worker. */
export type Warner = 'requests' | 'workers';
