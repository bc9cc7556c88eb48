// One line per frame for people (trace output, test failures, pcap dumps): the only place where numbers
// get names. It never throws: a layer that does not parse is shown with its error name and the walk stops.

import {ipv4ToString, ipv6ToString, macToString} from './address.js'
import {ArpOp, Arp, ArpView} from './arp.js'
import {Dhcp, DHCP_CLIENT_PORT, DHCP_SERVER_PORT, DhcpView} from './dhcp.js'
import {wireErrorName} from './errors.js'
import {Eth, EtherType, EthernetView} from './ethernet.js'
import {Icmpv4View, ICMPV4_DEST_UNREACHABLE, ICMPV4_ECHO_REPLY, ICMPV4_ECHO_REQUEST, ICMPV4_UNREACH_FRAG_NEEDED} from './icmpv4.js'
import {Icmpv6View, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_PACKET_TOO_BIG, ND_OPT_SOURCE_LLA, ND_OPT_TARGET_LLA} from './icmpv6.js'
import {IpProto} from './ip.js'
import {Ipv4View} from './ipv4.js'
import {Ipv6, Ipv6View} from './ipv6.js'
import {NvgreView} from './nvgre.js'
import {TcpView} from './tcp.js'
import {UdpView} from './udp.js'

export const ETHERTYPE_NAMES: Readonly<Record<number, string>> = {
  0x0800: 'IPv4',
  0x0806: 'ARP',
  0x8100: '802.1Q',
  0x86dd: 'IPv6',
  0x6558: 'TEB',
  0x88a8: '802.1ad',
  0x88cc: 'LLDP',
  0x8035: 'RARP',
}

export const IP_PROTO_NAMES: Readonly<Record<number, string>> = {
  0: 'HOPOPT',
  1: 'ICMP',
  2: 'IGMP',
  4: 'IPIP',
  6: 'TCP',
  17: 'UDP',
  41: 'IPv6',
  43: 'IPv6-Route',
  44: 'IPv6-Frag',
  47: 'GRE',
  50: 'ESP',
  51: 'AH',
  58: 'ICMPv6',
  59: 'IPv6-NoNxt',
  60: 'IPv6-Opts',
  89: 'OSPF',
  132: 'SCTP',
}

export const ICMPV4_TYPE_NAMES: Readonly<Record<number, string>> = {
  0: 'echo reply',
  3: 'unreachable',
  5: 'redirect',
  8: 'echo request',
  11: 'time exceeded',
  12: 'parameter problem',
}

export const ICMPV4_UNREACH_NAMES: Readonly<Record<number, string>> = {
  0: 'net',
  1: 'host',
  2: 'protocol',
  3: 'port',
  4: 'fragmentation needed',
  13: 'administratively prohibited',
}

export const ICMPV6_TYPE_NAMES: Readonly<Record<number, string>> = {
  1: 'unreachable',
  2: 'packet too big',
  3: 'time exceeded',
  4: 'parameter problem',
  128: 'echo request',
  129: 'echo reply',
  133: 'router solicitation',
  134: 'router advertisement',
  135: 'neighbor solicitation',
  136: 'neighbor advertisement',
  137: 'redirect',
}

export const DHCP_MESSAGE_NAMES: Readonly<Record<number, string>> = {
  1: 'DISCOVER',
  2: 'OFFER',
  3: 'REQUEST',
  4: 'DECLINE',
  5: 'ACK',
  6: 'NAK',
  7: 'RELEASE',
  8: 'INFORM',
}

const TCP_FLAG_LETTERS = 'FSRPAUEC'

function named(table: Readonly<Record<number, string>>, v: number, hexWidth = 0): string {
  const name = table[v]
  if (name !== undefined) return name
  return hexWidth > 0 ? '0x' + v.toString(16).padStart(hexWidth, '0') : String(v)
}

function malformed(layer: string, code: number): string {
  return layer + ' [malformed: ' + wireErrorName(code) + ']'
}

/** Nested NVGRE is described this deep; beyond, the inner frame is only counted. */
const MAX_DEPTH = 4

/** "src > dst, <layers>" for an Ethernet frame `buf[off, end)`. */
export function describeFrame(buf: Buffer, off: number, end: number): string {
  return ethernet(buf, Math.max(0, off), Math.min(end, buf.length), 0)
}

/** The same for a raw IP packet (LINKTYPE_RAW captures, GRE raw sockets). */
export function describePacket(buf: Buffer, off: number, end: number): string {
  off = Math.max(0, off)
  end = Math.min(end, buf.length)
  return end > off && buf[off] >>> 4 === 6 ? ipv6(buf, off, end, 0) : ipv4(buf, off, end, 0)
}

function ethernet(buf: Buffer, off: number, end: number, depth: number): string {
  const eth = new EthernetView()
  const code = eth.wrap(buf, off, end)
  if (code !== 0) return malformed('Ethernet', code) + ' ' + Math.max(0, end - off) + ' bytes'
  let s = macToString(buf, off + Eth.SRC) + ' > ' + macToString(buf, off + Eth.DST)
  if (eth.tagged) s += ', vlan ' + eth.vlanId + ' pcp ' + (eth.vlanTci >>> 13)
  const type = eth.etherType
  const at = eth.payloadOffset
  switch (type) {
    case EtherType.IPV4:
      return s + ', ' + ipv4(buf, at, eth.end, depth)
    case EtherType.IPV6:
      return s + ', ' + ipv6(buf, at, eth.end, depth)
    case EtherType.ARP:
      return s + ', ' + arp(buf, at, eth.end)
    default:
      return s + ', ethertype ' + named(ETHERTYPE_NAMES, type, 4) + ', ' + (eth.end - at) + ' bytes'
  }
}

function arp(buf: Buffer, off: number, end: number): string {
  const a = new ArpView()
  const code = a.wrap(buf, off, end)
  if (code !== 0) return malformed('ARP', code)
  if (a.operation === ArpOp.REQUEST) return 'ARP who-has ' + ipv4ToString(a.targetIp) + ' tell ' + ipv4ToString(a.senderIp)
  if (a.operation === ArpOp.REPLY) return 'ARP ' + ipv4ToString(a.senderIp) + ' is-at ' + macToString(buf, off + Arp.SHA)
  return 'ARP op ' + a.operation + ' ' + ipv4ToString(a.senderIp) + ' > ' + ipv4ToString(a.targetIp) + ' (target ' + macToString(buf, off + Arp.THA) + ')'
}

function ipv4(buf: Buffer, off: number, end: number, depth: number): string {
  const ip = new Ipv4View()
  const code = ip.wrap(buf, off, end)
  if (code !== 0) return malformed('IPv4', code)
  let s = 'IPv4 ' + ipv4ToString(ip.src) + ' > ' + ipv4ToString(ip.dst) + ' ttl ' + ip.ttl
  if (ip.tos !== 0) s += ' tos 0x' + ip.tos.toString(16)
  if (ip.dontFrag) s += ' DF'
  if (!ip.checksumValid()) s += ' bad-checksum'
  if (ip.isFragment) {
    s += ' frag id ' + ip.ident + ' offset ' + ip.fragOffset + (ip.moreFrags ? ' +' : '')
    return s + ', ' + named(IP_PROTO_NAMES, ip.protocol) + ' fragment ' + ip.payloadLen + ' bytes'
  }
  return s + ', ' + upper(buf, ip.protocol, ip.payloadOffset, ip.end, ip.pseudoSum(), depth, false)
}

function ipv6(buf: Buffer, off: number, end: number, depth: number): string {
  const ip = new Ipv6View()
  const code = ip.wrap(buf, off, end)
  if (code !== 0) return malformed('IPv6', code)
  let s = 'IPv6 ' + ipv6ToString(buf, off + Ipv6.SRC) + ' > ' + ipv6ToString(buf, off + Ipv6.DST) + ' hlim ' + ip.hopLimit
  if (ip.flowLabel !== 0) s += ' flow 0x' + ip.flowLabel.toString(16)
  if (ip.protocol !== ip.nextHeader) s += ' ext'
  if (ip.isFragment) {
    s += ' frag id 0x' + ip.fragIdent.toString(16) + ' offset ' + ip.fragOffset + (ip.moreFrags ? ' +' : '')
    return s + ', ' + named(IP_PROTO_NAMES, ip.protocol) + ' fragment ' + ip.upperLen + ' bytes'
  }
  return s + ', ' + upper(buf, ip.protocol, ip.payloadOffset, ip.end, ip.pseudoSum(), depth, true)
}

function upper(buf: Buffer, protocol: number, off: number, end: number, pseudo: number, depth: number, v6: boolean): string {
  switch (protocol) {
    case IpProto.UDP:
      return udp(buf, off, end, pseudo)
    case IpProto.TCP:
      return tcp(buf, off, end, pseudo)
    case IpProto.ICMP:
      return v6 ? 'ICMP in IPv6, ' + (end - off) + ' bytes' : icmpv4(buf, off, end)
    case IpProto.ICMPV6:
      return icmpv6(buf, off, end, pseudo)
    case IpProto.GRE:
      return nvgre(buf, off, end, depth)
    default:
      return named(IP_PROTO_NAMES, protocol) + ' ' + (end - off) + ' bytes'
  }
}

function udp(buf: Buffer, off: number, end: number, pseudo: number): string {
  const u = new UdpView()
  const code = u.wrap(buf, off, end)
  if (code !== 0) return malformed('UDP', code)
  let s = 'UDP ' + u.srcPort + ' > ' + u.dstPort + ' len ' + u.payloadLen
  if (!u.checksumValid(pseudo)) s += ' bad-checksum'
  const isDhcp =
    (u.srcPort === DHCP_CLIENT_PORT && u.dstPort === DHCP_SERVER_PORT) || (u.srcPort === DHCP_SERVER_PORT && u.dstPort === DHCP_CLIENT_PORT)
  if (isDhcp) s += ', ' + dhcp(buf, u.payloadOffset, u.end)
  return s
}

function dhcp(buf: Buffer, off: number, end: number): string {
  const d = new DhcpView()
  const code = d.wrap(buf, off, end)
  if (code !== 0) return malformed('DHCP', code)
  let s = 'DHCP ' + named(DHCP_MESSAGE_NAMES, d.messageType) + ' xid 0x' + d.xid.toString(16) + ' chaddr ' + macToString(buf, off + Dhcp.CHADDR)
  if (d.yiaddr !== 0) s += ' yiaddr ' + ipv4ToString(d.yiaddr)
  return s
}

function tcp(buf: Buffer, off: number, end: number, pseudo: number): string {
  const t = new TcpView()
  const code = t.wrap(buf, off, end)
  if (code !== 0) return malformed('TCP', code)
  let flags = ''
  for (let i = 0; i < TCP_FLAG_LETTERS.length; i++) if ((t.flags & (1 << i)) !== 0) flags += TCP_FLAG_LETTERS[i]
  let s = 'TCP ' + t.srcPort + ' > ' + t.dstPort + ' [' + flags + '] seq ' + t.seq + ' ack ' + t.ack + ' win ' + t.window
  if (t.mss >= 0) s += ' mss ' + t.mss
  s += ' len ' + t.payloadLen
  if (!t.checksumValid(pseudo)) s += ' bad-checksum'
  return s
}

function icmpv4(buf: Buffer, off: number, end: number): string {
  const m = new Icmpv4View()
  const code = m.wrap(buf, off, end)
  if (code !== 0) return malformed('ICMP', code)
  let s = 'ICMP ' + named(ICMPV4_TYPE_NAMES, m.type)
  if (m.type === ICMPV4_ECHO_REQUEST || m.type === ICMPV4_ECHO_REPLY) s += ' id ' + m.ident + ' seq ' + m.seq
  else if (m.type === ICMPV4_DEST_UNREACHABLE) {
    s += ' ' + named(ICMPV4_UNREACH_NAMES, m.code)
    if (m.code === ICMPV4_UNREACH_FRAG_NEEDED) s += ' mtu ' + m.nextHopMtu
  } else s += ' code ' + m.code
  if (!m.checksumValid()) s += ' bad-checksum'
  return s
}

function icmpv6(buf: Buffer, off: number, end: number, pseudo: number): string {
  const m = new Icmpv6View()
  const code = m.wrap(buf, off, end)
  if (code !== 0) return malformed('ICMPv6', code)
  let s = 'ICMPv6 ' + named(ICMPV6_TYPE_NAMES, m.type)
  if (m.type === ICMPV6_ECHO_REQUEST || m.type === ICMPV6_ECHO_REPLY) s += ' id ' + m.ident + ' seq ' + m.seq
  else if (m.type === ICMPV6_PACKET_TOO_BIG) s += ' mtu ' + m.mtu
  else if (m.type === ICMPV6_NEIGHBOR_SOLICIT || m.type === ICMPV6_NEIGHBOR_ADVERT) {
    s += ' ' + ipv6ToString(buf, m.ndTargetOffset)
    const lla = m.ndLinkLayerOffset(m.type === ICMPV6_NEIGHBOR_SOLICIT ? ND_OPT_SOURCE_LLA : ND_OPT_TARGET_LLA)
    if (lla >= 0) s += ' lladdr ' + macToString(buf, lla)
  } else if (m.code !== 0) s += ' code ' + m.code
  if (!m.checksumValid(pseudo)) s += ' bad-checksum'
  return s
}

function nvgre(buf: Buffer, off: number, end: number, depth: number): string {
  const g = new NvgreView()
  const code = g.wrap(buf, off, end)
  if (code !== 0) return malformed('GRE (not NVGRE)', code)
  const s = 'NVGRE vsid ' + g.vsid + ' flow ' + g.flowId
  if (depth + 1 >= MAX_DEPTH) return s + ' | ' + (end - g.payloadOffset) + ' bytes'
  return s + ' | ' + ethernet(buf, g.payloadOffset, end, depth + 1)
}
