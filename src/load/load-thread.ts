/**
 * The load thread: builds generations from the data directory off the dispatcher's thread, so the daemon keeps
 * answering from the current generation while the next one is parsed (a big export takes seconds of CPU). A reload
 * runs at nice 19, so that query workers get the cores first; the daemon ends the thread after each load (see
 * load-runner.ts).
 *
 * For a `load` message it posts the finished generation (its SharedArrayBuffers are shared with the daemon, not
 * copied) or the load error as a code and details, so the daemon rebuilds the same RoqError naming
 * file:line:column.
 */
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { RoqError, roqError, toWire } from '../errors.js';
import { loadGeneration } from './loader.js';
import type { FromLoadThread, LoadJob, ToLoadThread } from './messages.js';
import { sleep } from '../poll.js';

const port = parentPort!;
const post = (msg: FromLoadThread) => port.postMessage(msg);

async function load(job: LoadJob): Promise<void> {
  if (job.nice) {
    // On Linux, setpriority on "0" names the calling thread only; the daemon's other threads keep theirs.
    try {
      setPriority(0, 19);
    } catch {
      /* not permitted here: load at normal priority */
    }
  }
  if (job.delayMs > 0) await sleep(job.delayMs);
  try {
    const log = { warn: (msg: string) => post({ type: 'warn', id: job.id, msg }) };
    post({
      type: 'loaded',
      id: job.id,
      generation: await loadGeneration(job.dataDir, job.id, log, (file) => post({ type: 'file', id: job.id, file })),
    });
  } catch (e) {
    if (e instanceof RoqError) return post({ type: 'failed', id: job.id, error: toWire(e) });
    // A bug, not a file at fault: said as such, with its stack for the daemon's log.
    const err = roqError('ROQ_LOAD_INTERNAL', { dir: job.dataDir, detail: String((e as Error)?.message ?? e) });
    post({ type: 'failed', id: job.id, error: toWire(err), stack: String((e as Error)?.stack ?? e) });
  }
}

port.on('message', (msg: ToLoadThread) => void load(msg.job));
