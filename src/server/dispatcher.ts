/**
 * The dispatcher: the daemon's main-thread loop. It reads `<run>/REQUESTS` on the event loop, splits it into lines,
 * parses each with the protocol module, and hands queries to the worker pool, queueing them while every worker is
 * busy. It never runs a query. It owns the current generation (the only module-level state of the daemon that
 * changes while serving) and handles the control pseudo-requests (pid -1) that the daemon writes into its own
 * REQUESTS, so that stop and reload happen in order with the requests around them:
 *
 *  - stop: stop reading, answer every request already read (queued or running), then call `stopped`. Requests
 *    still in the FIFO behind the stop line stay there for whoever reads REQUESTS next (a daemon taking over).
 *  - reload: the swap point of a generation the reloader has built and `stage`d: jobs read before the line
 *    name the old generation, jobs after it the new one. The old generation is dropped from the workers once
 *    the last job naming it has ended.
 *
 * Control lines carry a token the daemon made when it wrote them; a control line with any other token was not
 * written by this daemon (REQUESTS is writable by the web server's group) and is dropped.
 *
 * What a writer into REQUESTS can get wrong costs at most one log line, and those lines are rate-limited (log.ts
 * rateLimited), since anyone in the web server's group can write garbage at will: an over-long or garbled line is
 * dropped; a line of another protocol version, or one naming a pid and token but otherwise broken, gets an error
 * answer. Garbage left without a line end (a client killed mid-write) does not cost the request written after it:
 * requests are written whole and start with `roq<digits> `, so the request is found at the end of the line
 * (protocol.findRequest). One requesting pid may have at most MAX_QUEUED_PER_PID requests waiting, and a request
 * for a pid that does not run is not queued: a local writer cannot fill the queue that visitors' requests wait in.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { roqError, type RoqError } from '../errors.js';
import { encodeAnswer, encodeRequest, findRequest, MAX_REQUEST_BYTES, parseRequest, type ControlWord, type Request } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { processUid, writeAnswer } from './fifo.js';
import { rateLimited, type Log } from './log.js';
import type { Job, JobReport, Outcome, Pool } from './pool.js';

/** Beyond this many waiting requests, new ones are answered ROQ_DAEMON_BUSY at once instead of waiting. */
const MAX_QUEUE = 10_000;
/** Beyond this many waiting requests of one pid, its new ones are answered ROQ_DAEMON_BUSY (a CGI process has 1). */
const MAX_QUEUED_PER_PID = 64;
/** How long a REQUESTS that was replaced is still read (a client may have opened it just before). */
const SUPERSEDED_READ_MS = 2000;
const NEWLINE = 0x0a;

export interface Counters {
  received: number;
  ok: number;
  error: number;
  failed: number;
  timeout: number;
  died: number;
  busy: number;
  dropped: number;
}

export interface DispatcherOptions {
  run: string;
  /** REQUESTS, opened O_RDWR|O_NONBLOCK (see fifo.openRequests); the dispatcher owns it from now on. */
  fd: number;
  generation: GenerationData;
  pool: Pool;
  log: Log;
  /** Every request's end, for the access log. */
  answered(job: Job, outcome: Outcome | 'busy', report: JobReport): void;
  /** Everything read before the stop line has been answered; the REQUESTS fd is closed. */
  stopped(): void;
}

export interface Dispatcher {
  /**
   * Writes a control pseudo-request into REQUESTS, behind every request already there. Safe to call from a
   * signal handler: it only writes one line (and retries later if the FIFO is momentarily full).
   */
  control(word: ControlWord): void;
  /**
   * Opens `g` in the workers and writes its swap line into REQUESTS; resolves when the line is read and `g` is
   * current, rejects if the daemon stops first.
   */
  stage(g: GenerationData): Promise<void>;
  /**
   * Reads a new REQUESTS too (someone removed the first; the daemon made another): clients reach only the new
   * one, and what writers of the old one still send is read as well. Control lines go to the new one.
   */
  attach(fd: number): void;
  generation(): GenerationData;
  counters(): Counters;
  queued(): number;
  /** Called by the pool whenever a worker is free. */
  pump(): void;
  /** Jobs a worker held without starting them, back from a worker that is gone: they go first. */
  requeue(jobs: Job[]): void;
  /** Called by the pool when a job has ended. */
  outcome(job: Job, outcome: Outcome, report: JobReport): void;
}

/** Unguessable, so that nobody else who can write into REQUESTS can forge a control line. */
function controlToken(): string {
  return randomBytes(12).toString('hex');
}

export function startDispatcher(o: DispatcherOptions): Dispatcher {
  let current = o.generation;
  /** Jobs queued or running, by the generation they name; and generations no longer current. */
  const inUse = new Map<number, number>();
  const retired = new Set<number>();
  /** Control lines this daemon wrote and has not read back yet, by token. */
  const issued = new Map<string, { word: ControlWord; generation?: GenerationData; settle?(err?: Error): void }>();
  let stopping = false;
  let finished = false;
  let seq = 0;
  const queue: Job[] = [];
  const queuedByPid = new Map<number, number>();
  const counters: Counters = { received: 0, ok: 0, error: 0, failed: 0, timeout: 0, died: 0, busy: 0, dropped: 0 };

  /** What the dispatcher reads: REQUESTS, and a new REQUESTS if someone removed the first (see attach). */
  const readers: { socket: net.Socket; split: (chunk: Buffer) => void }[] = [];
  /** Where its own control lines go: the newest REQUESTS, the one clients reach. */
  let controlFd = o.fd;

  const warn = rateLimited(o.log);

  function drop(reason: string, line?: string): void {
    counters.dropped++;
    warn(`request dropped: ${reason}${line === undefined ? '' : `: '${line.slice(0, 80)}'`}`);
  }

  function answerError(pid: number, token: string, err: RoqError, proof: string | undefined): void {
    const d = writeAnswer(o.run, pid, token, encodeAnswer({ status: 'error', code: err.code, message: err.message }, proof), 20);
    if (!d.sent) warn(`${err.code} answer to pid ${pid} not delivered: ${d.reason}`);
  }

  /**
   * A line splitter for one stream: what arrived into lines. Of a line longer than a request can be (no client
   * sends one: PIPE_BUF writes could interleave), only the last MAX_REQUEST_BYTES - 1 bytes are kept, since a
   * request written after garbage without a line end ends such a line; the rest is garbage or an attack.
   */
  function lineSplitter(): (chunk: Buffer) => void {
    const keep = MAX_REQUEST_BYTES - 1;
    let carry: Buffer | undefined;
    let cut = false;
    return (chunk) => {
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(NEWLINE, start);
        if (nl < 0) {
          if (start === chunk.length) return;
          const rest = chunk.subarray(start);
          carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
          if (carry.length > keep) {
            carry = Buffer.from(carry.subarray(carry.length - keep));
            cut = true;
          }
          return;
        }
        let line = chunk.subarray(start, nl);
        start = nl + 1;
        if (carry) {
          line = Buffer.concat([carry, line]);
          carry = undefined;
        }
        const over = cut || line.length > keep;
        cut = false;
        onLine((line.length > keep ? line.subarray(line.length - keep) : line).toString('utf8'), over);
      }
    };
  }

  /** Reads `fd` (a REQUESTS opened O_RDWR|O_NONBLOCK) on the event loop. */
  function listen(fd: number): void {
    const socket = new net.Socket({ fd, readable: true, writable: false });
    const split = lineSplitter();
    socket.on('data', split);
    socket.on('error', (e) => o.log.error(`reading REQUESTS: ${e.message}`));
    readers.push({ socket, split });
  }

  function queued(job: Job, by: number): void {
    const n = (queuedByPid.get(job.pid) ?? 0) + by;
    if (n > 0) queuedByPid.set(job.pid, n);
    else queuedByPid.delete(job.pid);
  }

  /** Offers queued jobs to the pool until it takes no more. */
  function pump(): void {
    while (queue.length > 0 && o.pool.run(queue[0]!)) queued(queue.shift()!, -1);
    maybeFinish();
  }

  /** A line read; `cut`: it was longer than a request can be and only its end was kept (see lineSplitter). */
  function onLine(line: string, cut = false): void {
    let parsed = parseRequest(line);
    if (!parsed.ok) {
      const found = findRequest(line);
      if (found) {
        drop(`${found.skipped} bytes without a line end before a request`, line.slice(0, found.skipped));
        parsed = found.parsed;
      }
    } else if (cut) {
      drop(`garbage of more than ${MAX_REQUEST_BYTES - 1} bytes before a request`);
    }
    if (parsed.ok) return onRequest(parsed.request);
    const { pid, token } = parsed;
    if (pid === undefined || token === undefined || pid < 1) return drop(cut ? `line of more than ${MAX_REQUEST_BYTES - 1} bytes` : parsed.reason, line);
    counters.dropped++;
    warn(`request of pid ${pid} refused: ${parsed.reason}`);
    if (parsed.version !== undefined) answerError(pid, token, roqError('ROQ_PROTOCOL_VERSION', { version: parsed.version }), undefined);
    else answerError(pid, token, roqError('ROQ_BAD_REQUEST', { detail: parsed.reason }), parsed.proof);
  }

  /** A job ended or was never queued: the generation it names may now be dropped. */
  function unuse(id: number): void {
    const n = (inUse.get(id) ?? 1) - 1;
    inUse.set(id, n);
    if (n === 0) release(id);
  }

  function onRequest(req: Request): void {
    switch (req.kind) {
      case 'query': {
        counters.received++;
        const now = performance.now();
        const job: Job = { seq: ++seq, pid: req.pid, token: req.token, query: req.query, params: req.params, encoded: req.encoded ?? '', generation: current.id, readAt: now, startedAt: now };
        if (req.proof !== undefined) job.proof = req.proof;
        if (queue.length >= MAX_QUEUE || (queuedByPid.get(job.pid) ?? 0) >= MAX_QUEUED_PER_PID) {
          counters.busy++;
          answerError(req.pid, req.token, roqError('ROQ_DAEMON_BUSY', { run: o.run }), req.proof);
          return o.answered(job, 'busy', { rows: 0, workMs: 0 });
        }
        inUse.set(job.generation, (inUse.get(job.generation) ?? 0) + 1);
        if (queue.length === 0 && o.pool.run(job)) return;
        // Waiting costs every request behind it: nobody could ever read the answer of a pid that does not run.
        if (processUid(job.pid) === undefined) {
          unuse(job.generation);
          return drop(`pid ${job.pid} does not run, so it can read no answer`);
        }
        queue.push(job);
        queued(job, 1);
        return;
      }
      case 'control':
        return onControl(req.word, req.token);
      case 'ping':
        return ping(req.pid, req.token, req.proof);
      default: {
        const never: never = req;
        drop(`unknown request kind ${JSON.stringify(never)}`);
      }
    }
  }

  /**
   * A health check (load balancers, via the CGI program's /_health): answered here, at once, with the current
   * generation and its hash and no rows. It proves that REQUESTS is read and the dispatcher's loop turns; it
   * runs no query and waits for no worker, so a node busy with real queries is not reported down for it.
   */
  function ping(pid: number, token: string, proof: string | undefined): void {
    const d = writeAnswer(o.run, pid, token, encodeAnswer({ status: 'ok', generation: current.id, hash: current.hash, fields: [], rows: [] }, proof), 20);
    if (!d.sent) warn(`health answer to pid ${pid} not delivered: ${d.reason}`);
  }

  function onControl(word: ControlWord, token: string): void {
    const mine = issued.get(token);
    if (!mine || mine.word !== word) return drop(`control line '${word}' with a token this daemon did not issue`);
    issued.delete(token);
    switch (word) {
      case 'stop':
        if (stopping) return;
        stopping = true;
        o.log.info(`stopping: answering ${queue.length} queued and ${o.pool.busy()} running requests first`);
        stopReading();
        setImmediate(maybeFinish);
        return;
      case 'reload':
        return swap(mine.generation!, mine.settle!);
      default: {
        const never: never = word;
        drop(`unknown control word ${String(never)}`);
      }
    }
  }

  function swap(g: GenerationData, settle: (err?: Error) => void): void {
    const old = current;
    current = g;
    retired.add(old.id);
    release(old.id);
    settle();
  }

  /** Drops a generation from the workers once it is no longer current and no job names it. */
  function release(id: number): void {
    if (retired.has(id) && !inUse.get(id)) {
      retired.delete(id);
      inUse.delete(id);
      o.pool.dropGeneration(id);
    }
  }

  /**
   * Stops reading REQUESTS exactly: every byte read from the kernel is parsed and answered, and nothing more is
   * read. A paused net.Socket keeps reading into its buffer up to its high-water mark, so the handle's reading is
   * stopped and `_read` disabled (node:net internals, stable since Node 0.x) before the buffer is drained
   * through onData. Whatever is left in the FIFO is for the next daemon.
   */
  function stopReading(): void {
    for (const { socket, split } of readers) {
      socket.pause();
      const internals = socket as unknown as { _handle?: { reading: boolean; readStop(): number }; _read(n: number): void };
      if (internals._handle) {
        internals._handle.reading = false;
        internals._handle.readStop();
      }
      internals._read = () => undefined;
      socket.removeListener('data', split);
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) split(chunk);
    }
  }

  function maybeFinish(): void {
    if (!stopping || finished || queue.length > 0 || o.pool.busy() > 0) return;
    finished = true;
    for (const { socket } of readers) socket.destroy();
    for (const [token, c] of issued) {
      issued.delete(token);
      c.settle?.(new Error('the daemon stopped before the new generation took over'));
    }
    o.stopped();
  }

  listen(o.fd);

  const pendingControl: { word: ControlWord; token: string }[] = [];
  function writeControl(word: ControlWord, token: string): void {
    pendingControl.push({ word, token });
    if (pendingControl.length === 1) flushControl();
  }
  function flushControl(): void {
    while (pendingControl.length > 0) {
      const c = pendingControl[0]!;
      try {
        fs.writeSync(controlFd, encodeRequest({ kind: 'control', word: c.word, token: c.token }));
        pendingControl.shift();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          pendingControl.shift();
          o.log.error(`cannot write '${c.word}' into REQUESTS: ${(e as Error).message}`);
          issued.get(c.token)?.settle?.(e as Error);
          issued.delete(c.token);
        } else {
          setTimeout(flushControl, 10); // the FIFO is full of requests; they are being read
          return;
        }
      }
    }
  }

  return {
    control(word) {
      if (finished || stopping) return;
      const token = controlToken();
      issued.set(token, { word });
      writeControl(word, token);
    },
    stage(g) {
      if (finished || stopping) return Promise.reject(new Error('the daemon is stopping'));
      return new Promise<void>((resolve, reject) => {
        o.pool.addGeneration(g);
        const token = controlToken();
        issued.set(token, {
          word: 'reload',
          generation: g,
          settle: (err) => {
            if (!err) return resolve();
            o.pool.dropGeneration(g.id);
            reject(err);
          },
        });
        writeControl('reload', token);
      });
    },
    attach(fd) {
      if (finished || stopping) return void fs.closeSync(fd);
      controlFd = fd;
      const superseded = readers.slice();
      listen(fd);
      // Nobody can open the old FIFO by its path any more; a client that opened it just before has written by now.
      setTimeout(() => {
        if (stopping) return; // stopReading drains and maybeFinish closes every reader
        for (const r of superseded) {
          r.socket.destroy();
          readers.splice(readers.indexOf(r), 1);
        }
      }, SUPERSEDED_READ_MS).unref();
    },
    generation: () => current,
    counters: () => ({ ...counters }),
    queued: () => queue.length,
    pump,
    requeue(jobs) {
      queue.unshift(...jobs);
      for (const j of jobs) queued(j, 1);
      pump();
    },
    outcome(job, outcome, report) {
      counters[outcome]++;
      unuse(job.generation);
      o.answered(job, outcome, report);
    },
  };
}
