import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CATALOG, formatMessage, roqError } from '../src/errors.js';

const doc = readFileSync(new URL('../docs/ERRORS.md', import.meta.url), 'utf8');
const documented = [...doc.matchAll(/^\| `(ROQ_[A-Z_]+)` \| (\d+) \|/gm)].map((m) => ({
  code: m[1]!,
  status: Number(m[2]),
}));

describe('the error catalog', () => {
  it('is documented in docs/ERRORS.md, code for code and status for status', () => {
    expect(documented.map((d) => d.code).sort()).toEqual(Object.keys(CATALOG).sort());
    for (const d of documented) expect(d.status).toBe(CATALOG[d.code as keyof typeof CATALOG].status);
  });

  it('fills message templates from the details and keeps the code and status', () => {
    const e = roqError('ROQ_LOAD_VALUE', {
      file: 'stop_times.txt',
      line: 7,
      col: 3,
      column: 'departure_time',
      detail: 'not a time',
    });
    expect(e.message).toBe("stop_times.txt:7:3: column 'departure_time': not a time");
    expect(e.code).toBe('ROQ_LOAD_VALUE');
    expect(e.status).toBe(500);
    expect(formatMessage('ROQ_PARAM_MISSING', { param: 'stop' })).toContain("'stop'");
  });
});
