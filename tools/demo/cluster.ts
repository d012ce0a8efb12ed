/**
 * A roq cluster on one machine, for `npm run cluster` and the cluster tests: N nodes, each with its own run
 * directory, roq daemon, copy of the data (behind a `data` symlink, as deploy/refresh-feed.sh and
 * deploy/refresh-cluster.sh keep it) and private Apache httpd on a free 127.0.0.1 port, behind one HAProxy running
 * deploy/haproxy.cfg with the node list written in (haproxyConfig: nothing else differs from production).
 *
 * Layout under `base`:   nodeN/run  nodeN/httpd  nodeN/feeds/initial  nodeN/data -> feeds/initial
 *                        haproxy.cfg
 */
import { pollUntil } from '../../src/poll.js';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { runningPid } from '../../src/control/lifecycle.js';
import { HAVE_APACHE, letWebUserThrough, makeWebRunDir, startApache, type Apache } from './apache.js';

export const HAPROXY_BIN = '/usr/sbin/haproxy';
export const HAVE_HAPROXY = fs.existsSync(HAPROXY_BIN);
/** Where the CGI program answers on every node; the health URL is below it. */
export const SCRIPT_PATH = '/departures';
export const HEALTH_URI = `${SCRIPT_PATH}/_health`;

export interface ClusterOptions {
  /** Directory for every node's files (made if missing). */
  base: string;
  /** The data directory each node starts with (copied into each node). */
  data: string;
  /** The repository root: dist/roq.js, dist/roq-relay, deploy/haproxy.cfg. */
  root: string;
  nodes: number;
  /** HAProxy's port; 0 or absent: a free one. */
  port?: number;
  statsPort?: number;
  workers?: number;
  /** The CGI program's deadline for the daemon's answer (ROQ_CGI_TIMEOUT_MS). */
  cgiTimeoutMs?: number;
}

export interface ClusterNode {
  name: string;
  dir: string;
  run: string;
  /** The `data` symlink the daemon loads from. */
  data: string;
  url: string;
  port: number;
  pid(): number | undefined;
  startDaemon(): Promise<void>;
  /** `roq stop` (graceful); quiet when none runs. */
  stopDaemon(): Promise<void>;
  /** SIGKILL, as a crash would. */
  killDaemon(): void;
  startApache(): Promise<void>;
  stopApache(): Promise<void>;
}

export interface Cluster {
  url: string;
  statsUrl: string;
  nodes: ClusterNode[];
  /** HAProxy's view of each server: name → status (UP, DOWN, …), from the stats page's CSV. */
  serverStatus(): Promise<Record<string, string>>;
  /** Resolves once HAProxy sees every node UP. */
  allUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = net.createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => ok(port));
    });
  });
}

/** deploy/haproxy.cfg with the server lines between `# BEGIN NODES` and `# END NODES` replaced by `servers`. */
export function haproxyConfig(template: string, servers: { name: string; address: string }[]): string {
  const m = /^([ \t]*)# BEGIN NODES\n[\s\S]*?^[ \t]*# END NODES$/m.exec(template);
  if (!m) throw new Error('deploy/haproxy.cfg has no "# BEGIN NODES" … "# END NODES" block');
  const indent = m[1]!;
  const lines = [
    `${indent}# BEGIN NODES`,
    ...servers.map((s) => `${indent}server ${s.name} ${s.address}`),
    `${indent}# END NODES`,
  ];
  return template.slice(0, m.index) + lines.join('\n') + template.slice(m.index + m[0].length);
}

/** Runs `node dist/roq.js …`; resolves with the exit code and output. */
export function roqCommand(root: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(root, 'dist/roq.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (output += c));
    child.on('close', (code) => done({ code: code ?? 1, output }));
  });
}

function copyDir(from: string, to: string): void {
  fs.mkdirSync(to, { recursive: true });
  for (const name of fs.readdirSync(from)) {
    const src = join(from, name);
    if (fs.statSync(src).isFile()) fs.copyFileSync(src, join(to, name));
  }
}

/** The relay, in the node's own cgi-bin. */
function cgiProgram(root: string, dir: string): string {
  const bin = join(dir, 'cgi-bin');
  fs.mkdirSync(bin, { recursive: true, mode: 0o755 });
  fs.copyFileSync(join(root, 'dist/roq-relay'), join(bin, 'roq-relay'));
  fs.chmodSync(join(bin, 'roq-relay'), 0o755);
  return join(bin, 'roq-relay');
}

async function makeNode(o: ClusterOptions, index: number): Promise<ClusterNode> {
  const name = `node${index + 1}`;
  const dir = resolve(o.base, name);
  fs.mkdirSync(dir, { recursive: true, mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  if (process.getuid?.() === 0) letWebUserThrough(dir);
  const run = makeWebRunDir(join(dir, 'run'));
  if (runningPid(run) !== undefined) await roqCommand(o.root, ['stop', '--run', run]); // left by an earlier cluster
  fs.rmSync(join(dir, 'feeds'), { recursive: true, force: true });
  copyDir(o.data, join(dir, 'feeds', 'initial'));
  const data = join(dir, 'data');
  fs.rmSync(data, { force: true });
  fs.symlinkSync('feeds/initial', data);
  const httpd = join(dir, 'httpd');
  const program = cgiProgram(o.root, httpd);
  const port = await freePort();
  const env: Record<string, string> = {
    ROQ_RUN_DIR: run,
    PATH: '/usr/bin:/bin',
    ROQ_CGI_TIMEOUT_MS: String(o.cgiTimeoutMs ?? 3000),
  };
  if (process.env.TZ) env.TZ = process.env.TZ;
  let apache: Apache | undefined;
  const node: ClusterNode = {
    name,
    dir,
    run,
    data,
    port,
    url: `http://127.0.0.1:${port}`,
    pid: () => runningPid(run),
    async startDaemon() {
      const r = await roqCommand(o.root, ['start', '--run', run, '--data', data, '--workers', String(o.workers ?? 1)]);
      if (r.code !== 0) throw new Error(`${name}: roq start failed: ${r.output.trim()}`);
    },
    async stopDaemon() {
      if (runningPid(run) !== undefined) await roqCommand(o.root, ['stop', '--run', run]);
    },
    killDaemon() {
      const pid = runningPid(run);
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
    },
    async startApache() {
      apache = await startApache({ dir: httpd, scripts: { [SCRIPT_PATH]: program }, env, port });
    },
    async stopApache() {
      await apache?.stop();
      apache = undefined;
    },
  };
  return node;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs: number): Promise<T> {
  const v = await pollUntil(
    async () => (await probe().catch(() => undefined)) || undefined,
    100,
    Date.now() + timeoutMs,
  );
  if (!v) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
  return v;
}

function startHaproxy(cfg: string, env: Record<string, string>): ChildProcess {
  const child = spawn(HAPROXY_BIN, ['-db', '-f', cfg], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: '/usr/sbin:/usr/bin:/bin', ...env },
  });
  child.stderr!.setEncoding('utf8').on('data', () => undefined);
  return child;
}

/**
 * Starts every node (daemon, then Apache), then HAProxy, and resolves once HAProxy sees every node UP. On any
 * failure whatever was started is stopped before the error is thrown.
 */
export async function startCluster(o: ClusterOptions): Promise<Cluster> {
  if (!HAVE_HAPROXY) throw new Error(`HAProxy is not installed (${HAPROXY_BIN}); apt-get install haproxy`);
  if (!HAVE_APACHE) throw new Error('Apache httpd is not installed; apt-get install apache2');
  fs.mkdirSync(o.base, { recursive: true });
  const nodes: ClusterNode[] = [];
  let haproxy: ChildProcess | undefined;
  const stop = async () => {
    if (haproxy && haproxy.exitCode === null) {
      const h = haproxy;
      await new Promise<void>((done) => {
        const timer = setTimeout(() => h.kill('SIGKILL'), 5000);
        h.once('exit', () => (clearTimeout(timer), done()));
        h.kill('SIGTERM');
      });
    }
    for (const n of nodes) await n.stopApache().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.stopDaemon().catch(() => undefined)));
  };
  try {
    for (let i = 0; i < o.nodes; i++) nodes.push(await makeNode(o, i));
    for (const n of nodes) await n.startDaemon();
    for (const n of nodes) await n.startApache();
    const port = o.port || (await freePort());
    const statsPort = o.statsPort || (await freePort());
    const cfg = join(o.base, 'haproxy.cfg');
    const template = fs.readFileSync(join(o.root, 'deploy/haproxy.cfg'), 'utf8');
    fs.writeFileSync(
      cfg,
      haproxyConfig(
        template,
        nodes.map((n) => ({ name: n.name, address: `127.0.0.1:${n.port}` })),
      ),
    );
    haproxy = startHaproxy(cfg, {
      ROQ_CLUSTER_DEMO: '1',
      ROQ_HAPROXY_BIND: `127.0.0.1:${port}`,
      ROQ_HAPROXY_STATS: `127.0.0.1:${statsPort}`,
      ROQ_HEALTH_URI: HEALTH_URI,
    });
    const statsUrl = `http://127.0.0.1:${statsPort}/`;
    const serverStatus = async (): Promise<Record<string, string>> => {
      const csv = await (await fetch(`${statsUrl};csv`, { signal: AbortSignal.timeout(2000) })).text();
      const rows = csv.split('\n').filter((l) => l.startsWith('roq_nodes,'));
      return Object.fromEntries(
        rows
          .map((l) => l.split(','))
          .filter((c) => c[1] !== 'BACKEND')
          .map((c) => [c[1]!, c[17]!]),
      );
    };
    const h = haproxy;
    const allUp = (timeoutMs = 20_000) =>
      waitFor(
        'every node UP in HAProxy',
        async () => {
          if (h.exitCode !== null) throw new Error(`haproxy exited with code ${h.exitCode}`);
          const s = await serverStatus();
          return Object.keys(s).length === nodes.length && Object.values(s).every((v) => v === 'UP');
        },
        timeoutMs,
      ).then(() => undefined);
    await allUp();
    return { url: `http://127.0.0.1:${port}`, statsUrl, nodes, serverStatus, allUp, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** The repository root, from a bundle in dist/. */
export function rootFromBundle(bundle: string): string {
  return resolve(dirname(bundle), '..');
}
