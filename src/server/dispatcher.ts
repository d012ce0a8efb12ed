/**
 * The dispatcher: the daemon's main-thread loop. It reads `<run>/REQUESTS` on the event loop, splits it into lines,
 * parses each with the protocol module, and hands queries to the worker pool, queueing them while every worker is
 * busy. It never runs a query. It owns the current generation (the only module-level state of the daemon that
 * changes while serving) and handles the control pseudo-requests (pid -1) that the daemon writes into its own
 * REQUESTS, so that stop and reload happen in order with the requests around them:
 *
 *  - stop: stop reading, answer every request already read (queued or running), then call `stopped`. Requests
 *    still in the FIFO behind the stop line stay there for whoever reads REQUESTS next.
 *  - reload: build the next generation while the current one serves on; swap on success; on failure log the
 *    error (file:line:column) and keep serving the current one.
 *
 * What a writer into REQUESTS can get wrong costs one log line: an over-long or garbled line is dropped; a line of
 * another protocol version, or one naming a pid and token but otherwise broken, gets an error answer.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { roqError, type RoqError } from '../errors.js';
import { encodeAnswer, encodeRequest, MAX_REQUEST_BYTES, parseRequest, type ControlWord, type Request } from '../protocol.js';
import type { GenerationData } from '../store/types.js';
import { writeAnswer } from './fifo.js';
import type { Log } from './log.js';
import type { Job, Outcome, Pool } from './pool.js';

/** Beyond this many waiting requests, new ones are answered ROQ_DAEMON_BUSY at once instead of waiting. */
const MAX_QUEUE = 10_000;
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
  /** Builds generation `id` from the data directory; rejects with a RoqError naming file:line:column. */
  loadGeneration(id: number): Promise<GenerationData>;
  /** Everything read before the stop line has been answered; the REQUESTS fd is closed. */
  stopped(): void;
}

export interface Dispatcher {
  /**
   * Writes a control pseudo-request into REQUESTS, behind every request already there. Safe to call from a
   * signal handler: it only writes one line (and retries later if the FIFO is momentarily full).
   */
  control(word: ControlWord): void;
  generation(): GenerationData;
  counters(): Counters;
  queued(): number;
  /** Called by the pool whenever a worker is free. */
  pump(): void;
  /** Called by the pool when a job has ended. */
  outcome(job: Job, outcome: Outcome): void;
}

function controlToken(): string {
  return Math.random().toString(36).slice(2, 12).replace(/[^a-z0-9]/g, '0') || 'ctl';
}

export function startDispatcher(o: DispatcherOptions): Dispatcher {
  let current = o.generation;
  let reloading = false;
  let stopping = false;
  let finished = false;
  let seq = 0;
  const queue: Job[] = [];
  const counters: Counters = { received: 0, ok: 0, error: 0, failed: 0, timeout: 0, died: 0, busy: 0, dropped: 0 };

  const socket = new net.Socket({ fd: o.fd, readable: true, writable: false });
  let carry: Buffer | undefined;
  let discarding = false;

  function drop(reason: string, line?: string): void {
    counters.dropped++;
    o.log.warn(`request dropped: ${reason}${line === undefined ? '' : `: '${line.slice(0, 80)}'`}`);
  }

  function answerError(pid: number, token: string, err: RoqError): void {
    const d = writeAnswer(o.run, pid, token, encodeAnswer({ status: 'error', code: err.code, message: err.message }), 20);
    if (!d.sent) o.log.warn(`${err.code} answer to pid ${pid} not delivered: ${d.reason}`);
  }

  /**
   * Splits what arrived into lines. A line that grows past MAX_REQUEST_BYTES is dropped, and so is the rest of it
   * up to its newline: no client sends one (PIPE_BUF writes could interleave), so it is garbage or an attack.
   */
  function onData(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(NEWLINE, start);
      if (nl < 0) {
        if (discarding || start === chunk.length) return;
        const rest = chunk.subarray(start);
        carry = carry ? Buffer.concat([carry, rest]) : Buffer.from(rest);
        if (carry.length >= MAX_REQUEST_BYTES) {
          drop(`line of more than ${MAX_REQUEST_BYTES - 1} bytes`);
          carry = undefined;
          discarding = true;
        }
        return;
      }
      let line = chunk.subarray(start, nl);
      start = nl + 1;
      if (discarding) {
        discarding = false;
        continue;
      }
      if (carry) {
        line = Buffer.concat([carry, line]);
        carry = undefined;
      }
      if (line.length >= MAX_REQUEST_BYTES) drop(`line of more than ${MAX_REQUEST_BYTES - 1} bytes`);
      else onLine(line.toString('utf8'));
    }
  }

  function onLine(line: string): void {
    const parsed = parseRequest(line);
    if (parsed.ok) return onRequest(parsed.request);
    const { pid, token } = parsed;
    if (pid === undefined || token === undefined || pid < 1) return drop(parsed.reason, line);
    counters.dropped++;
    o.log.warn(`request of pid ${pid} refused: ${parsed.reason}`);
    if (parsed.version !== undefined) answerError(pid, token, roqError('ROQ_PROTOCOL_VERSION', { version: parsed.version }));
    else answerError(pid, token, roqError('ROQ_BAD_REQUEST', { detail: parsed.reason }));
  }

  function onRequest(req: Request): void {
    switch (req.kind) {
      case 'query': {
        counters.received++;
        const job: Job = { seq: ++seq, pid: req.pid, token: req.token, query: req.query, params: req.params };
        if (queue.length === 0 && o.pool.run(job)) return;
        if (queue.length >= MAX_QUEUE) {
          counters.busy++;
          return answerError(req.pid, req.token, roqError('ROQ_DAEMON_BUSY', { run: o.run }));
        }
        queue.push(job);
        return;
      }
      case 'control':
        return onControl(req.word);
      default: {
        const never: never = req;
        drop(`unknown request kind ${JSON.stringify(never)}`);
      }
    }
  }

  function onControl(word: ControlWord): void {
    switch (word) {
      case 'stop':
        if (stopping) return;
        stopping = true;
        o.log.info(`stopping: answering ${queue.length} queued and ${o.pool.busy()} running requests first`);
        // Lines after the stop line in the chunk being split are read already and still get answers; pausing
        // leaves everything behind them in the FIFO.
        socket.pause();
        setImmediate(maybeFinish);
        return;
      case 'reload':
        return reload();
      default: {
        const never: never = word;
        drop(`unknown control word ${String(never)}`);
      }
    }
  }

  function reload(): void {
    if (reloading) {
      o.log.warn('reload requested while one is in progress; ignored');
      return;
    }
    reloading = true;
    const id = current.id + 1;
    o.log.info(`reload: loading generation ${id}`);
    o.loadGeneration(id).then(
      (g) => {
        current = g;
        o.pool.setGeneration(g);
        o.log.info(`reload: generation ${g.id} serving (${g.stats.rows} rows in ${Math.round(g.loadMs)} ms)`);
      },
      (e: Error) => o.log.error(`reload failed, generation ${current.id} serves on: ${e.message}`),
    ).finally(() => (reloading = false));
  }

  function maybeFinish(): void {
    if (!stopping || finished || queue.length > 0 || o.pool.busy() > 0) return;
    finished = true;
    socket.destroy();
    o.stopped();
  }

  socket.on('data', onData);
  socket.on('error', (e) => o.log.error(`reading REQUESTS: ${e.message}`));

  const pendingControl: ControlWord[] = [];
  function flushControl(): void {
    while (pendingControl.length > 0) {
      try {
        fs.writeSync(o.fd, encodeRequest({ kind: 'control', word: pendingControl[0]!, token: controlToken() }));
        pendingControl.shift();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') {
          o.log.error(`cannot write '${pendingControl.shift()}' into REQUESTS: ${(e as Error).message}`);
        } else {
          setTimeout(flushControl, 10); // the FIFO is full of requests; they are being read
          return;
        }
      }
    }
  }

  return {
    control(word) {
      if (finished) return;
      pendingControl.push(word);
      if (pendingControl.length === 1) flushControl();
    },
    generation: () => current,
    counters: () => ({ ...counters }),
    queued: () => queue.length,
    pump() {
      while (queue.length > 0 && o.pool.run(queue[0]!)) queue.shift();
      maybeFinish();
    },
    outcome(_job, outcome) {
      counters[outcome]++;
    },
  };
}
