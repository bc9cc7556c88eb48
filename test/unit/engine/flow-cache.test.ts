// The per-flow decision cache (flow-cache.ts) against the pipeline without it: over random policies and
// random frames, repeated so that flows hit the cache, with per-packet variations its entries must not
// hide (TTL 1 when routed, oversized with DF, TCP SYN to clamp, DHCP, fragments), frames it must never
// answer (ARP, broadcast and multicast, VLAN tags, IPv6, spoofed sources, unknown destinations, bad GRE)
// and table swaps between batches. Two properties: the Verdict of every frame is the same field for field,
// and two whole engines, one with the cache and one without, send the same bytes to the same places and
// count the same (status(), learning).
import fc from 'fast-check'
import {afterAll, describe, expect, it} from 'vitest'

import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {FlowCache, FlowCacheStat} from '../../../src/lib/engine/flow-cache.js'
import {Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {IoStat} from '../../../src/lib/engine/ports.js'
import type {ForwardingTable} from '../../../src/lib/engine/table.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {addressBlock, MemoryUnderlay} from '../../support/memory-underlay.js'
import {MemoryPort} from '../../support/memory-port.js'
import {arpRequest, HOST1_PA, HOST2_PA, HOST3_PA, ipv4Frame, ping6, topology, udp4, VMS} from './support.js'

const VSIDS = [5001, 5002, 6001] as const
/** Host parts of the CAs records may have (.1 is the subnet's gateway address). */
const HOSTS = [2, 3, 4, 5, 6] as const
const LOCAL_PA = '198.51.100.11'
const PAS = [LOCAL_PA, '198.51.100.22', '198.51.100.33'] as const
const UNKNOWN_PA = '203.0.113.9'
const RDID_A = '{11111111-2222-3333-4444-000000005001}'
const RDID_B = '{11111111-2222-3333-4444-000000005002}'
const RDID_C = '{11111111-2222-3333-4444-000000006001}'
const TYPES = ['Static', 'Static', 'Static', 'Dynamic', 'GatewayWildcard', 'L2Only'] as const
const RULES = ['TranslationMethodEncap', 'TranslationMethodEncap', 'TranslationMethodEncap', 'TranslationMethodNat'] as const

const hex = (n: number, digits: number) => n.toString(16).padStart(digits, '0')
const subnet = (vsid: number) => (vsid === 5002 ? '10.0.1.' : '10.0.0.')
const macOf = (vsid: number, host: number) => '06' + hex(vsid, 4) + hex(host, 6)
/** The distributed router's generated MAC on a subnet without a gateway record (02:6E:76 + VSID). */
const routerMac = (vsid: number) => '026e76' + hex(vsid, 6)
const portName = (vsid: number, host: number) => 'fc' + vsid + '-' + host

// ---- policies ----

/** What each (VSID, host) slot holds: most have a record, most of those on this host. */
const slotArb = fc.record({
  present: fc.constantFrom(true, true, true, true, false),
  pa: fc.constantFrom(0, 0, 0, 1, 2),
  type: fc.constantFrom(...TYPES),
  rule: fc.constantFrom(...RULES),
  dhcp: fc.constantFrom(false, false, false, true),
  mssClamp: fc.constantFrom(false, false, true),
})

const policyArb = fc.record({
  /** 5001 and 5002 in one routing domain: routed between them. */
  sharedDomain: fc.boolean(),
  externalRouter: fc.constantFrom(false, false, false, true),
  /** A record for 10.0.0.1 in 5001 (its MAC becomes the gateway's). */
  gatewayRecord: fc.boolean(),
  /** 10.9.0.0/16 via 10.0.0.3 in 5001. */
  nextHopRoute: fc.boolean(),
  slots: fc.array(slotArb, {minLength: VSIDS.length * HOSTS.length, maxLength: VSIDS.length * HOSTS.length}),
})
type PolicySpec = typeof policyArb extends fc.Arbitrary<infer T> ? T : never

function rdid(spec: PolicySpec, vsid: number): string {
  if (vsid === 6001) return RDID_C
  return vsid === 5002 && !spec.sharedDomain ? RDID_B : RDID_A
}

function policyOf(spec: PolicySpec): PolicyDocument {
  const records: Record<string, unknown>[] = []
  const adapters: Record<string, unknown>[] = []
  spec.slots.forEach((r, i) => {
    if (!r.present) return
    const vsid = VSIDS[Math.floor(i / HOSTS.length)]
    const host = HOSTS[i % HOSTS.length]
    const key = vsid + '/' + host
    const wildcard = r.type === 'GatewayWildcard' || r.type === 'L2Only'
    const mac = macOf(vsid, host).toUpperCase()
    records.push({CustomerAddress: wildcard ? '0.0.0.0' : subnet(vsid) + host, VirtualSubnetID: vsid, MACAddress: mac, ProviderAddress: PAS[r.pa], Rule: r.rule, VMName: 'vm' + key, Type: r.type})
    if (r.pa === 0) {
      adapters.push({VMName: 'vm' + key, Name: 'Network Adapter', MacAddress: mac, VirtualSubnetId: vsid, InterfaceName: portName(vsid, host), Dhcp: r.dhcp, MssClamp: r.mssClamp})
    }
  })
  if (spec.gatewayRecord) records.push({CustomerAddress: '10.0.0.1', VirtualSubnetID: 5001, MACAddress: macOf(5001, 1).toUpperCase(), ProviderAddress: '169.254.254.254', Rule: 'TranslationMethodEncap', VMName: null, Type: 'Static'})
  const routes = VSIDS.map((vsid) => ({RoutingDomainID: rdid(spec, vsid), VirtualSubnetID: vsid, DestinationPrefix: subnet(vsid) + '0/24', NextHop: '0.0.0.0', Metric: 255}))
  if (spec.nextHopRoute) routes.push({RoutingDomainID: RDID_A, VirtualSubnetID: 5001, DestinationPrefix: '10.9.0.0/16', NextHop: '10.0.0.3', Metric: 10})
  return {
    Version: 1,
    Global: {UseExternalRouter: spec.externalRouter},
    LookupRecords: records,
    CustomerRoutes: routes,
    ProviderAddresses: [{ProviderAddress: LOCAL_PA, InterfaceIndex: 2, PrefixLength: 24}],
    VMNetworkAdapters: adapters,
  }
}

// ---- frames ----

const flowArb = fc.record({
  fromUnderlay: fc.constantFrom(false, false, true),
  /** Sender and destination: a slot of the policy in force (preferred: local senders and any destination from a port, remote senders and local destinations from the underlay), or `vsid`/`host` and `dstVsid`/`dstHost` as they are. */
  pick: fc.constantFrom(true, true, true, true, true, false),
  sender: fc.nat(),
  destination: fc.nat(),
  vsid: fc.constantFrom(...VSIDS),
  host: fc.constantFrom(...HOSTS),
  srcMac: fc.constantFrom('own', 'own', 'own', 'own', 'own', 'own', 'own', 'own', 'own', 'other'),
  srcIp: fc.constantFrom('own', 'own', 'own', 'own', 'own', 'own', 'own', 'own', 'own', 'spoofed', 'foreign', 'zero'),
  /** 0: the sender's own. */
  dstVsid: fc.constantFrom(0, 0, 0, ...VSIDS),
  /** 1: the gateway address; 7: no record. */
  dstHost: fc.constantFrom(1, 2, 3, 4, 5, 6, 7),
  dstIp: fc.constantFrom('host', 'host', 'host', 'host', 'host', 'host', 'host', 'nexthop'),
  /** auto: the record's MAC within the subnet, the router's between subnets. */
  dstMac: fc.constantFrom('auto', 'auto', 'auto', 'auto', 'auto', 'auto', 'record', 'router', 'gateway-record', 'broadcast', 'multicast', 'other'),
  etherType: fc.constantFrom('ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'ipv4', 'arp-request', 'arp-reply', 'ipv6', 'vlan'),
  /** -1: the PA of the sender's record. */
  outerSrc: fc.constantFrom(-1, -1, -1, -1, 0, 1, 2, 3),
  outerDstLocal: fc.constantFrom(true, true, true, true, true, true, true, true, true, false),
  greKnownVsid: fc.constantFrom(true, true, true, true, true, true, true, true, true, false),
  greFlags: fc.constantFrom(0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0x2000, 0xa000),
})
type RawFlow = typeof flowArb extends fc.Arbitrary<infer T> ? T : never
type Flow = Omit<RawFlow, 'vsid' | 'host' | 'dstVsid' | 'dstHost'> & {vsid: number; host: number; dstVsid: number; dstHost: number}

/** The slots of a policy, as [vsid, host], that hold a record on this host (local) or another. */
function slotsOf(spec: PolicySpec, local: boolean | null): [number, number][] {
  const out: [number, number][] = []
  spec.slots.forEach((r, i) => {
    if (r.present && (local === null || (r.pa === 0) === local)) out.push([VSIDS[Math.floor(i / HOSTS.length)], HOSTS[i % HOSTS.length]])
  })
  return out
}

/** The flow's endpoints under the policy in force. */
function resolve(f: RawFlow, spec: PolicySpec): Flow {
  if (!f.pick) return f
  const senders = slotsOf(spec, !f.fromUnderlay)
  const out: Flow = {...f}
  if (senders.length > 0) [out.vsid, out.host] = senders[f.sender % senders.length]
  // From the underlay: to a VM of this host, in the sender's VSID when there is one (routed packets arrive
  // in the destination's VSID with its MAC).
  let destinations = slotsOf(spec, f.fromUnderlay ? true : null)
  const same = destinations.filter(([vsid]) => vsid === out.vsid)
  if (f.fromUnderlay && same.length > 0) destinations = same
  if (destinations.length > 0) [out.dstVsid, out.dstHost] = destinations[f.destination % destinations.length]
  return out
}

const packetArb = fc.record({
  flow: fc.nat(),
  ttl: fc.constantFrom(1, 2, 64, 64),
  df: fc.boolean(),
  big: fc.constantFrom(false, false, false, true),
  l4: fc.constantFrom('udp', 'udp', 'udp', 'udp', 'udp', 'udp', 'syn', 'ack', 'icmp', 'dhcp', 'fragment', 'truncated'),
  flowId: fc.integer({min: 0, max: 255}),
})
type Packet = typeof packetArb extends fc.Arbitrary<infer T> ? T : never

const stepArb = fc.record({swap: fc.constantFrom(false, false, true), packets: fc.array(packetArb, {minLength: 1, maxLength: 24})})

/** Two policies: a random one and the same with a few slots changed (so that most flows mean something in both). */
const policiesArb = policyArb.chain((first) =>
  fc
    .record({
      changes: fc.array(fc.record({slot: fc.nat(VSIDS.length * HOSTS.length - 1), to: slotArb}), {minLength: 1, maxLength: 4}),
      sharedDomain: fc.constantFrom(first.sharedDomain, first.sharedDomain, !first.sharedDomain),
      gatewayRecord: fc.constantFrom(first.gatewayRecord, first.gatewayRecord, !first.gatewayRecord),
    })
    .map(({changes, sharedDomain, gatewayRecord}): [PolicySpec, PolicySpec] => {
      const slots = [...first.slots]
      for (const c of changes) slots[c.slot] = c.to
      return [first, {...first, sharedDomain, gatewayRecord, slots}]
    }),
)

const scenarioArb = fc.record({
  policies: policiesArb,
  flows: fc.array(flowArb, {minLength: 1, maxLength: 8}),
  steps: fc.array(stepArb, {minLength: 1, maxLength: 8}),
})

function ipv4(text: string): number {
  return text.split('.').reduce((a, b) => a * 256 + Number(b), 0)
}

function putMac(buf: Buffer, at: number, mac: string): void {
  buf.set(Buffer.from(mac, 'hex'), at)
}

function putIpv4(buf: Buffer, at: number, text: string): void {
  buf.writeUInt32BE(ipv4(text), at)
}

/** The L4 part of an IPv4 packet: [protocol, bytes, flags-fragment word]. */
function l4Of(p: Packet, srcMac: string): [number, Buffer, number] {
  // Big: a 1492-byte frame, 1500 with the GRE header: above the 1480 a 1500-byte IPv4 link carries.
  const payload = p.big ? 1450 : 18
  switch (p.l4) {
    case 'syn':
    case 'ack': {
      // 24-byte header: MSS option (kind 2, length 4) 1460.
      const tcp = Buffer.alloc(24 + (p.big ? payload : 0))
      tcp.writeUInt16BE(40000 + p.flowId, 0)
      tcp.writeUInt16BE(443, 2)
      tcp[12] = 6 << 4
      tcp[13] = p.l4 === 'syn' ? 0x02 : 0x10
      tcp.writeUInt16BE(0xffff, 14)
      tcp.set([2, 4, 0x05, 0xb4], 20)
      return [6, tcp, p.df ? 0x4000 : 0]
    }
    case 'icmp': {
      const icmp = Buffer.alloc(8 + payload)
      icmp[0] = 8
      return [1, icmp, p.df ? 0x4000 : 0]
    }
    case 'dhcp': {
      const udp = Buffer.alloc(8 + 240 + 4)
      udp.writeUInt16BE(68, 0)
      udp.writeUInt16BE(67, 2)
      udp.writeUInt16BE(udp.length, 4)
      const d = 8
      udp[d] = 1
      udp[d + 1] = 1
      udp[d + 2] = 6
      udp.writeUInt32BE(0x1234, d + 4)
      putMac(udp, d + 28, srcMac)
      udp.writeUInt32BE(0x63825363, d + 236)
      udp.set([53, 1, 1, 255], d + 240)
      return [17, udp, 0]
    }
    default: {
      const udp = Buffer.alloc(8 + payload)
      udp.writeUInt16BE(1000 + p.flowId, 0)
      udp.writeUInt16BE(5201, 2)
      udp.writeUInt16BE(udp.length, 4)
      // A first fragment (MF) or a later one (offset 185 * 8).
      const frag = p.l4 === 'fragment' ? (p.flowId & 1 ? 0x2000 : 185) : 0
      return [17, udp, (p.df && p.l4 !== 'fragment' ? 0x4000 : 0) | frag]
    }
  }
}

function macs(f: Flow, spec: PolicySpec): {src: string; dst: string} {
  const src = f.srcMac === 'own' ? macOf(f.vsid, f.host) : macOf(f.vsid, (f.host % 6) + 2)
  const dstVsid = f.dstVsid === 0 ? f.vsid : f.dstVsid
  let dst: string
  switch (f.dstMac) {
    case 'auto':
      dst = dstVsid === f.vsid ? macOf(dstVsid, f.dstHost) : f.vsid === 5001 && spec.gatewayRecord ? macOf(5001, 1) : routerMac(f.vsid)
      break
    case 'record':
      dst = macOf(dstVsid, f.dstHost)
      break
    case 'router':
      dst = routerMac(f.vsid)
      break
    case 'gateway-record':
      dst = spec.gatewayRecord ? macOf(5001, 1) : routerMac(5001)
      break
    case 'broadcast':
      dst = 'ffffffffffff'
      break
    case 'multicast':
      dst = '01005e000005'
      break
    default:
      dst = '0a0b0c0d0e0f'
  }
  return {src, dst}
}

/** The Ethernet frame a flow's packet is (inner frame for the underlay). */
function frameOf(f: Flow, p: Packet, spec: PolicySpec): Buffer {
  const {src: srcMac, dst: dstMac} = macs(f, spec)
  const srcIp = f.srcIp === 'own' ? subnet(f.vsid) + f.host : f.srcIp === 'spoofed' ? subnet(f.vsid) + ((f.host % 6) + 2) : f.srcIp === 'foreign' ? '172.16.0.9' : '0.0.0.0'
  const dstIp = f.dstIp === 'nexthop' ? '10.9.0.5' : subnet(f.dstVsid === 0 ? f.vsid : f.dstVsid) + f.dstHost
  const eth = Buffer.alloc(14)
  putMac(eth, 0, dstMac)
  putMac(eth, 6, srcMac)
  switch (f.etherType) {
    case 'arp-request':
    case 'arp-reply': {
      const arp = Buffer.alloc(28)
      arp.writeUInt16BE(1, 0)
      arp.writeUInt16BE(0x0800, 2)
      arp[4] = 6
      arp[5] = 4
      arp.writeUInt16BE(f.etherType === 'arp-request' ? 1 : 2, 6)
      putMac(arp, 8, srcMac)
      putIpv4(arp, 14, srcIp)
      if (f.etherType === 'arp-reply') putMac(arp, 18, dstMac)
      putIpv4(arp, 24, dstIp)
      eth.writeUInt16BE(0x0806, 12)
      return Buffer.concat([eth, arp])
    }
    case 'ipv6': {
      const ip = Buffer.alloc(40 + 16)
      ip[0] = 0x60
      ip.writeUInt16BE(16, 4)
      ip[6] = 58
      ip[7] = p.ttl
      ip.set(addressBlock('fd01:5001::' + f.host), 8)
      ip.set(addressBlock('fd01:5001::' + f.dstHost), 24)
      ip[40] = 128
      eth.writeUInt16BE(0x86dd, 12)
      return Buffer.concat([eth, ip])
    }
    default: {
      const [protocol, l4, flagsFrag] = l4Of(p, srcMac)
      const ip = Buffer.alloc(20)
      ip[0] = 0x45
      ip.writeUInt16BE(20 + l4.length + (p.l4 === 'truncated' ? 100 : 0), 2)
      ip.writeUInt16BE(7, 4)
      ip.writeUInt16BE(flagsFrag, 6)
      ip[8] = p.ttl
      ip[9] = protocol
      putIpv4(ip, 12, srcIp)
      putIpv4(ip, 16, dstIp)
      if (f.etherType === 'vlan') {
        const tagged = Buffer.alloc(18)
        eth.copy(tagged, 0, 0, 12)
        tagged.writeUInt16BE(0x8100, 12)
        tagged.writeUInt16BE(5, 14)
        tagged.writeUInt16BE(0x0800, 16)
        return Buffer.concat([tagged, ip, l4])
      }
      eth.writeUInt16BE(0x0800, 12)
      return Buffer.concat([eth, ip, l4])
    }
  }
}

function nvgreOf(f: Flow, p: Packet, spec: PolicySpec): Buffer {
  const inner = frameOf(f, p, spec)
  const gre = Buffer.alloc(8)
  gre.writeUInt16BE(f.greFlags, 0)
  gre.writeUInt16BE(0x6558, 2)
  gre.writeUInt32BE(((f.greKnownVsid ? f.vsid : 9999) << 8) | p.flowId, 4)
  return Buffer.concat([gre, inner])
}

function outerSrc(f: Flow, spec: PolicySpec): string {
  if (f.outerSrc === -1) return PAS[spec.slots[(VSIDS as readonly number[]).indexOf(f.vsid) * HOSTS.length + (HOSTS as readonly number[]).indexOf(f.host)].pa]
  return f.outerSrc === 3 ? UNKNOWN_PA : PAS[f.outerSrc]
}
const outerDst = (f: Flow) => (f.outerDstLocal ? LOCAL_PA : PAS[1])

const ALL_PORTS = VSIDS.flatMap((vsid) => HOSTS.map((host) => portName(vsid, host)))

/** Cache answers over every run, to see that the properties exercise hits and misses. */
const seen = {hits: 0, misses: 0, stores: 0}

afterAll(() => {
  expect(seen.hits).toBeGreaterThan(200)
  expect(seen.misses).toBeGreaterThan(1000)
})

/** Every field of the Verdict but its bookkeeping of which fields resetIpv4 may skip. */
function verdictFields(v: Verdict): Record<string, unknown> {
  const fields: Record<string, unknown> = {...v}
  delete fields.ipv4Shaped
  return fields
}

describe('flow cache', () => {
  it('gives every frame the Verdict the pipeline gives it, across table swaps', () => {
    fc.assert(
      fc.property(scenarioArb, ({policies, flows, steps}) => {
        const tables: ForwardingTable[] = policies.map((spec, i) => compile(policyOf(spec), i + 1))
        const cache = new FlowCache(16)
        const cached = new Pipeline()
        const plain = new Pipeline()
        const v1 = new Verdict()
        const v2 = new Verdict()
        const addrs = new Uint8Array(32)
        let current = 0
        for (const step of steps) {
          if (step.swap) current = 1 - current
          const t = tables[current]
          const spec = policies[current]
          for (const p of step.packets) {
            const f = resolve(flows[p.flow % flows.length], spec)
            if (f.fromUnderlay) {
              const buf = nvgreOf(f, p, spec)
              addrs.set(addressBlock(outerSrc(f, spec)), 0)
              addrs.set(addressBlock(outerDst(f)), 16)
              cache.fromUnderlay(cached, t, 4, buf, 0, buf.length, addrs, 0, v1)
              plain.fromUnderlay(t, 4, buf, 0, buf.length, addrs, 0, v2)
            } else {
              const buf = frameOf(f, p, spec)
              const port = t.portIndex(portName(f.vsid, f.host))
              cache.fromPort(cached, t, port, buf, 0, buf.length, v1)
              plain.fromPort(t, port, buf, 0, buf.length, v2)
            }
            expect(verdictFields(v1)).toEqual(verdictFields(v2))
          }
        }
        seen.hits += cache.stats[FlowCacheStat.HITS]
        seen.misses += cache.stats[FlowCacheStat.MISSES]
        seen.stores += cache.stats[FlowCacheStat.STORES]
      }),
      {numRuns: 300},
    )
  })

  it('leaves two engines, with and without it, sending and counting the same, across table swaps', () => {
    fc.assert(
      fc.property(scenarioArb, ({policies, flows, steps}) => {
        const tables: ForwardingTable[] = policies.map((spec, i) => compile(policyOf(spec), i + 1))
        const rigs = [true, false].map((on) => {
          const underlay = new MemoryUnderlay({family: 4, local: LOCAL_PA})
          const engine = new Engine({underlays: [underlay], flowCache: on ? 16 : false})
          engine.load(tables[0])
          const ports = new Map(ALL_PORTS.map((name) => [name, new MemoryPort({name})]))
          for (const port of ports.values()) engine.attach(port)
          return {engine, underlay, ports}
        })
        try {
          let current = 0
          for (const step of steps) {
            if (step.swap) {
              current = 1 - current
              for (const r of rigs) r.engine.load(tables[current])
            }
            const spec = policies[current]
            // One batch per port and one for the underlay, in the order the packets came.
            const byPort = new Map<string, Buffer[]>()
            const fromUnderlay: {source: string; destination: string; packet: Buffer}[] = []
            for (const p of step.packets) {
              const f = resolve(flows[p.flow % flows.length], spec)
              if (f.fromUnderlay) fromUnderlay.push({source: outerSrc(f, spec), destination: outerDst(f), packet: nvgreOf(f, p, spec)})
              else {
                const name = portName(f.vsid, f.host)
                byPort.set(name, [...(byPort.get(name) ?? []), frameOf(f, p, spec)])
              }
            }
            for (const r of rigs) {
              for (const [name, frames] of byPort) r.ports.get(name)!.receive(...frames)
              if (fromUnderlay.length > 0) r.underlay.receive(fromUnderlay)
            }
            const [a, b] = rigs
            for (const name of ALL_PORTS) expect(a.ports.get(name)!.take()).toEqual(b.ports.get(name)!.take())
            expect(a.underlay.take()).toEqual(b.underlay.take())
            const {flowCache: cached, ...withCache} = a.engine.status()
            const {flowCache: none, ...without} = b.engine.status()
            expect(withCache).toEqual(without)
            expect([cached === null, none]).toEqual([false, null])
            expect(a.engine.takeLearning()).toEqual(b.engine.takeLearning())
          }
          const stats = rigs[0].engine.flowCache!.stats
          seen.hits += stats[FlowCacheStat.HITS]
          seen.misses += stats[FlowCacheStat.MISSES]
        } finally {
          for (const r of rigs) r.engine.close()
        }
      }),
      {numRuns: 150},
    )
  })
})

describe('flow cache, by example', () => {
  it('answers a repeated flow from its entry, and forgets it when a new table comes', () => {
    const doc = topology(1)
    const underlay = new MemoryUnderlay({family: 4, local: HOST1_PA})
    const engine = new Engine({underlays: [underlay]})
    const blue1 = new MemoryPort({name: VMS.blue1.iface})
    engine.load(compile(doc, 1))
    engine.attach(blue1)
    const ping = ipv4Frame(VMS.blue2.mac, VMS.blue1.mac, {src: '10.0.0.5', dst: '10.0.0.7', ...udp4(1000, 9)})
    blue1.receive(ping, ping, ping)
    const stats = engine.flowCache!.stats
    expect([stats[FlowCacheStat.MISSES], stats[FlowCacheStat.HITS], stats[FlowCacheStat.STORES]]).toEqual([1, 2, 1])
    expect(underlay.take().map((s) => s.destination)).toEqual([HOST2_PA, HOST2_PA, HOST2_PA])
    // Blue2 moves to a third host: the next frame of the flow follows the new table.
    const records = doc.LookupRecords as Record<string, unknown>[]
    const moved = {...doc, LookupRecords: records.map((r) => (r.CustomerAddress === '10.0.0.7' && r.VirtualSubnetID === 5001 ? {...r, ProviderAddress: HOST3_PA} : r))}
    engine.load(compile(moved, 2))
    blue1.receive(ping, ping)
    expect(underlay.take().map((s) => s.destination)).toEqual([HOST3_PA, HOST3_PA])
    expect([stats[FlowCacheStat.MISSES], stats[FlowCacheStat.HITS]]).toEqual([2, 3])
    expect(engine.status().flowCache).toMatchObject({hits: 3, misses: 2, stores: 2})
    engine.close()
  })

  it('stores one miss in 32 while thrashing, and every miss again once a working set that fits is hitting', () => {
    // A gateway VM (GatewayWildcard: any source address) sending to a remote VM from ever new sources.
    const gatewayMac = '020000000002'
    const doc: PolicyDocument = {
      Version: 1,
      LookupRecords: [
        {CustomerAddress: '0.0.0.0', VirtualSubnetID: 5001, MACAddress: gatewayMac, ProviderAddress: HOST1_PA, Rule: 'TranslationMethodEncap', VMName: 'gw', Type: 'GatewayWildcard'},
        {CustomerAddress: '10.0.0.7', VirtualSubnetID: 5001, MACAddress: VMS.blue2.mac, ProviderAddress: HOST2_PA, Rule: 'TranslationMethodEncap', VMName: 'Blue2', Type: 'Static'},
      ],
      CustomerRoutes: [{RoutingDomainID: RDID_A, VirtualSubnetID: 5001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255}],
      ProviderAddresses: [{ProviderAddress: HOST1_PA, InterfaceIndex: 2, PrefixLength: 24}],
      VMNetworkAdapters: [{VMName: 'gw', Name: 'Network Adapter', MacAddress: gatewayMac, VirtualSubnetId: 5001, InterfaceName: 'hnv-gw'}],
    }
    const underlay = new MemoryUnderlay({family: 4, local: HOST1_PA, record: false})
    const engine = new Engine({underlays: [underlay]})
    const gw = new MemoryPort({name: 'hnv-gw', record: false})
    engine.load(compile(doc, 1))
    engine.attach(gw)
    const from = (n: number) => ipv4Frame(VMS.blue2.mac, gatewayMac, {src: `172.16.${n >> 8}.${n & 255}`, dst: '10.0.0.7', ...udp4(1000, 9)})
    const stats = engine.flowCache!.stats
    const count = () => [FlowCacheStat.HITS, FlowCacheStat.MISSES, FlowCacheStat.STORES, FlowCacheStat.UNSTORED].map((s) => stats[s])
    // 3072 flows of one frame each: the first window of 1024 misses is stored, then one in 32.
    for (let n = 0; n < 3072; n += 64) gw.receive(...Array.from({length: 64}, (_, k) => from(n + k)))
    expect(count()).toEqual([0, 3072, 1024 + 2048 / 32, 2048 - 2048 / 32])
    expect(engine.status().drops).toSatisfy((d: Record<string, number>) => Object.values(d).every((x) => x === 0))
    // 64 flows over and over: they get in one by one, the cache stops thrashing, and they all hit.
    const set = Array.from({length: 64}, (_, k) => from(5000 + k))
    for (let pass = 0; pass < 60; pass++) gw.receive(...set)
    const before = count()
    gw.receive(...set)
    expect(count()[0] - before[0]).toBe(64)
    // Stored or not, every frame went out encapsulated.
    expect(underlay.stats[IoStat.TX_PACKETS]).toBe(3072 + 61 * 64)
    engine.close()
  })

  it('sends what it cannot hold through the pipeline (ARP, IPv6, broadcast) and counts them as bypassed or missed', () => {
    const underlay = new MemoryUnderlay({family: 4, local: HOST1_PA})
    const engine = new Engine({underlays: [underlay]})
    const blue1 = new MemoryPort({name: VMS.blue1.iface})
    engine.load(compile(topology(1), 1))
    engine.attach(blue1)
    blue1.receive(arpRequest(VMS.blue1.mac, '10.0.0.5', '10.0.0.7'), ping6(VMS.blue1, VMS.blue2.mac, 'fd01:5001::7'), ipv4Frame('ffffffffffff', VMS.blue1.mac, {src: '10.0.0.5', dst: '10.0.0.255'}))
    blue1.receive(ipv4Frame('ffffffffffff', VMS.blue1.mac, {src: '10.0.0.5', dst: '10.0.0.255'}))
    const stats = engine.flowCache!.stats
    expect([stats[FlowCacheStat.BYPASSED], stats[FlowCacheStat.MISSES], stats[FlowCacheStat.HITS], stats[FlowCacheStat.STORES]]).toEqual([2, 2, 0, 0])
    engine.close()
  })
})
