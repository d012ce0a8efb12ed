/**
 * The small shared pieces the restructure made single: the line splitter (REQUESTS, the readiness pipe, the demo's
 * log follower), the request size check before sending, the bounded wait, the token maker.
 */
import { describe, expect, it } from 'vitest';
import { lineSplitter } from '../../src/lines.js';
import { pollUntil } from '../../src/poll.js';
import { encodeRequest, MAX_REQUEST_BYTES, requestFits } from '../../src/protocol.js';
import { randomToken } from '../../src/token.js';

function split(chunks: (string | Buffer)[], maxBytes?: number): [string, boolean][] {
  const out: [string, boolean][] = [];
  const feed = lineSplitter((line, cut) => out.push([line, cut]), maxBytes);
  for (const c of chunks) feed(c);
  return out;
}

describe('lineSplitter', () => {
  it('gives whole lines across chunks, multi-byte characters split between chunks included', () => {
    const e = Buffer.from('é');
    expect(split(['ab', 'c\nde', '\n\nf'])).toEqual([
      ['abc', false],
      ['de', false],
      ['', false],
    ]);
    expect(
      split([Buffer.concat([Buffer.from('x'), e.subarray(0, 1)]), Buffer.concat([e.subarray(1), Buffer.from('\n')])]),
    ).toEqual([['xé', false]]);
  });

  it('keeps only the end of an over-long line, and says it was cut, without holding more than the limit', () => {
    const out = split(['g'.repeat(50), 'g'.repeat(50), 'tail\nnext\n'], 10);
    expect(out).toEqual([
      ['ggggggtail', true],
      ['next', false],
    ]);
  });
});

describe('requestFits', () => {
  it('says whether a request fits one atomic line whatever pid, token and proof the client gets', () => {
    const params = (n: number) => ({ q: 'x'.repeat(n) });
    let n = 0;
    while (requestFits('stops', params(n + 1))) n++;
    // The longest that fits encodes with the largest pid and token and a client's proof; one more does not fit.
    const line = encodeRequest({
      kind: 'query',
      pid: 0x7fffffff,
      token: 'x'.repeat(32),
      proof: randomToken(18),
      query: 'stops',
      params: params(n),
    });
    expect(Buffer.byteLength(line)).toBeLessThanOrEqual(MAX_REQUEST_BYTES);
    expect(requestFits('stops', params(n + 1))).toBe(false);
    expect(n).toBeGreaterThan(3900);
  });
});

describe('pollUntil and randomToken', () => {
  it('returns the first value the probe gives, or undefined at the deadline', async () => {
    let calls = 0;
    expect(await pollUntil(() => (++calls === 3 ? 'ready' : undefined), 1, Date.now() + 5000)).toBe('ready');
    expect(await pollUntil(() => undefined, 1, Date.now() + 20)).toBeUndefined();
  });

  it('makes tokens of letters and digits that fit the request line', () => {
    const t = randomToken(18);
    expect(t).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(randomToken()).toMatch(/^[A-Za-z0-9]{12}$/);
    expect(new Set(Array.from({ length: 100 }, () => randomToken())).size).toBe(100);
  });
});
