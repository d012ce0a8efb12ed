/**
 * Declarative query shapes that need no code: exact parameters on the leading index columns, then a prefix of a
 * string column or a min/max range of a number, date or time column, and case-folded matches — from the JSON
 * schemas through codegen's validation to the generic runner over a loaded table.
 */
import * as fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { SchemaError, validateSchemas } from '../codegen/schema.js';
import { loadTables } from '../src/load/loader.js';
import type { ParamValue } from '../src/params.js';
import type { DbOf } from '../src/queries/db.js';
import { runDeclared } from '../src/queries/declared.js';
import { writeTree } from './helpers/apps.js';

const releases = {
  table: 'releases',
  file: 'releases.csv',
  columns: [
    { name: 'distro', type: 'string', required: true, fold: 'ascii-case' },
    { name: 'codename', type: 'string', required: true },
    { name: 'released', type: 'date', format: 'iso' },
    { name: 'version', type: 'string' },
  ],
  key: ['distro', 'codename'],
  indexes: [{ name: 'byDate', columns: ['distro', 'released'] }],
};
const CSV =
  'distro,codename,released,version\nDebian,bookworm,2023-06-10,12\nDebian,bullseye,2021-08-14,11\n' +
  'Debian,buster,2019-07-06,10\nUbuntu,noble,2024-04-25,24.04\nUbuntu,jammy,2022-04-21,22.04\n';

const made: string[] = [];
afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

function schemas(params: unknown[], index?: string) {
  return validateSchemas({
    tables: [{ path: 'schemas/tables/releases.json', json: releases }],
    queries: [
      {
        path: 'schemas/queries/q.json',
        json: { query: 'q', table: 'releases', ...(index ? { index } : {}), params, fields: [{ name: 'codename' }] },
      },
    ],
  });
}

async function runner(params: unknown[], index?: string) {
  const s = schemas(params, index);
  const dir = writeTree({ 'releases.csv': CSV });
  made.push(dir);
  const g = await loadTables(s.tables, dir, 1, { warn: () => undefined });
  const db = { generation: 1, data: g.tables, derived: {}, memo: new Map() } as unknown as DbOf<unknown>;
  return (values: Record<string, ParamValue>) => runDeclared(db, s.queries[0]!.declared!, values).map((r) => r[0]);
}

describe('declarative query shapes', () => {
  it('matches a prefix of a string column after the exact parameters, and the exact one in any case', async () => {
    const q = await runner([
      { name: 'distro', type: 'string', required: true },
      { name: 'starts', type: 'string', match: 'prefix' },
    ]);
    expect(q({ distro: 'debian', starts: 'bu' })).toEqual(['bullseye', 'buster']);
    expect(q({ distro: 'Debian', starts: 'bus' })).toEqual(['buster']);
    expect(q({ distro: 'Debian', starts: 'x' })).toEqual([]);
    expect(q({ distro: 'DEBIAN', starts: '' })).toEqual(['bookworm', 'bullseye', 'buster']);
  });

  it("ranges over an index's last column with min and max, each optional", async () => {
    const q = await runner(
      [
        { name: 'distro', type: 'string', required: true },
        { name: 'from', type: 'date', match: 'min' },
        { name: 'to', type: 'date', match: 'max' },
      ],
      'byDate',
    );
    expect(q({ distro: 'Debian', from: 20200101, to: 20230610 })).toEqual(['bullseye', 'bookworm']);
    expect(q({ distro: 'Debian', from: 20200101, to: NaN })).toEqual(['bullseye', 'bookworm']);
    expect(q({ distro: 'Debian', from: NaN, to: 20200101 })).toEqual(['buster']);
    expect(q({ distro: 'ubuntu', from: NaN, to: NaN })).toEqual(['jammy', 'noble']);
  });

  it('refuses shapes it cannot run, naming the parameter', () => {
    const fails = (params: unknown[], message: string, index?: string) => {
      expect(() => schemas(params, index)).toThrow(SchemaError);
      expect(() => schemas(params, index)).toThrow(message);
    };
    fails(
      [{ name: 'from', type: 'string', match: 'min' }],
      'params[0].match: min bounds a column of numbers, dates or times; releases.distro is text',
    );
    fails(
      [
        { name: 'distro', type: 'string', required: true },
        { name: 'from', type: 'date', match: 'prefix' },
      ],
      'params[1].match: a prefix matches a string column alone; releases.released is date',
      'byDate',
    );
    fails(
      [
        { name: 'starts', type: 'string', match: 'prefix' },
        { name: 'codename', type: 'string' },
      ],
      'params[1].match: parameters matched exactly come first',
    );
    fails([{ name: 'distro', type: 'string', match: 'like' }], "params[0].match: unknown match 'like'");
  });
});
