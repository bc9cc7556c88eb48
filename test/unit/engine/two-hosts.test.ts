// Two whole engines, host1 (PA 198.51.100.11, 2001:db8::11) and host2 (198.51.100.22, 2001:db8::22),
// joined by memory underlays (wireguard-go's TestTwoDevicePing): the test plays the VMs with real frames.
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {
  ArpOp,
  EtherType,
  flowHashIpv4,
  GreFlag,
  IpProto,
  ipv4FromString,
  ipv4ToString,
  parseArp,
  parseEthernet,
  parseIcmpv4,
  parseIpv4,
  parseIpv6,
  parseNvgre,
} from '../../../src/lib/wire/index.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {MemoryPort} from '../../support/memory-port.js'
import {MemoryNetwork, type MemoryUnderlay} from '../../support/memory-underlay.js'
import {
  answerPing4,
  answerPing6,
  arpRequest,
  BLUE_5002_MAC,
  BLUE_GATEWAY_MAC,
  colon,
  HOST1_PA,
  HOST1_PA6,
  HOST2_PA,
  HOST2_PA6,
  ipv4Frame,
  neighborSolicit,
  nvgre,
  ping4,
  ping6,
  topology,
  VMS,
} from './support.js'

const {blue1, blue2, blue3, red1, red2, green1, green2} = VMS

interface Host {
  engine: Engine
  u4: MemoryUnderlay
  u6: MemoryUnderlay
  port: Record<string, MemoryPort>
}

let hosts: Host[] = []
let network: MemoryNetwork

function twoHosts(): [Host, Host] {
  network = new MemoryNetwork()
  hosts = ([1, 2] as const).map((h) => {
    const u4 = network.underlay({family: 4, local: h === 1 ? HOST1_PA : HOST2_PA})
    const u6 = network.underlay({family: 6, local: h === 1 ? HOST1_PA6 : HOST2_PA6})
    const engine = new Engine({underlays: [u4, u6]})
    engine.load(compile(topology(h), 1))
    const port: Record<string, MemoryPort> = {}
    for (const vm of Object.values(VMS).filter((vm) => vm.host === h)) {
      port[vm.iface] = new MemoryPort({name: vm.iface})
      engine.attach(port[vm.iface])
    }
    return {engine, u4, u6, port}
  })
  return [hosts[0], hosts[1]]
}

afterEach(() => {
  for (const h of hosts) h.engine.close()
  hosts = []
})

function nonZero(drops: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(drops).filter(([, n]) => n > 0))
}

function without(doc: PolicyDocument, ca: string, vsid: number): PolicyDocument {
  const records = (doc.LookupRecords as Record<string, unknown>[]).filter((r) => !(r.CustomerAddress === ca && r.VirtualSubnetID === vsid))
  return {...doc, LookupRecords: records}
}

describe('two hosts joined in memory', () => {
  it('Blue1 pings Blue2: ARP answered locally, the echo crosses as NVGRE with the right key, the reply comes back', () => {
    const [h1, h2] = twoHosts()
    // ARP: answered by host1 itself; nothing reaches the network or host2.
    h1.port['hnv-blue1'].receive(arpRequest(blue1.mac, '10.0.0.5', '10.0.0.7'))
    const [arp] = h1.port['hnv-blue1'].take()
    expect(parseArp(arp, 14, arp.length)).toMatchObject({operation: ArpOp.REPLY, senderMac: colon(blue2.mac), senderIp: ipv4FromString('10.0.0.7')})
    expect(h1.u4.sent).toHaveLength(0)

    const request = ping4(blue1, blue2.mac, '10.0.0.7')
    h1.port['hnv-blue1'].receive(request)
    const [wire] = h1.u4.take()
    expect(wire.destination).toBe(HOST2_PA)
    const flowId = flowHashIpv4(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.ICMP, 0, 0) & 0xff
    expect(wire.packet.readUInt16BE(0)).toBe(GreFlag.KEY)
    expect(wire.packet.readUInt16BE(2)).toBe(EtherType.TEB)
    expect(parseNvgre(wire.packet, 0, 8)).toEqual({vsid: 5001, flowId})

    const [arrived] = h2.port['hnv-blue2'].take()
    expect(arrived).toEqual(request)
    h2.port['hnv-blue2'].receive(answerPing4(arrived))
    const [back] = h2.u4.take()
    expect(back.destination).toBe(HOST1_PA)
    const [reply] = h1.port['hnv-blue1'].take()
    expect(parseIcmpv4(reply, 34, reply.length)).toMatchObject({type: 0, ident: 0x1234, seq: 1})
    expect(parseEthernet(reply, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(blue2.mac)})

    const s1 = h1.engine.status()
    expect(nonZero(s1.drops)).toEqual({})
    expect(s1.replies['arp-reply']).toBe(1)
    expect(s1.ports.find((p) => p.name === 'hnv-blue1')).toMatchObject({rxPackets: 2, txPackets: 2, drops: 0})
    expect(nonZero(h2.engine.status().drops)).toEqual({})
  })

  it('Red never reaches Blue', () => {
    const [h1, h2] = twoHosts()
    // Red's 10.0.0.7 is Red2; Blue2's MAC is not a Red address at all.
    h1.port['hnv-red1'].receive(arpRequest(red1.mac, '10.0.0.5', '10.0.0.7'))
    expect(parseArp(h1.port['hnv-red1'].take()[0], 14, 42).senderMac).toBe(colon(red2.mac))
    h1.port['hnv-red1'].receive(ping4(red1, red2.mac, '10.0.0.7'), ping4(red1, blue2.mac, '10.0.0.7'))
    expect(parseNvgre(h1.u4.take()[0].packet, 0, 8).vsid).toBe(6001)
    expect(h2.port['hnv-red2'].take()).toHaveLength(1)
    expect(h1.engine.status().drops['dst-mac-mismatch']).toBe(1)
    // Even NVGRE forged with Red's VSID and Blue2's MAC finds no port.
    h2.u4.receive([{source: HOST1_PA, packet: nvgre(6001, 1, ping4(red1, blue2.mac, '10.0.0.7'))}])
    expect(h2.engine.status().drops['no-port-for-mac']).toBe(1)
    expect(h2.port['hnv-blue2'].take()).toHaveLength(0)
  })

  it('routes between two subnets of one tenant through the .1 gateway', () => {
    const [h1, h2] = twoHosts()
    h1.port['hnv-blue1'].receive(arpRequest(blue1.mac, '10.0.0.5', '10.0.0.1'))
    const gatewayMac = parseArp(h1.port['hnv-blue1'].take()[0], 14, 42).senderMac
    expect(gatewayMac).toBe(colon(BLUE_GATEWAY_MAC))

    h1.port['hnv-blue1'].receive(ping4(blue1, BLUE_GATEWAY_MAC, '10.0.1.9'))
    expect(parseNvgre(h1.u4.sent[0].packet, 0, 8).vsid).toBe(5002)
    const [arrived] = h2.port['hnv-blue3'].take()
    expect(parseEthernet(arrived, 0, 14)).toMatchObject({dst: colon(blue3.mac), src: colon(BLUE_5002_MAC)})
    expect(parseIpv4(arrived, 14, arrived.length)).toMatchObject({ttl: 63, src: ipv4FromString('10.0.0.5')})

    // Blue3 answers through its own gateway (10.0.1.1, a generated MAC).
    h2.port['hnv-blue3'].receive(arpRequest(blue3.mac, '10.0.1.9', '10.0.1.1'))
    expect(parseArp(h2.port['hnv-blue3'].take()[0], 14, 42).senderMac).toBe(colon(BLUE_5002_MAC))
    h2.port['hnv-blue3'].receive(answerPing4(arrived))
    const [reply] = h1.port['hnv-blue1'].take()
    expect(parseEthernet(reply, 0, 14)).toMatchObject({dst: colon(blue1.mac), src: colon(BLUE_GATEWAY_MAC)})
    const ip = parseIpv4(reply, 14, reply.length)
    expect([ipv4ToString(ip.src), ipv4ToString(ip.dst), ip.ttl]).toEqual(['10.0.1.9', '10.0.0.5', 63])
    expect(nonZero(h1.engine.status().drops)).toEqual({})
    expect(nonZero(h2.engine.status().drops)).toEqual({})
  })

  it('carries an IPv6 CA over the IPv4 PAs and an IPv4 CA over the IPv6 PAs', () => {
    const [h1, h2] = twoHosts()
    h1.port['hnv-blue1'].receive(neighborSolicit(blue1.mac, 'fd01:5001::5', 'fd01:5001::7'))
    expect(h1.port['hnv-blue1'].take()).toHaveLength(1)
    h1.port['hnv-blue1'].receive(ping6(blue1, blue2.mac, 'fd01:5001::7'))
    expect(h1.u4.sent.map((s) => s.destination)).toEqual([HOST2_PA])
    const [v6] = h2.port['hnv-blue2'].take()
    h2.port['hnv-blue2'].receive(answerPing6(v6))
    const [v6reply] = h1.port['hnv-blue1'].take()
    expect(parseIpv6(v6reply, 14, v6reply.length)).toMatchObject({src: 'fd01:5001::7', dst: 'fd01:5001::5'})

    h1.port['hnv-green1'].receive(ping4(green1, green2.mac, '10.7.0.7'))
    expect(h1.u6.sent.map((s) => [s.destination, parseNvgre(s.packet, 0, 8).vsid])).toEqual([[HOST2_PA6, 7001]])
    const [v4] = h2.port['hnv-green2'].take()
    h2.port['hnv-green2'].receive(answerPing4(v4))
    expect(h2.u6.sent.map((s) => s.destination)).toEqual([HOST1_PA6])
    expect(h1.port['hnv-green1'].take()).toHaveLength(1)
    expect(nonZero(h2.engine.status().drops)).toEqual({})
  })

  it('drops and counts a spoofed source MAC and a spoofed source CA', () => {
    const [h1, h2] = twoHosts()
    h1.port['hnv-blue1'].receive(
      ipv4Frame(blue2.mac, '060600000042', {src: '10.0.0.5', dst: '10.0.0.7'}),
      ipv4Frame(blue2.mac, blue1.mac, {src: '10.0.0.42', dst: '10.0.0.7'}),
    )
    expect(h1.u4.sent).toHaveLength(0)
    expect(h2.port['hnv-blue2'].take()).toHaveLength(0)
    expect(nonZero(h1.engine.status().drops)).toEqual({'src-mac-spoofed': 1, 'src-ip-spoofed': 1})
    expect(h1.engine.status().ports.find((p) => p.name === 'hnv-blue1')?.drops).toBe(2)
  })

  it('drops and counts NVGRE from an unknown PA, for an unknown VSID, or with C or S set', () => {
    const [, h2] = twoHosts()
    const inner = () => ping4(blue1, blue2.mac, '10.0.0.7')
    h2.u4.receive([
      {source: '198.51.100.99', packet: nvgre(5001, 1, inner())},
      {source: HOST1_PA, packet: nvgre(5999, 1, inner())},
      {source: HOST1_PA, packet: nvgre(5001, 1, inner(), GreFlag.CHECKSUM | GreFlag.KEY)},
      {source: HOST1_PA, packet: nvgre(5001, 1, inner(), GreFlag.SEQUENCE | GreFlag.KEY)},
      {source: HOST1_PA, packet: nvgre(5001, 1, inner())},
    ])
    expect(h2.port['hnv-blue2'].take()).toHaveLength(1)
    expect(nonZero(h2.engine.status().drops)).toEqual({'source-pa-mismatch': 1, 'unknown-vsid': 1, 'gre-checksum-bit': 1, 'gre-sequence-bit': 1})
  })

  it('a table swap that removes a lookup record stops the traffic without touching the ports', () => {
    const [h1, h2] = twoHosts()
    const ping = () => ping4(blue1, blue2.mac, '10.0.0.7')
    h1.port['hnv-blue1'].receive(ping())
    expect(h2.port['hnv-blue2'].take()).toHaveLength(1)

    h1.engine.load(compile(without(topology(1), '10.0.0.7', 5001), 2))
    h1.port['hnv-blue1'].receive(ping(), arpRequest(blue1.mac, '10.0.0.5', '10.0.0.7'))
    expect(h2.port['hnv-blue2'].take()).toHaveLength(0)
    expect(h1.port['hnv-blue1'].take()).toHaveLength(0)
    const s1 = h1.engine.status()
    expect(s1.revision).toBe(2)
    expect(nonZero(s1.drops)).toEqual({'no-record': 1, 'neighbor-unknown': 1})
    for (const port of Object.values(h1.port)) {
      expect(port.closed).toBe(false)
      expect(port.started).toBe(true)
    }
    expect(s1.ports.find((p) => p.name === 'hnv-blue1')).toMatchObject({rxPackets: 3, txPackets: 0, state: 'forwarding'})

    // On the receiving side, a removed source record makes host2 refuse what host1 still sends.
    h1.engine.load(compile(topology(1), 3))
    h2.engine.load(compile(without(topology(2), '10.0.0.5', 5001), 2))
    h1.port['hnv-blue1'].receive(ping())
    expect(h2.port['hnv-blue2'].take()).toHaveLength(0)
    expect(h2.engine.status().drops['unknown-source-ca']).toBe(1)
    // And back.
    h2.engine.load(compile(topology(2), 3))
    h1.port['hnv-blue1'].receive(ping())
    expect(h2.port['hnv-blue2'].take()).toHaveLength(1)
  })

  it('keeps a port the table does not name, dropping its frames until a table names it', () => {
    const [h1] = twoHosts()
    const stranger = new MemoryPort({name: 'hnv-blue9'})
    h1.engine.attach(stranger)
    stranger.receive(ping4({...blue1, mac: '060600000009'}, blue2.mac, '10.0.0.9'))
    expect(h1.engine.status().ports.find((p) => p.name === 'hnv-blue9')).toMatchObject({state: 'unknown', vsid: null, drops: 1})
    const doc = topology(1)
    const adapters = [...(doc.VMNetworkAdapters as unknown[]), {VMName: 'Blue9', Name: 'Network Adapter', MacAddress: '060600000009', VirtualSubnetId: 5001, InterfaceName: 'hnv-blue9'}]
    h1.engine.load(compile({...doc, VMNetworkAdapters: adapters}, 2))
    stranger.receive(ping4({...blue1, mac: '060600000009'}, blue2.mac, '10.0.0.7'))
    expect(h1.engine.status().ports.find((p) => p.name === 'hnv-blue9')).toMatchObject({state: 'forwarding', vsid: 5001, vmName: 'Blue9', drops: 2})
    expect(h1.engine.status().drops['src-ip-spoofed']).toBe(1)
  })
})
