/**
 * Events worth a human, each produced for real on a real daemon with a notify command (a small script this test
 * writes, keeping every message it receives): a feed that has ended or is about to, a reload of a broken feed, a
 * worker killed in a loop, requests refused as busy, a flood of garbage, REQUESTS replaced, a daemon killed -9 and
 * started again (by hand and by `roq health --restart`), a unit systemd says failed. The notify command must
 * receive exactly the folded messages, and `roq health` must exit 0/1/2/3 as the state says.
 */
import * as fs from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { isAlive } from '../src/control/lifecycle.js';
import { readStatusFile } from '../src/control/status.js';
import { makeFifo } from '../src/client.js';
import { encodeRequest } from '../src/protocol.js';
import { today } from '../src/dates.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { daemonsPerTest, LIRR, makeRunDir, pidOf, ROOT, roqCli, waitFor, writeRequests } from './helpers/daemon.js';
import { runNotify, splitCommand } from '../src/daemon/notify.js';
import { EVENT_SEVERITY } from '../src/daemon/events.js';

const { daemon, running } = daemonsPerTest();
/** Run directories made here (a daemon's `run` given by the test is not removed when it stops). */
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});
function tempRun(): string {
  const dir = makeRunDir();
  dirs.push(dir);
  return dir;
}

interface Received {
  json: Record<string, unknown> & { type: string; kind: string; count: number; new: number; sentence: string };
  env: Record<string, string>;
}

/** A notify command writing each message (stdin and ROQ_EVENT_* variables) as one JSON line into `file`. */
function notifyScript(): { command: string; received(): Received[] } {
  const dir = tempRun();
  const file = join(dir, 'received');
  const script = join(dir, 'notify.js');
  fs.writeFileSync(
    script,
    `#!/usr/bin/env node
const fs = require('fs');
const json = JSON.parse(fs.readFileSync(0, 'utf8'));
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ROQ_EVENT_')));
fs.appendFileSync(${JSON.stringify(file)}, JSON.stringify({ json, env }) + '\\n');
`,
    { mode: 0o755 },
  );
  return {
    command: script,
    received: () =>
      fs.existsSync(file)
        ? fs
            .readFileSync(file, 'utf8')
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as Received)
        : [],
  };
}

const ofKind = (n: ReturnType<typeof notifyScript>, kind: string) => n.received().filter((r) => r.json.kind === kind);
const shape = (rs: Received[]) => rs.map((r) => `${r.json.type} ${r.json.count}`);

/** TINY_FEED with its calendar ending on `end` (yyyymmdd). */
function feedEnding(end: string): string {
  return writeFeed({
    ...TINY_FEED,
    'calendar.txt': csv(
      'service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date',
      `WEEK,1,1,1,1,1,0,0,20250101,${end}`,
      `SUN,0,0,0,0,0,0,1,20250101,${end}`,
    ),
  });
}
const CURRENT = '20991231';

function inDays(n: number): string {
  const d = new Date();
  d.setDate(d.getDate() + n);
  return today(d).replaceAll('-', '');
}

/** Waits until the daemon serving on `run` has observed `kind` in two status writes (a second apart). */
async function observedTwice(run: string, kind: string): Promise<void> {
  const seen = new Set<number>();
  await waitFor(`${kind} observed twice`, () => {
    const s = readStatusFile(run, pidOf(run));
    if (s?.health?.events.some((e) => e.kind === kind)) seen.add(s.updatedAt);
    return seen.size >= 2;
  });
}

async function health(run: string, ...more: string[]) {
  return roqCli(['health', '--run', run, ...more]);
}

describe('roq health, the monitoring plugin', () => {
  it('says CRITICAL "the timetable ended on 2026-11-08" on the sample feed, which has ended, and exits 2', async () => {
    const d = await daemon({ data: LIRR, workers: 1 });
    const h = await health(d.run);
    if (today() > '2026-11-08') {
      expect(h.code, h.stdout).toBe(2);
      expect(h.stdout).toMatch(/^ROQ CRITICAL - the timetable ended on 2026-11-08: /);
    } else expect(h.code, h.stdout).toBeLessThan(2);
    expect(h.stdout).toMatch(
      / \| generation=1;;;0 data_age=\d+s;;;0 days_left=-?\d+;7:;0: queue=0;;;0 workers=1;;;0;1 errors_per_min=0;;;0\n/,
    );
  });

  it('exits 0 on current data, 1 days before the end, 2 when not running, 3 when it cannot tell', async () => {
    const ok = await daemon({ data: feedEnding(CURRENT), workers: 1, run: tempRun() });
    const h0 = await health(ok.run);
    expect(h0.code, h0.stdout).toBe(0);
    expect(h0.stdout).toMatch(/^ROQ OK - roq serves generation 1 on .* \| generation=1;;;0 /);
    const ending = await daemon({ data: feedEnding(inDays(3)), workers: 1 });
    const h1 = await health(ending.run);
    expect(h1.code, h1.stdout).toBe(1);
    expect(h1.stdout).toMatch(/^ROQ WARNING - the timetable ends on \d{4}-\d\d-\d\d \(in 3 days\); load newer data/);
    expect(h1.stdout).toMatch(/days_left=3;7:;0:/);
    await ok.stop();
    const h2 = await health(ok.run);
    expect(h2.code, h2.stdout).toBe(2);
    expect(h2.stdout).toMatch(/^ROQ CRITICAL - roq is not running on /);
    const h3 = await health(join(tempRun(), 'nowhere'));
    expect(h3.code, h3.stdout).toBe(3);
    expect(h3.stdout).toMatch(/^ROQ UNKNOWN - no run directory /);
  });
});

describe('events delivered to the notify command', () => {
  it('data ended: one message, as JSON on stdin and ROQ_EVENT_* variables', async () => {
    const n = notifyScript();
    const d = await daemon({
      data: feedEnding('20251231'),
      workers: 1,
      args: ['--notify', n.command, '--notify-interval', '5000'],
    });
    const [m] = await waitFor('the message', () => ofKind(n, 'data-ended').length > 0 && ofKind(n, 'data-ended'));
    expect(m!.json).toMatchObject({ type: 'event', severity: 'critical', count: 1, new: 1, run: d.run });
    expect(m!.json.sentence).toMatch(/^the timetable ended on 2025-12-31: questions about today/);
    expect(m!.env).toMatchObject({
      ROQ_EVENT_TYPE: 'event',
      ROQ_EVENT_KIND: 'data-ended',
      ROQ_EVENT_SEVERITY: 'critical',
      ROQ_EVENT_COUNT: '1',
      ROQ_EVENT_SENTENCE: m!.json.sentence,
      ROQ_EVENT_RUN: d.run,
    });
    // Observed every second and said once, also across an upgrade: the new daemon takes the event on as said.
    const up = await roqCli(['upgrade', '--run', d.run]);
    expect(up.code, up.stderr).toBe(0);
    await observedTwice(d.run, 'data-ended');
    expect(n.received().map((r) => r.json.kind)).toEqual(['data-ended']);
    expect(readStatusFile(d.run, pidOf(d.run))?.options).toMatchObject({
      notify: [n.command],
      notifyIntervalMs: 5000,
    });
  });

  it("a broken feed reloaded: its reason and the old data's age, then resolved by a good reload", async () => {
    const n = notifyScript();
    const data = feedEnding(CURRENT);
    const d = await daemon({ data, workers: 1, args: ['--notify', n.command] });
    const good = fs.readFileSync(join(data, 'stops.txt'), 'utf8');
    fs.writeFileSync(join(data, 'stops.txt'), 'stop_id,stop_name\n"unclosed,quote\n');
    expect((await roqCli(['reload', '--run', d.run])).code).toBe(1);
    const [m] = await waitFor('the event', () => ofKind(n, 'reload-failed').length > 0 && ofKind(n, 'reload-failed'));
    expect(m!.json.sentence).toMatch(
      /^reloading the data failed: .*stops\.txt.*; generation 1, loaded \d+ s ago, serves on$/,
    );
    expect((await health(d.run)).code).toBe(1);
    fs.writeFileSync(join(data, 'stops.txt'), good);
    expect((await roqCli(['reload', '--run', d.run])).code).toBe(0);
    await waitFor('resolved', () => ofKind(n, 'reload-failed').length === 2);
    expect(shape(ofKind(n, 'reload-failed'))).toEqual(['event 1', 'resolved 1']);
    expect((await health(d.run)).code).toBe(0);
  });

  it('a worker killed in a loop: one event, the rest folded, resolved after a quiet interval', async () => {
    const n = notifyScript();
    const d = await daemon({
      data: feedEnding(CURRENT),
      workers: 2,
      env: { ROQ_TEST_FAULTS: '1' },
      args: ['--notify', n.command, '--notify-interval', '1500'],
    });
    for (let i = 0; i < 6; i++) expect((await ask(d.run, 'fault_exit', {}, { timeoutMs: 5000 })).status).toBe('error');
    const all = await waitFor(
      'resolved',
      () => ofKind(n, 'workers-failing').some((r) => r.json.type === 'resolved') && ofKind(n, 'workers-failing'),
      15_000,
    );
    expect(all[0]!.json.type).toBe('event');
    expect(all[0]!.json.severity).toBe('critical');
    expect(all.length).toBeLessThanOrEqual(3); // event, at most one digest, resolved
    expect(all.filter((r) => r.json.type === 'event')).toHaveLength(1);
    expect(all[all.length - 1]!.json.count).toBe(6);
  });

  it('busy refusals and a flood of garbage, each one event', async () => {
    const n = notifyScript();
    const d = await daemon({
      data: feedEnding(CURRENT),
      workers: 1,
      env: { ROQ_TEST_FAULTS: '1' },
      deadline: 10_000,
      args: ['--notify', n.command],
    });
    const req = (token: string, query: string, params: Record<string, string>) =>
      encodeRequest({ kind: 'query', pid: process.pid, token, query, params, proof: `p${token}`.padEnd(16, '0') });
    // One slow query holds the worker (long enough for a loaded machine to read the rest meanwhile); 100 more from
    // one pid: 64 wait, the rest are refused as busy.
    writeRequests(d.run, req('slow', 'fault_sleep', { ms: '4000' }));
    for (let i = 0; i < 100; i += 10)
      writeRequests(d.run, Array.from({ length: 10 }, (_, j) => req(`b${i + j}`, 'stops', { q: 'x' })).join(''));
    for (let i = 0; i < 4; i++) writeRequests(d.run, 'garbage, not a request\n'.repeat(10));
    await waitFor('both events', () => ofKind(n, 'busy').length > 0 && ofKind(n, 'garbage').length > 0);
    expect(ofKind(n, 'busy')[0]!.json.sentence).toMatch(/^\d+ requests in the last minute were refused as busy/);
    expect(ofKind(n, 'garbage')[0]!.json.count).toBeGreaterThanOrEqual(30);
    expect(shape(ofKind(n, 'busy'))).toEqual([`event ${ofKind(n, 'busy')[0]!.json.count}`]);
  });

  it('REQUESTS replaced: one event, the daemon reading a FIFO of its own there again', async () => {
    const n = notifyScript();
    const d = await daemon({ data: feedEnding(CURRENT), workers: 1, args: ['--notify', n.command] });
    fs.rmSync(join(d.run, 'REQUESTS'));
    makeFifo(join(d.run, 'REQUESTS'), 0o620);
    const [m] = await waitFor(
      'the event',
      () => ofKind(n, 'requests-replaced').length > 0 && ofKind(n, 'requests-replaced'),
    );
    expect(m!.json.sentence).toMatch(
      /^REQUESTS was replaced by another FIFO at .*; the daemon reads a FIFO of its own/,
    );
    expect((await ask(d.run, 'stops', { q: 'north' }, { timeoutMs: 5000 })).status).toBe('ok');
  });

  it('REQUESTS replaced by a FIFO of another user: removed as untrusted, one event', async () => {
    const n = notifyScript();
    const d = await daemon({ data: feedEnding(CURRENT), workers: 1, args: ['--notify', n.command] });
    fs.rmSync(join(d.run, 'REQUESTS'));
    makeFifo(join(d.run, 'REQUESTS'), 0o620);
    fs.chownSync(join(d.run, 'REQUESTS'), 65534, 65534);
    const [m] = await waitFor(
      'the event',
      () => ofKind(n, 'requests-replaced').length > 0 && ofKind(n, 'requests-replaced'),
    );
    expect(m!.json.sentence).toMatch(/^REQUESTS was replaced by a file of uid 65534 at /);
    expect(fs.statSync(join(d.run, 'REQUESTS')).uid).toBe(process.getuid!());
  });

  it("REQUESTS made unreachable (a plain file of the daemon's user there): critical until it is removed", async () => {
    const n = notifyScript();
    const d = await daemon({ data: feedEnding(CURRENT), workers: 1, args: ['--notify', n.command] });
    fs.rmSync(join(d.run, 'REQUESTS'));
    fs.writeFileSync(join(d.run, 'REQUESTS'), 'not a FIFO');
    const [m] = await waitFor(
      'the event',
      () => ofKind(n, 'requests-unreachable').length > 0 && ofKind(n, 'requests-unreachable'),
    );
    expect(m!.json).toMatchObject({ type: 'event', severity: 'critical' });
    expect(m!.json.sentence).toMatch(/^clients cannot reach the daemon: .*REQUESTS is not a FIFO; remove it/);
    expect((await health(d.run)).code).toBe(2);
    fs.rmSync(join(d.run, 'REQUESTS'));
    await waitFor('resolved', () => ofKind(n, 'requests-unreachable').length === 2);
    expect(shape(ofKind(n, 'requests-unreachable'))).toEqual(['event 1', 'resolved 1']);
    await waitFor('the replacement said', () => ofKind(n, 'requests-replaced').length > 0);
    expect(ofKind(n, 'requests-replaced')[0]!.json.sentence).toMatch(/^REQUESTS was removed at /);
  });
});

describe('a daemon that died', () => {
  it('kill -9, then start: the new daemon says it started after an unclean stop', async () => {
    const n = notifyScript();
    const data = feedEnding('20251231');
    const first = await daemon({ data, workers: 1, args: ['--notify', n.command] });
    await waitFor('the data-ended event', () => ofKind(n, 'data-ended').length > 0);
    process.kill(first.pid, 'SIGKILL');
    await waitFor('the daemon gone', () => !isAlive(first.pid));
    await daemon({ data, workers: 1, run: first.run, args: ['--notify', n.command] });
    const [m] = await waitFor('the event', () => ofKind(n, 'unclean-stop').length > 0 && ofKind(n, 'unclean-stop'));
    expect(m!.json.severity).toBe('warning');
    expect(m!.json.sentence).toMatch(new RegExp(`^the daemon started after an unclean stop: pid ${first.pid} stopped`));
    // What the dead daemon had told is not told again.
    await observedTwice(first.run, 'data-ended');
    expect(n.received().map((r) => r.json.kind)).toEqual(['data-ended', 'unclean-stop']);
  });

  it('roq health --restart starts a dead daemon with its options again and reports it', async () => {
    const n = notifyScript();
    const first = await daemon({ data: feedEnding(CURRENT), workers: 1, args: ['--notify', n.command] });
    process.kill(first.pid, 'SIGKILL');
    await waitFor('the daemon gone', () => !isAlive(first.pid));
    const h = await health(first.run, '--restart');
    const pid = pidOf(first.run)!;
    running.push({ run: first.run, pid, stop: async () => void (await roqCli(['stop', '--run', first.run])) });
    expect(h.code, h.stdout + h.stderr).toBe(1);
    expect(h.stdout).toMatch(
      new RegExp(
        `^ROQ WARNING - roq is not running on .*; pid ${first.pid} stopped without saying so; roq health --restart started pid ${pid}, generation 1 \\|`,
      ),
    );
    const died = ofKind(n, 'daemon-died');
    expect(shape(died)).toEqual(['event 1']);
    expect(died[0]!.json.severity).toBe('critical'); // brought back, but a daemon died
    await waitFor("the new daemon's event", () => ofKind(n, 'unclean-stop').length > 0);
    expect((await health(first.run)).code).toBe(1); // the unclean stop, until an interval passes
  });

  it('a daemon whose main loop is stuck: CRITICAL, and --restart kills it and starts another', async () => {
    const n = notifyScript();
    const first = await daemon({ data: feedEnding(CURRENT), workers: 1, args: ['--notify', n.command] });
    process.kill(first.pid, 'SIGSTOP'); // a loop that does not turn
    try {
      const stuck = await waitFor('the status stale', async () => {
        const h = await health(first.run, '--stale', '1000');
        return h.code === 2 && h;
      });
      expect(stuck.stdout).toMatch(
        new RegExp(
          `^ROQ CRITICAL - the daemon \\(pid ${first.pid}\\) has not written its status for \\d+ s: its main loop is stuck`,
        ),
      );
      const h = await waitFor('the restart', async () => {
        const r = await health(first.run, '--stale', '1000', '--restart');
        return r.stdout.includes('was stuck') && r;
      });
      expect(h.code, h.stdout).toBe(1);
      expect(h.stdout).toMatch(
        new RegExp(
          `^ROQ WARNING - pid ${first.pid} was stuck \\(no status for \\d+ s\\) and was killed; roq health --restart started pid \\d+`,
        ),
      );
      expect(isAlive(first.pid)).toBe(false);
      expect(shape(ofKind(n, 'daemon-died'))).toEqual(['event 1']);
    } finally {
      if (isAlive(first.pid)) process.kill(first.pid, 'SIGCONT');
    }
  });

  it('roq health --failed UNIT (systemd OnFailure=) tells the notify command', async () => {
    const n = notifyScript();
    const h = await health(tempRun(), '--failed', 'roq.service', '--notify', n.command);
    expect(h.code, h.stderr).toBe(0);
    expect(shape(ofKind(n, 'daemon-died'))).toEqual(['event 1']);
    expect(ofKind(n, 'daemon-died')[0]!.json.sentence).toMatch(/^systemd unit roq\.service failed/);
  });

  it('a notify command that fails or hangs is logged, never fatal; one that does not exist is refused at start', async () => {
    const dir = tempRun();
    const failing = join(dir, 'failing.sh');
    fs.writeFileSync(failing, '#!/bin/sh\necho smtp down >&2\nexit 3\n', { mode: 0o755 });
    const d = await daemon({ data: feedEnding('20251231'), workers: 1, args: ['--notify', failing] });
    const log = join(d.run, 'daemon', 'roq.log');
    await waitFor('the failure logged', () =>
      fs
        .readFileSync(log, 'utf8')
        .includes(`notify command '${failing}' failed for event of 'data-ended': it exited with code 3: smtp down`),
    );
    expect((await ask(d.run, 'stops', { q: 'north' }, { timeoutMs: 5000 })).status).toBe('ok');
    const now = Date.now();
    const m = {
      type: 'event',
      kind: 'busy',
      severity: 'warning',
      firstSeen: now,
      lastSeen: now,
      count: 1,
      new: 1,
      sentence: 's',
    } as const;
    expect(await runNotify(['sleep', '30'], m, d.run, 200)).toBe('it ran longer than 200 ms and was killed');
    const missing = await roqCli(['start', '--run', tempRun(), '--notify', '/nonexistent/notify x']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("--notify: no program '/nonexistent/notify' to run (give its full path");
  });
});

describe('the notify one-liners of docs/OPERATIONS.md', () => {
  const lines = [...fs.readFileSync(join(ROOT, 'docs/OPERATIONS.md'), 'utf8').matchAll(/^ROQ_NOTIFY='(.*)'/gm)].map(
    (m) => m[1]!,
  );

  it('come after a table of every event kind with its severity', () => {
    const doc = fs.readFileSync(join(ROOT, 'docs/OPERATIONS.md'), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z-]+)` \| (critical|warning) \|/gm)].map((m) => [m[1], m[2]]);
    expect(Object.fromEntries(rows)).toEqual(EVENT_SEVERITY);
  });

  it('are one each for mail, a webhook (curl) and syslog (logger), and split into words as documented', () => {
    expect(lines.map((l) => splitCommand(l)![0])).toEqual(['/usr/bin/mail', '/usr/bin/curl', '/usr/bin/logger']);
    expect(splitCommand(lines[0]!)).toEqual(['/usr/bin/mail', '-s', 'roq needs help', 'root']);
  });

  it('the curl line, given in $ROQ_NOTIFY, posts the event as JSON to a webhook', async () => {
    if (!fs.existsSync('/usr/bin/curl')) return console.warn('skipped: /usr/bin/curl is missing');
    const got: { type: string; body: string }[] = [];
    const server = createServer((req, res) => {
      let body = '';
      req.on('data', (b: Buffer) => (body += b.toString()));
      req.on('end', () => {
        got.push({ type: req.headers['content-type'] ?? '', body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/roq`;
      const curl = lines[1]!.replace('https://hooks.example.org/roq', url);
      await daemon({ data: feedEnding('20251231'), workers: 1, env: { ROQ_NOTIFY: curl } });
      await waitFor('the webhook', () => got.length > 0);
      expect(got[0]!.type).toBe('application/json');
      expect(JSON.parse(got[0]!.body)).toMatchObject({ type: 'event', kind: 'data-ended', severity: 'critical' });
    } finally {
      server.close();
    }
  });
});
