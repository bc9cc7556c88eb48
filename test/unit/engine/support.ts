// Policies and frames for the engine tests. Frames are built with the wire layer's emitters (whose own
// tests check them against scapy); replies are read back with its parsers.
import {
  ArpOp,
  ChecksumMode,
  emitArp,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  emitIpv4,
  emitIpv6,
  emitNvgre,
  emitUdp,
  EtherType,
  ICMPV4_ECHO_REPLY,
  ICMPV4_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_NEIGHBOR_SOLICIT,
  IpProto,
  ipv4FromString,
  ipv4PseudoSum,
  ipv4ToString,
  ipv6PseudoSum,
  parseEthernet,
  parseIcmpv4,
  parseIcmpv6,
  parseIpv4,
  parseIpv6,
  type Icmpv4Repr,
  type Icmpv6Repr,
} from '../../../src/lib/wire/index.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'

export const BLUE_RDID = '{11111111-2222-3333-4444-000000005001}'
export const RED_RDID = '{11111111-2222-3333-4444-000000006001}'
export const GREEN_RDID = '{11111111-2222-3333-4444-000000007001}'
export const HOST1_PA = '198.51.100.11'
export const HOST2_PA = '198.51.100.22'
export const HOST1_PA6 = '2001:db8::11'
export const HOST2_PA6 = '2001:db8::22'

/** 6-byte MAC text (12 hex digits) -> 'aa:bb:..' for the emitters. */
export function colon(mac: string): string {
  return mac.toLowerCase().match(/../g)!.join(':')
}

export interface Vm {
  vm: string
  iface: string
  mac: string
  vsid: number
  host: 1 | 2
  ca4?: string
  ca6?: string
  /** PA family of its records (default 4). */
  paFamily?: 4 | 6
}

/**
 * The test topology. Blue (two subnets: 5001 10.0.0.0/24 + fd01:5001::/64 with a `.1` record, 5002
 * 10.0.1.0/24 without), Red (6001, the same addresses as Blue 5001), Green (7001 over IPv6 PAs).
 */
export const VMS: Record<string, Vm> = {
  blue1: {vm: 'Blue1', iface: 'hnv-blue1', mac: '060600000005', vsid: 5001, host: 1, ca4: '10.0.0.5', ca6: 'fd01:5001::5'},
  blue2: {vm: 'Blue2', iface: 'hnv-blue2', mac: '060600000007', vsid: 5001, host: 2, ca4: '10.0.0.7', ca6: 'fd01:5001::7'},
  blue3: {vm: 'Blue3', iface: 'hnv-blue3', mac: '060600010009', vsid: 5002, host: 2, ca4: '10.0.1.9', ca6: 'fd01:5002::9'},
  blue4: {vm: 'Blue4', iface: 'hnv-blue4', mac: '060600010004', vsid: 5002, host: 1, ca4: '10.0.1.4'},
  blue6: {vm: 'Blue6', iface: 'hnv-blue6', mac: '060600000006', vsid: 5001, host: 1, ca4: '10.0.0.6'},
  red1: {vm: 'Red1', iface: 'hnv-red1', mac: '080800000005', vsid: 6001, host: 1, ca4: '10.0.0.5'},
  red2: {vm: 'Red2', iface: 'hnv-red2', mac: '080800000007', vsid: 6001, host: 2, ca4: '10.0.0.7'},
  green1: {vm: 'Green1', iface: 'hnv-green1', mac: '0a0a00000005', vsid: 7001, host: 1, ca4: '10.7.0.5', ca6: 'fd01:7001::5', paFamily: 6},
  green2: {vm: 'Green2', iface: 'hnv-green2', mac: '0a0a00000007', vsid: 7001, host: 2, ca4: '10.7.0.7', ca6: 'fd01:7001::7', paFamily: 6},
}

/** Blue 5001's gateway record, as Microsoft's samples write it (PA 169.254.254.254). */
export const BLUE_GATEWAY_MAC = '060600000001'
/** Generated router MACs (02:6E:76 + VSID) of the subnets without a `.1` record. */
export const BLUE_5001_MAC6 = '026E76001389'
export const BLUE_5002_MAC = '026E7600138A'
/** A third host's PA, named only by a record (Blue7, 10.0.0.9). */
export const HOST3_PA = '198.51.100.33'
/** A record with this host's PA but no adapter (Ghost, 10.0.0.8 on host1). */
export const GHOST_CA = '10.0.0.8'

function pa(vm: Vm): string {
  return vm.paFamily === 6 ? (vm.host === 1 ? HOST1_PA6 : HOST2_PA6) : vm.host === 1 ? HOST1_PA : HOST2_PA
}

export function record(ca: string, vsid: number, mac: string, providerAddress: string, vmName: string | null, type = 'Static') {
  return {CustomerAddress: ca, VirtualSubnetID: vsid, MACAddress: mac.toUpperCase(), ProviderAddress: providerAddress, CustomerID: null, Context: null, Rule: 'TranslationMethodEncap', VMName: vmName, UseVmMACAddress: false, Type: type}
}

export function route(rdid: string, vsid: number, prefix: string, nextHop: string, metric = 255) {
  return {RoutingDomainID: rdid, VirtualSubnetID: vsid, DestinationPrefix: prefix, NextHop: nextHop, Metric: metric}
}

/** The whole topology as `hnv policy export` writes it, for one host. */
export function topology(host: 1 | 2): PolicyDocument {
  const records = Object.values(VMS).flatMap((vm) => [
    ...(vm.ca4 ? [record(vm.ca4, vm.vsid, vm.mac, pa(vm), vm.vm)] : []),
    ...(vm.ca6 ? [record(vm.ca6, vm.vsid, vm.mac, pa(vm), vm.vm)] : []),
  ])
  records.push(record('10.0.0.1', 5001, BLUE_GATEWAY_MAC, '169.254.254.254', null))
  records.push(record(GHOST_CA, 5001, '060600000008', HOST1_PA, 'Ghost'))
  records.push(record('10.0.0.9', 5001, '060600000009', HOST3_PA, 'Blue7'))
  return {
    Version: 1,
    Global: {UseExternalRouter: false},
    LookupRecords: records,
    CustomerRoutes: [
      route(BLUE_RDID, 5001, '10.0.0.0/24', '0.0.0.0'),
      route(BLUE_RDID, 5001, 'fd01:5001::/64', '::'),
      route(BLUE_RDID, 5002, '10.0.1.0/24', '0.0.0.0'),
      route(BLUE_RDID, 5002, 'fd01:5002::/64', '::'),
      route(RED_RDID, 6001, '10.0.0.0/24', '0.0.0.0'),
      route(GREEN_RDID, 7001, '10.7.0.0/24', '0.0.0.0'),
      route(GREEN_RDID, 7001, 'fd01:7001::/64', '::'),
    ],
    ProviderAddresses: [
      {ProviderAddress: host === 1 ? HOST1_PA : HOST2_PA, InterfaceIndex: 2, PrefixLength: 24, VlanID: 0, AddressState: 'Preferred', MACAddress: null, ManagedByCluster: false},
      {ProviderAddress: host === 1 ? HOST1_PA6 : HOST2_PA6, InterfaceIndex: 2, PrefixLength: 64, VlanID: 0, AddressState: 'Preferred', MACAddress: null, ManagedByCluster: false},
    ],
    ProviderRoutes: [],
    VMNetworkAdapters: [
      ...Object.values(VMS)
        .filter((vm) => vm.host === host)
        .map((vm) => ({VMName: vm.vm, Name: 'Network Adapter', MacAddress: vm.mac.toUpperCase(), VirtualSubnetId: vm.vsid, SwitchName: null, InterfaceName: vm.iface})),
      ...(host === 1 ? [{VMName: 'Plain', Name: 'Network Adapter', MacAddress: '00155D000099', VirtualSubnetId: 0, SwitchName: null, InterfaceName: 'hnv-plain'}] : []),
    ],
  }
}

// ---- frames ----

const HEADROOM = 0

function frame(dst: string, src: string, etherType: number, payloadLen: number, write: (buf: Buffer, off: number) => void): Buffer {
  const buf = Buffer.alloc(HEADROOM + 14 + payloadLen)
  emitEthernet({dst: colon(dst), src: colon(src), etherType}, buf, HEADROOM)
  write(buf, HEADROOM + 14)
  return buf
}

export interface Ip4Options {
  src: string
  dst: string
  ttl?: number
  protocol?: number
  /** Raw L4 bytes (default: an echo request, id 0x1234 seq 1, 16 bytes of data). */
  l4?: (buf: Buffer, off: number, src: number, dst: number) => number
  l4Len?: number
}

export function echo4(ident = 0x1234, seq = 1, data = Buffer.from('hnv-ping-payload')): {l4: NonNullable<Ip4Options['l4']>; l4Len: number; protocol: number} {
  const repr: Icmpv4Repr = {type: ICMPV4_ECHO_REQUEST, code: 0, ident, seq, data}
  return {l4: (buf, off) => emitIcmpv4(repr, buf, off), l4Len: 8 + data.length, protocol: IpProto.ICMP}
}

export function udp4(sport: number, dport: number, payload = Buffer.alloc(18, 0x55)): {l4: NonNullable<Ip4Options['l4']>; l4Len: number; protocol: number} {
  return {
    l4: (buf, off, src, dst) => {
      buf.set(payload, off + 8)
      return emitUdp({srcPort: sport, dstPort: dport, payloadLen: payload.length}, buf, off, ipv4PseudoSum(src, dst, IpProto.UDP))
    },
    l4Len: 8 + payload.length,
    protocol: IpProto.UDP,
  }
}

/** An Ethernet + IPv4 frame (default: ICMP echo request). */
export function ipv4Frame(dstMac: string, srcMac: string, o: Ip4Options): Buffer {
  const l4 = o.l4 ?? echo4().l4
  const l4Len = o.l4Len ?? echo4().l4Len
  const protocol = o.protocol ?? IpProto.ICMP
  const src = ipv4FromString(o.src)
  const dst = ipv4FromString(o.dst)
  return frame(dstMac, srcMac, EtherType.IPV4, 20 + l4Len, (buf, off) => {
    emitIpv4({src, dst, protocol, ttl: o.ttl ?? 64, tos: 0, ident: 7, dontFrag: true, moreFrags: false, fragOffset: 0, payloadLen: l4Len, options: new Uint8Array(0)}, buf, off)
    l4(buf, off + 20, src, dst)
  })
}

export function ping4(from: Vm, dstMac: string, dst: string, ttl = 64): Buffer {
  return ipv4Frame(dstMac, from.mac, {src: from.ca4!, dst, ttl, ...echo4()})
}

export function arpRequest(senderMac: string, senderIp: string, targetIp: string, ethSrc = senderMac): Buffer {
  return frame('ffffffffffff', ethSrc, EtherType.ARP, 28, (buf, off) => {
    emitArp({operation: ArpOp.REQUEST, senderMac: colon(senderMac), senderIp: ipv4FromString(senderIp), targetMac: '00:00:00:00:00:00', targetIp: ipv4FromString(targetIp)}, buf, off)
  })
}

/** An Ethernet + IPv6 frame carrying an ICMPv6 message. */
export function icmp6Frame(dstMac: string, srcMac: string, src: string, dst: string, repr: Icmpv6Repr, hopLimit = 64): Buffer {
  const probe = Buffer.alloc(2000)
  const len = emitIcmpv6(repr, probe, 40, 0)
  return frame(dstMac, srcMac, EtherType.IPV6, 40 + len, (buf, off) => {
    emitIpv6({src, dst, nextHeader: IpProto.ICMPV6, hopLimit, trafficClass: 0, flowLabel: 0, payloadLen: len}, buf, off)
    emitIcmpv6(repr, buf, off + 40, ipv6PseudoSum(buf, off + 8, off + 24, IpProto.ICMPV6), ChecksumMode.COMPUTE)
  })
}

export function ping6(from: Vm, dstMac: string, dst: string, hopLimit = 64): Buffer {
  return icmp6Frame(dstMac, from.mac, from.ca6!, dst, {type: ICMPV6_ECHO_REQUEST, code: 0, ident: 0x66, seq: 1, data: Buffer.from('hnv-ping6')}, hopLimit)
}

/** A neighbor solicitation for `target` from `src` (:: for DAD), to the solicited-node group. */
export function neighborSolicit(srcMac: string, src: string, target: string): Buffer {
  const t = target.split(':').pop()!.padStart(4, '0')
  const group = 'ff02::1:ff00:' + t
  const groupMac = '3333ff00' + t
  const repr: Icmpv6Repr = src === '::' ? {type: ICMPV6_NEIGHBOR_SOLICIT, code: 0, target} : {type: ICMPV6_NEIGHBOR_SOLICIT, code: 0, target, sourceLla: colon(srcMac)}
  return icmp6Frame(groupMac, srcMac, src, group, repr, 255)
}

/** GRE (NVGRE) + inner frame, as the underlay delivers it. */
export function nvgre(vsid: number, flowId: number, inner: Buffer, flags?: number): Buffer {
  const buf = Buffer.alloc(8 + inner.length)
  emitNvgre({vsid, flowId}, buf, 0)
  if (flags !== undefined) buf.writeUInt16BE(flags, 0)
  inner.copy(buf, 8)
  return buf
}

const hex = (colonMac: string) => colonMac.replace(/:/g, '')

/** What the VM's own stack sends back for an echo request (IPv4): addresses and MACs swapped. */
export function answerPing4(request: Buffer): Buffer {
  const eth = parseEthernet(request, 0, request.length)
  const ip = parseIpv4(request, 14, request.length)
  const icmp = parseIcmpv4(request, 14 + 20, 14 + 20 + ip.payloadLen)
  if (icmp.type !== ICMPV4_ECHO_REQUEST) throw new Error('not an echo request')
  const answer: Icmpv4Repr = {...icmp, type: ICMPV4_ECHO_REPLY}
  return ipv4Frame(hex(eth.src), hex(eth.dst), {src: ipv4ToString(ip.dst), dst: ipv4ToString(ip.src), protocol: IpProto.ICMP, l4: (buf, off) => emitIcmpv4(answer, buf, off), l4Len: 8 + icmp.data.length})
}

/** The same for ICMPv6. */
export function answerPing6(request: Buffer): Buffer {
  const eth = parseEthernet(request, 0, request.length)
  const ip = parseIpv6(request, 14, request.length)
  const icmp = parseIcmpv6(request, 54, 54 + ip.payloadLen)
  if (icmp.type !== ICMPV6_ECHO_REQUEST) throw new Error('not an echo request')
  return icmp6Frame(hex(eth.src), hex(eth.dst), ip.dst, ip.src, {...icmp, type: ICMPV6_ECHO_REPLY})
}
