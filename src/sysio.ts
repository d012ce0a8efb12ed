/**
 * Synchronous system calls for the one-shot client processes (the CGI program above all), which pay for every
 * module they load on every web request. Under Bun they go straight to libc through bun:ffi: loading Bun's
 * node:fs costs about 3.5 ms per process, the libc calls themselves microseconds, and poll(2) lets a one-request
 * process wait for its answer without an event loop. Under Node, node:fs does the same work, loaded on first use
 * (Node has no poll, so Node callers wait asynchronously; see client.ts).
 *
 * Linux only, like roq: the flag and errno values below are Linux's (the same on x86-64 and arm64).
 */
declare const Bun: unknown;
export const isBun = typeof Bun !== 'undefined';

export const O_WRONLY = 1;
export const O_RDWR = 2;
export const O_NONBLOCK = 0o4000;

const ERRNO: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  4: 'EINTR',
  6: 'ENXIO',
  9: 'EBADF',
  11: 'EAGAIN',
  13: 'EACCES',
  17: 'EEXIST',
  20: 'ENOTDIR',
  21: 'EISDIR',
  32: 'EPIPE',
  40: 'ELOOP',
};

/** An error shaped like Node's: `code` is the errno name ('ENXIO'), which is what callers test. */
export function sysError(call: string, errno: number, path?: string): NodeJS.ErrnoException {
  const code = ERRNO[errno] ?? `E${errno}`;
  const e: NodeJS.ErrnoException = new Error(`${code}: ${call}${path ? ` '${path}'` : ''} failed`);
  e.code = code;
  e.errno = -errno;
  e.syscall = call;
  if (path) e.path = path;
  return e;
}

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
  /** Waits until fd has data (true) or timeoutMs passes (false). Bun only: undefined under Node. */
  pollIn?(fd: number, timeoutMs: number): boolean;
}

let cached: Sys | undefined;

/** The system calls of this runtime (see the file comment). */
export function sys(): Sys {
  return (cached ??= isBun ? bunSys() : nodeSys());
}

function cString(s: string): Buffer {
  return Buffer.from(s + '\0');
}

function bunSys(): Sys {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ffi = require('bun:ffi');
  const T = ffi.FFIType;
  const { symbols: c } = ffi.dlopen('libc.so.6', {
    open: { args: [T.ptr, T.i32, T.u32], returns: T.i32 },
    read: { args: [T.i32, T.ptr, T.u64], returns: T.i64 },
    write: { args: [T.i32, T.ptr, T.u64], returns: T.i64 },
    close: { args: [T.i32], returns: T.i32 },
    unlink: { args: [T.ptr], returns: T.i32 },
    mkfifo: { args: [T.ptr, T.u32], returns: T.i32 },
    chmod: { args: [T.ptr, T.u32], returns: T.i32 },
    poll: { args: [T.ptr, T.u64, T.i32], returns: T.i32 },
    statx: { args: [T.i32, T.ptr, T.i32, T.u32, T.ptr], returns: T.i32 },
    __errno_location: { args: [], returns: T.ptr },
  });
  const errno = (): number => ffi.read.i32(c.__errno_location(), 0);
  const check = (r: number | bigint, call: string, path?: string): number => {
    const n = Number(r);
    if (n < 0) throw sysError(call, errno(), path);
    return n;
  };
  // ffi.ptr needs a non-empty view; every call passes a slice of the caller's buffer.
  const at = (buf: Uint8Array, offset: number) => ffi.ptr(buf.subarray(offset));
  const pollfd = new Int32Array(2);
  // statx(2) rather than fstat: its struct has one layout on every architecture (stx_uid at byte 20, stx_mode a
  // u16 at 28), where struct stat differs between x86-64 and arm64.
  const statxBuf = new Uint8Array(256);
  const statxView = new DataView(statxBuf.buffer);
  const owner = (dirfd: number, path: string, flags: number, call: string): Owner => {
    check(
      c.statx(dirfd, cString(path), flags, 0x7ff /* STATX_BASIC_STATS */, ffi.ptr(statxBuf)),
      call,
      path || undefined,
    );
    return { uid: statxView.getUint32(20, true), mode: statxView.getUint16(28, true) };
  };
  return {
    open: (path, flags, mode = 0) => check(c.open(cString(path), flags, mode), 'open', path),
    read: (fd, buf, offset, length) => (length === 0 ? 0 : check(c.read(fd, at(buf, offset), length), 'read')),
    write: (fd, buf, offset, length) => (length === 0 ? 0 : check(c.write(fd, at(buf, offset), length), 'write')),
    close: (fd) => void check(c.close(fd), 'close'),
    unlink: (path) => void check(c.unlink(cString(path)), 'unlink', path),
    mkfifo(path, mode) {
      check(c.mkfifo(cString(path), mode), 'mkfifo', path);
      check(c.chmod(cString(path), mode), 'chmod', path);
    },
    fstat: (fd) => owner(fd, '', 0x1000 /* AT_EMPTY_PATH */, 'fstat'),
    stat: (path) => owner(-100 /* AT_FDCWD */, path, 0, 'stat'),
    pollIn(fd, timeoutMs) {
      pollfd[0] = fd;
      pollfd[1] = 1; // events = POLLIN, revents = 0
      for (;;) {
        const r = Number(c.poll(ffi.ptr(pollfd), 1, Math.max(0, Math.ceil(timeoutMs))));
        if (r >= 0) return r > 0;
        if (errno() !== 4) throw sysError('poll', errno()); // EINTR: poll again
      }
    },
  };
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
