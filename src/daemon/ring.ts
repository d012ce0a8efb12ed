/**
 * A one-way queue of text records in a SharedArrayBuffer, for exactly one writing thread and one reading thread:
 * how jobs go from the daemon's main thread to a worker, and reports come back, without a `postMessage` per job.
 * A `postMessage` costs ~10 µs of structured clone and event-loop wake-up on each side here, more than a query;
 * a record costs a string copy and two atomic stores.
 *
 * Layout: four int32 cells, then `capacity` bytes of records. HEAD and TAIL are byte counts that only grow (modulo
 * 2^32): the reader owns HEAD, the writer owns TAIL, each publishes its own with an atomic store after the bytes
 * it concerns, so a record is seen whole or not at all — a thread terminated while writing one leaves nothing half
 * written. A record is an int32 length then its UTF-8 bytes, padded to 4; one that does not fit before the end of
 * the buffer starts at 0 behind a WRAP mark. BELL is a counter a writer adds to after writing, so a reader can
 * sleep on it with Atomics.wait and be woken by Atomics.notify (see `ring`, `sleep`, worker.ts and pool.ts).
 * SLEEPING is set by a reader around its wait, so a writer wakes only a reader that sleeps: a notify that wakes
 * a thread cost the writer ~13 µs here (it is often descheduled in favour of the woken thread), one that wakes
 * nobody almost nothing.
 */

const HEAD = 0;
const TAIL = 1;
/** A counter the writer bumps after each record (or any other news for the reader), for Atomics.wait/notify. */
export const BELL = 2;
const SLEEPING = 3;
const HEADER_BYTES = 16;
const WRAP = -1;

/** A ring of `capacity` bytes (a power of two, at least 64): the SharedArrayBuffer both threads are given. */
export function newRing(capacity: number): SharedArrayBuffer {
  if (capacity < 64 || (capacity & (capacity - 1)) !== 0)
    throw new Error(`ring capacity ${capacity}: not a power of two`);
  return new SharedArrayBuffer(HEADER_BYTES + capacity);
}

class RingView {
  /** The header cells (HEAD, TAIL, BELL), for Atomics. */
  readonly cells: Int32Array;
  protected readonly words: Int32Array;
  protected readonly bytes: Buffer;
  protected readonly capacity: number;

  constructor(sab: SharedArrayBuffer) {
    this.cells = new Int32Array(sab, 0, HEADER_BYTES / 4);
    this.words = new Int32Array(sab);
    this.capacity = sab.byteLength - HEADER_BYTES;
    this.bytes = Buffer.from(sab, HEADER_BYTES, this.capacity);
  }

  protected wordAt(pos: number): number {
    return (HEADER_BYTES + pos) >> 2;
  }
}

export class RingWriter extends RingView {
  private tail: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.tail = Atomics.load(this.cells, TAIL);
  }

  /** Appends a record; false when it does not fit now (the reader is behind) or ever (over half the ring). */
  write(text: string): boolean {
    const len = Buffer.byteLength(text);
    const need = 4 + ((len + 3) & ~3);
    if (need > this.capacity / 2) return false;
    const free = this.capacity - ((this.tail - Atomics.load(this.cells, HEAD)) | 0);
    let pos = this.tail & (this.capacity - 1);
    const toEnd = this.capacity - pos;
    let tail = this.tail;
    if (need > toEnd) {
      if (toEnd + need > free) return false;
      this.words[this.wordAt(pos)] = WRAP;
      tail = (tail + toEnd) | 0;
      pos = 0;
    } else if (need > free) return false;
    this.words[this.wordAt(pos)] = len;
    this.bytes.write(text, pos + 4, len, 'utf8');
    this.tail = (tail + need) | 0;
    Atomics.store(this.cells, TAIL, this.tail);
    return true;
  }

  /**
   * Tells the reader there is news (a record, or a message in its port), waking it if it sleeps. The count goes
   * up before SLEEPING is read, so a reader that has not slept yet wakes at once (see `sleep`).
   */
  ring(): void {
    Atomics.add(this.cells, BELL, 1);
    if (Atomics.load(this.cells, SLEEPING) !== 0) Atomics.notify(this.cells, BELL);
  }
}

export class RingReader extends RingView {
  private head: number;

  constructor(sab: SharedArrayBuffer) {
    super(sab);
    this.head = Atomics.load(this.cells, HEAD);
  }

  /** The oldest record not read yet, or undefined when there is none. */
  read(): string | undefined {
    if (this.head === Atomics.load(this.cells, TAIL)) return undefined;
    let pos = this.head & (this.capacity - 1);
    let len = this.words[this.wordAt(pos)]!;
    if (len === WRAP) {
      this.head = (this.head + this.capacity - pos) | 0;
      pos = 0;
      len = this.words[this.wordAt(0)]!;
    }
    const text = this.bytes.toString('utf8', pos + 4, pos + 4 + len);
    this.head = (this.head + 4 + ((len + 3) & ~3)) | 0;
    Atomics.store(this.cells, HEAD, this.head);
    return text;
  }

  /** The BELL count now: taken before looking for news, and given to `sleep` when there was none. */
  bell(): number {
    return Atomics.load(this.cells, BELL);
  }

  /**
   * Sleeps until the writer rings after `bell` was taken (at once if it has rung since). SLEEPING is set before
   * BELL is compared: a writer that found it clear rang before the comparison, which then does not block.
   */
  sleep(bell: number): void {
    Atomics.store(this.cells, SLEEPING, 1);
    Atomics.wait(this.cells, BELL, bell);
    Atomics.store(this.cells, SLEEPING, 0);
  }
}
