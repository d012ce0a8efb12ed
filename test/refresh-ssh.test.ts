/**
 * deploy/refresh-cluster.sh over real ssh, the way an admin runs it against remote nodes: a private sshd on
 * 127.0.0.1 (its own host key, one authorized key, the current user), two nodes reached through it, each with its
 * own daemon and data symlink. The cluster test (test/cluster.test.ts) drives the same script with `local` nodes,
 * which never touch ssh or rsync.
 *
 * Checked: the refresh pushes with rsync over ssh, every node swaps to the new data, all commands to a host share
 * one ssh connection (the swap costs no handshake), and no ssh master is left running after the script exits.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TINY_FEED, writeFeed } from './feeds.js';
import { runToEnd, type RunResult } from './helpers/run.js';
import { ROOT, roqCli, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';

const SSHD = '/usr/sbin/sshd';
const HAVE_SSHD = fs.existsSync(SSHD) && fs.existsSync('/usr/bin/ssh-keygen');

let base = '';
let port = 0;
let sshd: ChildProcess | undefined;
let sshdLog = '';
const daemons: RunningDaemon[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function keygen(path: string): void {
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', path]);
}

async function startSshd(): Promise<void> {
  keygen(join(base, 'host_key'));
  keygen(join(base, 'client_key'));
  fs.copyFileSync(join(base, 'client_key.pub'), join(base, 'authorized_keys'));
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
  port = await freePort();
  const config = join(base, 'sshd_config');
  fs.writeFileSync(
    config,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(base, 'host_key')}`,
      `AuthorizedKeysFile ${join(base, 'authorized_keys')}`,
      `PidFile ${join(base, 'sshd.pid')}`,
      `AllowUsers ${userInfo().username}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      'LogLevel VERBOSE',
    ].join('\n') + '\n',
  );
  sshd = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  sshd.stderr!.setEncoding('utf8').on('data', (c: string) => (sshdLog += c));
  await waitFor('sshd listening', () => sshdLog.includes('Server listening'), 10_000);
}

function sshCommand(): string {
  return [
    'ssh',
    `-p ${port}`,
    `-i ${join(base, 'client_key')}`,
    '-o BatchMode=yes',
    '-o StrictHostKeyChecking=no',
    '-o UserKnownHostsFile=/dev/null',
    '-o LogLevel=ERROR',
  ].join(' ');
}

interface Node {
  run: string;
  link: string;
  daemon: RunningDaemon;
}

/** A node as deploy/refresh-feed.sh leaves one: <dir>/data → feeds/first, the daemon loading <dir>/data. */
async function startNode(name: string): Promise<Node> {
  const dir = join(base, name);
  fs.mkdirSync(join(dir, 'feeds'), { recursive: true });
  fs.cpSync(writeFeed(TINY_FEED), join(dir, 'feeds/first'), { recursive: true });
  const link = join(dir, 'data');
  fs.symlinkSync('feeds/first', link);
  const daemon = await startDaemon({ data: link, workers: 1 });
  daemons.push(daemon);
  return { run: daemon.run, link, daemon };
}

async function hashOf(n: Node): Promise<string> {
  const r = await roqCli(['status', '--json', '--run', n.run]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).status.generation.hash;
}

/** The script's own temporary directory (its ssh control sockets in it) goes under `base`, to be found below. */
const scriptTmp = () => join(base, 'tmp');

function refreshCluster(data: string, specs: string[]): Promise<RunResult> {
  fs.mkdirSync(scriptTmp(), { recursive: true });
  return runToEnd('bash', [join(ROOT, 'deploy/refresh-cluster.sh'), data, ...specs], {
    env: {
      ...process.env,
      ROQ_BIN: `${process.execPath} ${join(ROOT, 'dist/roq.js')}`,
      ROQ_SSH: sshCommand(),
      TMPDIR: scriptTmp(),
    },
    timeoutMs: 90_000,
  });
}

/**
 * ssh processes of this test still running: a client with its port on the command line, or a connection master,
 * which renames itself `ssh: <control socket> [mux]` (its socket is in the script's temporary directory).
 */
function sshLeft(): string[] {
  const pattern = `^ssh( .*-p ${port} |: ${scriptTmp()}/)`;
  try {
    return execFileSync('pgrep', ['-a', '-f', pattern], { encoding: 'utf8' }).trim().split('\n');
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}

beforeAll(async () => {
  if (!HAVE_SSHD) return;
  base = fs.mkdtempSync(join(tmpdir(), 'roq-ssh-'));
  await startSshd();
}, 60_000);

afterAll(async () => {
  await Promise.all(daemons.map((d) => d.stop()));
  for (const line of sshLeft()) process.kill(Number(line.split(' ')[0]), 'SIGTERM');
  sshd?.kill('SIGTERM');
  if (base) fs.rmSync(base, { recursive: true, force: true });
}, 60_000);

describe.skipIf(!HAVE_SSHD)('refresh-cluster.sh over ssh (a private sshd on 127.0.0.1)', () => {
  it('pushes with rsync, swaps every node to the new data over one ssh connection per host, and leaves no ssh behind', async () => {
    const nodes = [await startNode('web1'), await startNode('web2')];
    const before = await Promise.all(nodes.map(hashOf));
    const next = writeFeed({ ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', 'North Lake') });
    const accepted = () => (sshdLog.match(/Accepted publickey/g) ?? []).length;
    const connectionsBefore = accepted();

    const r = await refreshCluster(
      next,
      nodes.map((n) => `${userInfo().username}@127.0.0.1:${n.run}:${n.link}`),
    );

    expect(r.code, `${r.stderr}\n${r.stdout}`).toBe(0);
    expect(r.stdout).toMatch(/push .*: \d+ bytes in/); // rsync's own figure: the remote path was taken
    const after = await Promise.all(nodes.map(hashOf));
    expect(after[0]).toBe(after[1]);
    expect(after[0]).not.toBe(before[0]);
    for (const n of nodes) {
      expect(fs.readlinkSync(n.link)).toMatch(/^feeds\/\d{8}T\d{6}Z-\d+$/);
      const q = await roqCli(['query', '--run', n.run, 'stops', 'q=north']);
      expect(q.stdout).toContain('North Lake');
    }
    // Each node takes about seven commands (mkdir, readlink, rsync, readlink, hold, swap, prune): fourteen
    // connections without sharing. Both nodes are on one host, so all of them share one.
    expect(accepted() - connectionsBefore).toBe(1);
    expect(r.stdout + r.stderr).not.toContain('ControlSocket'); // no race for the master, nothing for cron to mail
    await waitFor('no ssh left running', () => sshLeft().length === 0, 5_000);
  }, 120_000);

  it('a host it cannot log in to stops the run before any node changed, and is named', async () => {
    const node = await startNode('web3');
    const before = await hashOf(node);
    const next = writeFeed({ ...TINY_FEED, 'stops.txt': TINY_FEED['stops.txt']!.replace('North Park', 'North Hill') });

    const r = await refreshCluster(next, [
      `${userInfo().username}@127.0.0.1:${node.run}:${node.link}`,
      `nobody@127.0.0.1:${node.run}:${node.link}`, // sshd allows only the current user
    ]);

    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot reach nobody@127.0.0.1');
    expect(r.stderr).toContain('no node changed');
    expect(await hashOf(node)).toBe(before);
    expect(fs.readlinkSync(node.link)).toBe('feeds/first');
    expect(fs.readdirSync(join(base, 'web3/feeds'))).toEqual(['first']);
    await waitFor('no ssh left running', () => sshLeft().length === 0, 5_000);
  }, 120_000);
});

describe('refresh-cluster.sh and hostile node lists', () => {
  it('refuses a host that would be an ssh option or several words, before running anything', async () => {
    const dir = fs.mkdtempSync(join(tmpdir(), 'roq-hostile-nodes-'));
    try {
      const marker = join(dir, 'proxy-ran');
      const data = writeFeed(TINY_FEED);
      for (const host of [`-oProxyCommand=>${marker}`, 'web1 -oProxyCommand=true']) {
        const r = await runToEnd(
          'bash',
          [join(ROOT, 'deploy/refresh-cluster.sh'), data, `${host}:/run/roq:/srv/roq/data`],
          {
            env: { ...process.env, TMPDIR: dir, ROQ_SSH: 'ssh -o BatchMode=yes -o ConnectTimeout=2' },
            timeoutMs: 30_000,
          },
        );
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr).toMatch(/bad host in node .*: a host neither starts with '-' nor holds spaces/);
      }
      expect(fs.existsSync(marker), 'ssh took the host for -oProxyCommand and ran it').toBe(false);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
