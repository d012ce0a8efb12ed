/**
 * The schema language's load-side features on hand-made schemas: separators, files without a header line, column
 * headings, ISO dates and clock times (and their errors at file:line:column), and references to a composite key.
 */
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTables } from '../src/load/loader.js';
import type { TableSpec } from '../src/store/types.js';
import { openSortedIndex, sortKeysOf } from '../src/store/sortedIndex.js';
import { writeTree } from './helpers/apps.js';

const extent: TableSpec = {
  name: 'extent',
  file: 'extent.csv',
  optional: false,
  description: '',
  delimiter: ';',
  columns: [
    { name: 'auth_name', type: 'string', required: true, heading: 'Authority' },
    { name: 'code', type: 'int', required: true },
    { name: 'updated', type: 'date', required: false, format: 'iso' },
    { name: 'opens', type: 'time', required: false, format: 'clock' },
  ],
  key: ['auth_name', 'code'],
  indexes: [],
};
const usage: TableSpec = {
  name: 'usage',
  file: 'usage.txt',
  optional: false,
  description: '',
  header: false,
  delimiter: '\t',
  columns: [
    { name: 'object', type: 'string', required: true },
    { name: 'auth', type: 'string', required: true },
    { name: 'code', type: 'int', required: true },
    { name: 'active', type: 'bool', required: false },
  ],
  key: [],
  indexes: [],
  references: [{ name: 'extent', columns: ['auth', 'code'], table: 'extent' }],
};

const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const load = (files: Record<string, string>) => {
  const dir = writeTree(files);
  made.push(dir);
  return loadTables([extent, usage], dir, 1, { warn: () => undefined });
};

describe('schema features at load time', () => {
  it('reads separators, headerless files, headings, ISO dates and clock times, and resolves composite references', async () => {
    const g = await load({
      'extent.csv': 'Authority;code;updated;opens\nEPSG;1;2024-02-29;08:30\nIGNF;1;;23:59:59\nEPSG;2;1999-12-31;\n',
      'usage.txt': 'a\tEPSG\t2\tyes\nb\tIGNF\t1\tF\nc\tEPSG\t9\t\nd\tESRI\t1\t1\n',
    });
    expect(Array.from((g.tables.usage!.columns.active as { values: Int32Array }).values)).toEqual([
      1, 0, -2147483648, 1,
    ]);
    const e = g.tables.extent!;
    expect(e.rows).toBe(3);
    expect(e.columns.updated).toMatchObject({ type: 'date' });
    expect(Array.from((e.columns.updated as { values: Int32Array }).values)).toEqual([20240229, -2147483648, 19991231]);
    expect(Array.from((e.columns.opens as { values: Int32Array }).values)).toEqual([30600, 86399, -1]);
    expect(Array.from(g.tables.usage!.references.extent!)).toEqual([2, 1, -1, -1]);
    // The key index agrees: row 2 is (EPSG, 2).
    const ix = openSortedIndex(e.key!, sortKeysOf(e, ['auth_name', 'code']));
    expect(ix.rows.length).toBe(3);
  });

  it('reports a value of the wrong format at file:line:column', async () => {
    await expect(load({ 'extent.csv': 'Authority;code;updated\nEPSG;1;20240229\n', 'usage.txt': '' })).rejects.toThrow(
      /extent\.csv:2:3: column 'updated': expected a date YYYY-MM-DD, got '20240229'/,
    );
    await expect(
      load({ 'extent.csv': 'Authority;code\nEPSG;1\n', 'usage.txt': 'a\tEPSG\t1\tmaybe\n' }),
    ).rejects.toThrow(/usage\.txt:1:4: column 'active': expected true or false/);
    await expect(load({ 'extent.csv': 'Authority;code;opens\nEPSG;1;25:00\n', 'usage.txt': '' })).rejects.toThrow(
      /extent\.csv:2:3: column 'opens': expected a time HH:MM or HH:MM:SS below 24:00, got '25:00'/,
    );
  });

  it('skips comment lines anywhere and, with shortRows, reads missing trailing fields as empty', async () => {
    const zones: TableSpec = {
      name: 'zones',
      file: 'zones.tab',
      optional: false,
      description: '',
      header: false,
      delimiter: '\t',
      comment: '#',
      shortRows: true,
      columns: [
        { name: 'codes', type: 'string', required: true },
        { name: 'tz', type: 'string', required: true },
        { name: 'note', type: 'string', required: false },
      ],
      key: ['tz'],
      indexes: [],
    };
    const dir = writeTree({
      'zones.tab': '# tz\tnote\nAD\tEurope/Andorra\n#@ trailer\nCA\tAmerica/Toronto\tEastern\n',
    });
    made.push(dir);
    const g = await loadTables([zones], dir, 1, { warn: () => undefined });
    const t = g.tables.zones!;
    expect(t.rows).toBe(2);
    const note = t.columns.note as { codes: Int32Array; dict: { size: number } };
    expect(note.dict.size).toBe(2); // '' and 'Eastern'
    // Without shortRows the short row is refused, and the message says which property allows it.
    await expect(loadTables([{ ...zones, shortRows: false }], dir, 1, { warn: () => undefined })).rejects.toThrow(
      /zones\.tab:2:3: the row has 2 fields, the header 3 \(if rows may leave off empty trailing fields, say "shortRows": true/,
    );
    // Without comment the comment lines are data: "#@ trailer" is a row without its required tz.
    await expect(loadTables([{ ...zones, comment: undefined }], dir, 1, { warn: () => undefined })).rejects.toThrow(
      /zones\.tab:3:2: column 'tz': a value is required/,
    );
    // A row longer than the header is refused whatever shortRows says.
    const long = writeTree({ 'zones.tab': 'AD\tEurope/Andorra\tx\ty\n' });
    made.push(long);
    await expect(loadTables([zones], long, 1, { warn: () => undefined })).rejects.toThrow(
      /the row has 4 fields, the header 3/,
    );
  });
});
