// Applying a Verdict to the bytes, in place: the routed rewrite (MACs, TTL with RFC 1624's incremental
// checksum), the NVGRE header pushed into the headroom, and the replies the host writes itself (ARP, NA,
// echo reply, time exceeded, fragmentation needed / packet too big). A reply is built in the frame's own
// slot: a same-length one over the request, a longer one reaching back into the headroom (`floor` is the
// lowest byte that may be written). Nothing here decides anything (pipeline.ts did) and nothing allocates.
import {IPV6_ADDR_LEN, setMac} from '../wire/address.js'
import {Arp, ArpOp} from '../wire/arp.js'
import {setU16, setU32, u16, u32} from '../wire/bytes.js'
import {ChecksumMode, checksumUpdate16, fillChecksum, ipv6PseudoSum} from '../wire/checksum.js'
import {Eth, EtherType, writeEthernetHeader} from '../wire/ethernet.js'
import {ICMPV4_DEST_UNREACHABLE, ICMPV4_ECHO_REPLY, ICMPV4_EXCEEDED_TTL, ICMPV4_TIME_EXCEEDED, ICMPV4_UNREACH_FRAG_NEEDED, Icmpv4} from '../wire/icmpv4.js'
import {
  ICMPV6_ECHO_REPLY,
  ICMPV6_NEIGHBOR_ADVERT,
  ICMPV6_PACKET_TOO_BIG,
  ICMPV6_TIME_EXCEEDED,
  Icmpv6,
  Nd,
  ND_NA_FLAG_OVERRIDE,
  ND_NA_FLAG_ROUTER,
  ND_NA_FLAG_SOLICITED,
  ND_OPT_TARGET_LLA,
} from '../wire/icmpv6.js'
import {IpProto} from '../wire/ip.js'
import {Ipv4, writeIpv4Header} from '../wire/ipv4.js'
import {IPV6_MIN_MTU, Ipv6, writeIpv6Fixed} from '../wire/ipv6.js'
import {NVGRE_HEADER_LEN, writeNvgreHeader} from '../wire/nvgre.js'
import {findTcpOption, Tcp, TcpOpt} from '../wire/tcp.js'
import {writeDhcpReply} from './dhcp-responder.js'
import type {Verdict} from './pipeline.js'
import {Reply} from './stages.js'
import {NONE, type ForwardingTable} from './table.js'

/** TTL / hop limit of what the host itself sends (Linux's default). */
const REPLY_TTL = 64
/** RFC 4861 §7.1.2: neighbor advertisements go out with hop limit 255. */
const ND_HOP_LIMIT = 255
/** RFC 792: time exceeded quotes the IP header and the first 64 bits of its data. */
const ICMPV4_QUOTE_DATA = 8
/** An NA with one target link-layer address option: 24 + 8 bytes (RFC 4861 §4.4). */
const NA_LEN = Nd.NS_NA_OPTIONS + Nd.OPT_UNIT
const NA_FRAME_LEN = Eth.HEADER_LEN + Ipv6.HEADER_LEN + NA_LEN
/** ff02::1 (all nodes, RFC 4291 §2.7.1) and its Ethernet group 33:33:00:00:00:01 (RFC 2464 §7). */
const ALL_NODES_W0 = 0xff020000
const ALL_NODES_W3 = 1
const ALL_NODES_MAC_HI = 0x3333
const ALL_NODES_MAC_LO = 1

/** Routed between subnets: destination MAC := record's, source MAC := router's, TTL / hop limit - 1. */
export function rewriteRouted(buf: Buffer, v: Verdict): void {
  setMac(buf, v.frameOff + Eth.DST, v.dstMacHi, v.dstMacLo)
  setMac(buf, v.frameOff + Eth.SRC, v.srcMacHi, v.srcMacLo)
  const ip = v.l3Off
  if (v.family === 4) {
    // TTL is the high byte of the word it shares with the protocol (RFC 1624 on that word).
    const old = u16(buf, ip + Ipv4.TTL)
    const now = old - 0x100
    setU16(buf, ip + Ipv4.TTL, now)
    setU16(buf, ip + Ipv4.CHECKSUM, checksumUpdate16(u16(buf, ip + Ipv4.CHECKSUM), old, now))
  } else {
    buf[ip + Ipv6.HOP_LIMIT]--
  }
}

/**
 * MSS clamping: a SYN's MSS option above v.mss is lowered to it, the TCP checksum patched (RFC 1624) on
 * the 16-bit words the two bytes fall in (the option need not be word-aligned). No option, no change.
 */
export function clampMss(buf: Buffer, v: Verdict): void {
  const tcp = v.l4Off
  const optionsEnd = Math.min(v.l3End, tcp + ((buf[tcp + Tcp.DATA_OFF] >>> 4) << 2))
  const at = findTcpOption(buf, tcp + Tcp.OPTIONS, optionsEnd, TcpOpt.MSS)
  if (at < 0) return
  const value = at + 2
  if (u16(buf, value) <= v.mss) return
  const word = value - ((value - tcp) & 1)
  const words = word === value ? 1 : 2
  const old0 = u16(buf, word)
  const old1 = words === 2 ? u16(buf, word + 2) : 0
  setU16(buf, value, v.mss)
  let sum = checksumUpdate16(u16(buf, tcp + Tcp.CHECKSUM), old0, u16(buf, word))
  if (words === 2) sum = checksumUpdate16(sum, old1, u16(buf, word + 2))
  setU16(buf, tcp + Tcp.CHECKSUM, sum)
}

/**
 * Writes the NVGRE header (K=1, protocol 0x6558, key VSID << 8 | FlowID) in front of the frame. Returns
 * the new start, or -1 when that would cross `floor`.
 */
export function pushNvgre(buf: Buffer, v: Verdict, floor: number): number {
  const start = v.frameOff - NVGRE_HEADER_LEN
  if (start < floor) return -1
  writeNvgreHeader(buf, start, v.greVsid, v.flowId)
  v.outOff = start
  v.outEnd = v.frameEnd
  return start
}

/** Writes the reply v.reply asks for; sets v.outOff/outEnd. False when it does not fit above `floor`. */
export function writeReply(t: ForwardingTable, v: Verdict, buf: Buffer, floor: number): boolean {
  switch (v.reply) {
    case Reply.ARP:
      return arpReply(buf, v)
    case Reply.NEIGHBOR_ADVERT:
      return neighborAdvert(buf, v, floor)
    case Reply.ECHO:
      return v.family === 4 ? echoReply4(buf, v) : echoReply6(buf, v)
    case Reply.DHCP:
      return writeDhcpReply(t, v, buf, floor)
    case Reply.TIME_EXCEEDED:
      return v.family === 4
        ? icmpError4(t, buf, v, floor, ICMPV4_TIME_EXCEEDED, ICMPV4_EXCEEDED_TTL, 0)
        : icmpError6(t, buf, v, floor, ICMPV6_TIME_EXCEEDED, 0, 0)
    case Reply.PACKET_TOO_BIG:
      // RFC 1191 §4: the next-hop MTU in the low 16 bits of the unused word; RFC 4443 §3.2: all 32.
      return v.family === 4
        ? icmpError4(t, buf, v, floor, ICMPV4_DEST_UNREACHABLE, ICMPV4_UNREACH_FRAG_NEEDED, v.mtu & 0xffff)
        : icmpError6(t, buf, v, floor, ICMPV6_PACKET_TOO_BIG, 0, v.mtu)
    default:
      return false
  }
}

/** The request turned into its reply, in place (RFC 826). */
function arpReply(buf: Buffer, v: Verdict): boolean {
  const a = v.l3Off
  const askerIp = u32(buf, a + Arp.SPA)
  const asked = u32(buf, a + Arp.TPA)
  setU16(buf, a + Arp.OPER, ArpOp.REPLY)
  setMac(buf, a + Arp.THA, v.dstMacHi, v.dstMacLo)
  setU32(buf, a + Arp.TPA, askerIp)
  setMac(buf, a + Arp.SHA, v.srcMacHi, v.srcMacLo)
  setU32(buf, a + Arp.SPA, asked)
  setEthernet(buf, v.frameOff, v)
  v.outOff = v.frameOff
  v.outEnd = v.frameEnd
  return true
}

function setEthernet(buf: Buffer, off: number, v: Verdict): void {
  setMac(buf, off + Eth.DST, v.dstMacHi, v.dstMacLo)
  setMac(buf, off + Eth.SRC, v.srcMacHi, v.srcMacLo)
}

/** Echo request to the gateway -> echo reply, in place: addresses swapped, TTL reset, type changed. */
function echoReply4(buf: Buffer, v: Verdict): boolean {
  const ip = v.l3Off
  const src = u32(buf, ip + Ipv4.SRC)
  // Swapping the addresses leaves the header sum unchanged; the TTL word is patched (RFC 1624).
  setU32(buf, ip + Ipv4.SRC, u32(buf, ip + Ipv4.DST))
  setU32(buf, ip + Ipv4.DST, src)
  const oldTtl = u16(buf, ip + Ipv4.TTL)
  const newTtl = (REPLY_TTL << 8) | (oldTtl & 0xff)
  setU16(buf, ip + Ipv4.TTL, newTtl)
  setU16(buf, ip + Ipv4.CHECKSUM, checksumUpdate16(u16(buf, ip + Ipv4.CHECKSUM), oldTtl, newTtl))
  return echoed(buf, v, Icmpv4.TYPE, Icmpv4.CHECKSUM, ICMPV4_ECHO_REPLY)
}

function echoReply6(buf: Buffer, v: Verdict): boolean {
  const ip = v.l3Off
  // The pseudo-header sum does not change when source and destination trade places.
  for (let i = 0; i < IPV6_ADDR_LEN; i++) {
    const s = buf[ip + Ipv6.SRC + i]
    buf[ip + Ipv6.SRC + i] = buf[ip + Ipv6.DST + i]
    buf[ip + Ipv6.DST + i] = s
  }
  buf[ip + Ipv6.HOP_LIMIT] = REPLY_TTL
  return echoed(buf, v, Icmpv6.TYPE, Icmpv6.CHECKSUM, ICMPV6_ECHO_REPLY)
}

/** The shared tail of both echo replies: type (code 0) with its checksum patched, then the MACs. */
function echoed(buf: Buffer, v: Verdict, typeField: number, checksumField: number, replyType: number): boolean {
  const icmp = v.l4Off
  const oldWord = u16(buf, icmp + typeField)
  const newWord = replyType << 8
  setU16(buf, icmp + typeField, newWord)
  setU16(buf, icmp + checksumField, checksumUpdate16(u16(buf, icmp + checksumField), oldWord, newWord))
  setEthernet(buf, v.frameOff, v)
  v.outOff = v.frameOff
  v.outEnd = v.frameEnd
  return true
}

/**
 * Neighbor solicitation -> advertisement (RFC 4861 §7.2.4): from the target address, to the asker (to
 * ff02::1 without S when the asker is :: doing DAD), with R for the gateway, O, and the target link-layer
 * option. It may be longer than the solicitation, so it ends where the solicitation ended and reaches back
 * into the headroom; everything it needs is read before anything is written.
 */
function neighborAdvert(buf: Buffer, v: Verdict, floor: number): boolean {
  const ip = v.l3Off
  const target = v.l4Off + Nd.TARGET
  const t0 = u32(buf, target)
  const t1 = u32(buf, target + 4)
  const t2 = u32(buf, target + 8)
  const t3 = u32(buf, target + 12)
  let d0 = u32(buf, ip + Ipv6.SRC)
  let d1 = u32(buf, ip + Ipv6.SRC + 4)
  let d2 = u32(buf, ip + Ipv6.SRC + 8)
  let d3 = u32(buf, ip + Ipv6.SRC + 12)
  const dad = (d0 | d1 | d2 | d3) === 0
  let flags = ND_NA_FLAG_OVERRIDE | (v.gateway === NONE ? 0 : ND_NA_FLAG_ROUTER)
  let macHi = v.dstMacHi
  let macLo = v.dstMacLo
  if (dad) {
    d0 = ALL_NODES_W0
    d3 = ALL_NODES_W3
    macHi = ALL_NODES_MAC_HI
    macLo = ALL_NODES_MAC_LO
  } else {
    flags |= ND_NA_FLAG_SOLICITED
  }
  const start = Math.min(v.frameOff, v.frameEnd - NA_FRAME_LEN)
  if (start < floor) return false
  writeEthernetHeader(buf, start, macHi, macLo, v.srcMacHi, v.srcMacLo, EtherType.IPV6)
  const o = start + Eth.HEADER_LEN
  writeIpv6Fixed(buf, o, 0, 0, NA_LEN, IpProto.ICMPV6, ND_HOP_LIMIT)
  setWords(buf, o + Ipv6.SRC, t0, t1, t2, t3)
  setWords(buf, o + Ipv6.DST, d0, d1, d2, d3)
  const icmp = o + Ipv6.HEADER_LEN
  buf[icmp + Icmpv6.TYPE] = ICMPV6_NEIGHBOR_ADVERT
  buf[icmp + Icmpv6.CODE] = 0
  setU32(buf, icmp + Nd.NA_FLAGS, flags << 24)
  setWords(buf, icmp + Nd.TARGET, t0, t1, t2, t3)
  const opt = icmp + Nd.NS_NA_OPTIONS
  buf[opt + Nd.OPT_TYPE] = ND_OPT_TARGET_LLA
  buf[opt + Nd.OPT_LEN] = 1
  setMac(buf, opt + Nd.OPT_LLA, v.srcMacHi, v.srcMacLo)
  fillChecksum(buf, icmp, icmp + NA_LEN, icmp + Icmpv6.CHECKSUM, ipv6PseudoSum(buf, o + Ipv6.SRC, o + Ipv6.DST, IpProto.ICMPV6) + NA_LEN, ChecksumMode.COMPUTE)
  v.outOff = start
  v.outEnd = start + NA_FRAME_LEN
  return true
}

function setWords(buf: Buffer, off: number, w0: number, w1: number, w2: number, w3: number): void {
  setU32(buf, off, w0)
  setU32(buf, off + 4, w1)
  setU32(buf, off + 8, w2)
  setU32(buf, off + 12, w3)
}

/**
 * An ICMP error (RFC 792: time exceeded, fragmentation needed) from the gateway, quoting the offending
 * packet's header and 8 bytes, which stay where they are: the new Ethernet, IPv4 and ICMP headers are
 * written in front of them. `rest` is the word after the checksum (unused, or the next-hop MTU).
 */
function icmpError4(t: ForwardingTable, buf: Buffer, v: Verdict, floor: number, type: number, code: number, rest: number): boolean {
  const orig = v.l3Off
  const quote = Math.min(v.l3End - orig, ((buf[orig + Ipv4.VER_IHL] & 15) << 2) + ICMPV4_QUOTE_DATA)
  const icmp = orig - Icmpv4.HEADER_LEN
  const ip = icmp - Ipv4.HEADER_LEN
  const start = ip - Eth.HEADER_LEN
  if (start < floor) return false
  const asker = u32(buf, orig + Ipv4.SRC)
  writeEthernetHeader(buf, start, v.dstMacHi, v.dstMacLo, v.srcMacHi, v.srcMacLo, EtherType.IPV4)
  writeIpv4Header(buf, ip, Ipv4.HEADER_LEN, 0, Ipv4.HEADER_LEN + Icmpv4.HEADER_LEN + quote, 0, 0, REPLY_TTL, IpProto.ICMP, t.gateways.address[v.gateway * 4], asker)
  fillChecksum(buf, ip, ip + Ipv4.HEADER_LEN, ip + Ipv4.CHECKSUM, 0, ChecksumMode.COMPUTE)
  buf[icmp + Icmpv4.TYPE] = type
  buf[icmp + Icmpv4.CODE] = code
  // Checksum, then the word where echo keeps its identifier and sequence number.
  setU16(buf, icmp + Icmpv4.CHECKSUM, 0)
  setU32(buf, icmp + Icmpv4.IDENT, rest)
  fillChecksum(buf, icmp, orig + quote, icmp + Icmpv4.CHECKSUM, 0, ChecksumMode.COMPUTE)
  v.outOff = start
  v.outEnd = orig + quote
  return true
}

/**
 * An ICMPv6 error (RFC 4443 §3.3 time exceeded, §3.2 packet too big), quoting as much of the packet as
 * fits in 1280 bytes; `rest` is the word after the checksum (unused, or the MTU).
 */
function icmpError6(t: ForwardingTable, buf: Buffer, v: Verdict, floor: number, type: number, code: number, rest: number): boolean {
  const orig = v.l3Off
  const quote = Math.min(v.l3End - orig, IPV6_MIN_MTU - Ipv6.HEADER_LEN - Icmpv6.HEADER_LEN)
  const icmp = orig - Icmpv6.HEADER_LEN
  const ip = icmp - Ipv6.HEADER_LEN
  const start = ip - Eth.HEADER_LEN
  if (start < floor) return false
  writeEthernetHeader(buf, start, v.dstMacHi, v.dstMacLo, v.srcMacHi, v.srcMacLo, EtherType.IPV6)
  writeIpv6Fixed(buf, ip, 0, 0, Icmpv6.HEADER_LEN + quote, IpProto.ICMPV6, REPLY_TTL)
  const g = v.gateway * 4
  const a = t.gateways.address
  setWords(buf, ip + Ipv6.SRC, a[g], a[g + 1], a[g + 2], a[g + 3])
  // The asker's address, from the quoted header just behind (these bytes do not overlap).
  for (let i = 0; i < IPV6_ADDR_LEN; i++) buf[ip + Ipv6.DST + i] = buf[orig + Ipv6.SRC + i]
  buf[icmp + Icmpv6.TYPE] = type
  buf[icmp + Icmpv6.CODE] = code
  setU16(buf, icmp + Icmpv6.CHECKSUM, 0)
  setU32(buf, icmp + Icmpv6.IDENT, rest)
  const len = Icmpv6.HEADER_LEN + quote
  fillChecksum(buf, icmp, icmp + len, icmp + Icmpv6.CHECKSUM, ipv6PseudoSum(buf, ip + Ipv6.SRC, ip + Ipv6.DST, IpProto.ICMPV6) + len, ChecksumMode.COMPUTE)
  v.outOff = start
  v.outEnd = icmp + len
  return true
}
