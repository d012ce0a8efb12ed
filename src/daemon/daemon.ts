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
import { roqError } from '../errors.js';
import { QUERY_SPECS } from '../app/queries.js';
import { rangeText } from '../valid-dates.js';
import { APP_INFO } from '../app/app.js';
import { writeQueriesFile } from '../queries-file.js';
import type { GenerationData } from '../store/types.js';
import { randomToken } from '../token.js';
import { thisBuild, VERSION } from '../version.js';
import { createAccessLog, type AccessLog } from './access-log.js';
import { toStatus } from '../control/daemon-options.js';
import { legacyExited, retireSignal } from '../control/compat.js';
import { ACTION_SIGNAL } from '../control/actions.js';
import { createActionScanner } from './actions.js';
import { Core } from './core.js';
import { startDispatcher } from './dispatcher.js';
import { createEffects, type Effects } from './effects.js';
import { ensureRequestsFifo, openRequests, processUid, requestsPath, sweepStaleFifos, watchRequests } from './fifo.js';
import { isAlive, legacyPid, pidFilePath, runningPid, type ReadyReport } from '../control/lifecycle.js';
import { acquirePidLock, awaitSuccessor, type ReleasePidLock } from './pid-lock.js';
import { sleep } from '../poll.js';
import type { FileLoaded } from '../load/loader.js';
import { createLog, type Log } from './log.js';
import { createPool, type Pool } from './pool.js';
import { createWatch, type HealthSummary, type Watch } from './watch.js';
import { startWatchdog, type WatchdogSetting } from './watchdog.js';
import { checkRunDir, ensurePrivateDir, privateDir } from './private-dir.js';
import { checkRunDirFor, dropPrivileges, resolveAccount, type Account } from './privileges.js';
import { createLoadThread, type LoadThread } from '../load/load-runner.js';
import { createExpiryWarner, createReloader, type Reloader } from '../load/reloader.js';
import {
  createStatusWriter,
  generationFacts,
  readStatusFile,
  type ReloadState,
  type RequestsState,
  type StatusFile,
  type StatusWriter,
} from '../control/status.js';

export interface DaemonOptions {
  run: string;
  data: string;
  workers: number;
  deadlineMs: number;
  /** Fault-injection queries for tests (the test build, env ROQ_TEST_FAULTS=1); see worker.ts. */
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
  /** Whether requests of protocol version 1 (clients of 0.1, no proof) are answered; see protocol.ts. */
  roq1: boolean;
  /** The admin's notify command, program and arguments (notify.ts); undefined: events are only logged. */
  notify?: string[];
  /** Repeats of an event within this long are folded into one digest (events.ts). */
  notifyIntervalMs: number;
  /** systemd's watchdog, when the unit has one (watchdog.ts). */
  watchdog?: WatchdogSetting;
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
  return {
    worker: fs.readFileSync(join(__dirname, 'worker.js'), 'utf8'),
    loader: fs.readFileSync(join(__dirname, 'load-thread.js'), 'utf8'),
  };
}

/**
 * Checks the run directory before anything is opened in it — it must be the daemon's user's and safe for a shared
 * group (private-dir.checkRunDir) — and makes the daemon's private directory. `roq start` calls it too, since it
 * opens the daemon's log there before the daemon runs. Returns the account a root daemon becomes, if any.
 */
export function prepareRunDir(o: Pick<DaemonOptions, 'run' | 'user'>): Account | undefined {
  const account = o.user ? resolveAccount(o.user, o.run) : undefined;
  checkRunDir(
    o.run,
    account?.uid ?? process.geteuid!(),
    account?.name ?? (userInfo().username || String(process.geteuid!())),
  );
  ensurePrivateDir(o.run, account?.uid);
  return account;
}

type SignalWord = 'stop' | 'retire' | 'reload' | 'actions';

/**
 * Installs the signal handlers. They only record: what arrives before the daemon serves waits, and is acted on
 * (by `act`, given to `deliver`) once it does.
 */
function recordSignals(log: Log, accessLog: AccessLog): { deliver(act: (what: SignalWord) => void): void } {
  const early: SignalWord[] = [];
  let act: ((what: SignalWord) => void) | undefined;
  const on = (what: SignalWord) => (act ? act(what) : void early.push(what));
  process.on('SIGTERM', () => on('stop'));
  process.on('SIGINT', () => on('stop'));
  process.on('SIGUSR2', () => on('retire'));
  process.on('SIGHUP', () => on('reload'));
  process.on(ACTION_SIGNAL, () => on('actions'));
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
  return {
    deliver(a) {
      act = a;
      for (const what of early.splice(0)) a(what);
    },
  };
}

/** How long a stopping daemon waits for the notify command to take the messages still queued for it. */
const NOTIFY_DRAIN_MS = 2000;

/** What the daemon is made of once started, in the order it was made. */
interface Parts {
  core: Core;
  effects: Effects;
  pool: Pool;
  loader: LoadThread;
  load(id: number, nice?: boolean, onFile?: (f: FileLoaded) => void): Promise<GenerationData>;
  /** REQUESTS, opened before loading. */
  fd: number;
  releaseLock: ReleasePidLock;
  first: GenerationData;
  /** Generations staged and not yet settled (see `install`). */
  staging: Map<number, { resolve(): void; reject(e: Error): void }>;
  /** What to do once everything read before the stop line is answered (`serve` says). */
  whenStopped(fn: () => void): void;
}

interface Env {
  log: Log;
  accessLog: AccessLog;
  account: Account | undefined;
  programs: { worker: string; loader: string };
  gc(): void;
  watch: Watch;
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
  const signals = recordSignals(log, accessLog);
  log.info(
    `starting roq ${VERSION}: pid ${process.pid}, run ${o.run}, data ${o.data}, ${o.workers} workers, deadline ${o.deadlineMs} ms${o.takeover ? ', taking over' : ''}`,
  );
  // Read before this daemon writes its own: a predecessor's (its events are not told again), or one left by a
  // daemon that is gone, which stopped uncleanly.
  const watch = createWatch(
    { run: o.run, log, notify: o.notify, intervalMs: o.notifyIntervalMs, dataNoun: APP_INFO.dataNoun },
    readStatusFile(o.run),
  );
  const env: Env = { log, accessLog, account, programs: readPrograms(), gc: enableGc(), watch };
  if (account) checkRunDirFor(account, o.run);
  const parts = await startUp(o, hooks, env);
  return serve(o, parts, env, signals, startedAt);
}

/**
 * From nothing to loaded: the lock (last when taking over), REQUESTS opened, privileges dropped, the core and its
 * edges wired, the workers started while the first generation loads, and a predecessor told to retire.
 */
async function startUp(o: DaemonOptions, hooks: DaemonHooks, env: Env): Promise<Parts> {
  const { log } = env;
  let release: ReleasePidLock | undefined = o.takeover ? undefined : await acquirePidLock(o.run, log);
  const predecessor = o.takeover ? runningPid(o.run) : undefined;
  const before = predecessor === undefined ? undefined : readStatusFile(o.run);
  // A successor continues its predecessor's numbering, so a generation id names one load across an upgrade.
  const firstGenerationId = before?.pid === predecessor && before ? before.generation.id + 1 : 1;
  const loadDelayMs = o.faults ? o.loadDelayMs : 0;
  const loader = createLoadThread(env.programs.loader, log);
  const load = (id: number, nice = true, onFile?: (f: FileLoaded) => void) =>
    loader.load({ dataDir: o.data, id, delayMs: loadDelayMs, nice }, onFile);
  const core = new Core({
    run: o.run,
    workers: o.workers,
    deadlineMs: o.deadlineMs,
    roq1: o.roq1,
    firstGenerationId,
    clock: () => performance.now(),
    pidRuns: (pid) => processUid(pid) !== undefined,
    newToken: () => randomToken(18),
    health: () => env.watch.summary(),
  });
  let wired: ReturnType<typeof wire> | undefined;
  let fd: number | undefined;
  try {
    ensureRequestsFifo(o.run, log, env.account?.uid);
    // Opened now, before loading: from here on the kernel keeps whatever clients write, whoever else closes it.
    fd = openRequests(o.run);
    if (env.account) becomeAccount(o, env.account, log);
    // The workers start (tens of milliseconds each) while the first generation loads in its thread.
    wired = wire(o, env, core);
    const { started, ...edges } = wired;
    started.catch(() => undefined); // awaited below, after the load; a load error is the one to report
    const first = await load(core.generations.newId(), false, hooks.fileLoaded);
    edges.effects.perform(core.first(first));
    await started;
    if (o.takeover) release = await takeOver(o, hooks, log, before, first);
    return { core, loader, load, fd, releaseLock: release!, first, ...edges };
  } catch (e) {
    log.error(`start failed: ${(e as Error).message}`);
    await wired?.pool.close();
    await loader.close();
    if (fd !== undefined) fs.closeSync(fd);
    await release?.();
    env.accessLog.close();
    throw e;
  }
}

function becomeAccount(o: DaemonOptions, account: Account, log: Log): void {
  const own = [
    requestsPath(o.run),
    privateDir(o.run),
    pidFilePath(o.run),
    `${pidFilePath(o.run)}.lock`,
    ...(o.logFile ? [o.logFile] : []),
    ...(o.accessLog ? [o.accessLog] : []),
  ];
  dropPrivileges(account, o.run, own);
  log.info(`now running as ${account.name} (uid ${account.uid}, gid ${account.gid})`);
}

/**
 * Wires the core to its edges, once: the effects it asks for go to the pool (threads, timers), the dispatcher
 * (REQUESTS, connected when reading starts), the answer FIFOs and the logs, and back here as settled promises.
 */
function wire(
  o: DaemonOptions,
  env: Env,
  core: Core,
): Pick<Parts, 'effects' | 'pool' | 'staging' | 'whenStopped'> & { started: Promise<void> } {
  const staging: Parts['staging'] = new Map();
  let settleStart!: { resolve(): void; reject(e: Error): void };
  const started = new Promise<void>((resolve, reject) => (settleStart = { resolve, reject }));
  let onStopped = () => undefined as void;
  const effects = createEffects({
    run: o.run,
    // The rest of a long answer may wait for its client about as long as the job may take.
    answerBudgetMs: Math.min(1000, Math.ceil(o.deadlineMs / 2)),
    log: env.log,
    accessLog: env.accessLog,
    collect: () => setImmediate(env.gc),
    started: (error) => (error === undefined ? settleStart.resolve() : settleStart.reject(new Error(error))),
    staged: (id, error) => {
      const s = staging.get(id);
      staging.delete(id);
      if (error === undefined) s?.resolve();
      else s?.reject(new Error(error));
    },
    stopped: () => onStopped(),
  });
  const pool = createPool({
    core,
    run: o.run,
    faults: o.faults,
    deadlineMs: o.deadlineMs,
    source: env.programs.worker,
    perform: (fx) => effects.perform(fx),
    rest: (r) => effects.rest(r),
  });
  effects.connect({ pool });
  effects.perform(core.start());
  return { effects, pool, staging, started, whenStopped: (fn) => (onStopped = fn) };
}

/**
 * Taking over: tells the daemon serving on the run directory to retire, and waits for its lock, which it releases
 * once it has answered everything it read before its stop line.
 */
async function takeOver(
  o: DaemonOptions,
  hooks: DaemonHooks,
  log: Log,
  before: StatusFile | undefined,
  first: GenerationData,
): Promise<ReleasePidLock> {
  hooks.loaded?.(readyReport(first, o));
  const old = runningPid(o.run);
  const legacy = legacyPid(o.run);
  if (old !== undefined) {
    const signal = retireSignal(before ?? readStatusFile(o.run));
    log.info(`loaded; telling pid ${old} to retire (${signal}) and waiting for the lock`);
    process.kill(old, signal);
  }
  const release = await acquirePidLock(o.run, log, { deadline: Date.now() + o.takeoverTimeoutMs, pid: old });
  if (
    old !== undefined &&
    old === legacy &&
    !(await legacyExited(() => isAlive(old), Date.now() + o.takeoverTimeoutMs))
  ) {
    await release();
    throw roqError('ROQ_TAKEOVER_FAILED', { run: o.run, pid: old, detail: 'it did not exit in time' });
  }
  if (old !== undefined) log.info(`took over from pid ${old}`);
  return release;
}

/**
 * Serving: REQUESTS read (the dispatcher connected), reloads and admin requests taken, status.json written every
 * second, stale answer FIFOs swept every minute; once the stop line's requests are answered, `shutdown`.
 */
async function serve(
  o: DaemonOptions,
  p: Parts,
  env: Env,
  signals: ReturnType<typeof recordSignals>,
  startedAt: number,
): Promise<ReadyReport> {
  const { core } = p;
  const { log } = env;
  writeQueries(o.run, log);
  /** retiring: a successor took over (the stop came as `retire`); stopping: the stop line has been read. */
  const state = { retiring: false, stopping: false };
  const dispatcher = startDispatcher({
    fd: p.fd,
    core,
    log,
    perform: (fx) => p.effects.perform(fx),
    beforeLines: () => p.pool.drain(),
  });
  p.effects.connect({ dispatcher });
  // Checked every second with the status: someone may remove or replace REQUESTS (see fifo.watchRequests).
  const requests = watchRequests(o.run, p.fd, log, (next) => dispatcher.attach(next));
  const warnIfExpired = createExpiryWarner(log);
  // The snapshot is taken when a write is due, never while this is being wired; it reads the reloader below.
  const status = createStatusWriter(
    o.run,
    () =>
      statusSnapshot(o, p, {
        startedAt,
        stopping: state.stopping,
        reload: reloader.state(),
        requests: requests.state(),
        health: env.watch.summary(),
      }),
    log,
  );
  const reloader = createReloader({
    log,
    load: (id) => p.load(id),
    nextId: () => core.generations.newId(),
    holder: core.generations,
    install: (g) => install(p, g),
    discarded: () => setImmediate(env.gc),
    changed: () => status.request(),
    run: o.run,
  });
  const watch = () =>
    env.watch.tick({
      counters: core.counters(),
      generation: core.current(),
      lastReload: reloader.state().last,
      requests: requests.state(),
    });
  const timers = startTimers(o, log, () => {
    requests.check();
    warnIfExpired(core.current());
    watch();
    status.request();
  });
  p.whenStopped(() => {
    state.stopping = true;
    void shutdown(o, p, env, { retiring: state.retiring, reloader, status, timers });
  });
  watch(); // so that the first status and health ping already say what is wrong
  if (o.watchdog) startWatchdog(o.watchdog, log, () => statusLine(env.watch.summary(), core.current().id));
  status.request();
  await status.flushed();
  takeSignals(o.run, p, signals, reloader, log, () => (state.retiring = true));
  const first = p.first;
  const s = first.stats;
  log.info(
    `serving: generation ${first.id}, ${s.rows} rows from ${s.files.length} files in ${Math.round(first.loadMs)} ms${first.dates ? `; dates ${rangeText(first.dates)}` : ''}`,
  );
  warnIfExpired(first);
  return readyReport(first, o);
}

/** The app's queries for `roq query` (run/queries.json); serving goes on without it, with a warning. */
function writeQueries(run: string, log: Log): void {
  try {
    writeQueriesFile(run, QUERY_SPECS);
  } catch (e) {
    log.warn(
      `could not write ${run}/queries.json (roq query needs it for this app's queries): ${(e as Error).message}`,
    );
  }
}

/**
 * From now on the signals recorded act: a reload goes to the reloader, admin requests are taken from the run
 * directory (actions.ts), and a stop or a retire (`retiring` is called first) becomes the core's stop line.
 */
function takeSignals(
  run: string,
  p: Parts,
  signals: ReturnType<typeof recordSignals>,
  reloader: Reloader,
  log: Log,
  retiring: () => void,
): void {
  const actions = createActionScanner(
    run,
    (a) => reloader.act(a.action, a.id),
    (msg) => log.warn(msg),
  );
  signals.deliver((what) => {
    if (what === 'reload') return reloader.request();
    if (what === 'actions') return void actions.request();
    if (what === 'retire') retiring();
    p.effects.perform(p.core.control('stop'));
  });
}

/** What `systemctl status` shows beside the unit (the watchdog's STATUS= line). */
function statusLine(h: HealthSummary, generation: number): string {
  const worst = h.events[0];
  return `serving generation ${generation}; ${h.state}${worst ? `: ${worst.sentence}` : ''}`.slice(0, 400);
}

/** Stages `g` and resolves once its swap line is read and it serves; rejects if it never will. */
function install(p: Parts, g: GenerationData): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    p.staging.set(g.id, { resolve, reject });
    p.effects.perform(p.core.stage(g));
  });
}

/** The status tick (every second) and the sweep of answer FIFOs whose clients are gone (every minute). */
function startTimers(o: DaemonOptions, log: Log, tick: () => void): NodeJS.Timeout[] {
  const statusTimer = setInterval(tick, 1000);
  const sweep = () => {
    const n = sweepStaleFifos(o.run, isAlive);
    if (n > 0) log.info(`removed ${n} answer FIFO(s) left by clients that are gone`);
  };
  sweep();
  const sweepTimer = setInterval(sweep, 60_000);
  for (const t of [statusTimer, sweepTimer]) t.unref();
  return [statusTimer, sweepTimer];
}

/** Which build this daemon is, for status.json: the same for its whole life, whatever is on disk later. */
const BUILD = thisBuild();

function statusSnapshot(
  o: DaemonOptions,
  p: Parts,
  s: { startedAt: number; stopping: boolean; reload: ReloadState; requests: RequestsState; health: HealthSummary },
): StatusFile {
  const g = p.core.current();
  const w = p.core.stats();
  const mem = process.memoryUsage();
  return {
    pid: process.pid,
    ...BUILD,
    version: VERSION,
    run: o.run,
    state: s.stopping ? 'stopping' : 'serving',
    startedAt: s.startedAt,
    updatedAt: Date.now(),
    options: toStatus(o),
    generation: {
      ...generationFacts(g),
      files: g.stats.files.length,
      perFile: g.stats.files,
      ...(g.dates ? { dates: g.dates } : {}),
    },
    workers: { size: w.size, busy: w.busy, replaced: w.replaced, threads: w.workers },
    queued: p.core.queued(),
    served: p.core.counters(),
    reload: s.reload,
    memory: { rss: mem.rss, heapUsed: mem.heapUsed },
    requests: s.requests,
    health: s.health,
  };
}

/** Everything read has been answered: let the successor (if any) in as early as possible, then go. */
async function shutdown(
  o: DaemonOptions,
  p: Parts,
  env: Env,
  s: { retiring: boolean; reloader: Reloader; status: StatusWriter; timers: NodeJS.Timeout[] },
): Promise<void> {
  const { log, accessLog } = env;
  s.reloader.close();
  for (const t of s.timers) clearInterval(t);
  await s.status.flushed();
  accessLog.flush();
  s.status.remove();
  await p.releaseLock();
  log.info(s.retiring ? 'retired: every request read was answered; the lock is released' : 'stopped');
  // Messages still waiting for the notify command get a moment, well within `roq stop`'s wait; one already handed
  // to the command is not lost when this process exits.
  await Promise.all([p.pool.close(), p.loader.close(), Promise.race([env.watch.idle(), sleep(NOTIFY_DRAIN_MS)])]);
  await p.effects.restsWritten(); // the last long answers, still being read by their clients
  if (s.retiring) {
    const next = await awaitSuccessor(o.run, 5000);
    log.info(next === undefined ? 'no successor wrote its PID within 5 s' : `pid ${next} serves on`);
  }
  accessLog.close();
  process.exit(0);
}

function readyReport(g: GenerationData, o: DaemonOptions): ReadyReport {
  return {
    pid: process.pid,
    generation: g.id,
    hash: g.hash,
    files: g.stats.files.length,
    rows: g.stats.rows,
    bytes: g.stats.bytes,
    loadMs: Math.round(g.loadMs),
    workers: o.workers,
    run: o.run,
    ...(g.dates ? { dates: g.dates } : {}),
  };
}
