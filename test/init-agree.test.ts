/**
 * `roq init` and the loader agree, always: whatever init writes for a directory of delimited files, `roq start
 * --app` builds and serves with no edit, and every row of every file comes back as written through `roq query` —
 * or init leaves the file out with a reason. Checked on seeded random directories (every separator, ragged rows,
 * empty files, comment lines, odd and reserved headers, quotes, byte-order marks, CRLF), on real files that broke
 * it (Debian's distro-info CSVs, tzdata's .tab files) and on a 36-table CSV export.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { csvExport, randomDirectory, type GeneratedFile } from './helpers/delimited.js';
import { writeTree } from './helpers/apps.js';
import { runCgi } from './helpers/cgi.js';
import { daemonsPerTest, ROOT, roqCli, type RunningDaemon } from './helpers/daemon.js';

const { daemon } = daemonsPerTest();
const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const tree = (files: Record<string, string>) => {
  const dir = writeTree(files);
  made.push(dir);
  return dir;
};

interface TableJson {
  table: string;
  file: string;
  header?: boolean;
  columns: { name: string; type: string }[];
}

/** init on a data directory: the table schemas it wrote, by file, and what it printed. */
async function initApp(data: string, name: string) {
  const app = join(tree({}), name);
  const r = await roqCli(['init', app, '--from', data]);
  const dir = join(app, 'schemas/tables');
  const tables = fs.existsSync(dir)
    ? fs.readdirSync(dir).map((f) => JSON.parse(fs.readFileSync(join(dir, f), 'utf8')) as TableJson)
    : [];
  return { app, r, byFile: new Map(tables.map((t) => [t.file, t])) };
}

/** A served cell as the text of the file: numbers as written (init typed them so only if they read back). */
const asText = (cell: unknown, type: string): string =>
  cell === '' ? '' : type === 'bool' ? String(cell) : typeof cell === 'number' ? String(cell) : String(cell);

/** Every row of a table through its browse query, as field texts, sorted. */
async function served(d: RunningDaemon, t: TableJson): Promise<string[]> {
  const q = await roqCli(['query', `${t.table}_browse`, '--json', '--run', d.run]);
  expect(q.code, `${t.table}_browse: ${q.stderr}`).toBe(0);
  const rows = JSON.parse(q.stdout) as Record<string, unknown>[];
  return rows.map((row) => JSON.stringify(t.columns.map((c) => asText(row[c.name], c.type)))).sort();
}

/** The rows the file holds, by init's reading of its first line, padded to the columns, sorted. */
function expected(g: GeneratedFile, t: TableJson): string[] {
  const all = [...(g.header ? [g.header] : []), ...g.rows];
  const rows = t.header === false ? all : all.slice(1);
  return rows
    .map((cells) =>
      JSON.stringify(t.columns.map((c, i) => (c.type === 'bool' ? (cells[i] ?? '').toLowerCase() : (cells[i] ?? '')))),
    )
    .sort();
}

describe('roq init and the loader agree', () => {
  for (const seed of [1, 2, 3, 4]) {
    it(`serves every file of random directory ${seed} as written, or leaves it out with a reason`, async () => {
      const files = randomDirectory(seed, 9);
      const data = tree(Object.fromEntries(files.map((f) => [f.name, f.text])));
      const { app, r, byFile } = await initApp(data, `random${seed}`);
      expect(r.code, r.stderr + r.stdout).toBe(0);
      for (const f of files) {
        if (!byFile.has(f.name))
          expect(r.stdout, f.name).toMatch(new RegExp(`  ${f.name.replace('.', '\\.')}: left out: \\S`));
        if (f.text === '') expect(byFile.has(f.name), `${f.name} is empty`).toBe(false);
      }
      const d = await daemon({ app, data, workers: 1 });
      for (const f of files) {
        const t = byFile.get(f.name);
        if (t) expect(await served(d, t), `${f.name} as ${t.table}`).toEqual(expected(f, t));
      }
    });
  }
});

const OWN = join(ROOT, 'test/fixtures/own-data');

/** The records of a simple delimited file (no quotes): comment and blank lines left out. */
const recordsOf = (file: string, sep: string) =>
  fs
    .readFileSync(join(OWN, file), 'utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => l.split(sep));

describe('roq init serves real files with no edit', () => {
  it("serves Debian's distro-info CSVs (short rows, versions as text) and tzdata's .tab files (comments, no header)", async () => {
    const data = tree({});
    for (const f of ['debian.csv', 'ubuntu.csv', 'zone1970.tab', 'iso3166.tab'])
      fs.copyFileSync(join(OWN, f), join(data, f));
    const { app, r, byFile } = await initApp(data, 'ownfiles');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('debian: some rows leave off trailing fields: they are empty (shortRows)');
    expect(r.stdout).toMatch(/debian\.version: string, 20 values, 2 empty \(optional\): some values are text/);
    expect(r.stdout).toContain('debian.codename: unique over 22 rows, it is the first of the leading columns');
    expect(r.stdout).toContain('zone1970: zone1970.tab, tab-separated, lines starting # are comments, no header line');
    expect(byFile.get('zone1970.tab')).toMatchObject({
      delimiter: 'tab',
      comment: '#',
      header: false,
      shortRows: true,
      columns: [{ name: 'codes' }, { name: 'coordinates' }, { name: 'tz', heading: 'TZ' }, { name: 'comments' }],
    });
    expect(byFile.get('iso3166.tab')).toMatchObject({ header: false, key: ['code'] });
    const d = await daemon({ app, data, workers: 1 });
    const q = async (...args: string[]) => {
      const out = await roqCli(['query', ...args, '--json', '--run', d.run]);
      expect(out.code, out.stderr).toBe(0);
      return JSON.parse(out.stdout) as Record<string, unknown>[];
    };
    expect(await q('debian', 'codename=Hamm')).toEqual([
      {
        version: '2.0',
        codename: 'Hamm',
        series: 'hamm',
        created: '1997-06-05',
        release: '1998-07-24',
        eol: '2000-03-09',
        eol_lts: '',
        eol_elts: '',
      },
    ]);
    // A name-like key is case-folded: the visitor's "bookworm" is the file's "Bookworm".
    expect(r.stdout).toContain('debian.codename: fold ascii-case: a name, unique whatever its case');
    expect(byFile.get('debian.csv')!.columns[1]).toMatchObject({ name: 'codename', fold: 'ascii-case' });
    expect((await q('debian', 'codename=bookworm'))[0]).toMatchObject({ version: '12', codename: 'Bookworm' });
    expect(await q('debian_browse', 'codename=SID')).toHaveLength(1);
    expect((await q('ubuntu', 'version=4.10'))[0]).toMatchObject({ codename: 'Warty Warthog', eol_server: '' });
    expect(await q('iso3166', 'code=AD')).toEqual([
      { code: 'AD', name_of_country_territory_area_or_subdivision: 'Andorra' },
    ]);
    expect(await q('zone1970_browse', 'codes=AD')).toEqual([
      { codes: 'AD', coordinates: '+4230+00131', tz: 'Europe/Andorra', comments: '' },
    ]);
    // The pages label fields and inputs with the header as written; one row reads as a record, many as cards.
    const cgi = (path: string, query: string) =>
      runCgi({
        program: join(app, '.roq/dist/roq.cgi'),
        query,
        env: { ROQ_RUN_DIR: d.run, SCRIPT_NAME: '/cgi-bin/roq-cgi', PATH_INFO: path },
      });
    const record = await cgi('/debian', 'codename=bookworm');
    expect(record.status, record.raw).toBe(200);
    expect(record.body).toMatch(/<dt>eol-lts<\/dt><dd>2028-06-30<\/dd>/);
    expect(record.body).toMatch(/<label>codename \(required\)\s*<input type="text" name="codename" value="bookworm"/);
    const list = await cgi('/zone1970_browse', 'codes=CA');
    expect(list.body).toMatch(/<caption>\d+ rows<\/caption>/);
    expect(list.body).toContain('<th scope="col">TZ</th>');
    expect(list.body).toContain('<td data-label="TZ">America/Halifax</td>');
    // A long answer is shown a page at a time, with links to the next and previous pages.
    const first = await cgi('/iso3166_browse', '');
    expect(first.body).toContain('<caption>rows 1–20 of at least 100</caption>');
    expect(first.body).toContain('<a href="/cgi-bin/roq-cgi/iso3166_browse?cursor=20" rel="next">Next</a>');
    expect(first.body).not.toContain('rel="prev"');
    const second = await cgi('/iso3166_browse', 'cursor=20');
    expect(second.body).toContain('<caption>rows 21–40 of at least 100</caption>');
    expect(second.body).toContain('<a href="/cgi-bin/roq-cgi/iso3166_browse" rel="prev">Previous</a>');
    expect(second.body.match(/<tr><td/g)).toHaveLength(20);
    // JSON and CSV give the same page when a cursor asks for one, JSON with the next page's URL (null on the last).
    const json = JSON.parse((await cgi('/iso3166_browse', 'cursor=20&format=json')).body);
    expect(json.rows).toHaveLength(20);
    expect(json.next).toBe('/cgi-bin/roq-cgi/iso3166_browse?format=json&cursor=40');
    expect(JSON.parse((await cgi('/iso3166_browse', 'cursor=80&format=json')).body).next).toBeNull();
    expect((await cgi('/iso3166_browse', 'cursor=20&format=csv')).body.trim().split('\r\n')).toHaveLength(21);
    expect(JSON.parse((await cgi('/iso3166_browse', 'format=json')).body).rows).toHaveLength(100);
    // Every row, as the file has it (the browse query lists the first 100 in key order).
    for (const [file, sep] of [
      ['debian.csv', ','],
      ['ubuntu.csv', ','],
      ['zone1970.tab', '\t'],
      ['iso3166.tab', '\t'],
    ] as const) {
      const t = byFile.get(file)!;
      const all = recordsOf(file, sep).slice(t.header === false ? 0 : 1);
      const want = all.map((cells) => JSON.stringify(t.columns.map((_, i) => cells[i] ?? '')));
      const got = await served(d, t);
      expect(got.length, file).toBe(Math.min(100, all.length));
      for (const row of got) expect(want, file).toContain(row);
    }
  });

  it('serves every non-empty table of a 36-table CSV export, and leaves the empty files out', async () => {
    const files = csvExport(36, 36);
    const data = tree(Object.fromEntries(files.map((f) => [f.name, f.text])));
    const { app, r, byFile } = await initApp(data, 'export36');
    expect(r.code, r.stderr).toBe(0);
    const empty = files.filter((f) => f.text === '');
    expect(empty.length).toBe(3);
    for (const f of empty) expect(r.stdout).toContain(`  ${f.name}: left out: empty (0 bytes)`);
    expect(byFile.size).toBe(33);
    const d = await daemon({ app, data, workers: 1 });
    for (const f of files.filter((x) => x.text !== '')) {
      const t = byFile.get(f.name)!;
      expect(await served(d, t), f.name).toEqual(expected(f, t));
    }
    const first = files.find((f) => f.rows.length > 0)!;
    const t = byFile.get(first.name)!;
    const one = await roqCli(['query', t.table, 'id=1', '--json', '--run', d.run]);
    expect(JSON.parse(one.stdout)).toHaveLength(1);
  });
});
