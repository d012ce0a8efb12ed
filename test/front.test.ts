/**
 * The web front end driven by the schemas, through the real CGI programs of both apps (the MAC vendor app's built
 * into its .roq/, the default app's dist/): the index of queries, forms generated from parameters, results
 * tables, JSON and CSV, an app's own template for a query, escaping everywhere, and errors naming the parameter
 * of the query asked.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ask } from '../src/client.js';
import { encodeParams, rowsToObjects } from '../src/protocol.js';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { runCgi, type CgiRequest } from './helpers/cgi.js';
import { ROOT, roqCli, startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { macReference } from './mac-reference.js';

let app = '';
let mac: RunningDaemon;
let gtfs: RunningDaemon;
beforeAll(async () => {
  app = copyApp(MAC_APP);
  fs.copyFileSync(join(MAC_APP, 'app.json'), join(app, 'app.json'));
  expect((await roqCli(['build', '--app', app])).code).toBe(0);
  [mac, gtfs] = await Promise.all([startDaemon({ app, data: MAC_DATA, workers: 1 }), startDaemon({ workers: 1 })]);
});
afterAll(async () => {
  await Promise.all([mac?.stop(), gtfs?.stop()]);
  fs.rmSync(app, { recursive: true, force: true });
});

const SCRIPT = '/cgi-bin/roq-cgi';
/** An app's CGI program: the compiled executable when Bun built one, else the bundle under Node. */
function appCgi(dir: string, run: string, path: string, query: string, extra: CgiRequest = {}) {
  const exe = join(dir, '.roq/dist/roq-cgi');
  const compiled = fs.existsSync(exe);
  return runCgi({
    program: compiled ? exe : join(dir, '.roq/dist/roq.cgi'),
    runtime: compiled ? 'exe' : 'node',
    query,
    ...extra,
    env: { ROQ_RUN_DIR: run, SCRIPT_NAME: SCRIPT, PATH_INFO: path, ...extra.env },
  });
}
function macCgi(path: string, query: string, extra: CgiRequest = {}) {
  return appCgi(app, mac.run, path, query, extra);
}
function gtfsCgi(path: string, query: string) {
  return runCgi({ query, env: { ROQ_RUN_DIR: gtfs.run, SCRIPT_NAME: SCRIPT, PATH_INFO: path } });
}

const ref = macReference(MAC_DATA);
const textParams = (p: Record<string, string | number>) =>
  Object.fromEntries(Object.entries(p).map(([k, v]) => [k, String(v)]));

describe('the generic front end, MAC vendor app', () => {
  it("shows its own error pages, not the board's, for requests refused before they are routed", async () => {
    const cases: [CgiRequest, number, string][] = [
      [{ method: 'PUT' }, 405, 'ROQ_METHOD'],
      [{ query: 'q=%ZZ' }, 400, 'ROQ_FORM_ENCODING'],
      [{ query: Array.from({ length: 70 }, (_, i) => `f${i}=1`).join('&') }, 413, 'ROQ_REQUEST_TOO_LARGE'],
    ];
    for (const [path, pageOf] of [
      ['', 'home'],
      ['/vendors', 'query'],
    ] as const)
      for (const [req, status, code] of cases) {
        const r = await macCgi(path, req.query ?? '', req);
        expect([pageOf, r.status, r.body], r.stderr).toEqual([pageOf, status, expect.stringContaining(code)]);
        expect(r.body).toContain('<h1><a href="/cgi-bin/roq-cgi/">MAC address vendors</a></h1>');
        expect(r.body).not.toMatch(/Train departures/);
      }
    const json = await macCgi('/vendors', 'format=json&q=%ZZ');
    expect(JSON.parse(json.body)).toMatchObject({ error: { code: 'ROQ_FORM_ENCODING' } });
  });

  it("lists the app's queries with their descriptions on its home page", async () => {
    const r = await macCgi('', '');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.body).toContain('<h1><a href="/cgi-bin/roq-cgi/">MAC address vendors</a></h1>');
    expect(r.body).toContain('<a href="/cgi-bin/roq-cgi/vendors">vendors</a>');
    expect(r.body).toContain('Registry entries whose organization name contains a text');
    expect(r.body).not.toContain('departure');
  });

  it('generates a form from the parameters, and a results table from the fields', async () => {
    const form = await macCgi('/vendors', '');
    expect(form.status).toBe(200);
    expect(form.body).toMatch(/<input type="text" name="q" value="" required maxlength="100">/);
    expect(form.body).toMatch(/<input type="number" name="limit" value="" min="1" max="500" step="1">/);
    expect(form.body).toContain('part of the organization name');
    expect(form.body).not.toContain('<table>');
    const r = await macCgi('/vendors', 'q=cern&limit=3');
    expect(r.status).toBe(200);
    expect(r.body).toContain('<input type="text" name="q" value="cern" required');
    expect(r.body).toContain('<caption>3 rows</caption>');
    expect(r.body).toContain('<th scope="col" class="num">Prefix bits</th>');
    const cells = [...r.body.matchAll(/<tr>(.*?)<\/tr>/g)]
      .slice(1)
      .map((m) => [...m[1]!.matchAll(/<td[^>]*>(.*?)<\/td>/g)].map((c) => c[1]));
    expect(cells).toEqual(
      ref.vendors('cern', 3).map((e) => [e.registry, e.assignment, String(e.prefix_bits), e.organization, e.address]),
    );
    expect(r.body).toContain('href="/cgi-bin/roq-cgi/vendors?q=cern&amp;limit=3&amp;format=csv"');
  });

  it("gives answers of any app an ETag from the data's content hash, and 304 to a matching If-None-Match", async () => {
    const first = await macCgi('/vendors', 'q=cern&format=csv');
    expect(first.headers['x-roq-generation']).toMatch(/^[0-9a-z]+/);
    const etag = first.headers.etag!;
    expect(etag).toMatch(/^"/);
    const again = await macCgi('/vendors', 'q=cern&format=csv', { env: { HTTP_IF_NONE_MATCH: etag } });
    expect(again.status).toBe(304);
    expect(again.body).toBe('');
    const other = await macCgi('/vendors', 'q=cern&format=json', { env: { HTTP_IF_NONE_MATCH: etag } });
    expect(other.status).toBe(200);
  });

  it('picks the query from a query= field as well as from the path', async () => {
    const r = await macCgi('', 'query=vendors&q=cern&limit=1&format=json');
    expect(JSON.parse(r.body).rows).toEqual(ref.vendors('cern', 1));
  });

  it("answers format=json and format=csv with the daemon's rows", async () => {
    const json = await macCgi('/vendors', 'q=gmbh&limit=40&format=json');
    expect(json.headers['content-type']).toBe('application/json; charset=utf-8');
    const answer = await ask(mac.run, 'vendors', { q: 'gmbh', limit: '40' }, { timeoutMs: 30_000 });
    expect(answer.status).toBe('ok');
    if (answer.status !== 'ok') return;
    expect(JSON.parse(json.body)).toEqual({ query: 'vendors', rows: rowsToObjects(answer.fields, answer.rows) });
    const csv = await macCgi('/vendor', 'mac=70B3D5F2F000&format=csv');
    expect(csv.status).toBe(200);
    expect(csv.headers['content-type']).toMatch(/^text\/csv; charset=utf-8/);
    expect(csv.body).toBe(
      'registry,assignment,prefix_bits,organization,address\r\n' +
        'MA-S,70B3D5F2F,36,TELEPLATFORMS,"Polbina st., 3/1 Moscow  RU 109388"\r\n' +
        'MA-L,70B3D5,24,IEEE Registration Authority,445 Hoes Lane Piscataway NJ US 08554\r\n',
    );
  });

  it("renders the app's own template for a query, escaped, with the error naming the parameter", async () => {
    const ok = await macCgi('/vendor', 'mac=0050c27d5123');
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('<h1>Who made this network card?</h1>');
    expect(ok.body).toContain('<p class="org">DEUTA-WERKE GmbH</p>');
    expect(ok.body).toContain('IAB 0050C27D5 · a 36-bit prefix');
    // The app's own partial (templates/_entry.html), once per row, and roq's head partial.
    expect(ok.body).toMatch(/^<!doctype html>\n<html lang="en">\n<head>\n/);
    expect(ok.body).toContain('<title>vendor · MAC address vendors · roq</title>');
    const rows = JSON.parse((await macCgi('/vendor', 'mac=0050c27d5123&format=json')).body).rows;
    expect(rows.length).toBeGreaterThan(0);
    expect(ok.body.match(/<div class="entry">\n {2}<p class="org">/g)).toHaveLength(rows.length);
    expect(ok.body).not.toContain('{{');
    const bad = await macCgi('/vendor', `mac=${encodeURIComponent('<b>"x\'</b>')}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('<h1>Who made this network card?</h1>');
    // roq's error partial (templates/_error.html), as on the generic page.
    expect(bad.body).toContain('<div class="error" role="alert" id="error">\n  <h2>Please check the form</h2>');
    expect(bad.body).toContain('ROQ_PARAM_INVALID · HTTP 400 · parameter <code>mac</code>');
    expect(bad.body).toContain('value="&lt;b&gt;&quot;x&#39;&lt;/b&gt;"');
    expect(bad.body).toContain('parameter &#39;mac&#39; is invalid');
    expect(bad.body).toContain('aria-invalid="true"');
    expect(bad.body).not.toContain('<b>');
  });

  it('leaves no mustache text on the page of any worked case of either app', async () => {
    // A tag the engine did not take (a comment ended early by a '}}' inside it, a typo) reaches the page as text.
    const stray = /\{\{|\}\}/;
    const gtfsCases = ['gtfs-lirr-board-cases.jsonl', 'gtfs-lirr-cases.jsonl'].flatMap((file) =>
      fs
        .readFileSync(join(ROOT, 'test/cases', file), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { query: string; params: Record<string, string | number> }),
    );
    // One case per query and shape is enough to reach every template branch the cases reach; all 112 would spawn
    // 112 CGI processes.
    const pages: (() => Promise<{ body: string }>)[] = gtfsCases
      .filter((c, i) => c.query !== 'departures' || i % 10 === 0)
      .map((c) => () => gtfsCgi(`/${c.query}`, encodeParams(textParams(c.params))));
    for (const mac of ['0050c27d5123', '08-00-30-12-34-56', '0001c8', 'ffffffffffff', 'zz'])
      pages.push(() => macCgi('/vendor', `mac=${mac}`));
    for (const q of ['cern', 'x', '']) pages.push(() => macCgi('/vendors', `q=${q}`));
    pages.push(() => macCgi('', ''));
    // One at a time: the machine running the suite may be busy enough already.
    for (const page of pages) expect((await page()).body).not.toMatch(stray);
  });

  it("never serves an app's partial as a page: /_entry is an unknown query on the generic page", async () => {
    const r = await macCgi('/_entry', '');
    expect(r.status).toBe(404);
    expect(r.body).toContain('unknown query &#39;_entry&#39;');
    expect(r.body).toContain('<h1><a href="/cgi-bin/roq-cgi/">MAC address vendors</a></h1>');
    expect(r.body).not.toContain('class="entry"');
  });

  it('escapes what a visitor sends on the generic page', async () => {
    const r = await macCgi('/vendors', `q=${encodeURIComponent('<script>alert(1)</script>')}`);
    expect(r.status).toBe(200);
    expect(r.body).not.toContain('<script>');
    expect(r.body).toContain('value="&lt;script&gt;alert(1)&lt;/script&gt;"');
  });

  it('names the parameter of the query asked, in every format', async () => {
    const json = await macCgi('/vendors', 'limit=5&format=json');
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body).error).toMatchObject({ code: 'ROQ_PARAM_MISSING', param: 'q' });
    const csv = await macCgi('/vendors', 'q=x&limit=0&format=csv');
    expect(csv.status).toBe(400);
    expect(csv.body).toContain("parameter 'limit' is invalid");
    const html = await macCgi('/vendors', 'q=x&limit=abc');
    expect(html.status).toBe(400);
    expect(html.body).toMatch(/name="limit" value="abc" min="1" max="500" step="1" aria-invalid="true"/);
    // Every parameter at fault at once, as on the board: each message, each field marked; the first is the error's.
    const two = await macCgi('/vendors', `q=${'x'.repeat(101)}&limit=0`);
    expect(two.status).toBe(400);
    expect(two.body).toContain('<p>parameter &#39;q&#39; is invalid');
    expect(two.body).toContain('<p>parameter &#39;limit&#39; is invalid');
    expect(two.body).toContain('ROQ_PARAM_INVALID · HTTP 400 · parameter <code>q</code>');
    expect(two.body.match(/ aria-invalid="true" aria-describedby="error">/g)).toHaveLength(2);
    const twoJson = await macCgi('/vendors', `q=${'x'.repeat(101)}&limit=0&format=json`);
    expect(JSON.parse(twoJson.body).error).toMatchObject({ code: 'ROQ_PARAM_INVALID', param: 'q' });
    const unknown = await macCgi('/departures', 'stop=1&format=json');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.body).error.code).toBe('ROQ_QUERY_UNKNOWN');
    const page = await macCgi('/departures', 'stop=1');
    expect(page.status).toBe(404);
    expect(page.body).toContain('No such query');
    expect(page.body).toContain('known queries: vendor, vendors');
    // One rule for parameters on the web and the CLI: an unknown name and a name given twice are refused.
    const typo = await macCgi('/vendors', 'qq=cern');
    expect(typo.status).toBe(400);
    expect(typo.body).toContain('unknown parameter &#39;qq&#39; for query &#39;vendors&#39;');
    const twice = await macCgi('/vendors', 'q=cern&q=ibm&format=json');
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body).error).toMatchObject({ code: 'ROQ_PARAM_REPEATED', param: 'q' });
    const cli = await roqCli(['query', 'vendors', 'q=cern', 'q=ibm', '--run', mac.run]);
    expect(cli.code).toBe(2);
    expect(cli.stderr).toContain("parameter 'q' is given twice; give it once");
    // A format none answers is a 400 naming it, not HTML in its place.
    const xml = await macCgi('/vendors', 'q=cern&format=xml');
    expect(xml.status).toBe(400);
    expect(xml.headers['content-type']).toMatch(/^text\/html/);
    expect(xml.body).toContain('unknown format &#39;xml&#39;; ask for format=html, json or csv');
  });
});

describe('the generic front end, default (GTFS) app', () => {
  it('keeps the departure board as the home page and as the page of departures and stops', async () => {
    const home = await gtfsCgi('', '');
    expect(home.body).toContain('<h1>Long Island Rail Road</h1>');
    // The board's station search: one match goes straight to its board, several are listed on the board's page.
    const one = await gtfsCgi('/stops', 'q=jamaica');
    expect(one.status).toBe(303);
    const many = await gtfsCgi('/stops', 'q=port');
    expect(many.status).toBe(200);
    expect(many.body).toContain('<h2 id="stations-heading">Stations matching “port”</h2>');
    expect(many.body).not.toContain('<caption>');
  });

  it("serves every query as JSON and CSV by path, with errors naming that query's parameter", async () => {
    const missing = await gtfsCgi('/stops', 'format=json');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body).error).toMatchObject({ code: 'ROQ_PARAM_MISSING', param: 'q' });
    const csv = await gtfsCgi('/departures', 'stop=102&date=2026-11-02&after=08:00&limit=3&format=csv');
    expect(csv.status).toBe(200);
    const cli = await roqCli([
      'query',
      'departures',
      'stop=102',
      'date=2026-11-02',
      'after=08:00',
      'limit=3',
      '--json',
      '--run',
      gtfs.run,
    ]);
    const rows = JSON.parse(cli.stdout) as Record<string, unknown>[];
    const lines = csv.body.trimEnd().split('\r\n');
    expect(lines[0]).toBe(Object.keys(rows[0]!).join(','));
    expect(lines.slice(1).map((l) => l.split(',')[5])).toEqual(rows.map((r) => r.trip_id));
  });
});

describe("an app's own templates with a broken partial", () => {
  it('are refused by roq build with the template file, line and column of an unknown partial or a cycle', async () => {
    const broken = copyApp(MAC_APP);
    try {
      fs.writeFileSync(join(broken, 'templates/vendor.html'), '<p>\n  <b>{{> nope}}</b></p>\n');
      const unknown = await roqCli(['build', '--app', broken]);
      expect(unknown.code).not.toBe(0);
      expect(unknown.stderr).toContain(
        "templates/vendor.html:2:6: unknown partial '{{> nope}}': there is no templates/_nope.html (known partials: entry, error, head, when)",
      );
      fs.writeFileSync(join(broken, 'templates/vendor.html'), '{{> head}}</head><body>{{> entry}}</body></html>\n');
      fs.writeFileSync(join(broken, 'templates/_a.html'), '<div>\n{{> b}}\n</div>\n');
      fs.writeFileSync(join(broken, 'templates/_b.html'), '{{#query}}{{> a}}{{/query}}\n');
      const cycle = await roqCli(['build', '--app', broken]);
      expect(cycle.code).not.toBe(0);
      // Found in the partial itself, even though no page includes it.
      expect(cycle.stderr).toContain("templates/_a.html:2:1: partial '{{> b}}' includes itself: b → a → b");
      expect(fs.existsSync(join(broken, '.roq/dist/roq-cgi'))).toBe(false);
      fs.rmSync(join(broken, 'templates/_a.html'));
      fs.rmSync(join(broken, 'templates/_b.html'));
      expect((await roqCli(['build', '--app', broken])).code).toBe(0);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });
});
