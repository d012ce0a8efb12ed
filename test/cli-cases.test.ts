/**
 * The 100 worked cases of test/cases/gtfs-lirr-cases.jsonl, each asked through `roq query … --json` against a real
 * daemon on data/gtfs-lirr, exactly as an admin would. The JSON text must match, which checks the rows, the field
 * order within each row, and that integers are numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';

interface Case {
  query: string;
  params: Record<string, string | number>;
  expected: Record<string, string | number>[];
}

const CASES: Case[] = readFileSync(join(ROOT, 'test/cases/gtfs-lirr-cases.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Case);

/** How many CLI processes run at once: enough to overlap process start-up, few enough for two cores. */
const CONCURRENCY = 4;

let daemon: RunningDaemon;
beforeAll(async () => {
  daemon = await startDaemon({ workers: 2 });
});
afterAll(async () => {
  await daemon?.stop();
});

describe('roq query --json on the LIRR cases', () => {
  it('has the 100 cases', () => {
    expect(CASES).toHaveLength(100);
  });

  it('answers every case exactly, field order included', async () => {
    const results: { i: number; got: string; code: number; stderr: string }[] = [];
    let next = 0;
    async function lane(): Promise<void> {
      while (next < CASES.length) {
        const i = next++;
        const c = CASES[i]!;
        const args = [
          'query',
          c.query,
          ...Object.entries(c.params).map(([k, v]) => `${k}=${String(v)}`),
          '--json',
          '--run',
          daemon.run,
        ];
        const r = await roqCli(args);
        results.push({ i, got: r.stdout.trim(), code: r.code, stderr: r.stderr });
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    results.sort((a, b) => a.i - b.i);
    const mismatches = results
      .filter((r) => r.code !== 0 || r.got !== JSON.stringify(CASES[r.i]!.expected))
      .map(
        (r) =>
          `case ${r.i + 1} (${CASES[r.i]!.query} ${JSON.stringify(CASES[r.i]!.params)}): exit ${r.code} ${r.stderr.trim()}\n  got      ${r.got.slice(0, 300)}\n  expected ${JSON.stringify(CASES[r.i]!.expected).slice(0, 300)}`,
      );
    expect(mismatches.join('\n')).toBe('');
    expect(results).toHaveLength(100);
  });
});
