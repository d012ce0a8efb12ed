/**
 * The daemon process's main: take the run directory's lock, make REQUESTS, load the data, start the worker pool,
 * then start the dispatcher on REQUESTS, in that order, so that by the time it reports ready every part is
 * serving. Anything failing before that releases what was taken and rejects; `roq start` reports it.
 *
 * Signal handlers only record: SIGTERM and SIGINT write a `stop` pseudo-request and SIGHUP a `reload` one into
 * REQUESTS (via the dispatcher), and the dispatcher acts on them in order with the requests around them. A signal
 * that arrives while loading is remembered and acted on once the dispatcher runs.
 *
 * While serving, the daemon rewrites `<run>/status.json` once a second (asynchronously, write-then-rename so a
 * reader never sees half a file) for `roq status`.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ControlWord } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { startDispatcher, type Dispatcher } from './dispatcher.js';
import { ensureRequestsFifo, openRequests } from './fifo.js';
import { acquirePidLock, STATUS_FILE, type ReadyReport, type ReleasePidLock } from './lifecycle.js';
import { loadGeneration } from './loader.js';
import { createLog, type Log } from './log.js';
import { createPool, type Pool } from './pool.js';

export interface DaemonOptions {
  run: string;
  data: string;
  workers: number;
  deadlineMs: number;
  /** Fault-injection queries for tests (env ROQ_TEST_FAULTS=1); see worker.ts. */
  faults: boolean;
}

/** What `roq status` reads from `<run>/status.json`. */
export interface StatusFile {
  pid: number;
  run: string;
  startedAt: number;
  updatedAt: number;
  deadlineMs: number;
  generation: { id: number; dataDir: string; loadedAt: number; loadMs: number; rows: number; bytes: number; files: number };
  workers: { size: number; busy: number; replaced: number };
  queued: number;
  served: ReturnType<Dispatcher['counters']>;
}

const SIGNALS: Record<string, ControlWord> = { SIGTERM: 'stop', SIGINT: 'stop', SIGHUP: 'reload' };

/**
 * Starts serving and resolves with the readiness report; the process then lives until a stop, after which it
 * exits 0 on its own. Rejects (with a RoqError for load errors) after releasing the lock.
 */
export async function runDaemon(o: DaemonOptions, log: Log = createLog()): Promise<ReadyReport> {
  const startedAt = Date.now();
  const early: ControlWord[] = [];
  let dispatcher: Dispatcher | undefined;
  for (const [sig, word] of Object.entries(SIGNALS)) {
    process.on(sig, () => (dispatcher ? dispatcher.control(word) : early.push(word)));
  }
  log.info(`starting: pid ${process.pid}, run ${o.run}, data ${o.data}, ${o.workers} workers, deadline ${o.deadlineMs} ms`);

  fs.mkdirSync(o.run, { recursive: true });
  const release = await acquirePidLock(o.run, log);
  let pool: Pool | undefined;
  let generation: GenerationData;
  try {
    ensureRequestsFifo(o.run);
    generation = await loadGeneration(o.data, 1, log);
    pool = createPool({
      size: o.workers,
      deadlineMs: o.deadlineMs,
      run: o.run,
      generation,
      faults: o.faults,
      workerFile: join(__dirname, 'worker.js'),
      log,
      onIdle: () => dispatcher?.pump(),
      onOutcome: (job, outcome) => dispatcher?.outcome(job, outcome),
    });
    await pool.ready();
  } catch (e) {
    log.error(`start failed: ${(e as Error).message}`);
    await pool?.close();
    await release();
    throw e;
  }

  const serving = pool;
  const fd = openRequests(o.run);
  let statusWrite: Promise<void> = Promise.resolve();
  const statusTimer = setInterval(() => (statusWrite = writeStatus()), 1000);
  statusTimer.unref();
  const d = startDispatcher({
    run: o.run,
    fd,
    generation,
    pool: serving,
    log,
    loadGeneration: (id) => loadGeneration(o.data, id, log),
    stopped: () => {
      clearInterval(statusTimer);
      void statusWrite.then(() => shutdown(serving, release, log, o.run));
    },
  });
  dispatcher = d;

  async function writeStatus(): Promise<void> {
    const g = d.generation();
    const status: StatusFile = {
      pid: process.pid,
      run: o.run,
      startedAt,
      updatedAt: Date.now(),
      deadlineMs: o.deadlineMs,
      generation: { id: g.id, dataDir: g.dataDir, loadedAt: g.loadedAt, loadMs: Math.round(g.loadMs), rows: g.stats.rows, bytes: g.stats.bytes, files: g.stats.files.length },
      workers: serving.stats(),
      queued: d.queued(),
      served: d.counters(),
    };
    const path = join(o.run, STATUS_FILE);
    try {
      await fs.promises.writeFile(path + '.tmp', JSON.stringify(status) + '\n');
      await fs.promises.rename(path + '.tmp', path);
    } catch (e) {
      log.warn(`writing ${path}: ${(e as Error).message}`);
    }
  }
  await writeStatus();

  for (const word of early) d.control(word);
  const s = generation.stats;
  log.info(`serving: generation ${generation.id}, ${s.rows} rows from ${s.files.length} files in ${Math.round(generation.loadMs)} ms`);
  return { pid: process.pid, generation: generation.id, files: s.files.length, rows: s.rows, bytes: s.bytes, loadMs: Math.round(generation.loadMs), workers: o.workers, run: o.run };
}

async function shutdown(pool: Pool, release: ReleasePidLock, log: Log, run: string): Promise<void> {
  await pool.close();
  fs.rmSync(join(run, STATUS_FILE), { force: true });
  await release();
  log.info('stopped');
  process.exit(0);
}
