/**
 * The CLI's help as a newcomer reads it, through the real programs: `npm run demo -- --help` answers instead of
 * refusing the option, `roq check --help` lists `--app`, and `roq query --help --app DIR` ends with an example of
 * that app's own queries, not the sample feed's.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyApp, MAC_APP } from './helpers/apps.js';
import { ROOT, roqCli } from './helpers/daemon.js';
import { runToEnd } from './helpers/run.js';

const apps: string[] = [];
afterAll(() => {
  for (const app of apps) fs.rmSync(app, { recursive: true, force: true });
});

describe('help', () => {
  it('npm run demo -- --help prints the usage and exits 0, starting nothing', async () => {
    const r = await runToEnd(process.execPath, [join(ROOT, 'dist/demo.js'), '--help'], {
      cwd: ROOT,
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: npm run demo \[-- --app DIR\] \[--data DIR\]\n/);
    expect(r.stdout).toContain('--app DIR');
    expect(r.stderr).not.toContain('Unknown option');
  });

  it('deploy/install-release.sh --help prints its usage and exits 0; no argument is still a usage error', async () => {
    const script = join(ROOT, 'deploy/install-release.sh');
    const help = await runToEnd('/bin/bash', [script, '--help'], { timeoutMs: 30_000 });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^usage: .*install-release\.sh TARBALL \[PREFIX\]/);
    expect((await runToEnd('/bin/bash', [script], { timeoutMs: 30_000 })).code).toBe(2);
  });

  it('roq check --help lists --app', async () => {
    const r = await roqCli(['check', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n {2}--app DIR +check against the schemas of the app in DIR/);
  });

  it("roq query --help --app DIR gives an example of the app's queries, roq's own help the sample feed's", async () => {
    const own = await roqCli(['query', '--help']);
    expect(own.stdout).toContain('roq query departures stop=237 date=2026-11-02');
    const app = copyApp(MAC_APP);
    apps.push(app);
    fs.copyFileSync(join(MAC_APP, 'app.json'), join(app, 'app.json'));
    const r = await roqCli(['query', '--help', '--app', app], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  vendor mac=…');
    expect(r.stdout).toMatch(/example:\n {2}roq query \w+ \w+=… --json\n$/);
    expect(r.stdout).not.toContain('departures');
  });
});
