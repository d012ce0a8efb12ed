/**
 * The daemon's options in their three spellings (src/control/daemon-options.ts): every option `roq start` takes
 * survives the trip to `roq daemon`'s arguments and the trip through status.json that `roq upgrade` makes.
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { argsOfStatus, DAEMON_OPTIONS, fromArgs, toArgs, toStatus } from '../src/control/daemon-options.js';

const given = {
  run: '/srv/roq/run',
  data: '/srv/roq/data',
  workers: '3',
  deadline: '750',
  log: '/var/log/roq.log',
  'access-log': 'off',
  'takeover-timeout': '9000',
  user: 'roq:www-data',
  roq1: 'off',
};

describe('daemon options', () => {
  const o = fromArgs('start', given);

  it('come back the same from the arguments they make', () => {
    const { values } = parseArgs({
      args: toArgs(o),
      options: { ...DAEMON_OPTIONS, takeover: { type: 'boolean' } },
      strict: true,
    });
    expect(fromArgs('daemon', values)).toEqual(o);
    expect(toArgs({ ...o, takeover: true })).toContain('--takeover');
  });

  it('come back the same from status.json, --user and --roq1 included', () => {
    const status = JSON.parse(JSON.stringify(toStatus(o)));
    expect(status).toMatchObject({ user: 'roq:www-data', roq1: false, takeoverTimeoutMs: 9000 });
    expect(fromArgs('upgrade', { run: given.run, ...argsOfStatus(status) })).toEqual(o);
  });

  it('take what an older daemon did not record from the defaults', () => {
    const old = fromArgs('upgrade', { run: given.run, ...argsOfStatus({ data: '/d', workers: 2, deadlineMs: 900 }) });
    expect(old).toMatchObject({ data: '/d', workers: 2, deadlineMs: 900, roq1: true, accessLog: undefined });
    expect(old.user).toBeUndefined();
  });

  it('refuse a --roq1 that is neither on nor off, naming it', () => {
    expect(() => fromArgs('start', { roq1: 'yes' })).toThrow(/--roq1 takes 'on' or 'off'/);
  });
});
