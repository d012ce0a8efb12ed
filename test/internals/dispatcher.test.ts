/**
 * The dispatcher's handling of superseded REQUESTS FIFOs, with real FIFOs and a stand-in core that records lines:
 * REQUESTS made again twice within SUPERSEDED_READ_MS leaves exactly the newest FIFO read, and stopping still stops
 * reading it.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { makeFifo } from '../../src/client.js';
import type { Core } from '../../src/daemon/core.js';
import { startDispatcher, type Dispatcher } from '../../src/daemon/dispatcher.js';
import type { Log } from '../../src/daemon/log.js';
import { waitFor } from '../helpers/daemon.js';

const { O_RDWR, O_NONBLOCK } = fs.constants;
const dir = fs.mkdtempSync(join(tmpdir(), 'roq-dispatcher-'));
let dispatcher: Dispatcher | undefined;
afterEach(() => {
  vi.useRealTimers();
  dispatcher?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function fifo(name: string): number {
  makeFifo(join(dir, name), 0o600);
  return fs.openSync(join(dir, name), O_RDWR | O_NONBLOCK);
}

it('a REQUESTS made again twice within 2 s: the newest stays read, and stopReading stops reading it', async () => {
  const heard: string[] = [];
  const core = {
    line: (text: string) => (heard.push(text), []),
    accepting: () => true,
    isStopping: () => false,
    finishIfDone: () => [],
  } as unknown as Core;
  const log = { error: () => undefined, warn: () => undefined } as unknown as Log;
  vi.useFakeTimers({ toFake: ['setTimeout'] });
  dispatcher = startDispatcher({ fd: fifo('A'), core, log, perform: () => undefined, beforeLines: () => undefined });
  dispatcher.attach(fifo('B'));
  vi.advanceTimersByTime(1000);
  const newest = fifo('C');
  dispatcher.attach(newest);
  vi.advanceTimersByTime(2500); // both superseded timers have run
  vi.useRealTimers();
  fs.writeSync(newest, 'first\n');
  await waitFor('the line written into the newest FIFO', () => heard.includes('first'));
  dispatcher.stopReading();
  fs.writeSync(newest, 'after stop\n');
  await new Promise((r) => setTimeout(r, 200)); // the event loop turns; a reader still reading would get it
  expect(heard).toEqual(['first']);
});
