/**
 * The attacks of issue 16, run for real as Unix users against a real daemon and the real CGI program, in the layout
 * docs/SECURITY.md prescribes: the run directory `roqd:www-data` 3730, the daemon started as root with `--user
 * roqd:www-data`, visitors' CGI programs as `www-data`, `mallory` a member of `www-data` (another CGI program or
 * PHP application on the same Apache), `eve` a local user outside it. Each row of docs/SECURITY.md's table for
 * mallory (H1–H4, M1–M6, L1–L4) is one test that performs the attack as mallory and checks that it is refused or
 * bounded.
 *
 * Needs root (CI is root): it creates the users if they are missing (and leaves them), and runs everything from a
 * world-readable copy of dist/ under /tmp, since the checkout may sit in a 0700 home directory. Every process it
 * starts is stopped in afterAll, also when a test fails.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_FEED, writeFeed } from './feeds.js';
import { cgiEnv, parseCgiResponse } from './helpers/cgi.js';
import { ROOT, waitFor } from './helpers/daemon.js';
import { nodeForOthers } from './helpers/users.js';

const AS_ROOT = process.getuid?.() === 0;
const NODE = process.execPath;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Collects a child's output and exit code; SIGKILL after timeoutMs, so no attack can hang the suite. */
function finished(child: ChildProcess, timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code: code ?? 128, stdout, stderr });
    });
  });
}

/** Runs `sh -c cmd` as `user` (with that user's groups, as a login would give them), bounded in time. */
function as(user: string, cmd: string, timeoutMs = 20_000): Promise<Run> {
  const child = spawn('runuser', ['-u', user, '--', 'sh', '-c', cmd], { cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
  return finished(child, timeoutMs);
}

function sh(cmd: string): string {
  const r = spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
}

function idOf(user: string): { uid: number; gid: number } {
  return { uid: Number(sh(`id -u ${user}`).trim()), gid: Number(sh(`id -g ${user}`).trim()) };
}

/** The users of the table, made if missing (idempotent; they are left for the next run). */
function ensureUsers(): void {
  const exists = (u: string) => spawnSync('id', [u]).status === 0;
  if (!exists('roqd')) sh('useradd --system --no-create-home --shell /usr/sbin/nologin roqd');
  if (!exists('mallory')) sh('useradd --no-create-home --shell /bin/sh -G www-data mallory');
  if (!exists('eve')) sh('useradd --no-create-home --shell /bin/sh eve');
  sh('usermod -a -G www-data mallory');
}

describe.skipIf(!AS_ROOT)('attacks on the run directory, as real users (issue 16)', () => {
  let base: string;
  let run: string;
  let data: string;
  let roq: string;
  let driver: string;
  let web: { uid: number; gid: number };
  /** node where www-data may run it (the runner's may be inside a 0700 checkout). */
  let webNode: string;
  const started: ChildProcess[] = [];

  const roqCli = (args: string[], timeoutMs = 60_000): Promise<Run> =>
    finished(
      spawn(NODE, [roq, ...args], { env: { ...process.env, ROQ_TEST_FAULTS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }),
      timeoutMs,
    );
  const start = () =>
    roqCli(['start', '--run', run, '--data', data, '--workers', '2', '--deadline', '3000', '--user', 'roqd:www-data']);
  const daemonPid = () => Number(fs.readFileSync(join(run, 'daemon', 'roq.pid'), 'utf8'));
  const roqLog = () => fs.readFileSync(join(run, 'daemon', 'roq.log'), 'utf8');

  /** The relay as the web server runs it, as www-data: a page for `q`, or JSON with format=json. */
  function cgi(query: string): Promise<{ status: number; body: string; stderr: string }> {
    return new Promise((done, fail) => {
      const child = spawn(join(base, 'dist', 'roq-relay'), [], {
        env: cgiEnv({ query, env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '4000' } }),
        cwd: '/',
        uid: web.uid,
        gid: web.gid,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let raw = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (raw += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      child.on('error', fail);
      child.on('close', () => {
        clearTimeout(timer);
        try {
          const r = parseCgiResponse(raw);
          done({ status: r.status, body: r.body, stderr });
        } catch {
          done({ status: 0, body: raw, stderr });
        }
      });
    });
  }

  const northPark = async () => {
    const r = await cgi('q=north&format=json');
    expect(r.status, r.body + r.stderr).toBe(200);
    expect(r.body).toContain('North Park');
    expect(r.body).not.toContain('FORGED');
  };

  /** The real client library (src/client.ts, bundled) run as www-data under `runtime`, asking `query` with `params`. */
  function client(
    runtime: 'node',
    query: string,
    params: Record<string, string>,
    timeoutMs = 4000,
  ): { child: ChildProcess; result: Promise<string> } {
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: base };
    const child = spawn(webNode, [driver, run, query, JSON.stringify(params), String(timeoutMs)], {
      env,
      uid: web.uid,
      gid: web.gid,
      cwd: '/',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    return { child, result: new Promise((done) => child.on('close', () => done(out))) };
  }

  beforeAll(async () => {
    ensureUsers();
    web = idOf('www-data');
    base = fs.mkdtempSync(join(tmpdir(), 'roq-attack-'));
    fs.chmodSync(base, 0o755);
    webNode = nodeForOthers(base);
    fs.mkdirSync(join(base, 'dist'));
    // The daemon of the test build (some attacks need its fault_sleep query), beside the CGI programs.
    for (const f of ['roq.js', 'worker.js', 'load-thread.js'])
      fs.copyFileSync(join(ROOT, 'dist', 'test', f), join(base, 'dist', f));
    for (const f of ['roq.cgi', 'roq-relay', 'package.json'])
      fs.copyFileSync(join(ROOT, 'dist', f), join(base, 'dist', f));
    fs.chmodSync(join(base, 'dist', 'roq.cgi'), 0o755);
    fs.chmodSync(join(base, 'dist', 'roq-relay'), 0o755);
    roq = join(base, 'dist', 'roq.js');
    // The client library exactly as the CGI program uses it, with a main that prints the answer or the error code.
    const entry = join(base, 'driver.ts');
    fs.writeFileSync(
      entry,
      `import { ask } from ${JSON.stringify(join(ROOT, 'src', 'client.ts'))};\n` +
        `const [run, query, params, ms] = process.argv.slice(2);\n` +
        `ask(run!, query!, JSON.parse(params!), { timeoutMs: Number(ms) }).then((a) => console.log(JSON.stringify(a)), (e) => console.log(JSON.stringify({ thrown: e.code, message: e.message })));\n`,
    );
    driver = join(base, 'driver.js');
    await build({
      entryPoints: [entry],
      outfile: driver,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      logLevel: 'error',
    });
    fs.writeFileSync(join(base, 'package.json'), '{ "type": "commonjs" }\n');
    data = join(base, 'data');
    // Stops with long names: `q=zed&limit=100` is an answer of about 29 kB, seven pages of a pipe.
    const zeds = Array.from({ length: 100 }, (_, i) => `Z${i},Zed Stop ${i} ${'x'.repeat(250)},52.5,13.4,0,`);
    const stops = TINY_FEED['stops.txt']! + zeds.join('\n') + '\n';
    fs.cpSync(writeFeed({ ...TINY_FEED, 'stops.txt': stops }), data, { recursive: true });
    sh(`chmod -R a+rX ${data}`);
    // mallory's own corner, for what her attacks record.
    fs.mkdirSync(join(base, 'mallory'));
    sh(`chown mallory ${join(base, 'mallory')}`);
    run = join(base, 'run');
    fs.mkdirSync(run);
    sh(`chown roqd:www-data ${run} && chmod 3730 ${run}`);
    const r = await start();
    expect(r.code, r.stderr + r.stdout).toBe(0);
    await northPark();
  }, 120_000);

  afterAll(async () => {
    for (const c of started) c.kill('SIGKILL');
    if (run) {
      const pid = fs.existsSync(join(run, 'daemon', 'roq.pid')) ? daemonPid() : undefined;
      const stopped = await roqCli(['stop', '--run', run, '--timeout', '5000']);
      if (stopped.code !== 0 && pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
    }
    if (base) fs.rmSync(base, { recursive: true, force: true });
  }, 60_000);

  it('the layout: run directory 3730 roqd:www-data, REQUESTS roqd 0620, private directory 0700 with 0600 files', () => {
    const st = (p: string) => fs.lstatSync(join(run, p));
    expect(st('.').mode & 0o7777).toBe(0o3730);
    expect(st('REQUESTS').uid).toBe(idOf('roqd').uid);
    expect(st('REQUESTS').mode & 0o777).toBe(0o620);
    expect(st('daemon').mode & 0o7777).toBe(0o700);
    expect(st('daemon').uid).toBe(idOf('roqd').uid);
    for (const f of ['roq.pid', 'roq.log', 'access.log', 'status.json'])
      expect(st(join('daemon', f)).mode & 0o777, f).toBe(0o600);
  });

  it('eve, outside the group, can neither list, write REQUESTS nor make a FIFO', async () => {
    expect((await as('eve', `ls ${run}`)).code).not.toBe(0);
    expect((await as('eve', `printf 'x\\n' > ${run}/REQUESTS`)).code).not.toBe(0);
    expect((await as('eve', `mkfifo ${run}/resp.1.x`)).code).not.toBe(0);
  });

  it('H1: mallory cannot replace REQUESTS or read it; visitors get the real rows', async () => {
    const ino = fs.statSync(join(run, 'REQUESTS')).ino;
    const r = await as('mallory', `cd ${run} && mkfifo -m 0620 .M && mv -f .M REQUESTS`);
    expect(r.code, 'the sticky bit stops the rename').not.toBe(0);
    expect((await as('mallory', `exec 3<> ${run}/REQUESTS`)).code, 'REQUESTS is not readable by the group').not.toBe(0);
    expect((await as('mallory', `rm -f ${run}/.M`)).code).toBe(0); // her own file: she may remove it
    expect(fs.statSync(join(run, 'REQUESTS')).ino).toBe(ino);
    await northPark();
  });

  it.each(['node'] as const)(
    'H2 (%s client): an answer written into the client FIFO without the proof is ignored; the real one is shown',
    async (runtime) => {
      expect((await as('mallory', `ls ${run}`)).code, '3730: the group cannot list the directory').not.toBe(0);
      // A stronger mallory than the directory allows: she is told the FIFO's name (as inotify or a listing would).
      const c = client(runtime, 'fault_sleep', { ms: '1500' });
      const name = await waitFor('the client FIFO', () =>
        fs.readdirSync(run).find((f) => f.startsWith(`resp.${c.child.pid}.`)),
      );
      const forged = (head: string) => `${head}status=ok\\ngeneration=1\\nfields=slept:i\\nrow=666\\nend=1\\n`;
      const w = await as(
        'mallory',
        `printf '${forged('roq=2\\nproof=GuessedGuessedGuessed\\n')}${forged('roq=1\\n')}FORGED garbage\\n' > ${run}/${name}`,
      );
      expect(w.code, `mallory may write into it (group www-data): ${w.stderr}`).toBe(0);
      const out = JSON.parse(await c.result);
      expect(out).toMatchObject({ status: 'ok', rows: [[1500]] });
    },
  );

  it('H2: a client that receives only forged answers says so at its deadline instead of showing them', async () => {
    const c = client('node', 'fault_sleep', { ms: '2500' }, 1500); // the daemon answers after the client's deadline
    const name = await waitFor('the client FIFO', () =>
      fs.readdirSync(run).find((f) => f.startsWith(`resp.${c.child.pid}.`)),
    );
    await as(
      'mallory',
      `printf 'roq=2\\nproof=GuessedGuessedGuessed\\nstatus=ok\\ngeneration=1\\nfields=slept:i\\nrow=666\\nend=1\\n' > ${run}/${name}`,
    );
    expect(JSON.parse(await c.result)).toMatchObject({
      thrown: 'ROQ_PROTOCOL',
      message: expect.stringMatching(/1 answer\(s\) without this request's proof were ignored/),
    });
  });

  it('H3: symlinks planted by mallory are never followed by the daemon', async () => {
    const victim = join(base, 'victim.sh');
    fs.writeFileSync(victim, '#!/bin/sh\necho precious\n');
    sh(`chown roqd ${victim}`);
    const r = await as(
      'mallory',
      `cd ${run} && ln -s ${victim} status.json.tmp; ln -s ${victim} access.log; ln -s ${victim} roq.log; ln -s ${victim} daemon/status.json.tmp`,
    );
    expect(r.stderr).toMatch(/daemon\/status.json.tmp.*Permission denied/);
    const before = fs.statSync(join(run, 'daemon', 'status.json')).mtimeMs;
    expect((await cgi(`q=${encodeURIComponent('$(id>/tmp/pwned)')}&format=json`)).status).toBe(200);
    expect(fs.existsSync('/tmp/pwned')).toBe(false);
    await waitFor(
      'two status rewrites',
      () => fs.statSync(join(run, 'daemon', 'status.json')).mtimeMs > before + 1000,
      5000,
    );
    expect(fs.readFileSync(victim, 'utf8')).toBe('#!/bin/sh\necho precious\n');
    await waitFor(
      'the request in the private access log',
      () => fs.readFileSync(join(run, 'daemon', 'access.log'), 'utf8').includes('q=%24%28id'),
      5000,
    );
  });

  it('H4: a status.json planted in the run directory does not steer `roq upgrade`', async () => {
    const evil = join(base, 'mallory', 'feed');
    await as(
      'mallory',
      `mkdir ${run}/status.json.tmp; printf '{"pid":${daemonPid()},"version":"0.2.0","options":{"data":"${evil}","workers":1,"deadlineMs":10,"logFile":"${evil}.log"}}' > ${run}/status.json`,
    );
    const old = daemonPid();
    // The new daemon rewrites queries.json in the run directory: symlinks at every temporary name it may use.
    const victim = join(base, 'victim-queries');
    fs.writeFileSync(victim, 'precious\n');
    sh(`chown roqd ${victim}`);
    await as('mallory', `for i in $(seq ${old} ${old + 300}); do ln -s ${victim} ${run}/queries.json.$i.tmp; done`);
    const r = await roqCli(['upgrade', '--run', run, '--user', 'roqd:www-data']);
    expect(r.code, r.stderr).toBe(0);
    expect(daemonPid()).not.toBe(old);
    const status = JSON.parse(fs.readFileSync(join(run, 'daemon', 'status.json'), 'utf8'));
    expect(status.options.data).toBe(data);
    expect(status.options.logFile).toBe(join(run, 'daemon', 'roq.log'));
    expect(fs.existsSync(`${evil}.log`)).toBe(false);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.lstatSync(join(run, 'queries.json')).uid).toBe(idOf('roqd').uid);
    await northPark();
  }, 120_000);

  it("`roq upgrade` run by root keeps the daemon's --user, which status.json and `roq status` show", async () => {
    const old = daemonPid();
    const r = await roqCli(['upgrade', '--run', run]);
    expect(r.code, r.stderr).toBe(0);
    const pid = daemonPid();
    expect(pid).not.toBe(old);
    const uid = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    expect(Number(uid)).toBe(idOf('roqd').uid);
    await waitFor("the new daemon's status.json", () => {
      const s = JSON.parse(fs.readFileSync(join(run, 'daemon', 'status.json'), 'utf8'));
      return s.pid === pid && s.options.user === 'roqd:www-data';
    });
    expect((await roqCli(['status', '--run', run])).stdout).toContain(`pid         ${pid} as roqd:www-data`);
    await northPark();
  }, 120_000);

  it('M1: a PID planted by mallory is never signalled (roq status, reload --logs, stop)', async () => {
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    started.push(bystander);
    expect((await as('mallory', `echo ${bystander.pid} > ${run}/daemon/roq.pid`)).code).not.toBe(0);
    expect((await as('mallory', `echo ${bystander.pid} > ${run}/roq.pid`)).code).toBe(0); // where 0.1 kept it
    const s = await roqCli(['status', '--run', run]);
    expect(s.stdout).toContain(`pid         ${daemonPid()}`);
    const r = await roqCli(['reload', '--logs', '--run', run]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`pid ${daemonPid()}`);
    await waitFor('the daemon to reopen its logs', () => roqLog().includes('logs reopened'));
    expect(bystander.exitCode).toBe(null);
    expect(bystander.signalCode).toBe(null);
  });

  it('M2: a squatted lock and PID file in the run directory neither hide the daemon nor block a restart after a crash', async () => {
    const bystander = spawn('sleep', ['60'], { stdio: 'ignore' });
    started.push(bystander);
    await as(
      'mallory',
      `mkdir ${run}/roq.pid.lock; echo ${bystander.pid} > ${run}/roq.pid.new; mv ${run}/roq.pid.new ${run}/roq.pid 2>/dev/null; true`,
    );
    const s = await roqCli(['status', '--run', run]);
    expect(s.code, s.stderr).toBe(0);
    expect(s.stdout).toContain(`pid         ${daemonPid()}`);
    process.kill(daemonPid(), 'SIGKILL');
    const r = await start();
    expect(r.code, r.stderr).toBe(0);
    expect(bystander.exitCode).toBe(null);
    await northPark();
  }, 120_000);

  it('M3: a FIFO of mallory made as REQUESTS while no daemon ran is refused by clients and replaced by the daemon; she reads nothing', async () => {
    expect((await roqCli(['stop', '--run', run])).code).toBe(0);
    fs.rmSync(join(run, 'REQUESTS')); // a fresh directory: REQUESTS does not exist yet
    const out = join(base, 'mallory', 'heard');
    const made = await as('mallory', `mkfifo -m 0660 ${run}/REQUESTS`);
    expect(made.code, made.stderr).toBe(0);
    // Held open read-write, as the daemon holds its own: she never sees end-of-file, so she would hear every line.
    const listener = spawn(
      'runuser',
      ['-u', 'mallory', '--', 'sh', '-c', `exec 3<> ${run}/REQUESTS; exec timeout 30 cat <&3 > ${out}`],
      { stdio: 'ignore' },
    );
    started.push(listener);
    await waitFor('her reader', () => fs.existsSync(out));
    const refused = await cgi('q=north&format=json');
    expect(refused.status).toBe(503);
    expect(refused.body + refused.stderr).toMatch(/ROQ_REQUESTS_UNTRUSTED/);
    const r = await start();
    expect(r.code, r.stderr).toBe(0);
    expect(fs.statSync(join(run, 'REQUESTS')).uid).toBe(idOf('roqd').uid);
    expect(roqLog()).toMatch(/REQUESTS belongs to uid \d+, not to the daemon: removed/);
    await northPark();
    expect((await roqCli(['reload', '--run', run])).code).toBe(0);
    await northPark();
    listener.kill();
    expect(fs.readFileSync(out, 'utf8')).toBe('');
  }, 120_000);

  it('M5: mallory re-making REQUESTS in a loop while no daemon runs cannot make `roq start` fail', async () => {
    expect((await roqCli(['stop', '--run', run])).code).toBe(0);
    fs.rmSync(join(run, 'REQUESTS')); // as after a reboot: /run is empty
    const loop = spawn(
      'runuser',
      [
        '-u',
        'mallory',
        '--',
        'timeout',
        '60',
        'sh',
        '-c',
        `cd ${run} && while :; do rm -f REQUESTS; mkfifo -m 0660 REQUESTS; done 2>/dev/null`,
      ],
      { stdio: 'ignore' },
    );
    started.push(loop);
    try {
      await waitFor('her REQUESTS', () => fs.existsSync(join(run, 'REQUESTS')));
      for (let i = 0; i < 4; i++) {
        const r = await start();
        expect(r.code, r.stderr + r.stdout).toBe(0);
        expect(fs.lstatSync(join(run, 'REQUESTS')).uid).toBe(idOf('roqd').uid);
        await northPark();
        if (i < 3) expect((await roqCli(['stop', '--run', run])).code).toBe(0);
        if (i < 3) fs.rmSync(join(run, 'REQUESTS'));
      }
    } finally {
      loop.kill();
    }
  }, 120_000);

  it('M6: slow readers hold no worker: FIFOs shrunk to one page, read 4 KiB every 240 ms, while visitors ask', async () => {
    // 30 requests for a 29 kB answer, each into a FIFO of hers shrunk to 4 KiB (F_SETPIPE_SZ) that she reads a
    // page at a time just under every 250 ms: a worker that waited for her would be held for most of a second
    // per request, and the two workers for some 10 s.
    const script = `
      use strict; use Fcntl; use POSIX qw(mkfifo);
      chdir '${run}' or die; my @fifos;
      for my $i (1..30) {
        my $name = "resp.$$.s$i"; mkfifo($name, 0620) or die "mkfifo: $!"; chmod 0620, $name;
        sysopen(my $f, $name, O_RDWR | O_NONBLOCK) or die "open: $!";
        fcntl($f, 1031, 4096) or die "F_SETPIPE_SZ: $!"; push @fifos, [$f, $name];
      }
      open(my $r, '>', 'REQUESTS') or die; $r->autoflush(1);
      print $r "roq2 $$ s$_ PPPPPPPPPPPPPPPPPPPP stops q=zed&limit=100\n" for 1..30;
      my $until = time + 12; print "started\n"; STDOUT->flush;
      while (time < $until) { sysread($_->[0], my $page, 4096) for @fifos; select(undef, undef, undef, 0.24) }
      unlink $_->[1] for @fifos;`;
    const attack = spawn('runuser', ['-u', 'mallory', '--', 'perl', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    started.push(attack);
    const running = finished(attack, 30_000);
    await waitFor('her requests', () => fs.readdirSync(run).some((f) => /^resp\.\d+\.s30$/.test(f)), 10_000);
    try {
      for (let i = 0; i < 6; i++) await northPark(); // each CGI gives up after 4 s: a held pool would fail them
      await waitFor('her answers dropped at their budget', () =>
        /answer to pid \d+ not delivered: the client did not read its answer within \d+ ms/.test(roqLog()),
      );
    } finally {
      attack.kill();
      const r = await running;
      expect(r.stderr).not.toMatch(/mkfifo:|open:|F_SETPIPE_SZ:|died/i); // her attack ran as written
    }
  }, 120_000);

  it("L4: 5,000 action files planted by mallory cost a few log lines; the admin's hold is taken and visitors are answered", async () => {
    const logSize = () => fs.statSync(join(run, 'daemon', 'roq.log')).size;
    const before = logSize();
    const planted = await as(
      'mallory',
      `cd ${run} && i=0; while [ $i -lt 5000 ]; do : > action.0$i; i=$((i+1)); done`,
      60_000,
    );
    expect(planted.code, planted.stderr).toBe(0);
    const visitors = Promise.all(Array.from({ length: 5 }, () => northPark()));
    const hold = await roqCli(['reload', '--hold', '--run', run]);
    expect(hold.code, hold.stderr + hold.stdout + roqLog().slice(-2000)).toBe(0);
    await visitors;
    expect((await roqCli(['reload', '--drop-held', '--run', run])).code).toBe(0);
    expect(fs.readdirSync(join(run, 'daemon')).length).toBeGreaterThan(0);
    expect(logSize() - before, 'a few lines, not one per planted file').toBeLessThan(4096);
    expect(roqLog()).toMatch(/\d+ more admin requests ignored and removed in this scan/);
    expect((await as('mallory', `ls ${run}/action.00 2>&1; true`)).stdout).toMatch(/No such file|Permission denied/);
  }, 120_000);

  it('the partial line of a writer killed mid-request does not cost the next request (issue 10)', async () => {
    await as('mallory', `printf 'roq2 12345 half' > ${run}/REQUESTS`);
    await northPark();
  });

  it('L1: mallory cannot remove REQUESTS; a REQUESTS removed by root is made again without leaking a descriptor', async () => {
    expect((await as('mallory', `rm -f ${run}/REQUESTS`)).code).not.toBe(0);
    const pid = daemonPid();
    const fds = () => fs.readdirSync(`/proc/${pid}/fd`).length;
    const first = fds();
    for (let i = 0; i < 5; i++) {
      const ino = fs.statSync(join(run, 'REQUESTS')).ino;
      fs.rmSync(join(run, 'REQUESTS'));
      await waitFor(
        'REQUESTS made again',
        () => fs.existsSync(join(run, 'REQUESTS')) && fs.statSync(join(run, 'REQUESTS')).ino !== ino,
      );
    }
    await new Promise((r) => setTimeout(r, 2500)); // superseded FIFOs are read for 2 s, then closed
    expect(fds()).toBeLessThanOrEqual(first + 1);
    await northPark();
  }, 60_000);

  it("L2: REQUESTS cannot be moved to the daemon's answer FIFO name, and a FIFO of mallory named after the daemon is not written", async () => {
    const pid = daemonPid();
    expect((await as('mallory', `mv ${run}/REQUESTS ${run}/resp.${pid}.R`)).code).not.toBe(0);
    // She reads her FIFO for a second after the request: the daemon, whose pid it names, must write nothing there.
    const r = await as(
      'mallory',
      `cd ${run} && mkfifo -m 0620 resp.${pid}.R && exec 3<> resp.${pid}.R && printf 'roq2 ${pid} R PPPPPPPPPPPPPPPPPPPP stops q=north\\n' > REQUESTS && timeout 1 cat <&3; rm -f resp.${pid}.R`,
    );
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('');
    await waitFor('the refusal in the log', () =>
      new RegExp(`resp\\.${pid}\\.R is owned by uid \\d+, but pid ${pid} runs as uid \\d+; refused`).test(roqLog()),
    );
    await northPark();
  });

  it("L3: the logs are the daemon user's alone, and control characters are escaped in them", async () => {
    expect((await as('mallory', `cat ${run}/daemon/roq.log`)).code).not.toBe(0);
    expect((await as('mallory', `cat ${run}/daemon/access.log`)).code).not.toBe(0);
    const r = await as(
      'mallory',
      `cd ${run} && mkfifo -m 0620 resp.$$.e && exec 3<> resp.$$.e && printf '\\033[2Jgarbage\\r\\nroq2 %d e PPPPPPPPPPPPPPPPPPPP stops q=\\033]0;pwned\\007\\n' $$ > REQUESTS && sleep 0.5; rm -f resp.$$.e`,
    );
    expect(r.code, r.stderr).toBe(0);
    await waitFor(
      'the escaped request in the access log',
      () => fs.readFileSync(join(run, 'daemon', 'access.log'), 'utf8').includes('q=\\x1b]0;pwned\\x07'),
      5000,
    );
    expect(roqLog()).toContain('\\x1b[2Jgarbage\\x0d');
    for (const f of ['roq.log', 'access.log'])
      expect(fs.readFileSync(join(run, 'daemon', f), 'utf8'), f).not.toMatch(/[\x1b\r\x07]/);
  });
  it('M4: floods by mallory are bounded: garbage lines, requests for absent pids, a never-read FIFO, a byte at a time', async () => {
    const logSize = () => fs.statSync(join(run, 'daemon', 'roq.log')).size;
    const before = logSize();
    // Garbage lines for 2 s.
    await as('mallory', `timeout 2 sh -c 'yes x > ${run}/REQUESTS'; true`);
    // 20,000 requests naming a pid that does not run.
    await as(
      'mallory',
      `awk 'BEGIN { for (i = 0; i < 20000; i++) printf "roq2 999999 t%d PPPPPPPPPPPPPPPPPPPP stops q=north\\n", i }' > ${run}/REQUESTS`,
    );
    await northPark();
    // 2,000 requests whose answers go into her own FIFO, which she never reads.
    const hold = await as(
      'mallory',
      `cd ${run} && mkfifo -m 0620 resp.$$.m && exec 3<> resp.$$.m && awk -v p=$$ 'BEGIN { for (i = 0; i < 2000; i++) printf "roq2 %d m PPPPPPPPPPPPPPPPPPPP stops q=north\\n", p }' > REQUESTS && sleep 1; rm -f resp.$$.m`,
    );
    expect(hold.code, hold.stderr).toBe(0);
    await northPark();
    // One byte without a line end at a time while visitors ask: none of their requests is lost (issue 10).
    const dribble = spawn(
      'runuser',
      [
        '-u',
        'mallory',
        '--',
        'perl',
        '-e',
        `open(my $f, '>', '${run}/REQUESTS') or die; $f->autoflush(1); for (1..3000) { print $f 'x'; select(undef, undef, undef, 0.001) }`,
      ],
      { stdio: 'ignore' },
    );
    started.push(dribble);
    for (let i = 0; i < 10; i++) await northPark();
    dribble.kill();
    const grown = logSize() - before;
    expect(grown, 'the log grows by a bounded summary, not a line per dropped request').toBeLessThan(64 * 1024);
    expect(roqLog()).toMatch(/more such lines in the last 10 s were not logged|request dropped/);
  }, 120_000);
});
