// Ethernet II (IEEE 802.3 §3.1.1) with detection of one IEEE 802.1Q tag.

import {macHi, macLo, macToString, macWords, setMac} from './address.js'
import {EMPTY, u16, setU16} from './bytes.js'
import {WireError, WireErrorCode} from './errors.js'

/** IEEE 802.3 §3.1.1 header: destination, source, EtherType; IEEE 802.1Q §9.6 puts the TPID 0x8100 at
 * TYPE, then the TCI and the real EtherType. Byte offsets from the start of the frame. */
export const enum Eth {
  DST = 0,
  SRC = 6,
  TYPE = 12,
  VLAN_TCI = 14,
  VLAN_TYPE = 16,
  HEADER_LEN = 14,
  VLAN_HEADER_LEN = 18,
  /** Smallest frame on the wire without FCS (IEEE 802.3 §4.4.2: 64 bytes with the FCS). */
  MIN_FRAME_LEN = 60,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ETH_DST = Eth.DST
export const ETH_SRC = Eth.SRC
export const ETH_TYPE = Eth.TYPE
export const ETH_VLAN_TCI = Eth.VLAN_TCI
export const ETH_VLAN_TYPE = Eth.VLAN_TYPE
export const ETH_VLAN_HEADER_LEN = Eth.VLAN_HEADER_LEN
export const ETH_MIN_FRAME_LEN = Eth.MIN_FRAME_LEN
export const ETH_HEADER_LEN = Eth.HEADER_LEN

/** EtherTypes (IEEE Registration Authority) the wire layer handles. */
export const enum EtherType {
  IPV4 = 0x0800,
  ARP = 0x0806,
  VLAN = 0x8100,
  IPV6 = 0x86dd,
  /** Transparent Ethernet bridging: the GRE protocol type of NVGRE (RFC 7637 §3.2). */
  TEB = 0x6558,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ETHERTYPE_IPV4 = EtherType.IPV4
export const ETHERTYPE_ARP = EtherType.ARP
export const ETHERTYPE_VLAN = EtherType.VLAN
export const ETHERTYPE_IPV6 = EtherType.IPV6
export const ETHERTYPE_TEB = EtherType.TEB

/** IEEE 802.1Q TCI: PCP (3 bits), DEI (1), VID (12). */
export const enum Vlan {
  VID_MASK = 0x0fff,
  DEI = 0x1000,
  PCP_SHIFT = 13,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const VLAN_VID_MASK = Vlan.VID_MASK
export const VLAN_DEI = Vlan.DEI
export const VLAN_PCP_SHIFT = Vlan.PCP_SHIFT

export interface VlanTag {
  pcp: number
  dei: boolean
  vid: number
}

export interface EthernetRepr {
  dst: string
  src: string
  /** The EtherType of the payload: after the 802.1Q tag when there is one. */
  etherType: number
  vlan?: VlanTag
}

/** A reusable view of an Ethernet header; rebind per frame with `wrap`. */
export class EthernetView {
  buf: Buffer = EMPTY
  off = 0
  /** End of the frame (exclusive). */
  end = 0
  /** 14, or 18 with an 802.1Q tag. */
  headerLen = Eth.HEADER_LEN

  /** Binds to `buf[off, end)`; 0 if the header fits, else a WireErrorCode. */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Eth.HEADER_LEN) return WireErrorCode.TRUNCATED
    const tagged = u16(buf, off + Eth.TYPE) === EtherType.VLAN
    if (tagged && end - off < Eth.VLAN_HEADER_LEN) return WireErrorCode.TRUNCATED
    this.buf = buf
    this.off = off
    this.end = end
    this.headerLen = tagged ? Eth.VLAN_HEADER_LEN : Eth.HEADER_LEN
    return 0
  }

  get dstHi(): number {
    return macHi(this.buf, this.off + Eth.DST)
  }
  get dstLo(): number {
    return macLo(this.buf, this.off + Eth.DST)
  }
  get srcHi(): number {
    return macHi(this.buf, this.off + Eth.SRC)
  }
  get srcLo(): number {
    return macLo(this.buf, this.off + Eth.SRC)
  }
  /** Group bit of the destination (IEEE 802 §8.2): broadcast and multicast. */
  get dstIsGroup(): boolean {
    return (this.buf[this.off + Eth.DST] & 1) === 1
  }
  get dstIsBroadcast(): boolean {
    return this.dstHi === 0xffff && this.dstLo === 0xffffffff
  }
  get tagged(): boolean {
    return this.headerLen === Eth.VLAN_HEADER_LEN
  }
  /** The 802.1Q TCI, or 0 when untagged. */
  get vlanTci(): number {
    return this.tagged ? u16(this.buf, this.off + Eth.VLAN_TCI) : 0
  }
  get vlanId(): number {
    return this.vlanTci & Vlan.VID_MASK
  }
  /** EtherType of the payload (after the tag, if any). */
  get etherType(): number {
    return u16(this.buf, this.off + this.headerLen - 2)
  }
  set etherType(v: number) {
    setU16(this.buf, this.off + this.headerLen - 2, v)
  }
  get payloadOffset(): number {
    return this.off + this.headerLen
  }

  setDst(hi: number, lo: number): void {
    setMac(this.buf, this.off + Eth.DST, hi, lo)
  }
  setSrc(hi: number, lo: number): void {
    setMac(this.buf, this.off + Eth.SRC, hi, lo)
  }
}

export function parseEthernet(buf: Buffer, off: number, end: number): EthernetRepr {
  const v = new EthernetView()
  if (v.wrap(buf, off, end) !== 0) {
    throw new WireError(
      WireErrorCode.TRUNCATED,
      'Ethernet header needs ' + (end - off < Eth.HEADER_LEN ? Eth.HEADER_LEN : Eth.VLAN_HEADER_LEN) +
        ' bytes, ' + Math.max(0, end - off) + ' available',
    )
  }
  const repr: EthernetRepr = {
    dst: macToString(buf, off + Eth.DST),
    src: macToString(buf, off + Eth.SRC),
    etherType: v.etherType,
  }
  if (v.tagged) {
    const tci = v.vlanTci
    repr.vlan = {pcp: tci >>> Vlan.PCP_SHIFT, dei: (tci & Vlan.DEI) !== 0, vid: tci & Vlan.VID_MASK}
  }
  return repr
}

/**
 * Writes an untagged header from numbers (MACs as hi16/lo32), without allocating: the form emitEthernet
 * and NvgreEncap.push share. Returns 14.
 */
export function writeEthernetHeader(buf: Buffer, off: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number, etherType: number): number {
  setMac(buf, off + Eth.DST, dstHi, dstLo)
  setMac(buf, off + Eth.SRC, srcHi, srcLo)
  setU16(buf, off + Eth.TYPE, etherType)
  return Eth.HEADER_LEN
}

/** Turns the header at `off`, written with EtherType 0x8100, into a tagged one; returns 18. */
export function writeVlanTag(buf: Buffer, off: number, tci: number, etherType: number): number {
  setU16(buf, off + Eth.VLAN_TCI, tci)
  setU16(buf, off + Eth.VLAN_TYPE, etherType)
  return Eth.VLAN_HEADER_LEN
}

export function vlanTci(tag: VlanTag): number {
  return (tag.pcp << Vlan.PCP_SHIFT) | (tag.dei ? Vlan.DEI : 0) | (tag.vid & Vlan.VID_MASK)
}

/** Writes the header (14 or 18 bytes) at `off`; returns its length. */
export function emitEthernet(repr: EthernetRepr, buf: Buffer, off: number): number {
  const [dstHi, dstLo] = macWords(repr.dst)
  const [srcHi, srcLo] = macWords(repr.src)
  if (repr.vlan === undefined) return writeEthernetHeader(buf, off, dstHi, dstLo, srcHi, srcLo, repr.etherType)
  writeEthernetHeader(buf, off, dstHi, dstLo, srcHi, srcLo, EtherType.VLAN)
  return writeVlanTag(buf, off, vlanTci(repr.vlan), repr.etherType)
}
