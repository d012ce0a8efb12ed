/**
 * The daemon's side of `<run>/daemon/roq.pid`: taking its lock (or waiting for a predecessor to let go of it) and
 * releasing it. How a held lock is judged is described in src/control/lifecycle.ts, which reads the same files
 * for the CLI.
 */
import * as fs from 'node:fs';
import lockfile from 'proper-lockfile';
import { roqError } from '../errors.js';
import { isAlive, pidFilePath, readPid } from '../control/lifecycle.js';
import { pollUntil, sleep } from '../poll.js';
import type { Log } from './log.js';
import { replaceFile } from './private-dir.js';

/** A lock not refreshed for this long, whose recorded PID is dead, belonged to a crashed daemon. */
const STALE_AFTER_MS = 3000;
const LOCK_OPTIONS = { realpath: false, stale: 60_000, update: 1000 };

function lockAgeMs(run: string): number {
  try {
    return Date.now() - fs.statSync(pidFilePath(run) + '.lock').mtimeMs;
  } catch {
    return Infinity;
  }
}

export type ReleasePidLock = () => Promise<void>;

/** How a daemon taking over waits for the lock: until `deadline` (Date.now() ms), however alive the holder is. */
export interface TakeoverWait {
  deadline: number;
  /** The daemon being taken over: while it lives, its lock is never broken. */
  pid: number | undefined;
}

/**
 * Takes the run directory's lock and writes our PID into `<run>/daemon/roq.pid` (see the file comment for how a held
 * lock is judged). Resolves with the function that removes the PID file and releases the lock; rejects with
 * ROQ_ALREADY_RUNNING or ROQ_START_FAILED. A daemon taking over (`takeover`) waits for a live holder to let go,
 * polling every few milliseconds because each one is a millisecond the FIFO goes unread, and fails with
 * ROQ_TAKEOVER_FAILED at the deadline.
 */
export async function acquirePidLock(run: string, log: Log, takeover?: TakeoverWait): Promise<ReleasePidLock> {
  const pidFile = pidFilePath(run);
  const giveUp = Date.now() + 10_000;
  for (;;) {
    try {
      const release = await lockfile.lock(pidFile, {
        ...LOCK_OPTIONS,
        // Someone removed or replaced our lock directory. Serving on is better than dying over bookkeeping.
        onCompromised: (err) => log.error(`the lock ${pidFile}.lock was compromised: ${err.message}`),
      });
      replaceFile(pidFile, `${process.pid}\n`);
      return async () => {
        if (readPid(run) === process.pid) fs.rmSync(pidFile, { force: true });
        await release().catch((e: Error) => log.warn(`releasing ${pidFile}.lock: ${e.message}`));
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ELOCKED') {
        throw roqError('ROQ_START_FAILED', { run, detail: `cannot lock ${pidFile}: ${(e as Error).message}` });
      }
    }
    const pid = readPid(run);
    const alive = pid !== undefined && pid !== process.pid && isAlive(pid);
    if (alive && !takeover) throw roqError('ROQ_ALREADY_RUNNING', { run, pid });
    if (alive && Date.now() > takeover!.deadline) {
      throw roqError('ROQ_TAKEOVER_FAILED', { run, pid, detail: 'it did not release the lock in time' });
    }
    // A dead recorded PID is a crashed holder. No PID at all is a holder between taking the lock and writing its
    // PID, or between removing the PID and releasing the lock (microseconds), or one that crashed right there.
    if (
      !alive &&
      (pid !== undefined || lockAgeMs(run) > STALE_AFTER_MS) &&
      !(takeover?.pid !== undefined && isAlive(takeover.pid))
    ) {
      log.warn(`breaking the stale lock of pid ${pid ?? '(none recorded)'}, which is no longer running`);
      fs.rmSync(pidFile + '.lock', { recursive: true, force: true });
      continue;
    }
    if (!alive && Date.now() > giveUp)
      throw roqError('ROQ_START_FAILED', {
        run,
        detail: `${pidFile}.lock is held by a process that never wrote its PID`,
      });
    await sleep(takeover ? 2 : 100);
  }
}

/**
 * A retiring daemon, after releasing the lock, waits (up to `ms`) until its successor has written its PID: a
 * supervisor following the PID file (systemd's Type=forking) then sees the new main PID before the old one exits.
 */
export async function awaitSuccessor(run: string, ms: number): Promise<number | undefined> {
  return pollUntil(
    () => {
      const pid = readPid(run);
      return pid !== undefined && pid !== process.pid && isAlive(pid) ? pid : undefined;
    },
    5,
    Date.now() + ms,
  );
}
