/**
 * Reading a daemon's `<run>/status.json` from the CLI: `roq status` shows it, `roq reload` waits on it, and
 * `roq upgrade` copies the running daemon's options from it. A file left by another (earlier) PID is ignored.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { StatusFile } from '../server/daemon.js';
import { STATUS_FILE } from '../server/lifecycle.js';

export function readDaemonStatus(run: string, pid: number): StatusFile | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(join(run, STATUS_FILE), 'utf8')) as StatusFile;
    return s.pid === pid ? s : undefined;
  } catch {
    return undefined; // not written yet, or being replaced: the caller looks again
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
