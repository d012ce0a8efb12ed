/**
 * fifo.writeAnswer and the answer drain on real FIFOs: a long answer goes in at once as far as the FIFO takes it,
 * and the rest is written on the event loop as the client reads, whole; a client that stops reading loses the rest
 * at the budget, its FIFO closed; nothing ever waits for the client.
 */
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { makeFifo } from '../../src/client.js';
import { createAnswerDrain } from '../../src/daemon/answer-drain.js';
import { writeAnswer } from '../../src/daemon/fifo.js';
import { responseFifoName } from '../../src/protocol.js';
import { waitFor } from '../helpers/daemon.js';

const { O_RDWR, O_NONBLOCK } = fs.constants;
const run = fs.mkdtempSync(join(tmpdir(), 'roq-drain-'));
afterAll(() => fs.rmSync(run, { recursive: true, force: true }));

/** A client's FIFO, opened for reading as the client opens it (O_RDWR: never EOF). */
function clientFifo(token: string): number {
  const path = join(run, responseFifoName(process.pid, token));
  makeFifo(path, 0o600);
  return fs.openSync(path, O_RDWR | O_NONBLOCK);
}

it('writes a 1 MB answer whole: what the FIFO takes at once, then the rest as the client reads', async () => {
  const dropped: string[] = [];
  const drain = createAnswerDrain(5000, (_pid, reason) => dropped.push(reason));
  const reader = new net.Socket({ fd: clientFifo('big'), readable: true, writable: false });
  let got = 0;
  reader.on('data', (c: Buffer) => (got += c.length));
  const text = 'x'.repeat(1_000_000);
  expect(writeAnswer(run, process.pid, 'big', text, drain.add)).toEqual({ sent: true });
  // Returned before the reader could read (it reads on this event loop): the rest waits in the drain.
  expect(drain.pendingBytes()).toBeGreaterThan(0);
  let idle = false;
  void drain.idle().then(() => (idle = true)); // what a stopping daemon waits for
  await waitFor('the whole answer read', () => got === text.length);
  await waitFor('the drain idle', () => idle);
  expect(drain.pendingBytes()).toBe(0);
  expect(dropped).toEqual([]);
  reader.destroy();
});

it('drops the rest for a client that stops reading, at the budget, and closes its FIFO', async () => {
  const dropped: string[] = [];
  const drain = createAnswerDrain(300, (_pid, reason) => dropped.push(reason));
  const fd = clientFifo('stalled');
  expect(writeAnswer(run, process.pid, 'stalled', 'y'.repeat(200_000), drain.add)).toEqual({ sent: true });
  await waitFor('the rest dropped', () => dropped.length > 0, 5000);
  expect(dropped).toEqual(['the client did not read its answer within 300 ms; the rest is dropped']);
  expect(drain.pendingBytes()).toBe(0);
  // The writer's end is closed: once the reader has taken what was written, a read finds nothing more coming.
  let taken = 0;
  for (let n = 0; (n = readOrZero(fd)) > 0;) taken += n;
  expect(taken).toBeLessThan(200_000);
  fs.closeSync(fd);
});

it('a FIFO that takes nothing (nobody reads it) loses the answer at once, with no rest', () => {
  const fd = clientFifo('full');
  fs.writeSync(fd, Buffer.alloc(65_536)); // full: a FIFO holds 64 KiB
  let rests = 0;
  const d = writeAnswer(run, process.pid, 'full', 'z'.repeat(10_000), () => rests++);
  expect(d).toEqual({ sent: false, reason: 'its FIFO is full: nobody reads it' });
  expect(rests).toBe(0);
  fs.closeSync(fd);
});

function readOrZero(fd: number): number {
  try {
    return fs.readSync(fd, Buffer.alloc(65_536));
  } catch {
    return 0; // EAGAIN: empty
  }
}
