// ICMPv4 (RFC 792): echo, destination unreachable (with RFC 1191's next-hop MTU for "fragmentation
// needed"), time exceeded. The checksum covers the whole message and has no pseudo-header.

import {EMPTY, copyBytes, setU16, u16} from './bytes.js'
import {ChecksumMode, checksumValid, fillChecksum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 792 layout: type, code, checksum, then a 4-byte word whose meaning depends on the type. */
export const enum Icmpv4 {
  TYPE = 0,
  CODE = 1,
  CHECKSUM = 2,
  /** Echo (RFC 792): identifier and sequence number. */
  IDENT = 4,
  SEQ = 6,
  /** RFC 1191 §4: next-hop MTU in the low 16 bits of the unused word of "fragmentation needed". */
  NEXT_HOP_MTU = 6,
  DATA = 8,
  HEADER_LEN = 8,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ICMPV4_TYPE = Icmpv4.TYPE
export const ICMPV4_CODE = Icmpv4.CODE
export const ICMPV4_CHECKSUM = Icmpv4.CHECKSUM
export const ICMPV4_IDENT = Icmpv4.IDENT
export const ICMPV4_SEQ = Icmpv4.SEQ
export const ICMPV4_NEXT_HOP_MTU = Icmpv4.NEXT_HOP_MTU
export const ICMPV4_DATA = Icmpv4.DATA
export const ICMPV4_HEADER_LEN = Icmpv4.HEADER_LEN

export const ICMPV4_ECHO_REPLY = 0
export const ICMPV4_DEST_UNREACHABLE = 3
export const ICMPV4_ECHO_REQUEST = 8
export const ICMPV4_TIME_EXCEEDED = 11
// Destination unreachable codes (RFC 792, RFC 1191).
export const ICMPV4_UNREACH_NET = 0
export const ICMPV4_UNREACH_HOST = 1
export const ICMPV4_UNREACH_PROTOCOL = 2
export const ICMPV4_UNREACH_PORT = 3
export const ICMPV4_UNREACH_FRAG_NEEDED = 4
// Time exceeded codes.
export const ICMPV4_EXCEEDED_TTL = 0
export const ICMPV4_EXCEEDED_REASSEMBLY = 1

/** `data` is what follows the 8-byte header: echo payload, or the invoking packet's header + 8 bytes. */
export type Icmpv4Repr =
  | {type: typeof ICMPV4_ECHO_REQUEST | typeof ICMPV4_ECHO_REPLY; code: number; ident: number; seq: number; data: Uint8Array}
  | {type: typeof ICMPV4_DEST_UNREACHABLE; code: number; nextHopMtu: number; data: Uint8Array}
  | {type: typeof ICMPV4_TIME_EXCEEDED; code: number; data: Uint8Array}

export class Icmpv4View {
  buf: Buffer = EMPTY
  off = 0
  end = 0

  /** Binds to the message `buf[off, end)` (the IPv4 payload); TRUNCATED below 8 bytes. */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Icmpv4.HEADER_LEN) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    this.end = end
    return 0
  }

  get type(): number {
    return this.buf[this.off + Icmpv4.TYPE]
  }
  set type(v: number) {
    this.buf[this.off + Icmpv4.TYPE] = v
  }
  get code(): number {
    return this.buf[this.off + Icmpv4.CODE]
  }
  set code(v: number) {
    this.buf[this.off + Icmpv4.CODE] = v
  }
  get checksum(): number {
    return u16(this.buf, this.off + Icmpv4.CHECKSUM)
  }
  get ident(): number {
    return u16(this.buf, this.off + Icmpv4.IDENT)
  }
  set ident(v: number) {
    setU16(this.buf, this.off + Icmpv4.IDENT, v)
  }
  get seq(): number {
    return u16(this.buf, this.off + Icmpv4.SEQ)
  }
  set seq(v: number) {
    setU16(this.buf, this.off + Icmpv4.SEQ, v)
  }
  get nextHopMtu(): number {
    return u16(this.buf, this.off + Icmpv4.NEXT_HOP_MTU)
  }
  get dataOffset(): number {
    return this.off + Icmpv4.DATA
  }

  checksumValid(): boolean {
    return checksumValid(this.buf, this.off, this.end)
  }
  fillChecksum(mode: ChecksumMode = ChecksumMode.COMPUTE): void {
    fillChecksum(this.buf, this.off, this.end, this.off + Icmpv4.CHECKSUM, 0, mode === ChecksumMode.COMPUTE ? mode : ChecksumMode.ZERO)
  }
}

/**
 * Parses echo request/reply, destination unreachable and time exceeded; other types are UNSUPPORTED.
 * The checksum is verified unless `verifyChecksum` is false.
 */
export function parseIcmpv4(buf: Buffer, off: number, end: number, verifyChecksum = true): Icmpv4Repr {
  const v = new Icmpv4View()
  if (v.wrap(buf, off, end) !== 0) {
    throw new WireError(WireErrorCode.TRUNCATED, 'ICMPv4 header needs ' + Icmpv4.HEADER_LEN + ' bytes, ' + Math.max(0, end - off) + ' available')
  }
  if (verifyChecksum && !v.checksumValid()) {
    throw new WireError(WireErrorCode.BAD_CHECKSUM, 'ICMPv4 checksum 0x' + v.checksum.toString(16) + ' is wrong')
  }
  const data = copyBytes(buf, off + Icmpv4.DATA, end)
  const type = v.type
  switch (type) {
    case ICMPV4_ECHO_REQUEST:
    case ICMPV4_ECHO_REPLY:
      return {type, code: v.code, ident: v.ident, seq: v.seq, data}
    case ICMPV4_DEST_UNREACHABLE:
      return {type, code: v.code, nextHopMtu: v.nextHopMtu, data}
    case ICMPV4_TIME_EXCEEDED:
      return {type, code: v.code, data}
    default:
      throw new WireError(WireErrorCode.UNSUPPORTED, 'ICMPv4 type ' + type + ' is not echo, unreachable or time exceeded')
  }
}

/** Writes the whole message (header and data) and returns its length. */
export function emitIcmpv4(repr: Icmpv4Repr, buf: Buffer, off: number, mode: ChecksumMode = ChecksumMode.COMPUTE): number {
  buf[off + Icmpv4.TYPE] = repr.type
  buf[off + Icmpv4.CODE] = repr.code
  buf.fill(0, off + Icmpv4.IDENT, off + Icmpv4.DATA)
  if (repr.type === ICMPV4_ECHO_REQUEST || repr.type === ICMPV4_ECHO_REPLY) {
    setU16(buf, off + Icmpv4.IDENT, repr.ident)
    setU16(buf, off + Icmpv4.SEQ, repr.seq)
  } else if (repr.type === ICMPV4_DEST_UNREACHABLE) {
    setU16(buf, off + Icmpv4.NEXT_HOP_MTU, repr.nextHopMtu)
  }
  buf.set(repr.data, off + Icmpv4.DATA)
  const end = off + Icmpv4.DATA + repr.data.length
  fillChecksum(buf, off, end, off + Icmpv4.CHECKSUM, 0, mode === ChecksumMode.COMPUTE ? mode : ChecksumMode.ZERO)
  return end - off
}
