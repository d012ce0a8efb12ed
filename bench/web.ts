/**
 * The web path side by side, through a private Apache httpd (mod_cgid) on 127.0.0.1, loaded with autocannon: the
 * same departures query on the sample feed from
 *
 *  - hello-world CGI programs in sh and Node: the floor of each runtime under CGI;
 *  - roq's CGI program under Node (a relay: the daemon renders the page);
 *  - a naive CGI program that parses the CSV files on every request (what the original C program did);
 *  - a CGI program querying the same feed in SQLite through better-sqlite3 (what a user would pick instead).
 *
 * Ratios are to the hello-world of the same runtime measured in the same run. Every run is bounded in time.
 */
import autocannon from 'autocannon';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HAVE_APACHE, installForWeb, makeWebRunDir, startApache, writeCgi } from '../tools/demo/apache.js';
import { ms, summary } from './stats.js';

export interface WebResult {
  name: string;
  path: string;
  /** The hello-world this is compared with: the same runtime, started the same way. */
  runtime: 'sh' | 'node';
  reqPerSec: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

type Say = (line?: string) => void;

const QUERY = 'stop=102&date=2026-11-02&after=08:00&format=json';

export function cannon(url: string, connections: number, seconds: number): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration: seconds, timeout: 20 }, (err, result) =>
      err ? reject(err) : resolve(result),
    );
  });
}

export interface WebSetup {
  root: string;
  base: string;
  data: string;
  sqliteDb: string;
  connections: number;
  seconds: number;
  startDaemon(run: string): void;
  stopDaemon(run: string): void;
}

export async function webBench(o: WebSetup, say: Say): Promise<WebResult[] | undefined> {
  if (!HAVE_APACHE) {
    say('## Through Apache: skipped (apache2 is not installed; `apt-get install apache2`)');
    say();
    return undefined;
  }
  const run = makeWebRunDir(join(o.base, 'run'));
  o.startDaemon(run);
  // Everything Apache's user runs or reads lives under base/web, not in the checkout, which may be in a 0700 home
  // directory it cannot enter: the feed the naive program parses, the SQLite program's addon.
  const web = join(o.base, 'web');
  const data = installForWeb(o.data, join(web, 'data'));
  for (const m of ['better-sqlite3', 'bindings', 'file-uri-to-path'])
    installForWeb(join(o.root, 'node_modules', m), join(web, 'node_modules', m));
  const node = process.execPath;
  const cgiDir = join(web, 'cgi-bin');
  const dist = (f: string) => readFileSync(join(o.root, 'dist', f), 'utf8');
  const hello = 'Content-Type: text/plain\\n\\nhello\\n';
  const programs: { name: string; path: string; runtime: WebResult['runtime']; file: string }[] = [
    {
      name: 'hello-world, sh',
      path: '/hello-sh',
      runtime: 'sh',
      file: writeCgi(cgiDir, 'hello.sh', '/bin/sh', `printf '${hello}'\n`),
    },
    {
      name: 'hello-world, Node',
      path: '/hello-node',
      runtime: 'node',
      file: writeCgi(cgiDir, 'hello-node.cgi', node, `require('fs').writeSync(1, '${hello}');\n`),
    },
    {
      name: 'roq CGI, Node',
      path: '/roq',
      runtime: 'node',
      file: writeCgi(cgiDir, 'roq-node.cgi', node, dist('roq.cgi')),
    },
    {
      name: 'naive CSV CGI, Node (parses per request)',
      path: '/naive',
      runtime: 'node',
      file: writeCgi(cgiDir, 'naive.cgi', node, dist('naive.cgi')),
    },
    {
      name: 'SQLite CGI, Node (better-sqlite3)',
      path: '/sqlite',
      runtime: 'node',
      file: writeCgi(cgiDir, 'sqlite.cgi', node, dist('sqlite.cgi')),
    },
  ];
  const apache = await startApache({
    dir: join(o.base, 'web'),
    scripts: Object.fromEntries(programs.map((p) => [p.path, p.file])),
    // NODE_PATH: the SQLite program requires better-sqlite3, a native addon, from web/node_modules.
    env: {
      ROQ_RUN_DIR: run,
      ROQ_DATA_DIR: data,
      ROQ_SQLITE_DB: o.sqliteDb,
      NODE_PATH: join(web, 'node_modules'),
      PATH: '/usr/bin:/bin',
      ROQ_CGI_TIMEOUT_MS: '10000',
    },
  });
  const results: WebResult[] = [];
  const single: { name: string; p50: number; p99: number; reqPerSec: number }[] = [];
  let pairs: number[] = [];
  try {
    for (const p of programs) {
      const url = `${apache.url}${p.path}?${QUERY}`;
      const probe = await fetch(url);
      const body = await probe.text();
      if (probe.status !== 200)
        throw new Error(`${p.name}: HTTP ${probe.status}: ${body.slice(0, 300)} ${apache.errorLog().slice(-500)}`);
      // The naive program needs about a third of a second a request: a short run would see none finish.
      const r = await cannon(url, o.connections, p.path === '/naive' ? Math.max(o.seconds, 5) : o.seconds);
      results.push({
        name: p.name,
        path: p.path,
        runtime: p.runtime,
        reqPerSec: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      });
    }
    // Latency unloaded: one connection, so no request waits for a core (at 8, the two cores are saturated and
    // latency is connections ÷ throughput).
    for (const p of programs.filter((x) => x.path === '/roq' || x.path === '/hello-node')) {
      const r = await cannon(`${apache.url}${p.path}?${QUERY}`, 1, Math.max(1, Math.round(o.seconds / 2)));
      single.push({ name: p.name, p50: r.latency.p50, p99: r.latency.p99, reqPerSec: r.requests.average });
    }
    pairs = await interleavedRatios(apache.url, o.connections, o.seconds > 1 ? 3 : 1, o.seconds);
  } finally {
    await apache.stop();
    o.stopDaemon(run);
  }
  const floor = (rt: WebResult['runtime']) => results.find((r) => r.name.startsWith('hello') && r.runtime === rt)!;
  const roq = results.find((r) => r.path === '/roq')!;
  say(`## Through Apache httpd (mod_cgid), ${o.connections} connections, ${o.seconds} s each, autocannon`);
  say('The departures query of the sample feed (`' + QUERY + '`); every program answers the same JSON. Ratios: to the');
  say('hello-world CGI of the same runtime (the floor), and to roq.');
  say();
  say('| program | req/s | p50 | p99 | against hello-world, same runtime | roq is faster by | errors |');
  say('|---|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    const f = floor(r.runtime);
    say(
      `| ${r.name} | ${r.reqPerSec.toFixed(0)} | ${ms(r.p50, 0)} ms | ${ms(r.p99, 0)} ms | ${r === f ? '1× (floor)' : `${((r.reqPerSec / f.reqPerSec) * 100).toFixed(0)} % of its req/s`} | ` +
        `${r.name.startsWith('hello') || r === roq ? '' : r.reqPerSec > 0 ? `${(roq.reqPerSec / r.reqPerSec).toFixed(1)}×` : '–'} | ${r.non2xx + r.errors} |`,
    );
  }
  say();
  say('At 1 connection (nothing waits for a core):');
  say();
  say('| program | req/s | p50 | p99 |');
  say('|---|---:|---:|---:|');
  for (const r of single) say(`| ${r.name} | ${r.reqPerSec.toFixed(0)} | ${ms(r.p50, 0)} ms | ${ms(r.p99, 0)} ms |`);
  say();
  say(
    `roq CGI against the Node hello-world, ${pairs.length} interleaved pairs of ${o.seconds} s at ` +
      `${o.connections} connections: ${pairs.map((r) => `${(r * 100).toFixed(0)} %`).join(', ')} ` +
      `(median ${(summary(pairs).p50 * 100).toFixed(0)} %; aim ≥ 90 %).`,
  );
  say();
  return results;
}

/**
 * The headline ratio once more, measured in pairs run back to back (hello-world, then roq, then the next pair in
 * the other order): on a shared machine the load moves between the table's runs, which are several programs
 * apart, and a pair sees nearly the same load for both.
 */
async function interleavedRatios(url: string, connections: number, rounds: number, seconds: number): Promise<number[]> {
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const order = i % 2 ? ['/roq', '/hello-node'] : ['/hello-node', '/roq'];
    const rate: Record<string, number> = {};
    for (const path of order)
      rate[path] = (await cannon(`${url}${path}?${QUERY}`, connections, seconds)).requests.average;
    ratios.push(rate['/hello-node']! > 0 ? rate['/roq']! / rate['/hello-node']! : 0);
  }
  return ratios;
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
    r.name.startsWith('roq') ? '#1f6feb' : r.name.startsWith('hello') ? '#8c959f' : '#d1242f';
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
