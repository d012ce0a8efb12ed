/**
 * The web ladder, through a private Apache httpd (mod_cgid) on 127.0.0.1, in one run: what CGI itself allows and
 * where roq stands on it.
 *
 *  - a C "hello" (write one line, exit): the floor of any per-request program, and the 100 % of every ratio;
 *  - a /bin/sh "hello";
 *  - the relay (dist/roq-relay) with the daemon on the sample feed: departures as JSON, and the board page;
 *  - the relay with the MAC vendors app's daemon: its generic front end (a results page);
 *  - the JSON URL once more with deploy/apache.conf's cache block enabled: answered by Apache from its cache.
 *
 * Rounds are interleaved (each round runs every rung, in an order that turns round by round), so that the load of a
 * shared machine falls on all rungs alike; each rung's ratio to the C hello is taken within its round. Then one
 * connection, for latency with nothing waiting for a core. wrk drives the load (autocannon when wrk is missing).
 * Every run is bounded in time.
 */
import autocannon from 'autocannon';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CACHE_MODULES,
  deployedCacheBlock,
  HAVE_APACHE,
  installForWeb,
  makeWebRunDir,
  startApache,
  writeCgi,
} from '../tools/demo/apache.js';
import { relayFloor } from './relay-floor.js';
import { ms, summary } from './stats.js';

export interface WebResult {
  name: string;
  path: string;
  /** Median over the rounds. */
  reqPerSec: number;
  p50: number;
  p99: number;
  /** Median over the rounds of req/s ÷ the C hello's req/s in the same round. */
  ratio: number;
  bad: number;
  /** CPU time the rung's daemon spent per request (all its threads), median over the rounds; none without one. */
  daemonCpuMs?: number;
}

type Say = (line?: string) => void;

const QUERY = 'stop=102&date=2026-11-02&after=08:00';
const HAVE_WRK = existsSync('/usr/bin/wrk');

/** autocannon, for bench/cluster.ts and where wrk is missing. */
export function cannon(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, timeout: 20 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

interface Load {
  reqPerSec: number;
  /** Requests completed in the run. */
  requests: number;
  p50: number;
  p99: number;
  /** Non-2xx/3xx answers and socket errors. */
  bad: number;
}

/** wrk's latency in ms from its text ('812.00us', '3.21ms', '1.02s'). */
function wrkMs(text: string): number {
  const m = /^([0-9.]+)(us|ms|s)$/.exec(text);
  if (!m) return NaN;
  const v = Number(m[1]);
  return m[2] === 'us' ? v / 1000 : m[2] === 's' ? v * 1000 : v;
}

function wrk(url: string, connections: number, seconds: number): Promise<Load> {
  return new Promise((resolve, reject) => {
    const args = ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', '--timeout', '20s', url];
    const child = spawn('/usr/bin/wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const rate = /Requests\/sec:\s+([0-9.]+)/.exec(out);
      if (code !== 0 || !rate) return reject(new Error(`wrk ${args.join(' ')} failed (${code}): ${out}`));
      const pct = (p: string) => wrkMs(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(out)?.[1] ?? '');
      const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
      const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
      const errors = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
      const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
      resolve({ reqPerSec: Number(rate[1]), requests, p50: pct('50'), p99: pct('99'), bad: non2xx + errors });
    });
  });
}

async function load(url: string, connections: number, seconds: number): Promise<Load> {
  if (HAVE_WRK) return wrk(url, connections, seconds);
  const r = await cannon(url, connections, seconds);
  return {
    reqPerSec: r.requests.average,
    requests: r.requests.total,
    p50: r.latency.p50,
    p99: r.latency.p99,
    bad: r.non2xx + r.errors,
  };
}

export interface WebSetup {
  root: string;
  base: string;
  data: string;
  connections: number;
  seconds: number;
  rounds: number;
  startDaemon(run: string, args: string[]): void;
  stopDaemon(run: string): void;
}

interface Rung {
  name: string;
  /** URL path and query. */
  url: string;
  /** The response must contain this (a rung that answers an error page would measure the wrong thing). */
  expect: string;
  /** The run directory of the daemon that renders this rung's pages. */
  daemon?: string;
}

/** CPU time (user + system, all threads) a daemon has used so far, in ms, from /proc; undefined if unreadable. */
function daemonCpuMs(run: string): number | undefined {
  try {
    const pid = readFileSync(join(run, 'daemon', 'roq.pid'), 'utf8').trim();
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // clock ticks: 100 a second on Linux
  } catch {
    return undefined;
  }
}

const HELLO = 'Content-Type: text/plain\\n\\nhello\\n';

/** The C hello: the least a CGI program can do. Compiled with the relay's flags. */
function compileHello(root: string, dir: string): string {
  const src = join(dir, 'hello.c');
  writeFileSync(
    src,
    `#include <unistd.h>\nint main(void) { static const char m[] = "${HELLO}"; return write(1, m, sizeof m - 1) < 0; }\n`,
  );
  const out = join(dir, 'hello-c');
  const flags = JSON.parse(readFileSync(join(root, 'scripts/relay-cflags.json'), 'utf8')) as string[];
  const r = spawnSync(process.env.CC || 'cc', [...flags, '-s', '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`cc hello.c failed: ${r.stderr}`);
  return out;
}

/** A copy of the MAC vendors app (its schemas, queries, templates and app.json) for its own daemon. */
function macApp(root: string, base: string): { app: string; data: string } {
  const from = join(root, 'examples/mac-vendors');
  const app = join(base, 'mac-app');
  for (const d of ['schemas', 'queries', 'templates', 'app.json'])
    if (existsSync(join(from, d))) cpSync(join(from, d), join(app, d), { recursive: true });
  cpSync(join(from, 'app.json'), join(app, 'app.json'));
  return { app, data: join(from, 'data') };
}

/** The rungs, and an Apache serving them: two daemons (the sample feed, the MAC app) behind one relay binary. */
async function ladder(o: WebSetup) {
  const web = join(o.base, 'web');
  const cgiBin = join(web, 'cgi-bin');
  mkdirSync(cgiBin, { recursive: true });
  const relay = installForWeb(join(o.root, 'dist/roq-relay'), join(cgiBin, 'roq-relay'));
  const gtfsRun = makeWebRunDir(join(o.base, 'run'));
  const mac = macApp(o.root, o.base);
  const macRun = makeWebRunDir(join(o.base, 'mac-run'));
  o.startDaemon(gtfsRun, ['--data', o.data, '--workers', '2']);
  o.startDaemon(macRun, ['--app', mac.app, '--data', mac.data, '--workers', '2']);
  const hello = compileHello(o.root, o.base);
  const cacheConf = join(web, 'cache.conf');
  writeFileSync(
    cacheConf,
    [...CACHE_MODULES, deployedCacheBlock(join(o.root, 'deploy/apache.conf'), '/cached', join(web, 'cache'))].join(
      '\n',
    ),
  );
  const apache = await startApache({
    dir: web,
    scripts: {
      '/hello-c': installForWeb(hello, join(cgiBin, 'hello-c')),
      '/hello-sh': writeCgi(cgiBin, 'hello.sh', '/bin/sh', `printf '${HELLO}'\n`),
      '/roq': relay,
      '/cached': relay,
      '/mac': relay,
    },
    env: { ROQ_RUN_DIR: gtfsRun, ROQ_CGI_TIMEOUT_MS: '10000' },
    scriptEnv: { '/mac': { ROQ_RUN_DIR: macRun } },
    include: [cacheConf],
  });
  const rungs: Rung[] = [
    { name: 'C hello', url: '/hello-c', expect: 'hello' },
    { name: 'sh hello', url: '/hello-sh', expect: 'hello' },
    { name: 'relay, departures as JSON', url: `/roq?${QUERY}&format=json`, expect: '"rows"', daemon: gtfsRun },
    { name: 'relay, the board page', url: `/roq?${QUERY}`, expect: '<table', daemon: gtfsRun },
    { name: 'relay, MAC app generic front end', url: '/mac/vendors?q=cern&limit=5', expect: 'CERN', daemon: macRun },
    { name: 'JSON cached by Apache (mod_cache_disk)', url: `/cached?${QUERY}&format=json`, expect: '"rows"' },
  ];
  const stop = async () => {
    await apache.stop();
    o.stopDaemon(gtfsRun);
    o.stopDaemon(macRun);
  };
  return { apache, rungs, stop, relay, helloExe: hello };
}

/** Checks every rung answers 200 with what it should, and that the cached URL is served from the cache. */
async function probe(url: string, rungs: Rung[], errorLog: () => string): Promise<void> {
  for (const r of rungs) {
    const res = await fetch(url + r.url);
    const body = await res.text();
    if (res.status !== 200 || !body.includes(r.expect))
      throw new Error(`${r.name}: HTTP ${res.status}: ${body.slice(0, 300)} ${errorLog().slice(-500)}`);
  }
  const again = await fetch(url + rungs.at(-1)!.url);
  await again.text();
  if (!/HIT/.test(again.headers.get('x-cache') ?? ''))
    throw new Error(`the cached URL was not served from the cache: X-Cache ${again.headers.get('x-cache')}`);
}

/** The relay's RSS for one request (ru_maxrss of the process, in kB), from a small wait4(2) wrapper. */
function relayRss(root: string, base: string, relay: string, run: string): number | undefined {
  const src = join(base, 'maxrss.c');
  writeFileSync(
    src,
    [
      '#define _DEFAULT_SOURCE',
      '#include <stdio.h>',
      '#include <sys/resource.h>',
      '#include <sys/wait.h>',
      '#include <unistd.h>',
      'int main(int argc, char **argv) {',
      '  (void)argc; pid_t p = fork(); if (p < 0) return 1;',
      '  if (p == 0) { execv(argv[1], argv + 1); _exit(127); }',
      '  int st; struct rusage ru; if (wait4(p, &st, 0, &ru) < 0) return 1;',
      '  fprintf(stderr, "maxrss=%ld\\n", ru.ru_maxrss); return 0; }',
      '',
    ].join('\n'),
  );
  const tool = join(base, 'maxrss');
  const cc = spawnSync(process.env.CC || 'cc', ['-O2', '-o', tool, src], { encoding: 'utf8' });
  if (cc.status !== 0) return undefined;
  const r = spawnSync(tool, [relay], {
    encoding: 'utf8',
    env: { ROQ_RUN_DIR: run, REQUEST_METHOD: 'GET', QUERY_STRING: `${QUERY}`, SCRIPT_NAME: '/roq' },
  });
  if (!r.stdout.includes('<table')) return undefined;
  const m = /maxrss=(\d+)/.exec(r.stderr);
  return m ? Number(m[1]) : undefined;
}

/** One rung's load, with the CPU its daemon spent per request during it (ms). */
type Measured = Load & { cpuMs?: number };

async function measure(url: string, r: Rung, o: WebSetup): Promise<Measured> {
  const before = r.daemon === undefined ? undefined : daemonCpuMs(r.daemon);
  const l = await load(url + r.url, o.connections, o.seconds);
  const after = r.daemon === undefined ? undefined : daemonCpuMs(r.daemon);
  if (before === undefined || after === undefined || l.requests === 0) return l;
  return { ...l, cpuMs: (after - before) / l.requests };
}

async function rounds(url: string, rungs: Rung[], o: WebSetup): Promise<Map<Rung, Measured[]>> {
  const seen = new Map<Rung, Measured[]>(rungs.map((r) => [r, []]));
  for (let i = 0; i < o.rounds; i++) {
    // Each round starts one rung later, so no rung always follows the same one.
    const order = rungs.map((_, k) => rungs[(k + i) % rungs.length]!);
    for (const r of order) seen.get(r)!.push(await measure(url, r, o));
  }
  return seen;
}

export async function webBench(o: WebSetup, say: Say): Promise<WebResult[] | undefined> {
  if (!HAVE_APACHE) {
    say('## Through Apache: skipped (apache2 is not installed; `apt-get install apache2`)');
    say();
    return undefined;
  }
  const { apache, rungs, stop, relay, helloExe } = await ladder(o);
  const results: WebResult[] = [];
  const single: { name: string; p50: number; p99: number; reqPerSec: number }[] = [];
  let rss: number | undefined;
  let floor: { helloMs: number; relayMs: number } | undefined;
  try {
    await probe(apache.url, rungs, apache.errorLog);
    const seen = await rounds(apache.url, rungs, o);
    const hello = seen.get(rungs[0]!)!;
    for (const [r, loads] of seen) {
      const med = (f: (l: Measured) => number) => summary(loads.map(f)).p50;
      results.push({
        name: r.name,
        path: r.url,
        reqPerSec: med((l) => l.reqPerSec),
        p50: med((l) => l.p50),
        p99: med((l) => l.p99),
        ratio: summary(loads.map((l, i) => l.reqPerSec / hello[i]!.reqPerSec)).p50,
        bad: loads.reduce((a, l) => a + l.bad, 0),
        ...(loads[0]!.cpuMs === undefined ? {} : { daemonCpuMs: med((l) => l.cpuMs ?? NaN) }),
      });
    }
    for (const r of rungs.slice(0, 5)) {
      const l = await load(apache.url + r.url, 1, Math.max(1, Math.round(o.seconds / 2)));
      single.push({ name: r.name, ...l });
    }
    rss = relayRss(o.root, o.base, relay, join(o.base, 'run'));
    floor = await relayFloor(helloExe, relay, o.base, o.seconds > 1 ? 300 : 30);
  } finally {
    await stop();
  }
  report(o, results, single, { size: statSync(join(o.root, 'dist/roq-relay')).size, rss, floor }, say);
  return results;
}

function report(
  o: WebSetup,
  results: WebResult[],
  single: { name: string; p50: number; p99: number; reqPerSec: number }[],
  relayFacts: { size: number; rss?: number; floor?: { helloMs: number; relayMs: number } },
  say: Say,
): void {
  say(
    `## The web ladder through Apache httpd (mod_cgid), ${o.connections} connections, ${o.rounds} interleaved ` +
      `round(s) of ${o.seconds} s, ${HAVE_WRK ? 'wrk' : 'autocannon'}`,
  );
  say('Medians over the rounds; the ratio is to the C hello of the same round. Aims: JSON ≥ 70 %, board ≥ 60 %.');
  say();
  say('| rung | req/s | of C hello | p50 | p99 | daemon CPU a request | errors |');
  say('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results)
    say(
      `| ${r.name} | ${r.reqPerSec.toFixed(0)} | ${(r.ratio * 100).toFixed(0)} % | ${ms(r.p50, 2)} ms | ${ms(r.p99, 1)} ms | ` +
        `${r.daemonCpuMs === undefined ? '' : `${r.daemonCpuMs.toFixed(2)} ms`} | ${r.bad} |`,
    );
  say();
  say('At 1 connection (nothing waits for a core). Aims: p50 ≤ 3 ms JSON, ≤ 4 ms board.');
  say();
  say('| rung | req/s | p50 | p99 |');
  say('|---|---:|---:|---:|');
  for (const r of single) say(`| ${r.name} | ${r.reqPerSec.toFixed(0)} | ${ms(r.p50, 2)} ms | ${ms(r.p99, 1)} ms |`);
  say();
  say(
    `The relay: ${(relayFacts.size / 1024).toFixed(1)} kB on disk (aim < 1 MB); ` +
      `${relayFacts.rss === undefined ? 'RSS not measured' : `${(relayFacts.rss / 1024).toFixed(2)} MB RSS for one board request (ru_maxrss; aim < 2 MB)`}.`,
  );
  if (relayFacts.floor)
    say(
      `Spawned directly, against a stub daemon that answers at once (bench/relay-floor.ts): the relay ` +
        `${relayFacts.floor.relayMs.toFixed(2)} ms a request, the C hello ${relayFacts.floor.helloMs.toFixed(2)} ms (medians).`,
    );
  say();
}

/** A horizontal bar chart of requests per second, as SVG (no dependencies; readable in any browser or on GitHub). */
export function webChart(results: WebResult[], title: string): string {
  const w = 760,
    bar = 26,
    gap = 10,
    left = 290,
    top = 48;
  const max = Math.max(...results.map((r) => r.reqPerSec));
  const h = top + results.length * (bar + gap) + 30;
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const colour = (r: WebResult) =>
    r.name.startsWith('relay') ? '#1f6feb' : r.name.includes('hello') ? '#8c959f' : '#2da44e';
  const rows = results
    .map((r, i) => {
      const y = top + i * (bar + gap);
      const len = Math.max(2, ((w - left - 90) * r.reqPerSec) / max);
      return (
        `<text x="${left - 8}" y="${y + bar / 2 + 5}" text-anchor="end">${esc(r.name)}</text>` +
        `<rect x="${left}" y="${y}" width="${len.toFixed(1)}" height="${bar}" fill="${colour(r)}"/>` +
        `<text x="${(left + len + 6).toFixed(1)}" y="${y + bar / 2 + 5}">${r.reqPerSec.toFixed(0)} req/s</text>`
      );
    })
    .join('\n  ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif" font-size="13">
  <rect width="100%" height="100%" fill="#fff"/>
  <text x="${left}" y="24" font-size="15" font-weight="bold">${esc(title)}</text>
  ${rows}
</svg>
`;
}
