/**
 * `npm run demo` as a new user runs it, through real processes: dist/demo.js starting a real daemon and serving
 * the page through a private Apache httpd (when installed) or the built-in CGI host. It serves `/departures` and
 * redirects `/` there, prints one line per request, stops the web server and the daemon on SIGTERM and on a Ctrl-C
 * while its output is piped into `tee`, refuses a port that is taken, opens a day inside the data when today is
 * outside it, and works from a checkout in a 0700 directory (Debian 12's home directories), which Apache's user
 * cannot enter. `--app DIR` serves another app the same way (the MAC vendor sample). Every test kills what it
 * started, also when it fails. Build first; `npm test` does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_APACHE } from '../tools/demo/apache.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { makeRunDir, pidOf, ROOT, waitFor } from './helpers/daemon.js';
import { tempDir } from './helpers/temp.js';

const KINDS = HAVE_APACHE ? ['apache', 'builtin'] : ['builtin'];
const QUERY = 'stop=102&date=2026-11-02&after=08:00&limit=3';

interface Demo {
  child: ChildProcess;
  output(): string;
  /** The page's URL, once the demo serves. */
  url(): Promise<string>;
  exited: Promise<number | null>;
  /** The private Apache's pid, read while it runs (apache only). */
  httpdPid(): number | undefined;
}

const alive = (pid: number | undefined) => {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * Starts the demo in a process group of its own, as a shell starts a job; with `tee`, its output is piped into
 * `tee LOG`, the two sharing the group, as `npm run demo | tee log` in a terminal.
 */
/**
 * The demos' temporary directory: a demo removes its web directory when it stops, but one a test kills, or one
 * stopped before it could, leaves it there; this file's directory goes after its tests (helpers/temp.ts).
 */
const DEMO_TMP = tempDir('roq-demotest-');
// Apache's CGI programs (www-data) pass through it to the demo's web directory, as through /tmp.
fs.chmodSync(DEMO_TMP, 0o711);

function startDemo(env: Record<string, string>, o: { tee?: string; demo?: string; args?: string[] } = {}): Demo {
  const demo = o.demo ?? join(ROOT, 'dist/demo.js');
  env = { TMPDIR: DEMO_TMP, ...env };
  const child = o.tee
    ? spawn('/bin/sh', ['-c', `"${process.execPath}" "${demo}" 2>&1 | tee "${o.tee}"`], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      })
    : spawn(process.execPath, [demo, ...(o.args ?? [])], {
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
  let output = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (output += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (output += c));
  const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
  let httpd: number | undefined;
  return {
    child,
    output: () => output,
    exited,
    url: () => waitFor('the demo URL', () => /roq demo: (http:\/\/127\.0\.0\.1:\d+\/\S*)/.exec(output)?.[1], 30_000),
    httpdPid() {
      const dir = /error log (\S+)\/error\.log/.exec(output)?.[1];
      try {
        if (dir && httpd === undefined) httpd = Number(fs.readFileSync(join(dir, 'httpd.pid'), 'utf8'));
      } catch {
        /* not written yet, or removed with the demo's directory */
      }
      return httpd;
    },
  };
}

/** Kills whatever a demo left: its process group (the demo, tee, a private Apache), and its daemon. */
function killAll(demo: Demo, run?: string): void {
  try {
    process.kill(-demo.child.pid!, 'SIGKILL');
  } catch {
    /* the group is gone */
  }
  const httpd = demo.httpdPid();
  if (alive(httpd)) process.kill(httpd!, 'SIGKILL');
  const where = run ?? /daemon on (\S+);/.exec(demo.output())?.[1];
  const daemon = where ? pidOf(where) : undefined;
  if (alive(daemon)) process.kill(daemon!, 'SIGKILL');
}

const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<string>((r) => setTimeout(() => r(`not within ${ms} ms`), ms))]);

describe.each(KINDS)('the demo (%s)', (httpd) => {
  it('serves /departures, redirects / there, prints one line per request, and stops its daemon on SIGTERM', async () => {
    const run = makeRunDir();
    const demo = startDemo({ PORT: '0', ROQ_DEMO_RUN: run, ROQ_DEMO_HTTPD: httpd });
    try {
      const url = await demo.url();
      expect(new URL(url).pathname).toBe('/departures');
      const origin = new URL(url).origin;
      const page = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<h1>Long Island Rail Road</h1>');
      const home = await fetch(`${origin}/`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      expect(home.status).toBe(302);
      expect(home.headers.get('location')).toMatch(
        /^(http:\/\/127\.0\.0\.1:\d+)?\/departures(\?date=\d{4}-\d\d-\d\d)?$/,
      );
      expect((await fetch(`${origin}/`, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
      const json = await fetch(`${url}?${QUERY}&format=json`, { signal: AbortSignal.timeout(10_000) });
      expect(json.status).toBe(200);
      expect(((await json.json()) as { rows: unknown[] }).rows).toHaveLength(3);
      const bad = await fetch(`${url}?stop=202&date=2026-02-30`, { signal: AbortSignal.timeout(10_000) });
      expect(bad.status).toBe(400);
      // One line per request: method, path and query, status.
      await waitFor(
        'the request lines',
        () => /GET \/departures\?stop=202&date=2026-02-30 -> 400/.test(demo.output()),
        5000,
      );
      expect(demo.output()).toMatch(/GET \/ -> 302/);
      expect(demo.output()).toContain(`GET /departures?${QUERY}&format=json -> 200`);
      const daemonPid = pidOf(run);
      expect(alive(daemonPid)).toBe(true);
      const httpdPid = demo.httpdPid();
      demo.child.kill('SIGTERM');
      expect(await within(demo.exited, 15_000)).toBe(0);
      expect(pidOf(run)).toBeUndefined();
      await waitFor('the daemon to exit', () => !alive(daemonPid), 5000);
      if (httpd === 'apache') await waitFor('Apache to exit', () => !alive(httpdPid), 5000);
    } finally {
      killAll(demo, run);
      fs.rmSync(run, { recursive: true, force: true });
    }
  }, 60_000);

  it('Ctrl-C while its output is piped into tee stops the web server and the daemon', async () => {
    const run = makeRunDir();
    const log = join(run, '..', `${run.split('/').pop()}-tee.log`);
    const demo = startDemo({ PORT: '0', ROQ_DEMO_RUN: run, ROQ_DEMO_HTTPD: httpd }, { tee: log });
    try {
      const url = await demo.url();
      expect((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
      const daemonPid = pidOf(run);
      const httpdPid = demo.httpdPid();
      expect(alive(daemonPid)).toBe(true);
      // What a terminal does on Ctrl-C: SIGINT to the whole foreground job (the demo, tee, Apache).
      process.kill(-demo.child.pid!, 'SIGINT');
      await waitFor('the daemon to stop', () => !alive(daemonPid), 15_000);
      if (httpd === 'apache') await waitFor('Apache to stop', () => !alive(httpdPid), 15_000);
      await within(demo.exited, 15_000);
    } finally {
      killAll(demo, run);
      fs.rmSync(run, { recursive: true, force: true });
      fs.rmSync(log, { force: true });
    }
  }, 60_000);

  it('a second demo on a port that is taken says so and exits non-zero, leaving nothing running', async () => {
    const run = makeRunDir();
    const second = makeRunDir();
    const first = startDemo({ PORT: '0', ROQ_DEMO_RUN: run, ROQ_DEMO_HTTPD: httpd });
    let other: Demo | undefined;
    try {
      const url = await first.url();
      other = startDemo({ PORT: new URL(url).port, ROQ_DEMO_RUN: second, ROQ_DEMO_HTTPD: httpd });
      const code = await within(other.exited, 30_000);
      expect(code).not.toBe(0);
      expect(typeof code).toBe('number');
      expect(other.output()).toContain(`127.0.0.1:${new URL(url).port} is taken`);
      expect(other.output()).not.toContain('roq demo: http');
      expect(pidOf(second)).toBeUndefined();
      expect((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status).toBe(200);
    } finally {
      killAll(first, run);
      if (other) killAll(other, second);
      fs.rmSync(run, { recursive: true, force: true });
      fs.rmSync(second, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.each(KINDS)('the demo of another app: --app examples/mac-vendors (%s)', (httpd) => {
  it('builds the app, serves its queries below /mac-vendors with its own CGI program, and stops its daemon on SIGTERM', async () => {
    // A copy named as in the repository (the page is named after the app's directory); the build goes into it.
    const base = fs.mkdtempSync(join(tmpdir(), 'roq-demo-app-'));
    const app = join(base, 'mac-vendors');
    const copy = copyApp(MAC_APP);
    fs.renameSync(copy, app);
    fs.copyFileSync(join(MAC_APP, 'app.json'), join(app, 'app.json'));
    const run = makeRunDir();
    const demo = startDemo(
      { PORT: '0', ROQ_DEMO_RUN: run, ROQ_DEMO_HTTPD: httpd },
      { args: ['--app', app, '--data', MAC_DATA] },
    );
    try {
      const url = await demo.url();
      expect(new URL(url).pathname).toBe('/mac-vendors');
      expect(fs.existsSync(join(app, '.roq/dist/roq.cgi'))).toBe(true);
      const origin = new URL(url).origin;
      const index = await fetch(`${origin}/`, { signal: AbortSignal.timeout(10_000) });
      expect(index.status).toBe(200);
      expect(await index.text()).toContain('<a href="/mac-vendors/vendor">vendor</a>');
      const json = await fetch(`${url}/vendor?mac=00:50:C2:7D:51:23&format=json`, {
        signal: AbortSignal.timeout(10_000),
      });
      expect(json.status).toBe(200);
      expect(((await json.json()) as { rows: { assignment: string }[] }).rows.map((r) => r.assignment)).toEqual([
        '0050C27D5',
        '0050C2',
      ]);
      const page = await fetch(`${url}/vendors?q=cern&limit=1`, { signal: AbortSignal.timeout(10_000) });
      expect(await page.text()).toContain('<dt>Organization</dt><dd>CERN</dd>');
      const bad = await fetch(`${url}/vendor?mac=xyz`, { signal: AbortSignal.timeout(10_000) });
      expect(bad.status).toBe(400);
      expect(await bad.text()).toContain('mac');
      await waitFor('the request lines', () => /GET \/mac-vendors\/vendor\?mac=xyz -> 400/.test(demo.output()), 5000);
      expect(await fetch(`${origin}/departures`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status)).toBe(
        404,
      );
      const daemonPid = pidOf(run);
      expect(alive(daemonPid)).toBe(true);
      demo.child.kill('SIGTERM');
      expect(await within(demo.exited, 15_000)).toBe(0);
      await waitFor('the daemon to exit', () => !alive(daemonPid), 5000);
    } finally {
      killAll(demo, run);
      fs.rmSync(run, { recursive: true, force: true });
      fs.rmSync(base, { recursive: true, force: true });
    }
  }, 120_000);
});

describe('the demo and the data’s dates', () => {
  it('opens a day inside the data when today is outside it, and says so', async () => {
    // TINY_FEED's services run in 2025: today is after them wherever this runs.
    const run = makeRunDir();
    const demo = startDemo({
      PORT: '0',
      ROQ_DEMO_RUN: run,
      ROQ_DEMO_HTTPD: 'builtin',
      ROQ_DEMO_DATA: writeFeed(TINY_FEED),
    });
    try {
      const url = await demo.url();
      expect(demo.output()).toMatch(
        /the data covers 2025-01-01 to 2025-12-31, and today \(\d{4}-\d\d-\d\d\) is outside it: \/ opens the board of 2025-12-31/,
      );
      const home = await fetch(`${new URL(url).origin}/`, { redirect: 'manual', signal: AbortSignal.timeout(10_000) });
      expect(home.headers.get('location')).toBe('/departures?date=2025-12-31');
    } finally {
      killAll(demo, run);
      fs.rmSync(run, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.skipIf(!HAVE_APACHE)('the demo from a checkout in a 0700 directory (Debian 12 home directories)', () => {
  it('serves the page through Apache, whose user cannot enter the checkout', async () => {
    const home = fs.mkdtempSync(join(tmpdir(), 'roq-home-')); // 0700, like /home/alice on Debian 12
    // The demo's own temporary directory lies elsewhere, as /tmp does beside /home: nothing may open the home.
    const tmp = fs.mkdtempSync(join(tmpdir(), 'roq-tmp-'));
    fs.chmodSync(tmp, 0o1777);
    const checkout = join(home, 'roq');
    fs.mkdirSync(checkout);
    // What the demo runs: the built programs (hard links, nothing copied) and the sample data.
    for (const f of fs.readdirSync(join(ROOT, 'dist'))) {
      if (fs.statSync(join(ROOT, 'dist', f)).isFile())
        (fs.mkdirSync(join(checkout, 'dist'), { recursive: true }),
          fs.linkSync(join(ROOT, 'dist', f), join(checkout, 'dist', f)));
    }
    fs.symlinkSync(join(ROOT, 'data'), join(checkout, 'data'));
    expect(fs.statSync(home).mode & 0o777).toBe(0o700);
    const demo = startDemo(
      { PORT: '0', ROQ_DEMO_HTTPD: 'apache', TMPDIR: tmp },
      { demo: join(checkout, 'dist/demo.js') },
    );
    try {
      const url = await demo.url();
      const page = await fetch(`${url}?${QUERY}&query=departures`, { signal: AbortSignal.timeout(10_000) });
      expect(page.status, demo.output()).toBe(200);
      expect(await page.text()).toContain('<caption>3 departures</caption>');
      expect(fs.statSync(home).mode & 0o777).toBe(0o700);
      demo.child.kill('SIGTERM');
      expect(await within(demo.exited, 15_000)).toBe(0);
    } finally {
      killAll(demo);
      fs.rmSync(home, { recursive: true, force: true });
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 60_000);
});
