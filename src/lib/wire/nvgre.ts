// NVGRE (RFC 7637): GRE (RFC 2784, key from RFC 2890) carrying an Ethernet frame, the 32-bit key split
// into a 24-bit Virtual Subnet ID and an 8-bit FlowID. Nothing else GRE can express is accepted.

import {copyIpv6, ipv4FromString, IPV6_ADDR_LEN, macWords, writeIpv6} from './address.js'
import {EMPTY, setU16, setU32, u16, u32} from './bytes.js'
import {fold, sum16} from './checksum.js'
import {Eth, EtherType, vlanTci, type VlanTag, writeEthernetHeader, writeVlanTag} from './ethernet.js'
import {WireError, WireErrorCode} from './errors.js'
import {IpProto} from './ip.js'
import {Ipv4, Ipv4Flag, writeIpv4Header} from './ipv4.js'
import {Ipv6, writeIpv6Fixed} from './ipv6.js'

/** RFC 2784 §2.1 + RFC 2890 §2.1: flags and version, protocol type, key (checksum and sequence absent). */
export const enum Gre {
  FLAGS_VERSION = 0,
  PROTOCOL = 2,
  KEY = 4,
  HEADER_LEN = 8,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const GRE_FLAGS_VERSION = Gre.FLAGS_VERSION
export const GRE_PROTOCOL = Gre.PROTOCOL
export const GRE_KEY = Gre.KEY
export const NVGRE_HEADER_LEN = Gre.HEADER_LEN
/** RFC 7637 §3.2: the protocol type of NVGRE, transparent Ethernet bridging. */
export const GRE_PROTO_TEB = EtherType.TEB

/** Bits of the flags/version word. The protocol type of NVGRE is EtherType.TEB (RFC 7637 §3.2). */
export const enum GreFlag {
  /** C (RFC 2784): MUST be 0 in NVGRE (RFC 7637 §3.2). */
  CHECKSUM = 0x8000,
  /** R (RFC 1701), bit 1 of RFC 2784's Reserved0: must be 0. */
  ROUTING = 0x4000,
  /** K (RFC 2890): MUST be 1 in NVGRE. */
  KEY = 0x2000,
  /** S (RFC 2890): MUST be 0 in NVGRE. */
  SEQUENCE = 0x1000,
  /** Bits 4-5 (RFC 1701 strict source route, top recursion bit): RFC 2784 §2.3 says discard if set.
   * Bits 6-12 are ignored on receipt (same section), so they are not checked. */
  RESERVED_DISCARD = 0x0c00,
  VERSION_MASK = 0x0007,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const GRE_FLAG_CHECKSUM = GreFlag.CHECKSUM
export const GRE_FLAG_ROUTING = GreFlag.ROUTING
export const GRE_FLAG_KEY = GreFlag.KEY
export const GRE_FLAG_SEQUENCE = GreFlag.SEQUENCE
export const GRE_RESERVED_DISCARD = GreFlag.RESERVED_DISCARD
export const GRE_VERSION_MASK = GreFlag.VERSION_MASK

/** RFC 7637 §3.2: Key = VSID (24 bits) << 8 | FlowID (8 bits). */
export const enum Nvgre {
  VSID_SHIFT = 8,
  VSID_MASK = 0xffffff,
  FLOW_ID_MASK = 0xff,
  /** RFC 7637 §3.2 reserves VSIDs 0-0xFFF and 0xFFFFFF; HNV allows 4096..16777214 (hnv.md §1). */
  VSID_MIN = 0x1000,
  VSID_MAX = 0xfffffe,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const NVGRE_VSID_SHIFT = Nvgre.VSID_SHIFT
export const NVGRE_VSID_MASK = Nvgre.VSID_MASK
export const NVGRE_FLOW_ID_MASK = Nvgre.FLOW_ID_MASK
export const NVGRE_VSID_MIN = Nvgre.VSID_MIN
export const NVGRE_VSID_MAX = Nvgre.VSID_MAX

export interface NvgreRepr {
  vsid: number
  /** 0..255. RFC 7637 says 0 when unused; hnv always fills it from flowHash, so 0 is an ordinary value. */
  flowId: number
}

export class NvgreView {
  buf: Buffer = EMPTY
  off = 0

  /**
   * Binds to a GRE header and checks it is NVGRE, reporting the first rule broken: C, R, K, S, the
   * RFC 2784 discard bits, version, protocol type, then the length for the key.
   */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Gre.KEY) return WireErrorCode.TRUNCATED
    const fv = u16(buf, off + Gre.FLAGS_VERSION)
    if ((fv & GreFlag.CHECKSUM) !== 0) return WireErrorCode.NVGRE_CHECKSUM_BIT
    if ((fv & GreFlag.ROUTING) !== 0) return WireErrorCode.NVGRE_ROUTING_BIT
    if ((fv & GreFlag.KEY) === 0) return WireErrorCode.NVGRE_NO_KEY
    if ((fv & GreFlag.SEQUENCE) !== 0) return WireErrorCode.NVGRE_SEQUENCE_BIT
    if ((fv & GreFlag.RESERVED_DISCARD) !== 0) return WireErrorCode.NVGRE_RESERVED_BITS
    if ((fv & GreFlag.VERSION_MASK) !== 0) return WireErrorCode.NVGRE_VERSION
    if (u16(buf, off + Gre.PROTOCOL) !== EtherType.TEB) return WireErrorCode.NVGRE_PROTOCOL
    if (end - off < Gre.HEADER_LEN) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    return 0
  }

  get key(): number {
    return u32(this.buf, this.off + Gre.KEY)
  }
  /** Read as 24 bits, not from `key`: a key above 2^31 would be boxed if this were not inlined. */
  get vsid(): number {
    const o = this.off + Gre.KEY
    return (this.buf[o] << 16) | (this.buf[o + 1] << 8) | this.buf[o + 2]
  }
  set vsid(v: number) {
    const o = this.off + Gre.KEY
    this.buf[o] = v >>> 16
    this.buf[o + 1] = v >>> 8
    this.buf[o + 2] = v
  }
  get flowId(): number {
    return this.buf[this.off + Gre.KEY + 3]
  }
  set flowId(v: number) {
    this.buf[this.off + Gre.KEY + 3] = v
  }
  /** Offset of the inner Ethernet frame. */
  get payloadOffset(): number {
    return this.off + Gre.HEADER_LEN
  }
}

const WRAP_MESSAGES: Record<number, string> = {
  [WireErrorCode.NVGRE_CHECKSUM_BIT]: 'GRE checksum bit (C) is set; NVGRE requires C=0 (RFC 7637 §3.2)',
  [WireErrorCode.NVGRE_ROUTING_BIT]: 'GRE routing bit (R) is set; NVGRE requires R=0 (RFC 2784 §2.3)',
  [WireErrorCode.NVGRE_NO_KEY]: 'GRE key bit (K) is clear; NVGRE requires K=1 (RFC 7637 §3.2)',
  [WireErrorCode.NVGRE_SEQUENCE_BIT]: 'GRE sequence bit (S) is set; NVGRE requires S=0 (RFC 7637 §3.2)',
  [WireErrorCode.NVGRE_RESERVED_BITS]: 'GRE reserved bits 4-5 are set; RFC 2784 §2.3 says discard',
}

/** Parses and validates an NVGRE header (see NvgreView.wrap for the order of checks). */
export function parseNvgre(buf: Buffer, off: number, end: number): NvgreRepr {
  const v = new NvgreView()
  const code = v.wrap(buf, off, end)
  if (code !== 0) {
    const avail = Math.max(0, end - off)
    let message = WRAP_MESSAGES[code]
    if (code === WireErrorCode.TRUNCATED) {
      message = 'NVGRE header needs ' + (avail < Gre.KEY ? Gre.KEY : Gre.HEADER_LEN) + ' bytes, ' + avail + ' available'
    } else if (code === WireErrorCode.NVGRE_VERSION) {
      message = 'GRE version is ' + (u16(buf, off) & GreFlag.VERSION_MASK) + '; NVGRE requires 0 (RFC 2784 §2.3.1)'
    } else if (code === WireErrorCode.NVGRE_PROTOCOL) {
      message = 'GRE protocol type is 0x' + u16(buf, off + Gre.PROTOCOL).toString(16) + '; NVGRE requires 0x6558 (RFC 7637 §3.2)'
    }
    throw new WireError(code, message)
  }
  return {vsid: v.vsid, flowId: v.flowId}
}

/**
 * Writes the 8-byte NVGRE header at `off`; the inner Ethernet frame is already at `off + 8`. Returns 8.
 * The VSID is masked to 24 bits and the FlowID to 8.
 */
export function writeNvgreHeader(buf: Buffer, off: number, vsid: number, flowId: number): number {
  setU16(buf, off + Gre.FLAGS_VERSION, GreFlag.KEY)
  setU16(buf, off + Gre.PROTOCOL, EtherType.TEB)
  setU32(buf, off + Gre.KEY, ((vsid & Nvgre.VSID_MASK) << Nvgre.VSID_SHIFT) | (flowId & Nvgre.FLOW_ID_MASK))
  return Gre.HEADER_LEN
}

export function emitNvgre(repr: NvgreRepr, buf: Buffer, off: number): number {
  return writeNvgreHeader(buf, off, repr.vsid, repr.flowId)
}

/** The outer headers of one tunnel: built once (per remote PA and next-hop MAC), pushed per packet. */
export interface NvgreEncapConfig {
  /** Outer Ethernet addresses; leave out for raw IP (a GRE raw socket adds its own link layer). */
  ethernet?: {dst: string; src: string; vlan?: VlanTag}
  /** Local and remote provider addresses: both IPv4 or both IPv6, as text. */
  src: string
  dst: string
  /** TTL / hop limit; 64 unless given. */
  ttl?: number
  /** TOS / traffic class byte; 0 unless given. */
  tos?: number
}

/**
 * Pushes outer [Ethernet +] IPv4 or IPv6 + NVGRE in front of an inner frame that sits behind enough
 * headroom, without copying the frame and without allocating. Everything constant is worked out once
 * here; `push` writes the headers with the writers the emitters use (straight-line stores: on these
 * machines that beats copying a prepared template, whether by a byte loop, Buffer.copy or TypedArray.set)
 * and finishes the IPv4 checksum from a precomputed partial sum.
 *
 * Outer IPv4 goes out with DF set and ident 0 (RFC 6864 §4.1: the ident of an atomic datagram carries no
 * meaning): hnv never fragments the underlay, the VM MTU is lowered instead (hnv.md §4). Outer IPv6 gets
 * a flow label from the same flow hash as the FlowID (RFC 6438), so ECMP on either can spread flows.
 *
 * Numbers that may exceed 2^31 (MAC low words, IPv4 addresses) are kept as int32: a uint32 above 2^31
 * would be boxed into a new heap number wherever it is passed to a function V8 did not inline.
 */
export class NvgreEncap {
  /** Bytes pushed in front of the inner frame. */
  readonly headerLen: number
  private readonly ethLen: number
  private readonly dstHi: number = 0
  private readonly dstLo: number = 0
  private readonly srcHi: number = 0
  private readonly srcLo: number = 0
  /** The EtherType right after the MAC addresses: 0x8100 when tagged. */
  private readonly ethType: number = 0
  /** 802.1Q TCI of the outer frame, or -1 untagged. */
  private readonly tci: number = -1
  private readonly ipv4: boolean
  private readonly ttl: number
  private readonly tos: number
  private readonly src4: number = 0
  private readonly dst4: number = 0
  /** IPv4: one's-complement sum of the header with a zero length and checksum. */
  private readonly ipSumBase: number = 0
  /** IPv6: source then destination, 32 bytes. */
  private readonly addrs6: Buffer = EMPTY

  constructor(config: NvgreEncapConfig) {
    this.ipv4 = !config.src.includes(':')
    if (this.ipv4 === config.dst.includes(':')) {
      throw new WireError(WireErrorCode.BAD_ADDRESS, 'NVGRE outer addresses ' + config.src + ' and ' + config.dst + ' are not of one family')
    }
    this.ttl = config.ttl ?? 64
    this.tos = config.tos ?? 0
    const ipType = this.ipv4 ? EtherType.IPV4 : EtherType.IPV6
    const e = config.ethernet
    this.ethLen = e === undefined ? 0 : e.vlan === undefined ? Eth.HEADER_LEN : Eth.VLAN_HEADER_LEN
    if (e !== undefined) {
      const [dstHi, dstLo] = macWords(e.dst)
      const [srcHi, srcLo] = macWords(e.src)
      ;[this.dstHi, this.dstLo, this.srcHi, this.srcLo] = [dstHi, dstLo | 0, srcHi, srcLo | 0]
      this.tci = e.vlan === undefined ? -1 : vlanTci(e.vlan)
      this.ethType = e.vlan === undefined ? ipType : EtherType.VLAN
    }
    if (this.ipv4) {
      this.src4 = ipv4FromString(config.src) | 0
      this.dst4 = ipv4FromString(config.dst) | 0
      const h = Buffer.alloc(Ipv4.HEADER_LEN)
      writeIpv4Header(h, 0, Ipv4.HEADER_LEN, this.tos, 0, 0, Ipv4Flag.DF, this.ttl, IpProto.GRE, this.src4, this.dst4)
      this.ipSumBase = sum16(h, 0, Ipv4.HEADER_LEN)
    } else {
      this.addrs6 = Buffer.alloc(2 * IPV6_ADDR_LEN)
      writeIpv6(config.src, this.addrs6, 0)
      writeIpv6(config.dst, this.addrs6, IPV6_ADDR_LEN)
    }
    this.headerLen = this.ethLen + (this.ipv4 ? Ipv4.HEADER_LEN : Ipv6.HEADER_LEN) + Gre.HEADER_LEN
  }

  /**
   * Writes the outer headers in front of the inner Ethernet frame `buf[innerOff, innerEnd)`. The FlowID
   * is the low 8 bits of `flowHash` (see flow-hash.ts); an outer IPv6 flow label takes bits 11-30.
   * Returns the new start offset (innerOff - headerLen), or -NO_HEADROOM when innerOff < headerLen.
   */
  push(buf: Buffer, innerOff: number, innerEnd: number, vsid: number, flowHash: number): number {
    const start = innerOff - this.headerLen
    if (start < 0) return -WireErrorCode.NO_HEADROOM
    const ip = start + this.ethLen
    if (this.ethLen !== 0) {
      writeEthernetHeader(buf, start, this.dstHi, this.dstLo, this.srcHi, this.srcLo, this.ethType)
      if (this.tci >= 0) writeVlanTag(buf, start, this.tci, this.ipv4 ? EtherType.IPV4 : EtherType.IPV6)
    }
    if (this.ipv4) {
      const total = innerEnd - ip
      writeIpv4Header(buf, ip, Ipv4.HEADER_LEN, this.tos, total, 0, Ipv4Flag.DF, this.ttl, IpProto.GRE, this.src4, this.dst4)
      setU16(buf, ip + Ipv4.CHECKSUM, ~fold(this.ipSumBase + total) & 0xffff)
    } else {
      writeIpv6Fixed(buf, ip, this.tos, flowHash >>> 11, innerEnd - ip - Ipv6.HEADER_LEN, IpProto.GRE, this.ttl)
      copyIpv6(this.addrs6, 0, buf, ip + Ipv6.SRC)
      copyIpv6(this.addrs6, IPV6_ADDR_LEN, buf, ip + Ipv6.DST)
    }
    writeNvgreHeader(buf, innerOff - Gre.HEADER_LEN, vsid, flowHash)
    return start
  }
}
