/**
 * `npm run release` as the README writes it, run in a copy of this checkout (its own dist/ and release/, so the
 * build it starts never rewrites the dist/ that other test files are running): it builds, and leaves the tarball
 * where it says. What the tarball holds and how it installs: test/deploy.test.ts; the Debian package:
 * test/debian.test.ts.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ROOT } from './helpers/daemon.js';

const temps: string[] = [];
afterAll(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A clone of this checkout's HEAD with the working tree's uncommitted and new files copied over, and this
 * checkout's node_modules linked in: what a build machine has after `git clone && npm ci`.
 */
function copyOfCheckout(): string {
  const dir = fs.mkdtempSync(join(tmpdir(), 'roq-checkout-'));
  temps.push(dir);
  const git = (args: string[], cwd = ROOT) => {
    const r = spawnSync('git', args, { cwd, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  };
  git(['clone', '--quiet', '--shared', ROOT, dir], tmpdir());
  // Changed since HEAD, staged or not (a merge in progress stages what it brings), and new files.
  const changed = [
    ...git(['diff', '--name-only', '-z', 'HEAD']).split('\0'),
    ...git(['ls-files', '-z', '--others', '--exclude-standard']).split('\0'),
  ];
  for (const f of changed.filter((f) => f && fs.existsSync(join(ROOT, f)))) {
    fs.mkdirSync(dirname(join(dir, f)), { recursive: true });
    fs.copyFileSync(join(ROOT, f), join(dir, f));
  }
  fs.symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

it('`npm run release`, as the README says, builds and makes the release tarball', () => {
  const readme = fs.readFileSync(join(ROOT, 'README.md'), 'utf8');
  expect(readme).toContain('npm run release');
  const checkout = copyOfCheckout();
  const r = spawnSync('/bin/sh', ['-c', 'npm run release'], { cwd: checkout, encoding: 'utf8', timeout: 240_000 });
  expect(r.status, r.stdout + r.stderr).toBe(0);
  const tarball = /^(\S+\.tar\.gz) /m.exec(r.stdout)?.[1];
  expect(tarball, r.stdout).toMatch(new RegExp(`^${checkout}/release/roq-\\d+\\.\\d+\\.\\d+-[0-9a-f]{7}`));
  expect(fs.statSync(tarball!).size).toBeGreaterThan(0);
  // The build it ran made the programs in the copy's dist/, not in this checkout's.
  expect(fs.existsSync(join(checkout, 'dist/roq.js'))).toBe(true);
}, 300_000);
