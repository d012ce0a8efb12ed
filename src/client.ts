/**
 * The Node side of the protocol, for the CLI, the tools, the tests and the Node CGI program: make an answer FIFO,
 * write one request line into REQUESTS, read the answer, remove the FIFO. `ask` sends a query (version 2),
 * `askWeb` a web request (version 3) as the relay does. node:fs and node:net are loaded only on the paths that use
 * them, so a one-request process pays for no more than it uses.
 */
import { answerParser } from './answer-parser.js';
import { CLIENT_PROOF_CHARS, encodeRequest, REQUESTS_FIFO, responseFifoName, type Answer } from './protocol.js';
import { webAnswerParser, type WebFields } from './web-protocol.js';
import { fromWire, roqError, RoqError } from './errors.js';
import { sleep } from './poll.js';
import { randomToken } from './token.js';
import { O_NONBLOCK, O_RDWR, O_WRONLY, S_IFIFO, S_IFMT, sys, utf8 } from './sysio.js';

/** Answer FIFOs: the owner reads, the daemon's group may write (see docs/PROTOCOL.md for the run directory's modes). */
export const RESPONSE_FIFO_MODE = 0o620;

/** mkfifo(3) with exactly `mode` (the umask of whoever runs us — Apache, cron, a shell — does not apply). */
export function makeFifo(path: string, mode: number): void {
  sys().mkfifo(path, mode);
}

/** An answer that reports an error. */
export type ErrorAnswer = Extract<Answer, { status: 'error' | 'timeout' }>;

/**
 * An error answer as the error it reports: the one conversion, used by the CGI program and the CLI. The catalog's
 * code and status, the daemon's own message (already complete: the daemon knew the details) and the parameter at
 * fault. A code this release does not know (a newer daemon's) is ROQ_PROTOCOL here, with status 500 and the
 * daemon's code kept in `answered`, for a page or a JSON consumer that shows it as it came.
 */
export function errorOfAnswer(a: ErrorAnswer): RoqError & { answered: string } {
  const err = fromWire(
    a,
    (w) =>
      new RoqError(
        'ROQ_PROTOCOL',
        { detail: `unknown code ${w.code}`, ...(w.param === undefined ? {} : { param: w.param }) },
        w.message,
        500,
      ),
  );
  return Object.assign(err, { answered: a.code });
}

/** Random bytes of a request's proof: CLIENT_PROOF_CHARS characters, above the 22 a web request's needs. */
const PROOF_BYTES = (CLIENT_PROOF_CHARS * 3) / 4;

export interface AskOptions {
  /** How long to wait for the whole answer, from the moment the request is written. */
  timeoutMs: number;
}

/** The run directory's files. */
function inRun(runDir: string, name: string): string {
  return runDir.endsWith('/') ? runDir + name : `${runDir}/${name}`;
}

/**
 * Opens REQUESTS for writing and checks, on the open descriptor, that it is a FIFO owned by the owner of the run
 * directory — the daemon's user. Anyone who may create files in the run directory could otherwise put a FIFO of
 * their own there while no daemon's is, and read every request written into it (docs/SECURITY.md).
 */
function openRequests(runDir: string): number {
  const s = sys();
  const path = inRun(runDir, REQUESTS_FIFO);
  let fd: number;
  try {
    fd = s.open(path, O_WRONLY | O_NONBLOCK);
  } catch (e) {
    // ENXIO: the FIFO exists but nobody reads it; ENOENT: no daemon ever ran here.
    throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: (e as NodeJS.ErrnoException).code ?? String(e) });
  }
  let detail: string | undefined;
  try {
    const fifo = s.fstat(fd);
    const owner = s.stat(runDir).uid;
    if ((fifo.mode & S_IFMT) !== S_IFIFO) detail = 'it is not a FIFO';
    else if (fifo.uid !== owner) detail = `it is owned by uid ${fifo.uid}, the run directory by uid ${owner}`;
  } catch (e) {
    detail = (e as Error).message;
  }
  if (detail === undefined) return fd;
  s.close(fd);
  throw roqError('ROQ_REQUESTS_UNTRUSTED', { path, detail });
}

/**
 * After the deadline: an answer that never came, or only answers without this request's proof (someone who may
 * write into our FIFO tried to answer in the daemon's place).
 */
function noAnswer(runDir: string, ms: number, rejected: number): RoqError {
  if (rejected > 0)
    return roqError('ROQ_PROTOCOL', {
      detail: `${rejected} answer(s) without this request's proof were ignored and no other came within ${ms} ms`,
    });
  return timeoutError(runDir, ms);
}

/** What reads one answer as its bytes arrive: a query's (answerParser) or a web request's (webAnswerParser). */
interface AnswerReader<T> {
  /** Takes a chunk; true once this request's answer is complete. Throws on an answer that proved itself but is broken. */
  push(chunk: Uint8Array): boolean;
  /** Answers skipped because they did not carry this request's proof. */
  readonly rejected: number;
  result(): T;
  /** Bytes that came after the answer in the same chunk (an answer nobody asked for). */
  leftover?(): number;
}

function queryReader(proof: string): AnswerReader<Answer> {
  const parser = answerParser(proof);
  const text = new TextDecoder('utf-8'); // streaming: a character may straddle two reads
  return {
    push: (chunk) => parser.push(text.decode(chunk, { stream: true })),
    get rejected() {
      return parser.rejected;
    },
    result: () => parser.result(),
    leftover: () => parser.leftover.length,
  };
}

/**
 * Sends one query to the daemon on runDir and resolves with its answer (which may itself be an error answer).
 * Rejects with a RoqError when the daemon cannot be reached (ROQ_DAEMON_DOWN), its queue stays full
 * (ROQ_DAEMON_BUSY), it stays silent past the deadline (ROQ_DAEMON_TIMEOUT) or it answers garbage (ROQ_PROTOCOL),
 * and before sending anything when the request would not fit one atomic line (ROQ_REQUEST_TOO_LARGE).
 * The answer FIFO is removed on every path.
 */
export async function ask(
  runDir: string,
  query: string,
  params: Record<string, string>,
  opts: AskOptions,
): Promise<Answer> {
  const token = randomToken();
  const proof = randomToken(PROOF_BYTES);
  const line = encodeRequest({ kind: 'query', pid: process.pid, token, proof, query, params });
  return exchange(runDir, token, line, queryReader(proof), opts);
}

/**
 * Sends one web request (protocol version 3) and resolves with the CGI response the daemon rendered, proven by
 * its digest: what the relay does, for the Node CGI program and the tests. Rejects as `ask` does; a request that
 * cannot fit one line is a RangeError (the caller answers 413 or 414).
 */
export async function askWeb(runDir: string, web: WebFields, opts: AskOptions): Promise<Uint8Array> {
  const token = randomToken();
  const proof = randomToken(PROOF_BYTES);
  const line = encodeRequest({ kind: 'web', pid: process.pid, token, proof, web });
  return exchange(runDir, token, line, webAnswerParser(proof), opts);
}

/** Makes the answer FIFO, writes the request line, reads the answer up to the deadline; removes the FIFO. */
async function exchange<T>(
  runDir: string,
  token: string,
  line: string,
  reader: AnswerReader<T>,
  opts: AskOptions,
): Promise<T> {
  const fifo = inRun(runDir, responseFifoName(process.pid, token));
  const deadline = Date.now() + opts.timeoutMs;
  const requests = openRequests(runDir);
  const s = sys();
  try {
    try {
      makeFifo(fifo, RESPONSE_FIFO_MODE);
    } catch (e) {
      throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: (e as Error).message });
    }
    // Open our end before the request goes out: the daemon opens it non-blocking for writing, which fails unless
    // a reader exists. O_RDWR keeps the FIFO open for reading without waiting for a writer.
    const answer = readAnswerSocket(fifo, reader, deadline, runDir, opts.timeoutMs);
    await writeRequest(requests, line, deadline, runDir);
    return await answer;
  } finally {
    s.close(requests);
    try {
      s.unlink(fifo);
    } catch {
      /* never made */
    }
  }
}

/**
 * Writes the request line: one write of at most PIPE_BUF bytes, which the kernel takes all at once or not at all.
 * Returns false when the FIFO is full (try again shortly); throws when the daemon is gone or the deadline passed.
 */
function tryWriteRequest(fd: number, bytes: Uint8Array, deadline: number, runDir: string): boolean {
  try {
    sys().write(fd, bytes, 0, bytes.length);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: 'EPIPE' });
    if (code !== 'EAGAIN' || Date.now() >= deadline) throw roqError('ROQ_DAEMON_BUSY', { run: runDir });
    return false;
  }
}

async function writeRequest(fd: number, line: string, deadline: number, runDir: string): Promise<void> {
  const bytes = utf8(line);
  while (!tryWriteRequest(fd, bytes, deadline, runDir)) await sleep(2);
}

function timeoutError(runDir: string, ms: number): RoqError {
  return roqError('ROQ_DAEMON_TIMEOUT', { run: runDir, ms });
}

/** A non-blocking FIFO wrapped in a net.Socket is read by the event loop, tying up no thread-pool thread. */
function readAnswerSocket<T>(
  fifo: string,
  reader: AnswerReader<T>,
  deadline: number,
  runDir: string,
  ms: number,
): Promise<T> {
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  const socket = new net.Socket({ fd: sys().open(fifo, O_RDWR | O_NONBLOCK), readable: true, writable: false });
  return new Promise<T>((resolve, reject) => {
    const finish = (err: Error | undefined, answer?: T) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(noAnswer(runDir, ms, reader.rejected)), Math.max(0, deadline - Date.now()));
    socket.on('data', (chunk: Buffer) => {
      try {
        if (reader.push(chunk)) finish(undefined, reader.result());
      } catch (e) {
        finish(roqError('ROQ_PROTOCOL', { detail: (e as Error).message }));
      }
    });
    socket.on('error', (e) => finish(roqError('ROQ_PROTOCOL', { detail: e.message })));
  });
}

export interface Channel<Q extends unknown[] = [query: string, params: Record<string, string>], T = Answer> {
  /** Sends one request and resolves with its answer; one request at a time per channel. */
  request(...args: [...Q, timeoutMs: number]): Promise<T>;
  /** Bytes that arrived while no request was waiting: an answer nobody asked for (there should be none). */
  strays(): number;
  close(): void;
}

/** A channel for web requests (protocol version 3): each resolves with the CGI response the daemon rendered. */
export type WebChannel = Channel<[web: WebFields], Uint8Array>;

/**
 * A long-lived answer FIFO for many sequential queries, for load generators and benchmarks (Node only): one
 * mkfifo for the channel's life, so each request costs just the daemon round trip. The protocol allows it: the
 * daemon opens, writes and closes the answer FIFO per request. The relay never needs this.
 */
export function openChannel(runDir: string): Channel {
  return channel(runDir, (token, proof, [query, params]) => ({
    line: encodeRequest({ kind: 'query', pid: process.pid, token, proof, query, params }),
    reader: queryReader(proof),
  }));
}

/** The same for web requests: the fuzzer and the benchmarks send thousands through one FIFO. */
export function openWebChannel(runDir: string): WebChannel {
  return channel(runDir, (token, proof, [web]) => ({
    line: encodeRequest({ kind: 'web', pid: process.pid, token, proof, web }),
    reader: webAnswerParser(proof),
  }));
}

function channel<Q extends unknown[], T>(
  runDir: string,
  requestOf: (token: string, proof: string, args: Q) => { line: string; reader: AnswerReader<T> },
): Channel<Q, T> {
  const token = randomToken();
  const fifo = inRun(runDir, responseFifoName(process.pid, token));
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  makeFifo(fifo, RESPONSE_FIFO_MODE);
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  const socket = new net.Socket({ fd: fs.openSync(fifo, O_RDWR | O_NONBLOCK), readable: true, writable: false });
  let requests: number;
  try {
    requests = openRequests(runDir);
  } catch (e) {
    socket.destroy();
    fs.rmSync(fifo, { force: true });
    throw e;
  }
  let pending: { reader: AnswerReader<T>; settle: (err?: Error) => void } | undefined;
  let strays = 0;
  socket.on('data', (chunk: Buffer) => {
    if (!pending) return void (strays += chunk.length);
    try {
      if (pending.reader.push(chunk)) {
        strays += pending.reader.leftover?.() ?? 0;
        pending.settle();
      }
    } catch (e) {
      pending.settle(roqError('ROQ_PROTOCOL', { detail: (e as Error).message }));
    }
  });
  return {
    async request(...args) {
      if (pending) throw new Error('a channel carries one request at a time');
      const timeoutMs = args.pop() as number;
      const deadline = Date.now() + timeoutMs;
      const proof = randomToken(PROOF_BYTES);
      const { line, reader } = requestOf(token, proof, args as unknown as Q);
      const answer = new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => settle(noAnswer(runDir, timeoutMs, reader.rejected)), timeoutMs);
        const settle = (err?: Error) => {
          clearTimeout(timer);
          pending = undefined;
          if (err) reject(err);
          else resolve(reader.result());
        };
        pending = { reader, settle };
      });
      await writeRequest(requests, line, deadline, runDir);
      return answer;
    },
    strays: () => strays,
    close() {
      socket.destroy();
      fs.closeSync(requests);
      fs.rmSync(fifo, { force: true });
    },
  };
}
