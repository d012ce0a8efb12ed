/**
 * Test helpers over real processes: start a real daemon through the built `dist/roq.js` on a fresh temporary run
 * directory, run the CLI, and talk to the daemon's FIFOs by hand. Build first (`node scripts/build.js`; `npm test`
 * does it).
 *
 *   const d = await startDaemon({ workers: 2 });   // data/gtfs-lirr unless `data` is given
 *   const r = await roqCli(['query', 'stops', 'q=minal', '--json', '--run', d.run]);
 *   await d.stop();
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach } from 'vitest';
import { makeFifo, RESPONSE_FIFO_MODE } from '../../src/client.js';
import { answerParser } from '../../src/answer-parser.js';
import { encodeRequest, REQUESTS_FIFO, responseFifoName, type Answer } from '../../src/protocol.js';
import { tempDir } from './temp.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const ROQ = join(ROOT, 'dist/roq.js');
/** The test build (scripts/build.js): the same program with the fault-injection queries compiled in. */
export const TEST_ROQ = join(ROOT, 'dist/test/roq.js');
export const LIRR = join(ROOT, 'data/gtfs-lirr');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: Record<string, string>;
  cwd?: string;
  /**
   * The roq program to run (default dist/roq.js, or the test build dist/test/roq.js when env turns the fault
   * queries on; tests of older releases pass theirs).
   */
  program?: string;
  /** The process is killed after this long (default 30 s) and the result says so in stderr. */
  timeoutMs?: number;
}

/** Runs `node dist/roq.js …args` and resolves with its exit code and output (never rejects). */
export function roqCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((done) => {
    const program = opts.program ?? (opts.env?.ROQ_TEST_FAULTS === '1' ? TEST_ROQ : ROQ);
    const child = spawn(process.execPath, [program, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    // Against a hang only: `roq build --app` alone took over 30 s at a load average of 35 on two cores.
    const limit = opts.timeoutMs ?? 120_000;
    const timer = setTimeout(() => {
      stderr += `\n[roqCli: killed after ${limit} ms]`;
      child.kill('SIGKILL');
    }, limit);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

export interface DaemonOptions {
  data?: string;
  workers?: number;
  /** --deadline in ms */
  deadline?: number;
  env?: Record<string, string>;
  /** An existing run directory to use instead of a fresh one (it is then not removed by stop). */
  run?: string;
  /** The roq program to start (default dist/roq.js). */
  program?: string;
  /** `--app DIR`: serve this app (built first when needed) instead of the default one. */
  app?: string;
  /** More options for `roq start`. */
  args?: string[];
}

export interface RunningDaemon {
  run: string;
  pid: number;
  /** What `roq start` printed, when startDaemon started it. */
  started?: string;
  /** `roq stop`; if that fails, kill -9. Removes the run directory if startDaemon made it. */
  stop(): Promise<void>;
}

/** A run directory, removed after the file's tests (a daemon started on it must be stopped by then). */
export function makeRunDir(): string {
  return tempDir('roq-run-');
}

/** The PID in the daemon's private directory, else (a daemon of 0.1) in the run directory. */
export function pidOf(run: string): number | undefined {
  for (const path of [join(run, 'daemon', 'roq.pid'), join(run, 'roq.pid')]) {
    try {
      const pid = Number(fs.readFileSync(path, 'utf8').trim());
      if (pid > 0) return pid;
    } catch {
      /* look further */
    }
  }
  return undefined;
}

/**
 * Every run directory a daemon was started on by this file. The daemon detaches, so one a test never stopped (it
 * failed, or was cut off at its deadline, before its own cleanup) would outlive the suite: after the file's tests
 * whatever still serves on them is killed. (An `afterAll` registered at import belongs to each test file, as in
 * temp.ts; Vitest runs after-hooks in reverse, so this runs before temp.ts removes the directories.)
 */
const started = new Set<string>();

afterAll(() => {
  for (const run of started) {
    const pid = pidOf(run);
    if (pid === undefined || !isRoq(pid)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* stopped already */
    }
  }
  started.clear();
});

/** Whether `pid` is a roq program still (a PID file left behind may name a reused PID by now). */
function isRoq(pid: number): boolean {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('roq');
  } catch {
    return false;
  }
}

/** Starts a real daemon with `roq start` and resolves once it serves; rejects with the CLI's output if it fails. */
export async function startDaemon(opts: DaemonOptions = {}): Promise<RunningDaemon> {
  const run = opts.run ?? makeRunDir();
  const args = [
    'start',
    '--run',
    run,
    '--data',
    opts.data ?? LIRR,
    '--workers',
    String(opts.workers ?? 2),
    ...(opts.app ? ['--app', opts.app] : []),
  ];
  if (opts.deadline !== undefined) args.push('--deadline', String(opts.deadline));
  args.push(...(opts.args ?? []));
  started.add(run);
  const r = await roqCli(args, { env: opts.env, program: opts.program });
  const pid = pidOf(run);
  if (r.code !== 0 || pid === undefined) throw new Error(`roq start failed (${r.code}): ${r.stderr}${r.stdout}`);
  return {
    run,
    pid,
    started: r.stdout,
    async stop() {
      // Whoever serves now: an upgrade in the test may have replaced the daemon this started.
      const s = await roqCli(['stop', '--run', run]);
      const left = pidOf(run);
      if (s.code !== 0 && left !== undefined) {
        try {
          process.kill(left, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      if (!opts.run) fs.rmSync(run, { recursive: true, force: true });
    },
  };
}

/**
 * Daemons started by one test file and stopped after each test, pass or fail:
 *   const { daemon, running } = daemonsPerTest();   // at the top of the file
 *   const d = await daemon({ workers: 1 });
 * `running` takes daemons started some other way, to be stopped the same way.
 */
export function daemonsPerTest(): { daemon(opts?: DaemonOptions): Promise<RunningDaemon>; running: RunningDaemon[] } {
  const running: RunningDaemon[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((d) => d.stop()));
  });
  return {
    running,
    async daemon(opts = {}) {
      const d = await startDaemon(opts);
      running.push(d);
      return d;
    },
  };
}

/** Polls `cond` every 20 ms until it returns a truthy value, for at most timeoutMs; throws naming `what`. */
export async function waitFor<T>(
  what: string,
  cond: () => T | Promise<T>,
  timeoutMs = 10_000,
): Promise<Exclude<T, false | 0 | '' | null | undefined>> {
  const giveUp = Date.now() + timeoutMs;
  for (;;) {
    const v = await cond();
    if (v) return v as Exclude<T, false | 0 | '' | null | undefined>;
    if (Date.now() > giveUp) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface AnswerFifo {
  pid: number;
  token: string;
  /** The secret a request line for this FIFO carries and its answer echoes (protocol version 2). */
  proof: string;
  /** The answer read from the FIFO; rejects after timeoutMs. */
  answer: Promise<Answer>;
  /** The request line of a query answered into this FIFO (pid, token and proof filled in), for writeRequests. */
  request(q: { query: string; params: Record<string, string> }): string;
  /** Closes and removes the FIFO. */
  close(): void;
}

let tokens = 0;

/**
 * Makes a client's answer FIFO by hand and starts reading it, as src/client.ts does, so that a test can write
 * request lines of its own (or malformed ones) into REQUESTS with writeRequests. Only answers carrying `proof`
 * count, unless `checkProof` is false (to read an answer to a request of version 1 or of an unknown version).
 */
export function answerFifo(run: string, timeoutMs = 10_000, pid = process.pid, checkProof = true): AnswerFifo {
  const token = `t${process.pid}x${++tokens}`;
  const proof = `p${token}${'x'.repeat(16)}`;
  const path = join(run, responseFifoName(pid, token));
  makeFifo(path, RESPONSE_FIFO_MODE);
  const socket = new net.Socket({
    fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  socket.setEncoding('utf8');
  const parser = answerParser(checkProof ? proof : undefined);
  const answer = new Promise<Answer>((res, rej) => {
    const timer = setTimeout(() => rej(new Error(`no answer on ${path} within ${timeoutMs} ms`)), timeoutMs);
    socket.on('data', (chunk: string) => {
      try {
        if (parser.push(chunk)) {
          clearTimeout(timer);
          res(parser.result());
        }
      } catch (e) {
        clearTimeout(timer);
        rej(e as Error);
      }
    });
  });
  answer.catch(() => undefined);
  return {
    pid,
    token,
    proof,
    answer,
    request: (q) => encodeRequest({ kind: 'query', pid, token, proof, ...q }),
    close() {
      socket.destroy();
      fs.rmSync(path, { force: true });
    },
  };
}

/** Writes raw text (one or more request lines) into `<run>/REQUESTS` in one write. */
export function writeRequests(run: string, text: string): void {
  const fd = fs.openSync(join(run, REQUESTS_FIFO), fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
  try {
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
}
