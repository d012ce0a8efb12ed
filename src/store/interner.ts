/**
 * Interning of field values by their bytes: each distinct value gets a code in order of first appearance, and only
 * a value seen for the first time is decoded into a string. A Map<string, number> needs the string first, so it
 * decoded every row's value (a key column of 2.4 M rows decoded 2.4 M times to find ~4,600 values): on the
 * biggest sample file that decode-and-hash was a third of the load time. Here a row costs a hash over its bytes and one
 * byte comparison with the value already stored.
 *
 * Open addressing with linear probing over a power-of-two table kept at most half full; FNV-1a as the hash.
 */
import { Buffer } from 'node:buffer';

export class ByteInterner {
  /** The distinct values as strings, by code. */
  readonly values: string[] = [];
  private slots = new Int32Array(1024); // code + 1, or 0 for an empty slot
  private hashes = new Int32Array(512);
  private starts = new Int32Array(513); // value `code` is pool[starts[code], starts[code + 1])
  private pool = new Uint8Array(1 << 14);

  /** The code of buf[s, e), adding it (decoded as UTF-8) when new. */
  intern(buf: Uint8Array, s: number, e: number): number {
    let h = 0x811c9dc5 | 0;
    for (let i = s; i < e; i++) h = Math.imul(h ^ buf[i]!, 16777619);
    const mask = this.slots.length - 1;
    const len = e - s;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const c = this.slots[slot]!;
      if (c === 0) return this.add(buf, s, e, h, slot);
      const code = c - 1;
      if (this.hashes[code] !== h) continue;
      const p = this.starts[code]!;
      if (this.starts[code + 1]! - p !== len) continue;
      let i = 0;
      while (i < len && this.pool[p + i] === buf[s + i]) i++;
      if (i === len) return code;
    }
  }

  /** The code of a string (a default or an unescaped value), adding it when new. */
  internText(text: string): number {
    const bytes = Buffer.from(text, 'utf8');
    return this.intern(bytes, 0, bytes.length);
  }

  private add(buf: Uint8Array, s: number, e: number, h: number, slot: number): number {
    const code = this.values.length;
    this.values.push(Buffer.from(buf.buffer, buf.byteOffset + s, e - s).toString('utf8'));
    if (code + 1 >= this.hashes.length) {
      this.hashes = grown(this.hashes, this.hashes.length * 2);
      this.starts = grown(this.starts, this.starts.length * 2);
    }
    const at = this.starts[code]!;
    if (at + (e - s) > this.pool.length) {
      const pool = new Uint8Array(Math.max(this.pool.length * 2, at + (e - s)));
      pool.set(this.pool.subarray(0, at));
      this.pool = pool;
    }
    this.pool.set(buf.subarray(s, e), at);
    this.starts[code + 1] = at + (e - s);
    this.hashes[code] = h;
    this.slots[slot] = code + 1;
    if (2 * (code + 1) > this.slots.length) this.rehash();
    return code;
  }

  private rehash(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let code = 0; code < this.values.length; code++) {
      let slot = this.hashes[code]! & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = code + 1;
    }
    this.slots = slots;
  }
}

function grown(a: Int32Array<ArrayBuffer>, length: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(length);
  b.set(a);
  return b;
}
