/**
 * An app that ships, as a user would ship it: the MAC vendor app kept in a 0700 directory (a home directory, which
 * the web server's user cannot enter), made into a release with `roq build --app DIR --release`, installed with
 * deploy/install-release.sh into a prefix of its own with no node, npm or compiler on the PATH, its daemon started
 * from the installed release as an unprivileged user, and served through a real private Apache with the very lines
 * install-release.sh printed: a vendor lookup answers exactly what the reference finds in the data.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, letWebUserThrough, startApache, type Apache } from '../tools/demo/apache.js';
import { MAC_APP, MAC_DATA } from './helpers/apps.js';
import { pidOf, ROOT, ROQ } from './helpers/daemon.js';
import { runToEnd, type RunResult } from './helpers/run.js';
import { tempDir } from './helpers/temp.js';
import { pathWithoutToolchain } from './helpers/toolchain.js';
import { macReference } from './mac-reference.js';

const AS_ROOT = process.getuid?.() === 0;
/** The daemon's user: unprivileged, in no group of the web server's but the one it runs with (as roq.service does). */
const DAEMON_USER = 'roqd';
/** Building the app and packing 100 MB of runtime took minutes on a busy machine of two cores. */
const RELEASE_TIMEOUT = 400_000;

const npmRelease = (args: string[]) =>
  runToEnd('npm', ['run', '--silent', 'release', '--', ...args], { cwd: ROOT, timeoutMs: 60_000 });

describe('`npm run release -- --app` refuses what it cannot do in one line', () => {
  it('--help lists the options', async () => {
    const r = await npmRelease(['--help']);
    expect(r.code, r.stderr).toBe(0);
    for (const o of ['--app DIR', '--out DIR', '--no-build', '--help']) expect(r.stdout).toContain(o);
  });

  it('an unknown option and a directory that is no app: one line naming it, no stack', async () => {
    const unknown = await npmRelease(['--app', MAC_APP, '--bogus']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim()).toBe(
      "release: unknown option '--bogus' (npm run release -- --help lists the options)",
    );
    const dir = tempDir('roq-no-app-');
    const noApp = await npmRelease(['--app', dir]);
    expect(noApp.code).toBe(1);
    expect(noApp.stderr.trim().split('\n')).toEqual([
      `release: ${dir} is not an app: it has no schemas/ directory (make one with \`roq init APP --from DATA_DIR\`)`,
    ]);
  });
});

/** The shell's view of the release: its tarball, and what the install printed. */
const made = { base: '', home: '', app: '', tarball: '' };

/** The app in a 0700 "home", as a user keeps it: its sources and its data, not its build. */
function appInHome(): void {
  made.base = tempDir('roq-app-release-');
  // Passable, as /home is; the home directory in it is not.
  fs.chmodSync(made.base, 0o711);
  made.home = join(made.base, 'home');
  fs.mkdirSync(made.home, { mode: 0o700 });
  made.app = join(made.home, 'mac-vendors');
  fs.cpSync(MAC_APP, made.app, { recursive: true, filter: (f) => !/\/\.roq(\/|$)/.test(f) });
}

/** What the serving test started: stopped after the file's tests, also when they fail. */
const served: { prefix?: string; run?: string; roq?: string; apache?: Apache } = {};
/** A vendor looked up through the web: its OUI-36 block and the OUI above it. */
const MAC = '00-50-C2-7D-51-23';

let noToolchain = '';
/** Runs install-release.sh on the app's tarball (or `tarball`), with no node, npm or compiler on the PATH. */
function install(prefix: string, tarball = made.tarball): Promise<RunResult> {
  noToolchain ||= pathWithoutToolchain(join(made.base, 'bin'));
  return runToEnd('/bin/bash', [join(ROOT, 'deploy/install-release.sh'), tarball, prefix], {
    env: { PATH: noToolchain, HOME: '/' },
    timeoutMs: 120_000,
  });
}

/** The real user id of a process, from /proc. */
function uidOf(pid: number): number {
  return Number(/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]);
}

/** Runs `args` as the daemon's user in group www-data, as its unit would (User=, Group=www-data), with no toolchain. */
function asDaemonUser(args: string[]): Promise<RunResult> {
  return runToEnd(
    'setpriv',
    [`--reuid=${DAEMON_USER}`, '--regid=www-data', '--init-groups', 'env', '-i', `PATH=${noToolchain}`, ...args],
    { cwd: '/', timeoutMs: 120_000 },
  );
}

/**
 * Starts the installed app's daemon as DAEMON_USER on a run directory made as the unit's RuntimeDirectoryMode says;
 * returns the run directory.
 */
async function startAsDaemonUser(roq: string, data: string): Promise<string> {
  if (spawnSync('id', [DAEMON_USER]).status !== 0)
    spawnSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', DAEMON_USER], {
      stdio: 'ignore',
    });
  const run = join(made.base, 'run');
  expect(spawnSync('install', ['-d', '-o', DAEMON_USER, '-g', 'www-data', '-m', '3730', run]).status).toBe(0);
  letWebUserThrough(run);
  const started = await asDaemonUser([roq, 'start', '--run', run, '--data', data, '--workers', '1']);
  expect(started.code, started.stdout + started.stderr).toBe(0);
  return run;
}

/** The app's tarball again as release `name` of it, as its next release would be (uncompressed, to save time). */
async function repack(name: string): Promise<string> {
  const dir = join(made.base, 'repack');
  fs.mkdirSync(dir);
  const x = await runToEnd('tar', ['-xzf', made.tarball, '-C', dir], { timeoutMs: 60_000 });
  expect(x.code, x.stderr).toBe(0);
  const [top] = fs.readdirSync(dir);
  fs.renameSync(join(dir, top!), join(dir, `mac-vendors-${name}`));
  const file = join(dir, `mac-vendors-${name}.tar`);
  const c = await runToEnd('tar', ['-C', dir, '-cf', file, `mac-vendors-${name}`], { timeoutMs: 60_000 });
  expect(c.code, c.stderr).toBe(0);
  return file;
}

/** The vendor lookup through Apache, as JSON rows; the status and body are checked. */
async function lookup(url: string): Promise<unknown> {
  const res = await fetch(`${url}/mac-vendors/vendor?mac=${MAC}&format=json`);
  const body = await res.text();
  expect(res.status, body + served.apache?.errorLog()).toBe(200);
  return JSON.parse(body).rows;
}

/** Stops what the serving test started, each step on its own so that one failing still lets the others run. */
async function stopServed(): Promise<void> {
  await served.apache?.stop().catch(() => undefined);
  if (!served.run) return;
  const pid = pidOf(served.run);
  await runToEnd(served.roq!, ['stop', '--run', served.run], { timeoutMs: 60_000 }).catch(() => undefined);
  try {
    if (pid !== undefined) process.kill(pid, 'SIGKILL');
  } catch {
    /* stopped */
  }
}

describe('the MAC app as a release', () => {
  afterAll(stopServed);
  beforeAll(async () => {
    appInHome();
    const r = await runToEnd(process.execPath, [ROQ, 'build', '--app', made.app, '--release'], {
      cwd: made.home,
      timeoutMs: RELEASE_TIMEOUT,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    // stdout is the tarball's line alone; the build's messages went to stderr.
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    made.tarball = /^(\S+\.tar\.gz) /.exec(r.stdout)?.[1] ?? '';
  }, RELEASE_TIMEOUT);

  it("is one tarball in the app's .roq/release/, named after the app, holding its programs, the relay, the runtime, its sources and deploy files for its own paths, and no data", async () => {
    expect(made.tarball).toMatch(
      new RegExp(
        `^${made.app}/\\.roq/release/mac-vendors-0\\.0\\.0-[0-9a-f]{7}-${process.platform}-${process.arch}\\.tar\\.gz$`,
      ),
    );
    const top = /\/(mac-vendors-0\.0\.0-[0-9a-f]{7})-/.exec(made.tarball)![1]!;
    const list = await runToEnd('tar', ['-tzf', made.tarball], { timeoutMs: 60_000 });
    const entries = list.stdout.split('\n').map((e) => e.slice(top.length + 1));
    for (const f of [
      'bin/roq',
      'runtime/node',
      'dist/roq.js',
      'dist/worker.js',
      'dist/load-thread.js',
      'cgi-bin/roq-relay',
      'cgi-bin/roq.cgi',
      'app/app.json',
      'app/schemas/tables/oui.json',
      'app/queries/vendor.ts',
      'app/templates/vendor.html',
      'deploy/roq.service',
      'deploy/apache.conf',
      'deploy/install-release.sh',
    ])
      expect(entries).toContain(f);
    expect(entries.filter((e) => /\.csv$|^deploy\/debian|^data\//.test(e))).toEqual([]);

    // Unpacked once (but the runtime), to read its text files.
    const unpacked = join(made.base, 'unpacked');
    fs.mkdirSync(unpacked);
    const x = await runToEnd('tar', ['-xzf', made.tarball, '-C', unpacked, '--exclude', `${top}/runtime`], {
      timeoutMs: 60_000,
    });
    expect(x.code, x.stderr).toBe(0);
    const read = (f: string) => fs.readFileSync(join(unpacked, top, f), 'utf8');
    const commit = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
    const version = JSON.parse(fs.readFileSync(join(ROOT, 'package.json'), 'utf8')).version;
    const manifest = JSON.parse(read('package.json'));
    expect(manifest).toMatchObject({ name: 'mac-vendors', app: 'mac-vendors', version: '0.0.0', roq: { version } });
    expect(manifest.roq.commit).toMatch(new RegExp(`^${commit}(-dirty)?$`));
    // Its own directories, unit and URL path, beside roq's own on the same host.
    const unit = read('deploy/roq.service');
    expect(unit).toContain('RuntimeDirectory=roq-mac-vendors\n');
    expect(unit).toContain(
      'ExecStart=/opt/roq-mac-vendors/current/bin/roq start --log /var/log/roq-mac-vendors/roq.log',
    );
    expect(unit).toContain('OnFailure=roq-mac-vendors-failed@%n.service');
    expect(read('bin/roq')).toContain(
      '"${ROQ_RUN_DIR:=/run/roq-mac-vendors}" "${ROQ_DATA_DIR:=/srv/roq-mac-vendors/data}"',
    );
    expect(read('deploy/apache.conf')).toContain(
      'ScriptAlias /mac-vendors /opt/roq-mac-vendors/current/cgi-bin/roq-relay',
    );
    for (const f of [
      'bin/roq',
      'bin/service-upgrade.sh',
      'bin/service-reload.sh',
      'bin/refresh-feed.sh',
      'deploy/roq.cron',
      'deploy/roq.logrotate',
      'deploy/roq-failed@.service',
      'deploy/roq.service',
      'deploy/apache.conf',
    ])
      expect(read(f), f).not.toMatch(/\/(opt|run|srv|var\/log)\/roq(?![\w-])|\/departures/);
  });
  it.skipIf(!AS_ROOT || !HAVE_APACHE)(
    'installs into a prefix of its own and, started as an unprivileged user, answers a vendor lookup through Apache exactly',
    async () => {
      const prefix = join(made.base, 'opt', 'roq-mac-vendors');
      const out = await install(prefix);
      expect(out.code, out.stderr).toBe(0);
      // No warning: the web server's user can run the relay where the install put it, out of the 0700 home.
      expect(out.stderr).toBe('');
      expect(out.stdout).toContain('systemctl daemon-reload && systemctl enable --now roq-mac-vendors');
      expect(fs.readlinkSync(join(prefix, 'current'))).toMatch(/^releases\/0\.0\.0-[0-9a-f]{7}$/);

      const data = join(made.base, 'srv', 'data');
      fs.cpSync(MAC_DATA, data, { recursive: true });
      served.prefix = prefix;
      served.roq = join(prefix, 'current/bin/roq');
      served.run = await startAsDaemonUser(served.roq, data);
      const pid = pidOf(served.run)!;
      expect(uidOf(pid)).toBe(Number(spawnSync('id', ['-u', DAEMON_USER], { encoding: 'utf8' }).stdout.trim()));

      // The Apache lines as install-release.sh printed them, with this test's run directory for /run/roq-mac-vendors.
      const lines = /^ScriptAlias [\s\S]*?^<\/Directory>$/m.exec(out.stdout)?.[0];
      expect(lines, out.stdout).toContain(`ScriptAlias /mac-vendors ${prefix}/current/cgi-bin/roq-relay`);
      const snippet = join(made.base, 'roq-mac-vendors.conf');
      fs.writeFileSync(snippet, lines!.replaceAll('/run/roq-mac-vendors', served.run));
      served.apache = await startApache({ dir: join(made.base, 'httpd'), scripts: {}, env: {}, include: [snippet] });

      const expected = macReference(data).vendor(MAC)!;
      expect(expected.length).toBeGreaterThan(0);
      expect(await lookup(served.apache.url)).toEqual(expected);
      const index = await fetch(`${served.apache.url}/mac-vendors`);
      expect(await index.text()).toContain('<a href="/mac-vendors/vendor">vendor</a>');
      const page = await fetch(`${served.apache.url}/mac-vendors/vendor?mac=${MAC}`);
      const html = await page.text();
      expect(page.status).toBe(200);
      expect(html).toContain(expected[0]!.organization);
      // Apache never needed the home directory: it is as closed as it was.
      expect(fs.statSync(made.home).mode & 0o777).toBe(0o700);
    },
    180_000,
  );

  it.skipIf(!AS_ROOT || !HAVE_APACHE)(
    'its next release installs beside it, and `roq upgrade` as the install says moves the daemon to it, answering on',
    async () => {
      expect(served.apache, 'the serving test ran').toBeDefined();
      const prefix = served.prefix!;
      const before = pidOf(served.run!);
      const out = await install(prefix, await repack('0.0.1-next'));
      expect(out.code, out.stderr).toBe(0);
      expect(fs.readlinkSync(join(prefix, 'current'))).toBe('releases/0.0.1-next');
      expect(out.stdout).toContain(`${prefix}/current/bin/service-upgrade.sh`);
      expect(out.stdout).toContain(`sudo -u roq ${prefix}/current/bin/roq upgrade`);

      const up = await asDaemonUser([served.roq!, 'upgrade', '--run', served.run!]);
      expect(up.code, up.stdout + up.stderr).toBe(0);
      const status = await asDaemonUser([served.roq!, 'status', '--json', '--run', served.run!]);
      expect(JSON.parse(status.stdout).status).toMatchObject({ release: '0.0.1-next' });
      expect(pidOf(served.run!)).not.toBe(before);
      expect(await lookup(served.apache!.url)).toEqual(macReference(MAC_DATA).vendor(MAC));
    },
    180_000,
  );

  it.skipIf(!AS_ROOT)(
    'installed inside the 0700 home instead, it warns that www-data cannot run the relay and names the directory in the way',
    async () => {
      const prefix = join(made.home, 'opt');
      const out = await install(prefix);
      expect(out.code, out.stderr).toBe(0);
      expect(out.stderr).toContain(
        `install-release: warning: the web server's user www-data cannot run ${prefix}/current/cgi-bin/roq-relay: it may not enter ${made.home};`,
      );
    },
    180_000,
  );
});
