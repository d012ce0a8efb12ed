/**
 * Synchronous system calls for the one-shot client processes (the CGI program above all), which pay for every
 * module they load on every web request. Under Bun they go straight to libc through bun:ffi: loading Bun's
 * node:fs costs about 3.5 ms per process, the libc calls themselves microseconds, and poll(2) lets a one-request
 * process wait for its answer without an event loop. Under Node, node:fs does the same work, loaded on first use
 * (Node has no poll, so Node callers wait asynchronously; see client.ts).
 *
 * Linux only, like roq: the flag and errno values below are Linux's (the same on x86-64 and arm64).
 */
declare const Bun: object;
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

const encoder = new TextEncoder();

/**
 * Text as UTF-8 bytes, for the one-shot clients' writes. Not Buffer: Bun sets Buffer up on its first use, ~0.4 ms
 * of a process (measured on a compiled hello-world), more than anything else the CGI program's JSON answer uses.
 */
export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

function cString(s: string): Uint8Array {
  return utf8(s + '\0');
}

/** bun:ffi's type codes (its FFIType): the native binding below takes the numbers. */
const I32 = 5,
  U32 = 6,
  I64 = 7,
  U64 = 8,
  PTR = 12;

/** The libc functions the clients call. i32 and u32 arguments are passed as int32 values (`| 0`), as bun:ffi does. */
const LIBC = {
  open: { args: [PTR, I32, U32], returns: I32 },
  read: { args: [I32, PTR, U64], returns: I64 },
  write: { args: [I32, PTR, U64], returns: I64 },
  close: { args: [I32], returns: I32 },
  unlink: { args: [PTR], returns: I32 },
  mkfifo: { args: [PTR, U32], returns: I32 },
  chmod: { args: [PTR, U32], returns: I32 },
  poll: { args: [PTR, U64, I32], returns: I32 },
  statx: { args: [I32, PTR, I32, U32, PTR], returns: I32 },
  __errno_location: { args: [], returns: PTR },
};

interface Ffi {
  dlopen(
    path: string,
    symbols: typeof LIBC,
  ): { symbols: Record<keyof typeof LIBC, (...args: (number | Uint8Array)[]) => number | bigint> };
  ptr(view: Uint8Array | Int32Array): number;
  read: { i32(ptr: number, offset: number): number };
}

/**
 * libc through Bun's native FFI binding (Bun.FFI), which bun:ffi wraps: loading the bun:ffi module costs a
 * process ~0.2 ms more (measured), most of it a wrapper per symbol compiled with `new Function` that only coerces
 * arguments, which the calls below pass already coerced. A Bun without that binding gets bun:ffi.
 */
function libc(): { c: ReturnType<Ffi['dlopen']>['symbols']; ffi: Ffi } {
  const native = (Bun as { FFI?: Ffi }).FFI;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ffi: Ffi = native?.dlopen ? native : require('bun:ffi');
  return { c: ffi.dlopen('libc.so.6', LIBC).symbols, ffi };
}

function bunSys(): Sys {
  const { c, ffi } = libc();
  const errno = (): number => ffi.read.i32(Number(c.__errno_location()), 0);
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
      c.statx(dirfd | 0, cString(path), flags | 0, 0x7ff /* STATX_BASIC_STATS */, ffi.ptr(statxBuf)),
      call,
      path || undefined,
    );
    return { uid: statxView.getUint32(20, true), mode: statxView.getUint16(28, true) };
  };
  return {
    open: (path, flags, mode = 0) => check(c.open(cString(path), flags | 0, mode | 0), 'open', path),
    read: (fd, buf, offset, length) => (length === 0 ? 0 : check(c.read(fd | 0, at(buf, offset), length), 'read')),
    write: (fd, buf, offset, length) => (length === 0 ? 0 : check(c.write(fd | 0, at(buf, offset), length), 'write')),
    close: (fd) => void check(c.close(fd | 0), 'close'),
    unlink: (path) => void check(c.unlink(cString(path)), 'unlink', path),
    mkfifo(path, mode) {
      check(c.mkfifo(cString(path), mode | 0), 'mkfifo', path);
      check(c.chmod(cString(path), mode | 0), 'chmod', path);
    },
    fstat: (fd) => owner(fd, '', 0x1000 /* AT_EMPTY_PATH */, 'fstat'),
    stat: (path) => owner(-100 /* AT_FDCWD */, path, 0, 'stat'),
    pollIn(fd, timeoutMs) {
      pollfd[0] = fd;
      pollfd[1] = 1; // events = POLLIN, revents = 0
      for (;;) {
        const r = Number(c.poll(ffi.ptr(pollfd), 1, Math.max(0, Math.ceil(timeoutMs)) | 0));
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
