/**
 * Derived data: built once per generation by loadGeneration (in the daemon's load thread) into shared memory, or
 * the load fails naming the query; and the packed-string search the sample queries use, against a naive scan.
 */
import { describe, expect, it } from 'vitest';
import { loadGeneration } from '../src/load/loader.js';
import { deriveAll, packedMatches, packStrings, stringAt } from '../src/queries/derived.js';
import { LIRR } from './helpers/daemon.js';

describe('derived data', () => {
  it('is built by loadGeneration, in shared memory, for the queries that declare a derive function', async () => {
    const g = await loadGeneration(LIRR, 1, { warn: () => undefined });
    const stops = g.derived?.stops;
    expect(stops).toBeDefined();
    expect(stops!.lowerNames!.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(stops!.starts!.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(stops!.starts!.length).toBe(g.tables.stops!.rows + 1);
    expect(Buffer.from(stops!.lowerNames!).toString()).toContain('jamaica');
  });

  it('fails the load, naming the query, when a derive function throws or returns other than typed arrays', async () => {
    const g = await loadGeneration(LIRR, 1, { warn: () => undefined });
    expect(() =>
      deriveAll(g, {
        board: () => {
          throw new Error('boom');
        },
      }),
    ).toThrow('deriving the data of query board failed: boom');
    expect(() => deriveAll(g, { board: () => ({ names: ['a'] as unknown as Uint8Array }) })).toThrow(
      "the derived data of query board: 'names' is not a typed array",
    );
    deriveAll(g, { board: () => ({ plain: Int32Array.of(1, 2) }) });
    expect(g.derived!.board!.plain!.buffer).toBeInstanceOf(SharedArrayBuffer);
  });

  it('finds text in packed strings like a scan of each, never across two', () => {
    const strings = ['abc', 'cab', '', 'bca', 'aaa', 'é ab', 'b'];
    const { bytes, starts } = packStrings(strings);
    expect(stringAt(starts, 0)).toBe(0);
    expect(stringAt(starts, 3)).toBe(1);
    for (const needle of ['a', 'ab', 'ca', 'bc', 'cb', 'aa', 'é', 'x', '']) {
      for (const limit of [1, 2, 100]) {
        const naive = strings
          .map((s, i) => (s.includes(needle) ? i : -1))
          .filter((i) => i >= 0)
          .slice(0, limit);
        expect(packedMatches(bytes, starts, needle, limit), `${needle} ${limit}`).toEqual(naive);
      }
    }
  });
});
