/**
 * A user who may not enter the daemon's private directory (`<run>/daemon/`, mode 0700) asks about the daemon: as
 * a real Unix user, against a real daemon started by root. "Cannot read the PID file" is not "no daemon runs":
 * `roq stop` must say which file it cannot read, and deploy/refresh-feed.sh must not take it for a first install
 * (flip the data symlink, exit 0, reload nothing).
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isAlive } from '../src/control/lifecycle.js';
import { readQueriesFile } from '../src/queries-file.js';
import { TINY_FEED } from './feeds.js';
import { pidOf, roqCli, type CliResult } from './helpers/daemon.js';
import { releaseForOthers } from './helpers/users.js';

const AS_ROOT = process.getuid?.() === 0;
const USER = 'roqoutsider';

/** Runs `program args…` as USER with a minimal environment, killed after 60 s. */
function asOutsider(program: string, args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const child = spawn('runuser', ['-u', USER, '--', 'env', '-i', ...envArgs(env), program, ...args], {
    cwd: '/',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((done) => {
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? 128, stdout, stderr });
    });
  });
}

function envArgs(env: Record<string, string>): string[] {
  const all = { PATH: '/usr/bin:/bin', HOME: '/tmp', ...env };
  return Object.entries(all).map(([k, v]) => `${k}=${v}`);
}

function writeFeedIn(dir: string, files: Record<string, string>): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(join(dir, name), text);
}

describe.skipIf(!AS_ROOT)("a user who cannot enter the daemon's directory", () => {
  let base: string;
  let run: string;
  let pid: number;
  /** roq as the outsider can run it, outside the checkout (which may be in a 0700 home). */
  let rel: { node: string; roq: string; deploy: string };

  beforeAll(async () => {
    if (spawnSync('id', [USER]).status !== 0)
      spawnSync('useradd', ['--no-create-home', '--shell', '/bin/sh', USER], { stdio: 'ignore' });
    base = fs.mkdtempSync(join(tmpdir(), 'roq-access-'));
    fs.chmodSync(base, 0o755);
    rel = releaseForOthers(join(base, 'release'));
    run = join(base, 'run');
    writeFeedIn(join(base, 'root-feed'), TINY_FEED);
    const r = await roqCli(['start', '--run', run, '--data', join(base, 'root-feed'), '--workers', '1']);
    expect(r.code, r.stderr).toBe(0);
    pid = pidOf(run)!;
  });

  afterAll(async () => {
    if (run) await roqCli(['stop', '--run', run]);
    if (base) fs.rmSync(base, { recursive: true, force: true });
  });

  it('is told by `roq stop` which file it cannot read, not that no daemon runs; the daemon serves on', async () => {
    const r = await asOutsider(rel.node, [rel.roq, 'stop', '--run', run]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`cannot read ${join(run, 'daemon', 'roq.pid')} (permission denied, EACCES)`);
    expect(r.stderr).toContain('[ROQ_FILE_ACCESS]');
    expect(r.stderr).not.toContain('ROQ_NOT_RUNNING');
    expect(isAlive(pid)).toBe(true);
  });

  it('does not make refresh-feed.sh take a first install: the data symlink goes back and it exits 1', async () => {
    const srv = join(base, 'srv');
    writeFeedIn(join(srv, 'feeds', 'first'), TINY_FEED);
    fs.symlinkSync('feeds/first', join(srv, 'data'));
    const source = join(base, 'source');
    writeFeedIn(source, { ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', 'North Park Two') });
    spawnSync('chown', ['-R', USER, srv, source]);
    const r = await asOutsider('/bin/bash', [join(rel.deploy, 'refresh-feed.sh')], {
      ROQ_FEED_SOURCE: `${source}/`,
      ROQ_BASE: srv,
      ROQ_RUN_DIR: run,
      ROQ_BIN: join(rel.deploy, 'bin-roq'),
    });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('ROQ_FILE_ACCESS');
    expect(r.stderr).not.toMatch(/no daemon runs/);
    expect(fs.readlinkSync(join(srv, 'data'))).toBe('feeds/first');
  });
});

describe("the run directory's queries.json", () => {
  it('is absent only when there is none: a garbled one is an error naming it, not the compiled-in queries', () => {
    const run = fs.mkdtempSync(join(tmpdir(), 'roq-queries-'));
    try {
      expect(readQueriesFile(run)).toBeUndefined();
      fs.writeFileSync(join(run, 'queries.json'), '{"queries": nul');
      expect(() => readQueriesFile(run)).toThrow(`cannot read ${join(run, 'queries.json')} (no query specs in it`);
    } finally {
      fs.rmSync(run, { recursive: true, force: true });
    }
  });
});
