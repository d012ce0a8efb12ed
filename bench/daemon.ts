/**
 * Real daemons for the benchmarks, started and stopped through the `roq` command as an admin would, so that every
 * figure includes what `roq start` really does.
 */
import { spawnSync } from 'node:child_process';
import { readPid } from '../src/control/lifecycle.js';

export interface Started {
  pid: number;
  /** `roq start` until it returned (the daemon then serves). */
  ms: number;
}

/** `roq start --run RUN ARGS…`; throws with the command's output when it fails. */
export function startRoq(
  roq: string,
  run: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
): Started {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [roq, 'start', '--run', run, ...args], {
    encoding: 'utf8',
    env,
    timeout: 600_000,
  });
  const ms = performance.now() - t0;
  const pid = readPid(run);
  if (r.status !== 0 || pid === undefined)
    throw new Error(`roq start on ${run} failed (${r.status}): ${r.stderr}${r.stdout}`);
  return { pid, ms };
}

export function stopRoq(roq: string, run: string): void {
  spawnSync(process.execPath, [roq, 'stop', '--run', run], { encoding: 'utf8' });
}
