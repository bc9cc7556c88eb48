// IPv4 (RFC 791): header with options, fragments, header checksum, TTL decrement and address rewrite by
// incremental checksum update (RFC 1624).

import {EMPTY, copyBytes, setU16, setU32, u16, u32} from './bytes.js'
import {ChecksumMode, checksumUpdate16, checksumUpdate32, checksumValid, fillChecksum, ipv4PseudoSum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 791 §3.1 header layout: byte offsets from the start of the header. */
export const enum Ipv4 {
  VER_IHL = 0,
  TOS = 1,
  LENGTH = 2,
  IDENT = 4,
  FLAGS_FRAG = 6,
  TTL = 8,
  PROTOCOL = 9,
  CHECKSUM = 10,
  SRC = 12,
  DST = 16,
  OPTIONS = 20,
  /** Header without options (IHL minimum 5 words). */
  HEADER_LEN = 20,
  /** IHL is 4 bits of 32-bit words: 60 bytes at most. */
  MAX_HEADER_LEN = 60,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const IPV4_VER_IHL = Ipv4.VER_IHL
export const IPV4_TOS = Ipv4.TOS
export const IPV4_LENGTH = Ipv4.LENGTH
export const IPV4_IDENT = Ipv4.IDENT
export const IPV4_FLAGS_FRAG = Ipv4.FLAGS_FRAG
export const IPV4_TTL = Ipv4.TTL
export const IPV4_PROTOCOL = Ipv4.PROTOCOL
export const IPV4_CHECKSUM = Ipv4.CHECKSUM
export const IPV4_SRC = Ipv4.SRC
export const IPV4_DST = Ipv4.DST
export const IPV4_OPTIONS = Ipv4.OPTIONS
export const IPV4_MAX_HEADER_LEN = Ipv4.MAX_HEADER_LEN
export const IPV4_HEADER_LEN = Ipv4.HEADER_LEN

/** RFC 791 §3.1 flags and fragment offset, in the 16-bit word at FLAGS_FRAG. */
export const enum Ipv4Flag {
  DF = 0x4000,
  MF = 0x2000,
  FRAG_OFFSET_MASK = 0x1fff,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const IPV4_FLAG_DF = Ipv4Flag.DF
export const IPV4_FLAG_MF = Ipv4Flag.MF
export const IPV4_FRAG_OFFSET_MASK = Ipv4Flag.FRAG_OFFSET_MASK

/** RFC 791 §3.2 option types with no length byte. */
export const IPV4_OPT_EOL = 0
export const IPV4_OPT_NOP = 1

export interface Ipv4Repr {
  /** Addresses as uint32 (address.ts converts from and to text). */
  src: number
  dst: number
  protocol: number
  ttl: number
  /** The whole TOS byte: DSCP << 2 | ECN (RFC 2474, RFC 3168). */
  tos: number
  ident: number
  dontFrag: boolean
  moreFrags: boolean
  /** Fragment offset in bytes (a multiple of 8). */
  fragOffset: number
  /** Bytes after the header: total length - header length. */
  payloadLen: number
  /** Raw option bytes; emit pads them with EOL to a multiple of 4. Empty when none. */
  options: Uint8Array
}

export class Ipv4View {
  buf: Buffer = EMPTY
  off = 0
  /** off + total length: Ethernet padding after it is not part of the packet. */
  end = 0
  headerLen = Ipv4.HEADER_LEN

  /**
   * Binds to the packet at `off`; `end` bounds the bytes available. Checks, as smoltcp's check_len does,
   * that the header and the total length fit, so that no getter reads past `end`; and the version.
   */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    const avail = end - off
    if (avail < Ipv4.HEADER_LEN) return WireErrorCode.TRUNCATED
    const verIhl = buf[off + Ipv4.VER_IHL]
    if (verIhl >>> 4 !== 4) return WireErrorCode.BAD_VERSION
    const headerLen = (verIhl & 15) << 2
    if (headerLen < Ipv4.HEADER_LEN) return WireErrorCode.BAD_HEADER_LEN
    if (headerLen > avail) return WireErrorCode.TRUNCATED
    const total = u16(buf, off + Ipv4.LENGTH)
    if (total < headerLen) return WireErrorCode.BAD_LENGTH
    if (total > avail) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    this.end = off + total
    this.headerLen = headerLen
    return 0
  }

  get version(): number {
    return this.buf[this.off + Ipv4.VER_IHL] >>> 4
  }
  get tos(): number {
    return this.buf[this.off + Ipv4.TOS]
  }
  get dscp(): number {
    return this.buf[this.off + Ipv4.TOS] >>> 2
  }
  get ecn(): number {
    return this.buf[this.off + Ipv4.TOS] & 3
  }
  get totalLen(): number {
    return this.end - this.off
  }
  get ident(): number {
    return u16(this.buf, this.off + Ipv4.IDENT)
  }
  get dontFrag(): boolean {
    return (u16(this.buf, this.off + Ipv4.FLAGS_FRAG) & Ipv4Flag.DF) !== 0
  }
  get moreFrags(): boolean {
    return (u16(this.buf, this.off + Ipv4.FLAGS_FRAG) & Ipv4Flag.MF) !== 0
  }
  /** Fragment offset in bytes. */
  get fragOffset(): number {
    return (u16(this.buf, this.off + Ipv4.FLAGS_FRAG) & Ipv4Flag.FRAG_OFFSET_MASK) << 3
  }
  /** Part of a fragmented datagram (MF set or a non-zero offset): no L4 header unless fragOffset is 0. */
  get isFragment(): boolean {
    return (u16(this.buf, this.off + Ipv4.FLAGS_FRAG) & (Ipv4Flag.MF | Ipv4Flag.FRAG_OFFSET_MASK)) !== 0
  }
  get ttl(): number {
    return this.buf[this.off + Ipv4.TTL]
  }
  get protocol(): number {
    return this.buf[this.off + Ipv4.PROTOCOL]
  }
  get checksum(): number {
    return u16(this.buf, this.off + Ipv4.CHECKSUM)
  }
  set checksum(v: number) {
    setU16(this.buf, this.off + Ipv4.CHECKSUM, v)
  }
  get src(): number {
    return u32(this.buf, this.off + Ipv4.SRC)
  }
  get dst(): number {
    return u32(this.buf, this.off + Ipv4.DST)
  }
  /**
   * The source and destination as int32 (the same bits): what the engine's lookups take. `src | 0` still
   * makes the uint32 first, a heap number for addresses from 128.0.0.0 whenever the getter is not inlined.
   */
  get src32(): number {
    const b = this.buf
    const o = this.off + Ipv4.SRC
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
  }
  get dst32(): number {
    const b = this.buf
    const o = this.off + Ipv4.DST
    return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
  }
  get payloadOffset(): number {
    return this.off + this.headerLen
  }
  get payloadLen(): number {
    return this.end - this.off - this.headerLen
  }

  checksumValid(): boolean {
    return checksumValid(this.buf, this.off, this.off + this.headerLen)
  }
  /** Recomputes the header checksum in full. */
  fillChecksum(): void {
    fillChecksum(this.buf, this.off, this.off + this.headerLen, this.off + Ipv4.CHECKSUM, 0, ChecksumMode.COMPUTE)
  }
  /** Pseudo-header sum (without length) for the L4 checksum of this packet's payload. */
  pseudoSum(): number {
    return ipv4PseudoSum(this.src, this.dst, this.protocol)
  }

  /**
   * Decrements the TTL and patches the header checksum (RFC 1624); returns the new TTL. A TTL of 0 is
   * left alone. Dropping at 0 (and answering ICMP time exceeded) is the caller's decision.
   */
  decrementTtl(): number {
    const o = this.off
    // TTL is the high byte of the 16-bit word it shares with the protocol.
    const oldWord = u16(this.buf, o + Ipv4.TTL)
    if (oldWord < 0x100) return 0
    const newWord = oldWord - 0x100
    setU16(this.buf, o + Ipv4.TTL, newWord)
    setU16(this.buf, o + Ipv4.CHECKSUM, checksumUpdate16(u16(this.buf, o + Ipv4.CHECKSUM), oldWord, newWord))
    return newWord >>> 8
  }

  /**
   * Rewrites the source address, patching the header checksum (RFC 1624). The L4 checksum covers the
   * address too (pseudo-header): the caller patches it with checksumUpdate32(csum, old, new).
   */
  rewriteSrc(addr: number): void {
    this.rewrite32(Ipv4.SRC, addr)
  }
  rewriteDst(addr: number): void {
    this.rewrite32(Ipv4.DST, addr)
  }

  private rewrite32(field: number, value: number): void {
    const o = this.off
    const old = u32(this.buf, o + field)
    setU32(this.buf, o + field, value)
    setU16(this.buf, o + Ipv4.CHECKSUM, checksumUpdate32(u16(this.buf, o + Ipv4.CHECKSUM), old, value))
  }
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  if (avail < Ipv4.HEADER_LEN) return 'IPv4 header needs ' + Ipv4.HEADER_LEN + ' bytes, ' + avail + ' available'
  const headerLen = (buf[off] & 15) << 2
  const total = u16(buf, off + Ipv4.LENGTH)
  switch (code) {
    case WireErrorCode.BAD_VERSION:
      return 'IPv4 version is ' + (buf[off] >>> 4) + ', expected 4'
    case WireErrorCode.BAD_HEADER_LEN:
      return 'IPv4 header length ' + headerLen + ' is less than ' + Ipv4.HEADER_LEN
    case WireErrorCode.BAD_LENGTH:
      return 'IPv4 total length ' + total + ' is less than the header length ' + headerLen
    default:
      return headerLen > avail
        ? 'IPv4 header length ' + headerLen + ' exceeds the ' + avail + ' bytes available'
        : 'IPv4 total length ' + total + ' exceeds the ' + avail + ' bytes available'
  }
}

/** Offset of the first malformed option in `buf[start, end)`, or -1 when all are well formed. */
function badOptionAt(buf: Uint8Array, start: number, end: number): number {
  let i = start
  while (i < end) {
    const type = buf[i]
    if (type === IPV4_OPT_EOL) return -1
    if (type === IPV4_OPT_NOP) {
      i++
      continue
    }
    if (i + 1 >= end || buf[i + 1] < 2 || i + buf[i + 1] > end) return i
    i += buf[i + 1]
  }
  return -1
}

/**
 * Parses and validates an IPv4 header: wrap's length checks, option structure and, when
 * `verifyChecksum` (default), the header checksum. Any TTL and any fragment is accepted: deciding what
 * to do with them is the caller's job.
 */
export function parseIpv4(buf: Buffer, off: number, end: number, verifyChecksum = true): Ipv4Repr {
  const v = new Ipv4View()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  if (verifyChecksum && !v.checksumValid()) {
    throw new WireError(WireErrorCode.BAD_CHECKSUM, 'IPv4 header checksum 0x' + v.checksum.toString(16) + ' is wrong')
  }
  const bad = badOptionAt(buf, off + Ipv4.OPTIONS, off + v.headerLen)
  if (bad >= 0) {
    throw new WireError(WireErrorCode.BAD_OPTION, 'IPv4 option ' + buf[bad] + ' at header offset ' + (bad - off) + ' runs past the header')
  }
  return {
    src: v.src,
    dst: v.dst,
    protocol: v.protocol,
    ttl: v.ttl,
    tos: v.tos,
    ident: v.ident,
    dontFrag: v.dontFrag,
    moreFrags: v.moreFrags,
    fragOffset: v.fragOffset,
    payloadLen: v.payloadLen,
    options: copyBytes(buf, off + Ipv4.OPTIONS, off + v.headerLen),
  }
}

/** Header length emitIpv4 will write for `repr`. */
export function ipv4HeaderLen(repr: Ipv4Repr): number {
  return Ipv4.HEADER_LEN + ((repr.options.length + 3) & ~3)
}

/**
 * Writes the fixed 20 bytes of a header from numbers, checksum zero, without allocating: the form
 * emitIpv4 and NvgreEncap.push share. `flagsFrag` is the whole flags/fragment-offset word.
 */
export function writeIpv4Header(
  buf: Buffer,
  off: number,
  headerLen: number,
  tos: number,
  totalLen: number,
  ident: number,
  flagsFrag: number,
  ttl: number,
  protocol: number,
  src: number,
  dst: number,
): void {
  buf[off + Ipv4.VER_IHL] = 0x40 | (headerLen >>> 2)
  buf[off + Ipv4.TOS] = tos
  setU16(buf, off + Ipv4.LENGTH, totalLen)
  setU16(buf, off + Ipv4.IDENT, ident)
  setU16(buf, off + Ipv4.FLAGS_FRAG, flagsFrag)
  buf[off + Ipv4.TTL] = ttl
  buf[off + Ipv4.PROTOCOL] = protocol
  setU16(buf, off + Ipv4.CHECKSUM, 0)
  setU32(buf, off + Ipv4.SRC, src)
  setU32(buf, off + Ipv4.DST, dst)
}

/**
 * Writes the header (with options) at `off` and returns its length. The checksum is computed unless
 * `mode` is ZERO or PARTIAL (a device fills it).
 */
export function emitIpv4(repr: Ipv4Repr, buf: Buffer, off: number, mode: ChecksumMode = ChecksumMode.COMPUTE): number {
  const headerLen = ipv4HeaderLen(repr)
  if (headerLen > Ipv4.MAX_HEADER_LEN) {
    throw new WireError(WireErrorCode.BAD_OPTION, 'IPv4 options of ' + repr.options.length + ' bytes exceed the 40 a header can hold')
  }
  const flagsFrag = (repr.dontFrag ? Ipv4Flag.DF : 0) | (repr.moreFrags ? Ipv4Flag.MF : 0) | ((repr.fragOffset >>> 3) & Ipv4Flag.FRAG_OFFSET_MASK)
  writeIpv4Header(buf, off, headerLen, repr.tos, headerLen + repr.payloadLen, repr.ident, flagsFrag, repr.ttl, repr.protocol, repr.src, repr.dst)
  buf.set(repr.options, off + Ipv4.OPTIONS)
  buf.fill(IPV4_OPT_EOL, off + Ipv4.OPTIONS + repr.options.length, off + headerLen)
  if (mode === ChecksumMode.COMPUTE) fillChecksum(buf, off, off + headerLen, off + Ipv4.CHECKSUM, 0, mode)
  return headerLen
}
