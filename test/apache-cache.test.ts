/**
 * deploy/apache.conf's cache block, uncommented as an admin would, in front of the relay on a real Apache httpd:
 * a cacheable answer is served again by Apache without running the relay (the daemon's access log does not grow),
 * and after a reload the new data's ETag replaces the old answer before the old one is older than the query's
 * maxAge. The app is the MAC vendors example with maxAge set to 2 s on its `vendor` query, so the test waits
 * seconds, not minutes.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CACHE_MODULES,
  deployedCacheBlock,
  HAVE_APACHE,
  installForWeb,
  makeWebRunDir,
  startApache,
  type Apache,
} from '../tools/demo/apache.js';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { ROOT, roqCli, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';

const MAX_AGE = 2;
const URL_PATH = 'vendor?mac=00-50-C2-7D-51-23&format=json';

let base = '';
let run = '';
let data = '';
let apache: Apache | undefined;
let daemon: RunningDaemon | undefined;

beforeAll(async () => {
  if (!HAVE_APACHE) return;
  base = fs.mkdtempSync(join(tmpdir(), 'roq-apache-cache-'));
  const app = join(base, 'app');
  const copy = copyApp(MAC_APP);
  fs.cpSync(copy, app, { recursive: true });
  fs.rmSync(copy, { recursive: true, force: true });
  const schema = join(app, 'schemas/queries/vendor.json');
  fs.writeFileSync(schema, JSON.stringify({ ...JSON.parse(fs.readFileSync(schema, 'utf8')), maxAge: MAX_AGE }));
  expect((await roqCli(['build', '--app', app])).code).toBe(0);
  data = join(base, 'data');
  fs.cpSync(MAC_DATA, data, { recursive: true });
  run = makeWebRunDir(join(base, 'run'));
  daemon = await startDaemon({ app, run, data, workers: 1 });
  const web = join(base, 'web');
  const relay = installForWeb(join(ROOT, 'dist/roq-relay'), join(web, 'cgi-bin', 'roq-relay'));
  const cacheConf = join(base, 'cache.conf');
  const block = deployedCacheBlock(join(ROOT, 'deploy/apache.conf'), '/cached', join(web, 'cache'));
  fs.writeFileSync(cacheConf, [...CACHE_MODULES, block].join('\n'));
  apache = await startApache({
    dir: web,
    scripts: { '/cached': relay, '/direct': relay },
    env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: '5000' },
    include: [cacheConf],
  });
}, 120_000);

afterAll(async () => {
  await apache?.stop();
  await daemon?.stop();
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

/** Lines in the daemon's access log: one per request a worker or the dispatcher answered. */
function served(): number {
  const log = join(run, 'daemon', 'access.log');
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').split('\n').filter(Boolean).length : 0;
}

async function get(path: string) {
  const res = await fetch(`${apache!.url}${path}`);
  return {
    status: res.status,
    etag: res.headers.get('etag'),
    cache: res.headers.get('x-cache') ?? '',
    age: Number(res.headers.get('age') ?? 0),
    control: res.headers.get('cache-control') ?? '',
    body: await res.text(),
  };
}

describe.skipIf(!HAVE_APACHE)("deploy/apache.conf's cache block in front of the relay", () => {
  it('serves a cacheable answer a second time without running the relay', async () => {
    const first = await get(`/cached/${URL_PATH}`);
    expect(first.status, first.body + apache!.errorLog()).toBe(200);
    expect(first.control).toBe(`public, max-age=${MAX_AGE}`);
    expect(first.etag).toMatch(/^"/);
    await waitFor('the first request in the access log', () => served() >= 1);
    const before = served();
    const second = await get(`/cached/${URL_PATH}`);
    expect(second.cache, JSON.stringify(second)).toMatch(/^HIT/);
    expect(second.body).toBe(first.body);
    expect(second.etag).toBe(first.etag);
    // A request that does reach the daemon, logged after the cached one would have been: the log grows by it alone.
    expect((await get(`/direct/${URL_PATH}`)).status).toBe(200);
    await waitFor('the uncached request in the access log', () => served() >= before + 1);
    expect(served()).toBe(before + 1);
  });

  it('never serves the old data longer than maxAge after a reload: the new ETag replaces it', async () => {
    const old = await get(`/cached/${URL_PATH}`);
    const oui = join(data, 'iab.csv');
    fs.writeFileSync(oui, fs.readFileSync(oui, 'utf8').replace('DEUTA-WERKE GmbH', 'DEUTA-WERKE GmbH (renamed)'));
    const reload = await roqCli(['reload', '--run', run]);
    expect(reload.code, reload.stderr).toBe(0);
    const seen = await waitFor(
      'the new ETag through the cache',
      async () => {
        const r = await get(`/cached/${URL_PATH}`);
        // While the old answer is still served, it is never older than maxAge.
        if (r.etag === old.etag) expect(r.age).toBeLessThanOrEqual(MAX_AGE);
        return r.etag !== old.etag && r;
      },
      (MAX_AGE + 10) * 1000,
    );
    expect(seen.status).toBe(200);
    expect(seen.body).toContain('(renamed)');
  }, 30_000);
});
