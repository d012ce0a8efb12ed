/**
 * Zip archives byte by byte, for tests that need what `zip` will not make: symlink, device and FIFO entries (the
 * Unix mode in the external attributes), absolute and `..` names, and sizes that say one thing while the data is
 * another. Stored (method 0) or deflated (method 8); one disk, no zip64, no extra fields.
 */
import { deflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** The bytes; for a symlink, its target. */
  data?: Buffer | string;
  /** The Unix mode, type bits included: 0o100644 a file (the default), 0o040755 a directory, 0o120777 a symlink. */
  mode?: number;
  deflate?: boolean;
  /** The uncompressed size to declare, when it should lie. */
  declaredSize?: number;
}

export const MODE = {
  file: 0o100644,
  dir: 0o040755,
  symlink: 0o120777,
  fifo: 0o010644,
  char: 0o020644,
  block: 0o060644,
};

/** 2026-01-01 in MS-DOS date format: (year - 1980) << 9 | month << 5 | day. */
const DOS_DATE = (46 << 9) | (1 << 5) | 1;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A header of `size` bytes from little-endian fields: [offset, width in bytes, value]. */
function header(size: number, fields: [number, 2 | 4, number][]): Buffer {
  const b = Buffer.alloc(size);
  for (const [at, width, value] of fields) {
    if (width === 2) b.writeUInt16LE(value, at);
    else b.writeUInt32LE(value >>> 0, at);
  }
  return b;
}

export function zipBytes(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const raw = Buffer.from(e.data ?? '');
    const body = e.deflate ? deflateRawSync(raw) : raw;
    const method = e.deflate ? 8 : 0;
    const crc = crc32(raw);
    const size = e.declaredSize ?? raw.length;
    // The fields both headers share: method, date, CRC, compressed and declared size, name length.
    const common = (at: number): [number, 2 | 4, number][] => [
      [at, 2, method],
      [at + 4, 2, DOS_DATE],
      [at + 6, 4, crc],
      [at + 10, 4, body.length],
      [at + 14, 4, size],
      [at + 18, 2, name.length],
    ];
    locals.push(header(30, [[0, 4, 0x04034b50], [4, 2, 20], ...common(8)]), name, body);
    const central = header(46, [
      [0, 4, 0x02014b50],
      [4, 2, (3 << 8) | 20], // made by Unix: the external attributes hold the mode
      [6, 2, 20],
      ...common(10),
      [38, 4, (e.mode ?? MODE.file) << 16],
      [42, 4, offset],
    ]);
    centrals.push(central, name);
    offset += 30 + name.length + body.length;
  }
  const directory = Buffer.concat(centrals);
  const end = header(22, [
    [0, 4, 0x06054b50],
    [8, 2, entries.length],
    [10, 2, entries.length],
    [12, 4, directory.length],
    [16, 4, offset],
  ]);
  return Buffer.concat([...locals, directory, end]);
}
