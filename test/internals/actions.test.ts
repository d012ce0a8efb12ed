/**
 * The daemon's scan of admin request files (`<run>/action.*`), which anyone in the web server's group can plant:
 * a seeded property test over random directories of files, symlinks, FIFOs and directories, owned by the daemon's
 * user or (as root) by another, holding actions or garbage; and a flood of planted files, which costs a bounded
 * number of log lines and is taken in slices, with the event loop turning between them.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { makeFifo } from '../../src/client.js';
import { createActionScanner } from '../../src/daemon/actions.js';
import { rng } from '../helpers/rng.js';

const AS_ROOT = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'roq-actions-'));
  made.push(dir);
  return dir;
};

type Taken = { action: string; id: string };

async function scan(run: string): Promise<{ taken: Taken[]; warnings: string[] }> {
  const taken: Taken[] = [];
  const warnings: string[] = [];
  await createActionScanner(
    run,
    (a) => taken.push(a),
    (m) => warnings.push(m),
  ).request();
  return { taken, warnings };
}

const TEXTS = ['hold\n', 'swap\n', 'drop\n', '  swap  \n', 'garbage\n', `${'swap'.repeat(20)}\n`, '\x1b[2Jswap', ''];

it('property: only regular files of the daemon user or root naming an action are taken, oldest first; every other action.* file is removed', async () => {
  const r = rng(2121);
  for (let round = 0; round < 30; round++) {
    const run = tempDir();
    const expected: Taken[] = [];
    const stays = new Set<string>();
    for (let i = 0; i < r.int(0, 40); i++) {
      const id = `${r.int(0, 99999).toString(36).padStart(10, '0')}.${r.int(1, 9)}.${i}`;
      const kind = r.pick(['file', 'file', 'file', 'foreign', 'symlink', 'fifo', 'dir', 'tmp', 'other']);
      const name = kind === 'other' ? `status.${id}` : `action.${id}${kind === 'tmp' ? '.tmp' : ''}`;
      const path = join(run, name);
      const text = r.pick(TEXTS);
      if (kind === 'fifo') makeFifo(path, 0o600);
      else if (kind === 'dir') fs.mkdirSync(path);
      else if (kind === 'symlink') fs.symlinkSync(join(run, 'target'), path);
      else fs.writeFileSync(path, text);
      if (kind === 'foreign' && AS_ROOT) fs.chownSync(path, 65534, 65534);
      const action = text.slice(0, 64).trim();
      if (kind === 'tmp' || kind === 'other' || kind === 'dir') stays.add(name);
      else if ((kind === 'file' || (kind === 'foreign' && !AS_ROOT)) && ['hold', 'swap', 'drop'].includes(action))
        expected.push({ action, id });
    }
    fs.writeFileSync(join(run, 'target'), 'swap\n');
    stays.add('target');
    const { taken, warnings } = await scan(run);
    expect(taken, `round ${round}`).toEqual(expected.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)));
    expect(new Set(fs.readdirSync(run)), `round ${round}`).toEqual(stays);
    expect(warnings.length, `round ${round}`).toBeLessThanOrEqual(4);
  }
});

it('a flood of 5,000 planted files: a few log lines, taken in slices with the event loop turning, the real request found', async () => {
  const run = tempDir();
  for (let i = 0; i < 5000; i++) fs.writeFileSync(join(run, `action.0${i}`), 'garbage\n');
  fs.writeFileSync(join(run, 'action.zzzzzzzzzz.1.real'), 'hold\n');
  let turns = 0;
  const ticker = setInterval(() => turns++, 0);
  const { taken, warnings } = await scan(run);
  clearInterval(ticker);
  expect(taken).toEqual([{ action: 'hold', id: 'zzzzzzzzzz.1.real' }]);
  expect(warnings).toHaveLength(4);
  expect(warnings[3]).toBe('4997 more admin requests ignored and removed in this scan (not shown)');
  expect(turns, 'timers ran while the scan went on').toBeGreaterThan(5);
  expect(fs.readdirSync(run)).toEqual([]);
});
