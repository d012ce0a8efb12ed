/**
 * deploy/refresh-feed.sh's unpack of a feed archive (`refresh-feed.sh --unpack ZIP DIR`, the step every refresh
 * runs) on hostile archives made byte by byte: symlinks, devices, FIFOs, absolute and `..` names, backslashes and
 * control characters in names, too many files, a zip bomb that declares its size and one that lies about it. Then a
 * seeded property test over random archives: whatever the archive, the script either refuses it and leaves nothing,
 * or leaves a fresh directory of regular files and directories only, within the bounds, and nothing outside it.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/daemon.js';
import { rng } from './helpers/rng.js';
import { MODE, zipBytes, type ZipEntry } from './helpers/zip.js';

const SCRIPT = join(ROOT, 'deploy/refresh-feed.sh');
const made: string[] = [];
afterAll(() => {
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

interface Unpacked {
  code: number | null;
  stderr: string;
  /** The directory the archive went into (absent when refused), and the one around it (nothing else may appear). */
  dir: string;
  around: string;
}

function unpack(entries: readonly ZipEntry[], limits: { bytes?: number; files?: number } = {}): Unpacked {
  const around = fs.mkdtempSync(join(tmpdir(), 'roq-unpack-'));
  made.push(around);
  const zip = join(around, 'feed.zip');
  fs.writeFileSync(zip, zipBytes(entries));
  const dir = join(around, 'feed');
  const r = spawnSync('/bin/bash', [SCRIPT, '--unpack', zip, dir], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ROQ_FEED_MAX_BYTES: String(limits.bytes ?? 1_000_000),
      ROQ_FEED_MAX_FILES: String(limits.files ?? 50),
    },
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr, dir, around };
}

/** Every path under dir with its type: 'f' regular file, 'd' directory, anything else by its lstat. */
function tree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string) => {
    for (const name of fs.readdirSync(join(dir, rel))) {
      const path = posix.join(rel, name);
      const st = fs.lstatSync(join(dir, path));
      out.set(path, st.isFile() ? 'f' : st.isDirectory() ? 'd' : st.isSymbolicLink() ? 'l' : 'other');
      if (st.isDirectory()) walk(path);
    }
  };
  walk('');
  return out;
}

function refused(r: Unpacked, reason: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr).toMatch(reason);
  expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/); // names are printed with their controls as '?'
  expect(fs.readdirSync(r.around)).toEqual(['feed.zip']);
}

const STOPS = 'stop_id,stop_name\n1,A\n';

describe('refresh-feed.sh --unpack refuses', () => {
  it('a symlink entry, even the only one (its prune would have followed it)', () => {
    refused(unpack([{ name: 'feed', data: '/var', mode: MODE.symlink }]), /neither a file nor a directory/);
    refused(
      unpack([
        { name: 'stops.txt', data: STOPS },
        { name: 'agency.txt', data: '/etc/passwd', mode: MODE.symlink },
      ]),
      /neither a file nor a directory .*agency\.txt/,
    );
  });

  it('device, FIFO and socket entries', () => {
    for (const mode of [MODE.char, MODE.block, MODE.fifo, 0o140644])
      refused(
        unpack([
          { name: 'stops.txt', data: STOPS },
          { name: 'x', mode },
        ]),
        /neither a file nor a directory/,
      );
  });

  it("absolute names, '..' components and backslashes in names", () => {
    for (const name of ['/tmp/stops.txt', '../stops.txt', 'a/../../stops.txt', 'a\\..\\..\\x'])
      refused(
        unpack([
          { name: 'stops.txt', data: STOPS },
          { name, data: 'x' },
        ]),
        /holds the name/,
      );
  });

  it('more files than ROQ_FEED_MAX_FILES', () => {
    const entries = Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }));
    refused(unpack(entries, { files: 5 }), /holds 6 files; at most 5/);
    expect(unpack(entries, { files: 6 }).code).toBe(0);
  });

  it('a zip bomb that declares its size, and one whose data is larger than it declares', () => {
    const zeros = Buffer.alloc(3_000_000);
    refused(unpack([{ name: 'stops.txt', data: zeros, deflate: true }]), /unpacks to 3000000 bytes; at most 1000000/);
    refused(
      unpack([{ name: 'stops.txt', data: zeros, deflate: true, declaredSize: 100 }]),
      /not a readable zip file, or a file in it is larger than it says/,
    );
  });
});

describe('refresh-feed.sh --unpack takes', () => {
  it('a name with control characters, which unzip writes without them', () => {
    const r = unpack([
      { name: 'stops.txt', data: STOPS },
      { name: 'st\x1b[2Jops\x07.txt', data: 'x' },
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect([...tree(r.dir).keys()].sort()).toEqual(['st[2Jops.txt', 'stops.txt']);
  });

  it('files and directories, and serves the files of a single wrapping directory', () => {
    const r = unpack([
      { name: 'gtfs/', mode: MODE.dir },
      { name: 'gtfs/stops.txt', data: STOPS },
      { name: 'gtfs/agency.txt', data: 'x', deflate: true },
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect([...tree(r.dir)].sort()).toEqual([
      ['agency.txt', 'f'],
      ['stops.txt', 'f'],
    ]);
    expect(fs.readFileSync(join(r.dir, 'stops.txt'), 'utf8')).toBe(STOPS);
  });
});

describe('refresh-feed.sh --unpack, property over seeded random archives', () => {
  const SEGMENTS = ['a', 'b', 'c.txt', 'stops.txt', 'a', 'b', 'c.txt', 'stops.txt', '..', 'x\\y', 'e\x01', 'é'];
  const KINDS = [...Array<number>(10).fill(MODE.file), MODE.dir, MODE.dir, MODE.symlink, MODE.fifo, MODE.char];

  /** What the script must refuse, whatever else holds: a bad type, a bad name, or too much. */
  function mustRefuse(entries: ZipEntry[], maxFiles: number, maxBytes: number): boolean {
    const files = entries.filter((e) => (e.mode ?? MODE.file) === MODE.file);
    return (
      entries.some((e) => e.mode !== MODE.file && e.mode !== MODE.dir) ||
      entries.some((e) => /^\/|(^|\/)\.\.(\/|$)|\\/.test(e.name)) ||
      files.length > maxFiles ||
      files.reduce((n, e) => n + Buffer.byteLength(e.data ?? ''), 0) > maxBytes
    );
  }

  it('refused: nothing left; taken: regular files and directories only, inside the directory, within bounds', () => {
    const r = rng(2121);
    let taken = 0;
    for (let n = 0; n < 120; n++) {
      const entries: ZipEntry[] = Array.from({ length: r.int(1, 4) }, () => {
        const mode = r.pick(KINDS);
        const name =
          (r.int(0, 20) === 0 ? '/' : '') +
          Array.from({ length: r.int(1, 2) }, () => r.pick(SEGMENTS)).join('/') +
          (mode === MODE.dir ? '/' : '');
        return {
          name,
          mode,
          data: mode === MODE.symlink ? '/etc' : 'x'.repeat(r.int(0, 300)),
          deflate: r.int(0, 1) === 1,
        };
      });
      const maxFiles = r.int(1, 6);
      const maxBytes = r.int(100, 1500);
      const out = unpack(entries, { files: maxFiles, bytes: maxBytes });
      const what = `case ${n}: ${JSON.stringify(entries.map((e) => [e.name, e.mode!.toString(8)]))}: ${out.stderr}`;
      expect([0, 1], what).toContain(out.code);
      if (mustRefuse(entries, maxFiles, maxBytes)) expect(out.code, what).toBe(1);
      if (out.code !== 0) {
        expect(fs.readdirSync(out.around), what).toEqual(['feed.zip']);
        continue;
      }
      taken++;
      expect(fs.readdirSync(out.around).sort(), what).toEqual(['feed', 'feed.zip']);
      const paths = tree(out.dir);
      expect(
        [...paths.values()].every((t) => t === 'f' || t === 'd'),
        what,
      ).toBe(true);
      expect(
        [...paths.keys()].some((p) => /[\x00-\x1f\x7f]/.test(p)),
        what,
      ).toBe(false);
      const files = [...paths].filter(([, t]) => t === 'f').map(([p]) => fs.readFileSync(join(out.dir, p)).length);
      expect(files.length, what).toBeLessThanOrEqual(maxFiles);
      expect(
        files.reduce((a, b) => a + b, 0),
        what,
      ).toBeLessThanOrEqual(maxBytes);
    }
    expect(taken, 'some archives were clean enough to be taken').toBeGreaterThan(5);
  }, 120_000);
});
