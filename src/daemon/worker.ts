/**
 * A worker thread: the only place a query runs. It opens the generations it is given (wrapping the shared arrays,
 * no copy), and for each job runs the query on the generation the job names and writes the answer into the
 * client's FIFO itself, so answers never pass through the dispatcher's thread. Jobs come in its inbox ring and it
 * reports each job's outcome (with its row count and time) in its outbox ring (ring.ts, messages.ts): no message
 * per job either way. A job must be claimed in shared memory before it starts: the pool may have taken it back
 * while it waited in the inbox (see messages.ts).
 *
 * More than one generation is open during a reload: jobs read before the swap line still name the old one. The
 * pool says when a generation is no longer needed; dropping it here lets its arrays be freed.
 *
 * Errors a user can cause (unknown query, bad parameter) come from the engine as RoqError and become error
 * answers with their code and parameter; anything else thrown is a bug in a query and becomes ROQ_QUERY_FAILED.
 *
 * Fault injection, for tests only: when the test build's daemon (dist/test/, scripts/build.js; every other
 * bundle is built without this code) runs with ROQ_TEST_FAULTS=1, the query names `fault_throw`
 * (throws a plain Error), `fault_exit` (ends this thread), `fault_hang` (loops forever) and `fault_sleep` (blocks
 * `ms` milliseconds, then answers one row) are handled here before the engine sees them. Without the variable
 * they are unknown queries like any other.
 */
import { getHeapStatistics } from 'node:v8';
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import { openGeneration, runQuery, type Db } from '../engine.js';
import { RoqError, roqError, toWire } from '../errors.js';
import { answerWeb } from '../web/web.js';
import type { Ask } from '../web/outcome.js';
import {
  encodeAnswer,
  encodeParams,
  errorAnswer,
  PING_QUERY,
  type Answer,
  type Cell,
  type Field,
} from '../protocol.js';
import { encodeWebAnswer, type WebFields } from '../web-protocol.js';
import { writeAnswer } from './fifo.js';
import {
  claimJob,
  jobFinished,
  MAX_DETAIL,
  type DoneReport,
  type JobStatus,
  type PortFromWorker,
  type QueryJob,
  type ToWorker,
  type WorkerSetup,
} from './messages.js';
import { RingReader, RingWriter } from './ring.js';
import type { GenerationData } from '../store/types.js';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const inbox = new RingReader(setup.inbox);
const outbox = new RingWriter(setup.outbox);
/** The open generations by id, each with its content hash, which every ok answer names. */
const open = new Map<number, { db: Db; hash: string }>();
const openOne = (g: GenerationData) => open.set(g.id, { db: openGeneration(g), hash: g.hash });
for (const g of setup.generations) openOne(g);
let heapReportedAt = 0;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * A full collection, when the daemon enabled it (see daemon.ts): a dropped generation's arrays are freed only
 * once every thread has collected its wrappers of them, and an idle worker would otherwise not collect for a
 * long time, keeping tens of megabytes per reload alive.
 */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** This thread's heap in bytes, at most once a second (it costs a few microseconds). */
function heapNow(): number | undefined {
  const now = Date.now();
  if (now - heapReportedAt < 1000) return undefined;
  heapReportedAt = now;
  return getHeapStatistics().used_heap_size;
}

function post(msg: PortFromWorker): void {
  port.postMessage(msg);
}

function injectedFault(query: string, params: Record<string, string>): { fields: Field[]; rows: Cell[][] } | undefined {
  switch (query) {
    case 'fault_throw':
      throw new Error('injected fault: fault_throw');
    case 'fault_exit':
      process.exit(3);
    case 'fault_hang':
      for (;;);
    case 'fault_sleep': {
      const ms = Math.min(Math.max(Number(params.ms) || 0, 0), 10_000);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
      return { fields: [{ name: 'slept', type: 'int' }], rows: [[ms]] };
    }
    default:
      return undefined;
  }
}

function answerFor(id: number, query: string, params: Record<string, string>): { answer: Answer; failure?: string } {
  try {
    const generation = open.get(id);
    if (!generation) throw new Error(`generation ${id} is not open in this worker`);
    const { db, hash } = generation;
    const result =
      ((typeof ROQ_TEST_BUILD !== 'boolean' || ROQ_TEST_BUILD) &&
        setup.faults &&
        query.startsWith('fault_') &&
        injectedFault(query, params)) ||
      runQuery(db, query, params);
    // The data's dates travel with every answer, so a client can say when a date asked about is outside them.
    return {
      answer: {
        status: 'ok',
        generation: id,
        hash,
        fields: result.fields,
        rows: result.rows,
        ...(db.dates ? { dates: db.dates } : {}),
      },
    };
  } catch (e) {
    const err =
      e instanceof RoqError ? e : roqError('ROQ_QUERY_FAILED', { query, detail: String((e as Error)?.message ?? e) });
    const answer = errorAnswer('error', toWire(err));
    return { answer, failure: e instanceof RoqError ? undefined : String((e as Error)?.stack ?? e) };
  }
}

/** A job's answer, framed for its client, and what its report says of it. */
interface Answered {
  bytes: string | Uint8Array;
  status: JobStatus;
  rows: number;
  failure?: string;
  /** A web request's: the query it named (with the parameters it asked, when it asked one) and its HTTP status. */
  web?: { query: string; http: number; params?: string };
}

function answerQuery(msg: QueryJob): Answered {
  const { answer, failure } = answerFor(msg.generation, msg.query, msg.params);
  return {
    bytes: encodeAnswer(answer, msg.proof),
    status: answer.status === 'ok' ? 'ok' : failure ? 'failed' : 'error',
    rows: answer.status === 'ok' ? answer.rows.length : 0,
    ...(failure ? { failure } : {}),
  };
}

/**
 * A web request: the web front end (cgi/web.ts) renders the whole CGI response, asking its queries of the job's
 * generation in this thread. A query that failed, or a page that did, is reported with what the admin should see.
 */
function answerWebRequest(msg: QueryJob, web: WebFields): Answered {
  let rows = 0;
  let failure: string | undefined;
  let asked: { query: string; params: Record<string, string> } | undefined;
  const ask: Ask = (query, params) => {
    asked ??= { query, params };
    const g = open.get(msg.generation);
    // The health check, should a page ask it (the dispatcher answers /_health itself): this generation, no rows.
    if (query === PING_QUERY && g)
      return { status: 'ok', generation: msg.generation, hash: g.hash, fields: [], rows: [] };
    const r = answerFor(msg.generation, query, params);
    if (r.answer.status === 'ok') rows += r.answer.rows.length;
    failure ??= r.failure;
    return r.answer;
  };
  const page = answerWeb(web, ask);
  failure ??= page.status === 500 ? page.notes : undefined;
  return {
    bytes: encodeWebAnswer(msg.proof!, page.response),
    status: failure ? 'failed' : page.status >= 400 ? 'error' : 'ok',
    rows,
    ...(failure ? { failure } : {}),
    web: asked
      ? { query: asked.query, http: page.status, params: encodeParams(asked.params) }
      : { query: page.query, http: page.status },
  };
}

/** Runs one job, unless the main thread took it back first, and reports it in the outbox. */
function runJob(msg: QueryJob): void {
  // Claim it first: the core may have taken it back to give it to another worker (see messages.ts).
  if (!claimJob(setup.cells, msg.cell, msg.seq)) return;
  // A job names a generation whose message was posted before the job was written: it is in the port by now.
  if (!open.has(msg.generation)) readPort();
  const t0 = performance.now();
  const answered = msg.web ? answerWebRequest(msg, msg.web) : answerQuery(msg);
  // What the client's FIFO cannot take at once goes to the main thread, which writes it as the client reads.
  const delivery = writeAnswer(setup.run, msg.pid, msg.token, answered.bytes, (rest) =>
    post({ type: 'rest', ...rest }),
  );
  const heap = heapNow();
  jobFinished(setup.cells); // before the report: a deadline seen after this finds the job finished
  report({
    type: 'done',
    seq: msg.seq,
    status: answered.status,
    rows: answered.rows,
    workMs: performance.now() - t0,
    ...(heap === undefined ? {} : { heap }),
    ...(answered.failure ? { detail: answered.failure.slice(0, MAX_DETAIL) } : {}),
    ...(delivery.sent ? {} : { undelivered: delivery.reason }),
    ...(answered.web ?? {}),
  });
}

/**
 * Reports a finished job in the outbox, in the order the jobs came. The main thread reads the outbox whenever it
 * handles an event and when this worker goes idle; if it is full (the main thread has been away for thousands of
 * jobs), the worker asks to be read and waits, since a report must neither be lost nor overtake another.
 */
function report(done: DoneReport): void {
  const text = JSON.stringify(done);
  if (outbox.write(text)) return;
  post({ type: 'idle' });
  while (!outbox.write(text)) Atomics.wait(pause, 0, 0, 1);
}

/** Messages from the port: generations to open and drop, and a job posted there (none are, today). */
function readPort(): boolean {
  let any = false;
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    any = true;
    handle(m.message as ToWorker);
  }
  return any;
}

function handle(msg: ToWorker): void {
  switch (msg.type) {
    case 'query':
      return runJob(msg);
    case 'generation':
      openOne(msg.generation);
      return;
    case 'drop':
      // The arrays are freed once no thread references them any more.
      open.delete(msg.id);
      collectGarbage();
      return;
    default: {
      const never: never = msg;
      throw new Error(`unknown message ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The worker's loop, which never returns to the event loop: it reads its port and its inbox, and when both are
 * empty sleeps on the inbox's bell until the main thread rings it (a job, or a message in the port); terminating
 * the thread wakes it from Atomics.wait too. Before it sleeps it says `idle` — a message, so the main thread reads
 * its reports now — only when the core has jobs that wait for a worker (`setup.waiting`): otherwise the main thread
 * reads them with the next line it reads, or within TAIL_MS (pool.ts), and this thread is spared a message and
 * the main thread a wake-up per job.
 */
function serve(): never {
  let worked = false;
  for (;;) {
    const bell = inbox.bell();
    let any = readPort();
    for (let text = inbox.read(); text !== undefined; text = inbox.read()) {
      any = true;
      runJob(JSON.parse(text) as QueryJob);
    }
    if (any) {
      worked = true;
      continue;
    }
    if (worked && Atomics.load(setup.waiting, 0) > 0) post({ type: 'idle' });
    worked = false;
    inbox.sleep(bell);
  }
}

post({ type: 'ready', heap: getHeapStatistics().used_heap_size });
serve();
