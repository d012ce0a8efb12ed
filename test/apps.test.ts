/**
 * Apps: an app directory is built into its own .roq/ (never into roq's files), served with `--app`, side by side
 * with the default app from the same checkout, and queried by a `roq` that learns its queries from the run
 * directory. A declarative query (table, key prefix, fields) runs with no TypeScript at all.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { copyApp, listFiles, MAC_APP, MAC_DATA, writeTree } from './helpers/apps.js';
import { daemonsPerTest, makeRunDir, ROOT, roqCli } from './helpers/daemon.js';
import { runToEnd } from './helpers/run.js';

const { daemon } = daemonsPerTest();
const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const tmp = (dir: string) => (made.push(dir), dir);

const gitStatus = () => execFileSync('git', ['status', '--porcelain', '--ignored=no'], { cwd: ROOT, encoding: 'utf8' });

/** A small app of two tables and one declarative query per table; data separated by semicolons, one file headerless. */
function extentApp(): { app: string; data: string } {
  const app = tmp(
    writeTree({
      'schemas/tables/extent.json': {
        table: 'extent',
        file: 'extent.csv',
        delimiter: 'semicolon',
        columns: [
          { name: 'auth_name', type: 'string', required: true },
          { name: 'code', type: 'int', required: true },
          { name: 'name', type: 'string' },
          { name: 'south_lat', type: 'float' },
          { name: 'valid_from', type: 'date' },
        ],
        key: ['auth_name', 'code'],
      },
      'schemas/tables/units.json': {
        table: 'units',
        file: 'units.txt',
        header: false,
        delimiter: 'pipe',
        columns: [
          { name: 'code', type: 'string', required: true },
          { name: 'factor', type: 'float' },
        ],
        key: ['code'],
      },
      'schemas/queries/extent.json': {
        query: 'extent',
        description: 'One extent by authority and code.',
        table: 'extent',
        params: [
          { name: 'auth_name', type: 'string', required: true },
          { name: 'code', type: 'int', min: 0, max: 1000000 },
        ],
        fields: [{ name: 'auth_name' }, { name: 'code' }, { name: 'name' }, { name: 'south', column: 'south_lat' }],
      },
      'schemas/queries/unit.json': {
        query: 'unit',
        table: 'units',
        params: [{ name: 'code', type: 'string', required: true }],
        fields: [{ name: 'code' }, { name: 'factor' }],
      },
    }),
  );
  const data = tmp(
    writeTree({
      'extent.csv':
        'auth_name;code;name;south_lat;valid_from\nEPSG;1262;World;-90;\nEPSG;1024;"Afghanistan; whole";29.4;\nIGNF;1;France;41.15;\n',
      'units.txt': 'm|1\nft|0.3048\n',
    }),
  );
  return { app, data };
}

describe('apps', () => {
  it("roq build --app writes only inside the app's .roq/ and never edits roq's own files", async () => {
    const app = tmp(copyApp(MAC_APP));
    const before = listFiles(app);
    const status = gitStatus();
    const r = await roqCli(['build', '--app', app]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`built app ${app}`);
    const after = listFiles(app);
    expect(after.filter((f) => !f.startsWith('.roq/'))).toEqual(before);
    expect(after).toEqual(
      expect.arrayContaining([
        '.roq/generated/queries.ts',
        '.roq/dist/roq.js',
        '.roq/dist/worker.js',
        '.roq/dist/roq.cgi',
      ]),
    );
    expect(gitStatus()).toBe(status);
    const again = await roqCli(['build', '--app', app]);
    expect(again.stdout).toContain('is up to date');
  });

  it("writes a tsconfig that type-checks the app's query functions against its generated types", async () => {
    const app = tmp(copyApp(MAC_APP));
    expect((await roqCli(['build', '--app', app])).code).toBe(0);
    // Asynchronously: tsc takes long enough on a busy machine to block the worker past Vitest's RPC deadline.
    const tsc = async (): Promise<{ code: number; out: string }> => {
      const r = await runToEnd(
        join(ROOT, 'node_modules/.bin/tsc'),
        ['--noEmit', '-p', join(app, '.roq/tsconfig.json')],
        {
          timeoutMs: 120_000,
        },
      );
      return { code: r.code, out: r.stdout };
    };
    expect(await tsc()).toEqual({ code: 0, out: '' });
    const entries = join(app, 'queries/entries.ts');
    fs.writeFileSync(entries, fs.readFileSync(entries, 'utf8').replace('t.organization(row)', 't.organisation(row)'));
    const bad = await tsc();
    expect(bad.code).not.toBe(0);
    expect(bad.out).toMatch(/queries\/entries\.ts\(\d+,\d+\): error TS2551: Property 'organisation' does not exist/);
    // roq build runs the same check and refuses the app, naming file:line:column.
    const built = await roqCli(['build', '--app', app]);
    expect(built.code).toBe(1);
    expect(built.stderr).toMatch(/queries\/entries\.ts:\d+:\d+: error TS2551: Property 'organisation' does not exist/);
  });

  it("serves two apps side by side from one checkout, and roq query learns each one's queries from its run directory", async () => {
    const app = tmp(copyApp(MAC_APP));
    const mac = await daemon({ app, data: MAC_DATA, workers: 1 });
    const gtfs = await daemon({ workers: 1 });
    const v = await roqCli(['query', 'vendor', 'mac=00:50:C2:7D:51:23', '--json', '--run', mac.run]);
    expect(v.code, v.stderr).toBe(0);
    expect(JSON.parse(v.stdout).map((r: { assignment: string }) => r.assignment)).toEqual(['0050C27D5', '0050C2']);
    const s = await roqCli(['query', 'stops', 'q=jamaica', '--json', '--run', gtfs.run]);
    expect(JSON.parse(s.stdout)[0].stop_id).toBe('102');
    const wrong = await roqCli(['query', 'stops', 'q=jamaica', '--run', mac.run]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown query 'stops'; known queries: vendor, vendors");
    const bad = await roqCli(['query', 'vendor', 'mac=nope', '--run', mac.run]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("parameter 'mac' is invalid");
  });

  it('follows the README guide from a shell outside the checkout: init, start (which builds), query, stop', async () => {
    // A user's own directory, not roq's: everything relative to it, as they would type it.
    const home = tmp(writeTree({ 'exports/products.csv': 'code,name,price\n1,Widget,2.50\n2,"Gadget, large",10\n' }));
    const cli = (args: string[]) => roqCli(args, { cwd: home, timeoutMs: 120_000 });
    const init = await cli(['init', 'myapp', '--from', 'exports']);
    expect(init.code, init.stderr).toBe(0);
    const start = await cli(['start', '--app', 'myapp', '--data', 'exports', '--run', 'myapp/run']);
    try {
      expect(start.code, start.stderr + start.stdout).toBe(0);
      const row = await cli(['query', 'products', 'code=2', '--json', '--run', 'myapp/run']);
      // 2.50 would read back as 2.5: the price column keeps its text.
      expect(JSON.parse(row.stdout)).toEqual([{ code: 2, name: 'Gadget, large', price: '10' }]);
    } finally {
      expect((await cli(['stop', '--run', 'myapp/run'])).code).toBe(0);
    }
  });

  it('roq start --app builds when the build is stale', async () => {
    const app = tmp(copyApp(MAC_APP));
    expect((await roqCli(['build', '--app', app])).code).toBe(0);
    // roq's programs written again with the same bytes (as `npm run demo` does on each start): still up to date.
    const now = new Date();
    for (const f of ['roq.js', 'worker.js', 'load-thread.js', 'roq.cgi'])
      fs.utimesSync(join(ROOT, 'dist', f), now, now);
    expect((await roqCli(['build', '--app', app])).stdout).toContain('is up to date');
    const schema = join(app, 'schemas/queries/vendors.json');
    fs.writeFileSync(schema, fs.readFileSync(schema, 'utf8').replace('"max": 500', '"max": 50'));
    const run = tmp(makeRunDir());
    const d = await daemon({ app, data: MAC_DATA, workers: 1, run });
    const r = await roqCli(['query', 'vendors', 'q=a', 'limit=60', '--run', d.run]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('from 1 to 50');
  });

  it('answers declarative queries with no TypeScript: key prefixes, delimiters, headerless files', async () => {
    const { app, data } = extentApp();
    const d = await daemon({ app, data, workers: 1 });
    const one = await roqCli(['query', 'extent', 'auth_name=EPSG', 'code=1024', '--json', '--run', d.run]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual([
      { auth_name: 'EPSG', code: 1024, name: 'Afghanistan; whole', south: 29.4 },
    ]);
    const prefix = await roqCli(['query', 'extent', 'auth_name=EPSG', '--json', '--run', d.run]);
    expect(JSON.parse(prefix.stdout).map((r: { code: number }) => r.code)).toEqual([1024, 1262]);
    const none = await roqCli(['query', 'extent', 'auth_name=ESRI', '--json', '--run', d.run]);
    expect(JSON.parse(none.stdout)).toEqual([]);
    const unit = await roqCli(['query', 'unit', 'code=ft', '--json', '--run', d.run]);
    expect(JSON.parse(unit.stdout)).toEqual([{ code: 'ft', factor: 0.3048 }]);
    expect(fs.existsSync(join(app, 'queries'))).toBe(false);
  });
});
