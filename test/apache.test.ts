/**
 * The web path through a real Apache httpd (mod_cgid, a private instance on 127.0.0.1 with its own config; CI
 * installs apache2), as deployed: the relay (dist/roq-relay) as the CGI program, the daemon rendering the pages.
 * Over HTTP: the page renders the departures, format=json matches `roq query`, a POSTed form works, a bad
 * parameter is a 400 naming it, a POST body too large is a 413 (not an empty reply), and with the daemon stopped
 * the page is the relay's 503 with Retry-After at once, not after its timeout.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from './helpers/temp.js';
import { HAVE_APACHE, installForWeb, makeWebRunDir, startApache, type Apache } from '../tools/demo/apache.js';
import { ROOT, roqCli, startDaemon, waitFor, type RunningDaemon } from './helpers/daemon.js';

const RELAY = join(ROOT, 'dist/roq-relay');
const CGI_TIMEOUT_MS = 5000;
const QUERY = 'stop=102&date=2026-11-02&after=08:00&limit=5';

const programs = [{ name: 'the relay', path: '/departures', present: true }];

let apache: Apache | undefined;
let daemon: RunningDaemon | undefined;
let run = '';

beforeAll(async () => {
  if (!HAVE_APACHE) return;
  const base = tempDir('roq-apache-');
  fs.chmodSync(base, 0o755); // Apache's CGI programs (www-data) pass through it
  run = makeWebRunDir(join(base, 'run'));
  daemon = await startDaemon({ run, workers: 2 });
  apache = await startApache({
    dir: join(base, 'web'),
    scripts: { '/departures': installForWeb(RELAY, join(base, 'web', 'cgi-bin', 'roq-relay')) },
    env: { ROQ_RUN_DIR: run, ROQ_CGI_TIMEOUT_MS: String(CGI_TIMEOUT_MS) },
  });
}, 60_000);

afterAll(async () => {
  await apache?.stop();
  await daemon?.stop();
});

async function expectedRows(): Promise<Record<string, unknown>[]> {
  const r = await roqCli(['query', 'departures', ...QUERY.split('&'), '--json', '--run', run]);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>[];
}

describe.skipIf(!HAVE_APACHE)('through a real Apache httpd (mod_cgid)', () => {
  for (const p of programs) {
    describe.skipIf(!p.present)(p.name, () => {
      it('renders the departure board as an HTML page', async () => {
        const res = await fetch(`${apache!.url}${p.path}?${QUERY}&query=departures`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^text\/html/);
        const html = await res.text();
        const expected = await expectedRows();
        expect(expected.length).toBe(5);
        for (const row of expected) expect(html).toContain(`${row.trip_id}`);
        expect(html).toContain(`${expected[0]!.time}`);
        expect(html.match(/<tr>/g)?.length).toBeGreaterThanOrEqual(expected.length);
      });

      it('answers format=json exactly as `roq query --json`', async () => {
        const res = await fetch(`${apache!.url}${p.path}?${QUERY}&format=json`);
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/json/);
        expect(await res.json()).toEqual({ query: 'departures', rows: await expectedRows() });
      });

      it('takes a POSTed form', async () => {
        const res = await fetch(`${apache!.url}${p.path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: `${QUERY}&format=json`,
        });
        expect(res.status).toBe(200);
        expect(((await res.json()) as { rows: unknown[] }).rows).toEqual(await expectedRows());
      });

      it('refuses a bad parameter with 400 naming it', async () => {
        const res = await fetch(`${apache!.url}${p.path}?stop=102&date=2026-13-45&format=json`);
        expect(res.status).toBe(400);
        expect(await res.json()).toMatchObject({ error: { code: 'ROQ_PARAM_INVALID', param: 'date' } });
        const page = await fetch(`${apache!.url}${p.path}?stop=102&date=2026-13-45`);
        expect(page.status).toBe(400);
        expect(await page.text()).toMatch(/name="date"[^>]*aria-invalid="true"/);
      });
    });
  }

  it('answers a POST body too large for a request with 413, after reading all of it', async () => {
    const res = await fetch(`${apache!.url}/departures`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `q=${'a'.repeat(200_000)}`,
    });
    expect(res.status).toBe(413);
    expect(await res.text()).toMatch(/^ROQ_REQUEST_TOO_LARGE: /);
    expect(apache!.errorLog()).not.toMatch(/AH02651|Broken pipe/);
  });

  it('answers 503 with Retry-After at once when the daemon is stopped, and serves again once it is back', async () => {
    await daemon!.stop();
    try {
      for (const p of programs.filter((x) => x.present)) {
        const t0 = Date.now();
        const res = await fetch(`${apache!.url}${p.path}?${QUERY}&format=json`);
        expect(res.status).toBe(503);
        expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
        // The relay's own page: it renders nothing, so plain text with the catalog's code, for JSON asked or not.
        const body = await res.text();
        expect(body).toMatch(/^ROQ_DAEMON_DOWN: /);
        // Not the relay's timeout: nobody reads REQUESTS, so it knows at once.
        expect(Date.now() - t0).toBeLessThan(CGI_TIMEOUT_MS);
        // The visitor reads a plain sentence; the run directory, errno and admin command reach Apache's error log.
        const page = await (await fetch(`${apache!.url}${p.path}?${QUERY}`)).text();
        for (const text of [body, page]) expect(text).not.toMatch(new RegExp(`${run}|ENXIO|ENOENT|roq start`));
        expect(page).toContain('The service is not available right now');
        await waitFor(
          "the details in Apache's error log",
          () => apache!.errorLog().includes(`run directory ${run}: ROQ_DAEMON_DOWN: the roq daemon is not running`),
          5000,
        );
      }
    } finally {
      daemon = await startDaemon({ run, workers: 2 });
    }
    const res = await fetch(`${apache!.url}${programs.find((x) => x.present)!.path}?${QUERY}&format=json`);
    expect(res.status).toBe(200);
  });
});
