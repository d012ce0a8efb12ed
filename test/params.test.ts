import { describe, expect, it } from 'vitest';
import { parseClockTime, parseIsoDate } from '../src/dates.js';
import { parseParams, type ParamSpec } from '../src/params.js';
import { RoqError } from '../src/errors.js';

const specs: ParamSpec[] = [
  { name: 'stop', type: 'string', required: true, maxLength: 10 },
  { name: 'date', type: 'date', required: true },
  { name: 'after', type: 'time', default: '00:00:00' },
  { name: 'limit', type: 'int', default: 10, min: 1, max: 100 },
];

function errorOf(raw: Record<string, string>): RoqError {
  try {
    parseParams('departures', specs, raw);
  } catch (e) {
    return e as RoqError;
  }
  throw new Error('expected an error');
}

describe('parseParams', () => {
  it('applies defaults and converts types', () => {
    expect(parseParams('departures', specs, { stop: '12', date: '2024-02-29', after: '7:05' })).toEqual({
      stop: '12',
      date: 20240229,
      after: 7 * 3600 + 5 * 60,
      limit: 10,
    });
  });

  it.each([
    [{ date: '2026-01-01' }, 'stop', 'ROQ_PARAM_MISSING'],
    [{ stop: '1', date: '2026-02-29' }, 'date', 'ROQ_PARAM_NO_SUCH_DAY'],
    [{ stop: '1', date: '2026-13-01' }, 'date', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '26-01-01' }, 'date', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', after: '25:61' }, 'after', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', after: '24:00' }, 'after', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', limit: '0' }, 'limit', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', limit: '1000' }, 'limit', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', limit: '1e3' }, 'limit', 'ROQ_PARAM_INVALID'],
    [{ stop: 'x'.repeat(11), date: '2026-01-01' }, 'stop', 'ROQ_PARAM_INVALID'],
    [{ stop: 'a\u0000b', date: '2026-01-01' }, 'stop', 'ROQ_PARAM_INVALID'],
    [{ stop: '1', date: '2026-01-01', stpo: '2' }, 'stpo', 'ROQ_PARAM_UNKNOWN'],
  ])('%j is an error naming %s', (raw, param, code) => {
    const e = errorOf(raw);
    expect(e.code).toBe(code);
    expect(e.param).toBe(param);
    expect(e.message).toContain(`'${param}'`);
    expect(e.status).toBe(400);
  });

  it('counts maxLength in characters (code points), as documented, not UTF-16 units', () => {
    expect(parseParams('departures', specs, { stop: '🚆'.repeat(10), date: '2026-01-01' }).stop).toBe('🚆'.repeat(10));
    expect(errorOf({ stop: '🚆'.repeat(11), date: '2026-01-01' }).param).toBe('stop');
  });

  it('parses dates and clock times exactly', () => {
    expect(parseIsoDate('2000-02-29')).toBe(20000229);
    expect(parseIsoDate('1900-02-29')).toBeNaN();
    expect(parseClockTime('23:59:59')).toBe(86399);
    expect(parseClockTime('12:60')).toBeNaN();
    expect(parseClockTime('1:2:3')).toBeNaN();
  });
});
