/**
 * The daemon's private directory, `<run>/daemon/`: its PID file and lock, status.json and, unless placed elsewhere,
 * its logs. The run directory itself is where clients meet the daemon, so the web server's group may create files
 * in it; what the daemon trusts about itself must live where only the daemon's user can write and no one else can
 * even enter (mode 0700), or a group member could plant symlinks, forge the status that `roq upgrade` reads, or
 * name another process in the PID file (docs/SECURITY.md).
 *
 * Files here are opened without following symlinks (O_NOFOLLOW), created owner-only (0600), and files that are
 * replaced whole (the PID file, status.json) are written to a fresh temporary name (O_CREAT|O_EXCL) and renamed
 * over the old one, so a reader never sees half a file. Who may read them: the daemon's user and root — the users
 * that run `roq status`, `roq reload`, `roq stop` and `roq upgrade`.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { roqError, type RoqError } from '../errors.js';

export const PRIVATE_DIR = 'daemon';
const { O_WRONLY, O_APPEND, O_CREAT, O_EXCL, O_NOFOLLOW, O_RDONLY } = fs.constants;

export function privateDir(run: string): string {
  return join(run, PRIVATE_DIR);
}

export function privatePath(run: string, name: string): string {
  return join(run, PRIVATE_DIR, name);
}

/**
 * Makes `<run>/daemon` (mode 0700) or checks the one there: a directory (not a symlink) owned by this process's
 * user or by `owner` (the user a root daemon becomes). Anything else at that name was put there by someone else,
 * who could create it before the first start: it is moved aside (the daemon owns the run directory, whose sticky
 * bit lets it rename anything in it) and a new one is made. Returns the path.
 */
export function ensurePrivateDir(run: string, owner = process.geteuid!()): string {
  const dir = privateDir(run);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw roqError('ROQ_START_FAILED', { run, detail: `${dir}: ${(e as Error).message}` });
  }
  const ours = st?.isDirectory() && (st.uid === process.geteuid!() || st.uid === owner);
  if (st && !ours) {
    const aside = `${dir}.untrusted-${Date.now()}`;
    try {
      fs.renameSync(dir, aside);
    } catch (e) {
      throw roqError('ROQ_START_FAILED', {
        run,
        detail: `${dir} is not a directory of the daemon's user (uid ${st.uid}); remove it (\`rm -rf ${dir}\`): ${(e as Error).message}`,
      });
    }
  }
  if (!ours) fs.mkdirSync(dir, { mode: 0o700 });
  if ((fs.lstatSync(dir).mode & 0o7777) !== 0o700) fs.chmodSync(dir, 0o700);
  return dir;
}

/** Opens a file for appending (a log) without following a symlink at its path; a new file is owner-only. */
export function openAppend(path: string): number {
  return fs.openSync(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW, 0o600);
}

/**
 * Reads a small file without following a symlink at its path; undefined only when there is none (ENOENT). Any
 * other failure — EACCES for a user who may not enter the daemon's directory, ELOOP for a symlink — says nothing
 * about whether the file exists, so it is raised as ROQ_FILE_ACCESS naming the path, never taken for "absent".
 */
export function readNoFollow(path: string): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, O_RDONLY | O_NOFOLLOW);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw accessError(path, e);
  }
  try {
    return fs.readFileSync(fd, 'utf8');
  } catch (e) {
    throw accessError(path, e);
  } finally {
    fs.closeSync(fd);
  }
}

/** ROQ_FILE_ACCESS for a file that could not be read: its path, and the system's reason with its errno name. */
export function accessError(path: string, e: unknown): RoqError {
  const m = /^([A-Z]+): ([^,]+)/.exec((e as Error)?.message ?? '');
  return roqError('ROQ_FILE_ACCESS', { path, detail: m ? `${m[2]}, ${m[1]}` : String((e as Error)?.message ?? e) });
}

/**
 * Replaces `path` whole: a fresh temporary file (O_EXCL, O_NOFOLLOW, `mode`, 0600 by default) beside it, then a
 * rename. Safe in the run directory too, where a group member may have planted a symlink at the temporary name:
 * O_EXCL fails on it instead of following it.
 */
export function replaceFile(path: string, text: string, mode = 0o600): void {
  const tmp = `${path}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  const fd = fs.openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
  try {
    fs.fchmodSync(fd, mode); // exactly `mode`, whatever the umask of whoever runs this
    fs.writeSync(fd, text);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, path);
}

/** replaceFile without blocking the event loop (status.json, rewritten every second). */
export async function replaceFileAsync(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await fs.promises.rm(tmp, { force: true });
  const h = await fs.promises.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    await h.writeFile(text);
  } finally {
    await h.close();
  }
  await fs.promises.rename(tmp, path);
}

/**
 * Refuses a rendezvous directory whose owner or mode would let others do what docs/SECURITY.md says they cannot:
 * it must belong to the daemon's user (`uid`, named `user`), be writable by no one outside its group, and, when its
 * group may write, carry the sticky bit, so that a group member can neither remove nor rename REQUESTS or another
 * client's FIFO. The error says the exact chown or chmod to run.
 */
export function checkRunDir(run: string, uid: number, user: string): void {
  const st = fs.lstatSync(run);
  const mode = st.mode & 0o7777;
  const fail = (detail: string) => {
    throw roqError('ROQ_START_FAILED', { run, detail });
  };
  if (!st.isDirectory()) fail(`${run} is not a directory`);
  // As root without --user the daemon would stay root: becoming the directory's owner is the fix, not a chown.
  if (st.uid !== uid && uid === 0)
    fail(
      `the run directory ${run} belongs to uid ${st.uid}, and a daemon started as root without \`--user\` would stay root; start it with \`--user ${st.uid}\` (or that user's name) to run as the directory's owner`,
    );
  if (st.uid !== uid) {
    fail(
      `the run directory ${run} belongs to uid ${st.uid}, not to the daemon's user ${user} (uid ${uid}); run \`chown ${user} ${run}\`, or start the daemon as the directory's owner (as root: \`--user\` naming it)`,
    );
  }
  if ((mode & 0o002) !== 0)
    fail(
      `${run} is writable by every user (mode ${mode.toString(8)}); run \`chmod 3730 ${run}\` (or \`chmod o-rwx ${run}\` if no other user's clients use it)`,
    );
  if ((mode & 0o020) !== 0 && (mode & 0o1000) === 0)
    fail(
      `${run} lets its group write but has no sticky bit (mode ${mode.toString(8)}), so a group member could replace REQUESTS; run \`chmod 3730 ${run}\``,
    );
}
