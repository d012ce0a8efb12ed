/**
 * Errors crossing a thread or process boundary keep what they are: one codec (errors.toWire / fromWire) for the
 * error answers of workers and the dispatcher, the load thread's result and the detached daemon's readiness report.
 */
import { describe, expect, it } from 'vitest';
import { errorOfAnswer } from '../../src/client.js';
import { errorLine } from '../../src/control/lifecycle.js';
import { fromWire, roqError, RoqError, toWire } from '../../src/errors.js';
import { createLoadThread } from '../../src/load/load-runner.js';
import { errorAnswer } from '../../src/protocol.js';

const quiet = { info() {}, warn() {}, error() {} };

describe('errors on the wire', () => {
  it('come back with their code, status, parameter and message', () => {
    const e = roqError('ROQ_PARAM_INVALID', { param: 'limit', expected: 'an integer', value: 'x' });
    const back = fromWire(JSON.parse(JSON.stringify(toWire(e))), () => {
      throw new Error('known code');
    });
    expect([back.code, back.status, back.param, back.message]).toEqual([e.code, 400, 'limit', e.message]);
    // As an answer (the dispatcher's and the workers'): the parameter travels too.
    expect(errorAnswer('error', toWire(e))).toMatchObject({ code: 'ROQ_PARAM_INVALID', param: 'limit' });
    const answered = errorOfAnswer({ status: 'error', code: 'ROQ_FUTURE', message: 'from a newer daemon' });
    expect([answered.code, answered.status, answered.message, answered.answered]).toEqual([
      'ROQ_PROTOCOL',
      500,
      'from a newer daemon',
      'ROQ_FUTURE',
    ]);
  });

  it('name the run directory in a start failure the daemon reports on its readiness fd', () => {
    const line = errorLine(new Error('boom'), '/srv/run');
    expect(JSON.parse(line.slice('ERROR '.length))).toMatchObject({
      code: 'ROQ_START_FAILED',
      message: 'roq failed to start on /srv/run: boom',
    });
  });

  it('say a crashed load thread is an internal failure, not a file at fault', async () => {
    const loads = createLoadThread('process.exit(3)', quiet);
    const err = await loads.load({ dataDir: '/data/feed', id: 2, delayMs: 0, nice: false }).catch((e: unknown) => e);
    await loads.close();
    expect(err).toBeInstanceOf(RoqError);
    expect((err as RoqError).code).toBe('ROQ_LOAD_INTERNAL');
    expect((err as RoqError).message).toContain('loading /data/feed failed unexpectedly (the load thread exited');
  });
});
