/**
 * Deployment, through real processes as an admin would run it: the release tarball (what it holds; installing it
 * with neither npm nor node nor a compiler on the PATH), a daemon started from the installed release and asked
 * through its `roq` and its C relay, the systemd ExecReload helper (data reload, or code upgrade when
 * asked), and refresh-feed.sh fetching a zip over HTTPS from 127.0.0.1 with a conditional request, checking it,
 * flipping the data symlink, and keeping the served feed when the new one is bad.
 */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { request } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { HAVE_APACHE, letWebUserThrough, makeWebRunDir, startApache } from '../tools/demo/apache.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { cgiEnv, parseCgiResponse } from './helpers/cgi.js';
import { LIRR, makeRunDir, ROOT, roqCli, waitFor } from './helpers/daemon.js';
import { pathWithoutToolchain as makePath } from './helpers/toolchain.js';
import { MODE, zipBytes } from './helpers/zip.js';

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program (not through node) and resolves with its exit code and output; never rejects. */
function exec(
  program: string,
  args: string[],
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 60_000,
): Promise<Result> {
  return new Promise((done) => {
    const child = spawn(program, args, { env, cwd: tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (e) => (stderr += String(e)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      done({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
  });
}

/** The environment without the variables that would choose roq's directories for it. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const k of ['ROQ_RUN_DIR', 'ROQ_DATA_DIR']) if (!(k in extra)) delete env[k];
  return env;
}

const temps: string[] = [];
function tempDir(name: string): string {
  const d = fs.mkdtempSync(join(tmpdir(), `roq-${name}-`));
  temps.push(d);
  return d;
}
afterAll(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

/** Run directories with a daemon in them: stopped after each test, pass or fail. */
const runs: string[] = [];
afterEach(async () => {
  await Promise.all(
    runs.splice(0).map(async (run) => {
      const pid = await daemonPid(run);
      await roqCli(['stop', '--run', run]);
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* stopped */
        }
      }
    }),
  );
});

async function status(
  run: string,
): Promise<{ pid: number; generation: { id: number }; reload: { requested: number } }> {
  const r = await roqCli(['status', '--json', '--run', run]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).status;
}

async function daemonPid(run: string): Promise<number | undefined> {
  const r = await roqCli(['status', '--json', '--run', run]);
  return r.code === 0 ? (JSON.parse(r.stdout).status.pid as number) : undefined;
}

async function northName(run: string): Promise<unknown> {
  const a = await ask(run, 'stops', { q: 'north' }, { timeoutMs: 30_000 });
  return a.status === 'ok' ? a.rows[0]?.[1] : a;
}

/** A PATH with everything in the system's bin directories except node, npm and a C/C++ toolchain. */
let noToolchain = '';
function pathWithoutToolchain(): string {
  return (noToolchain ||= makePath(join(tempDir('path'), 'bin')));
}

let tarball = '';
let release = '';
/** A test that installs the tarball: each install unpacks 200 MB (the runtime and the CGI executable). */
const INSTALL_TIMEOUT = 180_000;

beforeAll(async () => {
  // `npm test` has built dist/; `npm run release` would build it again first.
  const r = await exec(
    process.execPath,
    [join(ROOT, 'scripts/release.js'), '--no-build', '--out', tempDir('release')].map(String),
    process.env,
    // Packing the 100 MB CGI executable took over 2 minutes at a load average of 35 on two cores.
    360_000,
  );
  // release.js runs git and tar in the checkout; it compresses 200 MB twice (the tarball and the package).
  expect(r.code, r.stderr).toBe(0);
  tarball = r.stdout.trim().split(' ')[0]!;
  release = /\/roq-([^/]+)\.tar\.gz$/.exec(tarball)![1]!;
}, 400_000);

/** Installs the tarball into a fresh prefix with install-release.sh, with no node, npm or compiler on the PATH. */
async function install(
  prefix = join(tempDir('prefix'), 'opt/roq'),
  file = tarball,
): Promise<{ prefix: string; out: Result }> {
  const out = await exec('/bin/bash', [join(ROOT, 'deploy/install-release.sh'), file, prefix], {
    PATH: pathWithoutToolchain(),
    HOME: tmpdir(),
  });
  return { prefix, out };
}

describe('the release tarball', () => {
  it('holds the bundles, the CGI programs, bin/roq and the deploy files, and no test, benchmark or devDependency', async () => {
    const entries = (await exec('tar', ['-tzf', tarball])).stdout
      .trim()
      .split('\n')
      .map((e) => e.replace(/^[^/]+\/?/, ''));
    for (const f of [
      'package.json',
      'bin/roq',
      'bin/refresh-feed.sh',
      'bin/service-reload.sh',
      'bin/service-upgrade.sh',
      'dist/roq.js',
      'dist/worker.js',
      'dist/load-thread.js',
      'runtime/node',
      'runtime/LICENSE',
      'cgi-bin/roq-relay',
      'cgi-bin/roq.cgi',
      'deploy/roq.service',
      'deploy/apache.conf',
      'deploy/install-release.sh',
    ]) {
      expect(entries).toContain(f);
    }
    const unwanted = entries.filter((e) =>
      /(^|\/)(bench|fuzz|soak|naive|sqlite|echo-daemon|demo|codegen)[^/]*$|node_modules|(^|\/)(test|src|bench)\/|\.ts$/.test(
        e,
      ),
    );
    expect(unwanted).toEqual([]);
    const pkg = JSON.parse((await exec('tar', ['-xzOf', tarball, `roq-${release}/package.json`])).stdout);
    expect(pkg).toMatchObject({ name: 'roq', dependencies: {}, engines: { node: '>=20' } });
    expect(pkg.devDependencies).toBeUndefined();
    expect(pkg.scripts).toBeUndefined();
  });

  it(
    'installs and serves the sample data with no node, npm or compiler on the PATH (on its own runtime), and says how to start it',
    async () => {
      const { prefix, out } = await install();
      expect(out.code, out.stderr).toBe(0);
      expect(fs.readlinkSync(join(prefix, 'current'))).toBe(`releases/${release}`);
      expect(fs.readdirSync(join(prefix, 'current')).sort()).toEqual([
        'bin',
        'cgi-bin',
        'deploy',
        'dist',
        'package.json',
        'runtime',
      ]);
      // A first install: no daemon to reload or upgrade yet.
      expect(out.stdout).toContain('systemctl enable --now roq');
      expect(out.stdout).not.toMatch(/systemctl reload/);

      const roq = join(prefix, 'current/bin/roq');
      const run = makeRunDir();
      runs.push(run);
      const server = cleanEnv({ PATH: pathWithoutToolchain() });
      const started = await exec(roq, ['start', '--run', run, '--data', LIRR, '--workers', '1'], server);
      expect(started.code, started.stderr).toBe(0);
      // The daemon runs on the release's runtime, the version package.json pins.
      const pinned = JSON.parse(fs.readFileSync(join(ROOT, 'package.json'), 'utf8')).optionalDependencies;
      const version = await exec(join(prefix, 'current/runtime/node'), ['--version'], server);
      expect(version.stdout.trim()).toBe(`v${pinned[`node-linux-${process.arch}`]}`);
      const q = await exec(roq, ['query', 'stops', 'q=jamaica', '--json', '--run', run], server);
      expect(q.code, q.stderr).toBe(0);
      expect(q.stdout).toContain('Jamaica');

      const cgi = await exec(
        join(prefix, 'current/cgi-bin/roq-relay'),
        [],
        cgiEnv({ query: 'q=jamaica&format=json', env: { ROQ_RUN_DIR: run } }),
        15_000,
      );
      const page = parseCgiResponse(cgi.stdout);
      expect(page.status, cgi.stdout + cgi.stderr).toBe(200);
      expect(page.body).toContain('Jamaica');

      // Without --data or $ROQ_DATA_DIR, an installed release looks where a deployment keeps its data, never at a
      // path relative to wherever the command was run.
      if (!fs.existsSync('/srv/roq/data')) {
        const noData = await exec(roq, ['start', '--run', makeRunDir()], cleanEnv());
        expect(noData.code).toBe(1);
        expect(noData.stderr).toContain('/srv/roq/data');
        expect(noData.stderr).toContain('--data DIR');
        expect(noData.stderr).not.toContain('gtfs-lirr');
      }

      const stopped = await exec(roq, ['stop', '--run', run], cleanEnv());
      expect(stopped.code, stopped.stderr).toBe(0);
      expect(await daemonPid(run)).toBeUndefined();
    },
    INSTALL_TIMEOUT,
  );

  it(
    'serves the installed release through Apache with deploy/apache.conf as shipped',
    async () => {
      if (!HAVE_APACHE) return; // CI installs apache2 (.ci/run)
      const { prefix, out } = await install();
      expect(out.code, out.stderr).toBe(0);
      letWebUserThrough(join(prefix, 'current/cgi-bin'));
      const web = tempDir('web');
      const run = makeWebRunDir(join(web, 'run'));
      runs.push(run);
      const started = await exec(
        join(prefix, 'current/bin/roq'),
        ['start', '--run', run, '--data', LIRR, '--workers', '1'],
        cleanEnv(),
      );
      expect(started.code, started.stderr).toBe(0);
      // The snippet as an admin installs it, with this test's prefix and run directory for /opt/roq and /run/roq.
      const snippet = join(web, 'roq.conf');
      fs.writeFileSync(
        snippet,
        fs
          .readFileSync(join(ROOT, 'deploy/apache.conf'), 'utf8')
          .replaceAll('/opt/roq', prefix)
          .replaceAll('/run/roq', run),
      );
      const apache = await startApache({ dir: join(web, 'httpd'), scripts: {}, env: {}, include: [snippet] });
      try {
        const res = await fetch(`${apache.url}/departures?q=jamaica&format=json`);
        const body = await res.text();
        expect(res.status, body + apache.errorLog()).toBe(200);
        expect(body).toContain('Jamaica');
      } finally {
        await apache.stop();
      }
    },
    INSTALL_TIMEOUT,
  );

  it(
    'never overwrites a release, and on a second install says how to upgrade the running daemon',
    async () => {
      const { prefix } = await install();
      const again = await install(prefix);
      expect(again.out.code).toBe(1);
      expect(again.out.stderr).toMatch(/exists; releases are never overwritten/);

      const second = await repack('0.2.0-second');
      const next = await install(prefix, second);
      expect(next.out.code, next.out.stderr).toBe(0);
      expect(fs.readlinkSync(join(prefix, 'current'))).toBe('releases/0.2.0-second');
      expect(next.out.stdout).toContain(`${prefix}/current/bin/service-upgrade.sh`);
      expect(next.out.stdout).toContain(`releases/${release}`); // how to roll back
      expect(next.out.stdout).not.toContain('enable --now');
    },
    INSTALL_TIMEOUT,
  );
});

/** The release tarball again under another name, as the next release would be (uncompressed, to save time). */
async function repack(name: string): Promise<string> {
  const dir = tempDir('repack');
  const x = await exec('tar', ['-xzf', tarball, '-C', dir]);
  expect(x.code, x.stderr).toBe(0);
  fs.renameSync(join(dir, `roq-${release}`), join(dir, `roq-${name}`));
  const file = join(dir, `roq-${name}.tar`);
  const r = await exec('tar', ['-C', dir, '-cf', file, `roq-${name}`]);
  expect(r.code, r.stderr).toBe(0);
  return file;
}

describe('systemd', () => {
  it(
    'systemctl reload (ExecReload) reloads the data in the same daemon; asked by service-upgrade.sh, it upgrades the code',
    async () => {
      const { prefix, out } = await install();
      expect(out.code, out.stderr).toBe(0);
      const data = writeFeed(TINY_FEED);
      const run = makeRunDir();
      runs.push(run);
      const roq = join(prefix, 'current/bin/roq');
      const env = cleanEnv({ ROQ_RUN_DIR: run, ROQ_UPGRADE_REQUEST: join(tempDir('request'), 'upgrade.request') });
      const started = await exec(roq, ['start', '--data', data, '--workers', '1'], env);
      expect(started.code, started.stderr).toBe(0);
      const first = await status(run);

      fs.writeFileSync(join(data, 'stops.txt'), TINY_FEED['stops.txt']!.replace('North Park', 'North Park Two'));
      const reload = await exec(join(prefix, 'current/bin/service-reload.sh'), [], env);
      expect(reload.code, reload.stderr).toBe(0);
      expect(await status(run)).toMatchObject({ pid: first.pid, generation: { id: 2 } });
      expect(await northName(run)).toBe('North Park Two');

      fs.writeFileSync(env.ROQ_UPGRADE_REQUEST!, 'upgrade\n');
      const upgrade = await exec(join(prefix, 'current/bin/service-reload.sh'), [], env);
      expect(upgrade.code, upgrade.stderr).toBe(0);
      expect(upgrade.stdout).toMatch(/roq upgraded/);
      await waitFor('the new daemon in roq.pid', async () => (await status(run)).pid !== first.pid);
      expect(await northName(run)).toBe('North Park Two');
    },
    INSTALL_TIMEOUT,
  );

  it('service-upgrade.sh refuses a unit that is not running, saying how to start it, and leaves no upgrade request', async () => {
    if (spawnSync('systemctl', ['--version']).status !== 0) return; // no systemctl: the script cannot run here
    const request = join(tempDir('request'), 'upgrade.request');
    const unit = `roq-absent-${process.pid}.service`;
    const r = await exec(join(ROOT, 'deploy/service-upgrade.sh'), [unit], cleanEnv({ ROQ_UPGRADE_REQUEST: request }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${unit} is not running; start it with: systemctl start ${unit}`);
    expect(fs.existsSync(request)).toBe(false);
  });

  it('the unit file passes systemd-analyze verify, ExecReload included', async () => {
    const analyze = spawnSync('systemd-analyze', ['--version']);
    if (analyze.status !== 0) return; // no systemd on this machine: the ExecReload test above still runs its helper
    const { prefix } = await install();
    const unit = join(tempDir('unit'), 'roq.service');
    fs.writeFileSync(unit, fs.readFileSync(join(ROOT, 'deploy/roq.service'), 'utf8').replaceAll('/opt/roq', prefix));
    const r = await exec('systemd-analyze', ['verify', unit]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(fs.readFileSync(unit, 'utf8')).toMatch(/^ExecReload=.*\/bin\/service-reload\.sh$/m);
  });
});

describe('refresh-feed.sh', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  /** A self-signed certificate for 127.0.0.1, made by openssl, that curl is told to trust (CURL_CA_BUNDLE). */
  function certificate(): { key: string; cert: string; certFile: string } {
    const dir = tempDir('tls');
    const r = spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { encoding: 'utf8' },
    );
    expect(r.status, r.stderr).toBe(0);
    return {
      key: fs.readFileSync(join(dir, 'key.pem'), 'utf8'),
      cert: fs.readFileSync(join(dir, 'cert.pem'), 'utf8'),
      certFile: join(dir, 'cert.pem'),
    };
  }

  function zipOf(files: Record<string, string>): Buffer {
    const dir = writeFeed(files);
    const zip = join(tempDir('zip'), 'feed.zip');
    const r = spawnSync('zip', ['-q', '-j', zip, ...Object.keys(files).map((f) => join(dir, f))], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return fs.readFileSync(zip);
  }

  interface Feed {
    zip: Buffer;
    etag: string;
    modified: Date;
  }

  /** Serves `feed` at https://127.0.0.1:PORT/lirr/gtfs.zip, honouring If-None-Match and If-Modified-Since. */
  async function serve(feed: Feed): Promise<{ url: string; answered: number[]; certFile: string }> {
    const tls = certificate();
    const answered: number[] = [];
    server = createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      const since = req.headers['if-modified-since'];
      const fresh =
        req.headers['if-none-match'] === feed.etag || (since !== undefined && new Date(since) >= feed.modified);
      res.setHeader('ETag', feed.etag);
      res.setHeader('Last-Modified', feed.modified.toUTCString());
      if (req.url !== '/lirr/gtfs.zip') res.statusCode = 404;
      else if (fresh) res.statusCode = 304;
      else res.setHeader('Content-Type', 'application/zip');
      answered.push(res.statusCode);
      res.end(res.statusCode === 200 ? feed.zip : undefined);
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    return {
      url: `https://127.0.0.1:${(server.address() as AddressInfo).port}/lirr/gtfs.zip`,
      answered,
      certFile: tls.certFile,
    };
  }

  function refresher(env: Record<string, string>): () => Promise<Result> {
    return () =>
      exec(
        '/bin/bash',
        [join(ROOT, 'deploy/refresh-feed.sh')],
        cleanEnv({ ROQ_BIN: join(ROOT, 'deploy/bin-roq'), ...env }),
      );
  }

  /** The layout of docs/OPERATIONS.md: a first feed in <base>/feeds/first, and a daemon loading it through <base>/data. */
  async function servingFirstFeed(): Promise<{ base: string; run: string }> {
    const base = tempDir('srv');
    fs.mkdirSync(join(base, 'feeds'));
    fs.cpSync(writeFeed(TINY_FEED), join(base, 'feeds/first'), { recursive: true });
    fs.symlinkSync('feeds/first', join(base, 'data'));
    const run = makeRunDir();
    runs.push(run);
    const started = await roqCli(['start', '--run', run, '--data', join(base, 'data'), '--workers', '1']);
    expect(started.code, started.stderr).toBe(0);
    return { base, run };
  }

  it('fetches a zip over HTTPS, checks it, flips the data symlink and reloads; an unchanged feed costs a 304; a bad one changes nothing', async () => {
    const feed = {
      zip: zipOf({ ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', 'North Park Two') }),
      etag: '"v2"',
      modified: new Date('2026-11-01T00:00:00Z'),
    };
    const { url, answered, certFile } = await serve(feed);

    const { base, run } = await servingFirstFeed();

    const refresh = refresher({ ROQ_FEED_URL: url, ROQ_BASE: base, ROQ_RUN_DIR: run, CURL_CA_BUNDLE: certFile });

    const one = await refresh();
    expect(one, 'silent on success, for cron').toEqual({ code: 0, stdout: '', stderr: '' });
    const served = fs.readlinkSync(join(base, 'data'));
    expect(served).toMatch(/^feeds\/\d{8}-\d{6}/);
    expect(await northName(run)).toBe('North Park Two');
    expect((await status(run)).generation.id).toBe(2);

    const two = await refresh();
    expect(two).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(answered).toEqual([200, 304]);
    expect(fs.readlinkSync(join(base, 'data'))).toBe(served);
    expect(fs.readdirSync(join(base, 'feeds')).sort()).toEqual(['first', served.slice('feeds/'.length)].sort());
    const before = await status(run);
    expect(before.generation.id).toBe(2);

    feed.zip = zipOf({ ...TINY_FEED, 'trips.txt': csv('route_id,service_id,trip_id', 'R1,WEEK') });
    feed.etag = '"v3"';
    feed.modified = new Date('2026-11-02T00:00:00Z');
    const three = await refresh();
    expect(three.code).toBe(1);
    expect(three.stderr).toMatch(/trips\.txt:2:/);
    expect(fs.readlinkSync(join(base, 'data'))).toBe(served);
    expect(await northName(run)).toBe('North Park Two');
    const after = await status(run);
    expect(after.generation.id).toBe(2);
    // `roq check` turned it down: the daemon is never asked to load a feed that does not load.
    expect(after.reload.requested).toBe(before.reload.requested);

    feed.zip = Buffer.from('<html>not a zip</html>');
    feed.etag = '"v4"';
    const four = await refresh();
    expect(four.code).toBe(1);
    expect(four.stderr).toContain('is not a readable zip file');
    expect(fs.readlinkSync(join(base, 'data'))).toBe(served);
  });

  it('refuses a feed archive holding a symlink, a download over ROQ_FEED_MAX_BYTES, and prunes only the feeds it made, never through a link', async () => {
    const victim = tempDir('victim'); // as the data base, the run or the log directory would be
    fs.writeFileSync(join(victim, 'precious'), 'keep\n');
    const feed = {
      zip: zipBytes([{ name: 'gtfs', data: victim, mode: MODE.symlink }]),
      etag: '"link"',
      modified: new Date('2026-11-01T00:00:00Z'),
    };
    const { url, certFile } = await serve(feed);
    const { base, run } = await servingFirstFeed();
    const env = { ROQ_FEED_URL: url, ROQ_BASE: base, ROQ_RUN_DIR: run, CURL_CA_BUNDLE: certFile, ROQ_KEEP_FEEDS: '1' };
    const refresh = refresher(env);
    const link = await refresh();
    expect(link.code).toBe(1);
    expect(link.stderr).toMatch(/neither a file nor a directory \(a symlink or a device\)/);
    expect(fs.readdirSync(join(base, 'feeds'))).toEqual(['first']);
    // A link left in feeds/ under a stamp's name (by an older refresh-feed.sh) is not the script's to prune.
    fs.symlinkSync(victim, join(base, 'feeds', '20200101-000000'));
    const served: string[] = [];
    for (const name of ['North Park Two', 'North Park Three']) {
      feed.zip = zipOf({ ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', name) });
      feed.etag = `"${name}"`;
      feed.modified = new Date(feed.modified.getTime() + 86_400_000);
      const r = await refresh();
      expect(r, name).toEqual({ code: 0, stdout: '', stderr: '' });
      expect(await northName(run)).toBe(name);
      served.push(fs.readlinkSync(join(base, 'data')).slice('feeds/'.length));
    }
    expect(fs.readFileSync(join(victim, 'precious'), 'utf8')).toBe('keep\n');
    expect(fs.readdirSync(join(base, 'feeds')).sort()).toEqual(['20200101-000000', 'first', served[1]!].sort());

    feed.zip = zipOf({ ...TINY_FEED, 'notes.txt': 'x'.repeat(200_000) });
    feed.etag = '"big"';
    feed.modified = new Date(feed.modified.getTime() + 86_400_000);
    const big = await refresher({ ...env, ROQ_FEED_MAX_BYTES: '100000' })();
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/unpacks to \d+ bytes; at most 100000 \(ROQ_FEED_MAX_BYTES\)/);
    feed.zip = zipBytes([{ name: 'stops.txt', data: 'x'.repeat(200_000) }]); // stored: the download itself is too large
    feed.etag = '"bigger"';
    feed.modified = new Date(feed.modified.getTime() + 86_400_000);
    const download = await refresher({ ...env, ROQ_FEED_MAX_BYTES: '100000' })();
    expect(download.code).toBe(1);
    expect(download.stderr).toMatch(/could not fetch .*larger than ROQ_FEED_MAX_BYTES/);
    expect(fs.readdirSync(join(base, 'incoming'))).not.toContain('feed.zip.new');
    expect(await northName(run)).toBe('North Park Three');
  });

  it('on a first install, with no daemon yet, puts the checked feed where the first `roq start` loads it', async () => {
    const { url, certFile } = await serve({
      zip: zipOf(TINY_FEED),
      etag: '"v1"',
      modified: new Date('2026-11-01T00:00:00Z'),
    });
    const base = tempDir('srv');
    const run = makeRunDir();
    runs.push(run);
    const first = await refresher({ ROQ_FEED_URL: url, ROQ_BASE: base, ROQ_RUN_DIR: run, CURL_CA_BUNDLE: certFile })();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/no daemon runs on .*; .*data points at the new feed/);
    expect(fs.readlinkSync(join(base, 'data'))).toMatch(/^feeds\/\d{8}-\d{6}/);
    const started = await roqCli(['start', '--run', run, '--data', join(base, 'data'), '--workers', '1']);
    expect(started.code, started.stderr).toBe(0);
    expect(await northName(run)).toBe('North Park');
  });

  it('still takes an rsync source: a changed feed is checked, flipped and reloaded, an unchanged one changes nothing', async () => {
    if (spawnSync('rsync', ['--version']).status !== 0) return; // CI installs rsync (.ci/run)
    const source = writeFeed({
      ...TINY_FEED,
      'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', 'North Park Two'),
    });
    const { base, run } = await servingFirstFeed();
    const refresh = refresher({ ROQ_FEED_SOURCE: source + '/', ROQ_BASE: base, ROQ_RUN_DIR: run });
    expect(await refresh()).toEqual({ code: 0, stdout: '', stderr: '' });
    const served = fs.readlinkSync(join(base, 'data'));
    expect(served).toMatch(/^feeds\/\d{8}-\d{6}/);
    expect(await northName(run)).toBe('North Park Two');
    expect(await refresh()).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(fs.readlinkSync(join(base, 'data'))).toBe(served);
    expect((await status(run)).generation.id).toBe(2);
  });

  it('refuses to run without a feed source, and a second refresh while one runs', async () => {
    const base = tempDir('srv');
    const none = await exec('/bin/bash', [join(ROOT, 'deploy/refresh-feed.sh')], cleanEnv({ ROQ_BASE: base }));
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/set ROQ_FEED_URL .* or ROQ_FEED_SOURCE/);

    fs.mkdirSync(join(base, 'incoming'), { recursive: true });
    fs.mkdirSync(join(base, 'feeds'));
    const holder = spawn('flock', [join(base, 'refresh.lock'), 'sleep', '30'], { stdio: 'ignore' });
    try {
      await waitFor(
        'the lock holder',
        () => spawnSync('flock', ['-n', join(base, 'refresh.lock'), 'true']).status !== 0,
      );
      const busy = await exec(
        '/bin/bash',
        [join(ROOT, 'deploy/refresh-feed.sh')],
        cleanEnv({ ROQ_BASE: base, ROQ_FEED_URL: 'https://127.0.0.1:9/x.zip' }),
      );
      expect(busy.code).toBe(1);
      expect(busy.stderr).toMatch(/another refresh holds .*refresh\.lock/);
    } finally {
      holder.kill();
    }
  });
});

describe('the docs and the Apache snippet', () => {
  it('deploy/apache.conf turns TRACE off: Apache answers it 405 instead of echoing the request', async () => {
    if (!HAVE_APACHE) return; // CI installs apache2 (.ci/run)
    const web = tempDir('trace');
    const snippet = join(web, 'roq.conf');
    fs.writeFileSync(
      snippet,
      fs.readFileSync(join(ROOT, 'deploy/apache.conf'), 'utf8').replaceAll('/opt/roq', web).replaceAll('/run/roq', web),
    );
    const apache = await startApache({ dir: join(web, 'httpd'), scripts: {}, env: {}, include: [snippet] });
    try {
      const { status, body } = await new Promise<{ status: number; body: string }>((done, fail) => {
        const req = request(`${apache.url}/departures`, { method: 'TRACE', headers: { Cookie: 'session=secret' } });
        req.on('response', (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () => done({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', fail);
        req.end();
      });
      expect(status, apache.errorLog()).toBe(405);
      expect(body).not.toContain('session=secret');
    } finally {
      await apache.stop();
    }
  });

  it('deploy/apache.conf leaves the server-wide MPM alone, and docs/OPERATIONS.md gives that tuning as advice and says no Node is needed', () => {
    const conf = fs
      .readFileSync(join(ROOT, 'deploy/apache.conf'), 'utf8')
      .split('\n')
      .filter((l) => !/^\s*#/.test(l))
      .join('\n');
    expect(conf).not.toMatch(/ThreadsPerChild|MaxRequestWorkers|ServerLimit|mpm_/i);
    const ops = fs.readFileSync(join(ROOT, 'docs/OPERATIONS.md'), 'utf8');
    expect(ops).toMatch(/ThreadsPerChild/);
    expect(ops).toMatch(/runtime\/node/);
    expect(ops).toMatch(/needs\s+no Node of its own/);
  });
});
