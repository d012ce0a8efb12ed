/**
 * The MAC vendor sample app (examples/mac-vendors) on its committed registry files: worked cases of vendor(mac) and
 * vendors(q, limit) from the issue, and a few hundred more, each checked against an independent reference
 * (test/mac-reference.ts) through a real daemon built from the app.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as fs from 'node:fs';
import { ask } from '../src/client.js';
import { rowsToObjects } from '../src/protocol.js';
import { copyApp, MAC_APP, MAC_DATA } from './helpers/apps.js';
import { startDaemon, type RunningDaemon } from './helpers/daemon.js';
import { macReference } from './mac-reference.js';

const ref = macReference(MAC_DATA);
let d: RunningDaemon;
let app: string;
beforeAll(async () => {
  app = copyApp(MAC_APP);
  d = await startDaemon({ app, data: MAC_DATA, workers: 1 });
});
afterAll(async () => {
  await d?.stop();
  fs.rmSync(app, { recursive: true, force: true });
});

async function query(name: string, params: Record<string, string>) {
  const a = await ask(d.run, name, params, { timeoutMs: 30_000 });
  return a.status === 'ok' ? { rows: rowsToObjects(a.fields, a.rows) } : { error: a };
}

/** A deterministic pseudo-random sequence, so that failures reproduce. */
function random(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
}

describe('the MAC vendor app', () => {
  it('holds the four registries as committed (46,000 entries, names in UTF-8)', () => {
    expect(ref.entries.length).toBeGreaterThan(46_000);
    expect(ref.entries.some((e) => /[^\x00-\x7f]/.test(e.organization))).toBe(true);
  });

  it('answers the worked cases of vendor(mac)', async () => {
    // Under an IAB block: the IAB entry, then the IEEE Registration Authority's MA-L block.
    const iab = await query('vendor', { mac: '00:50:C2:7D:51:23' });
    expect(iab.rows!.map((r) => [r.registry, r.assignment, r.prefix_bits, r.organization])).toEqual([
      ['IAB', '0050C27D5', 36, 'DEUTA-WERKE GmbH'],
      ['MA-L', '0050C2', 24, 'IEEE Registration Authority'],
    ]);
    // An assignment listed three times: by organization, byte order.
    const twice = await query('vendor', { mac: '08-00-30-12-34-56' });
    expect(twice.rows!.map((r) => r.organization)).toEqual([
      'CERN',
      'NETWORK RESEARCH CORPORATION',
      'ROYAL MELBOURNE INST OF TECH',
    ]);
    // Trailing spaces removed, also from an address of spaces only.
    const conrad = await query('vendor', { mac: '0001c8' });
    expect(conrad.rows).toEqual([
      { registry: 'MA-L', assignment: '0001C8', prefix_bits: 24, organization: 'CONRAD CORP.', address: '' },
      {
        registry: 'MA-L',
        assignment: '0001C8',
        prefix_bits: 24,
        organization: 'THOMAS CONRAD CORP.',
        address: '1908-R KRAMER LANE AUSTIN TX US 78758',
      },
    ]);
    expect((await query('vendor', { mac: 'ffff.ffff.ffff' })).rows).toEqual([]);
  });

  it('agrees with the reference on vendor(mac) for every registry, separator and case', async () => {
    const next = random(11);
    const hex = () => '0123456789ABCDEF'[Math.floor(next() * 16)]!;
    const macs: string[] = [];
    for (let i = 0; i < 300; i++) {
      const e = ref.entries[Math.floor(next() * ref.entries.length)]!;
      let digits = e.assignment;
      const length = 6 + Math.floor(next() * 7);
      while (digits.length < length) digits += hex();
      digits = digits.slice(0, Math.max(length, 6));
      const style = i % 4;
      const groups = digits.match(style === 2 ? /.{1,4}/g : /.{1,2}/g)!;
      const text = style === 0 ? digits : groups.join(style === 1 ? ':' : style === 2 ? '.' : '-');
      macs.push(i % 5 === 0 ? text.toLowerCase() : text);
    }
    for (const mac of macs) expect((await query('vendor', { mac })).rows, mac).toEqual(ref.vendor(mac));
  });

  it('refuses anything but 6 to 12 hex digits with a 400 naming mac', async () => {
    for (const mac of [
      'zz',
      '00:11',
      '0011223344556',
      '00::11:22',
      ':001122',
      '001122:',
      '00 11 22',
      '00_11_22',
      'g01122',
    ]) {
      expect(ref.vendor(mac), mac).toBeUndefined();
      const r = await query('vendor', { mac });
      expect(r.error, mac).toMatchObject({ status: 'error', code: 'ROQ_PARAM_INVALID', param: 'mac' });
    }
  });

  it('answers vendors(q, limit) like the reference', async () => {
    for (const [q, limit] of [
      ['cern', 20],
      ['CeRn', 5],
      ['private', 20],
      ['gmbh', 100],
      ['ü', 20],
      ['hoes lane', 20],
      ['zzzzzz', 20],
      ['a', 500],
    ] as const) {
      const r = await query('vendors', { q, limit: String(limit) });
      expect(r.rows, q).toEqual(ref.vendors(q, limit));
    }
    const dflt = await query('vendors', { q: 'apple' });
    expect(dflt.rows).toHaveLength(20);
    expect(dflt.rows).toEqual(ref.vendors('apple'));
  });
});
