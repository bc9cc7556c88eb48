// The forwarding rules of reference/hnv.md §3, one case each: the decision (Pipeline + Verdict, as trace
// will call it), then the bytes the Engine sends (replies, routed rewrites, NVGRE) and the drop counters.
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {ACTION_NAMES, Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {dropReasonName, replyName, stageName} from '../../../src/lib/engine/stages.js'
import {macText, NONE, type ForwardingTable} from '../../../src/lib/engine/table.js'
import {
  ArpOp,
  ChecksumMode,
  emitArp,
  emitUdp,
  emitEthernet,
  EtherType,
  flowHashIpv4,
  GreFlag,
  ICMPV4_ECHO_REPLY,
  ICMPV4_TIME_EXCEEDED,
  ICMPV6_ECHO_REPLY,
  ICMPV6_NEIGHBOR_ADVERT,
  ICMPV6_ROUTER_SOLICIT,
  ICMPV6_TIME_EXCEEDED,
  IpProto,
  ipv4FromString,
  ipv4PseudoSum,
  ipv4ToString,
  ipv6PseudoSum,
  ND_NA_FLAG_OVERRIDE,
  ND_NA_FLAG_ROUTER,
  ND_NA_FLAG_SOLICITED,
  parseArp,
  parseEthernet,
  parseIcmpv4,
  parseIcmpv6,
  parseIpv4,
  parseIpv6,
  parseNvgre,
  parseUdp,
} from '../../../src/lib/wire/index.js'
import {MemoryPort} from '../../support/memory-port.js'
import {addressBlock, MemoryUnderlay} from '../../support/memory-underlay.js'
import {
  arpRequest,
  BLUE_5001_MAC6,
  BLUE_5002_MAC,
  BLUE_GATEWAY_MAC,
  colon,
  GHOST_CA,
  HOST1_PA,
  HOST1_PA6,
  HOST2_PA,
  HOST2_PA6,
  HOST3_PA,
  icmp6Frame,
  ipv4Frame,
  neighborSolicit,
  nvgre,
  ping4,
  ping6,
  record,
  topology,
  udp4,
  VMS,
} from './support.js'

const {blue1, blue2, blue3, blue4, blue6, red1, red2, green1, green2} = VMS
const GW = BLUE_GATEWAY_MAC
const t1 = compile(topology(1), 1)
const pipeline = new Pipeline()
const v = new Verdict()

function summary(t: ForwardingTable) {
  return {
    action: ACTION_NAMES[v.action],
    stage: stageName(v.stage),
    reason: dropReasonName(v.reason),
    reply: replyName(v.reply),
    routed: v.routed,
    outPort: v.outPort === NONE ? null : t.ports.name[v.outPort],
    pa: v.pa === NONE ? null : t.pas.text[v.pa],
    greVsid: v.greVsid,
    answer: macText(v.srcMacHi, v.srcMacLo),
  }
}

function fromPort(iface: string, frame: Buffer, t = t1) {
  pipeline.fromPort(t, t.portIndex(iface), frame, 0, frame.length, v)
  return summary(t)
}

function fromUnderlay(family: 4 | 6, source: string, destination: string, packet: Buffer, t = t1) {
  const addrs = new Uint8Array(32)
  addrs.set(addressBlock(source), 0)
  addrs.set(addressBlock(destination), 16)
  pipeline.fromUnderlay(t, family, packet, 0, packet.length, addrs, 0, v)
  return summary(t)
}

function tagged(frame: Buffer): Buffer {
  const out = Buffer.alloc(frame.length + 4)
  const eth = parseEthernet(frame, 0, frame.length)
  emitEthernet({...eth, vlan: {pcp: 0, dei: false, vid: 10}}, out, 0)
  frame.copy(out, 18, 14)
  return out
}

function arpReplyFrame(): Buffer {
  const buf = Buffer.alloc(42)
  emitEthernet({dst: colon(blue2.mac), src: colon(blue1.mac), etherType: EtherType.ARP}, buf, 0)
  emitArp({operation: ArpOp.REPLY, senderMac: colon(blue1.mac), senderIp: ipv4FromString('10.0.0.5'), targetMac: colon(blue2.mac), targetIp: ipv4FromString('10.0.0.7')}, buf, 14)
  return buf
}

const encap = (pa: string, greVsid: number, routed = false) => ({action: 'encap', stage: 'encap', reason: 'none', pa, greVsid, routed})
const deliver = (outPort: string, routed = false) => ({action: 'deliver', stage: 'local-delivery', reason: 'none', outPort, routed})
const dropped = (reason: string, stage: string) => ({action: 'drop', reason, stage})
const reply = (kind: string, answer: string, stage = 'arp-nd-proxy') => ({action: 'reply', reply: kind, answer: answer.toUpperCase(), stage, routed: false})

describe('from a VM port: forwarding', () => {
  it.each([
    ['to a remote VM of the subnet: NVGRE to its PA', 'hnv-blue1', () => ping4(blue1, blue2.mac, '10.0.0.7'), encap(HOST2_PA, 5001)],
    ['to a local VM of the subnet: delivered, never encapsulated', 'hnv-blue1', () => ping4(blue1, blue6.mac, '10.0.0.6'), deliver('hnv-blue6')],
    ['to a local VM of another subnet via the gateway MAC: routed', 'hnv-blue1', () => ping4(blue1, GW, '10.0.1.4'), deliver('hnv-blue4', true)],
    ['to a remote VM of another subnet: routed, VSID of the destination', 'hnv-blue1', () => ping4(blue1, GW, '10.0.1.9'), encap(HOST2_PA, 5002, true)],
    ['to another subnet even at the record MAC: routed', 'hnv-blue1', () => ping4(blue1, blue3.mac, '10.0.1.9'), encap(HOST2_PA, 5002, true)],
    ['within the subnet to the gateway MAC: routed', 'hnv-blue1', () => ping4(blue1, GW, '10.0.0.7'), encap(HOST2_PA, 5001, true)],
    ['IPv6 CA over an IPv4 PA', 'hnv-blue1', () => ping6(blue1, blue2.mac, 'fd01:5001::7'), encap(HOST2_PA, 5001)],
    ['IPv4 CA over an IPv6 PA', 'hnv-green1', () => ping4(green1, green2.mac, '10.7.0.7'), encap(HOST2_PA6, 7001)],
    ['IPv6 CA over an IPv6 PA', 'hnv-green1', () => ping6(green1, green2.mac, 'fd01:7001::7'), encap(HOST2_PA6, 7001)],
    ['Red to its own 10.0.0.7: Red2, never Blue2', 'hnv-red1', () => ping4(red1, red2.mac, '10.0.0.7'), encap(HOST2_PA, 6001)],
    ['TTL 1 within the subnet: bridged, not expired', 'hnv-blue1', () => ping4(blue1, blue2.mac, '10.0.0.7', 1), encap(HOST2_PA, 5001)],
  ])('%s', (_name, iface, frame, expected) => {
    expect(fromPort(iface, frame())).toMatchObject(expected)
  })
})

describe('from a VM port: drops', () => {
  it.each([
    ['no customer route', 'hnv-blue1', () => ping4(blue1, GW, '10.200.0.1'), dropped('no-route', 'route')],
    ['no lookup record for the next hop', 'hnv-blue1', () => ping4(blue1, blue2.mac, '10.0.0.99'), dropped('no-record', 'resolve')],
    ['a local PA but no adapter with that MAC', 'hnv-blue1', () => ping4(blue1, '060600000008', GHOST_CA), dropped('no-local-port', 'local-delivery')],
    ["within the subnet, a MAC that is not the record's", 'hnv-blue1', () => ping4(blue1, blue6.mac, '10.0.0.7'), dropped('dst-mac-mismatch', 'resolve')],
    ["a source MAC not the adapter's", 'hnv-blue1', () => ipv4Frame(blue2.mac, '060600000099', {src: '10.0.0.5', dst: '10.0.0.7'}), dropped('src-mac-spoofed', 'port-security')],
    ["a source CA of another VM of the subnet", 'hnv-blue1', () => ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.0.7', dst: '10.0.0.7'}), dropped('src-ip-spoofed', 'port-security')],
    ['a source CA of another subnet', 'hnv-blue1', () => ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.1.4', dst: '10.0.0.7'}), dropped('src-ip-spoofed', 'port-security')],
    ['an IPv6 source that is not its CA', 'hnv-blue1', () => icmp6Frame(blue2.mac, blue1.mac, 'fd01:5001::99', 'fd01:5001::7', {type: 128, code: 0, ident: 1, seq: 1, data: Buffer.alloc(4)}), dropped('src-ip-spoofed', 'port-security')],
    ['a link-local IPv6 source outside ND', 'hnv-blue1', () => icmp6Frame(blue2.mac, blue1.mac, 'fe80::5', 'fd01:5001::7', {type: 128, code: 0, ident: 1, seq: 1, data: Buffer.alloc(4)}), dropped('src-ip-spoofed', 'port-security')],
    ['an 802.1Q-tagged frame', 'hnv-blue1', () => tagged(ping4(blue1, blue2.mac, '10.0.0.7')), dropped('vlan-tagged', 'port-ingress')],
    ['neither IP nor ARP (LLDP)', 'hnv-blue1', () => Buffer.concat([Buffer.from('0180c200000e' + blue1.mac + '88cc', 'hex'), Buffer.alloc(46)]), dropped('not-ip', 'port-security')],
    ['IPv4 broadcast (DHCP discover)', 'hnv-blue1', () => ipv4Frame('ffffffffffff', blue1.mac, {src: '0.0.0.0', dst: '255.255.255.255', ...udp4(68, 67)}), dropped('src-ip-spoofed', 'port-security')],
    ['a truncated Ethernet header', 'hnv-blue1', () => Buffer.alloc(10), dropped('malformed', 'port-ingress')],
    ['a truncated IPv4 packet', 'hnv-blue1', () => ping4(blue1, blue2.mac, '10.0.0.7').subarray(0, 30), dropped('malformed', 'port-security')],
    ['an adapter with VirtualSubnetId 0', 'hnv-plain', () => ipv4Frame(blue2.mac, '00155d000099', {src: '10.0.0.50', dst: '10.0.0.7'}), dropped('port-not-virtualized', 'port-ingress')],
    ['a port the table does not name', 'hnv-stranger', () => ping4(blue1, blue2.mac, '10.0.0.7'), dropped('port-unknown', 'port-ingress')],
  ])('%s', (_name, iface, frame, expected) => {
    expect(fromPort(iface, frame())).toMatchObject(expected)
  })

  it.each([
    ['TranslationMethodNone', 'translation-unsupported', 'resolve'],
    // IP rewrite needs the sender's PA too (nat.test.ts covers NAT to NAT).
    ['TranslationMethodNat', 'nat-rule-mismatch', 'ip-rewrite'],
  ])('drops from an Encap VM to a %s record', (rule, reason, stage) => {
    const doc = topology(1)
    const records = (doc.LookupRecords as Record<string, unknown>[]).map((r) => (r.CustomerAddress === '10.0.0.7' ? {...r, Rule: rule} : r))
    const t = compile({...doc, LookupRecords: records}, 2)
    expect(fromPort('hnv-blue1', ping4(blue1, blue2.mac, '10.0.0.7'), t)).toMatchObject(dropped(reason, stage))
  })
})

describe('from a VM port: the gateway', () => {
  it.each([
    ['an echo request to 10.0.0.1 is answered', () => ping4(blue1, GW, '10.0.0.1'), reply('echo-reply', GW, 'gateway')],
    ["an echo request to another subnet's gateway 10.0.1.1 is answered", () => ping4(blue1, GW, '10.0.1.1'), reply('echo-reply', BLUE_5002_MAC, 'gateway')],
    ['an echo request to fd01:5001::1 is answered', () => ping6(blue1, BLUE_5001_MAC6, 'fd01:5001::1'), reply('echo-reply', BLUE_5001_MAC6, 'gateway')],
    ['TTL 1 while routing: time exceeded from the gateway', () => ping4(blue1, GW, '10.0.1.9', 1), {...reply('time-exceeded', GW, 'route'), reason: 'ttl-expired', routed: true}],
    ['hop limit 1 while routing: ICMPv6 time exceeded', () => ping6(blue1, BLUE_5001_MAC6, 'fd01:5002::9', 1), {...reply('time-exceeded', BLUE_5001_MAC6, 'route'), reason: 'ttl-expired', routed: true}],
    ['UDP to the gateway address is dropped', () => ipv4Frame(GW, blue1.mac, {src: '10.0.0.5', dst: '10.0.0.1', ...udp4(5000, 53)}), dropped('to-gateway', 'gateway')],
  ])('%s', (_name, frame, expected) => {
    expect(fromPort('hnv-blue1', frame())).toMatchObject(expected)
  })

  it('never encapsulates to the PA of the .1 record (169.254.254.254)', () => {
    const doc = topology(1)
    const routes = [...(doc.CustomerRoutes as unknown[]), {RoutingDomainID: '{11111111-2222-3333-4444-000000005001}', VirtualSubnetID: 5001, DestinationPrefix: '10.99.0.0/16', NextHop: '10.0.0.1', Metric: 1}]
    const t = compile({...doc, CustomerRoutes: routes}, 2)
    expect(fromPort('hnv-blue1', ping4(blue1, GW, '10.99.0.1'), t)).toMatchObject(dropped('to-gateway', 'resolve'))
  })
})

describe('from a VM port: ARP and neighbor discovery answered by the host', () => {
  it.each([
    ['ARP for a CA of the subnet gets its MAC', 'hnv-blue1', () => arpRequest(blue1.mac, '10.0.0.5', '10.0.0.7'), reply('arp-reply', blue2.mac)],
    ['ARP for the gateway gets the .1 record MAC', 'hnv-blue1', () => arpRequest(blue1.mac, '10.0.0.5', '10.0.0.1'), reply('arp-reply', GW)],
    ['ARP for a generated gateway', 'hnv-blue4', () => arpRequest(blue4.mac, '10.0.1.4', '10.0.1.1'), reply('arp-reply', BLUE_5002_MAC)],
    ['Red asking for 10.0.0.7 learns Red2, not Blue2', 'hnv-red1', () => arpRequest(red1.mac, '10.0.0.5', '10.0.0.7'), reply('arp-reply', red2.mac)],
    ['NS for a CA of the subnet', 'hnv-blue1', () => neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::7'), reply('neighbor-advert', blue2.mac)],
    ['NS from a link-local source', 'hnv-blue1', () => neighborSolicit(blue1.mac, 'fe80::805:ff:fe00:5', 'fd01:5001::7'), reply('neighbor-advert', blue2.mac)],
    ['DAD (from ::) for an address in use', 'hnv-blue1', () => neighborSolicit(blue1.mac, '::', 'fd01:5001::7'), reply('neighbor-advert', blue2.mac)],
    ['NS for the gateway', 'hnv-blue1', () => neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::1'), reply('neighbor-advert', BLUE_5001_MAC6)],
  ])('%s', (_name, iface, frame, expected) => {
    expect(fromPort(iface, frame())).toMatchObject({...expected, outPort: iface})
  })

  it.each([
    ['ARP for an address without a record', () => arpRequest(blue1.mac, '10.0.0.5', '10.0.0.99'), 'neighbor-unknown'],
    ['ARP for a VM of another subnet', () => arpRequest(blue1.mac, '10.0.0.5', '10.0.1.4'), 'neighbor-unknown'],
    ["ARP for another subnet's gateway", () => arpRequest(blue1.mac, '10.0.0.5', '10.0.1.1'), 'neighbor-unknown'],
    ['gratuitous ARP', () => arpRequest(blue1.mac, '10.0.0.5', '10.0.0.5'), 'neighbor-own-address'],
    ['an ARP probe (sender 0.0.0.0)', () => arpRequest(blue1.mac, '0.0.0.0', '10.0.0.5'), 'neighbor-own-address'],
    ['DAD for its own address', () => neighborSolicit(blue1.mac, '::', 'fd01:5001::5'), 'neighbor-own-address'],
    ['NS for an unknown address', () => neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::99'), 'neighbor-unknown'],
    ['an ARP reply from the VM', () => arpReplyFrame(), 'arp-not-request'],
    ['a router solicitation', () => icmp6Frame('333300000002', blue1.mac, 'fe80::5', 'ff02::2', {type: ICMPV6_ROUTER_SOLICIT, code: 0, sourceLla: colon(blue1.mac)}, 255), 'nd-not-solicitation'],
  ])('%s: no answer', (_name, frame, reason) => {
    expect(fromPort('hnv-blue1', frame())).toMatchObject({action: 'drop', reason, stage: 'arp-nd-proxy'})
  })

  it.each([
    ['ARP with a sender IP that is not its CA', () => arpRequest(blue1.mac, '10.0.0.7', '10.0.0.6'), 'src-ip-spoofed'],
    ['ARP with a sender MAC other than the frame source', () => arpRequest('060600000099', '10.0.0.5', '10.0.0.7', blue1.mac), 'src-mac-spoofed'],
    ['NS from a global address that is not its CA', () => neighborSolicit(blue1.mac, 'fd01:5001::99', 'fd01:5001::7'), 'src-ip-spoofed'],
  ])('%s: dropped by port security', (_name, frame, reason) => {
    expect(fromPort('hnv-blue1', frame())).toMatchObject({action: 'drop', reason, stage: 'port-security'})
  })

  it('drops ND that did not come with hop limit 255 (RFC 4861 §7.1)', () => {
    const ns = icmp6Frame('3333ff000007', blue1.mac, 'fd01:5001::5', 'ff02::1:ff00:7', {type: 135, code: 0, target: 'fd01:5001::7', sourceLla: colon(blue1.mac)}, 64)
    expect(fromPort('hnv-blue1', ns)).toMatchObject(dropped('malformed', 'port-security'))
  })
})

describe('from the underlay: decapsulation checks', () => {
  const fromBlue2 = () => nvgre(5001, 0x42, ping4(blue2, blue1.mac, '10.0.0.5'))
  const flags = (bits: number) => nvgre(5001, 1, ping4(blue2, blue1.mac, '10.0.0.5'), bits)
  it.each([
    ['valid NVGRE from the source record PA is delivered', 4, HOST2_PA, HOST1_PA, fromBlue2, {action: 'deliver', stage: 'local-delivery', outPort: 'hnv-blue1'}],
    ['any FlowID is accepted (0)', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 0, ping4(blue2, blue1.mac, '10.0.0.5')), {action: 'deliver', outPort: 'hnv-blue1'}],
    ['any FlowID is accepted (255)', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 255, ping4(blue2, blue1.mac, '10.0.0.5')), {action: 'deliver', outPort: 'hnv-blue1'}],
    ['an IPv6 CA over IPv4', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 3, ping6(blue2, blue1.mac, 'fd01:5001::5')), {action: 'deliver', outPort: 'hnv-blue1'}],
    ['an IPv4 CA over IPv6', 6, HOST2_PA6, HOST1_PA6, () => nvgre(7001, 3, ping4(green2, green1.mac, '10.7.0.5')), {action: 'deliver', outPort: 'hnv-green1'}],
    ['routed by the sender (source CA of another subnet of the domain)', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 3, ipv4Frame(blue1.mac, GW, {src: '10.0.1.9', dst: '10.0.0.5'})), {action: 'deliver', outPort: 'hnv-blue1'}],
    ['to an address that is not a local PA', 4, HOST2_PA, HOST2_PA, fromBlue2, dropped('not-local-pa', 'decap-check')],
    ['with the C bit', 4, HOST2_PA, HOST1_PA, () => flags(GreFlag.CHECKSUM | GreFlag.KEY | 0), dropped('gre-checksum-bit', 'decap-check')],
    ['with the R bit', 4, HOST2_PA, HOST1_PA, () => flags(GreFlag.ROUTING | GreFlag.KEY), dropped('gre-routing-bit', 'decap-check')],
    ['without the K bit', 4, HOST2_PA, HOST1_PA, () => flags(0), dropped('gre-no-key', 'decap-check')],
    ['with the S bit', 4, HOST2_PA, HOST1_PA, () => flags(GreFlag.SEQUENCE | GreFlag.KEY), dropped('gre-sequence-bit', 'decap-check')],
    ['with reserved bits 4-5', 4, HOST2_PA, HOST1_PA, () => flags(0x0800 | GreFlag.KEY), dropped('gre-reserved-bits', 'decap-check')],
    ['with GRE version 1', 4, HOST2_PA, HOST1_PA, () => flags(1 | GreFlag.KEY), dropped('gre-version', 'decap-check')],
    ['with protocol 0x0800 (not TEB)', 4, HOST2_PA, HOST1_PA, () => {
      const p = fromBlue2()
      p.writeUInt16BE(0x0800, 2)
      return p
    }, dropped('gre-not-teb', 'decap-check')],
    ['for an unknown VSID', 4, HOST2_PA, HOST1_PA, () => nvgre(9999, 1, ping4(blue2, blue1.mac, '10.0.0.5')), dropped('unknown-vsid', 'decap-check')],
    ['for a MAC no local port of the VSID has', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 1, ping4(blue2, '060600000099', '10.0.0.5')), dropped('no-port-for-mac', 'decap-check')],
    ["Blue's VSID to Red1's MAC", 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 1, ping4(blue2, red1.mac, '10.0.0.5')), dropped('no-port-for-mac', 'decap-check')],
    ['from a CA without a record', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 1, ipv4Frame(blue1.mac, blue2.mac, {src: '10.0.0.99', dst: '10.0.0.5'})), dropped('unknown-source-ca', 'decap-check')],
    ['from a PA that is not the source record’s', 4, HOST3_PA, HOST1_PA, fromBlue2, dropped('source-pa-mismatch', 'decap-check')],
    ['from a PA the table does not know', 4, '198.51.100.99', HOST1_PA, fromBlue2, dropped('source-pa-mismatch', 'decap-check')],
    ['carrying ARP', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 1, Buffer.from(arpRequest(blue2.mac, '10.0.0.7', '10.0.0.5')).fill(Buffer.from(blue1.mac, 'hex'), 0, 6)), dropped('flood-no-target', 'flood')],
    ['carrying a broadcast', 4, HOST2_PA, HOST1_PA, () => nvgre(5001, 1, arpRequest(blue2.mac, '10.0.0.7', '10.0.0.5')), dropped('flood-no-target', 'flood')],
    ['with a truncated inner frame', 4, HOST2_PA, HOST1_PA, () => fromBlue2().subarray(0, 30), dropped('malformed', 'decap-check')],
    ['with a truncated GRE header', 4, HOST2_PA, HOST1_PA, () => fromBlue2().subarray(0, 6), dropped('malformed', 'decap-check')],
  ] as const)('%s', (_name, family, source, destination, packet, expected) => {
    expect(fromUnderlay(family, source, destination, packet())).toMatchObject(expected)
  })

  it("accepts any source address from a GatewayWildcard record's MAC, at that record's PA", () => {
    const doc = topology(1)
    const t = compile({...doc, LookupRecords: [...(doc.LookupRecords as unknown[]), record('0.0.0.0', 5001, blue2.mac, HOST2_PA, 'Blue2', 'GatewayWildcard')]}, 2)
    const packet = () => nvgre(5001, 1, ipv4Frame(blue1.mac, blue2.mac, {src: '203.0.113.9', dst: '10.0.0.5'}))
    expect(fromUnderlay(4, HOST2_PA, HOST1_PA, packet(), t)).toMatchObject({action: 'deliver', outPort: 'hnv-blue1'})
    expect(fromUnderlay(4, HOST3_PA, HOST1_PA, packet(), t)).toMatchObject(dropped('source-pa-mismatch', 'decap-check'))
    expect(fromUnderlay(4, HOST2_PA, HOST1_PA, packet())).toMatchObject(dropped('unknown-source-ca', 'decap-check'))
  })
})

// ---- the bytes: an Engine for host1 with memory ports and underlays ----

interface Host {
  engine: Engine
  u4: MemoryUnderlay
  u6: MemoryUnderlay
  port: Record<string, MemoryPort>
}

let host: Host | undefined

function host1(options: {headroom?: number; underlays?: 'both' | 'v4'} = {}): Host {
  const u4 = new MemoryUnderlay({family: 4, local: HOST1_PA})
  const u6 = new MemoryUnderlay({family: 6, local: HOST1_PA6})
  const engine = new Engine({underlays: options.underlays === 'v4' ? [u4] : [u4, u6]})
  engine.load(compile(topology(1), 1))
  const port: Record<string, MemoryPort> = {}
  for (const vm of Object.values(VMS).filter((vm) => vm.host === 1)) {
    port[vm.iface] = new MemoryPort({name: vm.iface, headroom: options.headroom})
    engine.attach(port[vm.iface])
  }
  host = {engine, u4, u6, port}
  return host
}

afterEach(() => {
  host?.engine.close()
  host = undefined
})

function only(frames: Buffer[]): Buffer {
  expect(frames).toHaveLength(1)
  return frames[0]
}

describe('engine: the bytes of what the host answers', () => {
  it('turns an ARP request into the reply', () => {
    const {port} = host1()
    port['hnv-blue1'].receive(arpRequest(blue1.mac, '10.0.0.5', '10.0.0.7'))
    const out = only(port['hnv-blue1'].take())
    expect(parseEthernet(out, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(blue2.mac), etherType: EtherType.ARP})
    expect(parseArp(out, 14, out.length)).toEqual({
      operation: ArpOp.REPLY,
      senderMac: colon(blue2.mac),
      senderIp: ipv4FromString('10.0.0.7'),
      targetMac: colon(blue1.mac),
      targetIp: ipv4FromString('10.0.0.5'),
    })
  })

  it('answers a neighbor solicitation with a valid advertisement (S, O; R for the gateway)', () => {
    const {port} = host1()
    port['hnv-blue1'].receive(neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::7'), neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::1'))
    const [na, gw] = port['hnv-blue1'].take()
    for (const [frame, mac, target, router] of [[na, blue2.mac, 'fd01:5001::7', 0], [gw, BLUE_5001_MAC6, 'fd01:5001::1', ND_NA_FLAG_ROUTER]] as const) {
      expect(parseEthernet(frame, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(mac)})
      expect(parseIpv6(frame, 14, frame.length)).toMatchObject({src: target, dst: 'fd01:5001::5', hopLimit: 255, nextHeader: IpProto.ICMPV6})
      const pseudo = ipv6PseudoSum(frame, 14 + 8, 14 + 24, IpProto.ICMPV6)
      expect(parseIcmpv6(frame, 54, frame.length, pseudo)).toEqual({type: ICMPV6_NEIGHBOR_ADVERT, code: 0, flags: ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE | router, target, targetLla: colon(mac)})
    }
  })

  it('answers DAD for an address in use to all nodes, without S', () => {
    const {port} = host1()
    port['hnv-blue1'].receive(neighborSolicit(blue1.mac, '::', 'fd01:5001::7'))
    const out = only(port['hnv-blue1'].take())
    expect(parseEthernet(out, 0, 14).dst).toBe('33:33:00:00:00:01')
    expect(parseIpv6(out, 14, out.length)).toMatchObject({src: 'fd01:5001::7', dst: 'ff02::1'})
    expect(parseIcmpv6(out, 54, out.length, ipv6PseudoSum(out, 22, 38, IpProto.ICMPV6))).toMatchObject({flags: ND_NA_FLAG_OVERRIDE})
  })

  it('answers ping 10.0.0.1 with an echo reply from the gateway', () => {
    const {port} = host1()
    const request = ping4(blue1, GW, '10.0.0.1')
    port['hnv-blue1'].receive(request)
    const out = only(port['hnv-blue1'].take())
    expect(parseEthernet(out, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(GW)})
    const ip = parseIpv4(out, 14, out.length)
    expect([ipv4ToString(ip.src), ipv4ToString(ip.dst), ip.ttl, ip.protocol]).toEqual(['10.0.0.1', '10.0.0.5', 64, IpProto.ICMP])
    expect(parseIcmpv4(out, 34, out.length)).toEqual({...parseIcmpv4(request, 34, request.length), type: ICMPV4_ECHO_REPLY})
  })

  it('answers ping fd01:5001::1 with an ICMPv6 echo reply', () => {
    const {port} = host1()
    const request = ping6(blue1, BLUE_5001_MAC6, 'fd01:5001::1')
    port['hnv-blue1'].receive(request)
    const out = only(port['hnv-blue1'].take())
    expect(parseIpv6(out, 14, out.length)).toMatchObject({src: 'fd01:5001::1', dst: 'fd01:5001::5', hopLimit: 64})
    const echo = parseIcmpv6(out, 54, out.length, ipv6PseudoSum(out, 22, 38, IpProto.ICMPV6))
    expect(echo).toEqual({...parseIcmpv6(request, 54, request.length), type: ICMPV6_ECHO_REPLY})
  })

  it('sends time exceeded for TTL 1 while routing, quoting the header and 8 bytes', () => {
    const {engine, port, u4} = host1()
    const expiring = ping4(blue1, GW, '10.0.1.9', 1)
    port['hnv-blue1'].receive(expiring)
    expect(u4.take()).toHaveLength(0)
    const out = only(port['hnv-blue1'].take())
    expect(parseEthernet(out, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(GW)})
    const ip = parseIpv4(out, 14, out.length)
    expect([ipv4ToString(ip.src), ipv4ToString(ip.dst), ip.protocol, ip.payloadLen]).toEqual(['10.0.0.1', '10.0.0.5', IpProto.ICMP, 8 + 28])
    const icmp = parseIcmpv4(out, 34, out.length)
    expect(icmp).toMatchObject({type: ICMPV4_TIME_EXCEEDED, code: 0})
    expect(Buffer.from(icmp.data)).toEqual(expiring.subarray(14, 14 + 28))
    expect(engine.status().drops['ttl-expired']).toBe(1)
    expect(engine.status().replies['time-exceeded']).toBe(1)
  })

  it('sends ICMPv6 time exceeded for hop limit 1 while routing', () => {
    const {port} = host1()
    const expiring = ping6(blue1, BLUE_5001_MAC6, 'fd01:5002::9', 1)
    port['hnv-blue1'].receive(expiring)
    const out = only(port['hnv-blue1'].take())
    expect(parseIpv6(out, 14, out.length)).toMatchObject({src: 'fd01:5001::1', dst: 'fd01:5001::5', payloadLen: 8 + expiring.length - 14})
    const icmp = parseIcmpv6(out, 54, out.length, ipv6PseudoSum(out, 22, 38, IpProto.ICMPV6))
    expect(icmp).toMatchObject({type: ICMPV6_TIME_EXCEEDED, code: 0})
    expect(Buffer.from((icmp as {data: Uint8Array}).data)).toEqual(expiring.subarray(14))
  })
})

describe('engine: the bytes of what the host forwards', () => {
  it('routes to a local VM of another subnet: MACs rewritten, TTL - 1, checksum patched', () => {
    const {port} = host1()
    port['hnv-blue1'].receive(ping4(blue1, GW, '10.0.1.4', 64))
    expect(port['hnv-blue1'].take()).toHaveLength(0)
    const out = only(port['hnv-blue4'].take())
    expect(parseEthernet(out, 0, 14)).toMatchObject({dst: colon(blue4.mac), src: colon(BLUE_5002_MAC)})
    const ip = parseIpv4(out, 14, out.length) // verifies the incrementally updated checksum
    expect([ipv4ToString(ip.src), ipv4ToString(ip.dst), ip.ttl]).toEqual(['10.0.0.5', '10.0.1.4', 63])
  })

  it('encapsulates in place: GRE K=1, 0x6558, key VSID << 8 | FlowID of the flow hash, to the PA', () => {
    const {port, u4} = host1()
    const frame = ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.0.5', dst: '10.0.0.7', ...udp4(40000, 5000)})
    port['hnv-blue1'].receive(frame)
    const [sent] = u4.take()
    expect(sent.destination).toBe(HOST2_PA)
    expect(sent.packet.readUInt16BE(0)).toBe(GreFlag.KEY)
    expect(sent.packet.readUInt16BE(2)).toBe(EtherType.TEB)
    const flowId = flowHashIpv4(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.UDP, 40000, 5000) & 0xff
    expect(parseNvgre(sent.packet, 0, 8)).toEqual({vsid: 5001, flowId})
    expect(sent.packet.readUInt32BE(4)).toBe(((5001 << 8) | flowId) >>> 0)
    expect(sent.packet.subarray(8)).toEqual(frame)
  })

  it('encapsulates routed traffic with the destination VSID and the rewritten frame', () => {
    const {port, u4} = host1()
    port['hnv-blue1'].receive(ping4(blue1, GW, '10.0.1.9'))
    const [sent] = u4.take()
    expect(parseNvgre(sent.packet, 0, 8).vsid).toBe(5002)
    expect(parseEthernet(sent.packet, 8, 22)).toMatchObject({dst: colon(blue3.mac), src: colon(BLUE_5002_MAC)})
    expect(parseIpv4(sent.packet, 22, sent.packet.length).ttl).toBe(63)
  })

  it('sends IPv4 CAs over the IPv6 underlay and IPv6 CAs over the IPv4 one', () => {
    const {port, u4, u6} = host1()
    port['hnv-green1'].receive(ping4(green1, green2.mac, '10.7.0.7'))
    port['hnv-blue1'].receive(ping6(blue1, blue2.mac, 'fd01:5001::7'))
    expect(u6.take().map((s) => [s.destination, parseNvgre(s.packet, 0, 8).vsid])).toEqual([[HOST2_PA6, 7001]])
    expect(u4.take().map((s) => [s.destination, parseNvgre(s.packet, 0, 8).vsid])).toEqual([[HOST2_PA, 5001]])
  })

  it('sends a batch to several PAs in one send per underlay, each packet to its own PA, in arrival order', () => {
    const {port, u4} = host1()
    const to = (dst: string, mac: string, seq: number) => ipv4Frame(mac, blue1.mac, {src: '10.0.0.5', dst, ...udp4(1000 + seq, 9)})
    port['hnv-blue1'].receive(to('10.0.0.9', '060600000009', 1), to('10.0.0.7', blue2.mac, 2), to('10.0.0.9', '060600000009', 3), to('10.0.0.7', blue2.mac, 4))
    expect(u4.sendCalls).toBe(1)
    const sent = u4.take().map((s) => [s.destination, s.packet.readUInt16BE(8 + 14 + 20)])
    expect(sent).toEqual([[HOST3_PA, 1001], [HOST2_PA, 1002], [HOST3_PA, 1003], [HOST2_PA, 1004]])
  })

  it('delivers decapsulated frames as they were inside', () => {
    const {port, u4} = host1()
    const inner = ping4(blue2, blue1.mac, '10.0.0.5')
    u4.receive([{source: HOST2_PA, packet: nvgre(5001, 9, inner)}])
    expect(only(port['hnv-blue1'].take())).toEqual(inner)
  })
})

describe('engine: drops are counted by reason, port and VSID', () => {
  it('counts each drop once under its printable name', () => {
    const {engine, port, u4} = host1()
    port['hnv-blue1'].receive(
      ipv4Frame(blue2.mac, '060600000099', {src: '10.0.0.5', dst: '10.0.0.7'}),
      ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.0.7', dst: '10.0.0.7'}),
      ping4(blue1, GW, '10.200.0.1'),
      arpRequest(blue1.mac, '10.0.0.5', '10.0.0.99'),
    )
    u4.receive([
      {source: HOST2_PA, packet: nvgre(9999, 1, ping4(blue2, blue1.mac, '10.0.0.5'))},
      {source: HOST3_PA, packet: nvgre(5001, 1, ping4(blue2, blue1.mac, '10.0.0.5'))},
      {source: HOST2_PA, packet: nvgre(5001, 1, ping4(blue2, blue1.mac, '10.0.0.5'), GreFlag.KEY | GreFlag.SEQUENCE)},
    ])
    const status = engine.status()
    const nonZero = Object.fromEntries(Object.entries(status.drops).filter(([, n]) => n > 0))
    expect(nonZero).toEqual({
      'src-mac-spoofed': 1,
      'src-ip-spoofed': 1,
      'no-route': 1,
      'neighbor-unknown': 1,
      'unknown-vsid': 1,
      'source-pa-mismatch': 1,
      'gre-sequence-bit': 1,
    })
    expect(status.ports.find((p) => p.name === 'hnv-blue1')).toMatchObject({rxPackets: 4, drops: 4, txPackets: 0, state: 'forwarding', vsid: 5001, vmName: 'Blue1', mac: '060600000005'})
    // The GRE drop comes before the VSID is read; the unknown VSID has no row.
    expect(status.vsids.find((s) => s.vsid === 5001)).toMatchObject({packets: 5, drops: 5})
  })

  it('counts no-underlay, no-headroom and port-not-attached', () => {
    let h = host1({underlays: 'v4'})
    h.port['hnv-green1'].receive(ping4(green1, green2.mac, '10.7.0.7'))
    expect(h.engine.status().drops['no-underlay']).toBe(1)
    h.engine.detach('hnv-blue4')
    h.port['hnv-blue1'].receive(ping4(blue1, GW, '10.0.1.4'))
    expect(h.engine.status().drops['port-not-attached']).toBe(1)
    expect(h.port['hnv-blue4'].closed).toBe(true)
    h.engine.close()
    h = host1({headroom: 4})
    h.port['hnv-blue1'].receive(ping4(blue1, blue2.mac, '10.0.0.7'))
    expect(h.engine.status().drops['no-headroom']).toBe(1)
    expect(h.u4.take()).toHaveLength(0)
  })
})

describe('engine: ports with a virtio_net_hdr (IFF_VNET_HDR)', () => {
  const VNET = 12
  function vnetHost(): Host & {blue1: MemoryPort} {
    const h = host1()
    h.engine.detach('hnv-blue1')
    const blue1Port = new MemoryPort({name: 'hnv-blue1', features: {vnetHdr: true, vnetHdrLen: VNET}})
    h.engine.attach(blue1Port)
    return {...h, blue1: blue1Port}
  }
  const withHeader = (frame: Buffer, header: number[] = []) => Buffer.concat([Buffer.from([...header, ...new Array(VNET).fill(0)].slice(0, VNET)), frame])

  it('completes a checksum the guest left partial (NEEDS_CSUM) before encapsulating', () => {
    const {blue1: port, u4} = vnetHost()
    const frame = ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.0.5', dst: '10.0.0.7', ...udp4(4000, 5000)})
    // What the kernel hands over: the pseudo-header sum only, csum_start 34, csum_offset 6 (little-endian).
    const pseudo = ipv4PseudoSum(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.UDP) + frame.length - 34
    const partial = Buffer.from(frame)
    emitUdp({srcPort: 4000, dstPort: 5000, payloadLen: frame.length - 42}, partial, 34, pseudo - (frame.length - 34), ChecksumMode.PARTIAL)
    port.receive(withHeader(partial, [1, 0, 0, 0, 0, 0, 34, 0, 6, 0]))
    const [sent] = u4.take()
    const inner = sent.packet.subarray(8)
    expect(inner).toEqual(frame)
    expect(parseUdp(inner, 34, inner.length, ipv4PseudoSum(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.UDP))).toMatchObject({srcPort: 4000})
  })

  it('refuses GSO super-frames until segmentation exists (offload-unsupported)', () => {
    const {engine, blue1: port, u4} = vnetHost()
    port.receive(withHeader(ping4(blue1, blue2.mac, '10.0.0.7'), [0, 1]))
    expect(u4.take()).toHaveLength(0)
    expect(engine.status().drops['offload-unsupported']).toBe(1)
  })

  it('prefixes what it sends to such a port with an all-zero header', () => {
    const {blue1: port, u4} = vnetHost()
    const inner = ping4(blue2, blue1.mac, '10.0.0.5')
    u4.receive([{source: HOST2_PA, packet: nvgre(5001, 1, inner)}])
    port.receive(withHeader(arpRequest(blue1.mac, '10.0.0.5', '10.0.0.7')))
    const [delivered, arp] = port.take()
    expect(delivered).toEqual(withHeader(inner))
    expect(arp.subarray(0, VNET)).toEqual(Buffer.alloc(VNET))
    expect(parseArp(arp, VNET + 14, arp.length).senderMac).toBe(colon(blue2.mac))
  })
})

describe('engine: attaching and sending', () => {
  it('leaves nothing behind when a port fails to start, so the name can be attached again', () => {
    const {engine} = host1()
    const broken = new MemoryPort({name: 'hnv-late'})
    broken.close()
    expect(() => engine.attach(broken)).toThrow('closed')
    expect(engine.status().ports.map((p) => p.name)).not.toContain('hnv-late')
    engine.attach(new MemoryPort({name: 'hnv-late'}))
    expect(engine.status().ports.find((p) => p.name === 'hnv-late')).toMatchObject({state: 'unknown'})
    expect(() => engine.attach(new MemoryPort({name: 'hnv-late'}))).toThrow('already attached')
  })

  it('counts frames a port did not take as tx-dropped', () => {
    const h = host1()
    h.engine.detach('hnv-blue6')
    const slow = new MemoryPort({name: 'hnv-blue6', sendLimit: 1})
    h.engine.attach(slow)
    h.port['hnv-blue1'].receive(ping4(blue1, blue6.mac, '10.0.0.6'), ping4(blue1, blue6.mac, '10.0.0.6'), ping4(blue1, blue6.mac, '10.0.0.6'))
    expect(slow.take()).toHaveLength(1)
    expect(slow.sendCalls).toBe(1)
    expect(h.engine.status().drops['tx-dropped']).toBe(2)
    expect(h.engine.status().ports.find((p) => p.name === 'hnv-blue6')).toMatchObject({txPackets: 1})
  })
})
