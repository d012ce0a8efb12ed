/**
 * Typed arrays on SharedArrayBuffers: everything a generation keeps is allocated here, so a worker that receives
 * the generation maps the same memory instead of copying it.
 */

export function sharedInt32(length: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(length * 4));
}

export function sharedUint32(length: number): Uint32Array {
  return new Uint32Array(new SharedArrayBuffer(length * 4));
}

export function sharedFloat64(length: number): Float64Array {
  return new Float64Array(new SharedArrayBuffer(length * 8));
}

export function sharedBytes(length: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(length));
}

/** A shared copy of the first `length` entries of a private growable array. */
export function shareInt32(src: Int32Array, length: number): Int32Array {
  const out = sharedInt32(length);
  out.set(src.subarray(0, length));
  return out;
}

export function shareFloat64(src: Float64Array, length: number): Float64Array {
  const out = sharedFloat64(length);
  out.set(src.subarray(0, length));
  return out;
}
