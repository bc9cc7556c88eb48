// `hnv trace`, Select-NetVirtualizationNextHop and the engine agree (issue 5): for a table of cases the
// simulated trace over the compiled tables, the next-hop answer and two whole engines joined in memory
// (as in two-hosts.test.ts) fed the very frames the trace built must end the same way.
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {renderTrace, type Trace} from '../../../src/lib/engine/explain.js'
import {selectNextHop} from '../../../src/lib/engine/next-hop.js'
import {buildNeighborProbe, buildProbe, findSourcePort, simulateTrace, type TraceHost, type TraceRequest} from '../../../src/lib/engine/trace.js'
import type {ForwardingTable} from '../../../src/lib/engine/table.js'
import {macToString, parseArp} from '../../../src/lib/wire/index.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {MemoryPort} from '../../support/memory-port.js'
import {MemoryNetwork, type MemoryUnderlay} from '../../support/memory-underlay.js'
import {BLUE_RDID, HOST1_PA, HOST1_PA6, HOST2_PA, HOST2_PA6, HOST3_PA, route, topology, VMS} from './support.js'

/** The test topology plus a gateway VM route (0.0.0.0/0 via Blue6 on host1) and a longer one via Blue7 on host3. */
function policy(host: 1 | 2): PolicyDocument {
  const doc = topology(host)
  return {
    ...doc,
    CustomerRoutes: [...(doc.CustomerRoutes as object[]), route(BLUE_RDID, 5001, '0.0.0.0/0', '10.0.0.6', 10), route(BLUE_RDID, 5001, '8.0.0.0/8', '10.0.0.9', 1)],
  }
}

const tables = {1: compile(policy(1), 1), 2: compile(policy(2), 1)}
const hosts: TraceHost[] = [
  {name: HOST1_PA, table: tables[1]},
  {name: HOST2_PA, table: tables[2]},
]

interface Running {
  engines: Engine[]
  port: Record<string, MemoryPort>
  u4: MemoryUnderlay[]
}

let running: Running | null = null
afterEach(() => {
  for (const e of running?.engines ?? []) e.close()
  running = null
})

function start(): Running {
  const network = new MemoryNetwork()
  const port: Record<string, MemoryPort> = {}
  const u4: MemoryUnderlay[] = []
  const engines = ([1, 2] as const).map((h) => {
    const a = network.underlay({family: 4, local: h === 1 ? HOST1_PA : HOST2_PA})
    const b = network.underlay({family: 6, local: h === 1 ? HOST1_PA6 : HOST2_PA6})
    u4.push(a)
    const engine = new Engine({underlays: [a, b]})
    engine.load(tables[h])
    for (const vm of Object.values(VMS).filter((vm) => vm.host === h)) {
      port[vm.iface] = new MemoryPort({name: vm.iface})
      engine.attach(port[vm.iface])
    }
    return engine
  })
  running = {engines, port, u4}
  return running
}

/** The outcome the engines reached for the frames trace builds: delivered to a TAP, sent to a PA, or dropped. */
function runEngines(t: ForwardingTable, request: TraceRequest): string {
  const r = start()
  const {port, source} = findSourcePort(t, request)
  const iface = t.ports.name[port]
  const drops = (): string[] =>
    r.engines.flatMap((e) =>
      Object.entries(e.status().drops)
        .filter(([, n]) => n > 0)
        .map(([reason]) => reason),
    )
  const trace = simulateTrace(hosts, request)
  const neighbor = trace.Steps.find((s) => s.Stage === 'arp-nd-proxy')?.Text.match(/asks for (\S+):/)?.[1] ?? request.destination
  const ask = buildNeighborProbe(t, port, source, neighbor)
  r.port[iface].receive(ask.buf.subarray(ask.off, ask.end))
  const [answer] = r.port[iface].take()
  if (answer === undefined) return `drop:${drops().join(',')}`
  const mac = parseArp(answer, 14, answer.length).senderMac
  const probe = buildProbe(t, port, source, request.destination, mac, request.protocol ?? 'icmp', request.port, request.ttl ?? 64, undefined, request.size)
  r.port[iface].receive(probe.buf.subarray(probe.off, probe.end))
  // What comes back to the sender (an ICMP error) is not a delivery.
  const delivered = Object.entries(r.port).filter(([name, p]) => p.sent.length > 0 && name !== iface)
  if (delivered.length > 0) return `deliver:${delivered.map(([name]) => name).join(',')}`
  const third = r.u4.flatMap((u) => u.sent).filter((s) => s.destination === HOST3_PA)
  if (third.length > 0) return `encap:${HOST3_PA}`
  return `drop:${drops().join(',')}`
}

function outcome(trace: Trace): string {
  const o = trace.Outcome
  if (o.Action === 'deliver') return `deliver:${o.InterfaceName}`
  if (o.Action === 'encap') return `encap:${o.ProviderAddress}`
  return `drop:${o.Reason}`
}

interface Case {
  name: string
  request: TraceRequest
  expected: string
  /** Select-NetVirtualizationNextHop: [NextHopAddress, NextHopMACAddress], or the drop reason it reports. */
  nextHop: [string, string] | string
}

const CASES: Case[] = [
  {name: 'same subnet, other host', request: {vmName: 'Blue1', destination: '10.0.0.7'}, expected: 'deliver:hnv-blue2', nextHop: ['10.0.0.7', '060600000007']},
  {name: 'other subnet, routed', request: {vmName: 'Blue1', destination: '10.0.1.9', protocol: 'tcp', port: 22}, expected: 'deliver:hnv-blue3', nextHop: ['10.0.1.9', '060600010009']},
  {name: 'other subnet, same host', request: {vmName: 'Blue1', destination: '10.0.1.4', protocol: 'udp'}, expected: 'deliver:hnv-blue4', nextHop: ['10.0.1.4', '060600010004']},
  {name: 'other tenant: Red1 to 10.0.0.7 reaches Red2, never Blue2', request: {vmName: 'Red1', destination: '10.0.0.7'}, expected: 'deliver:hnv-red2', nextHop: ['10.0.0.7', '080800000007']},
  {name: "other tenant's address: Red has no route to Green's 10.7.0.7", request: {vmName: 'Red1', destination: '10.7.0.7'}, expected: 'drop:no-route', nextHop: 'no-route'},
  {name: 'no record', request: {vmName: 'Blue1', destination: '10.0.1.77'}, expected: 'drop:no-record', nextHop: 'no-record'},
  {name: 'no record in the same subnet: ARP unanswered', request: {vmName: 'Blue1', destination: '10.0.0.99'}, expected: 'drop:neighbor-unknown', nextHop: 'no-record'},
  {name: 'gateway route to a VM on this host', request: {vmName: 'Blue1', destination: '203.0.113.9'}, expected: 'deliver:hnv-blue6', nextHop: ['10.0.0.6', '060600000006']},
  {name: 'longer gateway route to a third host', request: {vmName: 'Blue1', destination: '8.8.8.8'}, expected: `encap:${HOST3_PA}`, nextHop: ['10.0.0.9', '060600000009']},
  {name: 'spoofed source', request: {vmName: 'Blue1', source: '10.0.0.66', destination: '10.0.0.7'}, expected: 'drop:src-ip-spoofed', nextHop: ['10.0.0.7', '060600000007']},
  {name: 'record on this host without an adapter', request: {vmName: 'Blue1', destination: '10.0.0.8'}, expected: 'drop:no-local-port', nextHop: ['10.0.0.8', '060600000008']},
  {name: 'too big for the underlay after NVGRE: DF IPv4 gets fragmentation-needed', request: {vmName: 'Blue1', destination: '10.0.0.7', size: 1500}, expected: 'drop:too-big', nextHop: ['10.0.0.7', '060600000007']},
  {name: 'the largest packet that fits (1480 - 42)', request: {vmName: 'Blue1', destination: '10.0.0.7', size: 1438}, expected: 'deliver:hnv-blue2', nextHop: ['10.0.0.7', '060600000007']},
  {name: 'IPv6, same subnet', request: {vmName: 'Blue1', source: 'fd01:5001::5', destination: 'fd01:5001::7'}, expected: 'deliver:hnv-blue2', nextHop: ['fd01:5001::7', '060600000007']},
]

describe('trace, next hop and the engine agree', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const trace = simulateTrace(hosts, c.request)
      expect(outcome(trace)).toBe(c.expected)
      if (!c.request.source?.includes(':')) expect(runEngines(tables[1], c.request)).toBe(c.expected)
      const {port} = findSourcePort(tables[1], c.request)
      const vsid = tables[1].ports.vsidValue[port]
      if (typeof c.nextHop === 'string') {
        expect(() => selectNextHop(tables[1], null, c.request.destination, vsid)).toThrow(c.nextHop)
      } else {
        const answer = selectNextHop(tables[1], null, c.request.destination, vsid)
        expect([answer.NextHopAddress, answer.NextHopMACAddress]).toEqual(c.nextHop)
      }
    })
  }

  it('the IPv6 case through the engines: neighbor solicitation answered, packet delivered', () => {
    const r = start()
    const t = tables[1]
    const {port} = findSourcePort(t, {vmName: 'Blue1'})
    const ask = buildNeighborProbe(t, port, 'fd01:5001::5', 'fd01:5001::7')
    r.port['hnv-blue1'].receive(ask.buf.subarray(ask.off, ask.end))
    const [na] = r.port['hnv-blue1'].take()
    // The NA's target link-layer address option: the last 6 bytes.
    const mac = macToString(na, na.length - 6)
    expect(mac).toBe('06:06:00:00:00:07')
    const probe = buildProbe(t, port, 'fd01:5001::5', 'fd01:5001::7', mac, 'icmp', undefined, 64)
    r.port['hnv-blue1'].receive(probe.buf.subarray(probe.off, probe.end))
    expect(r.port['hnv-blue2'].take()).toHaveLength(1)
  })
})

describe('counters per lookup record', () => {
  it('count what resolved to each record, and survive a reload', () => {
    runEngines(tables[1], {vmName: 'Blue1', destination: '10.0.1.9'})
    const [h1, h2] = running!.engines
    const probeLen = 14 + 20 + 8 + 16
    expect(h1.status().records).toEqual([{CustomerAddress: '10.0.1.9', VirtualSubnetID: 5002, MACAddress: '060600010009', ProviderAddress: HOST2_PA, packets: 1, bytes: probeLen}])
    // The receiving host delivers by MAC: nothing resolved there.
    expect(h2.status().records).toEqual([])
    h1.load(compile(policy(1), 2))
    expect(h1.status().records[0]).toMatchObject({CustomerAddress: '10.0.1.9', packets: 1})
  })
})

describe('Select-NetVirtualizationNextHop', () => {
  it('fills SourceMACAddress from the source record, and names what is missing', () => {
    expect(selectNextHop(tables[1], '10.0.0.5', '10.0.0.7', 5001)).toEqual({
      SourceCustomerAddress: '10.0.0.5',
      DestinationCustomerAddress: '10.0.0.7',
      SourceVirtualSubnetID: 5001,
      NextHopAddress: '10.0.0.7',
      SourceMACAddress: '060600000005',
      NextHopMACAddress: '060600000007',
    })
    expect(selectNextHop(tables[1], null, '10.0.0.1', 5001).NextHopMACAddress).toBe('060600000001')
    expect(() => selectNextHop(tables[1], '10.0.0.66', '10.0.0.7', 5001)).toThrow('-SourceCustomerAddress 10.0.0.66 has no lookup record in VSID 5001')
    expect(() => selectNextHop(tables[1], null, '10.0.0.7', 9999)).toThrow('-SourceVirtualSubnetID 9999 has no lookup record or customer route')
    expect(() => selectNextHop(tables[1], null, '10.0.1.77', 5001)).toThrow('New-NetVirtualizationLookupRecord -CustomerAddress 10.0.1.77 -VirtualSubnetID 5002')
    expect(() => selectNextHop(tables[1], null, '10.9.0.1', 6001)).toThrow('no-route')
  })
})

describe('trace output', () => {
  it('a routed packet: candidates, rewrite, both hosts, as text and as JSON', () => {
    const trace = simulateTrace(hosts, {vmName: 'Blue1', destination: '8.8.8.8', protocol: 'tcp', port: 443})
    expect(renderTrace(trace)).toMatchSnapshot()
    const route = trace.Steps.find((s) => s.Stage === 'route')!
    expect(route.Candidates!.map((c) => [c.DestinationPrefix, c.Chosen])).toEqual([
      ['8.0.0.0/8', true],
      ['0.0.0.0/0', false],
    ])
    expect(route.Candidates![1].Why).toBe('shorter prefix (/0 < /8)')
    expect(route.Policy[0]).toMatchObject({Kind: 'CustomerRoute', Object: {DestinationPrefix: '8.0.0.0/8', NextHop: '10.0.0.9'}})
    const routed = simulateTrace(hosts, {vmName: 'Blue1', destination: '10.0.1.9'})
    expect(renderTrace(routed)).toMatchSnapshot()
    expect(routed.Steps.map((s) => `${s.Host} ${s.Stage} ${s.Action}`)).toEqual([
      `${HOST1_PA} arp-nd-proxy reply`,
      `${HOST1_PA} port-ingress continue`,
      `${HOST1_PA} port-security continue`,
      `${HOST1_PA} route continue`,
      `${HOST1_PA} resolve continue`,
      `${HOST1_PA} encap encap`,
      `${HOST2_PA} decap-check continue`,
      `${HOST2_PA} local-delivery deliver`,
    ])
  })

  it('a drop: the stage, the reason and the policy that would let it through', () => {
    const trace = simulateTrace(hosts, {vmName: 'Blue1', destination: '10.0.1.77'})
    expect(renderTrace(trace)).toMatchSnapshot()
    const last = trace.Steps[trace.Steps.length - 1]
    expect(last).toMatchObject({Stage: 'resolve', Action: 'drop', Drop: {Reason: 'no-record'}})
    expect(last.Drop!.Fix).toContain('New-NetVirtualizationLookupRecord -CustomerAddress 10.0.1.77 -VirtualSubnetID 5002')
    const spoofed = simulateTrace(hosts, {vmName: 'Blue1', source: '10.0.0.66', destination: '10.0.0.7'})
    expect(spoofed.Steps[spoofed.Steps.length - 1].Drop!.Fix).toContain('New-NetVirtualizationLookupRecord -CustomerAddress 10.0.0.66 -VirtualSubnetID 5001 -MACAddress 060600000005')
  })

  it('an oversized packet: the MTU stage, the ICMP sent back, and what to change', () => {
    const trace = simulateTrace(hosts, {vmName: 'Blue1', destination: '10.0.0.7', size: 1500, linkMtu: 1500})
    const last = trace.Steps[trace.Steps.length - 1]
    expect(last).toMatchObject({Stage: 'mtu', Action: 'reply', Drop: {Reason: 'too-big'}})
    expect(last.Drop!.Fix).toContain('physical MTU minus 42')
    expect(trace.Result).toContain('dropped (too-big)')
    // Jumbo frames on the underlay: it fits.
    expect(simulateTrace(hosts, {vmName: 'Blue1', destination: '10.0.0.7', size: 1500, linkMtu: 9000}).Outcome.Action).toBe('deliver')
    expect(() => simulateTrace(hosts, {vmName: 'Blue1', destination: '10.0.0.7', size: 30})).toThrow('-Size 30 is not from 44 to 65535')
  })

  it('source errors name what exists', () => {
    expect(() => simulateTrace(hosts, {vmName: 'Nobody', destination: '10.0.0.7'})).toThrow('no VM network adapter Nobody in the policy (adapters: ')
    expect(() => simulateTrace(hosts, {vsid: 5001, source: '10.0.0.7', destination: '10.0.0.5'})).toThrow('has no adapter on this host')
    expect(() => simulateTrace(hosts, {vmName: 'Blue1', destination: 'fd01:5001::7'})).toThrow('different address families')
  })
})
