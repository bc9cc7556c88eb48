// ICMPv6 (RFC 4443): echo, destination unreachable, packet too big, time exceeded; and Neighbor
// Discovery (RFC 4861): router/neighbor solicitation and advertisement with their link-layer address,
// MTU and prefix information options. The checksum includes the IPv6 pseudo-header (RFC 8200 §8.1).

import {ipv6ToString, macToString, writeIpv6, writeMac} from './address.js'
import {EMPTY, copyBytes, setU16, setU32, u16, u32} from './bytes.js'
import {ChecksumMode, checksumValid, fillChecksum} from './checksum.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 4443 §2.1: type, code, checksum, then a type-specific body. */
export const enum Icmpv6 {
  TYPE = 0,
  CODE = 1,
  CHECKSUM = 2,
  /** §4.1: echo identifier and sequence number. */
  IDENT = 4,
  SEQ = 6,
  /** §3.2: packet too big carries the next-hop MTU as 32 bits. */
  MTU = 4,
  DATA = 8,
  HEADER_LEN = 8,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ICMPV6_TYPE = Icmpv6.TYPE
export const ICMPV6_CODE = Icmpv6.CODE
export const ICMPV6_CHECKSUM = Icmpv6.CHECKSUM
export const ICMPV6_IDENT = Icmpv6.IDENT
export const ICMPV6_SEQ = Icmpv6.SEQ
export const ICMPV6_MTU = Icmpv6.MTU
export const ICMPV6_DATA = Icmpv6.DATA
export const ICMPV6_HEADER_LEN = Icmpv6.HEADER_LEN

/** RFC 4861 §4.1-4.4 message bodies and §4.6 options (offsets from the option's start). */
export const enum Nd {
  RA_CUR_HOP_LIMIT = 4,
  RA_FLAGS = 5,
  RA_ROUTER_LIFETIME = 6,
  RA_REACHABLE_TIME = 8,
  RA_RETRANS_TIMER = 12,
  RA_OPTIONS = 16,
  RS_OPTIONS = 8,
  /** NA flags byte (R, S, O in its top bits). */
  NA_FLAGS = 4,
  /** Target address of NS and NA. */
  TARGET = 8,
  NS_NA_OPTIONS = 24,
  /** Options: type, length in units of 8 octets, then the body. */
  OPT_TYPE = 0,
  OPT_LEN = 1,
  OPT_UNIT = 8,
  /** §4.6.1: the Ethernet address after type and length. */
  OPT_LLA = 2,
  /** §4.6.4: MTU after 2 reserved bytes. */
  OPT_MTU_RESERVED = 2,
  OPT_MTU_VALUE = 4,
  /** §4.6.2 prefix information. */
  OPT_PREFIX_LEN = 2,
  OPT_PREFIX_FLAGS = 3,
  OPT_PREFIX_VALID = 4,
  OPT_PREFIX_PREFERRED = 8,
  OPT_PREFIX_RESERVED = 12,
  OPT_PREFIX = 16,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ND_RA_CUR_HOP_LIMIT = Nd.RA_CUR_HOP_LIMIT
export const ND_RA_FLAGS = Nd.RA_FLAGS
export const ND_RA_ROUTER_LIFETIME = Nd.RA_ROUTER_LIFETIME
export const ND_RA_REACHABLE_TIME = Nd.RA_REACHABLE_TIME
export const ND_RA_RETRANS_TIMER = Nd.RA_RETRANS_TIMER
export const ND_RA_OPTIONS = Nd.RA_OPTIONS
export const ND_RS_OPTIONS = Nd.RS_OPTIONS
export const ND_NA_FLAGS = Nd.NA_FLAGS
export const ND_TARGET = Nd.TARGET
export const ND_NS_NA_OPTIONS = Nd.NS_NA_OPTIONS
export const ND_OPT_TYPE = Nd.OPT_TYPE
export const ND_OPT_LEN = Nd.OPT_LEN
export const ND_OPT_UNIT = Nd.OPT_UNIT
export const ND_OPT_LLA = Nd.OPT_LLA
export const ND_OPT_MTU_RESERVED = Nd.OPT_MTU_RESERVED
export const ND_OPT_MTU_VALUE = Nd.OPT_MTU_VALUE
export const ND_OPT_PREFIX_LEN = Nd.OPT_PREFIX_LEN
export const ND_OPT_PREFIX_FLAGS = Nd.OPT_PREFIX_FLAGS
export const ND_OPT_PREFIX_VALID = Nd.OPT_PREFIX_VALID
export const ND_OPT_PREFIX_PREFERRED = Nd.OPT_PREFIX_PREFERRED
export const ND_OPT_PREFIX_RESERVED = Nd.OPT_PREFIX_RESERVED
export const ND_OPT_PREFIX = Nd.OPT_PREFIX

export const ICMPV6_DEST_UNREACHABLE = 1
export const ICMPV6_PACKET_TOO_BIG = 2
export const ICMPV6_TIME_EXCEEDED = 3
export const ICMPV6_ECHO_REQUEST = 128
export const ICMPV6_ECHO_REPLY = 129
export const ICMPV6_ROUTER_SOLICIT = 133
export const ICMPV6_ROUTER_ADVERT = 134
export const ICMPV6_NEIGHBOR_SOLICIT = 135
export const ICMPV6_NEIGHBOR_ADVERT = 136

export const ND_OPT_SOURCE_LLA = 1
export const ND_OPT_TARGET_LLA = 2
export const ND_OPT_PREFIX_INFO = 3
export const ND_OPT_MTU = 5

export const ND_NA_FLAG_ROUTER = 0x80
export const ND_NA_FLAG_SOLICITED = 0x40
export const ND_NA_FLAG_OVERRIDE = 0x20
export const ND_RA_FLAG_MANAGED = 0x80
export const ND_RA_FLAG_OTHER = 0x40
export const ND_PREFIX_FLAG_ON_LINK = 0x80
export const ND_PREFIX_FLAG_AUTONOMOUS = 0x40

export interface NdPrefix {
  prefixLen: number
  /** L and A bits (ND_PREFIX_FLAG_*), as the byte on the wire. */
  flags: number
  validLifetime: number
  preferredLifetime: number
  prefix: string
}

/** `data` follows the 8-byte header: echo payload, or as much of the invoking packet as fits. */
export type Icmpv6Repr =
  | {type: typeof ICMPV6_ECHO_REQUEST | typeof ICMPV6_ECHO_REPLY; code: number; ident: number; seq: number; data: Uint8Array}
  | {type: typeof ICMPV6_DEST_UNREACHABLE | typeof ICMPV6_TIME_EXCEEDED; code: number; data: Uint8Array}
  | {type: typeof ICMPV6_PACKET_TOO_BIG; code: number; mtu: number; data: Uint8Array}
  | {type: typeof ICMPV6_ROUTER_SOLICIT; code: number; sourceLla?: string}
  | {
      type: typeof ICMPV6_ROUTER_ADVERT
      code: number
      curHopLimit: number
      /** M and O bits (ND_RA_FLAG_*) and the rest of the byte, as on the wire. */
      flags: number
      routerLifetime: number
      reachableTime: number
      retransTimer: number
      sourceLla?: string
      mtu?: number
      prefixes: NdPrefix[]
    }
  | {type: typeof ICMPV6_NEIGHBOR_SOLICIT; code: number; target: string; sourceLla?: string}
  | {type: typeof ICMPV6_NEIGHBOR_ADVERT; code: number; flags: number; target: string; targetLla?: string}

/** Where a message type's ND options start, or -1 for a type that is not ND. */
function ndOptionsStart(type: number): number {
  switch (type) {
    case ICMPV6_ROUTER_SOLICIT:
      return Nd.RS_OPTIONS
    case ICMPV6_ROUTER_ADVERT:
      return Nd.RA_OPTIONS
    case ICMPV6_NEIGHBOR_SOLICIT:
    case ICMPV6_NEIGHBOR_ADVERT:
      return Nd.NS_NA_OPTIONS
    default:
      return -1
  }
}

/** The length an option of `type` must have (in 8-octet units), or 0 when any non-zero length will do. */
function ndOptionUnits(type: number): number {
  switch (type) {
    case ND_OPT_SOURCE_LLA:
    case ND_OPT_TARGET_LLA:
    case ND_OPT_MTU:
      return 1
    case ND_OPT_PREFIX_INFO:
      return 4
    default:
      return 0
  }
}

export class Icmpv6View {
  buf: Buffer = EMPTY
  off = 0
  end = 0
  /** Offset of the first ND option, or -1 when the message is not ND. */
  optionsOffset = -1

  /**
   * Binds to the message `buf[off, end)` (the upper-layer data of an IPv6 packet). For ND messages it
   * also checks the fixed body (TRUNCATED) and every option's length (BAD_OPTION: zero, past the end, or
   * not the size RFC 4861 gives a link-layer address, MTU or prefix option), so ndOption never overruns.
   */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Icmpv6.HEADER_LEN) return WireErrorCode.TRUNCATED
    const start = ndOptionsStart(buf[off + Icmpv6.TYPE])
    if (start >= 0) {
      if (end - off < start) return WireErrorCode.TRUNCATED
      for (let at = off + start; at < end; ) {
        if (at + 2 > end) return WireErrorCode.BAD_OPTION
        const units = buf[at + Nd.OPT_LEN]
        const want = ndOptionUnits(buf[at + Nd.OPT_TYPE])
        // RFC 4861 §4.6: a zero length MUST cause the packet to be discarded.
        if (units === 0 || (want !== 0 && units !== want)) return WireErrorCode.BAD_OPTION
        at += units * Nd.OPT_UNIT
        if (at > end) return WireErrorCode.BAD_OPTION
      }
      this.optionsOffset = off + start
    } else {
      this.optionsOffset = -1
    }
    this.buf = buf
    this.off = off
    this.end = end
    return 0
  }

  get type(): number {
    return this.buf[this.off + Icmpv6.TYPE]
  }
  set type(v: number) {
    this.buf[this.off + Icmpv6.TYPE] = v
  }
  get code(): number {
    return this.buf[this.off + Icmpv6.CODE]
  }
  set code(v: number) {
    this.buf[this.off + Icmpv6.CODE] = v
  }
  get checksum(): number {
    return u16(this.buf, this.off + Icmpv6.CHECKSUM)
  }
  get ident(): number {
    return u16(this.buf, this.off + Icmpv6.IDENT)
  }
  set ident(v: number) {
    setU16(this.buf, this.off + Icmpv6.IDENT, v)
  }
  get seq(): number {
    return u16(this.buf, this.off + Icmpv6.SEQ)
  }
  set seq(v: number) {
    setU16(this.buf, this.off + Icmpv6.SEQ, v)
  }
  /** Packet too big: the MTU. */
  get mtu(): number {
    return u32(this.buf, this.off + Icmpv6.MTU)
  }
  get dataOffset(): number {
    return this.off + Icmpv6.DATA
  }
  /** NS/NA: offset of the 16-byte target address (compare with ipv6Equal). */
  get ndTargetOffset(): number {
    return this.off + Nd.TARGET
  }
  get naFlags(): number {
    return this.buf[this.off + Nd.NA_FLAGS]
  }
  set naFlags(v: number) {
    this.buf[this.off + Nd.NA_FLAGS] = v
  }

  /** Offset of the first ND option of `type` (its type byte), or -1. */
  ndOption(type: number): number {
    if (this.optionsOffset < 0) return -1
    const b = this.buf
    for (let at = this.optionsOffset; at < this.end; at += b[at + Nd.OPT_LEN] * Nd.OPT_UNIT) {
      if (b[at + Nd.OPT_TYPE] === type) return at
    }
    return -1
  }

  /** Offset of the Ethernet address in the source (1) or target (2) link-layer option, or -1. */
  ndLinkLayerOffset(type: typeof ND_OPT_SOURCE_LLA | typeof ND_OPT_TARGET_LLA): number {
    const at = this.ndOption(type)
    return at < 0 ? -1 : at + Nd.OPT_LLA
  }

  /** `pseudo`: pseudo-header sum without length (Ipv6View.pseudoSum or ipv6PseudoSum). */
  checksumValid(pseudo: number): boolean {
    return checksumValid(this.buf, this.off, this.end, pseudo + (this.end - this.off))
  }
  fillChecksum(pseudo: number, mode: ChecksumMode = ChecksumMode.COMPUTE): void {
    fillChecksum(this.buf, this.off, this.end, this.off + Icmpv6.CHECKSUM, pseudo + (this.end - this.off), mode)
  }
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  if (avail < Icmpv6.HEADER_LEN) return 'ICMPv6 header needs ' + Icmpv6.HEADER_LEN + ' bytes, ' + avail + ' available'
  const type = buf[off + Icmpv6.TYPE]
  if (code === WireErrorCode.TRUNCATED) {
    return 'ICMPv6 type ' + type + ' needs ' + ndOptionsStart(type) + ' bytes, ' + avail + ' available'
  }
  return 'ICMPv6 type ' + type + ' has an ND option whose length is zero, wrong for its type, or past the end'
}

/**
 * Parses the message types above (others are UNSUPPORTED). With `pseudo` (the pseudo-header sum without
 * length) the checksum is verified; without, it is not. Unknown ND options are skipped (RFC 4861 §4.6).
 */
export function parseIcmpv6(buf: Buffer, off: number, end: number, pseudo?: number): Icmpv6Repr {
  const v = new Icmpv6View()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  if (pseudo !== undefined && !v.checksumValid(pseudo)) {
    throw new WireError(WireErrorCode.BAD_CHECKSUM, 'ICMPv6 checksum 0x' + v.checksum.toString(16) + ' is wrong')
  }
  const type = v.type
  const lla = (optType: typeof ND_OPT_SOURCE_LLA | typeof ND_OPT_TARGET_LLA): string | undefined => {
    const at = v.ndLinkLayerOffset(optType)
    return at < 0 ? undefined : macToString(buf, at)
  }
  switch (type) {
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      return {type, code: v.code, ident: v.ident, seq: v.seq, data: copyBytes(buf, off + Icmpv6.DATA, end)}
    case ICMPV6_DEST_UNREACHABLE:
    case ICMPV6_TIME_EXCEEDED:
      return {type, code: v.code, data: copyBytes(buf, off + Icmpv6.DATA, end)}
    case ICMPV6_PACKET_TOO_BIG:
      return {type, code: v.code, mtu: v.mtu, data: copyBytes(buf, off + Icmpv6.DATA, end)}
    case ICMPV6_ROUTER_SOLICIT:
      return withOptional({type, code: v.code}, 'sourceLla', lla(ND_OPT_SOURCE_LLA))
    case ICMPV6_NEIGHBOR_SOLICIT:
      return withOptional({type, code: v.code, target: ipv6ToString(buf, off + Nd.TARGET)}, 'sourceLla', lla(ND_OPT_SOURCE_LLA))
    case ICMPV6_NEIGHBOR_ADVERT:
      return withOptional(
        {type, code: v.code, flags: v.naFlags, target: ipv6ToString(buf, off + Nd.TARGET)},
        'targetLla',
        lla(ND_OPT_TARGET_LLA),
      )
    case ICMPV6_ROUTER_ADVERT: {
      const prefixes: NdPrefix[] = []
      let mtu: number | undefined
      for (let at = v.optionsOffset; at < end; at += buf[at + Nd.OPT_LEN] * Nd.OPT_UNIT) {
        if (buf[at] === ND_OPT_MTU && mtu === undefined) mtu = u32(buf, at + Nd.OPT_MTU_VALUE)
        if (buf[at] === ND_OPT_PREFIX_INFO) {
          prefixes.push({
            prefixLen: buf[at + Nd.OPT_PREFIX_LEN],
            flags: buf[at + Nd.OPT_PREFIX_FLAGS],
            validLifetime: u32(buf, at + Nd.OPT_PREFIX_VALID),
            preferredLifetime: u32(buf, at + Nd.OPT_PREFIX_PREFERRED),
            prefix: ipv6ToString(buf, at + Nd.OPT_PREFIX),
          })
        }
      }
      const ra: Icmpv6Repr = {
        type,
        code: v.code,
        curHopLimit: buf[off + Nd.RA_CUR_HOP_LIMIT],
        flags: buf[off + Nd.RA_FLAGS],
        routerLifetime: u16(buf, off + Nd.RA_ROUTER_LIFETIME),
        reachableTime: u32(buf, off + Nd.RA_REACHABLE_TIME),
        retransTimer: u32(buf, off + Nd.RA_RETRANS_TIMER),
        prefixes,
      }
      withOptional(ra, 'sourceLla', lla(ND_OPT_SOURCE_LLA))
      return withOptional(ra, 'mtu', mtu)
    }
    default:
      throw new WireError(WireErrorCode.UNSUPPORTED, 'ICMPv6 type ' + type + ' is not modelled (echo, errors 1-3, ND 133-136)')
  }
}

/** Sets `key` only when there is a value, so reprs compare equal to ones written without the key. */
function withOptional<T extends object, K extends string, V>(obj: T, key: K, value: V | undefined): T {
  if (value !== undefined) (obj as Record<string, unknown>)[key] = value
  return obj
}

function emitLlaOption(type: number, mac: string | undefined, buf: Buffer, at: number): number {
  if (mac === undefined) return at
  buf[at + Nd.OPT_TYPE] = type
  buf[at + Nd.OPT_LEN] = 1
  writeMac(mac, buf, at + Nd.OPT_LLA)
  return at + Nd.OPT_UNIT
}

/**
 * Writes the whole message at `off` and returns its length. `pseudo` is the pseudo-header sum without
 * length (ipv6PseudoSum over the IPv6 header already in the buffer). ND options are written in the order
 * source/target link-layer address, MTU, prefixes.
 */
export function emitIcmpv6(
  repr: Icmpv6Repr,
  buf: Buffer,
  off: number,
  pseudo: number,
  mode: ChecksumMode = ChecksumMode.COMPUTE,
): number {
  buf[off + Icmpv6.TYPE] = repr.type
  buf[off + Icmpv6.CODE] = repr.code
  buf.fill(0, off + Icmpv6.CHECKSUM, off + Icmpv6.HEADER_LEN)
  let end: number
  switch (repr.type) {
    case ICMPV6_ECHO_REQUEST:
    case ICMPV6_ECHO_REPLY:
      setU16(buf, off + Icmpv6.IDENT, repr.ident)
      setU16(buf, off + Icmpv6.SEQ, repr.seq)
      buf.set(repr.data, off + Icmpv6.DATA)
      end = off + Icmpv6.DATA + repr.data.length
      break
    case ICMPV6_PACKET_TOO_BIG:
      setU32(buf, off + Icmpv6.MTU, repr.mtu)
      buf.set(repr.data, off + Icmpv6.DATA)
      end = off + Icmpv6.DATA + repr.data.length
      break
    case ICMPV6_DEST_UNREACHABLE:
    case ICMPV6_TIME_EXCEEDED:
      buf.set(repr.data, off + Icmpv6.DATA)
      end = off + Icmpv6.DATA + repr.data.length
      break
    case ICMPV6_ROUTER_SOLICIT:
      end = emitLlaOption(ND_OPT_SOURCE_LLA, repr.sourceLla, buf, off + Nd.RS_OPTIONS)
      break
    case ICMPV6_NEIGHBOR_SOLICIT:
      writeIpv6(repr.target, buf, off + Nd.TARGET)
      end = emitLlaOption(ND_OPT_SOURCE_LLA, repr.sourceLla, buf, off + Nd.NS_NA_OPTIONS)
      break
    case ICMPV6_NEIGHBOR_ADVERT:
      buf[off + Nd.NA_FLAGS] = repr.flags
      writeIpv6(repr.target, buf, off + Nd.TARGET)
      end = emitLlaOption(ND_OPT_TARGET_LLA, repr.targetLla, buf, off + Nd.NS_NA_OPTIONS)
      break
    case ICMPV6_ROUTER_ADVERT: {
      buf[off + Nd.RA_CUR_HOP_LIMIT] = repr.curHopLimit
      buf[off + Nd.RA_FLAGS] = repr.flags
      setU16(buf, off + Nd.RA_ROUTER_LIFETIME, repr.routerLifetime)
      setU32(buf, off + Nd.RA_REACHABLE_TIME, repr.reachableTime)
      setU32(buf, off + Nd.RA_RETRANS_TIMER, repr.retransTimer)
      let at = emitLlaOption(ND_OPT_SOURCE_LLA, repr.sourceLla, buf, off + Nd.RA_OPTIONS)
      if (repr.mtu !== undefined) {
        buf[at + Nd.OPT_TYPE] = ND_OPT_MTU
        buf[at + Nd.OPT_LEN] = 1
        setU16(buf, at + Nd.OPT_MTU_RESERVED, 0)
        setU32(buf, at + Nd.OPT_MTU_VALUE, repr.mtu)
        at += Nd.OPT_UNIT
      }
      for (const p of repr.prefixes) {
        buf[at + Nd.OPT_TYPE] = ND_OPT_PREFIX_INFO
        buf[at + Nd.OPT_LEN] = 4
        buf[at + Nd.OPT_PREFIX_LEN] = p.prefixLen
        buf[at + Nd.OPT_PREFIX_FLAGS] = p.flags
        setU32(buf, at + Nd.OPT_PREFIX_VALID, p.validLifetime)
        setU32(buf, at + Nd.OPT_PREFIX_PREFERRED, p.preferredLifetime)
        setU32(buf, at + Nd.OPT_PREFIX_RESERVED, 0)
        writeIpv6(p.prefix, buf, at + Nd.OPT_PREFIX)
        at += 4 * Nd.OPT_UNIT
      }
      end = at
      break
    }
  }
  fillChecksum(buf, off, end, off + Icmpv6.CHECKSUM, pseudo + (end - off), mode)
  return end - off
}
