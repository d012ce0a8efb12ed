/**
 * The Debian package, installed for real as an admin would (as root, with dpkg on this machine's own system):
 * `dpkg -i` creates the user and directories and starts nothing; the daemon started as the shipped unit says (no
 * systemd as PID 1 here: its User, Group, RuntimeDirectoryMode, Environment and ExecStart, with no node on the
 * PATH) serves the board through a private Apache that includes the shipped /etc/apache2/conf-available/roq.conf;
 * `dpkg -i` of the next build under load upgrades the running daemon losing no request; `dpkg -r` stops it and
 * `dpkg -P` leaves no process, user, group, unit or file of it. afterAll purges whatever a failed test left.
 *
 * Skipped, saying why, when not root, without dpkg-deb or Apache, or on a machine where roq is already installed
 * or a user roq exists (the test would remove an admin's).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, startApache, type Apache } from '../tools/demo/apache.js';
import { ROOT, waitFor } from './helpers/daemon.js';
import { startLoad } from './helpers/load.js';
import { runToEnd } from './helpers/run.js';
import { tempDir } from './helpers/temp.js';
import { pathWithoutToolchain } from './helpers/toolchain.js';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/**
 * The machine's one copy of this test: two runs at once (two checkouts' `npm test`) would install and purge the
 * same package under each other. Held by a directory naming its owner's PID; one left by a dead run is taken over.
 */
const LOCK = '/run/roq-debian-test.lock';

function takeLock(): boolean {
  try {
    fs.mkdirSync(LOCK);
  } catch {
    const owner = Number(fs.readFileSync(join(LOCK, 'pid'), { encoding: 'utf8', flag: 'a+' }));
    try {
      if (owner) process.kill(owner, 0);
      return false;
    } catch {
      /* its owner is gone */
    }
  }
  fs.writeFileSync(join(LOCK, 'pid'), String(process.pid));
  return true;
}

function whyNot(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root: dpkg -i needs root (CI runs as root)';
  if (!has('dpkg-deb') || !has('dpkg')) return 'no dpkg (not a Debian system)';
  if (!HAVE_APACHE) return 'no Apache httpd with mod_cgid (.ci/run installs apache2)';
  if (spawnSync('dpkg-query', ['-W', 'roq']).status === 0) return 'a package roq is installed on this machine';
  if (spawnSync('getent', ['passwd', 'roq']).status === 0) return 'a user roq exists on this machine';
  // Last: the describe block that releases it runs only when nothing else skips it.
  if (!takeLock()) return `another run of this test holds ${LOCK}`;
  return undefined;
}
const SKIP = whyNot();

/** Everything the package, its maintainer scripts or its daemon may leave on the system. */
const PATHS = [
  '/usr/lib/roq',
  '/usr/bin/roq',
  '/usr/share/roq',
  '/usr/share/doc/roq',
  '/lib/systemd/system/roq.service',
  '/lib/systemd/system/roq-failed@.service',
  '/etc/apache2/conf-available/roq.conf',
  '/etc/apache2/conf-enabled/roq.conf',
  '/etc/logrotate.d/roq',
  '/var/lib/roq',
  '/var/log/roq',
  '/run/roq',
];

const RUN = '/run/roq';
/**
 * The suite's directory, made when it runs (not at import: a file whose only suite is skipped runs no hooks, so a
 * directory made at import would be left behind); removed after it, also when it fails.
 */
let temp = '';
/** What dpkg and the maintainer scripts run with: a server's PATH, without node (set in beforeAll). */
let serverPath = '/usr/sbin:/usr/bin:/sbin:/bin';

const sh = (cmd: string, args: string[], env?: NodeJS.ProcessEnv, timeoutMs = 180_000) =>
  runToEnd(cmd, args, {
    env: env ?? { PATH: serverPath, DEBIAN_FRONTEND: 'noninteractive', LANG: 'C' },
    cwd: temp,
    timeoutMs,
  });

/**
 * The PIDs of the live processes of the user roq (none when there is no such user). A zombie is not one: it has
 * exited, and only waits for PID 1 to reap it, which a container's PID 1 may never do.
 */
function processesOfRoq(): number[] {
  const r = spawnSync('ps', ['-o', 'pid=,stat=', '-u', 'roq'], { encoding: 'utf8' });
  if (r.status !== 0) return [];
  return r.stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/))
    .filter(([pid, stat]) => pid && !stat?.startsWith('Z'))
    .map(([pid]) => Number(pid));
}

/** What `ps` says of the processes of the user roq, for a failure's message. */
const psOfRoq = () => spawnSync('ps', ['-f', '-u', 'roq'], { encoding: 'utf8' }).stdout;

/** Puts the system back as it was: what `dpkg -P` does, and then by hand whatever a failure left behind. */
async function purgeEverything(): Promise<void> {
  for (const pid of processesOfRoq()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  await sh('dpkg', ['--purge', 'roq']);
  for (const p of PATHS) fs.rmSync(p, { recursive: true, force: true });
  spawnSync('userdel', ['roq']);
  spawnSync('groupdel', ['roq']);
}

/** The next build of the package: the same files under a later version, as the next commit's would be. */
async function nextBuild(deb: string): Promise<string> {
  const tree = join(temp, 'next');
  let r = await sh('dpkg-deb', ['-R', deb, tree]);
  expect(r.code, r.stderr).toBe(0);
  const control = join(tree, 'DEBIAN/control');
  fs.writeFileSync(control, fs.readFileSync(control, 'utf8').replace(/^Version: (.*)$/m, 'Version: $1.next'));
  const next = join(temp, 'roq-next.deb');
  r = await sh('dpkg-deb', ['--root-owner-group', '-Zzstd', '-b', tree, next]);
  expect(r.code, r.stderr).toBe(0);
  fs.rmSync(tree, { recursive: true });
  return next;
}

/** One `Key=value` of the installed unit. */
function unitSetting(unit: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(unit);
  expect(m, `${key}= in roq.service`).not.toBeNull();
  return m![1]!;
}

/**
 * Starts the daemon as systemd would from the installed unit: the run directory made with RuntimeDirectoryMode,
 * owned by User and Group, and ExecStart run as them with the unit's Environment and a PATH without node.
 */
async function startAsTheUnit(): Promise<void> {
  const unit = fs.readFileSync('/lib/systemd/system/roq.service', 'utf8');
  const [user, group] = [unitSetting(unit, 'User'), unitSetting(unit, 'Group')];
  const mode = unitSetting(unit, 'RuntimeDirectoryMode');
  expect(mode).toBe('3730');
  const mk = await sh('install', ['-d', '-o', user, '-g', group, '-m', mode, RUN]);
  expect(mk.code, mk.stderr).toBe(0);
  const env = unitSetting(unit, 'Environment').split(' ');
  const exec = unitSetting(unit, 'ExecStart').split(' ');
  const started = await sh(
    'setpriv',
    [`--reuid=${user}`, `--regid=${group}`, '--init-groups', 'env', '-i', `PATH=${serverPath}`, ...env, ...exec],
    {},
    120_000,
  );
  expect(started.code, started.stdout + started.stderr).toBe(0);
}

async function status(): Promise<{ pid: number }> {
  const r = await sh('/usr/bin/roq', ['status', '--json', '--run', RUN], { PATH: serverPath });
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).status;
}

let deb = '';
let apache: Apache | undefined;

describe.skipIf(SKIP)(`the Debian package${SKIP ? ` (skipped: ${SKIP})` : ''}`, () => {
  beforeAll(async () => {
    temp = tempDir('roq-debian-');
    // The daemon's user runs the programs of the PATH made in here.
    fs.chmodSync(temp, 0o711);
    serverPath = pathWithoutToolchain(join(temp, 'bin'));
    // `npm test` has built dist/; release.js makes the tarball and the package from it.
    const r = await runToEnd(
      process.execPath,
      [join(ROOT, 'scripts/release.js'), '--no-build', '--out', join(temp, 'release')],
      { cwd: ROOT, timeoutMs: 300_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    deb = /^(\S+\.deb)$/m.exec(r.stdout)![1]!;
  }, 360_000);

  afterAll(async () => {
    await apache?.stop();
    await purgeEverything();
    fs.rmSync(temp, { recursive: true, force: true });
    fs.rmSync(LOCK, { recursive: true, force: true });
  }, 120_000);

  it('installs with dpkg -i, starts nothing, and serves the board through Apache with the shipped conf once started as the unit says', async () => {
    const t0 = performance.now();
    const installed = await sh('dpkg', ['-i', deb]);
    expect(installed.code, installed.stdout + installed.stderr).toBe(0);
    // Debian policy: a first install says how to start, and starts nothing.
    expect(installed.stdout).toContain('systemctl enable --now roq');
    expect(installed.stdout).toContain('a2enmod cgid && a2enconf roq');
    expect(processesOfRoq()).toEqual([]);
    const groups = spawnSync('id', ['-nG', 'roq'], { encoding: 'utf8' });
    expect(groups.stdout.split(/\s+/)).toContain('www-data');
    expect(fs.readlinkSync('/var/lib/roq/data')).toBe('feeds/sample');
    expect(fs.statSync('/var/log/roq').isDirectory()).toBe(true);
    // The units name the package's paths, not the tarball's.
    for (const unit of ['roq.service', 'roq-failed@.service']) {
      expect(fs.readFileSync(join('/lib/systemd/system', unit), 'utf8')).not.toMatch(/\/opt\/roq|\/srv\/roq/);
    }

    const tInstalled = performance.now();
    await startAsTheUnit();
    const tStarted = performance.now();
    apache = await startApache({
      dir: join(temp, 'httpd'),
      scripts: {},
      env: {},
      include: ['/etc/apache2/conf-available/roq.conf'],
    });
    const board = await fetch(`${apache.url}/departures`);
    const html = await board.text();
    expect(board.status, html + apache.errorLog()).toBe(200);
    expect(html).toMatch(/<html/i);
    const json = await fetch(`${apache.url}/departures?q=jamaica&format=json`);
    expect(await json.text()).toContain('Jamaica');
    const ms = (a: number, b: number) => Math.round(b - a);
    const t1 = performance.now();
    console.log(
      `install to serving: ${ms(t0, t1)} ms (dpkg -i ${ms(t0, tInstalled)}, roq start ${ms(tInstalled, tStarted)}, Apache and the first page ${ms(tStarted, t1)})`,
    );
  }, 180_000);

  it('upgrades the running daemon with dpkg -i of the next build under load, losing no request', async () => {
    expect(apache, 'the install test ran').toBeDefined();
    const next = await nextBuild(deb);
    const before = await status();
    const load = startLoad(`${apache!.url}/departures?q=jamaica&format=json`, {
      concurrency: 4,
      maxRequests: 100_000,
      maxMs: 240_000,
    });
    await waitFor('requests under load before the upgrade', async () => load.samples.length >= 20 || undefined);
    const upgraded = await sh('dpkg', ['-i', next]);
    const during = load.samples.length;
    await waitFor('requests answered by the new daemon', async () => load.samples.length >= during + 20 || undefined);
    const samples = await load.stop();
    expect(upgraded.code, upgraded.stdout + upgraded.stderr).toBe(0);
    expect((await status()).pid).not.toBe(before.pid);
    const lost = samples.filter((s) => s.status !== 200 || !s.body.includes('Jamaica'));
    console.log(`upgrade under load: ${samples.length} requests, ${lost.length} lost`);
    expect(lost.slice(0, 3)).toEqual([]);
    const version = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'roq'], { encoding: 'utf8' }).stdout;
    expect(version).toMatch(/\.next$/);
  }, 300_000);

  it('dpkg -r stops the daemon; dpkg -P leaves no process, user, group, unit or file of it', async () => {
    expect(processesOfRoq().length, psOfRoq()).toBe(1);
    const removed = await sh('dpkg', ['-r', 'roq']);
    expect(removed.code, removed.stdout + removed.stderr).toBe(0);
    expect(processesOfRoq(), psOfRoq() + removed.stdout + removed.stderr).toEqual([]);
    expect(fs.existsSync('/usr/lib/roq')).toBe(false);
    // Conffiles and the admin's data stay until purge.
    expect(fs.existsSync('/etc/apache2/conf-available/roq.conf')).toBe(true);
    expect(fs.existsSync('/var/lib/roq/data')).toBe(true);

    const purged = await sh('dpkg', ['-P', 'roq']);
    expect(purged.code, purged.stdout + purged.stderr).toBe(0);
    expect(PATHS.filter((p) => fs.existsSync(p))).toEqual([]);
    expect(spawnSync('getent', ['passwd', 'roq']).status).not.toBe(0);
    expect(spawnSync('getent', ['group', 'roq']).status).not.toBe(0);
    expect(fs.readFileSync('/etc/group', 'utf8')).not.toMatch(/^www-data:.*\broq\b/m);
    expect(spawnSync('dpkg-query', ['-W', 'roq']).status).not.toBe(0);
  }, 120_000);
});
