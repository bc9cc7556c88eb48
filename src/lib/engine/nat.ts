// TranslationMethodNat (IP rewrite, reference/hnv.md §2): a VM's CA is replaced by its record's PA and the
// packet goes to the physical network as plain IP, no encapsulation; on receive the PAs are restored to
// the CAs. pipeline.ts decides (stage IP_REWRITE, Action.REWRITE out, DELIVER in); these functions apply
// the verdict in place, checksums patched incrementally (RFC 1624), nothing allocated per packet.
//
// The OS side:
// a NAT PA is NEVER configured on the host's stack. Sending: an IP_HDRINCL raw socket (IPPROTO_RAW; for
// IPv6 IPPROTO_RAW implies IPV6_HDRINCL), so the kernel routes the rewritten packet and resolves the
// next hop's MAC itself. Receiving: an AF_PACKET socket bound to the physical interface read through the
// existing batched reader (io/physical-link.ts); packets whose destination is a local NAT PA go to
// fromPhysical(), and the engine answers ARP / neighbor solicitations for its NAT PAs (the kernel drops the
// packets quietly: not local, ip_forward off). An engine without the link drops Action.REWRITE as
// no-physical-link.
import {setU16, setU32, u16, u32} from '../wire/bytes.js'
import {checksumUpdate32} from '../wire/checksum.js'
import {Eth, EtherType, writeEthernetHeader} from '../wire/ethernet.js'
import {Icmpv6} from '../wire/icmpv6.js'
import {IpProto} from '../wire/ip.js'
import {Ipv4} from '../wire/ipv4.js'
import {Ipv6} from '../wire/ipv6.js'
import {Tcp} from '../wire/tcp.js'
import {Udp} from '../wire/udp.js'
import type {Verdict} from './pipeline.js'
import {NONE, PA_STRIDE, Translation, type ForwardingTable} from './table.js'

/** PA row -> the TranslationMethodNat record holding it (policy checks: one PA per CA), or NONE. */
export function natRecordsByPa(t: ForwardingTable): Int32Array {
  const byPa = new Int32Array(t.pas.count).fill(NONE)
  const records = t.records
  for (let r = 0; r < records.count; r++) {
    if (records.rule[r] === Translation.NAT && records.pa[r] !== NONE && byPa[records.pa[r]] === NONE) byPa[records.pa[r]] = r
  }
  return byPa
}

function word(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

/**
 * Where the transport checksum covering the pseudo-header is, for v.protocol at v.l4Off (0: none to
 * patch: ICMPv4, other protocols, a non-first fragment, a UDP/IPv4 datagram sent without checksum).
 */
function l4ChecksumAt(buf: Buffer, v: Verdict): number {
  const l4 = v.l4Off
  if (l4 === 0) return 0
  const room = v.l3End - l4
  switch (v.protocol) {
    case IpProto.TCP:
      return room >= Tcp.HEADER_LEN ? l4 + Tcp.CHECKSUM : 0
    case IpProto.UDP:
      if (room < Udp.HEADER_LEN) return 0
      // RFC 768: 0 is "no checksum" over IPv4 and stays so; over IPv6 it is mandatory.
      return v.family === 4 && u16(buf, l4 + Udp.CHECKSUM) === 0 ? 0 : l4 + Udp.CHECKSUM
    case IpProto.ICMPV6:
      return room >= 4 ? l4 + Icmpv6.CHECKSUM : 0
    default:
      return 0
  }
}

/** One 32-bit word of an address at `at` becomes `value`: the IPv4 header and transport sums follow. */
function replaceWord(buf: Buffer, at: number, value: number, ipSumAt: number, l4SumAt: number): void {
  const old = u32(buf, at)
  if (old === value) return
  setU32(buf, at, value)
  if (ipSumAt !== 0) setU16(buf, ipSumAt, checksumUpdate32(u16(buf, ipSumAt), old, value))
  if (l4SumAt !== 0) setU16(buf, l4SumAt, checksumUpdate32(u16(buf, l4SumAt), old, value))
}

function finishUdp(buf: Buffer, v: Verdict, l4SumAt: number): void {
  // A UDP checksum computing to 0 is sent as 0xFFFF (RFC 768); RFC 1624's form never yields 0x0000 from
  // a non-zero sum, but keep the rule explicit.
  if (v.protocol === IpProto.UDP && l4SumAt !== 0 && u16(buf, l4SumAt) === 0) setU16(buf, l4SumAt, 0xffff)
}

/**
 * Send (Action.REWRITE): source CA := PA of v.srcPa, destination CA := PA of v.pa, in the IP packet at
 * v.l3Off; sets v.outOff/outEnd to the IP packet (no Ethernet header: it leaves as plain IP).
 */
export function rewriteToPa(t: ForwardingTable, buf: Buffer, v: Verdict): void {
  const bytes = t.pas.bytes
  const s = v.srcPa * PA_STRIDE
  const d = v.pa * PA_STRIDE
  const l4 = l4ChecksumAt(buf, v)
  const ip = v.l3Off
  if (v.family === 4) {
    replaceWord(buf, ip + Ipv4.SRC, word(bytes, s), ip + Ipv4.CHECKSUM, l4)
    replaceWord(buf, ip + Ipv4.DST, word(bytes, d), ip + Ipv4.CHECKSUM, l4)
  } else {
    for (let i = 0; i < 16; i += 4) {
      replaceWord(buf, ip + Ipv6.SRC + i, word(bytes, s + i), 0, l4)
      replaceWord(buf, ip + Ipv6.DST + i, word(bytes, d + i), 0, l4)
    }
  }
  finishUdp(buf, v, l4)
  v.outOff = ip
  v.outEnd = v.l3End
}

/**
 * Receive (fromPhysical's DELIVER): source PA := CA of v.srcRecord, destination PA := CA of v.dstRecord,
 * and the Ethernet header (v.dstMac, v.srcMac) written in front. Returns the frame's start, or -1 when
 * that would cross `floor`; sets v.outOff/outEnd.
 */
export function restoreToCa(t: ForwardingTable, buf: Buffer, v: Verdict, floor: number): number {
  const ip = v.l3Off
  const start = ip - Eth.HEADER_LEN
  if (start < floor) return -1
  const ca = t.records.ca
  const s = v.srcRecord * 4
  const d = v.dstRecord * 4
  const l4 = l4ChecksumAt(buf, v)
  if (v.family === 4) {
    replaceWord(buf, ip + Ipv4.SRC, ca[s], ip + Ipv4.CHECKSUM, l4)
    replaceWord(buf, ip + Ipv4.DST, ca[d], ip + Ipv4.CHECKSUM, l4)
  } else {
    for (let i = 0; i < 4; i++) {
      replaceWord(buf, ip + Ipv6.SRC + i * 4, ca[s + i], 0, l4)
      replaceWord(buf, ip + Ipv6.DST + i * 4, ca[d + i], 0, l4)
    }
  }
  finishUdp(buf, v, l4)
  writeEthernetHeader(buf, start, v.dstMacHi, v.dstMacLo, v.srcMacHi, v.srcMacLo, v.family === 4 ? EtherType.IPV4 : EtherType.IPV6)
  v.outOff = start
  v.outEnd = v.l3End
  return start
}

/**
 * The answer to arpFromPhysical's request, written over it in place (RFC 826): operation reply, the asker
 * as target, `mac` (the physical interface's, 6 bytes) as the sender hardware address of the NAT PA asked
 * for. Sets v.outOff/outEnd to the ARP payload.
 */
export function physicalArpReply(buf: Buffer, v: Verdict, mac: Uint8Array): void {
  const a = v.l3Off
  const askerIp = u32(buf, a + ARP_SPA)
  const wanted = u32(buf, a + ARP_TPA)
  buf.copy(buf, a + ARP_THA, a + ARP_SHA, a + ARP_SHA + 6)
  setU32(buf, a + ARP_TPA, askerIp)
  buf.set(mac, a + ARP_SHA)
  setU32(buf, a + ARP_SPA, wanted)
  setU16(buf, a + ARP_OP, ARP_REPLY)
  v.outOff = a
  v.outEnd = v.l3End
}

/** ARP field offsets for Ethernet/IPv4 (RFC 826). */
const ARP_OP = 6
const ARP_SHA = 8
const ARP_SPA = 14
const ARP_THA = 18
const ARP_TPA = 24
const ARP_REPLY = 2
