import { spawn, type SpawnOptions } from 'node:child_process';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to its end and collects its output; it is killed after timeoutMs (then code is 1 or its own). */
export function runToEnd(
  command: string,
  args: string[],
  options: Omit<SpawnOptions, 'stdio'> & { timeoutMs: number },
): Promise<RunResult> {
  return new Promise((done, fail) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('error', (e) => (clearTimeout(timer), fail(e)));
    child.on('close', (code) => (clearTimeout(timer), done({ code: code ?? 1, stdout, stderr })));
  });
}

/** What a program given input wrote, and how it ended. */
export interface FedResult {
  /** All of stdout, as written. */
  raw: Buffer;
  stderr: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Wall time from spawn to exit. */
  ms: number;
}

export interface FedRun {
  env: Record<string, string | undefined>;
  cwd?: string;
  /** Written to stdin, then stdin is closed (unless keepStdin). */
  input?: Buffer;
  keepStdin?: boolean;
  /** Killed with SIGKILL after this long (default 15 s); stderr says so. */
  limitMs?: number;
  /** Who is killed, in that note. */
  label: string;
}

/**
 * Runs a per-request program as a web server does: its environment, the body on stdin, all of stdout kept as bytes.
 * Never rejects but on a spawn failure. A write error on stdin (a program that answers before reading all of a
 * body) is kept in stderr: the relay's tests look for it.
 */
export function runFed(command: string, args: string[], run: FedRun): Promise<FedResult> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: run.env, cwd: run.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.stdin.on('error', (e) => (stderr += `\n[stdin: ${(e as NodeJS.ErrnoException).code}]`));
    if (run.input) child.stdin.write(run.input);
    if (!run.keepStdin) child.stdin.end();
    const limit = run.limitMs ?? 15_000;
    const timer = setTimeout(() => {
      stderr += `\n[${run.label}: killed after ${limit} ms]`;
      child.kill('SIGKILL');
    }, limit);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (run.keepStdin) child.stdin.destroy();
      resolve({ raw: Buffer.concat(out), stderr, code, signal, ms: performance.now() - started });
    });
  });
}
