/**
 * The loader's byte interner (src/store/interner.ts) gives each distinct byte string one code in order of first
 * appearance, like the Map of strings it replaced, across table growth and for multi-byte UTF-8.
 */
import { describe, expect, it } from 'vitest';
import { ByteInterner } from '../src/store/interner.js';
import { rng } from './helpers/rng.js';

describe('ByteInterner', () => {
  it('agrees with a Map of strings on 50,000 values with repeats, growing past its first table', () => {
    const r = rng(77);
    const alphabet = ['a', 'b', 'Z', '0', '9', '_', 'ü', 'é', '東', '😀', ',', '"'];
    const pool = Array.from({ length: 6000 }, () =>
      Array.from({ length: r.int(0, 12) }, () => r.pick(alphabet)).join(''),
    );
    const interner = new ByteInterner();
    const expected = new Map<string, number>();
    for (let i = 0; i < 50_000; i++) {
      const text = r.pick(pool);
      // Put the value at an offset inside a bigger buffer, as the loader does with a file's bytes.
      const buf = Buffer.concat([Buffer.from('xx,'), Buffer.from(text, 'utf8'), Buffer.from(',yy')]);
      const code = i % 7 === 0 ? interner.internText(text) : interner.intern(buf, 3, buf.length - 3);
      if (!expected.has(text)) expected.set(text, expected.size);
      expect(code).toBe(expected.get(text));
    }
    expect(interner.values).toEqual([...expected.keys()]);
    expect(interner.values.length).toBeGreaterThan(1024);
  });
});
