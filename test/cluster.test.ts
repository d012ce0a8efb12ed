/**
 * Three roq nodes behind a real HAProxy (deploy/haproxy.cfg, as `npm run cluster` runs it), each with its own
 * daemon and private Apache, under a bounded load through HAProxy while an admin: (a) refreshes the cluster with
 * deploy/refresh-cluster.sh (every answer matches the generation its X-Roq-Generation names; the window in which
 * both generations were served is measured, and so is a plain rolling `roq reload` for comparison), and watches a
 * refresh that cannot complete change nothing; (b) kills one node's daemon with SIGKILL and stops its Apache, then
 * brings both back; (c) upgrades every node in turn with `roq upgrade`. No client request may fail in any of
 * them. (d) ETag, 304 and Cache-Control, equal on every node. Figures are printed for docs/SCALE.md.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE } from '../tools/demo/apache.js';
import {
  HAVE_HAPROXY,
  HEALTH_URI,
  SCRIPT_PATH,
  startCluster,
  type Cluster,
  type ClusterNode,
} from '../tools/demo/cluster.js';
import { TINY_FEED, writeFeed } from './feeds.js';
import { runToEnd, type RunResult } from './helpers/run.js';
import { ROOT, roqCli, waitFor } from './helpers/daemon.js';
import { skewWindowMs, startLoad, type Sample } from './helpers/load.js';

const NORTH = `${SCRIPT_PATH}?q=north&format=json`;
const LOAD = { concurrency: 4, maxRequests: 5000, maxMs: 60_000 };
const ROQ_BIN = `${process.execPath} ${join(ROOT, 'dist/roq.js')}`;

let cluster: Cluster | undefined;
let base = '';

beforeAll(async () => {
  if (!HAVE_HAPROXY || !HAVE_APACHE) return;
  base = fs.mkdtempSync(join(tmpdir(), 'roq-cluster-'));
  cluster = await startCluster({
    base,
    root: ROOT,
    data: writeFeed(TINY_FEED),
    nodes: 3,
    workers: 1,
    cgiTimeoutMs: 2000,
  });
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
  if (base) fs.rmSync(base, { recursive: true, force: true });
}, 60_000);

/** Waits until `n` more of the load's requests have been answered: the load runs before and after each step. */
async function answered(load: { samples: Sample[] }, n = 20): Promise<void> {
  const from = load.samples.length;
  await waitFor(`${n} more answers under load`, () => load.samples.length >= from + n, 30_000);
}

async function statusOf(
  n: ClusterNode,
): Promise<{ generation: { id: number; hash: string }; reload: { held?: unknown }; served: { ok: number } }> {
  const r = await roqCli(['status', '--json', '--run', n.run]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).status;
}

async function hashes(c: Cluster): Promise<string[]> {
  return Promise.all(c.nodes.map(async (n) => (await statusOf(n)).generation.hash));
}

function refreshCluster(data: string, specs: string[]): Promise<RunResult> {
  return runToEnd('bash', [join(ROOT, 'deploy/refresh-cluster.sh'), data, ...specs], {
    env: { ...process.env, ROQ_BIN: ROQ_BIN },
    timeoutMs: 120_000,
  });
}

const spec = (n: ClusterNode) => `local:${n.run}:${n.data}`;

function feedNamed(name: string): string {
  return writeFeed({ ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', name) });
}

/** Every answer a 200 whose stop name is the one of the generation its X-Roq-Generation names. */
function expectAllCorrect(samples: Sample[], nameOf: Record<string, string>): void {
  const failed = samples.filter((s) => s.status !== 200);
  expect(failed.slice(0, 3), `${failed.length} of ${samples.length} requests failed`).toEqual([]);
  for (const s of samples) {
    expect(Object.keys(nameOf)).toContain(s.generation);
    expect((JSON.parse(s.body) as { rows: { stop_name: string }[] }).rows[0]?.stop_name).toBe(nameOf[s.generation!]);
  }
}

function report(what: string, samples: Sample[], extra = ''): void {
  const failed = samples.filter((s) => s.status !== 200).length;
  const secs = (Math.max(...samples.map((s) => s.received)) - Math.min(...samples.map((s) => s.sent))) / 1000;
  console.log(
    `[cluster] ${what}: ${samples.length} requests sent, ${failed} failed, ${(samples.length / secs).toFixed(0)} req/s through HAProxy${extra}`,
  );
}

describe.skipIf(!HAVE_HAPROXY || !HAVE_APACHE)('three nodes behind HAProxy', () => {
  it('(a) refresh-cluster.sh: every node swaps to the new hash, every answer matches its X-Roq-Generation, none fails; then a rolling reload for comparison', async () => {
    const c = cluster!;
    const [before] = new Set(await hashes(c));
    const next = feedNamed('North Park Two');
    const load = startLoad(c.url + NORTH, LOAD);
    await answered(load);
    const r = await refreshCluster(next, c.nodes.map(spec));
    await answered(load);
    const samples = await load.stop();
    expect(r.code, r.stderr).toBe(0);
    const after = await hashes(c);
    expect(new Set(after).size).toBe(1);
    expect(after[0]).not.toBe(before);
    expect(r.stdout).toContain(`3 nodes serve ${after[0]}`);
    expectAllCorrect(samples, { [before!]: 'North Park', [after[0]!]: 'North Park Two' });
    expect(samples.some((s) => s.generation === after[0])).toBe(true);
    const held = skewWindowMs(samples, before!, after[0]!);
    report('refresh-cluster.sh', samples, `; skew window ${held.toFixed(0)} ms`);
    console.log(`[cluster] refresh-cluster.sh output:\n${r.stdout}`);

    // The same change back as a plain rolling reload, one node after the other, as without --hold.
    const rolling = startLoad(c.url + NORTH, LOAD);
    await answered(rolling);
    for (const n of c.nodes) {
      fs.rmSync(n.data);
      fs.symlinkSync('feeds/initial', n.data);
      const rr = await roqCli(['reload', '--run', n.run]);
      expect(rr.code, rr.stderr).toBe(0);
    }
    await answered(rolling);
    const rolled = await rolling.stop();
    expect(new Set(await hashes(c))).toEqual(new Set([before]));
    expectAllCorrect(rolled, { [before!]: 'North Park', [after[0]!]: 'North Park Two' });
    const window = skewWindowMs(rolled, after[0]!, before!);
    report('rolling roq reload', rolled, `; skew window ${window.toFixed(0)} ms`);
    console.log(
      `[cluster] skew window: held-and-swapped ${held.toFixed(0)} ms, rolling reload ${window.toFixed(0)} ms`,
    );
  }, 180_000);

  it('(a) a refresh that cannot complete on one node changes nothing on any node, and says which node and why', async () => {
    const c = cluster!;
    const before = await hashes(c);
    const targets = c.nodes.map((n) => fs.readlinkSync(n.data));
    const gone = join(base, 'no-such-run');
    const r = await refreshCluster(feedNamed('North Park Three'), [
      spec(c.nodes[0]!),
      spec(c.nodes[1]!),
      `local:${gone}:${c.nodes[2]!.data}`,
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`hold failed on node local:${gone}`);
    expect(r.stderr).toContain('ROQ_NOT_RUNNING');
    expect(r.stderr).toContain('no node swapped');
    expect(await hashes(c)).toEqual(before);
    for (const n of c.nodes) expect((await statusOf(n)).reload.held).toBeUndefined();
    expect(c.nodes.map((n) => fs.readlinkSync(n.data))).toEqual(targets);
    const res = await fetch(c.url + NORTH);
    expect(((await res.json()) as { rows: { stop_name: string }[] }).rows[0]?.stop_name).toBe('North Park');
  }, 120_000);

  it('(b) a node whose daemon is SIGKILLed and whose Apache stops costs no request, and rejoins once back', async () => {
    const c = cluster!;
    const node = c.nodes[1]!;
    const load = startLoad(c.url + NORTH, LOAD);
    await answered(load);
    node.killDaemon();
    const health = await fetch(node.url + HEALTH_URI);
    expect(health.status).toBe(503);
    await node.stopApache();
    await waitFor(
      'HAProxy to mark the node DOWN',
      async () => /DOWN/.test((await c.serverStatus())[node.name] ?? ''),
      30_000,
    );
    await node.startDaemon();
    await node.startApache();
    await c.allUp();
    const healthy = await fetch(node.url + HEALTH_URI);
    expect(healthy.status).toBe(200);
    expect(healthy.headers.get('x-roq-generation')).toMatch(/^[0-9a-f]{32}$/);
    await answered(load);
    // The restarted daemon answers real requests through HAProxy: the node rejoined. Waited for, not read once:
    // HAProxy may not have sent it one yet, and status.json is written coalesced.
    await waitFor(
      'the restarted node to answer through HAProxy',
      async () => (await statusOf(node)).served.ok > 0,
      30_000,
    );
    const samples = await load.stop();
    const failed = samples.filter((s) => s.status !== 200);
    expect(failed.slice(0, 3), `${failed.length} of ${samples.length} failed`).toEqual([]);
    report('one node killed and brought back', samples);
  }, 120_000);

  it('(c) a rolling `roq upgrade` of every node costs no request', async () => {
    const c = cluster!;
    const pids = c.nodes.map((n) => n.pid());
    const load = startLoad(c.url + NORTH, LOAD);
    await answered(load);
    for (const n of c.nodes) {
      const r = await roqCli(['upgrade', '--run', n.run]);
      expect(r.code, r.stderr).toBe(0);
    }
    await answered(load);
    const samples = await load.stop();
    const failed = samples.filter((s) => s.status !== 200);
    expect(failed.slice(0, 3), `${failed.length} of ${samples.length} failed`).toEqual([]);
    c.nodes.forEach((n, i) => expect(n.pid()).not.toBe(pids[i]));
    report('rolling roq upgrade', samples);
  }, 120_000);

  it('(d) ETag and 304: the same ETag from every node, validated parameters share one, JSON and HTML differ', async () => {
    const c = cluster!;
    const url = (q: string) => `${SCRIPT_PATH}?stop=S&date=2025-06-02&${q}`;
    const direct = await Promise.all(c.nodes.map((n) => fetch(n.url + url('after=8:00&format=json'))));
    const etags = direct.map((r) => r.headers.get('etag'));
    expect(etags[0]).toMatch(/^"[0-9a-f]{16}-[0-9a-z]+"$/);
    expect(new Set(etags).size).toBe(1);
    expect(direct[0]!.headers.get('cache-control')).toBe('public, max-age=60');
    const long = await fetch(c.url + url('after=08:00:00&limit=10&format=json'));
    expect(long.headers.get('etag')).toBe(etags[0]);
    const html = await fetch(c.url + url('after=08:00:00'));
    expect(html.status).toBe(200);
    expect(html.headers.get('etag')).not.toBe(etags[0]);
    const other = await fetch(c.url + url('after=09:00&format=json'));
    expect(other.headers.get('etag')).not.toBe(etags[0]);

    const notModified = await fetch(c.url + url('after=8:00&format=json'), { headers: { 'if-none-match': etags[0]! } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect(notModified.headers.get('etag')).toBe(etags[0]);
    const stale = await fetch(c.url + url('after=8:00&format=json'), {
      headers: { 'if-none-match': '"0000000000000000-0"' },
    });
    expect(stale.status).toBe(200);
    const stops = await fetch(c.url + NORTH);
    expect(stops.headers.get('cache-control')).toBe('no-cache');

    // A repeated-request run: 10 URLs asked 20 times each by a client that keeps the ETags it was given.
    const known = new Map<string, string>();
    let notModifiedCount = 0;
    const total = 200;
    for (let i = 0; i < total; i++) {
      const u = c.url + url(`after=${String(6 + (i % 10)).padStart(2, '0')}:00&format=json`);
      const etag = known.get(u);
      const res = await fetch(u, etag ? { headers: { 'if-none-match': etag } } : {});
      await res.text();
      expect([200, 304]).toContain(res.status);
      if (res.status === 304) notModifiedCount++;
      known.set(u, res.headers.get('etag')!);
    }
    expect(notModifiedCount).toBe(total - 10);
    console.log(
      `[cluster] repeated-request run: ${total} requests, ${notModifiedCount} answered 304 (${((100 * notModifiedCount) / total).toFixed(0)}%)`,
    );
  }, 60_000);
});
