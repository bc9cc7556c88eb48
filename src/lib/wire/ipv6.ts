// IPv6 (RFC 8200): the fixed header, and a walk over extension headers to the upper layer.

import {ipv6ToString, writeIpv6} from './address.js'
import {EMPTY, setU16, setU32, u16, u32} from './bytes.js'
import {ipv6PseudoSum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'
import {IpProto} from './ip.js'

/** RFC 8200 §3 header layout: byte offsets from the start of the header. */
export const enum Ipv6 {
  VER_TC_FL = 0,
  PAYLOAD_LEN = 4,
  NEXT_HEADER = 6,
  HOP_LIMIT = 7,
  SRC = 8,
  DST = 24,
  HEADER_LEN = 40,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const IPV6_VER_TC_FL = Ipv6.VER_TC_FL
export const IPV6_PAYLOAD_LEN = Ipv6.PAYLOAD_LEN
export const IPV6_NEXT_HEADER = Ipv6.NEXT_HEADER
export const IPV6_HOP_LIMIT = Ipv6.HOP_LIMIT
export const IPV6_SRC = Ipv6.SRC
export const IPV6_DST = Ipv6.DST
export const IPV6_HEADER_LEN = Ipv6.HEADER_LEN
/** RFC 8200 §5: every link carries at least 1280-byte packets. */
export const IPV6_MIN_MTU = 1280

/** RFC 8200 §4 extension headers: offsets from the start of one, and the values the walk needs. */
export const enum Ipv6Ext {
  /** §4.2-4.5: next header at 0, length at 1 (8-octet units beyond the first 8). */
  NEXT = 0,
  LEN = 1,
  /** §4.4 routing header: type at 2, segments left at 3. */
  ROUTING_TYPE = 2,
  SEGMENTS_LEFT = 3,
  /** RFC 8754 §2: the segment routing header (type 4) keeps Segment List[0], the final destination, at 8. */
  ROUTING_TYPE_SRH = 4,
  SRH_SEGMENT0 = 8,
  /** §4.5 fragment header: offset (13 bits, 8-octet units) and M flag at 2, identification at 4. */
  FRAG_OFFSET_FLAGS = 2,
  FRAG_IDENT = 4,
  FRAG_HEADER_LEN = 8,
  FRAG_M = 1,
  FRAG_OFFSET_MASK = 0xfff8,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const IPV6_EXT_NEXT = Ipv6Ext.NEXT
export const IPV6_EXT_LEN = Ipv6Ext.LEN
export const IPV6_ROUTING_TYPE = Ipv6Ext.ROUTING_TYPE
export const IPV6_ROUTING_SEGMENTS_LEFT = Ipv6Ext.SEGMENTS_LEFT
export const IPV6_ROUTING_TYPE_SRH = Ipv6Ext.ROUTING_TYPE_SRH
export const IPV6_SRH_SEGMENT0 = Ipv6Ext.SRH_SEGMENT0
export const IPV6_FRAG_OFFSET_FLAGS = Ipv6Ext.FRAG_OFFSET_FLAGS
export const IPV6_FRAG_IDENT = Ipv6Ext.FRAG_IDENT
export const IPV6_FRAG_HEADER_LEN = Ipv6Ext.FRAG_HEADER_LEN
export const IPV6_FRAG_M = Ipv6Ext.FRAG_M
export const IPV6_FRAG_OFFSET_MASK = Ipv6Ext.FRAG_OFFSET_MASK

export interface Ipv6Repr {
  src: string
  dst: string
  /** The header's own next header (the first extension header, if any). */
  nextHeader: number
  hopLimit: number
  trafficClass: number
  flowLabel: number
  payloadLen: number
}

/** RFC 8200 §4 plus RFC 7045: headers walked through with the generic (next, 8-octet length) layout. */
function isGenericExtension(nh: number): boolean {
  return nh === IpProto.HOPOPT || nh === IpProto.IPV6_ROUTE || nh === IpProto.IPV6_OPTS || nh === IpProto.MOBILITY || nh === IpProto.HIP || nh === IpProto.SHIM6
}

export class Ipv6View {
  buf: Buffer = EMPTY
  off = 0
  /** off + 40 + payload length. */
  end = 0
  /** Upper-layer protocol after the extension headers (an ESP header, 50, ends the walk; so does 59). */
  protocol = 0
  /** Offset of the upper-layer header (or of fragment data when fragOffset > 0). */
  payloadOffset = 0
  /** Fragment header found: offset in bytes, M flag and identification; isFragment false otherwise. */
  isFragment = false
  fragOffset = 0
  moreFrags = false
  fragIdent = 0
  /** Offset of the destination the upper-layer checksum uses (RFC 8200 §8.1): see pseudoSum. */
  finalDstOffset = 0

  /**
   * Binds to the packet at `off` and walks the extension headers, so that `protocol` and
   * `payloadOffset` name the upper layer. TRUNCATED when the header or payload length overruns `end`,
   * BAD_EXTENSION_HEADER when a header runs past the payload or Hop-by-Hop is not first.
   */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Ipv6.HEADER_LEN) return WireErrorCode.TRUNCATED
    if (buf[off] >>> 4 !== 6) return WireErrorCode.BAD_VERSION
    const pktEnd = off + Ipv6.HEADER_LEN + u16(buf, off + Ipv6.PAYLOAD_LEN)
    if (pktEnd > end) return WireErrorCode.TRUNCATED
    let nh = buf[off + Ipv6.NEXT_HEADER]
    let at = off + Ipv6.HEADER_LEN
    let isFragment = false
    let fragWord = 0
    let fragIdent = 0
    let finalDst = off + Ipv6.DST
    for (;;) {
      let len: number
      if (isGenericExtension(nh)) {
        if (at + 2 > pktEnd) return WireErrorCode.BAD_EXTENSION_HEADER
        len = (buf[at + Ipv6Ext.LEN] + 1) << 3
      } else if (nh === IpProto.IPV6_FRAG) {
        len = Ipv6Ext.FRAG_HEADER_LEN
        if (at + len > pktEnd) return WireErrorCode.BAD_EXTENSION_HEADER
        isFragment = true
        fragWord = u16(buf, at + Ipv6Ext.FRAG_OFFSET_FLAGS)
        fragIdent = u32(buf, at + Ipv6Ext.FRAG_IDENT)
      } else if (nh === IpProto.AH) {
        // RFC 4302 §2.2: payload length in 4-octet units, minus 2.
        if (at + 2 > pktEnd) return WireErrorCode.BAD_EXTENSION_HEADER
        len = (buf[at + Ipv6Ext.LEN] + 2) << 2
      } else {
        break
      }
      if (at + len > pktEnd) return WireErrorCode.BAD_EXTENSION_HEADER
      if (nh === IpProto.IPV6_ROUTE && buf[at + Ipv6Ext.SEGMENTS_LEFT] > 0 && len >= 24) {
        // Addresses still to visit: the last one (types 0 and 2) or Segment List[0] (SRH) is the final.
        finalDst = buf[at + Ipv6Ext.ROUTING_TYPE] === Ipv6Ext.ROUTING_TYPE_SRH ? at + Ipv6Ext.SRH_SEGMENT0 : at + len - 16
      }
      nh = buf[at + Ipv6Ext.NEXT]
      at += len
      // RFC 8200 §4.3: Hop-by-Hop only immediately after the IPv6 header.
      if (nh === IpProto.HOPOPT) return WireErrorCode.BAD_EXTENSION_HEADER
      // Past a non-first fragment's header comes fragment data, not more headers.
      if (isFragment && (fragWord & Ipv6Ext.FRAG_OFFSET_MASK) !== 0) break
    }
    this.buf = buf
    this.off = off
    this.end = pktEnd
    this.protocol = nh
    this.payloadOffset = at
    this.isFragment = isFragment
    this.fragOffset = fragWord & Ipv6Ext.FRAG_OFFSET_MASK
    this.moreFrags = (fragWord & Ipv6Ext.FRAG_M) !== 0
    this.fragIdent = fragIdent
    this.finalDstOffset = finalDst
    return 0
  }

  get version(): number {
    return this.buf[this.off] >>> 4
  }
  get trafficClass(): number {
    return (u16(this.buf, this.off + Ipv6.VER_TC_FL) >>> 4) & 0xff
  }
  get flowLabel(): number {
    return u32(this.buf, this.off + Ipv6.VER_TC_FL) & 0xfffff
  }
  get payloadLen(): number {
    return this.end - this.off - Ipv6.HEADER_LEN
  }
  /** The fixed header's next header field (see `protocol` for the upper layer). */
  get nextHeader(): number {
    return this.buf[this.off + Ipv6.NEXT_HEADER]
  }
  get hopLimit(): number {
    return this.buf[this.off + Ipv6.HOP_LIMIT]
  }
  set hopLimit(v: number) {
    this.buf[this.off + Ipv6.HOP_LIMIT] = v
  }
  /** Offsets of the 16-byte addresses, for ipv6Equal / copyIpv6 / flowHashIpv6 (no allocation). */
  get srcOffset(): number {
    return this.off + Ipv6.SRC
  }
  get dstOffset(): number {
    return this.off + Ipv6.DST
  }
  /** Length of the upper-layer data: from payloadOffset to the end of the packet. */
  get upperLen(): number {
    return this.end - this.payloadOffset
  }

  /** Decrements the hop limit (no header checksum in IPv6); 0 stays 0. Returns the new value. */
  decrementHopLimit(): number {
    const o = this.off + Ipv6.HOP_LIMIT
    if (this.buf[o] > 0) this.buf[o]--
    return this.buf[o]
  }

  /**
   * Pseudo-header sum (without length) for the upper-layer checksum, with the final destination when a
   * Routing header still has segments left (RFC 8200 §8.1).
   */
  pseudoSum(): number {
    return ipv6PseudoSum(this.buf, this.off + Ipv6.SRC, this.finalDstOffset, this.protocol)
  }
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  if (avail < Ipv6.HEADER_LEN) return 'IPv6 header needs ' + Ipv6.HEADER_LEN + ' bytes, ' + avail + ' available'
  if (code === WireErrorCode.BAD_VERSION) return 'IPv6 version is ' + (buf[off] >>> 4) + ', expected 6'
  const payloadLen = u16(buf, off + Ipv6.PAYLOAD_LEN)
  if (code === WireErrorCode.TRUNCATED) {
    return 'IPv6 payload length ' + payloadLen + ' exceeds the ' + (avail - Ipv6.HEADER_LEN) + ' bytes after the header'
  }
  return 'IPv6 extension headers are malformed: one runs past the ' + payloadLen + '-byte payload or Hop-by-Hop is not first'
}

/** Parses the fixed header and validates the extension header chain. */
export function parseIpv6(buf: Buffer, off: number, end: number): Ipv6Repr {
  const v = new Ipv6View()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  return {
    src: ipv6ToString(buf, off + Ipv6.SRC),
    dst: ipv6ToString(buf, off + Ipv6.DST),
    nextHeader: v.nextHeader,
    hopLimit: v.hopLimit,
    trafficClass: v.trafficClass,
    flowLabel: v.flowLabel,
    payloadLen: v.payloadLen,
  }
}

/**
 * Writes the first 8 bytes of the header (version, traffic class, flow label, payload length, next
 * header, hop limit) from numbers, without allocating: the part emitIpv6 and NvgreEncap.push share.
 */
export function writeIpv6Fixed(buf: Buffer, off: number, trafficClass: number, flowLabel: number, payloadLen: number, nextHeader: number, hopLimit: number): void {
  setU32(buf, off + Ipv6.VER_TC_FL, ((6 << 28) | ((trafficClass & 0xff) << 20) | (flowLabel & 0xfffff)) >>> 0)
  setU16(buf, off + Ipv6.PAYLOAD_LEN, payloadLen)
  buf[off + Ipv6.NEXT_HEADER] = nextHeader
  buf[off + Ipv6.HOP_LIMIT] = hopLimit
}

/** Writes the 40-byte fixed header; extension headers, if any, are the caller's payload. */
export function emitIpv6(repr: Ipv6Repr, buf: Buffer, off: number): number {
  writeIpv6Fixed(buf, off, repr.trafficClass, repr.flowLabel, repr.payloadLen, repr.nextHeader, repr.hopLimit)
  writeIpv6(repr.src, buf, off + Ipv6.SRC)
  writeIpv6(repr.dst, buf, off + Ipv6.DST)
  return Ipv6.HEADER_LEN
}
