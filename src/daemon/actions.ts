/**
 * Admin requests for holds, swaps and drops (`roq reload --hold`, `roq swap`, `roq reload --drop-held`): the CLI
 * writes one small file `<run>/action.<id>` naming the action, then sends SIGWINCH; the daemon takes every such
 * file, oldest id first, and queues the actions in its reloader. The outcome appears in status.json under
 * `reload.recent`, tagged with the request's id, which is how the CLI finds its own.
 *
 * Why not SIGHUP: SIGHUP means "reload" to cron jobs and systemd, and a plain reload arriving while an admin's
 * hold request waits must not be mistaken for it (nor turn the hold into a reload that serves unvalidated data).
 * A signal of its own keeps the two apart; SIGWINCH is unused by a detached daemon, as in nginx and Apache,
 * which use it for their own admin purposes.
 *
 * Anyone the run directory lets in (the web server's group) can make files there, so a request counts only if it
 * is a regular file owned by the daemon's user or by root, the users who may signal the daemon anyway.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ACTION_PREFIX as PREFIX } from '../control/actions.js';
import { HOLD_ACTIONS, type HoldAction } from '../control/status.js';

/** Removes a taken request; one that cannot be removed is read again next time and refused again, harmlessly. */
function remove(path: string): void {
  try {
    fs.rmSync(path, { force: true });
  } catch {
    /* not ours to remove (another user's file in a sticky directory) */
  }
}

/**
 * The file's first line if it is a regular file owned by `uid` or root, else undefined. Opened without following
 * a symlink and checked on the open descriptor, so that a file swapped after a check cannot make the daemon read
 * another one; at most 64 bytes are read.
 */
function readTrusted(path: string, uid: number): string | undefined {
  const fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFile() || (st.uid !== uid && st.uid !== 0)) return undefined;
    const buf = Buffer.alloc(64);
    return buf.toString('utf8', 0, fs.readSync(fd, buf, 0, buf.length, 0)).trim();
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Takes (reads and removes) every admin request in the run directory, oldest first. Files that are not a
 * request of a trusted user are removed and reported through `refuse`.
 */
export function takeActionRequests(
  run: string,
  refuse: (name: string, why: string) => void,
): { action: HoldAction; id: string }[] {
  let names: string[];
  try {
    names = fs
      .readdirSync(run)
      .filter((n) => n.startsWith(PREFIX) && !n.endsWith('.tmp'))
      .sort();
  } catch {
    return [];
  }
  const me = process.getuid?.() ?? 0;
  const taken: { action: HoldAction; id: string }[] = [];
  for (const name of names) {
    const path = join(run, name);
    let text: string | undefined;
    try {
      text = readTrusted(path, me);
    } catch (e) {
      refuse(name, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
      continue;
    } finally {
      remove(path);
    }
    const action = HOLD_ACTIONS.find((x) => x === text);
    if (action) taken.push({ action, id: name.slice(PREFIX.length) });
    else
      refuse(
        name,
        text === undefined ? `not a regular file of uid ${me} or root` : 'not a known action (hold, swap or drop)',
      );
  }
  return taken;
}
