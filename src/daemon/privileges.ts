/**
 * Dropping root. A daemon started as root (by an init system without User=) with `--user NAME[:GROUP]` opens
 * what needs root first — the run directory's lock and PID file, REQUESTS, its logs — hands those files to the
 * user, then becomes that user (supplementary groups, group, user, in that order) before it reads any data or
 * answers anyone. Its threads share its credentials.
 */
import * as fs from 'node:fs';
import { roqError } from '../errors.js';

export interface Account {
  name: string;
  uid: number;
  gid: number;
  group: string;
}

function lookup(file: string, name: string): string[] | undefined {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.split(':'))
    .find((f) => f[0] === name || (/^\d+$/.test(name) && f[2] === name));
}

/** Resolves `user` or `user:group` from /etc/passwd and /etc/group (names or numbers). */
export function resolveAccount(spec: string, run: string): Account {
  const [userName, groupName] = spec.split(':') as [string, string | undefined];
  const pw = lookup('/etc/passwd', userName);
  if (!pw) throw roqError('ROQ_START_FAILED', { run, detail: `--user: no user '${userName}' in /etc/passwd` });
  let gid = Number(pw[3]);
  let group = String(gid);
  if (groupName) {
    const gr = lookup('/etc/group', groupName);
    if (!gr) throw roqError('ROQ_START_FAILED', { run, detail: `--user: no group '${groupName}' in /etc/group` });
    gid = Number(gr[2]);
    group = gr[0]!;
  }
  return { name: pw[0]!, uid: Number(pw[2]), gid, group };
}

/**
 * Checks, before anything is taken, that the account will be able to write the run directory (as its owner or
 * through its primary group): after dropping root it must still write status.json and release its lock.
 */
export function checkRunDirFor(a: Account, run: string): void {
  const st = fs.statSync(run);
  const m = st.mode;
  const ok = (st.uid === a.uid && (m & 0o300) === 0o300) || (st.gid === a.gid && (m & 0o030) === 0o030);
  if (!ok)
    throw roqError('ROQ_START_FAILED', {
      run,
      detail: `user ${a.name} cannot write the run directory ${run}; chown it to ${a.name} (mode 3730, group of the web server: docs/SECURITY.md)`,
    });
}

/**
 * Gives `paths` (those that exist) to the account — keeping their group, which for REQUESTS is the web server's —
 * and becomes it. Fails, naming what to fix, when not root or when the account cannot write the run directory.
 */
export function dropPrivileges(a: Account, run: string, paths: string[]): void {
  if (process.getuid?.() !== 0)
    throw roqError('ROQ_START_FAILED', { run, detail: `--user ${a.name} needs the daemon to start as root` });
  for (const p of paths) {
    try {
      fs.chownSync(p, a.uid, fs.statSync(p).gid);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
  (process as unknown as { initgroups(user: string, gid: number): void }).initgroups(a.name, a.gid);
  process.setgid!(a.gid);
  process.setuid!(a.uid);
  try {
    fs.accessSync(run, fs.constants.W_OK | fs.constants.X_OK);
  } catch {
    throw roqError('ROQ_START_FAILED', {
      run,
      detail: `user ${a.name} cannot write the run directory ${run}; chown it to ${a.name} (mode 3730, group of the web server: docs/SECURITY.md)`,
    });
  }
}
