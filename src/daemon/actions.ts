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

/** Directory entries one turn of the event loop looks at: a flood of planted files is taken in slices. */
const SLICE = 256;
/** Entries one scan looks at, at most; what is left (a flood still being made) waits for the next signal. */
const MAX_SCAN = 100_000;
/** Refused files named in the log per scan; the rest are counted in one line. */
const NAMED_REFUSALS = 3;

export interface ActionScanner {
  /**
   * ACTION_SIGNAL came: scans now, or once more when the scan under way ends (a request may have come since).
   * Resolves once a scan that began after this call has ended.
   */
  request(): Promise<void>;
}

/**
 * Takes (reads and removes) every admin request in the run directory and gives them to `act`, oldest id first,
 * once the scan has seen them all. Anyone in the web server's group can make files there: a member who plants
 * 100,000 `action.*` files must cost neither a log line each nor one long stop of the event loop. So the directory
 * is read as a stream, SLICE entries per turn of the event loop (requests are served between slices), at most
 * MAX_SCAN per scan; what is not a trusted request is removed, the first NAMED_REFUSALS named in the log with the
 * reason and the rest counted in one line (`warn`, the daemon's log).
 */
export function createActionScanner(run: string, act: Act, warn: (msg: string) => void): ActionScanner {
  return new RunDirectoryScanner(run, act, warn);
}

type TakenRequest = { action: HoldAction; id: string };
type Act = (request: TakenRequest) => void;
type Refuse = (name: string, why: string) => void;

class RunDirectoryScanner implements ActionScanner {
  private readonly run: string;
  private readonly act: Act;
  private readonly warn: (msg: string) => void;
  private scanning = false;
  private again = false;
  /** Waiting for the scan under way (`current`) or for the next one (`next`). */
  private current: (() => void)[] = [];
  private next: (() => void)[] = [];

  constructor(run: string, act: Act, warn: (msg: string) => void) {
    this.run = run;
    this.act = act;
    this.warn = warn;
  }

  request(): Promise<void> {
    const done = new Promise<void>((resolve) => this.next.push(resolve));
    if (this.scanning) this.again = true;
    else this.scan();
    return done;
  }

  private scan(): void {
    this.scanning = true;
    this.current = this.next;
    this.next = [];
    let dir: fs.Dir;
    try {
      dir = fs.opendirSync(this.run);
    } catch {
      return this.finish([]);
    }
    const me = process.getuid?.() ?? 0;
    const taken: TakenRequest[] = [];
    let seen = 0;
    let refused = 0;
    const refuse: Refuse = (name, why) => {
      if (++refused <= NAMED_REFUSALS) this.warn(`admin request ${name} ignored: ${why}`);
    };
    const slice = () => {
      for (let n = 0; n < SLICE; n++) {
        const entry = seen++ < MAX_SCAN ? dir.readSync() : null;
        if (entry === null) {
          dir.closeSync();
          if (refused > NAMED_REFUSALS)
            this.warn(`${refused - NAMED_REFUSALS} more admin requests ignored and removed in this scan (not shown)`);
          return this.finish(taken.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
        }
        if (entry.name.startsWith(PREFIX) && !entry.name.endsWith('.tmp')) this.take(entry.name, me, taken, refuse);
      }
      setImmediate(slice);
    };
    slice();
  }

  private take(name: string, me: number, taken: TakenRequest[], refuse: Refuse): void {
    const path = join(this.run, name);
    let text: string | undefined;
    try {
      text = readTrusted(path, me);
    } catch (e) {
      return refuse(name, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
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

  private finish(taken: TakenRequest[]): void {
    for (const request of taken) this.act(request);
    this.scanning = false;
    for (const done of this.current.splice(0)) done();
    if (this.again) {
      this.again = false;
      this.scan();
    }
  }
}
