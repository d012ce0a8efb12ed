/**
 * The daemon process's main. In order, so that by the time it reports ready every part is serving: take the run
 * directory's lock, open REQUESTS, load the data (in a load thread), start the worker pool, start the dispatcher.
 * Anything failing before that releases what was taken and rejects; `roq start` reports it.
 *
 * Taking over (`roq start --takeover`, `roq upgrade`): the lock is taken last instead of first. The new daemon
 * opens REQUESTS (so the kernel keeps queued requests however the old one leaves), loads, starts its workers,
 * reports LOADED, tells the old daemon to retire (SIGUSR2), and waits for the lock. The old one writes a stop
 * line into REQUESTS, answers everything read before it, releases the lock, and exits once the new one has written
 * its PID; the new one takes the lock and reads on. Requests written in between wait in the FIFO.
 *
 * Signal handlers only record: SIGTERM and SIGINT write a `stop` pseudo-request into REQUESTS, SIGUSR2 the same
 * for a retirement, SIGHUP asks the reloader for a reload (see reloader.ts), SIGUSR1 reopens the logs, SIGWINCH
 * takes the admin's hold, swap and drop requests (actions.ts).
 *
 * The code a daemon runs never changes under it: this bundle is read once at start, and the worker and load
 * threads start from their bundles' text, read here at start too, so files replaced on disk by a new release
 * are not picked up by a worker that replaces a dead one or by a reload.
 *
 * While serving, the daemon rewrites `<run>/daemon/status.json` once a second and whenever a reload starts or ends
 * (status.ts), and every minute removes answer FIFOs whose client died without removing them.
 */
import * as fs from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { GenerationData } from '../store/types.js';
import type { FileLoaded } from './loader.js';
import { VERSION } from '../version.js';
import { createAccessLog } from './access-log.js';
import { ACTION_SIGNAL, takeActionRequests } from './actions.js';
import { startDispatcher, type Dispatcher } from './dispatcher.js';
import { ensureRequestsFifo, openRequests, requestsPath, sweepStaleFifos, watchRequests } from './fifo.js';
import { checkRunDirFor, dropPrivileges, resolveAccount, type Account } from './privileges.js';
import { acquirePidLock, awaitSuccessor, isAlive, legacyPid, pidFilePath, runningPid, type ReadyReport, type ReleasePidLock } from './lifecycle.js';
import { checkRunDir, ensurePrivateDir, privateDir } from './private-dir.js';
import { roqError } from '../errors.js';
import { createStatusWriter, readStatusFile, type StatusFile } from './status.js';
import { QUERY_SPECS } from '../generated/queries.js';
import { writeQueriesFile } from '../queries-file.js';
import { createLog, rateLimited, type Log } from './log.js';
import { createPool, type Pool } from './pool.js';
import { createExpiryWarner, createLoadThread, createReloader } from './reloader.js';
import { rangeText } from '../queries/feed-dates.js';

export interface DaemonOptions {
  run: string;
  data: string;
  workers: number;
  deadlineMs: number;
  /** Fault-injection queries for tests (env ROQ_TEST_FAULTS=1); see worker.ts. */
  faults: boolean;
  /** Take over from the daemon running on `run` once loaded, instead of refusing to start. */
  takeover: boolean;
  /** How long a daemon taking over waits for the old one to let go of the lock. */
  takeoverTimeoutMs: number;
  /** The daemon's log file; undefined: stderr. */
  logFile: string | undefined;
  /** The access log file; undefined: none. */
  accessLog: string | undefined;
  /** Tests only (with faults): every load sleeps this long first. */
  loadDelayMs: number;
  /** Started as root: become this user (`name` or `name:group`) once the run directory's files are open. */
  user?: string;
}

export interface DaemonHooks {
  /** A file of the first generation is loaded (for `roq start`'s progress on a terminal). */
  fileLoaded?(f: FileLoaded): void;
  /** A daemon taking over has loaded its data and started its workers; it tells the old one to retire next. */
  loaded?(report: ReadyReport): void;
}

/**
 * A full garbage collection, for when a generation has been dropped: its SharedArrayBuffers are freed only once
 * every thread has collected its wrappers of them, and without this an idle thread may hold a dropped generation
 * for a long time (measured: RSS after 50 reloads at 2.6× RSS after 1). Set before any worker starts, the flag
 * also gives every worker thread its `gc`. One collection per reload costs the dispatcher a few milliseconds.
 */
function enableGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/** The worker and load-thread bundles, read once (see the file comment). */
function readPrograms(): { worker: string; loader: string } {
  return { worker: fs.readFileSync(join(__dirname, 'worker.js'), 'utf8'), loader: fs.readFileSync(join(__dirname, 'load-thread.js'), 'utf8') };
}

/**
 * Checks the run directory before anything is opened in it — it must be the daemon's user's and safe for a shared
 * group (private-dir.checkRunDir) — and makes the daemon's private directory. `roq start` calls it too, since it
 * opens the daemon's log there before the daemon runs. Returns the account a root daemon becomes, if any.
 */
export function prepareRunDir(o: Pick<DaemonOptions, 'run' | 'user'>): Account | undefined {
  const account = o.user ? resolveAccount(o.user, o.run) : undefined;
  checkRunDir(o.run, account?.uid ?? process.geteuid!(), account?.name ?? (userInfo().username || String(process.geteuid!())));
  ensurePrivateDir(o.run, account?.uid);
  return account;
}

/**
 * Starts serving and resolves with the readiness report; the process then lives until a stop, after which it
 * exits 0 on its own. Rejects (with a RoqError for load errors) after releasing what it took.
 */
export async function runDaemon(o: DaemonOptions, hooks: DaemonHooks = {}): Promise<ReadyReport> {
  const startedAt = Date.now();
  fs.mkdirSync(o.run, { recursive: true });
  const account = prepareRunDir(o);
  const log: Log = createLog(o.logFile ?? 2);
  const accessLog = createAccessLog(o.accessLog, log);
  let dispatcher: Dispatcher | undefined;
  let retiring = false;
  const early: ('stop' | 'retire' | 'reload' | 'actions')[] = [];
  const onSignal = (what: 'stop' | 'retire' | 'reload' | 'actions') => {
    if (!dispatcher) return void early.push(what);
    if (what === 'reload') return reloader.request();
    if (what === 'actions') {
      for (const a of takeActionRequests(o.run, (name, why) => log.warn(`admin request ${name} ignored: ${why}`))) reloader.act(a.action, a.id);
      return;
    }
    if (what === 'retire') retiring = true;
    dispatcher.control('stop');
  };
  process.on('SIGTERM', () => onSignal('stop'));
  process.on('SIGINT', () => onSignal('stop'));
  process.on('SIGUSR2', () => onSignal('retire'));
  process.on('SIGHUP', () => onSignal('reload'));
  process.on(ACTION_SIGNAL, () => onSignal('actions'));
  process.on('SIGUSR1', () => {
    accessLog.reopen();
    log.reopen?.();
    log.info('logs reopened');
  });
  process.on('uncaughtException', (e) => {
    log.error(`internal error, exiting: ${e.stack ?? e.message}`);
    accessLog.flush();
    process.exit(70);
  });
  log.info(`starting roq ${VERSION}: pid ${process.pid}, run ${o.run}, data ${o.data}, ${o.workers} workers, deadline ${o.deadlineMs} ms${o.takeover ? ', taking over' : ''}`);

  const programs = readPrograms();
  const gc = enableGc();
  if (account) checkRunDirFor(account, o.run);
  let release: ReleasePidLock | undefined = o.takeover ? undefined : await acquirePidLock(o.run, log);
  const predecessor = o.takeover ? runningPid(o.run) : undefined;
  const before = predecessor === undefined ? undefined : readStatusFile(o.run);
  let nextId = before?.pid === predecessor && before ? before.generation.id + 1 : 1;
  const loadDelayMs = o.faults ? o.loadDelayMs : 0;
  const loader = createLoadThread(programs.loader, log);
  const load = (id: number, nice = true, onFile?: (f: FileLoaded) => void) => loader.load({ dataDir: o.data, id, delayMs: loadDelayMs, nice }, onFile);

  let pool: Pool | undefined;
  let fd: number | undefined;
  let generation: GenerationData;
  try {
    ensureRequestsFifo(o.run, log, account?.uid);
    // Opened now, before loading: from here on the kernel keeps whatever clients write, whoever else closes it.
    fd = openRequests(o.run);
    if (account) {
      const own = [requestsPath(o.run), privateDir(o.run), pidFilePath(o.run), `${pidFilePath(o.run)}.lock`, ...(o.logFile ? [o.logFile] : []), ...(o.accessLog ? [o.accessLog] : [])];
      dropPrivileges(account, o.run, own);
      log.info(`now running as ${account.name} (uid ${account.uid}, gid ${account.gid})`);
    }
    // The workers start (tens of milliseconds each) while the first generation loads in its thread.
    pool = createPool({
      size: o.workers,
      deadlineMs: o.deadlineMs,
      run: o.run,
      faults: o.faults,
      source: programs.worker,
      // Undelivered answers are logged per request, and anyone who may write into REQUESTS can cause them.
      log: { ...log, warn: rateLimited(log) },
      onIdle: () => dispatcher?.pump(),
      onOutcome: (job, outcome, report) => dispatcher?.outcome(job, outcome, report),
      onRequeue: (jobs) => dispatcher?.requeue(jobs),
      onDropped: () => setImmediate(gc),
    });
    const started = pool.ready();
    started.catch(() => undefined); // awaited below, after the load; a load error is the one to report
    generation = await load(nextId++, false, hooks.fileLoaded);
    pool.addGeneration(generation);
    await started;
    if (o.takeover) {
      hooks.loaded?.(readyReport(generation, o));
      const old = runningPid(o.run);
      const legacy = legacyPid(o.run);
      if (old !== undefined) {
        // 0.1 daemons know no SIGUSR2 (it would kill them outright); SIGTERM makes them stop just as gracefully.
        const signal = (before ?? readStatusFile(o.run))?.version ? 'SIGUSR2' : 'SIGTERM';
        log.info(`loaded; telling pid ${old} to retire (${signal}) and waiting for the lock`);
        process.kill(old, signal);
      }
      release = await acquirePidLock(o.run, log, { deadline: Date.now() + o.takeoverTimeoutMs, pid: old });
      // A daemon of 0.1 holds a lock of its own in the run directory, not ours: wait for it to be gone instead, so
      // that it reads its stop line and answers what it has read before this one reads REQUESTS.
      const giveUp = Date.now() + o.takeoverTimeoutMs;
      while (old !== undefined && old === legacy && isAlive(old)) {
        if (Date.now() > giveUp) throw roqError('ROQ_TAKEOVER_FAILED', { run: o.run, pid: old, detail: 'it did not exit in time' });
        await new Promise((r) => setTimeout(r, 5));
      }
      if (old !== undefined) log.info(`took over from pid ${old}`);
    }
  } catch (e) {
    log.error(`start failed: ${(e as Error).message}`);
    await pool?.close();
    await loader.close();
    if (fd !== undefined) fs.closeSync(fd);
    await release?.();
    accessLog.close();
    throw e;
  }

  const serving = pool;
  const releaseLock = release!;
  try {
    writeQueriesFile(o.run, QUERY_SPECS);
  } catch (e) {
    log.warn(`could not write ${o.run}/queries.json (roq query needs it for this app's queries): ${(e as Error).message}`);
  }
  const first = generation;
  const status = createStatusWriter(o.run, snapshot, log);
  const warnIfExpired = createExpiryWarner(log);
  const statusTimer = setInterval(() => {
    requests.check();
    warnIfExpired(d.generation());
    status.request();
  }, 1000);
  statusTimer.unref();
  const sweep = () => {
    const n = sweepStaleFifos(o.run, isAlive);
    if (n > 0) log.info(`removed ${n} answer FIFO(s) left by clients that are gone`);
  };
  sweep();
  const sweepTimer = setInterval(sweep, 60_000);
  sweepTimer.unref();
  // Checked every second with the status: someone may remove or replace REQUESTS (see fifo.watchRequests).
  const requests = watchRequests(o.run, fd, log, (next) => d.attach(next));
  let stopping = false;
  const d = startDispatcher({
    run: o.run,
    fd,
    generation: first,
    pool: serving,
    log,
    answered: (job, outcome, report) => accessLog.write(job, outcome, report),
    stopped: () => void shutdown(),
  });
  const reloader = createReloader({
    log,
    load,
    nextId: () => nextId++,
    install: (g) => d.stage(g),
    discarded: () => setImmediate(gc),
    changed: () => status.request(),
    run: o.run,
  });
  dispatcher = d;

  function snapshot(): StatusFile {
    const g = d.generation();
    const w = serving.stats();
    const mem = process.memoryUsage();
    return {
      pid: process.pid,
      version: VERSION,
      run: o.run,
      state: stopping ? 'stopping' : 'serving',
      startedAt,
      updatedAt: Date.now(),
      options: { data: o.data, workers: o.workers, deadlineMs: o.deadlineMs, ...(o.logFile ? { logFile: o.logFile } : {}), ...(o.accessLog ? { accessLog: o.accessLog } : {}) },
      generation: { id: g.id, hash: g.hash, dataDir: g.dataDir, loadedAt: g.loadedAt, loadMs: Math.round(g.loadMs), rows: g.stats.rows, bytes: g.stats.bytes, files: g.stats.files.length, perFile: g.stats.files, ...(g.dates ? { dates: g.dates } : {}) },
      workers: { size: w.size, busy: w.busy, replaced: w.replaced, threads: w.workers },
      queued: d.queued(),
      served: d.counters(),
      reload: reloader.state(),
      memory: { rss: mem.rss, heapUsed: mem.heapUsed },
      requests: requests.state(),
    };
  }
  status.request();
  await status.flushed();

  /** Everything read has been answered: let the successor (if any) in as early as possible, then go. */
  async function shutdown(): Promise<void> {
    stopping = true;
    reloader.close();
    clearInterval(statusTimer);
    clearInterval(sweepTimer);
    await status.flushed();
    accessLog.flush();
    status.remove();
    await releaseLock();
    log.info(retiring ? 'retired: every request read was answered; the lock is released' : 'stopped');
    await Promise.all([serving.close(), loader.close()]);
    if (retiring) {
      const next = await awaitSuccessor(o.run, 5000);
      log.info(next === undefined ? 'no successor wrote its PID within 5 s' : `pid ${next} serves on`);
    }
    accessLog.close();
    process.exit(0);
  }

  for (const what of early) onSignal(what);
  const s = first.stats;
  log.info(`serving: generation ${first.id}, ${s.rows} rows from ${s.files.length} files in ${Math.round(first.loadMs)} ms${first.dates ? `; dates ${rangeText(first.dates)}` : ''}`);
  warnIfExpired(first);
  return readyReport(first, o);
}

function readyReport(g: GenerationData, o: DaemonOptions): ReadyReport {
  return { pid: process.pid, generation: g.id, hash: g.hash, files: g.stats.files.length, rows: g.stats.rows, bytes: g.stats.bytes, loadMs: Math.round(g.loadMs), workers: o.workers, run: o.run, ...(g.dates ? { dates: g.dates } : {}) };
}
