/**
 * The rest of answers that a client's FIFO could not take at once, written on the main thread's event loop as the
 * client reads them: a worker (or the main thread itself) writes what the FIFO takes without waiting
 * (fifo.writeAnswer) and hands the FIFO's descriptor and the rest here, so no thread ever waits for a client.
 * libuv polls the FIFO (a net.Socket on its descriptor) and writes as room appears.
 *
 * Each rest has a budget: what the client has not taken `budgetMs` after it came here is dropped for that client
 * (its FIFO closed; the client says so at its deadline), and `dropped` is told why. All rests together hold at most
 * MAX_PENDING_BYTES; beyond that a new rest is dropped at once. So a client that reads slowly on purpose (a local
 * user's, with a FIFO shrunk to one page) costs the daemon some memory for a bounded time, and never a worker.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';

/** What could not be written at once: the client's FIFO, open (the drain owns it now), and what is left of the answer. */
export interface AnswerRest {
  fd: number;
  bytes: Uint8Array;
  /** The client's process, for the message when it is dropped. */
  pid: number;
}

/** Answers in flight on the event loop, in bytes, at most: a slow reader may hold memory, but only this much. */
const MAX_PENDING_BYTES = 64 * 1024 * 1024;

export interface AnswerDrain {
  /** Takes over `rest.fd` and writes `rest.bytes` into it within the budget; never blocks. */
  add(rest: AnswerRest): void;
  /** Bytes not yet taken by their clients, over every rest in flight. */
  pendingBytes(): number;
  /** Resolves once no rest is in flight (each ends within the budget): a stopping daemon waits for it. */
  idle(): Promise<void>;
}

export function createAnswerDrain(budgetMs: number, dropped: (pid: number, reason: string) => void): AnswerDrain {
  let pending = 0;
  let inFlight = 0;
  const waiting: (() => void)[] = [];
  function add({ fd, bytes, pid }: AnswerRest): void {
    if (pending + bytes.length > MAX_PENDING_BYTES) {
      fs.close(fd, () => undefined);
      return dropped(pid, `${bytes.length} bytes could not be written at once and ${pending} bytes already wait`);
    }
    pending += bytes.length;
    inFlight++;
    // allowHalfOpen: a socket that is not readable would otherwise end its writing side when its reading one ends.
    const socket = new net.Socket({ fd, readable: false, writable: true, allowHalfOpen: true });
    let finished = false;
    const finish = (reason?: string) => {
      if (finished) return;
      finished = true;
      pending -= bytes.length;
      clearTimeout(timer);
      socket.destroy();
      if (reason !== undefined) dropped(pid, reason);
      if (--inFlight === 0) for (const done of waiting.splice(0)) done();
    };
    const timer = setTimeout(
      () => finish(`the client did not read its answer within ${budgetMs} ms; the rest is dropped`),
      budgetMs,
    );
    socket.on('error', (e: NodeJS.ErrnoException) => finish(`client gone while writing (${e.code ?? e.message})`));
    socket.end(bytes, () => finish());
  }
  const idle = () => (inFlight === 0 ? Promise.resolve() : new Promise<void>((done) => waiting.push(done)));
  return { add, pendingBytes: () => pending, idle };
}
