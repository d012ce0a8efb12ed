/**
 * A load thread: builds one generation from the data directory off the dispatcher's thread, so the daemon keeps
 * answering from the current generation while the next one is parsed (a big feed takes seconds of CPU). It posts
 * the finished generation (its SharedArrayBuffers are shared with the daemon, not copied) or the load error as a
 * code and details, so the daemon rebuilds the same RoqError naming file:line:column, and then ends: nothing in
 * this thread keeps a reference to the arrays.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { RoqError } from '../errors.js';
import type { GenerationData } from '../store/types.js';
import { loadGeneration } from './loader.js';

export interface LoadJob {
  dataDir: string;
  id: number;
  /** Tests only: sleep this long before loading, to hold a load open (see ROQ_TEST_LOAD_DELAY_MS). */
  delayMs: number;
}

export type FromLoadThread =
  | { type: 'warn'; msg: string }
  | { type: 'loaded'; generation: GenerationData }
  | { type: 'failed'; code?: string; details?: Record<string, string | number>; message: string };

const job = workerData as LoadJob;
const port = parentPort!;
const post = (msg: FromLoadThread) => port.postMessage(msg);

async function main(): Promise<void> {
  if (job.delayMs > 0) await new Promise((r) => setTimeout(r, job.delayMs));
  try {
    post({ type: 'loaded', generation: await loadGeneration(job.dataDir, job.id, { warn: (msg) => post({ type: 'warn', msg }) }) });
  } catch (e) {
    post(e instanceof RoqError ? { type: 'failed', code: e.code, details: e.details, message: e.message } : { type: 'failed', message: String((e as Error)?.stack ?? e) });
  }
}

void main();
