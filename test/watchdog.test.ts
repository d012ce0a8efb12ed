/**
 * systemd's watchdog as far as it runs without systemd as PID 1: the units pass `systemd-analyze verify`, and a real
 * daemon speaks the notify protocol to a unix datagram socket this test listens on (made by a small python3
 * helper, since Node cannot open one): WATCHDOG=1 with a STATUS= line every half interval while its main loop turns,
 * none while it is stopped (SIGSTOP: a loop that does not turn), again after SIGCONT, and from the daemon that
 * `roq upgrade` starts (which systemd gives no watchdog of its own).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readStatusFile } from '../src/control/status.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { daemonsPerTest, makeRunDir, pidOf, ROOT, roqCli, waitFor } from './helpers/daemon.js';

const { daemon } = daemonsPerTest();
const has = (cmd: string) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const CAN_LISTEN = has('python3') && has('systemd-notify');

/** Receives datagrams on `path`, closing any descriptor passed (systemd-notify's BARRIER=1), one line each. */
const LISTENER = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("ready", flush=True)
while True:
    msg, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(16 * 4))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(repr(msg.decode()), flush=True)
`;

let listener: ChildProcess | undefined;
afterEach(() => {
  listener?.kill('SIGKILL');
  listener = undefined;
});
// After every test's daemons are stopped (daemonsPerTest, whose `roq stop` needs the run directory): a run
// directory removed first left the daemon an upgrade had started running with nothing to find it by.
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function listen(): Promise<{ socket: string; messages: string[] }> {
  const dir = makeRunDir();
  dirs.push(dir);
  const socket = join(dir, 'notify.sock');
  fs.writeFileSync(join(dir, 'listen.py'), LISTENER);
  const messages: string[] = [];
  let ready = false;
  listener = spawn('python3', [join(dir, 'listen.py'), socket], { stdio: ['ignore', 'pipe', 'inherit'] });
  let rest = '';
  listener.stdout!.on('data', (b: Buffer) => {
    const lines = (rest + b.toString()).split('\n');
    rest = lines.pop()!;
    for (const l of lines)
      if (l === 'ready') ready = true;
      else messages.push(l);
  });
  await waitFor('the listener', () => ready);
  return { socket, messages };
}

const pings = (messages: string[]) => messages.filter((m) => m.startsWith("'WATCHDOG=1\\nSTATUS=")).length;

describe('the systemd units', () => {
  it('pass systemd-analyze verify, with the watchdog, NotifyAccess=all and OnFailure= calling health --failed', async () => {
    if (!has('systemd-analyze')) return console.warn('skipped: systemd-analyze is missing (apt-get install systemd)');
    const dir = makeRunDir();
    dirs.push(dir);
    for (const f of ['bin/roq', 'bin/service-reload.sh']) {
      fs.mkdirSync(join(dir, 'prefix', 'current', 'bin'), { recursive: true });
      fs.writeFileSync(join(dir, 'prefix', 'current', f), '#!/bin/sh\n', { mode: 0o755 });
    }
    const units = ['roq.service', 'roq-failed@.service'];
    for (const u of units)
      fs.writeFileSync(
        join(dir, u),
        fs.readFileSync(join(ROOT, 'deploy', u), 'utf8').replaceAll('/opt/roq', join(dir, 'prefix')),
      );
    const r = spawnSync('systemd-analyze', ['verify', ...units.map((u) => join(dir, u))], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const unit = fs.readFileSync(join(dir, 'roq.service'), 'utf8');
    expect(unit).toMatch(/^WatchdogSec=\d+$/m);
    expect(unit).toMatch(/^NotifyAccess=all$/m);
    expect(unit).toMatch(/^OnFailure=roq-failed@%n\.service$/m);
    expect(fs.readFileSync(join(dir, 'roq-failed@.service'), 'utf8')).toMatch(
      /^ExecStart=.*\/bin\/roq health --failed %i$/m,
    );
  });
});

describe('the watchdog', () => {
  it('pings while the main loop turns, not while it is stopped, and from the daemon an upgrade starts', async () => {
    if (!CAN_LISTEN)
      return console.warn('skipped: python3 or systemd-notify is missing (apt-get install python3 systemd)');
    const { socket, messages } = await listen();
    const env = { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '400000' };
    // TINY_FEED ended in 2025: the STATUS= line says so, and the notify command runs without the watchdog's
    // variables (under NotifyAccess=all it could otherwise ping for a stuck daemon).
    const seen = join(socket, '..', 'notify-env');
    const notify = join(socket, '..', 'notify.sh');
    fs.writeFileSync(notify, `#!/bin/sh\necho "\${NOTIFY_SOCKET:-none} \${WATCHDOG_USEC:-none}" >>${seen}\n`, {
      mode: 0o755,
    });
    const d = await daemon({
      data: writeFeed(TINY_FEED),
      workers: 1,
      env,
      run: makeRunDir(),
      args: ['--notify', notify],
    });
    dirs.push(d.run);
    await waitFor('two pings', () => pings(messages) >= 2);
    expect(messages[0]).toMatch(
      /^'WATCHDOG=1\\nSTATUS=serving generation 1; critical: the timetable ended on 2025-12-31: /,
    );
    await waitFor('the notify command', () => fs.existsSync(seen));
    expect(fs.readFileSync(seen, 'utf8')).toBe('none none\n');
    expect(readStatusFile(d.run, d.pid)?.options.watchdog).toEqual({ socket, intervalMs: 400 });

    process.kill(d.pid, 'SIGSTOP');
    try {
      const before = pings(messages);
      // Three intervals of a stuck loop: no ping (one already on its way may still land).
      await new Promise((r) => setTimeout(r, 1200));
      expect(pings(messages) - before).toBeLessThanOrEqual(1);
    } finally {
      process.kill(d.pid, 'SIGCONT');
    }
    const after = pings(messages);
    await waitFor('pings again', () => pings(messages) >= after + 2);

    // `roq upgrade` from an environment without a watchdog (as ExecReload's): the new daemon keeps the old one's.
    const up = await roqCli(['upgrade', '--run', d.run]);
    expect(up.code, up.stderr).toBe(0);
    const successor = pidOf(d.run)!;
    expect(successor).not.toBe(d.pid);
    expect(readStatusFile(d.run, successor)?.options.watchdog).toEqual({ socket, intervalMs: 400 });
    const now = pings(messages);
    await waitFor('the successor pings', () => pings(messages) >= now + 2);
  });
});
