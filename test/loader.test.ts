/**
 * The loader on hand-made files: what it accepts (BOM, CRLF, quoting, extra and missing optional columns, missing
 * optional files) and how it refuses the rest (an error naming file:line:column and the column).
 */
import { readdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { MessageChannel } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { parse } from 'csv-parse/sync';
import { loadGeneration } from '../src/load/loader.js';
import { openGeneration } from '../src/engine.js';
import { RoqError } from '../src/errors.js';
import { scanCsv } from '../src/store/csv.js';
import { compareCodePoints } from '../src/store/dictionary.js';
import type { GenerationData } from '../src/store/types.js';
import { csv, writeFeed, TINY_FEED } from './feeds.js';

async function load(files: Record<string, string>): Promise<{ g: GenerationData; warnings: string[] }> {
  const warnings: string[] = [];
  const g = await loadGeneration(writeFeed(files), 7, { warn: (m) => warnings.push(m) });
  return { g, warnings };
}

async function loadError(files: Record<string, string>): Promise<RoqError> {
  try {
    await load(files);
  } catch (e) {
    expect(e).toBeInstanceOf(RoqError);
    return e as RoqError;
  }
  throw new Error('the load did not fail');
}

describe('loading accepts', () => {
  it('a byte-order mark and CRLF line ends, keeping values exact', async () => {
    const stops = '\uFEFFstop_id,stop_name\r\nS,Central Station\r\nN, North Park \r\n';
    const { g } = await load({ ...TINY_FEED, 'stops.txt': stops });
    const { stops: t } = openGeneration(g).tables;
    expect(t.rows).toBe(2);
    expect([t.stopId(0), t.stopName(0), t.stopName(1)]).toEqual(['S', 'Central Station', ' North Park ']);
  });

  it('quoted fields with commas, quotes and line breaks, counting lines physically', async () => {
    const stops = csv('stop_id,stop_name', 'A,"Main St, ""Upper"" Level"', 'B,"Two', 'Lines"', 'C,Plain');
    const { g } = await load({ ...TINY_FEED, 'stops.txt': stops });
    const { stops: t } = openGeneration(g).tables;
    expect([t.stopName(0), t.stopName(1), t.stopName(2)]).toEqual(['Main St, "Upper" Level', 'Two\nLines', 'Plain']);
    // The record after the two-line field (lines 2 and 3) starts on line 4.
    const bad = csv('stop_id,stop_name', 'B,"Two', 'Lines"', 'C');
    expect((await loadError({ ...TINY_FEED, 'stops.txt': bad })).message).toContain(
      'stops.txt:4:2: the row has 1 field, the header 2',
    );
  });

  it('extra columns, with one warning per file', async () => {
    const { g, warnings } = await load({
      ...TINY_FEED,
      'routes.txt': csv('route_id,route_long_name,peak,color', 'R1,Red,1,F00', 'R2,Blue,0,00F'),
    });
    expect(openGeneration(g).tables.routes.routeLongName(1)).toBe('Blue');
    expect(warnings.filter((w) => w.includes('routes.txt'))).toHaveLength(1);
    expect(warnings.find((w) => w.includes('routes.txt'))).toMatch(/peak, color/);
  });

  it('missing optional columns as empty values or their defaults', async () => {
    const { g } = await load({ ...TINY_FEED, 'stop_times.txt': csv('trip_id,stop_id,stop_sequence', 'T1,S,1') });
    const { stopTimes } = openGeneration(g).tables;
    expect([stopTimes.departureTime(0), stopTimes.departureTimeText(0), stopTimes.pickupType(0)]).toEqual([-1, '', 0]);
  });

  it('missing optional files as empty tables, and warns about files no schema describes', async () => {
    const files: Record<string, string> = { ...TINY_FEED, 'notes.txt': 'hello\n' };
    delete files['calendar.txt'];
    delete files['agency.txt'];
    const { g, warnings } = await load(files);
    expect(g.tables.calendar!.rows).toBe(0);
    expect(g.tables.calendar!.present).toBe(false);
    expect(g.stats.files.map((f) => f.file)).not.toContain('calendar.txt');
    expect(warnings.filter((w) => w.includes('notes.txt'))).toHaveLength(1);
  });

  it('times with one-digit hours and past 24:00, and ints with surrounding spaces', async () => {
    const st = csv(
      'trip_id,arrival_time,departure_time,stop_id,stop_sequence,pickup_type',
      'T1,7:05:00,7:05:00,S, 1 ,',
      'T1,25:10:00, 25:10:00,N,2,1',
    );
    const { stopTimes } = openGeneration((await load({ ...TINY_FEED, 'stop_times.txt': st })).g).tables;
    expect([stopTimes.departureTime(0), stopTimes.departureTime(1), stopTimes.departureTimeText(1)]).toEqual([
      7 * 3600 + 300,
      25 * 3600 + 600,
      ' 25:10:00',
    ]);
    expect([stopTimes.stopSequence(0), stopTimes.pickupType(0), stopTimes.pickupType(1)]).toEqual([1, 0, 1]);
  });

  it('repeated keys with one warning; lookups by key use the first row', async () => {
    const trips = csv(
      'route_id,service_id,trip_id,trip_headsign',
      'R1,WEEK,T1,first',
      'R1,WEEK,T2,x',
      'R1,WEEK,T1,second',
      'R2,SUN,T1,third',
    );
    const { g, warnings } = await load({ ...TINY_FEED, 'trips.txt': trips });
    const { trips: t, stopTimes } = openGeneration(g).tables;
    expect(warnings.filter((w) => w.includes('trips.txt'))).toEqual([
      expect.stringMatching(/2 rows repeat a key \(trip_id\), e\.g\. line 4 repeats line 2/),
    ]);
    expect(t.tripHeadsign(t.findKey('T1'))).toBe('first');
    expect(t.findKey('T9')).toBe(-1);
    expect(t.tripHeadsign(stopTimes.tripIdRow(0))).toBe('first');
  });

  it('string order by UTF-8 bytes, which JavaScript < gets wrong above U+FFFF', async () => {
    const names = ['a', '\uFFFD', '😀', 'Z', 'é'];
    expect([...names].sort(compareCodePoints)).toEqual(['Z', 'a', 'é', '\uFFFD', '😀']);
    expect([...names].sort()).not.toEqual(['Z', 'a', 'é', '\uFFFD', '😀']);
    const stops = csv('stop_id,stop_name', ...names.map((n, i) => `s${i},${n}`));
    const { stops: t } = openGeneration((await load({ ...TINY_FEED, 'stops.txt': stops })).g).tables;
    expect(Array.from(t.byName.rows, (r) => t.stopName(r))).toEqual(['Z', 'a', 'é', '\uFFFD', '😀']);
    expect(t.stopNameCodeOf('😀')).toBe(4);
  });
});

describe('loading refuses, naming file:line:column', () => {
  it('a data file that is a symlink, even to a valid file: it is never read (a feed archive may hold one)', async () => {
    const outside = writeFeed({ 'agency.txt': TINY_FEED['agency.txt']!.replace('Tiny Transit', 'Outside Transit') });
    const { 'agency.txt': _agency, ...rest } = TINY_FEED;
    const dir = writeFeed(rest);
    symlinkSync(join(outside, 'agency.txt'), join(dir, 'agency.txt'));
    const e = await loadGeneration(dir, 7, { warn: () => undefined }).catch((x: unknown) => x as RoqError);
    expect(e).toBeInstanceOf(RoqError);
    expect((e as RoqError).code).toBe('ROQ_LOAD_FILE');
    expect((e as RoqError).message).toContain(`${join(dir, 'agency.txt')}: a symbolic link`);
  });

  it('a missing required column', async () => {
    const e = await loadError({
      ...TINY_FEED,
      'stop_times.txt': csv('trip_id,departure_time,stop_id', 'T1,08:00:00,S'),
    });
    expect(e.code).toBe('ROQ_LOAD_MISSING_COLUMN');
    expect(e.message).toMatch(/stop_times\.txt:1:1: required column 'stop_sequence'/);
  });

  it('a value that is not an int, a time or a date, or an empty required value', async () => {
    const header = 'trip_id,arrival_time,departure_time,stop_id,stop_sequence';
    const cases: [string, Record<string, string>, RegExp][] = [
      [
        'int',
        { 'stop_times.txt': csv(header, 'T1,08:00:00,08:00:00,S,1', 'T1,08:05:00,08:05:00,N,two') },
        /stop_times\.txt:3:5: column 'stop_sequence': expected a whole number, got 'two'/,
      ],
      [
        'time',
        { 'stop_times.txt': csv(header, 'T1,08:00:00,8:0,S,1') },
        /stop_times\.txt:2:3: column 'departure_time': expected a time H:MM:SS, got '8:0'/,
      ],
      [
        'minutes',
        { 'stop_times.txt': csv(header, 'T1,08:60:00,08:00:00,S,1') },
        /stop_times\.txt:2:2: column 'arrival_time'/,
      ],
      [
        'date',
        { 'calendar_dates.txt': csv('service_id,date,exception_type', 'WEEK,2025-12-25,2') },
        /calendar_dates\.txt:2:2: column 'date': expected a date YYYYMMDD, got '2025-12-25'/,
      ],
      [
        'impossible date',
        { 'calendar_dates.txt': csv('service_id,date,exception_type', 'WEEK,20250230,2') },
        /calendar_dates\.txt:2:2: column 'date'/,
      ],
      [
        'empty required',
        { 'stop_times.txt': csv(header, 'T1,08:00:00,08:00:00,,1') },
        /stop_times\.txt:2:4: column 'stop_id': a value is required/,
      ],
    ];
    for (const [what, files, message] of cases) {
      const e = await loadError({ ...TINY_FEED, ...files });
      expect(e.code, what).toBe('ROQ_LOAD_VALUE');
      expect(e.message, what).toMatch(message);
    }
  });

  it('a row with the wrong number of fields, and broken quoting', async () => {
    const ragged = await loadError({
      ...TINY_FEED,
      'routes.txt': csv('route_id,route_long_name', 'R1,Red', 'R2,Blue,extra'),
    });
    expect(ragged.code).toBe('ROQ_LOAD_CSV');
    expect(ragged.message).toMatch(/routes\.txt:3:3: the row has 3 fields, the header 2/);
    const open = await loadError({ ...TINY_FEED, 'routes.txt': csv('route_id,route_long_name', 'R1,"Red', 'R2,Blue') });
    expect(open.message).toMatch(/routes\.txt:2:2: a quoted field is never closed/);
    const after = await loadError({ ...TINY_FEED, 'routes.txt': csv('route_id,route_long_name', 'R1,"Red"x') });
    expect(after.message).toMatch(/routes\.txt:2:2: unexpected text after the closing quote/);
  });

  it('a missing required file', async () => {
    const files = { ...TINY_FEED };
    delete files['trips.txt'];
    const e = await loadError(files);
    expect(e.code).toBe('ROQ_LOAD_MISSING_FILE');
    expect(e.message).toMatch(/trips\.txt: required table file is missing/);
  });

  it('a data directory that does not exist', async () => {
    await expect(loadGeneration('/nonexistent/roq-data', 1, { warn: () => {} })).rejects.toMatchObject({
      code: 'ROQ_LOAD_NO_DATA_DIR',
    });
  });
});

describe('the CSV scanner', () => {
  // csv-parse with the same rules (relaxed quotes inside unquoted fields, empty lines skipped) is the reference.
  const samples = [
    'a,b,c\n1,2,3\n',
    'a,b\r\n"x, y","z ""q"""\r\n',
    '\uFEFFa,b\n"multi\nline","x"\n\n3,4',
    'a,b\nfoo"bar,"baz"\n,\n"",""\n',
    'a,b,c\n1,,\n"",,"\r\n"\n',
    'only\nx\ny\n',
    'a,b\n1,2,\n',
  ];
  const scan = (buf: Buffer): string[][] => {
    const records: string[][] = [];
    scanCsv(buf, 'sample.csv', (r) => {
      const fields: string[] = [];
      for (let f = 0; f < r.count; f++) {
        const s = buf.toString('utf8', r.starts[f], r.ends[f]);
        fields.push(r.escaped[f] ? s.replaceAll('""', '"') : s);
      }
      records.push(fields);
    });
    return records;
  };
  const reference = (buf: Buffer) =>
    parse(buf, { bom: true, relax_quotes: true, relax_column_count: true, skip_empty_lines: true }) as string[][];
  samples.forEach((text, i) => {
    it(`agrees with csv-parse on sample ${i + 1}`, () => {
      const buf = Buffer.from(text);
      expect(scan(buf)).toEqual(reference(buf));
    });
  });

  it('agrees with csv-parse on every file of the sample feed', () => {
    const dir = new URL('../data/gtfs-lirr/', import.meta.url).pathname;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.txt'))) {
      const buf = readFileSync(join(dir, f));
      expect(scan(buf), f).toEqual(reference(buf));
    }
  });
});

describe('the generation', () => {
  it('keeps every array in shared memory, so posting it to a worker shares instead of copying', async () => {
    const { g } = await load(TINY_FEED);
    const arrays: ArrayBufferView[] = [];
    const walk = (v: unknown): void => {
      if (ArrayBuffer.isView(v)) arrays.push(v);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(g);
    expect(arrays.length).toBeGreaterThan(50);
    expect(arrays.filter((a) => !(a.buffer instanceof SharedArrayBuffer))).toEqual([]);

    const { port1, port2 } = new MessageChannel();
    const received = new Promise<GenerationData>((resolve) => port2.once('message', resolve));
    port1.postMessage(g);
    const copy = await received;
    port1.close();
    const codes = (copy.tables.stops!.columns.stop_id as { codes: Int32Array }).codes;
    (g.tables.stops!.columns.stop_id as { codes: Int32Array }).codes[0] = 99;
    expect(codes[0]).toBe(99);
    expect(openGeneration(copy).generation).toBe(7);
  });

  it('reports what it loaded', async () => {
    const { g } = await load(TINY_FEED);
    expect(g.id).toBe(7);
    expect(g.stats.files.find((f) => f.file === 'stop_times.txt')).toEqual({
      file: 'stop_times.txt',
      rows: 6,
      bytes: Buffer.byteLength(TINY_FEED['stop_times.txt']!),
    });
    expect(g.stats.rows).toBe(g.stats.files.reduce((n, f) => n + f.rows, 0));
    expect(g.loadMs).toBeGreaterThan(0);
  });
});
