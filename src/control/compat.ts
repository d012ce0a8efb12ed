/**
 * What this release keeps for daemons and clients of 0.1, in one place, and when it goes: all of it is removed in
 * COMPAT_REMOVED_IN (0.3 already turns `--roq1` off by default). 0.1 kept its PID file and status.json in the
 * run directory itself rather than in `daemon/`, knew no SIGUSR2, wrote no options into its status, and spoke
 * protocol version 1, without a proof. The shims:
 *
 *  - here: finding a 0.1 daemon's PID and status file, the signal that retires it, waiting for it to exit;
 *  - protocol.ts: parsing and answering version 1 lines (LEGACY_MAGIC), answered while the daemon's `--roq1` is on;
 *  - roq status and roq upgrade: a status file with fewer fields (no version, options or reloads).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { readNoFollow } from '../daemon/private-dir.js';
import { pollUntil } from '../poll.js';

/** The release in which every shim for 0.1 is removed (docs/PROTOCOL.md says the same of version 1). */
export const COMPAT_REMOVED_IN = '0.4';

/** 0.1's PID file and status file: in the run directory itself. */
const LEGACY_PID_FILE = 'roq.pid';
const LEGACY_STATUS_FILE = 'status.json';

/**
 * The PID a 0.1 daemon wrote into `<run>/roq.pid`, read only when the run directory's owner owns that file (anyone
 * in its group could have made it): the caller still checks that the process is the daemon of `run`.
 */
export function legacyPidFileOf(run: string): number | undefined {
  const path = join(run, LEGACY_PID_FILE);
  if (!ownedByRunOwner(run, path)) return undefined;
  const pid = Number(readNoFollow(path)?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** A 0.1 daemon's status file, for display only (`roq status`): `roq upgrade` never takes options from it. */
export function readLegacyStatus(run: string): string | undefined {
  const path = join(run, LEGACY_STATUS_FILE);
  return ownedByRunOwner(run, path) ? readNoFollow(path) : undefined;
}

/** A regular file of the run directory's owner (lstat: a symlink is nobody's file here). */
function ownedByRunOwner(run: string, path: string): boolean {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  return st.isFile() && st.uid === fs.statSync(run).uid;
}

/** 0.1 daemons know no SIGUSR2 (it would kill them outright); SIGTERM makes them stop just as gracefully. */
export function retireSignal(status: { version?: string } | undefined): 'SIGUSR2' | 'SIGTERM' {
  return status?.version ? 'SIGUSR2' : 'SIGTERM';
}

/**
 * A daemon of 0.1 holds a lock of its own in the run directory, not ours: a successor waits for it to be gone
 * instead, so that it reads its stop line and answers what it has read first. Whether it went before `deadline`.
 */
export async function legacyExited(alive: () => boolean, deadline: number): Promise<boolean> {
  return (await pollUntil(() => (alive() ? undefined : true), 5, deadline)) === true;
}
