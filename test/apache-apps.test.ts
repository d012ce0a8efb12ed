/**
 * Both apps behind a real Apache httpd (mod_cgid), each through its own compiled CGI program and run directory,
 * as a user would deploy them side by side: the generic pages, JSON, CSV, a 400 naming the parameter, escaping.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAVE_APACHE, makeWebRunDir, startApache, type Apache } from '../tools/demo/apache.js';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { ROOT, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { installCgi } from './helpers/web.js';

interface Site {
  apache: Apache;
  daemon: RunningDaemon;
}
const sites: Record<string, Site> = {};
let base = '';

/** One app's CGI program in its own cgi-bin, at /app, over its own run directory. */
async function serve(name: string, dist: string, start: (run: string) => Promise<RunningDaemon>): Promise<void> {
  const run = makeWebRunDir(join(base, name, 'run'));
  const daemon = await start(run);
  const program = installCgi(dist, join(base, name, 'web', 'cgi-bin'));
  const apache = await startApache({
    dir: join(base, name, 'web'),
    scripts: { '/app': program },
    env: { ROQ_RUN_DIR: run, PATH: '/usr/bin:/bin', ROQ_CGI_TIMEOUT_MS: '5000' },
  });
  sites[name] = { apache, daemon };
}

beforeAll(async () => {
  if (!HAVE_APACHE) return;
  base = fs.mkdtempSync(join(tmpdir(), 'roq-apache-apps-'));
  const app = join(base, 'mac-app');
  const copy = copyApp(MAC_APP);
  fs.cpSync(copy, app, { recursive: true });
  fs.rmSync(copy, { recursive: true, force: true });
  fs.copyFileSync(join(MAC_APP, 'app.json'), join(app, 'app.json'));
  expect((await roqCli(['build', '--app', app])).code).toBe(0);
  await serve('mac', join(app, '.roq/dist'), (run) => startDaemon({ app, run, data: MAC_DATA, workers: 1 }));
  await serve('gtfs', join(ROOT, 'dist'), (run) => startDaemon({ run, workers: 1 }));
}, 90_000);

afterAll(async () => {
  for (const s of Object.values(sites)) {
    await s.apache.stop();
    await s.daemon.stop();
  }
  if (base) fs.rmSync(base, { recursive: true, force: true });
});

const get = async (site: string, path: string) => {
  const res = await fetch(`${sites[site]!.apache.url}${path}`);
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
};

describe.skipIf(!HAVE_APACHE)('two apps behind Apache', () => {
  it("serves the MAC app's index, form, results, JSON and CSV", async () => {
    const index = await get('mac', '/app');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<a href="/app/vendor">vendor</a>');
    const page = await get('mac', '/app/vendors?q=cern&limit=2');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<caption>2 rows</caption>');
    expect(page.body).toContain('<td data-label="Organization">CERN</td>');
    const json = await get('mac', '/app/vendor?mac=00-50-C2-7D-51-23&format=json');
    expect(JSON.parse(json.body).rows.map((r: { assignment: string }) => r.assignment)).toEqual([
      '0050C27D5',
      '0050C2',
    ]);
    const csv = await get('mac', '/app/vendors?q=cern&limit=1&format=csv');
    expect(csv.type).toMatch(/^text\/csv/);
    expect(csv.body).toBe(
      'registry,assignment,prefix_bits,organization,address\r\nMA-L,080030,24,CERN,CH-1211  GENEVE SUISSE/SWITZ CH 023\r\n',
    );
  });

  it("answers a bad MAC with a 400 naming mac, escaped, on the app's own page", async () => {
    const r = await get('mac', `/app/vendor?mac=${encodeURIComponent('<i>x</i>')}`);
    expect(r.status).toBe(400);
    expect(r.body).toContain('Who made this network card?');
    expect(r.body).toContain('&lt;i&gt;x&lt;/i&gt;');
    expect(r.body).not.toContain('<i>');
    const json = await get('mac', '/app/vendor?mac=12&format=json');
    expect(JSON.parse(json.body).error.param).toBe('mac');
  });

  it('serves the GTFS app beside it: the board at home, any query by path as JSON or CSV', async () => {
    const home = await get('gtfs', '/app');
    expect(home.body).toContain('<h1>Long Island Rail Road</h1>'); // the board's landing names its network
    const json = await get('gtfs', '/app/stops?q=jamaica&format=json');
    expect(JSON.parse(json.body).rows[0].stop_id).toBe('102');
    const bad = await get('gtfs', '/app/stops?format=csv');
    expect(bad.status).toBe(400);
    expect(bad.body).toContain("parameter 'q' is required");
  });
});
