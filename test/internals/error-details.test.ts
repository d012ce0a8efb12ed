/**
 * Error details are typed from the catalog's placeholders (src/errors.ts ErrorDetails): `tsc --noEmit` (CI) fails
 * on a detail left out or misspelt, and each call below says what it checks; at run time the message is complete.
 */
import { describe, expect, it } from 'vitest';
import { roqError } from '../../src/errors.js';

describe('error details typed from the catalog', () => {
  it('needs every placeholder of the text, and no other name', () => {
    const ok = roqError('ROQ_DAEMON_DOWN', { run: '/run/roq', detail: 'ENOENT' });
    expect(ok.message).not.toMatch(/\{\w+\}/);
    // @ts-expect-error a placeholder ({detail}) left out
    roqError('ROQ_DAEMON_DOWN', { run: '/run/roq' });
    // @ts-expect-error a name the text does not have
    roqError('ROQ_DAEMON_DOWN', { run: '/run/roq', detail: 'x', rnu: 1 });
    // `param` names the parameter at fault, whatever the text says.
    expect(roqError('ROQ_PARAM_MISSING', { param: 'stop', expected: 'a stop_id' }).param).toBe('stop');
  });
});
