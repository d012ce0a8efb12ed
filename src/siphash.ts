/**
 * SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed pseudo-random function
 * with a 128-bit key and a 64-bit output. The web answer's `end=` line carries it (protocol.ts), keyed from the
 * request's proof, so that bytes another writer splices into an answer FIFO cannot pass for the daemon's: without
 * the proof, nobody can compute the digest of the bytes the relay would then read. The relay (src/cgi/relay.c)
 * computes the same function in C.
 *
 * JavaScript has no 64-bit unsigned integers that are fast, so each 64-bit word is kept as two 32-bit halves
 * (hi, lo) in a Uint32Array; the round is written out on them.
 */

// The state v0..v3 as [v0hi, v0lo, v1hi, v1lo, v2hi, v2lo, v3hi, v3lo].
type State = Uint32Array;

/** a += b, on the 64-bit words at indices a and b (each a hi/lo pair). */
function add(s: State, a: number, b: number): void {
  const lo = (s[a + 1]! + s[b + 1]!) >>> 0;
  s[a] = (s[a]! + s[b]! + (lo < s[a + 1]! ? 1 : 0)) >>> 0;
  s[a + 1] = lo;
}

/** The word at index a rotated left by r bits, 0 < r < 32. */
function rotl(s: State, a: number, r: number): void {
  const hi = s[a]!;
  const lo = s[a + 1]!;
  s[a] = ((hi << r) | (lo >>> (32 - r))) >>> 0;
  s[a + 1] = ((lo << r) | (hi >>> (32 - r))) >>> 0;
}

/** The word at index a rotated by 32 bits: its halves swapped. */
function swap(s: State, a: number): void {
  const hi = s[a]!;
  s[a] = s[a + 1]!;
  s[a + 1] = hi;
}

function xorInto(s: State, a: number, b: number): void {
  s[a] = (s[a]! ^ s[b]!) >>> 0;
  s[a + 1] = (s[a + 1]! ^ s[b + 1]!) >>> 0;
}

const V0 = 0;
const V1 = 2;
const V2 = 4;
const V3 = 6;

function sipRound(s: State): void {
  add(s, V0, V1);
  rotl(s, V1, 13);
  xorInto(s, V1, V0);
  swap(s, V0);
  add(s, V2, V3);
  rotl(s, V3, 16);
  xorInto(s, V3, V2);
  add(s, V0, V3);
  rotl(s, V3, 21);
  xorInto(s, V3, V0);
  add(s, V2, V1);
  rotl(s, V1, 17);
  xorInto(s, V1, V2);
  swap(s, V2);
}

/** Little-endian 32-bit word of `bytes` at `at`. */
function le32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! | (bytes[at + 1]! << 8) | (bytes[at + 2]! << 16) | (bytes[at + 3]! << 24)) >>> 0;
}

/** One message word m (hi, lo) through the compression: v3 ^= m, two rounds, v0 ^= m. */
function compress(s: State, hi: number, lo: number): void {
  s[V3] = (s[V3]! ^ hi) >>> 0;
  s[V3 + 1] = (s[V3 + 1]! ^ lo) >>> 0;
  sipRound(s);
  sipRound(s);
  s[V0] = (s[V0]! ^ hi) >>> 0;
  s[V0 + 1] = (s[V0 + 1]! ^ lo) >>> 0;
}

const hex8 = (n: number) => n.toString(16).padStart(8, '0');

/**
 * SipHash-2-4 of `data` under the 16-byte `key`, as 16 lowercase hex digits, most significant first (the paper's
 * appendix writes its example output a129ca6149be45e5 the same way).
 */
export function siphash24(key: Uint8Array, data: Uint8Array): string {
  if (key.length !== 16) throw new RangeError('a SipHash key is 16 bytes');
  const k0hi = le32(key, 4);
  const k0lo = le32(key, 0);
  const k1hi = le32(key, 12);
  const k1lo = le32(key, 8);
  // "somepseudorandomlygeneratedbytes"
  const s: State = new Uint32Array([
    k0hi ^ 0x736f6d65,
    k0lo ^ 0x70736575,
    k1hi ^ 0x646f7261,
    k1lo ^ 0x6e646f6d,
    k0hi ^ 0x6c796765,
    k0lo ^ 0x6e657261,
    k1hi ^ 0x74656462,
    k1lo ^ 0x79746573,
  ]);
  const whole = data.length - (data.length % 8);
  for (let at = 0; at < whole; at += 8) compress(s, le32(data, at + 4), le32(data, at));
  // The last word: the remaining 0–7 bytes, little-endian, and the length's low byte on top.
  const tail = new Uint8Array(8);
  tail.set(data.subarray(whole));
  tail[7] = data.length & 0xff;
  compress(s, le32(tail, 4), le32(tail, 0));
  s[V2 + 1] = (s[V2 + 1]! ^ 0xff) >>> 0;
  for (let i = 0; i < 4; i++) sipRound(s);
  return hex8((s[0]! ^ s[2]! ^ s[4]! ^ s[6]!) >>> 0) + hex8((s[1]! ^ s[3]! ^ s[5]! ^ s[7]!) >>> 0);
}
