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
