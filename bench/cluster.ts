/**
 * Scale-out (`npm run bench -- --only=cluster`): three nodes behind HAProxy on this machine (tools/demo/cluster.ts,
 * the sample feed), measured against one node's own Apache in the same run:
 *  - throughput through HAProxy and directly, with autocannon (every node shares this machine's cores, so the
 *    ratio shows HAProxy's cost, not three machines' worth);
 *  - the skew window (answers of both generations arriving) of deploy/refresh-cluster.sh against a rolling
 *    `roq reload` of the same change, each under the same bounded load through HAProxy, and what a refresh costs
 *    per node (the script's own report of bytes and seconds);
 *  - the share of 304s for a client that keeps ETags and asks the same URLs again.
 * docs/SCALE.md records the results. Every loop is bounded in count and time.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAVE_HAPROXY, SCRIPT_PATH, startCluster, roqCommand, type Cluster } from '../tools/demo/cluster.js';
import { skewWindowMs, startLoad } from '../test/helpers/load.js';
import { cannon } from './web.js';

type Say = (line?: string) => void;

const DEPARTURES = `${SCRIPT_PATH}?stop=102&date=2026-11-02&after=08:00&limit=5&format=json`;
const STOPS = `${SCRIPT_PATH}?q=jamaica&format=json`;

function run(
  cmd: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
    child.on('close', (code) => (clearTimeout(timer), done({ code: code ?? 1, stdout, stderr })));
  });
}

async function hashOf(root: string, runDir: string): Promise<string> {
  const r = await roqCommand(root, ['status', '--json', '--run', runDir]);
  return (JSON.parse(r.output) as { status: { generation: { hash: string } } }).status.generation.hash;
}

async function throughput(c: Cluster, seconds: number, say: Say): Promise<void> {
  say('| target | connections | req/s | p50 ms | p99 ms | not 2xx | errors | load avg |');
  say('|---|---:|---:|---:|---:|---:|---:|---:|');
  const row = async (name: string, url: string, connections: number) => {
    const r = await cannon(url, connections, seconds);
    say(
      `| ${name} | ${connections} | ${r.requests.average.toFixed(0)} | ${r.latency.p50} | ${r.latency.p99} | ${r.non2xx} | ${r.errors + r.timeouts} | ${loadavg()[0]!.toFixed(1)} |`,
    );
    return r.requests.average;
  };
  const one = await row('one node, its Apache directly (baseline)', c.nodes[0]!.url + DEPARTURES, 8);
  const all = await row('HAProxy → 3 nodes', c.url + DEPARTURES, 8);
  await row('HAProxy → 3 nodes', c.url + DEPARTURES, 16);
  say();
  const cores = availableParallelism();
  say(
    `HAProxy → 3 nodes against one node on the same ${cores} cores: ${(all / one).toFixed(2)}×; per core through HAProxy: ${(all / cores).toFixed(0)} req/s.`,
  );
  say();
}

/** The same change of data made twice: with refresh-cluster.sh, then back with a rolling `roq reload`. */
async function skew(root: string, c: Cluster, base: string, seconds: number, say: Say): Promise<void> {
  const next = mkdtempSync(join(base, 'feed-'));
  for (const f of readdirSync(c.nodes[0]!.data)) copyFileSync(join(c.nodes[0]!.data, f), join(next, f));
  writeFileSync(
    join(next, 'stops.txt'),
    readFileSync(join(next, 'stops.txt'), 'utf8').replace(/Jamaica/g, 'Jamaica Center'),
  );
  const before = await hashOf(root, c.nodes[0]!.run);
  const bound = { concurrency: 4, maxRequests: 20_000, maxMs: 120_000 };

  const held = startLoad(c.url + STOPS, bound);
  await new Promise((r) => setTimeout(r, seconds * 500));
  const r = await run(
    'bash',
    [join(root, 'deploy/refresh-cluster.sh'), next, ...c.nodes.map((n) => `local:${n.run}:${n.data}`)],
    { ROQ_BIN: `${process.execPath} ${join(root, 'dist/roq.js')}` },
  );
  await new Promise((r) => setTimeout(r, seconds * 500));
  const heldSamples = await held.stop();
  if (r.code !== 0) throw new Error(`refresh-cluster.sh failed: ${r.stderr}`);
  const after = await hashOf(root, c.nodes[0]!.run);

  const rolling = startLoad(c.url + STOPS, bound);
  await new Promise((r) => setTimeout(r, seconds * 500));
  for (const n of c.nodes) {
    rmSync(n.data);
    symlinkSync('feeds/initial', n.data);
    const rr = await roqCommand(root, ['reload', '--run', n.run]);
    if (rr.code !== 0) throw new Error(`roq reload failed: ${rr.output}`);
  }
  await new Promise((r) => setTimeout(r, seconds * 500));
  const rollingSamples = await rolling.stop();

  say('| refresh of the sample feed (6.9 MB), 3 nodes, 4 clients through HAProxy | skew window | requests | failed |');
  say('|---|---:|---:|---:|');
  const failed = (s: typeof heldSamples) => s.filter((x) => x.status !== 200).length;
  say(
    `| refresh-cluster.sh: hold everywhere, swap all at once | ${skewWindowMs(heldSamples, before, after).toFixed(0)} ms | ${heldSamples.length} | ${failed(heldSamples)} |`,
  );
  say(
    `| rolling \`roq reload\`, node after node (baseline) | ${skewWindowMs(rollingSamples, after, before).toFixed(0)} ms | ${rollingSamples.length} | ${failed(rollingSamples)} |`,
  );
  say();
  say('refresh-cluster.sh reported, per node:');
  say('```');
  for (const line of r.stdout.trim().split('\n')) say(line.replace(base, '…'));
  say('```');
  say();
}

async function notModifiedShare(c: Cluster, say: Say): Promise<void> {
  const known = new Map<string, string>();
  let notModified = 0;
  const total = 200;
  for (let i = 0; i < total; i++) {
    const url = `${c.url}${SCRIPT_PATH}?stop=102&date=2026-11-02&after=${String(6 + (i % 10)).padStart(2, '0')}:00&limit=5&format=json`;
    const etag = known.get(url);
    const res = await fetch(url, etag ? { headers: { 'if-none-match': etag } } : {});
    await res.text();
    if (res.status === 304) notModified++;
    known.set(url, res.headers.get('etag') ?? '');
  }
  say(
    `Repeated requests (10 URLs × 20, the client keeping ETags): ${notModified} of ${total} answered 304 (${((100 * notModified) / total).toFixed(0)} %).`,
  );
  say();
}

export async function clusterBench(o: { root: string; data: string; seconds: number }, say: Say): Promise<void> {
  if (!HAVE_HAPROXY) {
    say('## Cluster: skipped (haproxy is not installed; `apt-get install haproxy`)');
    say();
    return;
  }
  say('## Cluster: three nodes behind HAProxy on this machine (all share its cores)');
  say();
  const base = mkdtempSync(join(tmpdir(), 'roq-bench-cluster-'));
  const c = await startCluster({ base, root: o.root, data: o.data, nodes: 3, workers: 1 });
  try {
    await throughput(c, o.seconds, say);
    await skew(o.root, c, base, o.seconds, say);
    await notModifiedShare(c, say);
  } finally {
    await c.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
