/**
 * What one node contributes to a cluster, over real daemons and the real CGI program: the content hash of a
 * generation (the same files give the same hash whatever their order or directory), `roq reload --hold`,
 * `roq swap` and `roq reload --drop-held` (held data serves only after the swap point; a failed hold changes
 * nothing; admin requests from untrusted users are ignored), the /_health URL, and ETag/304 on one node.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { canonicalParams, etagFor, matchesIfNoneMatch } from '../src/web/http-cache.js';
import { contentHash, loadGeneration } from '../src/load/loader.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { runCgi } from './helpers/cgi.js';
import { daemonsPerTest, roqCli, waitFor } from './helpers/daemon.js';

const { daemon } = daemonsPerTest();
const quiet = { warn: () => undefined };

async function north(run: string): Promise<{ generation: number; hash?: string; name: unknown }> {
  const a = await ask(run, 'stops', { q: 'north' }, { timeoutMs: 30_000 });
  if (a.status !== 'ok') throw new Error(JSON.stringify(a));
  return { generation: a.generation, hash: a.hash, name: a.rows[0]?.[1] };
}

function rename(data: string, name: string): void {
  fs.writeFileSync(join(data, 'stops.txt'), TINY_FEED['stops.txt']!.replace('North Park', name));
}

async function statusJson(run: string) {
  const r = await roqCli(['status', '--json', '--run', run]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout).status as {
    generation: { id: number; hash: string };
    reload: { loading: boolean; held?: { id: number; hash: string } };
  };
}

describe('the content hash of a generation', () => {
  it('is the same for the same files in another directory written in another order, and changes with one byte', async () => {
    const a = writeFeed(TINY_FEED);
    const b = writeFeed(Object.fromEntries(Object.entries(TINY_FEED).reverse()));
    fs.writeFileSync(join(b, 'README'), 'not a table: no schema describes it, so it is not part of the data');
    const ga = await loadGeneration(a, 1, quiet);
    const gb = await loadGeneration(b, 7, quiet);
    expect(ga.hash).toMatch(/^[0-9a-f]{32}$/);
    expect(gb.hash).toBe(ga.hash);
    rename(b, 'North Parc');
    expect((await loadGeneration(b, 8, quiet)).hash).not.toBe(ga.hash);
    // A file's name is part of it: the same bytes under two names are two different data sets.
    expect(
      contentHash([
        { file: 'x.txt', sha256: 'aa' },
        { file: 'y.txt', sha256: 'bb' },
      ]),
    ).not.toBe(
      contentHash([
        { file: 'x.txt', sha256: 'bb' },
        { file: 'y.txt', sha256: 'aa' },
      ]),
    );
    expect(
      contentHash([
        { file: 'y.txt', sha256: 'bb' },
        { file: 'x.txt', sha256: 'aa' },
      ]),
    ).toBe(
      contentHash([
        { file: 'x.txt', sha256: 'aa' },
        { file: 'y.txt', sha256: 'bb' },
      ]),
    );
  });

  it('is in every answer, in `roq status`, in the ready line of `roq start` and in the reload report', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const s = await statusJson(d.run);
    expect(d.started).toMatch(new RegExp(`^roq started on .*: pid \\d+, generation 1, hash ${s.generation.hash}, `));
    expect((await north(d.run)).hash).toBe(s.generation.hash);
    expect((await roqCli(['status', '--run', d.run])).stdout).toContain(`hash        ${s.generation.hash}`);
    expect((await roqCli(['reload', '--run', d.run])).stdout).toContain(`hash ${s.generation.hash}`);
  });
});

describe('roq reload --hold, roq swap, roq reload --drop-held', () => {
  it('holds new data without serving it, reports its hash and rows, and serves it from the swap on', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1 });
    const first = await north(d.run);
    rename(data, 'North Park Two');
    const held = await roqCli(['reload', '--hold', '--run', d.run]);
    expect(held.code, held.stderr).toBe(0);
    const hash = /hash ([0-9a-f]{32}),/.exec(held.stdout)?.[1];
    expect(hash).toBeDefined();
    expect(hash).not.toBe(first.hash);
    expect(held.stdout).toMatch(/holds generation 2 .*not serving/);
    expect(held.stdout).toMatch(/stops\.txt\s+3 rows/);
    expect(await north(d.run)).toEqual(first);
    expect((await statusJson(d.run)).reload.held).toMatchObject({ id: 2, hash });
    expect((await roqCli(['status', '--run', d.run])).stdout).toContain(`held        generation 2: hash ${hash}`);

    const swapped = await roqCli(['swap', '--run', d.run]);
    expect(swapped.code, swapped.stderr).toBe(0);
    expect(swapped.stdout).toContain(`generation 2 serving, hash ${hash}`);
    expect(await north(d.run)).toEqual({ generation: 2, hash, name: 'North Park Two' });
    expect((await statusJson(d.run)).reload.held).toBeUndefined();

    const nothing = await roqCli(['swap', '--run', d.run]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain('ROQ_NOTHING_HELD');
    expect(await north(d.run)).toEqual({ generation: 2, hash, name: 'North Park Two' });
  });

  it('drops what it holds; a hold that fails reports the file at fault and changes nothing, not even an earlier hold', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1 });
    const first = await north(d.run);
    rename(data, 'North Park Two');
    expect((await roqCli(['reload', '--hold', '--run', d.run])).code).toBe(0);
    const heldBefore = (await statusJson(d.run)).reload.held;
    fs.writeFileSync(
      join(data, 'stop_times.txt'),
      csv('trip_id,arrival_time,departure_time,stop_id,stop_sequence', 'T1,08:00:00,8:61:00,S1,1'),
    );
    const bad = await roqCli(['reload', '--hold', '--run', d.run]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/stop_times\.txt:2:\d+: column 'departure_time'/);
    expect((await statusJson(d.run)).reload.held).toEqual(heldBefore);
    expect(await north(d.run)).toEqual(first);

    const dropped = await roqCli(['reload', '--drop-held', '--run', d.run]);
    expect(dropped.code, dropped.stderr).toBe(0);
    expect(dropped.stdout).toContain(`dropped held generation ${heldBefore!.id}`);
    expect((await statusJson(d.run)).reload.held).toBeUndefined();
    expect((await roqCli(['swap', '--run', d.run])).code).toBe(1);
    expect(await north(d.run)).toEqual(first);
    expect((await roqCli(['reload', '--hold', '--drop-held', '--run', d.run])).stderr).toContain('ROQ_USAGE');
  });

  it('keeps a plain SIGHUP a reload while a hold is asked for, and ignores admin requests of other users', async () => {
    const data = writeFeed(TINY_FEED);
    const d = await daemon({ data, workers: 1, env: { ROQ_TEST_FAULTS: '1', ROQ_TEST_LOAD_DELAY_MS: '400' } });
    rename(data, 'North Park Two');
    const hold = roqCli(['reload', '--hold', '--run', d.run]);
    // Every load sleeps 400 ms first: the SIGHUP arrives while the hold loads.
    await waitFor('the hold to load', async () => (await statusJson(d.run)).reload.loading);
    process.kill(d.pid, 'SIGHUP');
    expect((await hold).code).toBe(0);
    // The reload after the hold serves the new data at once; the held generation stays held.
    await waitFor('the reload', async () => (await north(d.run)).name === 'North Park Two');
    const s = await statusJson(d.run);
    expect(s.reload.held?.id).toBe(2);
    expect(s.generation.id).toBe(3);

    if (process.getuid?.() === 0) {
      // Anyone in the run directory's group can make files there; only the daemon's user and root are obeyed.
      const forged = join(d.run, 'action.0000000000.1.forged');
      fs.writeFileSync(forged, 'swap\n');
      fs.chownSync(forged, 65534, 65534);
      process.kill(d.pid, 'SIGWINCH');
      await waitFor('the forged request to be removed', () => !fs.existsSync(forged));
      expect((await statusJson(d.run)).reload.held).toBeDefined();
      expect(fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8')).toMatch(
        /admin request action\.0000000000\.1\.forged ignored: not a regular file of uid 0 or root/,
      );
      // Nor through a symlink to a file that would pass (the run directory's group could make one).
      const target = join(d.run, '..', `swap-${process.pid}`);
      fs.writeFileSync(target, 'swap\n');
      const link = join(d.run, 'action.0000000001.1.link');
      fs.symlinkSync(target, link);
      process.kill(d.pid, 'SIGWINCH');
      await waitFor('the symlink to be removed', () => !fs.readdirSync(d.run).includes('action.0000000001.1.link'));
      fs.rmSync(target);
      expect((await statusJson(d.run)).reload.held).toBeDefined();
      expect(fs.readFileSync(join(d.run, 'daemon', 'roq.log'), 'utf8')).toMatch(
        /admin request action\.0000000001\.1\.link ignored: ELOOP/,
      );
    }
  });
});

describe('the health URL and HTTP caching on one node', () => {
  const runtime = 'node' as const;

  it('answers /_health 200 with the hash while the daemon answers, 503 without it; never runs a query', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const hash = (await statusJson(d.run)).generation.hash;
    const ok = await runCgi({ runtime, env: { ROQ_RUN_DIR: d.run, PATH_INFO: '/_health' } });
    expect(ok.status, ok.raw).toBe(200);
    expect(ok.headers['x-roq-generation']).toBe(hash);
    // The tiny feed ended in 2025: the node still answers 200, and says its state.
    expect(ok.body).toBe(`ok generation 1 hash ${hash}\nstate critical data-ended\n`);
    await waitFor('the status to count', async () => (await roqCli(['status', '--json', '--run', d.run])).code === 0);
    const served = JSON.parse((await roqCli(['status', '--json', '--run', d.run])).stdout).status.served;
    expect(served.received).toBe(0);
    await d.stop();
    const down = await runCgi({ runtime, env: { ROQ_RUN_DIR: d.run, PATH_INFO: '/_health' } });
    expect(down.status).toBe(503);
    expect(down.body).toContain('ROQ_DAEMON_DOWN');
  });

  it('gives a strong ETag, 304 on If-None-Match (GET only), and Cache-Control from the schema', async () => {
    const d = await daemon({ data: writeFeed(TINY_FEED), workers: 1 });
    const query = 'stop=S&date=2025-06-02&after=8:00&format=json';
    const first = await runCgi({ runtime, query, env: { ROQ_RUN_DIR: d.run } });
    expect(first.status).toBe(200);
    const etag = first.headers.etag!;
    expect(first.headers['cache-control']).toBe('public, max-age=60');
    const again = await runCgi({
      runtime,
      query: 'after=08:00:00&stop=S&date=2025-06-02&format=json&limit=10',
      env: { ROQ_RUN_DIR: d.run, HTTP_IF_NONE_MATCH: `"x", W/${etag}` },
    });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    expect(again.headers.etag).toBe(etag);
    const post = await runCgi({
      runtime,
      method: 'POST',
      body: query,
      env: { ROQ_RUN_DIR: d.run, HTTP_IF_NONE_MATCH: etag },
    });
    expect(post.status).toBe(200);
  });

  it('derives the ETag from the hash, the format and the validated parameters', () => {
    const a = canonicalParams('departures', { stop: 'S', date: '2025-06-02', after: '8:00', format: 'json' });
    expect(a).toBe(canonicalParams('departures', { stop: 'S', date: '2025-06-02', after: '08:00:00', limit: '10' }));
    expect(a).not.toBe(canonicalParams('departures', { stop: 'S', date: '2025-06-02', after: '08:00:01' }));
    expect(a).not.toBe('');
    // A strong ETag promises the same bytes: the body is part of it too.
    expect(etagFor('ab'.repeat(16), 'departures', a, true, 'x')).not.toBe(
      etagFor('ab'.repeat(16), 'departures', a, true, 'y'),
    );
    expect(etagFor('ab'.repeat(16), 'departures', a, true, 'x')).toBe(
      etagFor('ab'.repeat(16), 'departures', a, true, 'x'),
    );
    expect(etagFor('ab'.repeat(16), 'departures', a, true, '')).not.toBe(
      etagFor('ab'.repeat(16), 'departures', a, false, ''),
    );
    expect(etagFor('ab'.repeat(16), 'departures', a, true, '')).not.toBe(
      etagFor('cd'.repeat(16), 'departures', a, true, ''),
    );
    expect(matchesIfNoneMatch('"a", "b"', '"b"')).toBe(true);
    expect(matchesIfNoneMatch('*', '"b"')).toBe(true);
    expect(matchesIfNoneMatch('"bb"', '"b"')).toBe(false);
    expect(matchesIfNoneMatch(undefined, '"b"')).toBe(false);
  });
});
