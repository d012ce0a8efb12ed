/**
 * The run directory's FIFOs among several local users (docs/SECURITY.md), over a real daemon: a symlink or a
 * regular file planted at a client's FIFO path is never written through; a FIFO not owned by the user the
 * requesting PID runs as is refused; a world-writable run directory is refused at start; started as root with
 * --user, the daemon runs as that user and still serves. Tests that need a second user run as root (CI does).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { encodeRequest } from '../src/protocol.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { answerFifo, daemonsPerTest, makeRunDir, roqCli, waitFor, writeRequests } from './helpers/daemon.js';

const AS_ROOT = process.getuid?.() === 0;
const NOBODY = 65534;

const { daemon, running } = daemonsPerTest();

const STOPS = { query: 'stops', params: { q: 'north' } } as const;

/** Sends a request for (pid, token), then a good one behind it, and waits for the good one: the first is handled. */
async function sendAndSettle(run: string, pid: number, token: string): Promise<void> {
  writeRequests(run, encodeRequest({ kind: 'query', pid, token, ...STOPS }));
  expect((await ask(run, STOPS.query, STOPS.params, { timeoutMs: 30_000 })).status).toBe('ok');
}

function logOf(run: string): string {
  return fs.readFileSync(join(run, 'daemon', 'roq.log'), 'utf8');
}

describe('answer FIFOs', () => {
  it('never writes through a symlink planted at a client FIFO path', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const target = join(makeRunDir(), 'precious.txt');
    fs.writeFileSync(target, 'precious\n');
    fs.symlinkSync(target, join(d.run, `resp.${process.pid}.planted1`));
    await sendAndSettle(d.run, process.pid, 'planted1');
    expect(fs.readFileSync(target, 'utf8')).toBe('precious\n');
    await waitFor('the refusal in the log', () => logOf(d.run).includes('not delivered: client gone (ELOOP)'));
  });

  it('never writes into a regular file at a client FIFO path', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const path = join(d.run, `resp.${process.pid}.plainfile`);
    fs.writeFileSync(path, 'precious\n');
    await sendAndSettle(d.run, process.pid, 'plainfile');
    expect(fs.readFileSync(path, 'utf8')).toBe('precious\n');
    await waitFor('the refusal in the log', () => logOf(d.run).includes('is not a FIFO; refused'));
  });

  it.skipIf(!AS_ROOT)("refuses a FIFO not owned by the user the request's PID runs as", async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    // The victim: a process of another user. The attacker (this root process) names the victim's PID and makes
    // the FIFO itself: the daemon must not write there, since the victim's user does not own it.
    const victim = spawn('sleep', ['30'], { uid: NOBODY, gid: NOBODY, stdio: 'ignore' });
    try {
      const c = answerFifo(d.run, 1500, victim.pid!);
      writeRequests(d.run, c.request(STOPS));
      await expect(c.answer).rejects.toThrow(/no answer/);
      c.close();
      expect(logOf(d.run)).toMatch(
        new RegExp(`is owned by uid 0, but pid ${victim.pid} runs as uid ${NOBODY}; refused`),
      );
      // The same request for a PID of the FIFO's owner is answered.
      const mine = answerFifo(d.run);
      writeRequests(d.run, mine.request(STOPS));
      expect((await mine.answer).status).toBe('ok');
      mine.close();
    } finally {
      victim.kill();
    }
  });
});

describe('the run directory', () => {
  it('refuses to start in a world-writable run directory, saying how to fix it', async () => {
    const run = makeRunDir();
    fs.chmodSync(run, 0o777);
    const r = await roqCli(['start', '--run', run, '--data', writeFeed(TINY_FEED), '--workers', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/writable by every user \(mode 777\); run `chmod 3730 /);
    expect(fs.existsSync(join(run, 'daemon'))).toBe(false);
  });

  it('refuses a group-writable run directory without the sticky bit, saying the chmod to run', async () => {
    const run = makeRunDir();
    fs.chmodSync(run, 0o2770);
    const r = await roqCli(['start', '--run', run, '--data', writeFeed(TINY_FEED), '--workers', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `${run} lets its group write but has no sticky bit (mode 2770), so a group member could replace REQUESTS; run \`chmod 3730 ${run}\``,
    );
    fs.chmodSync(run, 0o3730);
    const ok = await roqCli(['start', '--run', run, '--data', writeFeed(TINY_FEED), '--workers', '1']);
    expect(ok.code, ok.stderr).toBe(0);
    running.push({
      run,
      pid: Number(fs.readFileSync(join(run, 'daemon', 'roq.pid'), 'utf8')),
      stop: async () => void (await roqCli(['stop', '--run', run])),
    });
    expect(fs.statSync(join(run, 'daemon')).mode & 0o7777).toBe(0o700);
  });

  it.skipIf(!AS_ROOT)(
    "refuses, as root, a run directory that is another user's, saying to start as that user",
    async () => {
      const run = makeRunDir();
      fs.chownSync(run, NOBODY, NOBODY);
      const r = await roqCli(['start', '--run', run, '--data', writeFeed(TINY_FEED), '--workers', '1']);
      expect(r.code).toBe(1);
      // Handing the directory to root would be the wrong fix: the daemon should become its owner.
      expect(r.stderr).toMatch(
        /belongs to uid 65534, and a daemon started as root without `--user` would stay root; start it with `--user 65534`/,
      );
      expect(r.stderr).not.toContain('chown root');
    },
  );
});

describe.skipIf(!AS_ROOT)('started as root with --user', () => {
  it('runs as that user, keeps serving and reloading, and hands it the run directory files', async () => {
    const run = makeRunDir();
    fs.chownSync(run, NOBODY, NOBODY);
    fs.chmodSync(run, 0o3730);
    fs.chmodSync(join(run, '..'), 0o755);
    const data = writeFeed(TINY_FEED);
    fs.chmodSync(data, 0o755);
    const r = await roqCli(['start', '--run', run, '--data', data, '--workers', '1', '--user', 'nobody']);
    expect(r.code, r.stderr).toBe(0);
    const pid = Number(fs.readFileSync(join(run, 'daemon', 'roq.pid'), 'utf8'));
    running.push({ run, pid, stop: async () => void (await roqCli(['stop', '--run', run])) });
    expect(fs.readFileSync(`/proc/${pid}/status`, 'utf8')).toMatch(new RegExp(`\\nUid:\\s+${NOBODY}\\s`));
    expect((await ask(run, STOPS.query, STOPS.params, { timeoutMs: 30_000 })).status).toBe('ok');
    const reload = await roqCli(['reload', '--run', run]);
    expect(reload.code, reload.stderr).toBe(0);
    for (const f of ['REQUESTS', 'daemon', 'daemon/roq.pid', 'daemon/roq.log'])
      expect(fs.statSync(join(run, f)).uid).toBe(NOBODY);
  });

  it('refuses --user when the user cannot write the run directory', async () => {
    const run = makeRunDir(); // root's 0700 directory
    const r = await roqCli([
      'start',
      '--run',
      run,
      '--data',
      writeFeed(TINY_FEED),
      '--workers',
      '1',
      '--user',
      'nobody',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/belongs to uid 0, not to the daemon's user nobody \(uid 65534\); run `chown nobody /);
  });
});
