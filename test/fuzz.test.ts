/**
 * A bounded, seeded fuzzer of the web path (the generator is bench/fuzz.ts): hostile query strings, bodies, methods
 * and CGI variables go to a real daemon as web requests, forwarded as the relay forwards them (thousands, over
 * long-lived answer FIFOs), and through the real per-request program as a process (a few hundred); hostile lines
 * go straight into REQUESTS. Every input must get a well-formed response with an expected status, all data escaped, within a
 * bound, and the daemon must keep answering correctly. The seed is fixed so a failure reproduces;
 * ROQ_FUZZ_COUNT raises the counts; `node dist/fuzz.js --count 100000` is the long run.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkResponse, fuzzWebPath, randomRequest } from '../bench/fuzz.js';
import { runCgi, type Runtime } from './helpers/cgi.js';
import { answerFifo, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { REQUESTS_FIFO } from '../src/protocol.js';
import { answerFifos } from '../src/daemon/fifo.js';
import { rng } from './helpers/rng.js';

describe('fuzzing the web path', () => {
  let daemon: RunningDaemon;
  beforeAll(async () => {
    daemon = await startDaemon({ workers: 2 });
  });
  afterAll(async () => {
    await daemon?.stop();
  });

  it('answers thousands of hostile web requests with well-formed, escaped, sized responses', async () => {
    const count = Number(process.env.ROQ_FUZZ_COUNT) || 5000;
    const r = await fuzzWebPath(daemon.run, count, 20261124);
    console.log(
      `fuzz: ${r.count} web requests, statuses ${JSON.stringify(r.statuses)}, slowest ${r.maxMs.toFixed(1)} ms, RSS +${r.rssGrowthMb.toFixed(1)} MB`,
    );
    expect(r.failures).toEqual([]);
    expect(r.count).toBe(count);
    for (const status of [200, 400, 405, 413, 415])
      expect(r.statuses[status], `status ${status} never produced`).toBeGreaterThan(0);
    expect(answerFifos(daemon.run)).toEqual([]);
  });

  it('answers every hostile request to the program as a process with a well-formed, escaped page in bounded time', async () => {
    const count = Number(process.env.ROQ_FUZZ_COUNT) || 120;
    const r = rng(20261123);
    const requests = Array.from({ length: count }, (_, i) => ({
      req: randomRequest(r, daemon.run),
      runtime: 'node' as Runtime,
    }));
    const tally = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < requests.length) {
          const { req, runtime } = requests[next++]!;
          const res = await runCgi({ ...req, runtime });
          const what = `${runtime} ${req.method} ${JSON.stringify(req.query?.slice(0, 200))}: ${res.stderr.slice(0, 300)}`;
          expect(res.code, what).toBe(0);
          expect(checkResponse(res.status, res.headers, res.body, req.method === 'HEAD'), what).toEqual([]);
          tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
        }
      }),
    );
    console.log(`fuzz: ${count} CGI requests, statuses ${JSON.stringify(Object.fromEntries(tally))}`);
    expect(tally.get(200)).toBeGreaterThan(0);
    expect(tally.get(400)).toBeGreaterThan(0);
    expect(answerFifos(daemon.run)).toEqual([]);
  });

  it('drops garbage written straight into REQUESTS and keeps answering the good requests around it', async () => {
    const r = rng(7);
    const requestsFifo = join(daemon.run, REQUESTS_FIFO);
    for (let i = 0; i < 40; i++) {
      // Raw bytes, invalid UTF-8 included; a newline inside would only split one garbage line into two.
      const bytes = Buffer.from(
        Array.from({ length: Math.floor(r.next() * 300) }, () => Math.floor(r.next() * 256)).map((b) =>
          b === 10 ? 32 : b,
        ),
      );
      const garbage = r.pick([
        bytes,
        Buffer.concat([Buffer.from('roq1 '), bytes]),
        Buffer.concat([Buffer.from('roq1 -1 x reload'), bytes]),
        Buffer.alloc(5000, 0x78),
      ]);
      const good = answerFifo(daemon.run);
      const fd = openSync(requestsFifo, constants.O_WRONLY | constants.O_NONBLOCK);
      try {
        writeSync(fd, Buffer.concat([garbage, Buffer.from('\n')]));
        writeSync(fd, good.request({ query: 'stops', params: { q: 'minal' } }));
      } finally {
        closeSync(fd);
      }
      expect(await good.answer).toMatchObject({
        status: 'ok',
        rows: [['241', 'Atlantic Terminal', '40.68359596', '-73.97567112', '', '']],
      });
      good.close();
    }
  });
});
