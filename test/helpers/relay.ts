/**
 * The relay (dist/roq-relay) as a web server runs it, and a hostile daemon to run it against: a test that holds a
 * run directory's REQUESTS itself reads the relay's request line and writes into its answer FIFO whatever it likes
 * (a proven answer, one cut anywhere, a wrong proof, a huge one, nothing). Real processes, real FIFOs.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { makeFifo } from '../../src/client.js';
import { parseRequest, REQUESTS_FIFO, responseFifoName, type Request } from '../../src/protocol.js';
import { RELAY } from './cgi.js';
import { ROOT } from './daemon.js';
import { runFed } from './run.js';

export { RELAY };
export const RELAY_SOURCE = join(ROOT, 'src/relay/relay.c');

/** Sanitizers make the relay abort, not carry on, at the first fault they see. */
const SANITIZE = ['-O1', '-g', '-fno-omit-frame-pointer', '-fsanitize=address,undefined', '-fno-sanitize-recover=all'];

/**
 * Builds the relay with AddressSanitizer and UndefinedBehaviorSanitizer into `dir`: the release flags (warnings
 * as errors) less optimisation and fortification, which the sanitizers replace. Throws with the compiler's output.
 */
export function buildSanitizedRelay(dir: string): string {
  const flags = (JSON.parse(fs.readFileSync(join(ROOT, 'scripts/relay-cflags.json'), 'utf8')) as string[]).filter(
    (f) => f !== '-O2' && !f.startsWith('-D_FORTIFY_SOURCE'),
  );
  const out = join(dir, 'roq-relay-asan');
  const r = spawnSync(process.env.CC || 'cc', [...flags, ...SANITIZE, '-o', out, RELAY_SOURCE], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`sanitizer build failed:\n${r.stdout}${r.stderr}`);
  return out;
}

export interface RelayResult {
  status: number;
  headers: Record<string, string>;
  /** The bytes after the blank line. */
  body: Buffer;
  /** All of stdout, as written. */
  raw: Buffer;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
}

/** Status and headers of a CGI response, or status 0 when stdout holds no header block. */
function parseResponse(raw: Buffer): Pick<RelayResult, 'status' | 'headers' | 'body'> {
  const text = raw.toString('latin1');
  const m = /\r?\n\r?\n/.exec(text);
  if (!m) return { status: 0, headers: {}, body: raw };
  const headers: Record<string, string> = {};
  for (const line of text.slice(0, m.index).split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const status = headers.status ? Number(headers.status.split(' ')[0]) : 200;
  return { status, headers, body: raw.subarray(m.index + m[0].length) };
}

export interface RelayRun {
  program?: string;
  env: Record<string, string>;
  /** Written to stdin, then stdin is closed (unless keepStdin). */
  body?: Buffer;
  keepStdin?: boolean;
  /** Killed with SIGKILL after this long (the result says so in stderr). */
  limitMs?: number;
}

/** Runs the relay once; resolves when it has exited, whatever it did. */
export async function runRelay(run: RelayRun): Promise<RelayResult> {
  const r = await runFed(run.program ?? RELAY, [], {
    env: run.env,
    ...(run.body ? { input: run.body } : {}),
    ...(run.keepStdin ? { keepStdin: true } : {}),
    ...(run.limitMs !== undefined ? { limitMs: run.limitMs } : {}),
    label: 'runRelay',
  });
  return { ...parseResponse(r.raw), ...r };
}

/** One request line the hostile daemon read, and the relay's answer FIFO it names. */
export interface Received {
  line: string;
  request: Extract<Request, { kind: 'web' }>;
  fifo: string;
}

/**
 * A daemon that is not one: it owns the run directory's REQUESTS (made by the test, so owned by the run
 * directory's owner as the relay demands) and hands each request line to the test, which answers as it likes.
 */
export class HostileDaemon {
  private socket: net.Socket;
  private buffered = '';
  private queue: Received[] = [];
  private waiting: ((r: Received) => void) | undefined;
  /** Lines that did not parse as web requests (there should be none). */
  readonly rejected: string[] = [];

  constructor(readonly run: string) {
    const path = join(run, REQUESTS_FIFO);
    makeFifo(path, 0o622);
    this.socket = new net.Socket({
      fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK),
      readable: true,
      writable: false,
    });
    this.socket.setEncoding('latin1').on('data', (chunk: string) => this.take(chunk));
  }

  private take(chunk: string): void {
    this.buffered += chunk;
    for (let nl = this.buffered.indexOf('\n'); nl >= 0; nl = this.buffered.indexOf('\n')) {
      const line = this.buffered.slice(0, nl);
      this.buffered = this.buffered.slice(nl + 1);
      const parsed = parseRequest(line);
      if (!parsed.ok || parsed.request.kind !== 'web') {
        this.rejected.push(line);
        continue;
      }
      const r = {
        line,
        request: parsed.request,
        fifo: join(this.run, responseFifoName(parsed.request.pid, parsed.request.token)),
      };
      if (this.waiting) {
        const w = this.waiting;
        this.waiting = undefined;
        w(r);
      } else this.queue.push(r);
    }
  }

  /** The next request line; rejects after timeoutMs. */
  next(timeoutMs = 10_000): Promise<Received> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting = undefined;
        reject(new Error(`no request line within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * Writes `chunks` into a relay's answer FIFO one write each, waiting for room when the FIFO is full (an answer
 * bigger than the pipe's buffer). Resolves false if the FIFO went away (the relay gave up and removed it).
 */
export async function writeAnswer(fifo: string, chunks: Uint8Array[], limitMs = 10_000): Promise<boolean> {
  let fd: number;
  try {
    fd = fs.openSync(fifo, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  } catch {
    return false;
  }
  const giveUp = Date.now() + limitMs;
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) {
        try {
          done += fs.writeSync(fd, chunk, done, chunk.length - done);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code !== 'EAGAIN' || Date.now() > giveUp) return false;
          await new Promise((r) => setTimeout(r, 2));
        }
      }
    }
    return true;
  } finally {
    fs.closeSync(fd);
  }
}

/** What a sanitizer prints when it finds a fault. */
export function sanitizerReport(stderr: string): boolean {
  return /AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:|LeakSanitizer/.test(stderr);
}
