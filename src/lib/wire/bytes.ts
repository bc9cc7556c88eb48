// Big-endian field access on plain byte indexing: V8 inlines these, and they never allocate.
// Callers have checked bounds (a view's `wrap`), so no check is repeated here.

export function u16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1]
}

export function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

export function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8
  b[o + 1] = v
}

export function setU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = v >>> 16
  b[o + 2] = v >>> 8
  b[o + 3] = v
}

/** A copy of `b[start, end)` that owns its bytes (for reprs, which must outlive the frame). */
export function copyBytes(b: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start)
  out.set(b.subarray(start, end))
  return out
}

/** Empty buffer that unbound views point at, so every view field keeps one type. */
export const EMPTY: Buffer = Buffer.alloc(0)
