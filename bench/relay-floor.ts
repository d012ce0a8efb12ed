/**
 * What the relay itself costs, without Apache and without a daemon's work: the relay and the C hello spawned in
 * turn, the relay asking a stub daemon (in this process) that answers every request at once with a canned proven
 * answer. The difference between the two medians is the relay's own price (FIFOs, request line, proof check);
 * whatever the web ladder shows beyond it is the daemon's rendering and the scheduling of its threads.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { makeFifo } from '../src/client.js';
import { parseRequest, REQUESTS_FIFO, responseFifoName } from '../src/protocol.js';
import { encodeWebAnswer } from '../src/web-protocol.js';
import { summary } from './stats.js';

const CANNED = Buffer.from(
  'Status: 200 OK\nContent-Type: application/json; charset=utf-8\nContent-Length: 23\n\n{"query":"x","rows":[]}',
);

/** A daemon that answers every web request on `run` at once with CANNED; returns its stop function. */
function stubDaemon(run: string): () => void {
  const path = join(run, REQUESTS_FIFO);
  makeFifo(path, 0o622);
  const socket = new net.Socket({
    fd: fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_NONBLOCK),
    readable: true,
    writable: false,
  });
  let buffered = '';
  socket.setEncoding('latin1').on('data', (chunk: string) => {
    buffered += chunk;
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const parsed = parseRequest(buffered.slice(0, nl));
      buffered = buffered.slice(nl + 1);
      if (!parsed.ok || parsed.request.kind !== 'web') continue;
      const { pid, token, proof } = parsed.request;
      try {
        const fd = fs.openSync(
          join(run, responseFifoName(pid, token)),
          fs.constants.O_WRONLY | fs.constants.O_NONBLOCK,
        );
        fs.writeSync(fd, encodeWebAnswer(proof, CANNED));
        fs.closeSync(fd);
      } catch {
        /* the relay gave up already */
      }
    }
  });
  return () => socket.destroy();
}

/** Wall time of one run of `exe`, from spawn to exit, in ms; throws if it did not print a 200. */
function timeOne(exe: string, env: Record<string, string>): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(exe, [], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.on('error', reject);
    child.on('close', () => {
      const ms = performance.now() - t0;
      if (out.startsWith('Status: 200') || out.startsWith('Content-Type: text/plain')) resolve(ms);
      else reject(new Error(`${exe} printed ${JSON.stringify(out.slice(0, 120))}`));
    });
  });
}

/** Median wall times of `runs` spawns each of the C hello and of the relay against the stub, interleaved. */
export async function relayFloor(
  hello: string,
  relay: string,
  base: string,
  runs: number,
): Promise<{ helloMs: number; relayMs: number }> {
  const run = fs.mkdtempSync(join(base, 'stub-run-'));
  const stop = stubDaemon(run);
  const env = { ROQ_RUN_DIR: run, REQUEST_METHOD: 'GET', QUERY_STRING: 'format=json', SCRIPT_NAME: '/roq' };
  const h: number[] = [];
  const r: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      h.push(await timeOne(hello, {}));
      r.push(await timeOne(relay, env));
    }
  } finally {
    stop();
    fs.rmSync(run, { recursive: true, force: true });
  }
  return { helloMs: summary(h).p50, relayMs: summary(r).p50 };
}
