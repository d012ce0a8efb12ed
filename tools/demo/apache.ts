/**
 * A private Apache httpd for the demo, the web tests and the benchmarks: Debian's apache2 binary with a config of
 * its own in a directory of its own (nothing under /etc/apache2 is read or changed), mod_cgid serving roq's CGI
 * program, listening on 127.0.0.1 only. deploy/apache.conf is the production counterpart; both give the CGI
 * program the same environment.
 *
 * Run as root (CI), Apache's children and the CGI programs run as www-data, as on a Debian server; the run
 * directory must then let that group in (see makeWebRunDir). Run as anyone else, they run as that user.
 */
import { pollUntil } from '../../src/poll.js';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const APACHE_BIN = '/usr/sbin/apache2';
export const APACHE_MODULES = '/usr/lib/apache2/modules';
export const HAVE_APACHE = fs.existsSync(APACHE_BIN) && fs.existsSync(join(APACHE_MODULES, 'mod_cgid.so'));
const WEB_USER = 'www-data';

export interface ApacheOptions {
  /** Where the config, logs, pid file and cgid socket go (made if missing). */
  dir: string;
  /** URL path → CGI program (an executable file with its own #! line). */
  scripts: Record<string, string>;
  /** Environment every CGI program gets (ROQ_RUN_DIR at least). */
  env: Record<string, string>;
  /** URL path → environment for that path's program only, over `env` (two apps' run directories side by side). */
  scriptEnv?: Record<string, Record<string, string>>;
  /** Config files included after these lines, as a server's conf-enabled/ is (the tests include deploy/apache.conf). */
  include?: string[];
  /** 0 or absent: a free port. */
  port?: number;
  /** `/` answers with a redirect to this path (the page), as a site's front page would. */
  home?: string;
  /** Log one line per request to `<dir>/access.log` (method, path and query, status, ms). */
  logRequests?: boolean;
}

export interface Apache {
  url: string;
  port: number;
  errorLog(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Quotes a value for an Apache directive. */
const q = (v: string) => `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function apacheConfig(o: ApacheOptions & { port: number }, asRoot: boolean): string {
  const mod = (name: string, file: string) => `LoadModule ${name}_module ${APACHE_MODULES}/${file}`;
  return [
    '# Written by tools/demo/apache.ts for a private httpd; see deploy/apache.conf for a production one.',
    `ServerRoot ${q(o.dir)}`,
    `PidFile ${q(join(o.dir, 'httpd.pid'))}`,
    `Listen 127.0.0.1:${o.port}`,
    'ServerName 127.0.0.1',
    mod('mpm_event', 'mod_mpm_event.so'),
    mod('authz_core', 'mod_authz_core.so'),
    mod('alias', 'mod_alias.so'),
    mod('env', 'mod_env.so'),
    mod('cgid', 'mod_cgid.so'),
    // mod_log_config is built into Debian's apache2.
    ...(o.logRequests ? [`CustomLog ${q(join(o.dir, 'access.log'))} "%m %U%q -> %>s (%{ms}T ms)"`] : []),
    ...(asRoot ? [`User ${WEB_USER}`, `Group ${WEB_USER}`] : []),
    `ScriptSock ${q(join(o.dir, 'cgid.sock'))}`,
    `ErrorLog ${q(join(o.dir, 'error.log'))}`,
    'LogLevel warn',
    `DocumentRoot ${q(o.dir)}`,
    // Enough threads for the benchmarks' 8–64 connections; mod_cgid forks every CGI process from its daemon.
    'StartServers 2',
    'ServerLimit 4',
    'ThreadsPerChild 32',
    'MaxRequestWorkers 128',
    'KeepAlive On',
    'MaxKeepAliveRequests 0',
    'Timeout 30',
    '<Directory />',
    '  Require all denied',
    '</Directory>',
    ...Object.entries(o.scripts).flatMap(([path, file]) => [
      `ScriptAlias ${path} ${q(file)}`,
      `<Location ${path}>`,
      '  Require all granted',
      // As deploy/apache.conf: httpd ≥ 2.4.59 drops a CGI program's Content-Length unless told to trust it.
      '  SetEnv ap_trust_cgilike_cl 1',
      ...Object.entries(o.scriptEnv?.[path] ?? {}).map(([k, v]) => `  SetEnv ${k} ${q(v)}`),
      '</Location>',
    ]),
    '<Directory ' + q(o.dir) + '>',
    '  Require all granted',
    '</Directory>',
    ...(o.home ? [`RedirectMatch 302 ^/$ ${q(o.home)}`] : []),
    ...Object.entries(o.env).map(([k, v]) => `SetEnv ${k} ${q(v)}`),
    ...(o.include ?? []).map((f) => `Include ${q(f)}`),
    '',
  ].join('\n');
}

async function listening(port: number, child: ChildProcess, errorLog: () => string, timeoutMs: number): Promise<void> {
  const ok = await pollUntil(
    async () => {
      if (child.exitCode !== null)
        throw new Error(`apache2 exited with code ${child.exitCode}: ${errorLog().slice(-2000)}`);
      const up = await new Promise<boolean>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      return up || undefined;
    },
    50,
    Date.now() + timeoutMs,
  );
  if (!ok)
    throw new Error(`apache2 did not listen on 127.0.0.1:${port} within ${timeoutMs} ms: ${errorLog().slice(-2000)}`);
}

/** Starts a private httpd in the foreground (a child of this process) and resolves once it accepts connections. */
export async function startApache(o: ApacheOptions): Promise<Apache> {
  if (!HAVE_APACHE) throw new Error(`Apache httpd is not installed (${APACHE_BIN}); apt-get install apache2`);
  const asRoot = process.getuid?.() === 0;
  fs.mkdirSync(o.dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(o.dir, 0o755); // the web user reads the CGI programs kept here
  if (asRoot) letWebUserThrough(o.dir);
  const port = o.port || (await freePort());
  const conf = join(o.dir, 'httpd.conf');
  fs.writeFileSync(conf, apacheConfig({ ...o, port }, asRoot));
  const errorLog = () => {
    try {
      return fs.readFileSync(join(o.dir, 'error.log'), 'utf8');
    } catch {
      return '';
    }
  };
  const child = spawn(APACHE_BIN, ['-f', conf, '-DFOREGROUND'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/bin', LANG: 'C' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  try {
    await listening(port, child, () => stderr + errorLog(), 15_000);
  } catch (e) {
    child.kill('SIGKILL');
    throw e;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    errorLog,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Writes an executable CGI program into `dir`: `body` (a bundle, or a script) under a #! line naming
 * `interpreter` by absolute path, so that no `env` lookup is paid per request.
 */
export function writeCgi(dir: string, name: string, interpreter: string, body: string): string {
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  const path = join(dir, name);
  fs.writeFileSync(path, `#!${interpreter}\n${body.startsWith('#!') ? body.slice(body.indexOf('\n') + 1) : body}`, {
    mode: 0o755,
  });
  fs.chmodSync(path, 0o755);
  return path;
}

/**
 * A new directory that the web server's user can enter and read: mkdtemp (0700) opened to 0755, its parents in the
 * temporary directory made passable. What Apache runs goes here, never into the checkout: a clone may sit in a
 * 0700 home directory (Debian 12's default), which www-data cannot enter.
 */
export function makeWebDir(prefix: string): string {
  const dir = fs.mkdtempSync(join(tmpdir(), prefix));
  fs.chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) letWebUserThrough(dir);
  return dir;
}

/**
 * Puts a file or a directory tree at `to` for the web server's user: hard links where the file system allows
 * (no copy of the data files), copies otherwise; directories are made 0755. Returns `to`.
 */
export function installForWeb(from: string, to: string): string {
  const st = fs.statSync(from);
  if (st.isDirectory()) {
    fs.mkdirSync(to, { recursive: true, mode: 0o755 });
    for (const name of fs.readdirSync(from)) installForWeb(join(from, name), join(to, name));
    return to;
  }
  fs.mkdirSync(join(to, '..'), { recursive: true, mode: 0o755 });
  try {
    fs.linkSync(from, to);
  } catch {
    fs.copyFileSync(from, to);
    fs.chmodSync(to, st.mode & 0o777);
  }
  return to;
}

/**
 * Makes a run directory the web server's CGI programs can use: group www-data, setgid and sticky, 3730, so that
 * they may write REQUESTS and make their answer FIFOs, whose group the daemon (root here, a member of www-data in
 * production) may write, but neither list, remove nor rename what others made (docs/SECURITY.md). Without root, a
 * plain 0700 directory of this user does.
 */
export function makeWebRunDir(path: string): string {
  fs.mkdirSync(path, { recursive: true });
  if (process.getuid?.() === 0) {
    fs.chownSync(path, 0, webGid());
    fs.chmodSync(path, 0o3730);
    letWebUserThrough(path);
  }
  return path;
}

/**
 * mkdtemp makes 0700 directories, which the web user cannot pass through: parents of `path` inside the temporary
 * directory get search permission for others. Nothing outside it is touched.
 */
export function letWebUserThrough(path: string): void {
  const tmp = fs.realpathSync(tmpdir());
  for (let p = fs.realpathSync(join(path, '..')); p.startsWith(tmp + '/'); p = join(p, '..')) {
    const mode = fs.statSync(p).mode & 0o7777;
    if ((mode & 0o001) === 0) fs.chmodSync(p, mode | 0o711);
  }
}

function webUid(): number {
  const line = fs
    .readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${WEB_USER}:`));
  if (!line) throw new Error(`no user ${WEB_USER} in /etc/passwd`);
  return Number(line.split(':')[2]);
}

function webGid(): number {
  const line = fs
    .readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${WEB_USER}:`));
  if (!line) throw new Error(`no group ${WEB_USER} in /etc/group`);
  return Number(line.split(':')[2]);
}

/** The modules deploy/apache.conf's cache block needs, as LoadModule lines for a private httpd. */
export const CACHE_MODULES = [
  ['cache', 'mod_cache.so'],
  ['cache_disk', 'mod_cache_disk.so'],
].map(([name, file]) => `LoadModule ${name}_module ${APACHE_MODULES}/${file}`);

/**
 * deploy/apache.conf's commented cache block, uncommented, for the path `location` instead of /departures and with
 * the cache in `cacheRoot` (made here, for the web server's user): what an admin enables, so the tests and the
 * bench run the very lines the deployment ships.
 */
export function deployedCacheBlock(deployConf: string, location: string, cacheRoot: string): string {
  fs.mkdirSync(cacheRoot, { recursive: true, mode: 0o755 });
  if (process.getuid?.() === 0) fs.chownSync(cacheRoot, webUid(), webGid());
  const text = fs.readFileSync(deployConf, 'utf8');
  const start = text.indexOf('# BEGIN cache');
  const end = text.indexOf('# END cache');
  if (start < 0 || end < start) throw new Error(`${deployConf} has no '# BEGIN cache' … '# END cache' block`);
  return text
    .slice(start, end)
    .split('\n')
    .filter((l) => /^#(?:\S| {4})/.test(l)) // config lines; prose is '# ' and a word
    .map((l) =>
      l
        .replace(/^#/, '')
        .replace(/\/departures\b/g, location)
        .replace(/\/var\/cache\/apache2\/mod_cache_disk/g, cacheRoot),
    )
    .join('\n');
}
