/**
 * `roq init` on hostile headers and file names: a property test over seeded random header lines (quotes, line
 * breaks, separators, control characters, the names of a generated table's own members) whose inferred schema
 * must pass codegen and load its own file; and the real `roq init` on a directory holding a symlink and a file
 * whose name carries terminal escapes.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateTable } from '../codegen/schema.js';
import { inferTable, type Inferred } from '../src/init/infer.js';
import { parseTable } from '../src/store/table.js';
import { roqCli } from './helpers/daemon.js';
import { rng } from './helpers/rng.js';

const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});
const tempDir = () => {
  const dir = fs.mkdtempSync(join(tmpdir(), 'roq-init-names-'));
  made.push(dir);
  return dir;
};

/** A CSV field: quoted (quotes doubled) when it needs to be. */
const field = (text: string) => (/[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);

const PIECES = [
  'key',
  'rows',
  'present',
  'find_key',
  'id',
  '"',
  '""',
  '\n',
  '\r\n',
  ',',
  ' ',
  'a',
  'Name',
  'é',
  '\x1b[2J',
  '\x07',
  '0',
  '-',
  '_',
];

/** The schema init infers for `text`, through codegen's checks, then used to load `text` as the daemon would. */
function inferAndLoad(text: string): number {
  const buf = Buffer.from(text);
  const inferred = inferTable('t.csv', 't', buf) as Inferred;
  const { spec } = validateTable({ path: 'schemas/tables/t.json', json: inferred.table });
  return parseTable(spec, 't.csv', buf, { warn: () => undefined }).rows;
}

describe('roq init: header names', () => {
  it('a header holding a quote, a line break, or a column named key, rows or present gives a schema that loads', () => {
    expect(inferAndLoad('id,"he said ""hi""",x\n1,4,x\n6,9,y\n')).toBe(2);
    expect(inferAndLoad('id,"two\nlines"\n1,4\n6,9\n')).toBe(3); // not names: the first line is data
    expect(inferAndLoad('key,rows,present,find_key\n1,2,3,4\n5,6,7,8\n')).toBe(2);
  });

  it('property: seeded random header lines always give a schema that codegen takes and that loads its file', () => {
    const r = rng(21);
    for (let n = 0; n < 400; n++) {
      const width = r.int(1, 4);
      const headings = Array.from({ length: width }, () =>
        Array.from({ length: r.int(1, 4) }, () => r.pick(PIECES)).join(''),
      );
      const rows = [0, 1, 2].map((i) => Array.from({ length: width }, (_, j) => String(i * 10 + j)).join(','));
      const text = [headings.map(field).join(','), ...rows].join('\n') + '\n';
      let loaded: number;
      try {
        loaded = inferAndLoad(text);
      } catch (e) {
        throw new Error(`case ${n}, ${JSON.stringify(text)}: ${(e as Error).message}`);
      }
      expect([3, 4], JSON.stringify(text)).toContain(loaded);
    }
  });
});

describe('roq init: what it reads and prints', () => {
  it('never reads a data file through a symlink, and prints names with their control characters escaped', async () => {
    const data = tempDir();
    const secret = join(tempDir(), 'secret.csv');
    fs.writeFileSync(secret, 'password\nhunter2\n');
    fs.symlinkSync(secret, join(data, 'leak.csv'));
    const evil = 'stops\x1b]0;pwned\x07.csv';
    fs.writeFileSync(join(data, evil), 'stop_id,name\n1,A\n2,B\n');
    const app = join(tempDir(), 'app');
    const r = await roqCli(['init', app, '--from', data]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).not.toMatch(/[\x1b\x07]/);
    expect(r.stdout).toContain('stops\\x1b]0;pwned\\x07.csv');
    expect(fs.readdirSync(join(app, 'schemas/tables'))).toEqual(['stops_0_pwned.json']);
    expect(JSON.stringify(fs.readdirSync(join(app, 'schemas/tables')))).not.toContain('leak');
  });
});
