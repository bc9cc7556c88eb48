// Issue 5 "learning": broadcast/multicast source replication, the per-adapter DHCP responder, and L2Only
// learning with Dynamic records, on two whole engines joined by memory underlays (as two-hosts.test.ts).
// DHCP requests are built by scapy and its replies parsed by scapy (test/fixtures/scapy/dhcp.py).
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {DynamicRecords, recordKey} from '../../../src/lib/engine/learning.js'
import {Action, FloodKind, Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {dropReasonName, stageName} from '../../../src/lib/engine/stages.js'
import {lookupRecord} from '../../../src/lib/policy/kinds.js'
import {PolicyService, type PolicyDocument} from '../../../src/lib/policy/service.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {ArpOp, emitArp, emitEthernet, EtherType, ipv4FromString, parseArp, parseEthernet, parseIpv4, parseNvgre} from '../../../src/lib/wire/index.js'
import {MemoryPort} from '../../support/memory-port.js'
import {MemoryNetwork, type MemoryUnderlay} from '../../support/memory-underlay.js'
import {arpRequest, colon, HOST1_PA, HOST1_PA6, HOST2_PA, HOST2_PA6, icmp6Frame, ipv4Frame, neighborSolicit, record, topology, udp4, VMS} from './support.js'
import {ICMPV6_NEIGHBOR_ADVERT, ICMPV6_NEIGHBOR_SOLICIT, parseIcmpv6} from '../../../src/lib/wire/icmpv6.js'
import {PYTHON, scapyAvailable} from '../../support/scapy.js'

const {blue1, blue2, blue6, red1, red2} = VMS
const SCAPY_DHCP = fileURLToPath(new URL('../../fixtures/scapy/dhcp.py', import.meta.url))
const hasScapy = scapyAvailable('test/unit/engine/learning.test.ts', 'DHCP tests', 'scapy.layers.dhcp')

/** An L2Only VM on host2 in Blue 5001: its addresses are learned, not declared. */
const L2_MAC = '0a0b0c000032'
const L2_IFACE = 'hnv-l2vm'
const L2_CA = '10.0.0.50'

interface Host {
  engine: Engine
  u4: MemoryUnderlay
  port: Record<string, MemoryPort>
}

let hosts: Host[] = []

/** host1 and host2 of support.ts, with `edit` applied to each host's policy (host2 may get the L2Only VM). */
function twoHosts(edit: (doc: PolicyDocument, host: 1 | 2) => void = () => {}): [Host, Host] {
  const network = new MemoryNetwork()
  hosts = ([1, 2] as const).map((h) => {
    const u4 = network.underlay({family: 4, local: h === 1 ? HOST1_PA : HOST2_PA})
    const u6 = network.underlay({family: 6, local: h === 1 ? HOST1_PA6 : HOST2_PA6})
    const engine = new Engine({underlays: [u4, u6]})
    const doc = topology(h)
    edit(doc, h)
    engine.load(compile(doc, 1))
    const port: Record<string, MemoryPort> = {}
    for (const adapter of doc.VMNetworkAdapters as {InterfaceName: string}[]) {
      port[adapter.InterfaceName] = new MemoryPort({name: adapter.InterfaceName})
      engine.attach(port[adapter.InterfaceName])
    }
    return {engine, u4, port}
  })
  return [hosts[0], hosts[1]]
}

afterEach(() => {
  for (const h of hosts) h.engine.close()
  hosts = []
})

function withL2Only(doc: PolicyDocument, host: 1 | 2): void {
  ;(doc.LookupRecords as unknown[]).push(record('0.0.0.0', 5001, L2_MAC, HOST2_PA, 'L2Vm', 'L2Only'))
  if (host === 2) (doc.VMNetworkAdapters as unknown[]).push({VMName: 'L2Vm', Name: 'Network Adapter', MacAddress: L2_MAC.toUpperCase(), VirtualSubnetId: 5001, SwitchName: null, InterfaceName: L2_IFACE})
}

function arpReply(senderMac: string, senderIp: string, targetMac: string, targetIp: string): Buffer {
  const buf = Buffer.alloc(14 + 28)
  emitEthernet({dst: colon(targetMac), src: colon(senderMac), etherType: EtherType.ARP}, buf, 0)
  emitArp({operation: ArpOp.REPLY, senderMac: colon(senderMac), senderIp: ipv4FromString(senderIp), targetMac: colon(targetMac), targetIp: ipv4FromString(targetIp)}, buf, 14)
  return buf
}

describe('broadcast and multicast: source replication', () => {
  it('a UDP broadcast reaches every VM of the VSID, on both hosts, and none of another', () => {
    const [h1, h2] = twoHosts()
    h1.port[blue1.iface].receive(ipv4Frame('ffffffffffff', blue1.mac, {src: '10.0.0.5', dst: '10.0.0.255', ...udp4(4000, 5000)}))
    // host1: a copy to blue6 (same VSID), none back to blue1, none to red1 or blue4 (5002).
    expect(h1.port[blue6.iface].sent).toHaveLength(1)
    expect(h1.port[blue1.iface].sent).toHaveLength(0)
    expect(h1.port[red1.iface].sent).toHaveLength(0)
    expect(h1.port['hnv-blue4'].sent).toHaveLength(0)
    const copy = parseIpv4(h1.port[blue6.iface].sent[0], 14, h1.port[blue6.iface].sent[0].length)
    expect(copy.dst).toBe(0x0a0000ff)
    // host2 got one NVGRE copy (VSID 5001) and gave it to blue2 only.
    expect(h2.port[blue2.iface].sent).toHaveLength(1)
    expect(parseEthernet(h2.port[blue2.iface].sent[0], 0, h2.port[blue2.iface].sent[0].length).dst).toBe('ff:ff:ff:ff:ff:ff')
    expect(h2.port[red2.iface].sent).toHaveLength(0)
    expect(h2.port['hnv-blue3'].sent).toHaveLength(0)
    const f1 = h1.engine.status().flood
    // Copies to host2 (198.51.100.22) and to Blue7's host3 (198.51.100.33), which the network loses.
    expect(f1).toEqual({frames: 1, portCopies: 1, underlayCopies: 2})
    expect(h2.engine.status().flood).toEqual({frames: 1, portCopies: 1, underlayCopies: 0})
  })

  it('copies carry the VSID in the GRE key, one per PA of the VSID', () => {
    const [h1] = twoHosts()
    h1.port[red1.iface].receive(ipv4Frame('ffffffffffff', red1.mac, {src: '10.0.0.5', dst: '255.255.255.255', ...udp4(4000, 5000)}))
    // Red 6001 has one remote PA (host2).
    expect(h1.engine.status().flood).toEqual({frames: 1, portCopies: 0, underlayCopies: 1})
    const sent = h1.u4.take()
    expect(sent.map((s) => s.destination)).toEqual([HOST2_PA])
    expect(parseNvgre(sent[0].packet, 0, sent[0].packet.length).vsid).toBe(6001)
    h1.port[blue1.iface].receive(ipv4Frame('ffffffffffff', blue1.mac, {src: '10.0.0.5', dst: '10.0.0.255', ...udp4(4000, 5000)}))
    const blue = h1.u4.take()
    expect(blue.map((s) => s.destination).sort()).toEqual([HOST2_PA, '198.51.100.33'])
    expect(blue.map((s) => parseNvgre(s.packet, 0, s.packet.length).vsid)).toEqual([5001, 5001])
  })

  it('with virtio-header ports, the local copies go out with a zero header and the NVGRE copies intact', () => {
    const VNET = 12
    const [h1, h2] = twoHosts()
    for (const name of [blue1.iface, blue6.iface]) {
      h1.engine.detach(name)
      h1.port[name] = new MemoryPort({name, features: {vnetHdr: true, vnetHdrLen: VNET}})
      h1.engine.attach(h1.port[name])
    }
    const frame = ipv4Frame('ffffffffffff', blue1.mac, {src: '10.0.0.5', dst: '10.0.0.255', ...udp4(4000, 5000)})
    h1.port[blue1.iface].receive(Buffer.concat([Buffer.alloc(VNET), frame]))
    // The header sits where the GRE header goes: the local copy is sent before that is written.
    expect(h1.port[blue6.iface].sent).toEqual([Buffer.concat([Buffer.alloc(VNET), frame])])
    expect(h2.port[blue2.iface].sent).toEqual([frame])
  })

  it('IPv6 multicast from a link-local source (MLD, mDNS) is replicated, and accepted by the MAC\'s record on the other host', () => {
    const [h1, h2] = twoHosts()
    // An ICMPv6 message to ff02::16 from the VM's link-local address, as MLD reports go.
    const mld = icmp6Frame('333300000016', blue1.mac, 'fe80::406:ff:fe00:5', 'ff02::16', {type: 128, code: 0, ident: 1, seq: 1, data: Buffer.alloc(8)} as never, 1)
    h1.port[blue1.iface].receive(mld)
    expect(h1.port[blue6.iface].sent).toHaveLength(1)
    expect(h2.port[blue2.iface].sent).toEqual([mld])
    expect(h1.engine.status().drops['src-ip-spoofed']).toBe(0)
    // A link-local source on a MAC without a record of the outer source's PA is refused.
    const forged = icmp6Frame('333300000016', '0a0b0c0d0e0f', 'fe80::1', 'ff02::16', {type: 128, code: 0, ident: 1, seq: 1, data: Buffer.alloc(8)} as never, 1)
    h1.u4.receive([{source: HOST2_PA, packet: Buffer.concat([Buffer.from('2000655800138900', 'hex'), forged])}])
    expect(h1.engine.status().drops['unknown-source-ca']).toBe(1)
  })

  it('a broadcast with a spoofed source is dropped, not replicated', () => {
    const [h1, h2] = twoHosts()
    h1.port[blue1.iface].receive(ipv4Frame('ffffffffffff', blue1.mac, {src: '10.0.0.66', dst: '10.0.0.255', ...udp4(4000, 5000)}))
    expect(h1.port[blue6.iface].sent).toHaveLength(0)
    expect(h2.port[blue2.iface].sent).toHaveLength(0)
    expect(h1.engine.status().drops['src-ip-spoofed']).toBe(1)
  })

  it('a multicast NVGRE frame from a PA that is not its source record\'s is dropped', () => {
    const p = new Pipeline()
    const v = new Verdict()
    const t = compile(topology(1), 1)
    // blue2's source (10.0.0.7) belongs to host2; from host1's own address it is refused.
    const inner = ipv4Frame('01005e000001', blue2.mac, {src: '10.0.0.7', dst: '224.0.0.1', ...udp4(1, 2)})
    const packet = Buffer.concat([Buffer.from('20006558', 'hex'), Buffer.from([0x00, 0x13, 0x89, 0x00]), inner])
    const addrs = new Uint8Array(32)
    addrs.set([198, 51, 100, 33], 0)
    addrs.set([198, 51, 100, 11], 16)
    p.fromUnderlay(t, 4, packet, 0, packet.length, addrs, 0, v)
    expect(dropReasonName(v.reason)).toBe('source-pa-mismatch')
    // From host2 it is flooded to host1's Blue 5001 ports.
    addrs.set([198, 51, 100, 22], 0)
    p.fromUnderlay(t, 4, packet, 0, packet.length, addrs, 0, v)
    expect([v.action, v.flood]).toEqual([Action.FLOOD, FloodKind.ALL])
  })
})

describe('the DHCP responder (-Dhcp adapters)', () => {
  function dhcpHost(): Host {
    const [h1] = twoHosts((doc, host) => {
      if (host === 1) for (const a of doc.VMNetworkAdapters as {VMName: string; Dhcp?: boolean}[]) if (a.VMName === 'Blue1') a.Dhcp = true
    })
    return h1
  }
  const build = (...args: string[]) => Buffer.from(execFileSync(PYTHON, [SCAPY_DHCP, 'build', ...args], {encoding: 'utf8'}).trim(), 'hex')
  const parse = (frames: Buffer[]) => JSON.parse(execFileSync(PYTHON, [SCAPY_DHCP, 'parse', ...frames.map((f) => f.toString('hex'))], {encoding: 'utf8'})) as Record<string, unknown>[]
  const mac = colon(blue1.mac)

  it.runIf(hasScapy)('answers DISCOVER with an OFFER and REQUEST with an ACK of the record\'s CA, /24, router and server .1', () => {
    const h1 = dhcpHost()
    const port = h1.port[blue1.iface]
    port.receive(build(mac, '4660', 'discover'))
    port.receive(build(mac, '4661', 'request', '10.0.0.5', '10.0.0.1'))
    expect(port.sent).toHaveLength(2)
    const [offer, ack] = parse(port.sent)
    const common = {
      ethSrc: '06:06:00:00:00:01', src: '10.0.0.1', sport: 67, dport: 68, ipChecksumOk: true, udpChecksumOk: true, op: 2, yiaddr: '10.0.0.5',
      chaddr: blue1.mac.toLowerCase(), serverId: '10.0.0.1', router: '10.0.0.1', mask: '255.255.255.0', lease: 3600,
    }
    expect(offer).toMatchObject({...common, type: 'offer', xid: 4660, ethDst: mac, dst: '10.0.0.5'})
    expect(ack).toMatchObject({...common, type: 'ack', xid: 4661})
    expect(h1.engine.status().replies.dhcp).toBe(2)
  })

  it.runIf(hasScapy)('NAKs a request for another address (broadcast), ignores RELEASE and requests for another server', () => {
    const h1 = dhcpHost()
    const port = h1.port[blue1.iface]
    port.receive(build(mac, '7', 'request', '10.0.0.99'))
    port.receive(build(mac, '8', 'release', '-', '10.0.0.1', '10.0.0.5'))
    port.receive(build(mac, '9', 'request', '10.0.0.5', '10.0.0.254'))
    expect(port.sent).toHaveLength(1)
    const [nak] = parse(port.sent)
    expect(nak).toMatchObject({type: 'nak', xid: 7, yiaddr: '0.0.0.0', dst: '255.255.255.255', ethDst: 'ff:ff:ff:ff:ff:ff', serverId: '10.0.0.1', udpChecksumOk: true})
    expect(nak.router ?? null).toBeNull()
    expect(h1.engine.status().drops['dhcp-ignored']).toBe(2)
  })

  it.runIf(hasScapy)('an adapter without -Dhcp gets no answer; one with -Dhcp but no record is dropped by name', () => {
    const [h1] = twoHosts((doc, host) => {
      if (host === 1) (doc.VMNetworkAdapters as unknown[]).push({VMName: 'Bare', Name: 'Network Adapter', MacAddress: '0A0000000077', VirtualSubnetId: 5001, SwitchName: null, InterfaceName: 'hnv-bare', Dhcp: true})
    })
    h1.port[blue6.iface].receive(build(colon(blue6.mac), '1', 'discover'))
    h1.port['hnv-bare'].receive(build('0a:00:00:00:00:77', '2', 'discover'))
    expect(h1.port[blue6.iface].sent).toHaveLength(0)
    expect(h1.port['hnv-bare'].sent).toHaveLength(0)
    const drops = h1.engine.status().drops
    expect(drops['src-ip-spoofed']).toBe(1)
    expect(drops['dhcp-no-address']).toBe(1)
  })
})

describe('L2Only records: ARP over NVGRE and learning', () => {
  it('ARP for an unknown address goes to the L2Only VM; its reply reaches the asker and is learned there', () => {
    const [h1, h2] = twoHosts(withL2Only)
    h1.port[blue1.iface].receive(arpRequest(blue1.mac, '10.0.0.5', L2_CA))
    // host2 delivered the request to the L2Only port only.
    const l2 = h2.port[L2_IFACE]
    expect(l2.sent).toHaveLength(1)
    expect(parseArp(l2.sent[0], 14, l2.sent[0].length)).toMatchObject({operation: ArpOp.REQUEST, targetIp: ipv4FromString(L2_CA), senderIp: ipv4FromString('10.0.0.5')})
    expect(h2.port[blue2.iface].sent).toHaveLength(0)
    // The L2Only VM answers; host2 sends it back to host1, which delivers it to blue1 and learns.
    l2.receive(arpReply(L2_MAC, L2_CA, blue1.mac, '10.0.0.5'))
    expect(h1.port[blue1.iface].sent).toHaveLength(1)
    expect(parseArp(h1.port[blue1.iface].sent[0], 14, h1.port[blue1.iface].sent[0].length)).toMatchObject({operation: ArpOp.REPLY, senderIp: ipv4FromString(L2_CA), senderMac: colon(L2_MAC)})
    const harvest = h1.engine.takeLearning()
    expect(harvest.learned).toEqual([{VirtualSubnetID: 5001, CustomerAddress: L2_CA, MACAddress: L2_MAC.toUpperCase(), ProviderAddress: HOST2_PA}])
    expect(h2.engine.takeLearning().learned).toEqual([])
    // Once the record is in host1's table, traffic to the address is encapsulated to host2 and the
    // record's use is reported for ageing.
    const doc = topology(1)
    withL2Only(doc, 1)
    ;(doc.LookupRecords as unknown[]).push(record(L2_CA, 5001, L2_MAC, HOST2_PA, null, 'Dynamic'))
    h1.engine.load(compile(doc, 2))
    h1.port[blue1.iface].receive(ipv4Frame(L2_MAC, blue1.mac, {src: '10.0.0.5', dst: L2_CA, ...udp4(1000, 2000)}))
    expect(l2.sent).toHaveLength(2)
    expect(h1.engine.takeLearning().used).toEqual([recordKey(5001, L2_CA)])
    // The L2Only VM's answer from its learned address passes host1's decap check (wildcard record's PA).
    l2.receive(ipv4Frame(blue1.mac, L2_MAC, {src: L2_CA, dst: '10.0.0.5', ...udp4(2000, 1000)}))
    expect(h1.port[blue1.iface].sent).toHaveLength(2)
  })

  it('IPv6: a solicitation for an unknown address goes to the L2Only VM; its advertisement is learned', () => {
    const [h1, h2] = twoHosts(withL2Only)
    const target = 'fd01:5001::50'
    h1.port[blue1.iface].receive(neighborSolicit(blue1.mac, 'fd01:5001::5', target))
    const l2 = h2.port[L2_IFACE]
    expect(l2.sent).toHaveLength(1)
    expect(parseIcmpv6(l2.sent[0], 54, l2.sent[0].length)).toMatchObject({type: ICMPV6_NEIGHBOR_SOLICIT, target})
    // Solicited advertisement to the asker's address (S and O flags), with its link-layer address.
    l2.receive(icmp6Frame(blue1.mac, L2_MAC, target, 'fd01:5001::5', {type: ICMPV6_NEIGHBOR_ADVERT, code: 0, flags: 0x60, target, targetLla: colon(L2_MAC)}, 255))
    expect(h1.port[blue1.iface].sent).toHaveLength(1)
    expect(parseIcmpv6(h1.port[blue1.iface].sent[0], 54, h1.port[blue1.iface].sent[0].length)).toMatchObject({type: ICMPV6_NEIGHBOR_ADVERT, target})
    expect(h1.engine.takeLearning().learned).toEqual([{VirtualSubnetID: 5001, CustomerAddress: target, MACAddress: L2_MAC.toUpperCase(), ProviderAddress: HOST2_PA}])
    // Asked from a link-local address, the answer still finds the asker by its MAC.
    h1.port[blue1.iface].receive(neighborSolicit(blue1.mac, 'fe80::406:ff:fe00:5', 'fd01:5001::51'))
    expect(l2.sent).toHaveLength(2)
    l2.receive(icmp6Frame(blue1.mac, L2_MAC, 'fd01:5001::51', 'fe80::406:ff:fe00:5', {type: ICMPV6_NEIGHBOR_ADVERT, code: 0, flags: 0x60, target: 'fd01:5001::51', targetLla: colon(L2_MAC)}, 255))
    expect(h1.port[blue1.iface].sent).toHaveLength(2)
    expect(h1.engine.takeLearning().learned.map((r) => r.CustomerAddress)).toEqual(['fd01:5001::51'])
  })

  it('the request is also given to a local L2Only port, and its reply learned with the local PA', () => {
    const [, h2] = twoHosts(withL2Only)
    h2.port[blue2.iface].receive(arpRequest(blue2.mac, '10.0.0.7', L2_CA))
    expect(h2.port[L2_IFACE].sent).toHaveLength(1)
    h2.port[L2_IFACE].receive(arpReply(L2_MAC, L2_CA, blue2.mac, '10.0.0.7'))
    expect(h2.port[blue2.iface].sent).toHaveLength(1)
    expect(h2.engine.takeLearning().learned).toEqual([{VirtualSubnetID: 5001, CustomerAddress: L2_CA, MACAddress: L2_MAC.toUpperCase(), ProviderAddress: HOST2_PA}])
  })

  it('without L2Only records ARP for an unknown address is not sent anywhere', () => {
    const [h1, h2] = twoHosts()
    h1.port[blue1.iface].receive(arpRequest(blue1.mac, '10.0.0.5', L2_CA))
    expect(h1.u4.take()).toEqual([])
    expect(h2.engine.status().drops).toMatchObject({'arp-in-nvgre': 0})
    expect(h1.engine.status().drops['neighbor-unknown']).toBe(1)
  })

  it('an ARP reply in NVGRE from a MAC without an L2Only record at that PA is refused', () => {
    const t = compile((() => {
      const doc = topology(1)
      withL2Only(doc, 1)
      return doc
    })(), 1)
    const p = new Pipeline()
    const v = new Verdict()
    const inner = arpReply(blue2.mac, '10.0.0.77', blue1.mac, '10.0.0.5')
    const packet = Buffer.concat([Buffer.from('20006558', 'hex'), Buffer.from([0x00, 0x13, 0x89, 0x00]), inner])
    const addrs = new Uint8Array(32)
    addrs.set([198, 51, 100, 22], 0)
    addrs.set([198, 51, 100, 11], 16)
    p.fromUnderlay(t, 4, packet, 0, packet.length, addrs, 0, v)
    expect([Action.DROP, dropReasonName(v.reason), stageName(v.stage)]).toEqual([v.action, 'arp-reply-not-l2only', 'learn'])
    // From the L2Only record's PA it is delivered and learned.
    const good = Buffer.concat([packet.subarray(0, 8), arpReply(L2_MAC, L2_CA, blue1.mac, '10.0.0.5')])
    p.fromUnderlay(t, 4, good, 0, good.length, addrs, 0, v)
    expect([v.action, v.learn, v.flood]).toEqual([Action.DELIVER, true, FloodKind.NONE])
  })
})

describe('DynamicRecords: learned records in the store, aged out when unused', () => {
  it('writes a learned record as Dynamic, keeps it while used, removes it after the age', () => {
    const store = PolicyStore.open(':memory:')
    const service = new PolicyService(store)
    const doc = topology(1)
    withL2Only(doc, 1)
    service.importPolicy(doc, true)
    const dynamic = new DynamicRecords(store, 10_000)
    const learned = {VirtualSubnetID: 5001, CustomerAddress: L2_CA, MACAddress: L2_MAC.toUpperCase(), ProviderAddress: HOST2_PA}
    const table = () => compile(service.exportPolicy(), store.revision())
    const revision = store.revision()
    expect(dynamic.tick(0, [learned], [], table())).toMatchObject({learned: [learned], aged: []})
    const learnedAt = store.revision()
    expect(learnedAt).toBeGreaterThan(revision)
    const get = () => service.get(lookupRecord, {Type: ['Dynamic']}).objects
    expect(get()).toMatchObject([{...learned, Type: 'Dynamic', Rule: 'TranslationMethodEncap'}])
    // Learned again: nothing to write.
    expect(dynamic.tick(1000, [learned], [], table()).learned).toEqual([])
    expect(store.revision()).toBe(learnedAt)
    // Used at 9 s: still there at 15 s; gone at 19 s.
    dynamic.tick(9000, [], [recordKey(5001, L2_CA)], table())
    expect(dynamic.tick(15_000, [], [], table()).aged).toEqual([])
    expect(dynamic.tick(19_000, [], [], table()).aged).toEqual([learned])
    expect(get()).toEqual([])
    // A Static record of the address is never replaced by learning.
    const stat = {...learned, CustomerAddress: '10.0.0.6', MACAddress: L2_MAC.toUpperCase()}
    expect(dynamic.tick(20_000, [stat], [], table())).toMatchObject({learned: [], refused: []})
    store.close()
  })
})
