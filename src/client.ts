/**
 * The client side of the protocol, shared by the CGI program and the CLI: make an answer FIFO, write one request
 * line into REQUESTS, read the answer, remove the FIFO. It runs under Node and under Bun and must stay light,
 * because the CGI program pays for everything imported here on every web request: node:net and node:child_process
 * are loaded only on the Node paths that use them (about 6 ms a request saved under Bun).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { answerParser, encodeRequest, REQUESTS_FIFO, responseFifoName, type Answer } from './protocol.js';
import { roqError, RoqError } from './errors.js';

const { O_RDWR, O_WRONLY, O_NONBLOCK } = fs.constants;
declare const Bun: unknown;
const isBun = typeof Bun !== 'undefined';

/** Answer FIFOs: the owner reads, the daemon's group may write (see docs/PROTOCOL.md for the run directory's modes). */
export const RESPONSE_FIFO_MODE = 0o620;

let bunMkfifo: ((path: Buffer, mode: number) => number) | undefined;

/**
 * mkfifo(3). Node has no binding for it, so Node pays for running mkfifo(1) (about 4 ms); under Bun, libc is
 * called through bun:ffi (about 1 ms including dlopen). The mode is set with chmod afterwards so the umask of
 * whoever runs us (Apache, cron, a shell) cannot change it.
 */
export function makeFifo(path: string, mode: number): void {
  if (isBun) {
    if (!bunMkfifo) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const ffi = require('bun:ffi');
      const lib = ffi.dlopen('libc.so.6', { mkfifo: { args: [ffi.FFIType.ptr, ffi.FFIType.u32], returns: ffi.FFIType.i32 } });
      bunMkfifo = (p, m) => lib.symbols.mkfifo(p, m);
    }
    if (bunMkfifo(Buffer.from(path + '\0'), mode) !== 0) {
      throw new Error(`mkfifo ${path} failed${fs.existsSync(path) ? ': it exists' : ''}`);
    }
  } else {
    const { spawnSync } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
    const r = spawnSync('mkfifo', ['-m', mode.toString(8), path], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${(r.stderr || String(r.error)).trim()}`);
  }
  fs.chmodSync(path, mode);
}

function randomToken(): string {
  const bytes = new Uint8Array(9);
  globalThis.crypto.getRandomValues(bytes);
  return Buffer.from(bytes).toString('base64').replace(/[^A-Za-z0-9]/g, 'x');
}

export interface AskOptions {
  /** How long to wait for the whole answer, from the moment the request is written. */
  timeoutMs: number;
}

/**
 * Sends one query to the daemon on runDir and resolves with its answer (which may itself be an error answer).
 * Rejects with a RoqError when the daemon cannot be reached (ROQ_DAEMON_DOWN), its queue stays full
 * (ROQ_DAEMON_BUSY), it stays silent past the deadline (ROQ_DAEMON_TIMEOUT) or it answers garbage (ROQ_PROTOCOL).
 * The answer FIFO is removed on every path.
 */
export async function ask(runDir: string, query: string, params: Record<string, string>, opts: AskOptions): Promise<Answer> {
  const token = randomToken();
  const line = encodeRequest({ kind: 'query', pid: process.pid, token, query, params });
  const fifo = join(runDir, responseFifoName(process.pid, token));
  const deadline = Date.now() + opts.timeoutMs;
  let requests: number | undefined;
  try {
    requests = fs.openSync(join(runDir, REQUESTS_FIFO), O_WRONLY | O_NONBLOCK);
  } catch (e) {
    // ENXIO: the FIFO exists but nobody reads it; ENOENT: no daemon ever ran here.
    throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: (e as NodeJS.ErrnoException).code ?? String(e) });
  }
  try {
    try {
      makeFifo(fifo, RESPONSE_FIFO_MODE);
    } catch (e) {
      throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: (e as Error).message });
    }
    // Open our end before the request goes out: the daemon opens it non-blocking for writing, which fails unless
    // a reader exists. O_RDWR keeps the FIFO open for reading without waiting for a writer.
    const answer = isBun ? readAnswerBlocking(fifo, deadline, runDir, opts.timeoutMs) : readAnswerSocket(fifo, deadline, runDir, opts.timeoutMs);
    await writeRequest(requests, line, deadline, runDir);
    return await answer;
  } finally {
    fs.closeSync(requests);
    fs.rmSync(fifo, { force: true });
  }
}

async function writeRequest(fd: number, line: string, deadline: number, runDir: string): Promise<void> {
  const bytes = Buffer.from(line);
  for (;;) {
    try {
      // At most PIPE_BUF bytes: the kernel writes all of it at once or nothing, never part.
      fs.writeSync(fd, bytes);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: 'EPIPE' });
      if (code !== 'EAGAIN' || Date.now() >= deadline) throw roqError('ROQ_DAEMON_BUSY', { run: runDir });
      await new Promise((r) => setTimeout(r, 2));
    }
  }
}

function timeoutError(runDir: string, ms: number): RoqError {
  return roqError('ROQ_DAEMON_TIMEOUT', { run: runDir, ms });
}

/** Node: a non-blocking FIFO wrapped in a net.Socket is read by the event loop, tying up no thread-pool thread. */
function readAnswerSocket(fifo: string, deadline: number, runDir: string, ms: number): Promise<Answer> {
  const fd = fs.openSync(fifo, O_RDWR | O_NONBLOCK);
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  const socket = new net.Socket({ fd, readable: true, writable: false });
  socket.setEncoding('utf8');
  const parser = answerParser();
  return new Promise<Answer>((resolve, reject) => {
    const finish = (err: Error | undefined, answer?: Answer) => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(answer!);
    };
    const timer = setTimeout(() => finish(timeoutError(runDir, ms)), Math.max(0, deadline - Date.now()));
    socket.on('data', (chunk: string) => {
      try {
        if (parser.push(chunk)) finish(undefined, parser.result());
      } catch (e) {
        finish(roqError('ROQ_PROTOCOL', { detail: (e as Error).message }));
      }
    });
    socket.on('error', (e) => finish(roqError('ROQ_PROTOCOL', { detail: e.message })));
  });
}

/**
 * Bun cannot wrap a FIFO fd in net.Socket, so it reads with fs.read on a blocking fd (one thread-pool thread,
 * which a one-request CGI process can spare). On timeout the read stays pending; the caller exits anyway.
 */
function readAnswerBlocking(fifo: string, deadline: number, runDir: string, ms: number): Promise<Answer> {
  const fd = fs.openSync(fifo, O_RDWR);
  const parser = answerParser();
  const buf = Buffer.allocUnsafe(65536);
  const utf8 = new StringDecoder('utf8'); // a character may straddle two reads
  return new Promise<Answer>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(() => {
      settled = true;
      reject(timeoutError(runDir, ms));
    }, Math.max(0, deadline - Date.now()));
    const readMore = () =>
      fs.read(fd, buf, 0, buf.length, null, (err, n) => {
        if (settled) return;
        try {
          if (err) throw err;
          if (parser.push(utf8.write(buf.subarray(0, n)))) {
            settled = true;
            clearTimeout(timer);
            fs.closeSync(fd);
            resolve(parser.result());
          } else readMore();
        } catch (e) {
          settled = true;
          clearTimeout(timer);
          reject(roqError('ROQ_PROTOCOL', { detail: (e as Error).message }));
        }
      });
    readMore();
  });
}

export interface Channel {
  /** Sends one query and resolves with its answer; one request at a time per channel. */
  request(query: string, params: Record<string, string>, timeoutMs: number): Promise<Answer>;
  /** Bytes that arrived while no request was waiting: an answer nobody asked for (there should be none). */
  strays(): number;
  close(): void;
}

/**
 * A long-lived answer FIFO for many sequential requests, for load generators and benchmarks (Node only): one
 * mkfifo for the channel's life, so each request costs just the daemon round trip. The protocol allows it: the
 * daemon opens, writes and closes the answer FIFO per request. The CGI program never needs this.
 */
export function openChannel(runDir: string): Channel {
  const token = randomToken();
  const fifo = join(runDir, responseFifoName(process.pid, token));
  makeFifo(fifo, RESPONSE_FIFO_MODE);
  const net = process.getBuiltinModule('node:net') as typeof import('node:net');
  const socket = new net.Socket({ fd: fs.openSync(fifo, O_RDWR | O_NONBLOCK), readable: true, writable: false });
  socket.setEncoding('utf8');
  let requests: number;
  try {
    requests = fs.openSync(join(runDir, REQUESTS_FIFO), O_WRONLY | O_NONBLOCK);
  } catch (e) {
    socket.destroy();
    fs.rmSync(fifo, { force: true });
    throw roqError('ROQ_DAEMON_DOWN', { run: runDir, detail: (e as NodeJS.ErrnoException).code ?? String(e) });
  }
  let pending: { parser: ReturnType<typeof answerParser>; settle: (err?: Error) => void } | undefined;
  let strays = 0;
  socket.on('data', (chunk: string) => {
    if (!pending) return void (strays += chunk.length);
    try {
      if (pending.parser.push(chunk)) {
        strays += pending.parser.leftover.length;
        pending.settle();
      }
    } catch (e) {
      pending.settle(roqError('ROQ_PROTOCOL', { detail: (e as Error).message }));
    }
  });
  return {
    async request(query, params, timeoutMs) {
      if (pending) throw new Error('a channel carries one request at a time');
      const deadline = Date.now() + timeoutMs;
      const parser = answerParser();
      const answer = new Promise<Answer>((resolve, reject) => {
        const timer = setTimeout(() => settle(timeoutError(runDir, timeoutMs)), timeoutMs);
        const settle = (err?: Error) => {
          clearTimeout(timer);
          pending = undefined;
          if (err) reject(err);
          else resolve(parser.result());
        };
        pending = { parser, settle };
      });
      await writeRequest(requests, encodeRequest({ kind: 'query', pid: process.pid, token, query, params }), deadline, runDir);
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
