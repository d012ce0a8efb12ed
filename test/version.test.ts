/**
 * Which build is running: `roq --version`, `roq status` and its JSON name the version, the commit the build came
 * from and, when the program runs from an installed release (PREFIX/releases/NAME, reached through PREFIX/current),
 * that release's directory — so two builds of one version can be told apart. Also the per-file table of the CLI:
 * columns that stay aligned for long file names, and "1 row".
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileLines } from '../src/cli/file-table.js';
import { buildLabel, releaseOf } from '../src/version.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { LIRR, makeRunDir, roqCli, ROOT, startDaemon } from './helpers/daemon.js';
import { tempDir } from './helpers/temp.js';

const COMMIT = /[0-9a-f]{7}(?:-dirty)?/;

/** The built programs, installed as deploy/install-release.sh lays a release out: PREFIX/releases/NAME/dist. */
function installRelease(name: string): { prefix: string; roq: string } {
  const prefix = tempDir('roq-prefix-');
  const dist = join(prefix, 'releases', name, 'dist');
  fs.mkdirSync(dist, { recursive: true });
  for (const file of ['roq.js', 'worker.js', 'load-thread.js', 'package.json'])
    fs.copyFileSync(join(ROOT, 'dist', file), join(dist, file));
  fs.symlinkSync(join('releases', name), join(prefix, 'current'));
  return { prefix, roq: join(prefix, 'current', 'dist', 'roq.js') };
}

describe('the build a program is', () => {
  it('finds its release directory through PREFIX/current, and none in a checkout', () => {
    const { roq } = installRelease('0.2.0-abc1234');
    expect(releaseOf(roq)).toBe('0.2.0-abc1234');
    expect(releaseOf(join(ROOT, 'dist/roq.js'))).toBeUndefined();
    expect(releaseOf('/nonexistent/releases/x/dist/roq.js')).toBeUndefined();
    expect(buildLabel({ version: '0.2.0', commit: 'abc1234', release: '0.2.0-abc1234' })).toBe(
      '0.2.0 (commit abc1234, release 0.2.0-abc1234)',
    );
    expect(buildLabel({ version: '0.2.0', commit: '' })).toBe('0.2.0');
  });

  it('says version and commit in roq --version, from a checkout and from a release', async () => {
    const here = await roqCli(['--version']);
    expect(here.stdout.trim()).toMatch(new RegExp(`^roq 0\\.2\\.0 \\(commit ${COMMIT.source}\\)$`));
    const { roq } = installRelease('0.2.0-abc1234');
    const there = await roqCli(['--version'], { program: roq });
    expect(there.stdout.trim()).toMatch(
      new RegExp(`^roq 0\\.2\\.0 \\(commit ${COMMIT.source}, release 0\\.2\\.0-abc1234\\)$`),
    );
  });

  it('says version, commit and release in roq status and its JSON, for a daemon started from a release', async () => {
    const { roq } = installRelease('0.2.0-abc1234');
    const d = await startDaemon({ program: roq, run: makeRunDir(), data: writeFeed(TINY_FEED), workers: 1 });
    try {
      const json = await roqCli(['status', '--json', '--run', d.run]);
      const s = JSON.parse(json.stdout).status;
      expect(s.version).toBe('0.2.0');
      expect(s.commit).toMatch(new RegExp(`^${COMMIT.source}$`));
      expect(s.release).toBe('0.2.0-abc1234');
      const text = await roqCli(['status', '--run', d.run]);
      expect(text.stdout).toContain(`roq 0.2.0 (commit ${s.commit}, release 0.2.0-abc1234) is serving`);
      // The file table: "1 row", and the columns where they are for the other files.
      const agency = text.stdout.split('\n').find((l) => l.includes('agency.txt'))!;
      expect(agency).toMatch(/agency\.txt +1 row +\d+ bytes$/);
    } finally {
      await d.stop();
    }
  });
});

describe('the per-file table', () => {
  it('keeps its columns for a long file name and says 1 row', () => {
    const lines = fileLines([
      { file: 'stops.txt', rows: 1, bytes: 10 },
      { file: 'a-very-long-table-file-name-indeed.csv', rows: 123456, bytes: 9_000_000 },
    ]);
    expect(lines[0]).toMatch(/^ {2}stops\.txt +1 row +10 bytes$/);
    const column = (line: string, word: RegExp) => line.search(word);
    expect(column(lines[0]!, / row/)).toBe(column(lines[1]!, / rows/));
    expect(lines[0]!.length).toBe(lines[1]!.length);
  });

  it('is what roq check prints', async () => {
    const r = await roqCli(['check', '--data', LIRR]);
    expect(r.stdout).toMatch(/\n {2}agency\.txt +1 row +182 bytes\n/);
    expect(r.stdout).not.toContain(' 1 rows');
  });
});
