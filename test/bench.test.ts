/**
 * The benchmark must not rot: `npm run bench` in its smoke mode (every section, a second or so each) runs here as
 * part of `npm test` and must finish and print every table. The figures themselves are not checked: speed is
 * judged by the full run against its baselines (docs/BENCHMARKS.md), never by timing asserts in tests.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HAVE_APACHE } from '../tools/demo/apache.js';
import { ROOT } from './helpers/daemon.js';
import { runToEnd } from './helpers/run.js';
import { tempDir } from './helpers/temp.js';

describe('npm run bench', () => {
  it('runs every section in smoke mode and prints its tables', async () => {
    // Not spawnSync: a worker blocked that long misses Vitest's own 60 s RPC deadline ("Timeout calling
    // onTaskUpdate") on a busy machine, and the run turns red with every test passed.
    // Its temporary files (the shapes' cache, the web ladder's Apache) go under this file's directory, removed after.
    const tmp = tempDir('roq-benchtest-');
    fs.chmodSync(tmp, 0o711); // Apache's CGI programs (www-data) pass through it, as through /tmp
    const r = await runToEnd(process.execPath, [join(ROOT, 'dist/bench.js'), '--smoke'], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: tmp },
      timeoutMs: 240_000,
    });
    expect(r.code, r.stderr + r.stdout.slice(-2000)).toBe(0);
    for (const heading of [
      '## Start-up and memory',
      '## Query latency in-process',
      '## FIFO round trip through the daemon',
      '## CGI program per request',
      '## roq against SQLite, in-process',
      '## Scale: the sample feed',
      '## Feed shapes: roq against SQLite',
      HAVE_APACHE ? '## The web ladder through Apache httpd (mod_cgid)' : '## Through Apache: skipped',
    ]) {
      expect(r.stdout).toContain(heading);
    }
    if (HAVE_APACHE)
      for (const rung of ['C hello', 'sh hello', 'relay, departures as JSON', 'relay, the board page', 'JSON cached'])
        expect(r.stdout).toContain(`| ${rung}`);
    expect(r.stdout).toMatch(/every answer was compared: 0 differed/);
  }, 300_000);
});
