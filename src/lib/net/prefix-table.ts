// Longest-prefix match for IPv4 and IPv6, built once and immutable (DESIGN §2: customer routes are compiled
// into one table per routing domain and swapped whole).
//
// Prefixes nest or are disjoint, so a set of them cuts the address space into ranges, each owned by the
// longest prefix covering it (or by none). `build` sweeps the sorted prefixes once and keeps the start of
// each range and its value in typed arrays; `lookup` is a binary search over the starts: O(log n), no
// allocation, no strings. A table of n prefixes holds at most 2n + 1 ranges.
//
// Values are small non-negative integers (an index into the caller's own arrays); a miss is NO_MATCH.
// Addresses may be given as uint32 or as their int32 bits (`x | 0`, which V8 passes between functions
// without boxing): starts are kept as int32 with the sign bit flipped, so signed order is address order.
// When one prefix is given twice, the first entry wins, so callers order ties (e.g. by metric) before
// building. Host bits beyond the prefix length are ignored.
import {parseIp, parsePrefix} from './ip.js'

export const NO_MATCH = -1

/** XOR with this maps unsigned order onto signed order (and takes ToInt32 of a uint32 on the way). */
const SIGN = 0x80000000 | 0

export interface Ipv4PrefixEntry {
  /** The network as a uint32. */
  address: number
  length: number
  value: number
}

export interface Ipv6PrefixEntry {
  /** The network's 16 bytes. */
  address: ArrayLike<number>
  length: number
  value: number
}

interface Span {
  start: bigint
  end: bigint
  length: number
  value: number
  order: number
}

/** The ranges of a laminar set of prefixes of `width` bits: starts ascending (the first is 0), values. */
function sweep(spans: Span[], width: number): {starts: bigint[]; values: number[]} {
  const max = (1n << BigInt(width)) - 1n
  spans.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.length - b.length || a.order - b.order))
  const starts: bigint[] = []
  const values: number[] = []
  const emit = (start: bigint, value: number): void => {
    const last = starts.length - 1
    if (last >= 0 && starts[last] === start) {
      values[last] = value
      if (last >= 1 && values[last - 1] === value) {
        starts.pop()
        values.pop()
      }
    } else if (last < 0 || values[last] !== value) {
      starts.push(start)
      values.push(value)
    }
  }
  emit(0n, NO_MATCH)
  const open: Span[] = []
  const close = (): void => {
    const done = open.pop()!
    if (done.end < max) emit(done.end + 1n, open.length > 0 ? open[open.length - 1].value : NO_MATCH)
  }
  let previous: Span | undefined
  for (const span of spans) {
    if (previous !== undefined && previous.start === span.start && previous.length === span.length) continue
    previous = span
    while (open.length > 0 && open[open.length - 1].end < span.start) close()
    emit(span.start, span.value)
    open.push(span)
  }
  while (open.length > 0) close()
  return {starts, values}
}

function checkEntry(length: number, value: number, width: number): void {
  if (!Number.isInteger(length) || length < 0 || length > width) throw new RangeError(`prefix length ${length} is not 0 to ${width}`)
  if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`prefix table value ${value} is not a non-negative int32`)
}

function span(address: bigint, length: number, value: number, order: number, width: number): Span {
  const hostBits = BigInt(width - length)
  const start = (address >> hostBits) << hostBits
  return {start, end: start + (1n << hostBits) - 1n, length, value, order}
}

export class Ipv4PrefixTable {
  private constructor(
    /** Range starts ^ SIGN, ascending; starts[0] is 0 ^ SIGN. */
    private readonly starts: Int32Array,
    private readonly values: Int32Array,
    /** Distinct prefixes. */
    readonly size: number,
  ) {}

  static build(entries: Iterable<Ipv4PrefixEntry>): Ipv4PrefixTable {
    const spans: Span[] = []
    for (const e of entries) {
      checkEntry(e.length, e.value, 32)
      spans.push(span(BigInt(e.address >>> 0), e.length, e.value, spans.length, 32))
    }
    const size = new Set(spans.map((s) => s.start * 64n + BigInt(s.length))).size
    const {starts, values} = sweep(spans, 32)
    return new Ipv4PrefixTable(Int32Array.from(starts, (s) => Number(s) ^ SIGN), Int32Array.from(values), size)
  }

  /** Ranges the table is cut into (for tests and sizing). */
  get ranges(): number {
    return this.starts.length
  }

  /** The value of the longest prefix holding `address` (uint32, or int32 bits), or NO_MATCH. */
  lookup(address: number): number {
    const a = address ^ SIGN
    const starts = this.starts
    let lo = 0
    let hi = starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (starts[mid] <= a) lo = mid
      else hi = mid - 1
    }
    return this.values[lo]
  }
}

export class Ipv6PrefixTable {
  private constructor(
    /** Range starts, four big-endian words each ^ SIGN, ascending; the first is ::. */
    private readonly starts: Int32Array,
    private readonly values: Int32Array,
    readonly size: number,
  ) {}

  static build(entries: Iterable<Ipv6PrefixEntry>): Ipv6PrefixTable {
    const spans: Span[] = []
    for (const e of entries) {
      checkEntry(e.length, e.value, 128)
      if (e.address.length !== 16) throw new RangeError(`an IPv6 prefix needs 16 address bytes, not ${e.address.length}`)
      let address = 0n
      for (let i = 0; i < 16; i++) address = (address << 8n) | BigInt(e.address[i] & 255)
      spans.push(span(address, e.length, e.value, spans.length, 128))
    }
    const size = new Set(spans.map((s) => s.start * 256n + BigInt(s.length))).size
    const {starts, values} = sweep(spans, 128)
    const words = new Int32Array(starts.length * 4)
    starts.forEach((start, i) => {
      for (let w = 0; w < 4; w++) words[i * 4 + w] = Number((start >> BigInt(96 - 32 * w)) & 0xffffffffn) ^ SIGN
    })
    return new Ipv6PrefixTable(words, Int32Array.from(values), size)
  }

  get ranges(): number {
    return this.values.length
  }

  /** The value of the longest prefix holding the address w0:w1:w2:w3 (big-endian words), or NO_MATCH. */
  lookup(w0: number, w1: number, w2: number, w3: number): number {
    w0 ^= SIGN
    w1 ^= SIGN
    w2 ^= SIGN
    w3 ^= SIGN
    const s = this.starts
    let lo = 0
    let hi = this.values.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      const k = mid << 2
      // starts[mid] <= address, word by word.
      let le: boolean
      if (s[k] !== w0) le = s[k] < w0
      else if (s[k + 1] !== w1) le = s[k + 1] < w1
      else if (s[k + 2] !== w2) le = s[k + 2] < w2
      else le = s[k + 3] <= w3
      if (le) lo = mid
      else hi = mid - 1
    }
    return this.values[lo]
  }

  /** lookup() of the 16-byte address at `buf[off]` (e.g. an IPv6 header's destination). */
  lookupBytes(buf: Uint8Array, off: number): number {
    return this.lookup(word(buf, off), word(buf, off + 4), word(buf, off + 8), word(buf, off + 12))
  }
}

/** Four bytes as the int32 bits of a big-endian word. */
function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
}

/** Both tables from `address/length` texts (the policy's DestinationPrefix), for the control path. */
export function buildPrefixTables(entries: Iterable<{prefix: string; value: number}>): {v4: Ipv4PrefixTable; v6: Ipv6PrefixTable} {
  const v4: Ipv4PrefixEntry[] = []
  const v6: Ipv6PrefixEntry[] = []
  for (const {prefix, value} of entries) {
    const p = parsePrefix(prefix)
    const bytes = Uint8Array.from(parseIp(p.address).bytes)
    if (p.family === 4) v4.push({address: word(bytes, 0), length: p.length, value})
    else v6.push({address: bytes, length: p.length, value})
  }
  return {v4: Ipv4PrefixTable.build(v4), v6: Ipv6PrefixTable.build(v6)}
}
