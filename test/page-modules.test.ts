/**
 * Page modules are app API, not the board's privilege: a user's app (here the MAC vendor app with one page module
 * added, built with `roq build --app` like any app) gets its own home page, a search that goes straight to its one
 * match (303), its own status for nothing found, its own error box, and the engine's JSON of the same outcome,
 * through the relay and a real daemon; the queries it does not name stay the generic front end's. `roq build`
 * type-checks a page module as it does query functions.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { runCgi } from './helpers/cgi.js';
import { daemonsPerTest, roqCli } from './helpers/daemon.js';
import { tempDir } from './helpers/temp.js';

/** The page module: answers the app's home page; `q` searches makers, one match goes to its vendor page. */
const PAGE_MODULE = `import { rowsToObjects } from 'roq/protocol.js';
import { errorView } from 'roq/web/error-view.js';
import type { AppPage, Outcome, PageAsk, PageRequest } from 'roq/web/pages.js';

function answer(request: PageRequest, ask: PageAsk): Outcome {
  const q = request.form.q;
  if (q === undefined) return { kind: 'form' };
  const outcome = ask('vendors', { q, limit: '20' });
  if (outcome.kind !== 'rows' || request.json) return outcome;
  const rows = rowsToObjects(outcome.fields, outcome.rows);
  return rows.length === 1 ? { kind: 'redirect', location: '/vendor?mac=' + String(rows[0]!.assignment) } : outcome;
}

export const page: AppPage = {
  answers: [''],
  answer,
  view(outcome, request) {
    const q = request.form.q ?? '';
    if (outcome.kind === 'error') return { view: { title: 'Find a maker', q, ...errorView(outcome.error) } };
    if (outcome.kind !== 'rows') return { view: { title: 'Find a maker', q } };
    const makers = rowsToObjects(outcome.fields, outcome.rows).map((r) => ({
      name: String(r.organization),
      href: request.script + '/vendor?mac=' + String(r.assignment),
    }));
    const none = makers.length === 0;
    return { view: { title: 'Makers matching ' + q, q, makers, none }, ...(none ? { status: 404 } : {}) };
  },
};
`;

const TEMPLATE = `{{> head}}
</head>
<body>
<h1>Find a maker</h1>
{{> error}}
<form method="get"><input name="q" value="{{q}}"></form>
{{#none}}<p class="none">No maker matches “{{q}}”.</p>{{/none}}
<ul>{{#makers}}<li><a href="{{href}}">{{name}}</a></li>{{/makers}}</ul>
</body>
</html>
`;

const { daemon } = daemonsPerTest();

function appWithPage(module = PAGE_MODULE): string {
  const app = copyApp(MAC_APP);
  fs.writeFileSync(join(app, 'templates/find.ts'), module);
  fs.writeFileSync(join(app, 'templates/find.html'), TEMPLATE);
  return app;
}

describe("a user's app with a page module", () => {
  let app = '';
  let run = '';
  const get = (query: string, path = '') =>
    runCgi({
      query,
      env: { ROQ_RUN_DIR: run, SCRIPT_NAME: '/macs', ...(path ? { PATH_INFO: path } : {}) },
    });

  beforeAll(async () => {
    app = appWithPage();
    run = tempDir('roq-page-run-');
    const built = await roqCli(['build', '--app', app]);
    expect(built.code, built.stderr + built.stdout).toBe(0);
  }, 300_000);

  afterAll(() => fs.rmSync(app, { recursive: true, force: true }));

  /** An organization that the vendors query finds exactly once (searched by its whole name). */
  async function uniqueMaker(): Promise<{ name: string; assignment: string }> {
    const all = await roqCli(['query', 'vendors', 'q=a', 'limit=200', '--json', '--run', run]);
    expect(all.code, all.stderr).toBe(0);
    const rows = JSON.parse(all.stdout) as { organization: string; assignment: string }[];
    for (const r of rows.slice(0, 40)) {
      const one = await roqCli(['query', 'vendors', `q=${r.organization}`, '--json', '--run', run]);
      if (one.code !== 0) continue; // a name longer than q's 100 characters
      const found = JSON.parse(one.stdout) as unknown[];
      if (found.length === 1) return { name: r.organization, assignment: r.assignment };
    }
    throw new Error('no organization among the first 40 is found exactly once');
  }

  it('answers the home page, a search, a single match, nothing found and JSON by the page; the rest generically', async () => {
    await daemon({ app, data: MAC_DATA, run, workers: 1 });
    const home = await get('');
    expect(home.status, home.body).toBe(200);
    expect(home.body).toContain('<h1>Find a maker</h1>');

    const { name, assignment } = await uniqueMaker();
    const one = await get(`q=${encodeURIComponent(name)}`);
    expect(one.status, one.body).toBe(303);
    expect(one.headers.location).toBe(`/macs/vendor?mac=${assignment}`);

    const many = await get('q=a');
    expect(many.status).toBe(200);
    expect((many.body.match(/<li><a href="\/macs\/vendor\?mac=/g) ?? []).length).toBeGreaterThan(1);

    const none = await get('q=zzzz-no-maker-zzzz');
    expect(none.status).toBe(404);
    expect(none.body).toContain('No maker matches “zzzz-no-maker-zzzz”.');

    const json = await get('q=a&format=json');
    expect(json.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(json.body) as { query: string; rows: unknown[] };
    expect(body.query).toBe('vendors');
    expect(body.rows.length).toBe(20);

    // The engine validated the parameter before the query ran; the page's template shows the error box.
    const bad = await get(`q=${'x'.repeat(101)}`);
    expect(bad.status).toBe(400);
    expect(bad.body).toContain('role="alert"');
    expect(bad.body).toContain('<h1>Find a maker</h1>');

    // A query the page does not name is the generic front end's, as in any app.
    const vendor = await get(`mac=${assignment}`, '/vendor');
    expect(vendor.status).toBe(200);
    expect(vendor.body).not.toContain('Find a maker');
  });

  it('is type-checked by roq build, which names the file, line and column', async () => {
    const broken = appWithPage(PAGE_MODULE.replace('const q = request.form.q;', 'const q: number = request.form.q;'));
    try {
      const built = await roqCli(['build', '--app', broken]);
      expect(built.code).not.toBe(0);
      expect(built.stderr).toMatch(/templates\/find\.ts:6:9: error TS2322/);
    } finally {
      fs.rmSync(broken, { recursive: true, force: true });
    }
  });
});
