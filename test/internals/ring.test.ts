/**
 * The shared rings jobs and reports travel in between the daemon's main thread and its workers
 * (src/daemon/ring.ts): records come out whole and in order across the buffer's end, a full ring refuses a record
 * instead of overwriting one, and a reader asleep on the bell is woken by the writer — with a real second thread.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { transformSync } from 'esbuild';
import { describe, expect, it } from 'vitest';
import type { Core } from '../../src/daemon/core.js';
import { newClaimCells } from '../../src/daemon/messages.js';
import { createPool } from '../../src/daemon/pool.js';
import { newRing, RingReader, RingWriter } from '../../src/daemon/ring.js';

/** A worker thread's source that runs `source` with ring.ts itself (compiled to CommonJS here) as `RingReader`… */
function withRing(source: string): string {
  const ringJs = transformSync(readFileSync(new URL('../../src/daemon/ring.ts', import.meta.url), 'utf8'), {
    loader: 'ts',
    format: 'cjs',
  }).code;
  return `const module = { exports: {} }; (function (exports, module) { ${ringJs} })(module.exports, module);
    const { RingReader, RingWriter } = module.exports; ${source}`;
}

describe('a ring', () => {
  it('gives back every record whole and in order, across the end of the buffer many times', () => {
    const sab = newRing(256);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    const read: string[] = [];
    const written: string[] = [];
    for (let i = 0; i < 500; i++) {
      // Lengths 0 … 40 bytes, multi-byte characters included, so records end at every alignment.
      const text = `${i}:${'é'.repeat(i % 13)}${'x'.repeat(i % 7)}`;
      expect(w.write(text)).toBe(true);
      written.push(text);
      if (i % 3 === 0) for (let t = r.read(); t !== undefined; t = r.read()) read.push(t);
    }
    for (let t = r.read(); t !== undefined; t = r.read()) read.push(t);
    expect(read).toEqual(written);
  });

  it('refuses a record while full, and one over half its size ever, and loses none', () => {
    const sab = newRing(64);
    const w = new RingWriter(sab);
    const r = new RingReader(sab);
    expect(w.write('y'.repeat(29))).toBe(false);
    const ok: string[] = [];
    for (let i = 0; w.write(`record ${i}`); i++) ok.push(`record ${i}`);
    expect(ok.length).toBeGreaterThan(1);
    expect(r.read()).toBe(ok[0]);
    expect(w.write('next')).toBe(true);
    const rest: string[] = [];
    for (let t = r.read(); t !== undefined; t = r.read()) rest.push(t);
    expect(rest).toEqual([...ok.slice(1), 'next']);
    expect(r.read()).toBeUndefined();
  });

  it('wakes a reader asleep in another thread, and every record written meanwhile reaches it', async () => {
    const inbox = newRing(1024);
    const outbox = newRing(1024);
    // The reader thread echoes each record back until it reads 'end'; it sleeps whenever its inbox is empty.
    const source = `
      const { workerData } = require('node:worker_threads');
      const r = new RingReader(workerData.inbox);
      const w = new RingWriter(workerData.outbox);
      for (;;) {
        const bell = r.bell();
        let t;
        while ((t = r.read()) !== undefined) { if (t === 'end') process.exit(0); while (!w.write(t)); }
        r.sleep(bell);
      }`;
    const thread = new Worker(withRing(source), { eval: true, workerData: { inbox, outbox } });
    const w = new RingWriter(inbox);
    const r = new RingReader(outbox);
    const got: string[] = [];
    const sent: string[] = [];
    for (let round = 0; round < 50; round++) {
      // Let the reader fall asleep, then write: only the bell can wake it.
      await new Promise((resolve) => setTimeout(resolve, round % 10 === 0 ? 5 : 0));
      const text = `job ${round}`;
      expect(w.write(text)).toBe(true);
      sent.push(text);
      w.ring();
      const until = Date.now() + 5000;
      while (got.length < sent.length && Date.now() < until) {
        const t = r.read();
        if (t !== undefined) got.push(t);
        else await new Promise((resolve) => setImmediate(resolve));
      }
    }
    w.write('end');
    w.ring();
    await new Promise((resolve) => thread.once('exit', resolve));
    expect(got).toEqual(sent);
  });
});

describe('the pool hands jobs over through the rings', () => {
  it("keeps, in order, the jobs that do not fit a worker's inbox until it has room, and gives the core every report", async () => {
    // A worker that sleeps 300 ms before it reads anything, so 200 jobs of 4 KB overflow its 256 KiB inbox; then
    // it reports each job it reads, and says idle whenever it has read everything (as worker.ts does).
    const source = `
      const { workerData, parentPort } = require('node:worker_threads');
      const r = new RingReader(workerData.inbox);
      const w = new RingWriter(workerData.outbox);
      const pause = new Int32Array(new SharedArrayBuffer(4));
      Atomics.wait(pause, 0, 0, 300);
      for (;;) {
        const bell = r.bell();
        let t, any = false;
        while ((t = r.read()) !== undefined) {
          any = true;
          const done = JSON.stringify({ type: 'done', seq: JSON.parse(t).seq, status: 'ok', rows: 0, workMs: 0 });
          while (!w.write(done)) Atomics.wait(pause, 0, 0, 1);
        }
        if (any) parentPort.postMessage({ type: 'idle' });
        r.sleep(bell);
      }`;
    const reported: number[] = [];
    const core = {
      startWorker: () => ({
        cells: newClaimCells(),
        waiting: new Int32Array(new SharedArrayBuffer(4)),
        generations: [],
      }),
      fromWorker: (_worker: number, msg: { type: string; seq?: number }) => {
        if (msg.type === 'done') reported.push(msg.seq!);
        return [];
      },
      workerError: () => undefined,
      workerExited: () => [],
      deadline: () => [],
      busy: () => 200 - reported.length,
      close: () => undefined,
    } as unknown as Core;
    const pool = createPool({
      core,
      run: '/nonexistent',
      faults: false,
      deadlineMs: 10_000,
      source: withRing(source),
      perform: () => undefined,
      rest: () => undefined,
    });
    try {
      pool.apply({ kind: 'spawn', worker: 1, index: 0, delayMs: 0 });
      const pad = 'x'.repeat(4000);
      for (let seq = 1; seq <= 200; seq++)
        pool.apply({
          kind: 'post',
          worker: 1,
          message: { type: 'query', seq, cell: 1, pid: 1, token: 't', query: 'q', params: { pad }, generation: 1 },
        });
      const until = Date.now() + 10_000;
      while (reported.length < 200 && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(reported).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    } finally {
      await pool.close();
    }
  });
});
