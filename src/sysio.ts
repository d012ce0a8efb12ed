/**
 * Synchronous system calls for the Node clients (the CLI, the Node CGI program, the tests), through node:fs
 * loaded on first use, so a one-request process that needs none pays for none.
 *
 * Linux only, like roq: the flag and errno values below are Linux's (the same on x86-64 and arm64).
 */

export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;

/** What the clients check of a file: its owner and its type and permission bits (st_mode). */
export interface Owner {
  uid: number;
  mode: number;
}
export const S_IFMT = 0o170000;
export const S_IFIFO = 0o010000;

export interface Sys {
  open(path: string, flags: number, mode?: number): number;
  read(fd: number, buf: Uint8Array, offset: number, length: number): number;
  write(fd: number, buf: Uint8Array, offset: number, length: number): number;
  close(fd: number): void;
  unlink(path: string): void;
  /** mkfifo(3), then chmod so that the caller's umask cannot change the mode. */
  mkfifo(path: string, mode: number): void;
  /** fstat(2) of an open descriptor, reduced to its owner and mode. */
  fstat(fd: number): Owner;
  /** stat(2) of a path (following symlinks), reduced to its owner and mode. */
  stat(path: string): Owner;
}

let cached: Sys | undefined;

/** The system calls of this runtime (see the file comment). */
export function sys(): Sys {
  return (cached ??= nodeSys());
}

const encoder = new TextEncoder();

/** Text as UTF-8 bytes. */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function nodeSys(): Sys {
  const fs = process.getBuiltinModule('node:fs') as typeof import('node:fs');
  return {
    open: (path, flags, mode) => fs.openSync(path, flags, mode),
    read: (fd, buf, offset, length) => fs.readSync(fd, buf, offset, length, null),
    write: (fd, buf, offset, length) => fs.writeSync(fd, buf, offset, length),
    close: (fd) => fs.closeSync(fd),
    unlink: (path) => fs.rmSync(path, { force: true }),
    fstat: (fd) => fs.fstatSync(fd),
    stat: (path) => fs.statSync(path),
    mkfifo(path, mode) {
      // Node has no mkfifo: mkfifo(1) costs about 4 ms, which only Node clients pay.
      const { spawnSync } = process.getBuiltinModule('node:child_process') as typeof import('node:child_process');
      const r = spawnSync('mkfifo', ['-m', mode.toString(8), path], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${(r.stderr || String(r.error)).trim()}`);
      fs.chmodSync(path, mode);
    },
  };
}

/** Writes all of `bytes` to fd, sleeping 2 ms on EAGAIN, for at most waitMs; returns the bytes written. */
export function writeAll(fd: number, bytes: Uint8Array, waitMs: number): number {
  const s = sys();
  const giveUp = Date.now() + waitMs;
  let off = 0;
  while (off < bytes.length) {
    try {
      off += s.write(fd, bytes, off, bytes.length - off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN' || Date.now() >= giveUp) throw e;
      sleepMs(2);
    }
  }
  return off;
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
export function sleepMs(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
