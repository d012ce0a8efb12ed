/**
 * The dispatcher: the reader of `<run>/REQUESTS` and the writer of the daemon's own control lines into it. It
 * reads on the event loop (a FIFO opened O_RDWR|O_NONBLOCK wrapped in net.Socket), splits what arrives into lines
 * (lines.ts) and gives each to the core (core.ts), which parses it and decides what happens; the daemon performs
 * the core's effects. It never runs a query and decides nothing about one.
 *
 * Control lines are pseudo-requests (pid -1) that travel the same FIFO as requests, so that a stop or a swap
 * happens in order with the requests around them; each carries a token the core made, so a line with any other
 * token was not written by this daemon. A control line is one write of less than PIPE_BUF bytes, so it never
 * interleaves with a client's; when the FIFO is full it is written again a little later, in order.
 *
 * Stopping (the stop line was read): reading stops exactly, every byte already read from the kernel is given to
 * the core, and nothing more is read. Requests still in the FIFO behind the stop line stay there for whoever
 * reads REQUESTS next (a daemon taking over).
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { lineSplitter } from '../lines.js';
import { encodeRequest, MAX_REQUEST_BYTES, type ControlWord } from '../protocol.js';
import type { Core } from './core.js';
import type { Effect } from './effect-types.js';
import type { Log } from './log.js';

/** How long a REQUESTS that was replaced is still read (a client may have opened it just before). */
const SUPERSEDED_READ_MS = 2000;
/** When REQUESTS is full of requests (they are being read), a control line is written again after this. */
const FULL_RETRY_MS = 10;

export interface DispatcherOptions {
  /** REQUESTS, opened O_RDWR|O_NONBLOCK (see fifo.openRequests); the dispatcher owns it from now on. */
  fd: number;
  core: Core;
  log: Log;
  /** Performs what the core answers to each line. */
  perform(effects: Effect[]): void;
  /** Before the lines of each read: the core hears what the workers reported first (pool.drain). */
  beforeLines(): void;
}

export interface Dispatcher {
  /** Writes a control line into REQUESTS, behind every request already there. */
  writeControl(word: ControlWord, token: string): void;
  /** Reads no more: gives the core what was read already, then asks it whether everything is answered. */
  stopReading(): void;
  /**
   * Reads a new REQUESTS too (someone removed the first; the daemon made another): clients reach only the new
   * one, and what writers of the old one still send is read as well. Control lines go to the new one.
   */
  attach(fd: number): void;
  /** Closes every REQUESTS it reads (once stopped). */
  close(): void;
}

interface Reader {
  socket: net.Socket;
  split: (chunk: Buffer) => void;
  onData: (chunk: Buffer) => void;
}

export function startDispatcher(o: DispatcherOptions): Dispatcher {
  return new RequestsDispatcher(o);
}

class RequestsDispatcher implements Dispatcher {
  private readonly o: DispatcherOptions;
  private readonly readers: Reader[] = [];
  /** Where control lines go: the newest REQUESTS, the one clients reach. */
  private controlFd: number;
  private readonly pendingControl: { word: ControlWord; token: string }[] = [];

  constructor(o: DispatcherOptions) {
    this.o = o;
    this.controlFd = o.fd;
    this.listen(o.fd);
  }

  writeControl(word: ControlWord, token: string): void {
    this.pendingControl.push({ word, token });
    if (this.pendingControl.length === 1) this.flushControl();
  }

  /**
   * Stops reading REQUESTS exactly: every byte read from the kernel is parsed and answered, and nothing more is
   * read. Whatever is left in the FIFO is for the next daemon.
   */
  stopReading(): void {
    this.o.beforeLines();
    for (const reader of this.readers) drainAndStop(reader);
    setImmediate(() => this.o.perform(this.o.core.finishIfDone()));
  }

  attach(fd: number): void {
    if (!this.o.core.accepting()) return void fs.closeSync(fd);
    this.controlFd = fd;
    const superseded = this.readers.slice();
    this.listen(fd);
    // Nobody can open the old FIFO by its path any more; a client that opened it just before has written by now.
    setTimeout(() => this.dropReaders(superseded), SUPERSEDED_READ_MS).unref();
  }

  close(): void {
    for (const { socket } of this.readers) socket.destroy();
  }

  /** Reads `fd` (a REQUESTS opened O_RDWR|O_NONBLOCK) on the event loop. */
  private listen(fd: number): void {
    const o = this.o;
    const socket = new net.Socket({ fd, readable: true, writable: false });
    const split = lineSplitter((line, cut) => o.perform(o.core.line(line, cut)), MAX_REQUEST_BYTES - 1);
    const onData = (chunk: Buffer) => {
      o.beforeLines();
      split(chunk);
    };
    socket.on('data', onData);
    socket.on('error', (e) => o.log.error(`reading REQUESTS: ${e.message}`));
    this.readers.push({ socket, split, onData });
  }

  private readonly flushControl = (): void => {
    const pending = this.pendingControl;
    while (pending.length > 0) {
      const c = pending[0]!;
      try {
        fs.writeSync(this.controlFd, encodeRequest({ kind: 'control', word: c.word, token: c.token }));
        pending.shift();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(this.flushControl, FULL_RETRY_MS);
        pending.shift();
        this.o.perform(this.o.core.controlWriteFailed(c.token, (e as Error).message));
      }
    }
  };

  /** Stops reading the REQUESTS that were replaced, unless the daemon stops (then stopReading drains them). */
  private dropReaders(superseded: readonly Reader[]): void {
    if (this.o.core.isStopping()) return; // stopReading drains and close ends every reader
    // A reader may be in two superseded lists (REQUESTS made again twice within SUPERSEDED_READ_MS): the
    // first timer removed it, and splice(-1) would drop the newest reader instead.
    for (const r of superseded) {
      const at = this.readers.indexOf(r);
      if (at < 0) continue;
      r.socket.destroy();
      this.readers.splice(at, 1);
    }
  }
}

/**
 * Stops one reader exactly and gives the core what it had read. A paused net.Socket keeps reading into its buffer
 * up to its high-water mark, so the handle's reading is stopped and `_read` disabled (node:net internals, stable
 * since Node 0.x) before the buffer is drained through the splitter.
 */
function drainAndStop({ socket, split, onData }: Reader): void {
  socket.pause();
  const internals = socket as unknown as {
    _handle?: { reading: boolean; readStop(): number };
    _read(n: number): void;
  };
  if (internals._handle) {
    internals._handle.reading = false;
    internals._handle.readStop();
  }
  internals._read = () => undefined;
  socket.removeListener('data', onData);
  for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null;) split(chunk);
}
