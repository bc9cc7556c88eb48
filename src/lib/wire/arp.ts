// ARP (RFC 826) for IPv4 over Ethernet: the only combination the host switch answers (hnv.md §3).

import {macHi, macLo, macToString, setMac, writeMac} from './address.js'
import {EMPTY, setU16, setU32, u16, u32} from './bytes.js'
import {EtherType} from './ethernet.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 826 packet, with hardware = Ethernet (6-byte addresses) and protocol = IPv4 (4 bytes). */
export const enum Arp {
  HTYPE = 0,
  PTYPE = 2,
  HLEN = 4,
  PLEN = 5,
  OPER = 6,
  SHA = 8,
  SPA = 14,
  THA = 18,
  TPA = 24,
  LEN = 28,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ARP_HTYPE = Arp.HTYPE
export const ARP_PTYPE = Arp.PTYPE
export const ARP_HLEN = Arp.HLEN
export const ARP_PLEN = Arp.PLEN
export const ARP_OPER = Arp.OPER
export const ARP_SHA = Arp.SHA
export const ARP_SPA = Arp.SPA
export const ARP_THA = Arp.THA
export const ARP_TPA = Arp.TPA
export const ARP_LEN = Arp.LEN
export const ARP_HEADER_LEN = Arp.LEN

export const enum ArpOp {
  REQUEST = 1,
  REPLY = 2,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const ARP_REQUEST = ArpOp.REQUEST
export const ARP_REPLY = ArpOp.REPLY

/** IANA ARP hardware type 1 (Ethernet). */
export const ARP_HTYPE_ETHERNET = 1

export interface ArpRepr {
  operation: number
  senderMac: string
  /** IPv4 address as a uint32. */
  senderIp: number
  targetMac: string
  targetIp: number
}

export class ArpView {
  buf: Buffer = EMPTY
  off = 0

  /** 0, TRUNCATED below 28 bytes, or UNSUPPORTED unless Ethernet/IPv4 with 6/4-byte addresses. */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Arp.LEN) return WireErrorCode.TRUNCATED
    if (
      u16(buf, off + Arp.HTYPE) !== ARP_HTYPE_ETHERNET ||
      u16(buf, off + Arp.PTYPE) !== EtherType.IPV4 ||
      buf[off + Arp.HLEN] !== 6 ||
      buf[off + Arp.PLEN] !== 4
    ) {
      return WireErrorCode.UNSUPPORTED
    }
    this.buf = buf
    this.off = off
    return 0
  }

  get operation(): number {
    return u16(this.buf, this.off + Arp.OPER)
  }
  set operation(v: number) {
    setU16(this.buf, this.off + Arp.OPER, v)
  }
  get senderMacHi(): number {
    return macHi(this.buf, this.off + Arp.SHA)
  }
  get senderMacLo(): number {
    return macLo(this.buf, this.off + Arp.SHA)
  }
  get senderIp(): number {
    return u32(this.buf, this.off + Arp.SPA)
  }
  set senderIp(v: number) {
    setU32(this.buf, this.off + Arp.SPA, v)
  }
  get targetMacHi(): number {
    return macHi(this.buf, this.off + Arp.THA)
  }
  get targetMacLo(): number {
    return macLo(this.buf, this.off + Arp.THA)
  }
  get targetIp(): number {
    return u32(this.buf, this.off + Arp.TPA)
  }
  set targetIp(v: number) {
    setU32(this.buf, this.off + Arp.TPA, v)
  }
  setSenderMac(hi: number, lo: number): void {
    setMac(this.buf, this.off + Arp.SHA, hi, lo)
  }
  setTargetMac(hi: number, lo: number): void {
    setMac(this.buf, this.off + Arp.THA, hi, lo)
  }
}

/** Parses an ARP request or reply; trailing bytes (Ethernet padding) are ignored. */
export function parseArp(buf: Buffer, off: number, end: number): ArpRepr {
  const v = new ArpView()
  const code = v.wrap(buf, off, end)
  if (code === WireErrorCode.TRUNCATED) {
    throw new WireError(code, 'ARP packet needs ' + Arp.LEN + ' bytes, ' + Math.max(0, end - off) + ' available')
  }
  if (code !== 0) {
    throw new WireError(
      code,
      'ARP hardware type ' + u16(buf, off + Arp.HTYPE) + ' / protocol 0x' + u16(buf, off + Arp.PTYPE).toString(16) +
        ' with address lengths ' + buf[off + Arp.HLEN] + '/' + buf[off + Arp.PLEN] + ' is not Ethernet/IPv4 (1/0x800, 6/4)',
    )
  }
  if (v.operation !== ArpOp.REQUEST && v.operation !== ArpOp.REPLY) {
    throw new WireError(WireErrorCode.UNSUPPORTED, 'ARP operation ' + v.operation + ' is not request (1) or reply (2)')
  }
  return {
    operation: v.operation,
    senderMac: macToString(buf, off + Arp.SHA),
    senderIp: v.senderIp,
    targetMac: macToString(buf, off + Arp.THA),
    targetIp: v.targetIp,
  }
}

export function emitArp(repr: ArpRepr, buf: Buffer, off: number): number {
  setU16(buf, off + Arp.HTYPE, ARP_HTYPE_ETHERNET)
  setU16(buf, off + Arp.PTYPE, EtherType.IPV4)
  buf[off + Arp.HLEN] = 6
  buf[off + Arp.PLEN] = 4
  setU16(buf, off + Arp.OPER, repr.operation)
  writeMac(repr.senderMac, buf, off + Arp.SHA)
  setU32(buf, off + Arp.SPA, repr.senderIp)
  writeMac(repr.targetMac, buf, off + Arp.THA)
  setU32(buf, off + Arp.TPA, repr.targetIp)
  return Arp.LEN
}
