/**
 * `roq init APP --from DATA_DIR`: schemas inferred from fixture files (types, optional columns, keys, delimiters,
 * no header, quoted fields) and from both sample data sets; with no edits the app starts and its lookup queries
 * return the rows.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { inferTable, type Inferred } from '../src/init/infer.js';
import { MAC_DATA, writeTree } from './helpers/apps.js';
import { runCgi } from './helpers/cgi.js';
import { daemonsPerTest, LIRR, roqCli } from './helpers/daemon.js';

const { daemon } = daemonsPerTest();
const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const tree = (files: Record<string, string>) => {
  const dir = writeTree(files);
  made.push(dir);
  return dir;
};

const infer = (text: string, table = 't') => inferTable(`${table}.csv`, table, Buffer.from(text)) as Inferred;
const columnsOf = (text: string) =>
  infer(text).table.columns as { name: string; type: string; required?: boolean; format?: string }[];

describe('schema inference', () => {
  it('infers int, float, date, time and string, and optional columns from empty values', () => {
    const cols = columnsOf(
      'code,ratio,day,gtfs_date,at,service_time,name,note,zip,open\n' +
        '1,0.5,2024-01-31,20240131,08:30,25:10:00,Alpha,,007,true\n' +
        '2,-3,2024-02-29,20240229,23:59:59,01:00:00,Beta,x,010,False\n',
    );
    expect(cols.map((c) => [c.name, c.type, c.format ?? '', c.required === true])).toEqual([
      ['code', 'int', '', true],
      ['ratio', 'float', '', true],
      ['day', 'date', 'iso', true],
      ['gtfs_date', 'date', '', true],
      ['at', 'time', 'clock', true],
      ['service_time', 'time', '', true],
      ['name', 'string', '', true],
      ['note', 'string', '', false],
      ['zip', 'string', '', true],
      ['open', 'bool', '', true],
    ]);
  });

  it('finds a key: one unique column, else the first columns together, else none', () => {
    const single = infer('name,id\nx,1\nx,2\n');
    expect(single.table.key).toEqual(['id']);
    const pair = infer('auth_name,code,name\nEPSG,1,World\nEPSG,2,France\nIGNF,1,France\n', 'extent');
    expect(pair.table.key).toEqual(['auth_name', 'code']);
    expect(pair.reasons).toContain(
      'extent.auth_name: unique with code over 3 rows, the leading columns are together unique and never empty (exports lead with the key): the key; query extent(auth_name, code) looks a row up by it',
    );
    expect(pair.reasons).toContain('extent.code: int, 3 values: every value is a whole number');
    expect(pair.query).toMatchObject({
      query: 'extent',
      table: 'extent',
      params: [
        { name: 'auth_name', type: 'string', required: true },
        { name: 'code', type: 'int', required: true },
      ],
    });
    const none = infer('a,b,c,d\n1,1,1,1\n1,1,1,1\n');
    expect(none.table.key).toBeUndefined();
    expect(none.query).toBeUndefined();
  });

  it('detects tab, semicolon and pipe separators, a missing header line, and reads quoted fields', () => {
    expect(infer('a\tb\n1\tx,y\n').table).toMatchObject({ delimiter: 'tab', columns: [{ name: 'a' }, { name: 'b' }] });
    expect(infer('a;b\n"1;2";3,5\n').table).toMatchObject({ delimiter: 'semicolon' });
    const headless = infer('m|1\nft|0.3048\n');
    expect(headless.table).toMatchObject({
      delimiter: 'pipe',
      header: false,
      columns: [
        { name: 'column_1', type: 'string' },
        { name: 'column_2', type: 'float' },
      ],
    });
    const quoted = columnsOf('Org Name,"Address, full"\n"ACME, Inc.","1 ""Main"" St\nSuite 2"\n');
    expect(quoted).toEqual([
      { name: 'org_name', type: 'string', required: true, heading: 'Org Name', fold: 'ascii-case' },
      { name: 'address_full', type: 'string', required: true, heading: 'Address, full' },
    ]);
  });
});

describe('roq init', () => {
  it('makes an app that serves its files with no edits', async () => {
    const data = tree({
      'extent.csv':
        'auth_name;code;name;south_lat;updated\nEPSG;1;World;-90;2020-03-14\nEPSG;1024;"Afghanistan; all";29.4;\nIGNF;1;World;41.15;2019-01-01\n',
      'units.txt': 'm|1\nft|0.3048\n',
      'notes.md': '# not data\n',
    });
    const app = join(tree({}), 'myapp');
    const r = await roqCli(['init', app, '--from', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('extent.code: int, 3 values: every value is a whole number');
    expect(r.stdout).toContain(
      'extent.auth_name: unique with code over 3 rows, the leading columns are together unique',
    );
    expect(r.stdout).toContain('notes.md: left out: empty (no line but blank or comment lines)');
    expect(r.stdout).toContain('extent.updated: date (iso), 2 values, 1 empty (optional)');
    expect(r.stdout).toContain('units: units.txt, pipe-separated, no header line');
    expect(fs.readdirSync(join(app, 'schemas/tables')).sort()).toEqual(['extent.json', 'units.json']);
    const again = await roqCli(['init', app, '--from', data]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('already exists');
    const d = await daemon({ app, data, workers: 1 });
    const row = await roqCli(['query', 'extent', 'auth_name=EPSG', 'code=1024', '--json', '--run', d.run]);
    expect(row.code, row.stderr).toBe(0);
    expect(JSON.parse(row.stdout)).toEqual([
      { auth_name: 'EPSG', code: 1024, name: 'Afghanistan; all', south_lat: 29.4, updated: '' },
    ]);
    const unit = await roqCli(['query', 'units', 'column_1=ft', '--json', '--run', d.run]);
    expect(JSON.parse(unit.stdout)).toEqual([{ column_1: 'ft', column_2: 0.3048 }]);
  });

  it('takes every regular file whatever its name, or only the files named, and leaves out what is no table', async () => {
    const data = tree({
      'zones.tab': '# tz\tname\nAD\tEurope/Andorra\n',
      'releases.dat': 'id,name\n1,buzz\n',
      'empty.csv': '',
      'utf16.csv': '\uFFFEa\u0000,\u0000b\u0000',
      '.hidden.csv': 'a\n1\n',
    });
    const all = join(tree({}), 'all');
    const r = await roqCli(['init', all, '--from', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  empty.csv: left out: empty (0 bytes)');
    expect(r.stdout).toContain('  utf16.csv: left out: not text: it holds NUL bytes');
    expect(fs.readdirSync(join(all, 'schemas/tables')).sort()).toEqual(['releases.json', 'zones.json']);
    const one = join(tree({}), 'one');
    expect((await roqCli(['init', one, '--from', data, 'zones.tab'])).code).toBe(0);
    expect(fs.readdirSync(join(one, 'schemas/tables'))).toEqual(['zones.json']);
    const missing = await roqCli(['init', join(tree({}), 'x'), '--from', data, 'nope.csv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('nope.csv is not a file of the data directory');
  });

  it('answers a bool column as true and false: CLI, JSON, CSV and HTML through the CGI program, and typed boolean', async () => {
    const data = tree({ 'stations.csv': 'id,name,open\n1,Alpha,true\n2,Beta,False\n3,Gamma,\n' });
    const app = join(tree({}), 'boolapp');
    const r = await roqCli(['init', app, '--from', data]);
    expect(r.code, r.stderr).toBe(0);
    const d = await daemon({ app, data, workers: 1 });
    const one = await roqCli(['query', 'stations', 'id=1', '--json', '--run', d.run]);
    expect(one.code, one.stderr).toBe(0);
    expect(JSON.parse(one.stdout)).toEqual([{ id: 1, name: 'Alpha', open: true }]);
    expect(JSON.parse((await roqCli(['query', 'stations', 'id=3', '--json', '--run', d.run])).stdout)).toEqual([
      { id: 3, name: 'Gamma', open: '' },
    ]);
    expect((await roqCli(['query', 'stations', 'id=2', '--run', d.run])).stdout).toMatch(
      /^id  name  open\n 2  Beta  false\n/,
    );
    const cgi = (query: string) =>
      runCgi({
        program: join(app, '.roq/dist/roq.cgi'),
        query,
        env: { ROQ_RUN_DIR: d.run, SCRIPT_NAME: '/cgi-bin/roq-cgi', PATH_INFO: '/stations' },
      });
    const json = await cgi('id=2&format=json');
    expect(json.status, json.raw).toBe(200);
    expect(JSON.parse(json.body).rows).toEqual([{ id: 2, name: 'Beta', open: false }]);
    expect((await cgi('id=2&format=csv')).body).toBe('id,name,open\r\n2,Beta,false\r\n');
    const html = await cgi('id=1');
    expect(html.status).toBe(200);
    // One row reads as a record: label (the header as written) and value.
    expect(html.body).toMatch(/<dt>name<\/dt><dd>Alpha<\/dd>\s*<dt>open<\/dt><dd>true<\/dd>/);
    // The app's generated row type says boolean, so a query function of its own is checked against it.
    expect(fs.readFileSync(join(app, '.roq/generated/queries.ts'), 'utf8')).toMatch(
      /StationsRow = \[id: number, name: string, open: boolean\]/,
    );
  });

  it('makes working apps of both sample data sets', async () => {
    const gtfs = join(tree({}), 'gtfs');
    expect((await roqCli(['init', gtfs, '--from', LIRR])).code).toBe(0);
    const g = await daemon({ app: gtfs, data: LIRR, workers: 1 });
    const stop = await roqCli(['query', 'stops', 'stop_id=102', '--json', '--run', g.run]);
    expect(JSON.parse(stop.stdout)).toMatchObject([{ stop_id: 102, stop_name: 'Jamaica' }]);
    const mac = join(tree({}), 'mac');
    const r = await roqCli(['init', mac, '--from', MAC_DATA]);
    expect(r.stdout).toContain('iab.assignment: unique over');
    const m = await daemon({ app: mac, data: MAC_DATA, workers: 1 });
    const iab = await roqCli(['query', 'iab', 'assignment=0050C27D5', '--json', '--run', m.run]);
    expect(JSON.parse(iab.stdout)).toEqual([
      {
        registry: 'IAB',
        assignment: '0050C27D5',
        organization_name: 'DEUTA-WERKE GmbH',
        organization_address: 'Paffrather Strasse 140 Bergisch-Gladbach NRW DE 51465 ',
      },
    ]);
  });
});
