/**
 * FIFO helpers for the daemon's side of the protocol: making and opening `<run>/REQUESTS`, and writing one whole
 * answer into a client's `<run>/resp.<pid>.<token>`. Used by the dispatcher (error answers it writes itself) and by
 * the workers (every other answer). Writing never throws: a client that went away is an outcome, not an error.
 */
import type { RequestsState } from '../control/status.js';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { makeFifo } from '../client.js';
import { roqError } from '../errors.js';
import { parseResponseFifoName, REQUESTS_FIFO, responseFifoName } from '../protocol.js';
import type { AnswerRest } from './answer-drain.js';
import type { Log } from './log.js';
import { privateDir } from './private-dir.js';

const { O_RDWR, O_WRONLY, O_NONBLOCK, O_NOFOLLOW } = fs.constants;

/** REQUESTS: its owner reads, the web server's group may write. */
export const REQUESTS_MODE = 0o620;

export function requestsPath(run: string): string {
  return join(run, REQUESTS_FIFO);
}

/**
 * Makes `<run>/REQUESTS`, or reuses it when it is a FIFO of the daemon's user (this process's, or `owner`, the
 * user a root daemon becomes): REQUESTS outlives daemons, so that requests written while one daemon hands over to
 * the next stay queued in the kernel. Whatever else is at that path was put there by someone else — a FIFO of
 * theirs would let them read every request — and is replaced by a FIFO of the daemon's own (placeRequests); only a
 * non-FIFO of the daemon's own user is refused, since that is an admin's file.
 */
export function ensureRequestsFifo(run: string, log?: Log, owner = process.geteuid!()): string {
  const path = requestsPath(run);
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
      throw roqError('ROQ_START_FAILED', { run, detail: `${path}: ${(e as Error).message}` });
  }
  const mine = st !== undefined && (st.uid === process.geteuid!() || st.uid === owner);
  if (st && mine && !st.isFIFO())
    throw roqError('ROQ_START_FAILED', { run, detail: `${path} exists and is not a FIFO; move it out of the way` });
  try {
    if (mine) {
      if ((st!.mode & 0o777) !== REQUESTS_MODE) fs.chmodSync(path, REQUESTS_MODE);
      return path;
    }
    // The daemon opens REQUESTS by its path right after (the sticky bit keeps it there): this descriptor is not needed.
    fs.closeSync(placeRequests(run));
  } catch (e) {
    throw roqError('ROQ_START_FAILED', { run, detail: (e as Error).message });
  }
  if (st)
    log?.warn(
      `${path} belongs to uid ${st.uid}, not to the daemon: removed, a FIFO of the daemon's own put in its place`,
    );
  return path;
}

/** How often placeRequests removes an empty directory found at REQUESTS and renames again before it gives up. */
const PLACE_ATTEMPTS = 3;

/**
 * Puts a new FIFO of the daemon's at `<run>/REQUESTS` with one rename(2), whatever is there, and returns it open
 * (O_RDWR|O_NONBLOCK). The FIFO is made and opened under a temporary name in the daemon's private directory (0700,
 * in the run directory, so on the same file system), where nobody else can create or take a name, and then renamed
 * over the path: rename replaces a file of anyone's in the sticky run directory the daemon owns, atomically, so
 * the path is never free for a group member to take (removing hers and then calling mkfifo left such a gap, and a
 * member re-making REQUESTS in a loop won it every time: `roq start` failed with EEXIST). Opened before the rename,
 * so a client never finds a REQUESTS that nobody reads yet (it would take the daemon for down). Only a directory
 * at the path stops a rename: an empty one is removed and the rename tried again, PLACE_ATTEMPTS times at most;
 * a directory with files in it is reported (it is a member's; the admin removes it).
 */
export function placeRequests(run: string): number {
  const path = requestsPath(run);
  const tmp = join(privateDir(run), `${REQUESTS_FIFO}.new`);
  fs.rmSync(tmp, { force: true }); // a crashed daemon's; nobody else can write there
  makeFifo(tmp, REQUESTS_MODE);
  const fd = fs.openSync(tmp, O_RDWR | O_NONBLOCK);
  // Made in the run directory (setgid, 02000), the FIFO would take its group, the web server's, which clients need.
  const dir = fs.statSync(run);
  if (dir.mode & 0o2000) fs.fchownSync(fd, fs.fstatSync(fd).uid, dir.gid);
  for (let attempt = 1; ; attempt++) {
    try {
      fs.renameSync(tmp, path);
      return fd;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      const directory = code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST';
      if (directory && attempt < PLACE_ATTEMPTS && removeEmptyDirectory(path)) continue;
      fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
      throw new Error(
        directory ? `${path} is a directory that is not empty; remove it (\`rm -r ${path}\`)` : (e as Error).message,
      );
    }
  }
}

function removeEmptyDirectory(path: string): boolean {
  try {
    fs.rmdirSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * Opens REQUESTS for the dispatcher. O_RDWR: the daemon is a writer too, so the FIFO never reports EOF when the
 * last client closes it, and the daemon can write its own pseudo-requests (stop, reload) into the same fd.
 * O_NONBLOCK: the fd goes into a net.Socket, which reads it on the event loop instead of a thread-pool thread.
 */
export function openRequests(run: string): number {
  return fs.openSync(requestsPath(run), O_RDWR | O_NONBLOCK);
}

export type Delivery = { sent: true } | { sent: false; reason: string };

/**
 * Writes an answer into the client's FIFO without ever waiting for the client. Opening is
 * O_WRONLY|O_NONBLOCK|O_NOFOLLOW: a client that has vanished gives ENOENT (FIFO removed) or ENXIO (no reader left)
 * at once instead of blocking, and a symlink planted in the run directory cannot redirect the answer; a path that
 * is not a FIFO, or a FIFO not owned by the user the requesting process runs as, is refused after fstat, before a
 * byte is written (docs/SECURITY.md).
 *
 * What the FIFO takes now is written: an answer of at most PIPE_BUF bytes in one atomic write, a longer one as far
 * as there is room. A client reads everything of one answer before it asks again, so its FIFO is empty when an
 * answer comes: one that takes no byte at all is read by nobody, and the answer is dropped. What did not fit goes
 * to `rest` with the open descriptor, which `rest` owns from then on (an AnswerDrain on the main thread's event
 * loop writes it as the client reads, within a budget: answer-drain.ts), and the answer counts as sent. So the
 * calling thread — a worker, or the main thread — goes on at once whatever the client does.
 */
export function writeAnswer(
  run: string,
  pid: number,
  token: string,
  text: string,
  rest: (r: AnswerRest) => void,
): Delivery {
  const path = join(run, responseFifoName(pid, token));
  let fd: number;
  try {
    fd = fs.openSync(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW);
  } catch (e) {
    return { sent: false, reason: `client gone (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})` };
  }
  let handedOver = false;
  try {
    const st = fs.fstatSync(fd);
    if (!st.isFIFO()) return { sent: false, reason: `${path} is not a FIFO; refused` };
    const uid = processUid(pid);
    if (uid === undefined) return { sent: false, reason: `client gone (no process ${pid})` };
    if (st.uid !== uid)
      return { sent: false, reason: `${path} is owned by uid ${st.uid}, but pid ${pid} runs as uid ${uid}; refused` };
    const bytes = Buffer.from(text);
    let off = 0;
    try {
      while (off < bytes.length) off += fs.writeSync(fd, bytes, off);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EAGAIN')
        return { sent: false, reason: `client gone while writing (${code ?? (e as Error).message})` };
      if (off === 0) return { sent: false, reason: 'its FIFO is full: nobody reads it' };
      rest({ fd, bytes: new Uint8Array(bytes.subarray(off)), pid }); // a copy: it is posted to another thread
      handedOver = true;
    }
    return { sent: true };
  } finally {
    if (!handedOver) fs.closeSync(fd);
  }
}

/**
 * The user a running process acts as: the owner of its /proc entry, its effective uid, which is also the owner of
 * any FIFO it makes (undefined when there is no such process). One stat per answer. The owner check needs /proc
 * to show other users' processes: a /proc mounted with hidepid would make every client look gone.
 */
export function processUid(pid: number): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}`).uid;
  } catch {
    return undefined;
  }
}

/** The names in the run directory that have the form of answer FIFOs (responseFifoName); none if unreadable. */
export function answerFifos(run: string): string[] {
  try {
    return fs.readdirSync(run).filter((name) => parseResponseFifoName(name) !== undefined);
  } catch {
    return [];
  }
}

/**
 * Removes answer FIFOs whose client process is gone: a client killed with -9 (a CGI program Apache timed out, say)
 * cannot remove its own. Only names of the protocol's form that are FIFOs are touched, and only when the PID in
 * the name no longer runs; returns how many were removed. The daemon sweeps at start and then every minute.
 */
export function sweepStaleFifos(run: string, alive: (pid: number) => boolean): number {
  let removed = 0;
  for (const name of answerFifos(run)) {
    if (alive(parseResponseFifoName(name)!.pid)) continue;
    const path = join(run, name);
    try {
      if (!fs.lstatSync(path).isFIFO()) continue;
      fs.rmSync(path);
      removed++;
    } catch {
      /* gone meanwhile, or not ours to remove */
    }
  }
  return removed;
}

/**
 * `check` (the daemon calls it every second) compares the path with the FIFO the daemon reads. In a run directory
 * of the right mode (sticky, owned by the daemon) nobody else can remove or replace REQUESTS; if it is gone or is
 * something else anyway (an admin removed it, or the directory was made without the sticky bit), whatever is
 * there is replaced by a new FIFO of the daemon's (placeRequests) unless it is a FIFO of the daemon's own, and
 * that is handed to `attach` (the dispatcher reads it too, and closes the old one soon after: see
 * dispatcher.attach). What could not be repaired is reported in the state.
 */
export function watchRequests(
  run: string,
  fd: number,
  log: Log,
  attach: (fd: number) => void,
): { check(): void; state(): RequestsState } {
  const path = requestsPath(run);
  let current = fd;
  let state: RequestsState = { ok: true };
  return {
    check() {
      let st: fs.Stats | undefined;
      try {
        st = fs.lstatSync(path);
      } catch {
        /* removed */
      }
      if (st?.isFIFO() && st.ino === fs.fstatSync(current).ino) return;
      const ours = st !== undefined && st.uid === process.geteuid!();
      if (st && ours && !st.isFIFO()) {
        // The daemon's own user put a file there (an admin, by mistake): not ours to delete.
        if (state.ok)
          log.error(
            `${path} was replaced by something that is not a FIFO; clients cannot reach the daemon until it is removed`,
          );
        state = { ok: false, detail: `${path} is not a FIFO; remove it and the daemon makes a new one` };
        return;
      }
      const what = !st ? 'removed' : ours ? 'replaced by another FIFO' : `replaced by a file of uid ${st.uid}`;
      try {
        current = ours ? openRequests(run) : placeRequests(run);
        attach(current);
        log.warn(`${path} was ${what}; reading a FIFO of the daemon's there now`);
        state = { ok: true, detail: `REQUESTS was ${what} at ${new Date().toISOString()}` };
      } catch (e) {
        if (state.ok) log.error(`${path} was ${what} and could not be made again: ${(e as Error).message}`);
        state = {
          ok: false,
          detail: `${path} was ${what} and could not be made again: ${(e as Error).message}; remove it and the daemon makes a new one`,
        };
      }
    },
    state: () => state,
  };
}
