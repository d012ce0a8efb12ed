/**
 * The daemon's core: every decision the daemon makes while serving, as plain synchronous code over plain state.
 * Events go in (a line read from REQUESTS, a worker ready, a job done, a deadline passed, a worker exited, a
 * generation staged, a control line asked for); effects come out as data (post a message to a worker, write an
 * answer, arm or cancel a deadline, terminate or spawn a worker, write a control line, log, stop reading,
 * stopped). There is no I/O, no timer and no thread in here: the dispatcher (dispatcher.ts) reads REQUESTS and
 * writes control lines, the pool (pool.ts) owns the threads and their timers, and the daemon (daemon.ts) performs
 * the effects. So every race — a worker dying with jobs in its inbox, a deadline against a job just finished, a
 * swap with old jobs in flight, a stop during a reload — can be replayed by a test with function calls
 * (test/internals/core.test.ts).
 *
 * What it owns:
 *  - the queue of jobs no worker could take yet, with a bound per requesting pid;
 *  - the workers' slots (slots.ts): the jobs each holds (the one it runs first), and the claim cells through
 *    which a job waiting in a worker's inbox is claimed by the worker or taken back here (messages.ts). The cells,
 *    and the count of jobs waiting for a worker (`waiting`), are shared memory, the only things the core shares
 *    with the threads: a compare-and-exchange is a decision, not I/O;
 *  - the control tokens of the pseudo-requests (pid -1) this daemon wrote, and the stop state;
 *  - the generations (generations.ts): which is current, which a job names, when an old one is dropped.
 *
 * Why jobs wait in workers: waking a thread for each job costs ~40 µs each way here, so a busy worker holds up to
 * QUEUED_PER_WORKER more, and starts the next the moment it finishes one. A job waits behind a running one only
 * when no worker is idle, and until the worker claims it the core may take it back — for a worker that fell idle
 * (rebalance), or to queue it again when its worker is killed or dies.
 *
 * What goes wrong costs a worker, never the daemon: past its deadline a job's worker is terminated and replaced
 * and its client answered ROQ_QUERY_DEADLINE; a worker that dies is replaced and its client answered
 * ROQ_WORKER_DIED; a worker that dies before it was ever ready is replaced after a pause.
 *
 * What a writer into REQUESTS can get wrong costs at most one (rate-limited) log line: an over-long or garbled
 * line is dropped; a line of another protocol version, or one naming a pid and token but otherwise broken, gets an
 * error answer; a control line with a token this daemon did not issue is dropped (REQUESTS is writable by the web
 * server's group). One requesting pid may have at most MAX_QUEUED_PER_PID requests waiting, and a request for a
 * pid that does not run is not queued.
 */
import { roqError, toWire, type RoqError } from '../errors.js';
import {
  errorAnswer,
  findRequest,
  HEALTH_PATH,
  isLegacy,
  LEGACY_MAGIC,
  MAX_REQUEST_BYTES,
  parseRequest,
  WEB_WORD,
  type ControlWord,
  type Field,
  type Request,
} from '../protocol.js';
import { emptyWebFields, type WebFields } from '../web-protocol.js';
import type { GenerationData } from '../store/types.js';
import type { Counters, WorkerStats } from '../control/status.js';
import { Generations } from './generations.js';
import type { Effect, Job, JobReport, Outcome, Warner } from './effect-types.js';
import {
  isRunning,
  newClaimCells,
  offerJob,
  takeBackJob,
  type ClaimCells,
  type FromWorker,
  type ToWorker,
} from './messages.js';
import { pickSlot, unclaimedJobs, type Slot } from './slots.js';

/** Beyond this many waiting requests, new ones are answered ROQ_DAEMON_BUSY at once instead of waiting. */
export const MAX_QUEUE = 10_000;
/** Beyond this many waiting requests of one pid, its new ones are answered ROQ_DAEMON_BUSY (a CGI process has 1). */
export const MAX_QUEUED_PER_PID = 64;

export interface CoreOptions {
  run: string;
  workers: number;
  deadlineMs: number;
  /** Whether requests of protocol version 1 (no proof) are answered; when not, they get ROQ_PROTOCOL_VERSION. */
  roq1: boolean;
  /** Id of the first generation (a daemon taking over continues its predecessor's numbering). */
  firstGenerationId?: number;
  /** Milliseconds, monotonic (performance.now in the daemon). */
  clock(): number;
  /** Whether process `pid` runs (a request of one that does not can never be answered, so it is not queued). */
  pidRuns(pid: number): boolean;
  /** An unguessable control token (randomToken in the daemon). */
  newToken(): string;
  /** The daemon's health (watch.ts), said in the answer to a health ping. */
  health?(): { state: string; events: { kind: string }[] };
}

interface Issued {
  word: ControlWord;
  /** For a reload line: the generation it makes current. */
  generation?: number;
}

export class Core {
  readonly generations: Generations;
  /**
   * Shared with every worker: how many jobs wait for one (queued here, or not yet claimed by the worker they were
   * handed to). A worker that falls idle tells the pool at once only when some do (worker.ts): the core then
   * hears that it finished its jobs and gives it more. Otherwise its reports are read with the next line or a
   * little later (pool.ts), sparing a message and a wake-up per job. Kept by `take`, after every event.
   */
  readonly waiting = new Int32Array(new SharedArrayBuffer(4));
  private readonly o: CoreOptions;
  private fx: Effect[] = [];
  private seq = 0;
  private nextWorker = 1;
  private readonly queue: Job[] = [];
  private readonly queuedByPid = new Map<number, number>();
  private readonly counts: Counters = {
    received: 0,
    ok: 0,
    error: 0,
    failed: 0,
    timeout: 0,
    died: 0,
    busy: 0,
    dropped: 0,
  };
  /** The current slot of each index, and every slot by worker id until its thread has exited. */
  private readonly slots: Slot[] = [];
  private readonly byWorker = new Map<number, Slot>();
  private replaced = 0;
  private startingPending: number;
  /** Control lines this daemon wrote and has not read back yet, by token. */
  private readonly issued = new Map<string, Issued>();
  private stopping = false;
  private finished = false;
  private closing = false;

  constructor(o: CoreOptions) {
    this.o = o;
    this.generations = new Generations(o.firstGenerationId);
    this.startingPending = o.workers;
  }

  // ---- events: each returns the effects it asks for, in order ----

  /** The daemon starts: a slot per worker. */
  start(): Effect[] {
    for (let i = 0; i < this.o.workers; i++) this.newSlot(i, 0);
    return this.take();
  }

  /** The setup of worker `worker`, whose thread the pool starts now: its cells and the live generations. */
  startWorker(worker: number): { cells: ClaimCells; waiting: Int32Array; generations: GenerationData[] } | undefined {
    const slot = this.byWorker.get(worker);
    if (!slot || this.closing || this.slots[slot.index] !== slot) return undefined;
    return { cells: slot.cells, waiting: this.waiting, generations: this.generations.liveGenerations() };
  }

  /** The first generation, loaded before anything is read: opened in the workers and current. */
  first(g: GenerationData): Effect[] {
    this.open(g);
    this.generations.makeCurrent(g.id);
    return this.take();
  }

  /**
   * A generation to serve next: opened in the workers now, current once its swap line (written now, behind every
   * request already in REQUESTS) is read back. Settled by a `staged` effect.
   */
  stage(g: GenerationData): Effect[] {
    if (this.stopping || this.finished) return [{ kind: 'staged', id: g.id, error: 'the daemon is stopping' }];
    this.open(g);
    this.issue('reload', g.id);
    return this.take();
  }

  /** A control pseudo-request to write into REQUESTS (a stop, from a signal). */
  control(word: ControlWord): Effect[] {
    if (this.stopping || this.finished) return [];
    this.issue(word);
    return this.take();
  }

  /** A control line could not be written (anything but a full FIFO, which the writer retries). */
  controlWriteFailed(token: string, message: string): Effect[] {
    const c = this.issued.get(token);
    if (!c) return [];
    this.issued.delete(token);
    this.log('error', `cannot write '${c.word}' into REQUESTS: ${message}`);
    if (c.generation !== undefined) this.unstage(c.generation, message);
    return this.take();
  }

  /** A line read from REQUESTS; `cut`: it was longer than a request can be and only its end was kept. */
  line(text: string, cut = false): Effect[] {
    let parsed = parseRequest(text);
    if (!parsed.ok) {
      const found = findRequest(text);
      if (found) {
        this.drop(`${found.skipped} bytes without a line end before a request`, text.slice(0, found.skipped));
        parsed = found.parsed;
      }
    } else if (cut) {
      this.drop(`garbage of more than ${MAX_REQUEST_BYTES - 1} bytes before a request`);
    }
    if (parsed.ok && parsed.request.kind !== 'control' && !this.o.roq1 && isLegacy(parsed.request)) {
      const { pid, token } = parsed.request;
      parsed = {
        ok: false,
        reason: 'protocol version 1 is turned off (--roq1 off)',
        pid,
        token,
        version: LEGACY_MAGIC,
      };
    }
    if (parsed.ok) this.request(parsed.request);
    else this.refuse(parsed, text, cut);
    return this.take();
  }

  /** A worker's message. */
  fromWorker(worker: number, msg: FromWorker): Effect[] {
    const slot = this.byWorker.get(worker);
    if (!slot || slot.retired) return [];
    switch (msg.type) {
      case 'ready':
        this.ready(slot, msg.heap);
        break;
      case 'done':
        this.done(slot, msg);
        break;
      default: {
        const never: never = msg;
        this.log('error', `unknown message from a worker: ${JSON.stringify(never)}`);
      }
    }
    return this.take();
  }

  /** A worker thread reported an error (its exit follows). */
  workerError(worker: number, message: string): void {
    const slot = this.byWorker.get(worker);
    if (slot) slot.lastError = message;
  }

  /** The deadline armed for a worker passed. */
  deadline(worker: number): Effect[] {
    const slot = this.byWorker.get(worker);
    const job = slot?.jobs[0];
    if (!slot || slot.retired || !job) return this.take();
    // Not running it: the worker finished it (its report is on the way, and will clear this) or has yet to start
    // it (it was busy with a generation message); either way it gets a whole deadline from now.
    if (!isRunning(slot.cells, job.seq)) {
      this.startDeadline(slot);
      return this.take();
    }
    this.retire(slot);
    this.fx.push({ kind: 'terminate', worker: slot.worker });
    this.warn(
      'workers',
      `query '${job.query}' of pid ${job.pid} passed its deadline of ${this.o.deadlineMs} ms; worker ${slot.index} replaced`,
    );
    const timedOut = (j: Job) => {
      this.answerError(
        j,
        'timeout',
        roqError('ROQ_QUERY_DEADLINE', { query: j.query, ms: this.o.deadlineMs }),
        'workers',
      );
      this.outcome(j, 'timeout', { rows: 0, workMs: this.o.deadlineMs });
    };
    this.releaseWaiting(slot, timedOut);
    timedOut(job);
    this.replace(slot, 0);
    this.pump();
    return this.take();
  }

  /** A worker thread ended. */
  workerExited(worker: number, code: number): Effect[] {
    const slot = this.byWorker.get(worker);
    if (!slot) return [];
    this.byWorker.delete(worker);
    this.fx.push({ kind: 'disarm', worker });
    if (slot.retired || this.closing) return this.take();
    const detail = slot.lastError ?? `exit code ${code}`;
    this.retire(slot); // it gets nothing more; its waiting jobs go back to the queue below
    const job = slot.jobs[0];
    this.log(
      'error',
      `worker ${slot.index} died (${detail})${job ? ` running '${job.query}' of pid ${job.pid}` : ''}; replacing it`,
    );
    if (!slot.ready && this.startingPending > 0) {
      this.startingPending = 0;
      this.fx.push({ kind: 'started', error: `a worker died while starting (${detail})` });
      return this.take();
    }
    const died = (j: Job) => {
      this.answerError(j, 'error', roqError('ROQ_WORKER_DIED', { query: j.query, detail }), 'workers');
      this.outcome(j, 'died', { rows: 0, workMs: 0 });
    };
    this.releaseWaiting(slot, died);
    if (job) died(job);
    this.replace(slot, slot.ready ? 0 : 1000);
    this.pump();
    return this.take();
  }

  /** Stop was read and every job is answered, or not yet: the edge asks again after draining what it had read. */
  finishIfDone(): Effect[] {
    this.maybeFinish();
    return this.take();
  }

  /** The pool is closing: no worker is replaced any more. */
  close(): void {
    this.closing = true;
  }

  // ---- what the edges may read ----

  /** False once a stop line was read: nothing new is staged or written. */
  accepting(): boolean {
    return !this.stopping && !this.finished;
  }

  isStopping(): boolean {
    return this.stopping;
  }

  current(): GenerationData {
    return this.generations.current();
  }

  counters(): Counters {
    return { ...this.counts };
  }

  queued(): number {
    return this.queue.length;
  }

  /** Jobs the workers hold, running or waiting. */
  busy(): number {
    return this.slots.reduce((n, s) => n + s.jobs.length, 0);
  }

  stats(): { size: number; busy: number; replaced: number; workers: WorkerStats[] } {
    return {
      size: this.o.workers,
      busy: this.slots.filter((s) => s.jobs.length > 0).length,
      replaced: this.replaced,
      workers: this.slots.map((s) => ({
        index: s.index,
        state: !s.ready ? 'starting' : s.jobs.length > 0 ? 'busy' : 'idle',
        served: s.served,
        heap: s.heap,
      })),
    };
  }

  // ---- requests ----

  private request(req: Request): void {
    switch (req.kind) {
      case 'query':
        return this.query(req);
      case 'control':
        return this.controlLine(req.word, req.token);
      case 'ping':
        return this.ping(req.pid, req.token, req.proof);
      case 'web':
        return this.web(req);
      default: {
        const never: never = req;
        this.drop(`unknown request kind ${JSON.stringify(never)}`);
      }
    }
  }

  private query(req: Extract<Request, { kind: 'query' }>): void {
    const job = this.newJob(req.pid, req.token, req.query, req.params, req.encoded ?? '');
    if (req.proof !== undefined) job.proof = req.proof;
    this.enqueue(job);
  }

  /**
   * A web request: a job like a query's, whose worker renders the whole page. The health check is answered here,
   * like a ping. The access log shows the query string (and a POST's body) as its parameters.
   */
  private web(req: Extract<Request, { kind: 'web' }>): void {
    if (req.web.path === HEALTH_PATH) return this.ping(req.pid, req.token, req.proof, req.web);
    const { query, body } = req.web;
    const job = this.newJob(req.pid, req.token, WEB_WORD, {}, query && body ? `${query}&${body}` : query || body);
    job.proof = req.proof;
    job.web = req.web;
    this.enqueue(job);
  }

  private newJob(pid: number, token: string, query: string, params: Record<string, string>, encoded: string): Job {
    this.counts.received++;
    const now = this.o.clock();
    const generation = this.generations.current().id;
    return { seq: ++this.seq, pid, token, query, params, encoded, generation, readAt: now, startedAt: now };
  }

  /** Hands the job to a worker, or queues it; answers ROQ_DAEMON_BUSY when the queue (or its pid's share) is full. */
  private enqueue(job: Job): void {
    if (this.queue.length >= MAX_QUEUE || (this.queuedByPid.get(job.pid) ?? 0) >= MAX_QUEUED_PER_PID) {
      this.counts.busy++;
      this.answerError(job, 'error', roqError('ROQ_DAEMON_BUSY', { run: this.o.run }));
      this.fx.push({ kind: 'accessLog', job, outcome: 'busy', report: { rows: 0, workMs: 0 } });
      return;
    }
    this.generations.use();
    if (this.queue.length === 0 && this.assign(job)) return;
    // Waiting costs every request behind it: nobody could ever read the answer of a pid that does not run.
    if (!this.o.pidRuns(job.pid)) {
      this.unuse(job.generation);
      return this.drop(`pid ${job.pid} does not run, so it can read no answer`);
    }
    this.queue.push(job);
    this.countQueued(job, 1);
  }

  /** A line that is no request: dropped, or answered with an error when it names whom to answer. */
  private refuse(parsed: Extract<ReturnType<typeof parseRequest>, { ok: false }>, text: string, cut: boolean): void {
    const { pid, token } = parsed;
    if (pid === undefined || token === undefined || pid < 1)
      return this.drop(cut ? `line of more than ${MAX_REQUEST_BYTES - 1} bytes` : parsed.reason, text);
    this.counts.dropped++;
    this.warn('requests', `request of pid ${pid} refused: ${parsed.reason}`);
    const to = {
      pid,
      token,
      proof: parsed.version !== undefined ? undefined : parsed.proof,
      ...(parsed.web ? { web: emptyWebFields() } : {}),
    };
    this.answerError(
      to,
      'error',
      parsed.version !== undefined
        ? roqError('ROQ_PROTOCOL_VERSION', { version: parsed.version })
        : roqError('ROQ_BAD_REQUEST', { detail: parsed.reason }),
    );
  }

  /**
   * A health check (load balancers, via the CGI program's /_health): answered here, at once, with the current
   * generation and its hash and no rows. It proves that REQUESTS is read and the loop turns; it waits for no
   * worker, so a node busy with real queries is not reported down for it.
   */
  private ping(pid: number, token: string, proof: string | undefined, web?: WebFields): void {
    const g = this.generations.current();
    // The state and the kinds of events that have not ended: a balancer keeps a node that answers, whatever its
    // data (they all serve the same), but whoever looks is told. Kinds only: sentences may name server paths.
    const h = this.o.health?.();
    const fields: Field[] = h
      ? [
          { name: 'state', type: 'string' },
          { name: 'events', type: 'string' },
        ]
      : [];
    const rows = h ? [[h.state, h.events.map((e) => e.kind).join(' ')]] : [];
    this.fx.push({
      kind: 'answer',
      pid,
      token,
      proof,
      answer: { status: 'ok', generation: g.id, hash: g.hash, fields, rows },
      about: 'requests',
      ...(web ? { web } : {}),
    });
  }

  private controlLine(word: ControlWord, token: string): void {
    const mine = this.issued.get(token);
    if (!mine || mine.word !== word) return this.drop(`control line '${word}' with a token this daemon did not issue`);
    this.issued.delete(token);
    switch (word) {
      case 'stop':
        if (this.stopping) return;
        this.stopping = true;
        this.log('info', `stopping: answering ${this.queue.length} queued and ${this.busy()} running requests first`);
        this.fx.push({ kind: 'stopReading' });
        return;
      case 'reload':
        return this.swap(mine.generation!);
      default: {
        const never: never = word;
        this.drop(`unknown control word ${String(never)}`);
      }
    }
  }

  /** The swap line of a staged generation was read: jobs read from here on name it. */
  private swap(id: number): void {
    const drop = this.generations.makeCurrent(id);
    if (drop !== undefined) this.dropGeneration(drop);
    this.fx.push({ kind: 'staged', id });
  }

  private issue(word: ControlWord, generation?: number): void {
    const token = this.o.newToken();
    this.issued.set(token, generation === undefined ? { word } : { word, generation });
    this.fx.push({ kind: 'writeControl', word, token });
  }

  // ---- the queue ----

  private countQueued(job: Job, by: number): void {
    const n = (this.queuedByPid.get(job.pid) ?? 0) + by;
    if (n > 0) this.queuedByPid.set(job.pid, n);
    else this.queuedByPid.delete(job.pid);
  }

  /** Offers queued jobs to the workers until they take no more. */
  private pump(): void {
    while (this.queue.length > 0 && this.assign(this.queue[0]!)) this.countQueued(this.queue.shift()!, -1);
    this.maybeFinish();
  }

  /** Jobs a worker held without starting them, back from a worker that is gone: they go first. */
  private requeue(jobs: Job[]): void {
    this.queue.unshift(...jobs);
    for (const j of jobs) this.countQueued(j, 1);
    this.pump();
  }

  private outcome(job: Job, outcome: Outcome, report: JobReport): void {
    this.counts[outcome]++;
    this.unuse(job.generation);
    this.fx.push({ kind: 'accessLog', job, outcome, report });
  }

  private maybeFinish(): void {
    if (!this.stopping || this.finished || this.queue.length > 0 || this.busy() > 0) return;
    this.finished = true;
    for (const [token, c] of this.issued) {
      this.issued.delete(token);
      if (c.generation !== undefined)
        this.unstage(c.generation, 'the daemon stopped before the new generation took over');
    }
    this.fx.push({ kind: 'stopped' });
  }

  // ---- generations ----

  private open(g: GenerationData): void {
    this.generations.stage(g);
    this.postAll({ type: 'generation', generation: g });
  }

  private unuse(id: number): void {
    const drop = this.generations.release(id);
    if (drop !== undefined) this.dropGeneration(drop);
  }

  private unstage(id: number, error: string): void {
    const drop = this.generations.abandon(id);
    if (drop !== undefined) this.dropGeneration(drop);
    this.fx.push({ kind: 'staged', id, error });
  }

  private dropGeneration(id: number): void {
    this.postAll({ type: 'drop', id });
    this.fx.push({ kind: 'dropped', id });
  }

  /** To every worker the core still gives work, including one still starting (messages wait in its port). */
  private postAll(message: ToWorker): void {
    for (const s of this.slots) if (!s.retired) this.fx.push({ kind: 'post', worker: s.worker, message });
  }

  // ---- workers ----

  private newSlot(index: number, delayMs: number): void {
    const slot: Slot = {
      worker: this.nextWorker++,
      index,
      ready: false,
      retired: false,
      jobs: [],
      cells: newClaimCells(),
      cellOf: new Map(),
      lastError: undefined,
      served: 0,
      heap: 0,
    };
    this.slots[index] = slot;
    this.byWorker.set(slot.worker, slot);
    this.fx.push({ kind: 'spawn', worker: slot.worker, index, delayMs });
  }

  private replace(slot: Slot, delayMs: number): void {
    if (this.closing) return;
    this.replaced++;
    this.newSlot(slot.index, delayMs);
  }

  private retire(slot: Slot): void {
    slot.retired = true;
  }

  private ready(slot: Slot, heap: number): void {
    slot.heap = heap;
    if (!slot.ready) {
      slot.ready = true;
      if (this.startingPending > 0 && --this.startingPending === 0) this.fx.push({ kind: 'started' });
    }
    if (slot.jobs.length === 0) this.pump();
    if (slot.jobs.length === 0) this.rebalance(slot);
  }

  private done(slot: Slot, msg: Extract<FromWorker, { type: 'done' }>): void {
    const job = slot.jobs[0];
    if (!job || job.seq !== msg.seq) return; // the deadline already answered it
    slot.jobs.shift();
    slot.cellOf.delete(job);
    if (slot.jobs.length > 0) this.startDeadline(slot);
    else this.fx.push({ kind: 'disarm', worker: slot.worker });
    slot.served++;
    if (msg.heap !== undefined) slot.heap = msg.heap;
    if (msg.query !== undefined) job.query = msg.query || WEB_WORD;
    if (msg.params !== undefined) job.encoded = msg.params;
    if (msg.http !== undefined) job.http = msg.http;
    if (msg.status === 'failed') this.log('error', `query '${job.query}' failed: ${msg.detail ?? '(no detail)'}`);
    if (msg.undelivered)
      this.warn('workers', `answer to pid ${job.pid} (${job.query}) not delivered: ${msg.undelivered}`);
    this.outcome(job, msg.status, { rows: msg.rows, workMs: msg.workMs });
    this.pump();
    // Nothing more from the queue: take over a job waiting behind another worker's, if there is one.
    if (slot.jobs.length === 0) this.rebalance(slot);
  }

  /** Hands the job to a worker (see `pickSlot`); false when every worker holds all it may. */
  private assign(job: Job): boolean {
    const slot = pickSlot(this.slots);
    if (!slot) return false;
    this.hand(slot, job);
    return true;
  }

  /** Gives the job to the slot's worker: waiting in a claim cell until the worker claims it. */
  private hand(slot: Slot, job: Job): void {
    const cell = offerJob(slot.cells, job.seq);
    slot.cellOf.set(job, cell);
    slot.jobs.push(job);
    if (slot.jobs.length === 1) this.startDeadline(slot);
    const message: ToWorker = {
      type: 'query',
      seq: job.seq,
      cell,
      pid: job.pid,
      token: job.token,
      proof: job.proof,
      query: job.query,
      params: job.params,
      generation: job.generation,
      ...(job.web ? { web: job.web } : {}),
    };
    this.fx.push({ kind: 'post', worker: slot.worker, message });
  }

  /** Takes a job the worker has not claimed back from it; false when the worker has claimed it already. */
  private takeBack(slot: Slot, job: Job): boolean {
    if (!takeBackJob(slot.cells, slot.cellOf.get(job)!, job.seq)) return false;
    slot.jobs.splice(slot.jobs.indexOf(job), 1);
    slot.cellOf.delete(job);
    return true;
  }

  /** The job at the head of the slot starts its deadline now: its worker has finished the one before it. */
  private startDeadline(slot: Slot): void {
    slot.jobs[0]!.startedAt = this.o.clock();
    this.fx.push({ kind: 'arm', worker: slot.worker, ms: this.o.deadlineMs });
  }

  /** An idle worker takes over the last job waiting behind another worker's running one, if it can. */
  private rebalance(idle: Slot): void {
    for (const other of this.slots) {
      if (other === idle || other.retired || other.jobs.length < 2) continue;
      const waiting = other.jobs[other.jobs.length - 1]!;
      if (this.takeBack(other, waiting)) return this.hand(idle, waiting);
    }
  }

  /**
   * A worker that is going (killed or dead): its waiting jobs go back to the queue, first; a job it had claimed
   * besides the running one (a race of microseconds) is answered like the running one.
   */
  private releaseWaiting(slot: Slot, lost: (job: Job) => void): void {
    const requeue: Job[] = [];
    for (const job of slot.jobs.slice(1)) {
      if (this.takeBack(slot, job)) requeue.push(job);
      else lost(job);
    }
    slot.jobs = [];
    if (requeue.length > 0) this.requeue(requeue);
  }

  // ---- effects ----

  /**
   * An error answer from here; a web request's (`to.web`) is its error page, whose HTTP status (the catalog's)
   * a job's access log line then shows.
   */
  private answerError(
    to: { pid: number; token: string; proof?: string | undefined; web?: WebFields; http?: number },
    status: 'error' | 'timeout',
    err: RoqError,
    about: Warner = 'requests',
  ): void {
    if (to.web) to.http = err.status;
    this.fx.push({
      kind: 'answer',
      pid: to.pid,
      token: to.token,
      proof: to.proof,
      answer: errorAnswer(status, toWire(err)),
      about,
      ...(to.web ? { web: to.web } : {}),
    });
  }

  private drop(reason: string, line?: string): void {
    this.counts.dropped++;
    this.warn('requests', `request dropped: ${reason}${line === undefined ? '' : `: '${line.slice(0, 80)}'`}`);
  }

  private log(level: 'info' | 'error', message: string): void {
    this.fx.push({ kind: 'log', level, message });
  }

  private warn(about: Warner, message: string): void {
    this.fx.push({ kind: 'log', level: 'warn', message, about });
  }

  private take(): Effect[] {
    Atomics.store(this.waiting, 0, this.queue.length + unclaimedJobs(this.slots));
    const fx = this.fx;
    this.fx = [];
    return fx;
  }
}
