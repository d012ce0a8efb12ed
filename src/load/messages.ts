/**
 * Everything that crosses the boundary between the daemon and its load thread (load-thread.ts): the job, and the
 * messages each way. The thread's bundle and the daemon's import this file, not each other.
 */
import type { WireError } from '../errors.js';
import type { GenerationData } from '../store/types.js';
import type { FileLoaded } from './loader.js';

export interface LoadJob {
  dataDir: string;
  id: number;
  /** Tests only: sleep this long before loading, to hold a load open (see ROQ_TEST_LOAD_DELAY_MS). */
  delayMs: number;
  /** Load at nice 19: a reload, while queries are being answered (the first load has no one to yield to). */
  nice: boolean;
}

export type ToLoadThread = { type: 'load'; job: LoadJob };

export type FromLoadThread =
  | { type: 'warn'; id: number; msg: string }
  | { type: 'file'; id: number; file: FileLoaded }
  | { type: 'loaded'; id: number; generation: GenerationData }
  /** `stack`: of an error that was no RoqError (a bug), for the daemon's log. */
  | { type: 'failed'; id: number; error: WireError; stack?: string };
