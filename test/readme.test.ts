/**
 * README.md's commands are tests: every ```sh block is run here as written (bash, `set -e`), in a fresh directory
 * laid out like the checkout (package.json, dist/, data/, a copy of examples/) with its own HOME, so that a README
 * command cannot break unnoticed. A block that must not run here — a server that runs until Ctrl-C, a command that
 * changes the system (`usermod`, /opt/roq), one that needs other hosts, `npm test` itself — is marked by the line
 * before its fence:
 *
 *   <!-- readme-test: not run (what runs it instead, or why) -->
 *
 * and this test fails on a block that is neither run nor marked. `npx` runs offline (npm_config_offline): `npx roq`
 * is the checkout's own bin, never a download. Daemons a block starts are stopped after it.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, roqCli } from './helpers/daemon.js';
import { runToEnd } from './helpers/run.js';
import { tempDir } from './helpers/temp.js';

interface Block {
  line: number;
  text: string;
  /** why it is not run, from its marker; undefined: it is run */
  notRun?: string;
}

const MARKER = /^<!-- readme-test: not run \((.+)\) -->$/;

/** The README's ```sh blocks, each with the marker on the line before its fence, if any. */
export function shBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```sh') continue;
    const end = lines.findIndex((l, j) => j > i && l.trim() === '```');
    const indent = lines[i]!.indexOf('`');
    const text = lines
      .slice(i + 1, end)
      .map((l) => l.slice(indent))
      .join('\n');
    blocks.push({ line: i + 1, text, notRun: MARKER.exec(lines[i - 1]?.trim() ?? '')?.[1] });
    i = end;
  }
  return blocks;
}

const README = fs.readFileSync(join(ROOT, 'README.md'), 'utf8');
const blocks = shBlocks(README);

/**
 * The directory the commands run in: what a checkout has that they use, the built programs linked in (the test
 * suite built them), the sample app copied (its build writes into it), and in HOME the "exports" the README's
 * own-data section brings.
 */
function workspace(): { dir: string; home: string } {
  const dir = tempDir('roq-readme-');
  fs.copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  for (const link of [
    'dist',
    'data',
    'node_modules',
    'src',
    'scripts',
    'codegen',
    'schemas',
    'queries',
    'templates',
    'app.json',
    'app.ts',
    'tsconfig.json',
  ])
    fs.symlinkSync(join(ROOT, link), join(dir, link));
  fs.cpSync(join(ROOT, 'examples'), join(dir, 'examples'), {
    recursive: true,
    filter: (src) => !src.includes('/.roq'),
  });
  const home = join(dir, 'home');
  fs.mkdirSync(join(home, 'exports'), { recursive: true });
  fs.writeFileSync(
    join(home, 'exports', 'extent.csv'),
    'auth_name,code,name\nEPSG,1024,World\nEPSG,1025,France\nIGNF,1024,France\n',
  );
  return { dir, home };
}

/** The suite's environment as a newcomer's shell would have it: HOME the workspace's, no roq settings, npx offline. */
function readmeEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, npm_config_offline: 'true' };
  for (const name of Object.keys(env)) if (name.startsWith('ROQ_')) delete env[name];
  return env;
}

const started: string[] = [];
afterAll(async () => {
  for (const run of started) await roqCli(['stop', '--run', run]).catch(() => undefined);
});

/** The run directories a block names (`--run DIR`), relative to where it runs: stopped after the tests. */
function runDirs(text: string, cwd: string): string[] {
  return [...text.matchAll(/--run (\S+)/g)].map((m) => join(cwd, m[1]!));
}

describe('README.md', () => {
  it('marks every sh block it does not run, saying why', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    for (const b of blocks.filter((x) => x.notRun !== undefined))
      expect(b.notRun!.length, `line ${b.line}`).toBeGreaterThan(10);
    expect(blocks.filter((b) => b.notRun === undefined).length).toBeGreaterThanOrEqual(3);
  });

  const { dir, home } = workspace();
  for (const b of blocks.filter((x) => x.notRun === undefined)) {
    it(`runs the block at README.md:${b.line} as written`, async () => {
      started.push(...runDirs(b.text, dir));
      const r = await runToEnd('bash', ['-e', '-o', 'pipefail', '-c', b.text], {
        cwd: dir,
        env: readmeEnv(home),
        timeoutMs: 400_000,
      });
      expect(
        r.code,
        `README.md:${b.line}\n${b.text}\n--- stdout\n${r.stdout.slice(-3000)}\n--- stderr\n${r.stderr.slice(-3000)}`,
      ).toBe(0);
      // A block starts daemons and builds apps: at a load average of 35 the CLI block alone took over 3 minutes.
    }, 420_000);
  }
});
