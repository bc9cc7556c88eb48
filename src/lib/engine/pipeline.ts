// The forwarding decision (reference/hnv.md §3): for a frame from a VM port, or an NVGRE packet from the
// underlay, which stage decides what, by which table entries. Decisions only read the frame; they fill a
// caller-owned Verdict and never write bytes or do I/O. The engine then applies the verdict (actions.ts)
// and moves the bytes (engine.ts); `hnv trace` and Select-NetVirtualizationNextHop call these same
// functions over the same ForwardingTable (OVN's ovn-trace, without its second implementation).
//
// Per packet nothing here allocates: one view per protocol is rebound to each frame, lookups take and
// return numbers, and every miss ends in a named DropReason (stages.ts).
import {macHi, macLo} from '../wire/address.js'
import {Arp, ArpOp, ArpView} from '../wire/arp.js'
import {WireErrorCode} from '../wire/errors.js'
import {Eth, EtherType, EthernetView} from '../wire/ethernet.js'
import {flowHashIpv4, flowHashIpv6, flowIdOf} from '../wire/flow-hash.js'
import {ICMPV4_ECHO_REQUEST, Icmpv4View} from '../wire/icmpv4.js'
import {ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, ICMPV6_ROUTER_SOLICIT, Icmpv6, Icmpv6View, ND_OPT_SOURCE_LLA} from '../wire/icmpv6.js'
import {IpProto} from '../wire/ip.js'
import {Ipv4, Ipv4View} from '../wire/ipv4.js'
import {Ipv6, Ipv6View} from '../wire/ipv6.js'
import {NVGRE_HEADER_LEN, NvgreView} from '../wire/nvgre.js'
import {Tcp, TcpFlag} from '../wire/tcp.js'
import {Udp} from '../wire/udp.js'
import {BOOTREQUEST, DHCP_CLIENT_PORT, DHCP_OPT_REQUESTED_IP, DHCP_OPT_SERVER_ID, DHCP_SERVER_PORT, DHCPACK, DHCPDISCOVER, DHCPNAK, DHCPOFFER, DHCPREQUEST, DhcpView} from '../wire/dhcp.js'
import {natRecordsByPa} from './nat.js'
import {ADDR_DST, ADDR_SRC} from './ports.js'
import {DropReason, Reply, Stage} from './stages.js'
import {NONE, RecordType, Translation, type ForwardingTable} from './table.js'

export const Action = {DROP: 0, DELIVER: 1, ENCAP: 2, REPLY: 3, FLOOD: 4, REWRITE: 5} as const
export const ACTION_NAMES: readonly string[] = ['drop', 'deliver', 'encap', 'reply', 'flood', 'rewrite']

/**
 * FLOOD: which copies (flood.ts). ALL: broadcast and multicast, to the VSID's other ports and (from a
 * port) every PA of the VSID; L2_ONLY: ARP for an address without a record, to the L2Only ports and PAs.
 * From the underlay only local ports get copies.
 */
export const FloodKind = {NONE: 0, ALL: 1, L2_ONLY: 2} as const
export const FLOOD_KIND_NAMES: readonly string[] = ['none', 'all', 'l2only']

/** RFC 4861 §7.1: ND messages are sent with hop limit 255, so they cannot come from off-link. */
const ND_HOP_LIMIT = 255
/** RFC 4861 §4.5: the highest ND message type (redirect); 133 (router solicitation) is the lowest. */
const ICMPV6_REDIRECT = 137
/** UDP's ports sit where TCP's do (RFC 768, RFC 9293): one read serves both for the flow hash. */
const L4_PORTS_LEN = 4
/** The physical link MTU assumed until the engine says otherwise (trace, next-hop queries, tests). */
const DEFAULT_LINK_MTU = 1500

/**
 * What to do with one packet, and why. Owned by the caller and reused for every packet; `reset` clears
 * it. Indices are rows of the table (table.ts) or NONE. The fields are initialised where they are declared
 * (the values reset gives them) so that V8 sizes the object for all of them: with the fields created by
 * reset alone, 36 of them lived in a separate property array, one more load on every access.
 */
export class Verdict {
  /** Action: DROP, DELIVER, ENCAP or REPLY. */
  action: number = Action.DROP
  /** The stage that decided (or that dropped). */
  stage: number = Stage.PORT_INGRESS
  /** DropReason; NONE unless dropped (TTL_EXPIRED comes with a time-exceeded REPLY). */
  reason: number = DropReason.NONE
  /** The WireErrorCode behind a MALFORMED drop (or a GRE drop). */
  wireError: number = 0
  /** Reply kind when action is REPLY (stages.ts Reply). */
  reply: number = Reply.NONE

  // Where the frame's headers are (the actions use these instead of parsing again).
  frameOff: number = 0
  frameEnd: number = 0
  etherType: number = 0
  /** 4 or 6 for IP, 0 otherwise. */
  family: number = 0
  l3Off: number = 0
  l3End: number = 0
  l4Off: number = 0
  protocol: number = 0

  /** From a port: the ingress port row. */
  inPort: number = NONE
  /** The VSID the frame came in on (port's, or the NVGRE key's), as an index. */
  vsid: number = NONE
  /** The lookup record of the source (by CA, or the wildcard record of the source MAC). */
  srcRecord: number = NONE
  route: number = NONE
  dstRecord: number = NONE
  /** The gateway involved: ARP/NS target, echo destination, or the source of a time exceeded. */
  gateway: number = NONE
  /** DELIVER: the port row to send to (REPLY: the ingress port). */
  outPort: number = NONE
  /** The destination VSID index. */
  outVsid: number = NONE
  /** ENCAP: the destination PA row. From the underlay: the local PA it was sent to. */
  pa: number = NONE
  /** From the underlay: the outer source's PA row (NONE when the table does not know it). */
  srcPa: number = NONE
  /** Between subnets: MACs rewritten and TTL / hop limit decremented. */
  routed: boolean = false
  /** Ethernet addresses to write: routed (record MAC, router MAC) or a reply (asker, answer). */
  dstMacHi: number = 0
  dstMacLo: number = 0
  srcMacHi: number = 0
  srcMacLo: number = 0
  /** ENCAP: the VSID number and FlowID of the GRE key. */
  greVsid: number = 0
  flowId: number = 0
  /** MTU: the largest inner IP packet the underlay carries whole (the MTU a packet-too-big reports). */
  mtu: number = 0
  /** MSS clamping: the most a TCP SYN's MSS option may say (actions.ts clampMss), 0 for no clamping. */
  mss: number = 0

  /** FLOOD: FloodKind. */
  flood: number = FloodKind.NONE
  /**
   * LEARN: an L2Only VM's ARP reply or neighbor advertisement names its address: a Dynamic record (VSID
   * v.vsid, CA learnCa..learnCa3 of learnFamily (IPv4 in learnCa), MAC learnMacHi/Lo, PA row learnPa) is
   * to be written (the engine queues it, off the hot path).
   */
  learn: boolean = false
  learnFamily: number = 0
  learnCa: number = 0
  learnCa1: number = 0
  learnCa2: number = 0
  learnCa3: number = 0
  learnMacHi: number = 0
  learnMacLo: number = 0
  learnPa: number = NONE
  /** Reply DHCP: the message type answered (DHCPOFFER, DHCPACK, DHCPNAK). */
  dhcpMessage: number = 0

  /** Set by the actions: the bytes to transmit. */
  outOff: number = 0
  outEnd: number = 0

  reset(off: number, end: number): void {
    this.resetRare(0, 0)
    this.ipv4Shaped = false
    this.resetCommon(off, end, NONE, 0, 0, 0, 0)
  }

  /**
   * True while the fields only the pipeline's full path writes (resetRare's) hold what resetIpv4 gives
   * them: the full path always starts with reset(), which clears this.
   */
  private ipv4Shaped = false

  /**
   * reset(off, end), then inPort, etherType IPv4, family 4 and the header offsets set, for FlowCache's
   * hits (Pipeline.cachedPort4), whose full reset would cost about as much as the lookup: after a hit,
   * the fields no hit writes (resetRare's) still hold these values and are left alone.
   */
  resetIpv4(off: number, end: number, inPort: number, l3Off: number, l3End: number, l4Off: number, protocol: number): void {
    if (!this.ipv4Shaped) {
      this.resetRare(EtherType.IPV4, 4)
      this.ipv4Shaped = true
    }
    this.resetCommon(off, end, inPort, l3Off, l3End, l4Off, protocol)
  }

  /** The fields no cached decision writes: drop details, replies, the gateway, flooding, learning, DHCP. */
  private resetRare(etherType: number, family: number): void {
    this.reason = DropReason.NONE
    this.wireError = 0
    this.reply = Reply.NONE
    this.etherType = etherType
    this.family = family
    this.gateway = NONE
    this.flood = FloodKind.NONE
    this.learn = false
    this.learnFamily = 0
    this.learnCa = 0
    this.learnCa1 = 0
    this.learnCa2 = 0
    this.learnCa3 = 0
    this.learnMacHi = 0
    this.learnMacLo = 0
    this.learnPa = NONE
    this.dhcpMessage = 0
  }

  /** Every other field: what a cached decision or the engine after it may write. */
  private resetCommon(off: number, end: number, inPort: number, l3Off: number, l3End: number, l4Off: number, protocol: number): void {
    this.action = Action.DROP
    this.stage = Stage.PORT_INGRESS
    this.frameOff = off
    this.frameEnd = end
    this.l3Off = l3Off
    this.l3End = l3End
    this.l4Off = l4Off
    this.protocol = protocol
    this.inPort = inPort
    this.vsid = NONE
    this.srcRecord = NONE
    this.route = NONE
    this.dstRecord = NONE
    this.outPort = NONE
    this.outVsid = NONE
    this.pa = NONE
    this.srcPa = NONE
    this.routed = false
    this.dstMacHi = 0
    this.dstMacLo = 0
    this.srcMacHi = 0
    this.srcMacLo = 0
    this.greVsid = 0
    this.flowId = 0
    this.mtu = 0
    this.mss = 0
    this.outOff = off
    this.outEnd = end
  }
}

function drop(v: Verdict, reason: number): number {
  v.action = Action.DROP
  v.reason = reason
  return Action.DROP
}

function malformed(v: Verdict, code: number): number {
  v.wireError = code
  return drop(v, DropReason.MALFORMED)
}

/** NvgreView.wrap's codes -> drop reasons, each GRE rule its own. */
const GRE_DROP = new Int32Array(32).fill(DropReason.MALFORMED)
GRE_DROP[WireErrorCode.NVGRE_CHECKSUM_BIT] = DropReason.GRE_CHECKSUM_BIT
GRE_DROP[WireErrorCode.NVGRE_ROUTING_BIT] = DropReason.GRE_ROUTING_BIT
GRE_DROP[WireErrorCode.NVGRE_NO_KEY] = DropReason.GRE_NO_KEY
GRE_DROP[WireErrorCode.NVGRE_SEQUENCE_BIT] = DropReason.GRE_SEQUENCE_BIT
GRE_DROP[WireErrorCode.NVGRE_RESERVED_BITS] = DropReason.GRE_RESERVED_BITS
GRE_DROP[WireErrorCode.NVGRE_VERSION] = DropReason.GRE_VERSION
GRE_DROP[WireErrorCode.NVGRE_PROTOCOL] = DropReason.GRE_NOT_TEB

/** Four bytes as an int32: addresses cross calls as int32 so that V8 never boxes them (word-map.ts). */
function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
}

/** fe80::/10 (RFC 4291 §2.5.6). */
function isLinkLocal6(b: Uint8Array, o: number): boolean {
  return b[o] === 0xfe && (b[o + 1] & 0xc0) === 0x80
}

function isUnspecified6(b: Uint8Array, o: number): boolean {
  return (b[o] | b[o + 1] | b[o + 2] | b[o + 3]) === 0 && word(b, o + 4) === 0 && word(b, o + 8) === 0 && word(b, o + 12) === 0
}

/**
 * Routed between subnets: the frame leaves with the destination record's MAC, from the router's MAC of
 * the destination subnet (per family). Also for a routed flow FlowCache holds.
 */
export function routedMacs(t: ForwardingTable, v: Verdict, record: number, outVsid: number): void {
  const f = outVsid * 2 + (v.family === 6 ? 1 : 0)
  v.dstMacHi = t.records.macHi[record]
  v.dstMacLo = t.records.macLo[record]
  v.srcMacHi = t.vsids.routerMacHi[f]
  v.srcMacLo = t.vsids.routerMacLo[f]
}

/** One instance per engine (or per trace): it owns the views it rebinds to each frame. */
export class Pipeline {
  private readonly eth = new EthernetView()
  private readonly arp = new ArpView()
  private readonly ip4 = new Ipv4View()
  private readonly ip6 = new Ipv6View()
  private readonly icmp4 = new Icmpv4View()
  private readonly icmp6 = new Icmpv6View()
  private readonly gre = new NvgreView()
  private readonly dhcp = new DhcpView()
  /**
   * The largest GRE packet (GRE header + inner frame) the underlay of each outer family carries whole:
   * [0] for IPv4 PAs, [1] for IPv6 PAs (ports.ts Underlay.mtu). The engine sets them from its underlays;
   * trace and next-hop queries keep the default, a 1500-byte physical link.
   */
  /**
   * Non-zero while the engine asks about a TCP super-frame the kernel will segment: the length of its
   * largest segment (inner Ethernet frame), which the MTU stage judges instead of the whole frame.
   */
  segmentLength = 0
  readonly underlayMtu = Int32Array.of(DEFAULT_LINK_MTU - Ipv4.HEADER_LEN, DEFAULT_LINK_MTU - Ipv6.HEADER_LEN)
  /** IP_REWRITE: PA row -> its TranslationMethodNat record (nat.ts), for the table it was built from. */
  private natTable: ForwardingTable | null = null
  private natByPa: Int32Array = new Int32Array(0)

  private natRecords(t: ForwardingTable): Int32Array {
    if (this.natTable !== t) {
      this.natByPa = natRecordsByPa(t)
      this.natTable = t
    }
    return this.natByPa
  }

  /**
   * IP_REWRITE on receive: a plain IP packet `buf[off, end)` (no Ethernet header) of `family` from the
   * physical network, to a PA of a TranslationMethodNat record of this host: the destination record's
   * adapter gets it with the PAs restored to the CAs (nat.ts restoreToCa), MACs as for local delivery (the
   * sender's record MAC within the VSID, the router's between subnets). Returns DELIVER or DROP.
   */
  fromPhysical(t: ForwardingTable, family: number, buf: Buffer, off: number, end: number, v: Verdict): number {
    v.reset(off, end)
    v.stage = Stage.IP_REWRITE
    v.etherType = family === 4 ? EtherType.IPV4 : EtherType.IPV6
    v.l3Off = off
    let dstPa: number
    let srcPa: number
    if (family === 4) {
      const ip = this.ip4
      const code = ip.wrap(buf, off, end)
      if (code !== 0) return malformed(v, code)
      v.l3End = ip.end
      v.l4Off = ip.isFragment && ip.fragOffset !== 0 ? 0 : ip.payloadOffset
      v.protocol = ip.protocol
      dstPa = t.pa4(ip.dst32)
      srcPa = t.pa4(ip.src32)
    } else {
      const ip = this.ip6
      const code = ip.wrap(buf, off, end)
      if (code !== 0) return malformed(v, code)
      v.l3End = ip.end
      v.l4Off = ip.isFragment && ip.fragOffset !== 0 ? 0 : ip.payloadOffset
      v.protocol = ip.protocol
      if (ip.protocol === IpProto.ICMPV6 && !ip.isFragment && v.l3End - v.l4Off >= 1 && buf[v.l4Off + Icmpv6.TYPE] === ICMPV6_NEIGHBOR_SOLICIT) {
        return this.ndFromPhysical(t, buf, v)
      }
      dstPa = t.pa6(buf, ip.dstOffset)
      srcPa = t.pa6(buf, ip.srcOffset)
    }
    v.family = family
    if (dstPa === NONE || t.pas.local[dstPa] !== 1) return drop(v, DropReason.NOT_LOCAL_PA)
    v.pa = dstPa
    const nat = this.natRecords(t)
    const dst = nat[dstPa]
    if (dst === NONE) return drop(v, DropReason.NAT_UNKNOWN_PA)
    v.dstRecord = dst
    const records = t.records
    const vsid = records.vsid[dst]
    v.vsid = vsid
    v.outVsid = vsid
    v.srcPa = srcPa
    const src = srcPa === NONE ? NONE : nat[srcPa]
    if (src === NONE || records.domain[src] !== records.domain[dst] || records.family[src] !== family || records.family[dst] !== family) {
      return drop(v, DropReason.NAT_UNKNOWN_SOURCE)
    }
    v.srcRecord = src
    v.stage = Stage.LOCAL_DELIVERY
    const port = t.portByMac(vsid, records.macHi[dst], records.macLo[dst])
    if (port === NONE) return drop(v, DropReason.NO_LOCAL_PORT)
    v.outPort = port
    v.dstMacHi = records.macHi[dst]
    v.dstMacLo = records.macLo[dst]
    if (records.vsid[src] === vsid) {
      v.srcMacHi = records.macHi[src]
      v.srcMacLo = records.macLo[src]
    } else {
      // Routed on the sender's host (TTL already decremented there): from this subnet's router MAC.
      const f = vsid * 2 + (family === 6 ? 1 : 0)
      v.srcMacHi = t.vsids.routerMacHi[f]
      v.srcMacLo = t.vsids.routerMacLo[f]
    }
    v.action = Action.DELIVER
    return Action.DELIVER
  }

  /**
   * A frame `buf[off, end)` from the port of table row `port` (NONE: a port the table does not name).
   * Returns v.action.
   */
  fromPort(t: ForwardingTable, port: number, buf: Buffer, off: number, end: number, v: Verdict): number {
    v.reset(off, end)
    v.inPort = port
    if (port === NONE) return drop(v, DropReason.PORT_UNKNOWN)
    const vsid = t.ports.vsid[port]
    if (vsid === NONE) return drop(v, DropReason.PORT_NOT_VIRTUALIZED)
    v.vsid = vsid
    const eth = this.eth
    const code = eth.wrap(buf, off, end)
    if (code !== 0) return malformed(v, code)
    if (eth.tagged) return drop(v, DropReason.VLAN_TAGGED)
    v.stage = Stage.PORT_SECURITY
    const srcHi = eth.srcHi
    const srcLo = eth.srcLo
    if (srcHi !== t.ports.macHi[port] || srcLo !== t.ports.macLo[port]) return drop(v, DropReason.SRC_MAC_SPOOFED)
    const type = eth.etherType
    v.etherType = type
    v.l3Off = eth.payloadOffset
    if (type === EtherType.IPV4) return this.ipv4FromPort(t, buf, v, srcHi, srcLo)
    if (type === EtherType.IPV6) return this.ipv6FromPort(t, buf, v, srcHi, srcLo)
    if (type === EtherType.ARP) return this.arpFromPort(t, buf, v, srcHi, srcLo)
    return drop(v, DropReason.NOT_IP)
  }

  /**
   * An underlay packet `buf[off, end)` starting at its GRE header, of outer `family`, whose outer source
   * and destination addresses are at `addrs[addrOff + ADDR_SRC]` / `[addrOff + ADDR_DST]` (ports.ts).
   * Returns v.action: DELIVER (v.outPort, the inner frame at v.outOff) or DROP.
   */
  fromUnderlay(t: ForwardingTable, family: number, buf: Buffer, off: number, end: number, addrs: Uint8Array, addrOff: number, v: Verdict): number {
    v.reset(off, end)
    v.stage = Stage.DECAP_CHECK
    const dstPa = family === 4 ? t.pa4(word(addrs, addrOff + ADDR_DST)) : t.pa6(addrs, addrOff + ADDR_DST)
    if (dstPa === NONE || t.pas.local[dstPa] !== 1) return drop(v, DropReason.NOT_LOCAL_PA)
    v.pa = dstPa
    v.srcPa = family === 4 ? t.pa4(word(addrs, addrOff + ADDR_SRC)) : t.pa6(addrs, addrOff + ADDR_SRC)
    const gre = this.gre
    const code = gre.wrap(buf, off, end)
    if (code !== 0) {
      v.wireError = code
      return drop(v, GRE_DROP[code])
    }
    const vsid = t.vsidIndex(gre.vsid)
    if (vsid === NONE) return drop(v, DropReason.UNKNOWN_VSID)
    v.vsid = vsid
    v.outVsid = vsid
    const inner = gre.payloadOffset
    v.frameOff = inner
    v.outOff = inner
    const eth = this.eth
    const ethCode = eth.wrap(buf, inner, end)
    if (ethCode !== 0) return malformed(v, ethCode)
    if (eth.tagged) return drop(v, DropReason.VLAN_TAGGED)
    const type = eth.etherType
    v.etherType = type
    v.l3Off = eth.payloadOffset
    if (type === EtherType.ARP) return this.arpFromUnderlay(t, buf, v)
    const group = eth.dstIsGroup
    if (!group) {
      const port = t.portByMac(vsid, eth.dstHi, eth.dstLo)
      if (port === NONE) return drop(v, DropReason.NO_PORT_FOR_MAC)
      v.outPort = port
    }
    const domain = t.vsids.domain[vsid]
    let record: number
    if (type === EtherType.IPV4) {
      const ip = this.ip4
      const ipCode = ip.wrap(buf, v.l3Off, end)
      if (ipCode !== 0) return malformed(v, ipCode)
      v.family = 4
      record = t.record4(domain, ip.src32)
    } else if (type === EtherType.IPV6) {
      const ip = this.ip6
      const ipCode = ip.wrap(buf, v.l3Off, end)
      if (ipCode !== 0) return malformed(v, ipCode)
      v.family = 6
      if (ip.protocol === IpProto.ICMPV6 && !ip.isFragment && end - ip.payloadOffset >= 1) {
        const type = buf[ip.payloadOffset + Icmpv6.TYPE]
        if (type === ICMPV6_NEIGHBOR_SOLICIT || type === ICMPV6_NEIGHBOR_ADVERT) return this.ndFromUnderlay(t, buf, v, group)
      }
      record = t.record6(domain, buf, ip.srcOffset)
      // Link-local multicast (MLD, mDNS...) carries no CA: its sender is vouched for by its MAC's record.
      if (record === NONE && group && (isLinkLocal6(buf, ip.srcOffset) || isUnspecified6(buf, ip.srcOffset))) {
        record = t.flood.recordByMac.get3(vsid, eth.srcHi, eth.srcLo)
      }
    } else {
      return drop(v, DropReason.NOT_IP)
    }
    // A gateway VM's packets carry any source address: its GatewayWildcard record vouches by MAC.
    if (record === NONE) record = t.wildcardRecord(vsid, eth.srcHi, eth.srcLo)
    // Routed from a gateway VM's subnet, the router's MAC has replaced the gateway's: the sender is known
    // by its PA instead, and a PA holding a GatewayWildcard record of this routing domain may send any
    // source address (reference/hnv.md §3.6; its own host checked the gateway's MAC at port security).
    if (record === NONE && v.srcPa !== NONE) record = t.gatewayWildcardOfPa(domain, v.srcPa)
    if (record === NONE) return drop(v, DropReason.UNKNOWN_SOURCE_CA)
    v.srcRecord = record
    if (t.records.pa[record] !== v.srcPa) return drop(v, DropReason.SOURCE_PA_MISMATCH)
    if (v.outPort !== NONE && t.ports.mssClamp[v.outPort] === 1) this.clampMss(v, family)
    // Broadcast and multicast from another host: a copy to each local port of the VSID (flood.ts).
    if (group) return this.flood(t, v, FloodKind.ALL)
    v.stage = Stage.LOCAL_DELIVERY
    v.action = Action.DELIVER
    return Action.DELIVER
  }

  /**
   * ROUTE and RESOLVE for an IPv4 destination from VSID index `vsid`: the customer route (v.route), the
   * next hop's record (v.dstRecord) and what follows from it. Select-NetVirtualizationNextHop's answer.
   * `dstMacHi/Lo` is the frame's destination MAC (to tell routed from bridged), `ttl` its TTL. Called
   * alone (next-hop queries) after v.reset(), with a TTL above 1: the answer is in v.route, v.dstRecord,
   * v.outVsid, v.pa, v.outPort and v.action, or v.reason.
   */
  route4(t: ForwardingTable, vsid: number, dst: number, dstMacHi: number, dstMacLo: number, ttl: number, v: Verdict): number {
    v.vsid = vsid
    v.family = 4
    v.stage = Stage.ROUTE
    const domain = t.vsids.domain[vsid]
    const route = t.route4(domain, dst)
    if (route === NONE) return drop(v, DropReason.NO_ROUTE)
    if (t.useExternalRouter && this.toExternalRouter(t, v, route)) {
      const external = t.externalRoute4(domain, dst)
      if (external === NONE) return drop(v, DropReason.NO_EXTERNAL_ROUTE)
      v.route = external
      return this.resolve(t, v, t.record4(domain, t.routes.nextHop[external * 4] | 0), dstMacHi, dstMacLo, ttl)
    }
    v.route = route
    const routes = t.routes
    let nextHop = dst
    if (routes.onLink[route] === 1) {
      // The gateway of another subnet of this routing domain answers like ours.
      const gateway = t.gateway4(routes.vsid[route], dst)
      if (gateway !== NONE) return this.gateway4(t, v, gateway)
    } else {
      nextHop = routes.nextHop[route * 4] | 0
    }
    return this.resolve(t, v, t.record4(domain, nextHop), dstMacHi, dstMacLo, ttl)
  }

  /** route4 for the IPv6 destination at `buf[dstOff, dstOff + 16)`. */
  route6(t: ForwardingTable, vsid: number, buf: Uint8Array, dstOff: number, dstMacHi: number, dstMacLo: number, hopLimit: number, v: Verdict): number {
    v.vsid = vsid
    v.family = 6
    v.stage = Stage.ROUTE
    const domain = t.vsids.domain[vsid]
    const route = t.route6(domain, buf, dstOff)
    if (route === NONE) return drop(v, DropReason.NO_ROUTE)
    if (t.useExternalRouter && this.toExternalRouter(t, v, route)) {
      const external = t.externalRoute6(domain, buf, dstOff)
      if (external === NONE) return drop(v, DropReason.NO_EXTERNAL_ROUTE)
      v.route = external
      const h = external * 4
      const hop = t.routes.nextHop
      return this.resolve(t, v, t.records.byCa6.get5(domain, hop[h] | 0, hop[h + 1] | 0, hop[h + 2] | 0, hop[h + 3] | 0), dstMacHi, dstMacLo, hopLimit)
    }
    v.route = route
    const routes = t.routes
    let record: number
    if (routes.onLink[route] === 1) {
      const gateway = t.gateway6(routes.vsid[route], buf, dstOff)
      if (gateway !== NONE) return this.gateway6(t, v, gateway)
      record = t.record6(domain, buf, dstOff)
    } else {
      const h = route * 4
      const hop = routes.nextHop
      record = t.records.byCa6.get5(domain, hop[h] | 0, hop[h + 1] | 0, hop[h + 2] | 0, hop[h + 3] | 0)
    }
    return this.resolve(t, v, record, dstMacHi, dstMacLo, hopLimit)
  }

  /**
   * IP_REWRITE: a neighbor solicitation on the physical network for an IPv6 NAT PA of this host is answered
   * (actions.ts neighborAdvert, from the interface's MAC the engine puts in v.srcMac) to the MAC of its
   * source link-layer address option; without one (DAD) there is no one to answer.
   */
  private ndFromPhysical(t: ForwardingTable, buf: Buffer, v: Verdict): number {
    const ip = this.ip6
    const icmp = this.icmp6
    v.family = 6
    const code = icmp.wrap(buf, v.l4Off, v.l3End)
    if (code !== 0) return malformed(v, code)
    if (ip.hopLimit !== ND_HOP_LIMIT) return malformed(v, 0)
    const pa = t.pa6(buf, icmp.ndTargetOffset)
    if (pa === NONE || t.pas.local[pa] !== 1) return drop(v, DropReason.NOT_LOCAL_PA)
    const record = this.natRecords(t)[pa]
    if (record === NONE) return drop(v, DropReason.NAT_UNKNOWN_PA)
    const lla = icmp.ndLinkLayerOffset(ND_OPT_SOURCE_LLA)
    if (lla < 0 || isUnspecified6(buf, ip.srcOffset)) return drop(v, DropReason.NEIGHBOR_OWN_ADDRESS)
    v.pa = pa
    v.dstRecord = record
    // The answer is written as a frame (Ethernet header in the headroom); the link sends from v.l3Off on.
    v.frameOff = v.l3Off - Eth.HEADER_LEN
    v.action = Action.REPLY
    v.reply = Reply.NEIGHBOR_ADVERT
    v.dstMacHi = macHi(buf, lla)
    v.dstMacLo = macLo(buf, lla)
    return Action.REPLY
  }

  /**
   * IP_REWRITE: an ARP request on the physical network for a NAT PA of this host is answered by the
   * engine with the interface's MAC (the host's stack does not hold the address; nat.ts writes the reply).
   * Anything else is the host's own business: NOT_LOCAL_PA or NAT_UNKNOWN_PA, which the engine ignores.
   */
  arpFromPhysical(t: ForwardingTable, buf: Buffer, off: number, end: number, v: Verdict): number {
    v.reset(off, end)
    v.stage = Stage.IP_REWRITE
    v.etherType = EtherType.ARP
    v.l3Off = off
    const arp = this.arp
    const code = arp.wrap(buf, off, end)
    if (code !== 0) return malformed(v, code)
    v.l3End = off + Arp.LEN
    const pa = t.pa4(arp.targetIp | 0)
    if (pa === NONE || t.pas.local[pa] !== 1) return drop(v, DropReason.NOT_LOCAL_PA)
    const record = this.natRecords(t)[pa]
    if (record === NONE) return drop(v, DropReason.NAT_UNKNOWN_PA)
    if (arp.operation !== ArpOp.REQUEST) return drop(v, DropReason.ARP_NOT_REQUEST)
    v.pa = pa
    v.dstRecord = record
    v.action = Action.REPLY
    v.reply = Reply.ARP
    v.dstMacHi = arp.senderMacHi
    v.dstMacLo = arp.senderMacLo
    return Action.REPLY
  }

  // ---- from a port, by EtherType ----

  private ipv4FromPort(t: ForwardingTable, buf: Buffer, v: Verdict, srcHi: number, srcLo: number): number {
    const ip = this.ip4
    const code = ip.wrap(buf, v.l3Off, v.frameEnd)
    if (code !== 0) return malformed(v, code)
    v.family = 4
    v.l3End = ip.end
    v.l4Off = ip.payloadOffset
    v.protocol = ip.protocol
    const eth = this.eth
    if (this.toDhcpServer(t, v.inPort, buf)) return this.dhcpFromPort(t, buf, v, srcHi, srcLo)
    if (!this.source4(t, v, ip.src32, srcHi, srcLo)) return drop(v, DropReason.SRC_IP_SPOOFED)
    if (eth.dstIsGroup) return this.flood(t, v, FloodKind.ALL)
    const vsid = v.vsid
    v.stage = Stage.GATEWAY
    const dst = ip.dst32
    const gateway = t.gateway4(vsid, dst)
    if (gateway !== NONE) return this.gateway4(t, v, gateway)
    const action = this.route4(t, vsid, dst, eth.dstHi, eth.dstLo, ip.ttl, v)
    if (action === Action.ENCAP && !this.encap4(t, buf, v)) return this.tooBig(t, v)
    return action
  }

  /**
   * DHCP from a -Dhcp adapter (its source is 0.0.0.0 until it has an address), which the engine answers:
   * UDP from port 68 to 67 in the IPv4 packet this.ip4 is bound to (v.l4Off its payload).
   */
  private toDhcpServer(t: ForwardingTable, port: number, buf: Buffer): boolean {
    return t.ports.dhcp[port] === 1 && this.isDhcpToServer(buf)
  }

  /** toDhcpServer's packet part: UDP from port 68 to 67 (a cached flow checks it only on a -Dhcp port). */
  private isDhcpToServer(buf: Buffer): boolean {
    const ip = this.ip4
    const l4 = ip.payloadOffset
    return ip.protocol === IpProto.UDP && !ip.isFragment && ip.end - l4 >= Udp.HEADER_LEN &&
      ((buf[l4 + Udp.DST_PORT] << 8) | buf[l4 + Udp.DST_PORT + 1]) === DHCP_SERVER_PORT &&
      ((buf[l4 + Udp.SRC_PORT] << 8) | buf[l4 + Udp.SRC_PORT + 1]) === DHCP_CLIENT_PORT
  }

  /**
   * ENCAP's per-packet part for the IPv4 packet this.ip4 is bound to: MTU (false: too big and DF set;
   * without DF it goes out anyway, the kernel fragments the outer packet and the peer's reassembles),
   * MSS clamping, the FlowID from the 5-tuple. Also after cachedPort4, for a flow FlowCache holds as ENCAP
   * (false: the caller runs fromPort).
   */
  encap4(t: ForwardingTable, buf: Buffer, v: Verdict): boolean {
    return this.cachedEncap4(t, buf, t.ports.mssClamp[v.inPort] === 1, v)
  }

  /** encap4, `mss` saying whether the ingress port is MSS-clamped (FlowCache knows it per flow). */
  cachedEncap4(t: ForwardingTable, buf: Buffer, mss: boolean, v: Verdict): boolean {
    const ip = this.ip4
    if (ip.dontFrag && !this.fits(t, v)) return false
    if (mss) this.clampMss(v, t.pas.family[v.pa])
    let sport = 0
    let dport = 0
    if ((ip.protocol === IpProto.TCP || ip.protocol === IpProto.UDP) && !ip.isFragment && v.l3End - v.l4Off >= L4_PORTS_LEN) {
      sport = (buf[v.l4Off + Tcp.SRC_PORT] << 8) | buf[v.l4Off + Tcp.SRC_PORT + 1]
      dport = (buf[v.l4Off + Tcp.DST_PORT] << 8) | buf[v.l4Off + Tcp.DST_PORT + 1]
    }
    v.flowId = flowIdOf(flowHashIpv4(ip.src32, ip.dst32, ip.protocol, sport, dport))
    return true
  }

  // ---- the per-packet part of a decision whose per-flow part flow-cache.ts kept ----

  /**
   * An untagged IPv4 frame `buf[off, end)` from port row `port`, whose decision for its flow (ports,
   * MACs, addresses) FlowCache holds: the checks that depend on the packet itself. False when one of
   * them decides otherwise than for the flow (malformed, DHCP to the engine, a routed TTL expiring): the
   * caller runs fromPort. True: `v` holds what fromPort sets from the packet, for the cache to add the
   * flow's part and, for ENCAP, to call encap4.
   */
  cachedPort4(port: number, buf: Buffer, off: number, end: number, routed: boolean, dhcp: boolean, v: Verdict): boolean {
    const ip = this.ip4
    const l3 = off + Eth.HEADER_LEN
    if (ip.wrap(buf, l3, end) !== 0 || (routed && ip.ttl <= 1) || (dhcp && this.isDhcpToServer(buf))) return false
    v.resetIpv4(off, end, port, l3, ip.end, ip.payloadOffset, ip.protocol)
    return true
  }

  /**
   * An NVGRE packet `buf[off, end)` from the IPv4 underlay carrying an untagged IPv4 frame, whose decision
   * for its flow (outer addresses, VSID, MACs, inner source) FlowCache holds: the GRE and IP checks. False
   * when one fails (the caller runs fromUnderlay, which drops it by its reason). True: `v` holds what
   * fromUnderlay sets from the packet; with the flow's part added, cachedDeliver clamps a SYN's MSS.
   */
  cachedUnderlay4(buf: Buffer, off: number, end: number, v: Verdict): boolean {
    if (this.gre.wrap(buf, off, end) !== 0) return false
    const inner = this.gre.payloadOffset
    const l3 = inner + Eth.HEADER_LEN
    if (this.ip4.wrap(buf, l3, end) !== 0) return false
    // reset(off, end) with the frame at `inner`; what fromUnderlay leaves at its reset values stays there.
    v.resetIpv4(inner, end, NONE, l3, 0, 0, 0)
    return true
  }

  /** DELIVER from the underlay of outer `family` after cachedUnderlay4: MSS clamping, as in fromUnderlay. */
  cachedDeliver(t: ForwardingTable, family: number, v: Verdict): void {
    if (t.ports.mssClamp[v.outPort] === 1) this.clampMss(v, family)
  }

  private ipv6FromPort(t: ForwardingTable, buf: Buffer, v: Verdict, srcHi: number, srcLo: number): number {
    const ip = this.ip6
    const code = ip.wrap(buf, v.l3Off, v.frameEnd)
    if (code !== 0) return malformed(v, code)
    v.family = 6
    v.l3End = ip.end
    v.l4Off = ip.payloadOffset
    v.protocol = ip.protocol
    const firstFragment = !ip.isFragment || ip.fragOffset === 0
    if (ip.protocol === IpProto.ICMPV6 && firstFragment && v.l3End - v.l4Off >= 1) {
      const type = buf[v.l4Off + Icmpv6.TYPE]
      if (type >= ICMPV6_ROUTER_SOLICIT && type <= ICMPV6_REDIRECT) return this.ndFromPort(t, buf, v, srcHi, srcLo)
    }
    const eth = this.eth
    // Link-local multicast (MLD, mDNS...): the port's MAC was checked; no CA to check.
    if (eth.dstIsGroup && (isLinkLocal6(buf, ip.srcOffset) || isUnspecified6(buf, ip.srcOffset))) return this.flood(t, v, FloodKind.ALL)
    if (!this.source6(t, v, buf, ip.srcOffset, srcHi, srcLo)) return drop(v, DropReason.SRC_IP_SPOOFED)
    if (eth.dstIsGroup) return this.flood(t, v, FloodKind.ALL)
    const vsid = v.vsid
    v.stage = Stage.GATEWAY
    const dstOff = ip.dstOffset
    const gateway = t.gateway6(vsid, buf, dstOff)
    if (gateway !== NONE) return this.gateway6(t, v, gateway)
    const action = this.route6(t, vsid, buf, dstOff, eth.dstHi, eth.dstLo, ip.hopLimit, v)
    if (action === Action.ENCAP) {
      // IPv6 is never fragmented on the way (RFC 8200 §5): the sender learns the MTU instead.
      if (!this.fits(t, v)) return this.tooBig(t, v)
      if (t.ports.mssClamp[v.inPort] === 1) this.clampMss(v, t.pas.family[v.pa])
      let sport = 0
      let dport = 0
      if ((ip.protocol === IpProto.TCP || ip.protocol === IpProto.UDP) && !ip.isFragment && v.l3End - v.l4Off >= L4_PORTS_LEN) {
        sport = (buf[v.l4Off + Tcp.SRC_PORT] << 8) | buf[v.l4Off + Tcp.SRC_PORT + 1]
        dport = (buf[v.l4Off + Tcp.DST_PORT] << 8) | buf[v.l4Off + Tcp.DST_PORT + 1]
      }
      v.flowId = flowIdOf(flowHashIpv6(buf, ip.srcOffset, ip.protocol, sport, dport))
    }
    return action
  }

  /**
   * ARP_ND_PROXY for ARP: requests answered from the table; in a VSID with L2Only records, a request
   * nobody's record answers goes to the L2Only VMs (FLOOD L2_ONLY), and an L2Only VM's reply goes back
   * to the asker (learning its address where the asker is).
   */
  private arpFromPort(t: ForwardingTable, buf: Buffer, v: Verdict, srcHi: number, srcLo: number): number {
    const arp = this.arp
    const code = arp.wrap(buf, v.l3Off, v.frameEnd)
    if (code !== 0) return malformed(v, code)
    v.l3End = v.l3Off + Arp.LEN
    if (arp.senderMacHi !== srcHi || arp.senderMacLo !== srcLo) return drop(v, DropReason.SRC_MAC_SPOOFED)
    const senderIp = arp.senderIp | 0
    // 0.0.0.0: an RFC 5227 probe, the ARP form of DAD's unspecified source.
    if (senderIp !== 0 && !this.source4(t, v, senderIp, srcHi, srcLo)) return drop(v, DropReason.SRC_IP_SPOOFED)
    v.stage = Stage.ARP_ND_PROXY
    const vsid = v.vsid
    const l2Only = t.wildcardRecord(vsid, srcHi, srcLo)
    const fromL2Only = l2Only !== NONE && t.records.type[l2Only] === RecordType.L2_ONLY
    if (arp.operation === ArpOp.REPLY && fromL2Only) return this.arpReplyFromL2Only(t, v, l2Only, senderIp)
    if (arp.operation !== ArpOp.REQUEST) return drop(v, DropReason.ARP_NOT_REQUEST)
    const target = arp.targetIp | 0
    const gateway = t.gateway4(vsid, target)
    const record = gateway === NONE ? t.record4(t.vsids.domain[vsid], target) : NONE
    const action = this.answerNeighbor(t, v, gateway, record, srcHi, srcLo, Reply.ARP)
    // Not a probe or an announcement (RFC 5227): those stay here, as for any VM.
    if (v.reason === DropReason.NEIGHBOR_UNKNOWN && senderIp !== 0 && target !== senderIp && this.hasL2OnlyTargets(t, v)) {
      v.reason = DropReason.NONE
      return this.flood(t, v, FloodKind.L2_ONLY)
    }
    return action
  }

  /** Whether an ARP request from port v.inPort (NONE: from the underlay) has an L2Only VM to go to. */
  private hasL2OnlyTargets(t: ForwardingTable, v: Verdict): boolean {
    const f = t.flood
    const vsid = v.vsid
    if (v.inPort !== NONE && f.l2PaStart[vsid + 1] > f.l2PaStart[vsid]) return true
    for (let i = f.l2PortStart[vsid]; i < f.l2PortStart[vsid + 1]; i++) if (f.l2Ports[i] !== v.inPort) return true
    return false
  }

  /**
   * FLOOD: copies of a broadcast or multicast frame (or an ARP request, kind L2_ONLY) to the VSID's other
   * ports and, from a port, its PAs; the engine walks t.flood. Dropped when there is nowhere to copy to.
   */
  private flood(t: ForwardingTable, v: Verdict, kind: number): number {
    v.stage = Stage.FLOOD
    v.flood = kind
    v.outVsid = v.vsid
    v.greVsid = t.vsids.value[v.vsid]
    v.flowId = 0
    const f = t.flood
    const vsid = v.vsid
    const l2 = kind === FloodKind.L2_ONLY
    const portStart = l2 ? f.l2PortStart : f.portStart
    const ports = l2 ? f.l2Ports : f.ports
    const paStart = l2 ? f.l2PaStart : f.paStart
    let targets = v.inPort === NONE ? 0 : paStart[vsid + 1] - paStart[vsid]
    for (let i = portStart[vsid]; i < portStart[vsid + 1]; i++) if (ports[i] !== v.inPort) targets++
    if (targets === 0) return drop(v, DropReason.FLOOD_NO_TARGET)
    v.action = Action.FLOOD
    return Action.FLOOD
  }

  /**
   * An L2Only VM's ARP reply (its own address, learned): to the asker, whose record gives MAC and PA;
   * delivered locally (and learned here) or encapsulated to the asker's host, which learns it there.
   */
  private arpReplyFromL2Only(t: ForwardingTable, v: Verdict, l2Only: number, senderIp: number): number {
    const arp = this.arp
    const records = t.records
    let asker = t.record4(t.vsids.domain[v.vsid], arp.targetIp | 0)
    if (asker !== NONE && (records.macHi[asker] !== arp.targetMacHi || records.macLo[asker] !== arp.targetMacLo)) asker = NONE
    const action = this.toAsker(t, v, asker)
    if (action === Action.DELIVER) this.learnFrom(t, v, senderIp, arp.senderMacHi, arp.senderMacLo, records.pa[l2Only])
    return action
  }

  /**
   * LEARN: sets v.learn when the table does not already hold this Dynamic record (a Static record of
   * the address wins: it is never replaced). A record already there goes in v.srcRecord, so that the
   * engine marks it used and it does not age.
   */
  private learnFrom(t: ForwardingTable, v: Verdict, ca: number, macHi: number, macLo: number, pa: number): void {
    if (ca === 0) return
    if (this.known(t, v, t.record4(t.vsids.domain[v.vsid], ca), macHi, macLo, pa)) return
    v.learn = true
    v.learnFamily = 4
    v.learnCa = ca
    v.learnMacHi = macHi
    v.learnMacLo = macLo
    v.learnPa = pa
  }

  /** learnFrom for the IPv6 address at `buf[off, off + 16)` (not a link-local one: no CA is). */
  private learnFrom6(t: ForwardingTable, v: Verdict, buf: Uint8Array, off: number, macHi: number, macLo: number, pa: number): void {
    if (isLinkLocal6(buf, off) || isUnspecified6(buf, off)) return
    if (this.known(t, v, t.record6(t.vsids.domain[v.vsid], buf, off), macHi, macLo, pa)) return
    v.learn = true
    v.learnFamily = 6
    v.learnCa = word(buf, off)
    v.learnCa1 = word(buf, off + 4)
    v.learnCa2 = word(buf, off + 8)
    v.learnCa3 = word(buf, off + 12)
    v.learnMacHi = macHi
    v.learnMacLo = macLo
    v.learnPa = pa
  }

  /** Whether record `known` already says what would be learned (or is Static, and stays). */
  private known(t: ForwardingTable, v: Verdict, known: number, macHi: number, macLo: number, pa: number): boolean {
    if (known === NONE) return false
    const records = t.records
    v.srcRecord = known
    if (records.type[known] !== RecordType.DYNAMIC) return true
    return records.macHi[known] === macHi && records.macLo[known] === macLo && records.pa[known] === pa && records.vsid[known] === v.vsid
  }

  /**
   * ARP inside NVGRE (reference/hnv.md §3.2, VSIDs with L2Only records): a request from a VM whose record
   * names the outer source goes to the local L2Only VMs; a reply from an L2Only VM of the outer source PA
   * is delivered to the asker and its address learned.
   */
  private arpFromUnderlay(t: ForwardingTable, buf: Buffer, v: Verdict): number {
    const arp = this.arp
    const code = arp.wrap(buf, v.l3Off, v.frameEnd)
    if (code !== 0) return malformed(v, code)
    v.l3End = v.l3Off + Arp.LEN
    const vsid = v.vsid
    const senderIp = arp.senderIp | 0
    const records = t.records
    if (arp.operation === ArpOp.REQUEST) {
      let sender = t.record4(t.vsids.domain[vsid], senderIp)
      if (sender === NONE || records.macHi[sender] !== arp.senderMacHi || records.macLo[sender] !== arp.senderMacLo) {
        sender = t.wildcardRecord(vsid, arp.senderMacHi, arp.senderMacLo)
      }
      if (sender === NONE) return drop(v, DropReason.UNKNOWN_SOURCE_CA)
      v.srcRecord = sender
      if (records.pa[sender] !== v.srcPa) return drop(v, DropReason.SOURCE_PA_MISMATCH)
      v.stage = Stage.ARP_ND_PROXY
      return this.flood(t, v, FloodKind.L2_ONLY)
    }
    if (arp.operation !== ArpOp.REPLY) return drop(v, DropReason.ARP_IN_NVGRE)
    v.stage = Stage.LEARN
    const l2Only = t.wildcardRecord(vsid, arp.senderMacHi, arp.senderMacLo)
    if (l2Only === NONE || records.type[l2Only] !== RecordType.L2_ONLY || records.pa[l2Only] !== v.srcPa) {
      return drop(v, DropReason.ARP_REPLY_NOT_L2ONLY)
    }
    v.srcRecord = l2Only
    const eth = this.eth
    const port = t.portByMac(vsid, eth.dstHi, eth.dstLo)
    if (port === NONE) return drop(v, DropReason.NO_PORT_FOR_MAC)
    v.outPort = port
    this.learnFrom(t, v, senderIp, arp.senderMacHi, arp.senderMacLo, v.srcPa)
    v.stage = Stage.LOCAL_DELIVERY
    v.action = Action.DELIVER
    return Action.DELIVER
  }

  /**
   * DHCP: a -Dhcp adapter's DISCOVER gets an OFFER and its REQUEST an ACK of its record's CA (a NAK when
   * it asks for another address), with the on-link route's mask and its gateway as router and server
   * identifier. RELEASE, DECLINE and INFORM, or a REQUEST for another server, get nothing.
   */
  private dhcpFromPort(t: ForwardingTable, buf: Buffer, v: Verdict, srcHi: number, srcLo: number): number {
    v.stage = Stage.DHCP
    const dhcp = this.dhcp
    const code = dhcp.wrap(buf, v.l4Off + Udp.HEADER_LEN, v.l3End)
    if (code !== 0) return malformed(v, code)
    if (dhcp.op !== BOOTREQUEST) return drop(v, DropReason.DHCP_IGNORED)
    if (dhcp.chaddrHi !== srcHi || dhcp.chaddrLo !== srcLo) return drop(v, DropReason.SRC_MAC_SPOOFED)
    const record = t.ports.dhcpRecord[v.inPort]
    if (record === NONE) return drop(v, DropReason.DHCP_NO_ADDRESS)
    v.dstRecord = record
    const ca = t.records.ca[record * 4] | 0
    const route = t.route4(t.vsids.domain[v.vsid], ca)
    if (route === NONE || t.routes.onLink[route] !== 1) return drop(v, DropReason.DHCP_NO_SUBNET)
    v.route = route
    const length = t.routes.length[route]
    const mask = length === 0 ? 0 : (-1 << (32 - length)) | 0
    const gateway = t.gateway4(t.routes.vsid[route], ((ca & mask) + 1) | 0)
    if (gateway === NONE) return drop(v, DropReason.DHCP_NO_SUBNET)
    v.gateway = gateway
    const type = dhcp.messageType
    if (type === DHCPDISCOVER) v.dhcpMessage = DHCPOFFER
    else if (type === DHCPREQUEST) {
      const server = dhcp.addressOption(DHCP_OPT_SERVER_ID) | 0
      if (server !== 0 && server !== (t.gateways.address[gateway * 4] | 0)) return drop(v, DropReason.DHCP_IGNORED)
      const requested = dhcp.addressOption(DHCP_OPT_REQUESTED_IP) | 0
      v.dhcpMessage = (requested !== 0 ? requested : dhcp.ciaddr | 0) === ca ? DHCPACK : DHCPNAK
    } else {
      return drop(v, DropReason.DHCP_IGNORED)
    }
    return this.replyTo(v, Reply.DHCP, srcHi, srcLo, t.gateways.macHi[gateway], t.gateways.macLo[gateway])
  }

  /** PORT_SECURITY and ARP_ND_PROXY for ICMPv6 ND (types 133-137). */
  private ndFromPort(t: ForwardingTable, buf: Buffer, v: Verdict, srcHi: number, srcLo: number): number {
    const ip = this.ip6
    const icmp = this.icmp6
    const code = icmp.wrap(buf, v.l4Off, v.l3End)
    if (code !== 0) return malformed(v, code)
    if (ip.hopLimit !== ND_HOP_LIMIT) return malformed(v, 0)
    const src = ip.srcOffset
    if (!isUnspecified6(buf, src) && !isLinkLocal6(buf, src) && !this.source6(t, v, buf, src, srcHi, srcLo)) {
      return drop(v, DropReason.SRC_IP_SPOOFED)
    }
    v.stage = Stage.ARP_ND_PROXY
    const vsid = v.vsid
    if (icmp.type === ICMPV6_NEIGHBOR_ADVERT) {
      const l2Only = t.wildcardRecord(vsid, srcHi, srcLo)
      if (l2Only !== NONE && t.records.type[l2Only] === RecordType.L2_ONLY) {
        // An L2Only VM's answer: to the asker (by its MAC: it may have asked from a link-local address).
        const action = this.toAsker(t, v, t.flood.recordByMac.get3(vsid, this.eth.dstHi, this.eth.dstLo))
        if (action === Action.DELIVER) this.learnFrom6(t, v, buf, icmp.ndTargetOffset, srcHi, srcLo, t.records.pa[l2Only])
        return action
      }
    }
    if (icmp.type !== ICMPV6_NEIGHBOR_SOLICIT) return drop(v, DropReason.ND_NOT_SOLICITATION)
    const target = icmp.ndTargetOffset
    const gateway = t.gateway6(vsid, buf, target)
    const record = gateway === NONE ? t.record6(t.vsids.domain[vsid], buf, target) : NONE
    const action = this.answerNeighbor(t, v, gateway, record, srcHi, srcLo, Reply.NEIGHBOR_ADVERT)
    // As for ARP; not DAD (source ::).
    if (v.reason === DropReason.NEIGHBOR_UNKNOWN && !isUnspecified6(buf, src) && this.hasL2OnlyTargets(t, v)) {
      v.reason = DropReason.NONE
      return this.flood(t, v, FloodKind.L2_ONLY)
    }
    return action
  }

  /**
   * An L2Only VM's ARP reply or neighbor advertisement to the VM that asked (record `asker`, NONE when
   * none): delivered locally or encapsulated to the asker's PA. DELIVER means the caller learns here.
   */
  private toAsker(t: ForwardingTable, v: Verdict, asker: number): number {
    const records = t.records
    v.stage = Stage.RESOLVE
    if (asker === NONE || records.vsid[asker] !== v.vsid) return drop(v, DropReason.NO_RECORD)
    v.dstRecord = asker
    v.outVsid = v.vsid
    if (records.rule[asker] !== Translation.ENCAP) return drop(v, DropReason.TRANSLATION_UNSUPPORTED)
    const pa = records.pa[asker]
    v.pa = pa
    if (t.pas.local[pa] === 1) {
      v.stage = Stage.LOCAL_DELIVERY
      const port = t.portByMac(v.vsid, records.macHi[asker], records.macLo[asker])
      if (port === NONE) return drop(v, DropReason.NO_LOCAL_PORT)
      v.outPort = port
      v.action = Action.DELIVER
      return Action.DELIVER
    }
    v.stage = Stage.ENCAP
    v.greVsid = t.vsids.value[v.vsid]
    v.flowId = 0
    v.action = Action.ENCAP
    return Action.ENCAP
  }

  /**
   * ND inside NVGRE (VSIDs with L2Only records), as arpFromUnderlay: a solicitation from a VM of the outer
   * source PA goes to the local L2Only VMs; an L2Only VM's advertisement is delivered and its target learned.
   */
  private ndFromUnderlay(t: ForwardingTable, buf: Buffer, v: Verdict, group: boolean): number {
    const ip = this.ip6
    const icmp = this.icmp6
    v.l3End = ip.end
    v.l4Off = ip.payloadOffset
    v.protocol = IpProto.ICMPV6
    const code = icmp.wrap(buf, v.l4Off, v.l3End)
    if (code !== 0) return malformed(v, code)
    if (ip.hopLimit !== ND_HOP_LIMIT) return malformed(v, 0)
    const eth = this.eth
    const vsid = v.vsid
    const records = t.records
    if (icmp.type === ICMPV6_NEIGHBOR_SOLICIT) {
      let sender = t.record6(t.vsids.domain[vsid], buf, ip.srcOffset)
      if (sender === NONE || records.macHi[sender] !== eth.srcHi || records.macLo[sender] !== eth.srcLo) sender = t.flood.recordByMac.get3(vsid, eth.srcHi, eth.srcLo)
      if (sender === NONE) sender = t.wildcardRecord(vsid, eth.srcHi, eth.srcLo)
      if (sender === NONE) return drop(v, DropReason.UNKNOWN_SOURCE_CA)
      v.srcRecord = sender
      if (records.pa[sender] !== v.srcPa) return drop(v, DropReason.SOURCE_PA_MISMATCH)
      v.stage = Stage.ARP_ND_PROXY
      return this.flood(t, v, FloodKind.L2_ONLY)
    }
    v.stage = Stage.LEARN
    if (group) return drop(v, DropReason.ND_NOT_SOLICITATION)
    const l2Only = t.wildcardRecord(vsid, eth.srcHi, eth.srcLo)
    if (l2Only === NONE || records.type[l2Only] !== RecordType.L2_ONLY || records.pa[l2Only] !== v.srcPa) {
      return drop(v, DropReason.ARP_REPLY_NOT_L2ONLY)
    }
    v.srcRecord = l2Only
    this.learnFrom6(t, v, buf, icmp.ndTargetOffset, eth.srcHi, eth.srcLo, v.srcPa)
    v.stage = Stage.LOCAL_DELIVERY
    v.action = Action.DELIVER
    return Action.DELIVER
  }

  /** The answer to an ARP request or a neighbor solicitation: the gateway's MAC, or the record's. */
  private answerNeighbor(t: ForwardingTable, v: Verdict, gateway: number, record: number, askerHi: number, askerLo: number, reply: number): number {
    let hi: number
    let lo: number
    if (gateway !== NONE) {
      v.gateway = gateway
      hi = t.gateways.macHi[gateway]
      lo = t.gateways.macLo[gateway]
    } else {
      const records = t.records
      if (record === NONE || records.vsid[record] !== v.vsid) return drop(v, DropReason.NEIGHBOR_UNKNOWN)
      v.dstRecord = record
      hi = records.macHi[record]
      lo = records.macLo[record]
      // Gratuitous ARP, an ARP probe, DAD for its own address: answering would report a conflict.
      if (hi === askerHi && lo === askerLo) return drop(v, DropReason.NEIGHBOR_OWN_ADDRESS)
    }
    return this.replyTo(v, reply, askerHi, askerLo, hi, lo)
  }

  private replyTo(v: Verdict, reply: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number): number {
    v.action = Action.REPLY
    v.reply = reply
    v.outPort = v.inPort
    v.outVsid = v.vsid
    v.dstMacHi = dstHi
    v.dstMacLo = dstLo
    v.srcMacHi = srcHi
    v.srcMacLo = srcLo
    return Action.REPLY
  }

  /** GATEWAY: an echo request to a gateway address is answered; anything else to it is dropped. */
  private gateway4(t: ForwardingTable, v: Verdict, gateway: number): number {
    v.stage = Stage.GATEWAY
    v.gateway = gateway
    const ip = this.ip4
    const icmp = this.icmp4
    if (ip.protocol !== IpProto.ICMP || ip.isFragment || icmp.wrap(ip.buf, v.l4Off, v.l3End) !== 0 || icmp.type !== ICMPV4_ECHO_REQUEST || icmp.code !== 0) {
      return drop(v, DropReason.TO_GATEWAY)
    }
    return this.replyTo(v, Reply.ECHO, this.eth.srcHi, this.eth.srcLo, t.gateways.macHi[gateway], t.gateways.macLo[gateway])
  }

  private gateway6(t: ForwardingTable, v: Verdict, gateway: number): number {
    v.stage = Stage.GATEWAY
    v.gateway = gateway
    const ip = this.ip6
    const icmp = this.icmp6
    if (ip.protocol !== IpProto.ICMPV6 || ip.isFragment || icmp.wrap(ip.buf, v.l4Off, v.l3End) !== 0 || icmp.type !== ICMPV6_ECHO_REQUEST || icmp.code !== 0) {
      return drop(v, DropReason.TO_GATEWAY)
    }
    return this.replyTo(v, Reply.ECHO, this.eth.srcHi, this.eth.srcLo, t.gateways.macHi[gateway], t.gateways.macLo[gateway])
  }

  /**
   * ROUTE with UseExternalRouter (Set-NetVirtualizationGlobal): the distributed router does not route
   * between subnets, so a destination on-link in another subnet goes by the best route with a next hop,
   * the external router's. The router VM itself (its MAC holds a GatewayWildcard record) reaches every
   * subnet directly, or its forwarded packets would come back to it.
   */
  private toExternalRouter(t: ForwardingTable, v: Verdict, route: number): boolean {
    if (t.routes.onLink[route] !== 1 || t.routes.vsid[route] === v.vsid) return false
    const r = v.srcRecord
    if (r === NONE) return true
    const records = t.records
    const wildcard = records.type[r] === RecordType.GATEWAY_WILDCARD ? r : t.wildcardRecord(v.vsid, records.macHi[r], records.macLo[r])
    return wildcard === NONE || records.type[wildcard] !== RecordType.GATEWAY_WILDCARD
  }

  /** PORT_SECURITY for an IPv4 source: a CA of the adapter's records in its VSID, or a wildcard MAC. */
  private source4(t: ForwardingTable, v: Verdict, src: number, macHi: number, macLo: number): boolean {
    const record = t.record4(t.vsids.domain[v.vsid], src)
    return this.sourceRecord(t, v, record, macHi, macLo)
  }

  private source6(t: ForwardingTable, v: Verdict, buf: Uint8Array, srcOff: number, macHi: number, macLo: number): boolean {
    const record = t.record6(t.vsids.domain[v.vsid], buf, srcOff)
    return this.sourceRecord(t, v, record, macHi, macLo)
  }

  private sourceRecord(t: ForwardingTable, v: Verdict, record: number, macHi: number, macLo: number): boolean {
    const records = t.records
    if (record !== NONE && records.vsid[record] === v.vsid && records.macHi[record] === macHi && records.macLo[record] === macLo) {
      v.srcRecord = record
      return true
    }
    const wildcard = t.wildcardRecord(v.vsid, macHi, macLo)
    if (wildcard === NONE) return false
    v.srcRecord = wildcard
    return true
  }

  /**
   * RESOLVE: the next hop's record gives MAC, VSID and PA; then routed or bridged, local or encapsulated.
   * Traffic to a gateway address never leaves (the record Microsoft's samples give `.1` has PA
   * 169.254.254.254); TTL expiry while routing is answered with time exceeded from our gateway.
   */
  private resolve(t: ForwardingTable, v: Verdict, record: number, dstMacHi: number, dstMacLo: number, ttl: number): number {
    v.stage = Stage.RESOLVE
    if (record === NONE) return drop(v, DropReason.NO_RECORD)
    v.dstRecord = record
    const records = t.records
    if (records.gateway[record] !== NONE) return drop(v, DropReason.TO_GATEWAY)
    const outVsid = records.vsid[record]
    v.outVsid = outVsid
    v.greVsid = t.vsids.value[outVsid]
    const recordHi = records.macHi[record]
    const recordLo = records.macLo[record]
    const routed = outVsid !== v.vsid || t.gatewayByMac(v.vsid, dstMacHi, dstMacLo) !== NONE
    v.routed = routed
    if (routed) {
      v.stage = Stage.ROUTE
      if (ttl <= 1) return this.timeExceeded(t, v)
      routedMacs(t, v, record, outVsid)
      v.stage = Stage.RESOLVE
    } else if (dstMacHi !== recordHi || dstMacLo !== recordLo) {
      return drop(v, DropReason.DST_MAC_MISMATCH)
    }
    const rule = records.rule[record]
    if (rule === Translation.NONE) return drop(v, DropReason.TRANSLATION_UNSUPPORTED)
    const pa = records.pa[record]
    v.pa = pa
    if (t.pas.local[pa] === 1) {
      v.stage = Stage.LOCAL_DELIVERY
      const port = t.portByMac(outVsid, recordHi, recordLo)
      if (port === NONE) return drop(v, DropReason.NO_LOCAL_PORT)
      v.outPort = port
      v.action = Action.DELIVER
      return Action.DELIVER
    }
    if (rule === Translation.NAT) return this.rewriteOut(t, v)
    v.stage = Stage.ENCAP
    v.action = Action.ENCAP
    return Action.ENCAP
  }

  /**
   * IP_REWRITE on send: to a TranslationMethodNat record on another host, from a VM whose own record is
   * TranslationMethodNat too: source CA -> its PA (v.srcPa), destination CA -> the record's PA (v.pa),
   * sent as plain IP (nat.ts rewriteToPa). Both PAs must be of the packet's family.
   */
  private rewriteOut(t: ForwardingTable, v: Verdict): number {
    v.stage = Stage.IP_REWRITE
    const records = t.records
    const src = v.srcRecord
    if (src === NONE || records.rule[src] !== Translation.NAT) return drop(v, DropReason.NAT_RULE_MISMATCH)
    const srcPa = records.pa[src]
    v.srcPa = srcPa
    if (srcPa === NONE || t.pas.family[srcPa] !== v.family || t.pas.family[v.pa] !== v.family) return drop(v, DropReason.NAT_FAMILY_MISMATCH)
    // No transport checksum to patch in a non-first fragment.
    if (v.family === 4 ? this.ip4.isFragment && this.ip4.fragOffset !== 0 : this.ip6.isFragment && this.ip6.fragOffset !== 0) v.l4Off = 0
    v.action = Action.REWRITE
    return Action.REWRITE
  }

  /**
   * MTU: whether the frame, with the NVGRE header in front, fits the underlay of v.pa's family; sets
   * v.mtu, the inner IP MTU that leaves (underlay MTU - GRE - inner Ethernet: 1458 on a 1500-byte IPv4
   * link, reference/hnv.md §4).
   */
  private fits(t: ForwardingTable, v: Verdict): boolean {
    const limit = this.underlayMtu[t.pas.family[v.pa] === 6 ? 1 : 0]
    v.mtu = limit - NVGRE_HEADER_LEN - Eth.HEADER_LEN
    return (this.segmentLength !== 0 ? this.segmentLength : v.frameEnd - v.frameOff) + NVGRE_HEADER_LEN <= limit
  }

  /**
   * MSS clamping (Set-VMNetworkAdapter -MssClamp), for a frame of such an adapter leaving through, or
   * arriving from, the underlay of outer family `underlay`: a TCP SYN (or SYN-ACK) gets v.mss, the MSS that
   * fits that underlay (RFC 9293 §3.7.1: inner MTU - 40 for IPv4, - 60 for IPv6), for clampMss to apply.
   */
  private clampMss(v: Verdict, underlay: number): void {
    let buf: Buffer
    let l4: number
    let end: number
    if (v.family === 4) {
      const ip = this.ip4
      if (ip.protocol !== IpProto.TCP || ip.isFragment) return
      buf = ip.buf
      l4 = ip.payloadOffset
      end = ip.end
    } else {
      const ip = this.ip6
      if (ip.protocol !== IpProto.TCP || ip.isFragment) return
      buf = ip.buf
      l4 = ip.payloadOffset
      end = ip.end
    }
    if (end - l4 < Tcp.HEADER_LEN || (buf[l4 + Tcp.FLAGS] & TcpFlag.SYN) === 0) return
    v.l4Off = l4
    v.l3End = end
    const inner = this.underlayMtu[underlay === 6 ? 1 : 0] - NVGRE_HEADER_LEN - Eth.HEADER_LEN
    v.mss = inner - (v.family === 4 ? Ipv4.HEADER_LEN : Ipv6.HEADER_LEN) - Tcp.HEADER_LEN
  }

  /**
   * MTU: too big and not to be fragmented (IPv4 with DF, any IPv6): fragmentation-needed / packet-too-big
   * with v.mtu goes back from the ingress subnet's gateway (RFC 1191 §4, RFC 4443 §3.2); the packet is
   * dropped (too-big). No gateway of that family: dropped alone.
   */
  private tooBig(t: ForwardingTable, v: Verdict): number {
    v.stage = Stage.MTU
    v.reason = DropReason.TOO_BIG
    const gateway = v.family === 4 ? t.vsids.gateway4[v.vsid] : t.vsids.gateway6[v.vsid]
    if (gateway === NONE) return drop(v, DropReason.TOO_BIG)
    v.gateway = gateway
    return this.replyTo(v, Reply.PACKET_TOO_BIG, this.eth.srcHi, this.eth.srcLo, t.gateways.macHi[gateway], t.gateways.macLo[gateway])
  }

  /** ROUTE: an expiring TTL / hop limit; time exceeded goes back from the ingress subnet's gateway. */
  private timeExceeded(t: ForwardingTable, v: Verdict): number {
    v.reason = DropReason.TTL_EXPIRED
    const gateway = v.family === 4 ? t.vsids.gateway4[v.vsid] : t.vsids.gateway6[v.vsid]
    if (gateway === NONE) return drop(v, DropReason.TTL_EXPIRED)
    v.gateway = gateway
    return this.replyTo(v, Reply.TIME_EXCEEDED, this.eth.srcHi, this.eth.srcLo, t.gateways.macHi[gateway], t.gateways.macLo[gateway])
  }
}
