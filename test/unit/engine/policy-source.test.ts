// loadForwardingTable(store) must give the table compile(service.exportPolicy(), revision) gives, dump and
// explanations included, whichever way it read the store: everything (joined columns), only what the
// change log names, or the policy service's documents when the store holds something unexpected.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {PolicyError} from '../../../src/lib/cli/errors.js'
import {compile} from '../../../src/lib/engine/compile.js'
import {FieldReader} from '../../../src/lib/engine/field-reader.js'
import {lastLoadKind, loadForwardingTable, MAX_LOGGED_ROWS} from '../../../src/lib/engine/policy-source.js'
import type {ForwardingTable, OriginSection} from '../../../src/lib/engine/table.js'
import {customerRoute, lookupRecord, providerAddress, providerRoute, vmNetworkAdapter} from '../../../src/lib/policy/kinds.js'
import {PolicyService, type PolicyDocument} from '../../../src/lib/policy/service.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {parseGuid} from '../../../src/lib/net/guid.js'
import {parseIp, parsePrefix} from '../../../src/lib/net/ip.js'
import {parseMac} from '../../../src/lib/net/mac.js'
import {demoService, HOST2_PA} from '../../support/policy.js'

/** What compile() makes of the store's policy now. */
function expected(service: PolicyService): ForwardingTable {
  return compile(service.exportPolicy(), service.store.revision())
}

function explanations(t: ForwardingTable): string[] {
  const out: string[] = []
  const sections: [OriginSection, ArrayLike<number>][] = [
    ['LookupRecords', t.records.origin],
    ['CustomerRoutes', t.routes.origin],
    ['VMNetworkAdapters', t.ports.origin],
  ]
  for (const [section, origins] of sections) for (let i = 0; i < origins.length; i++) out.push(t.explainOrigin(section, origins[i]))
  return out
}

function expectSameTable(service: PolicyService, kind?: string): ForwardingTable {
  const table = loadForwardingTable(service.store)
  const reference = expected(service)
  expect(table.dump()).toBe(reference.dump())
  expect(explanations(table)).toEqual(explanations(reference))
  expect(table.sources.VMNetworkAdapters).toEqual(reference.sources.VMNetworkAdapters)
  expect(table.sources.ProviderAddresses).toEqual(reference.sources.ProviderAddresses)
  if (kind !== undefined) expect(lastLoadKind(service.store)).toBe(kind)
  return table
}

/** A small deterministic generator (LCG), so a failure can be replayed. */
function random(seed: number): {int(n: number): number; pick<T>(xs: readonly T[]): T; chance(p: number): boolean} {
  let state = seed >>> 0
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32
  return {
    int: (n) => Math.floor(next() * n),
    pick: (xs) => xs[Math.floor(next() * xs.length)],
    chance: (p) => next() < p,
  }
}

const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, '0')
const rdid = (d: number) => `{11111111-2222-3333-4444-${hex(0xd000 + d, 12).toLowerCase()}}`
const PAS = ['198.51.100.1', '198.51.100.2', '198.51.100.3', '203.0.113.9', '2001:db8::1', '2001:db8::2', '2001:db8:0:1::10']

/**
 * A random policy as `hnv policy export` would write it: IPv4 and IPv6 CAs in several routing domains
 * (and a subnet without routes), wildcard and gateway records, routes via on-link and via a CA at several
 * metrics, adapters in and out of virtual subnets, IPv4 and IPv6 provider addresses.
 */
function randomPolicy(seed: number): PolicyDocument {
  const r = random(seed)
  const routes: object[] = []
  const records: object[] = []
  const adapters: object[] = []
  let macs = 1
  const subnets = [5001, 5002, 5003, 6001, 6002, 7001, 9001]
  subnets.forEach((vsid, v) => {
    const domain = Math.floor(vsid / 1000)
    if (vsid !== 9001) {
      routes.push({RoutingDomainID: rdid(domain), VirtualSubnetID: vsid, DestinationPrefix: `10.${domain}.${v}.0/24`, NextHop: '0.0.0.0', Metric: r.int(300)})
      routes.push({RoutingDomainID: rdid(domain), VirtualSubnetID: vsid, DestinationPrefix: `fd01:${domain}:${v}::/64`, NextHop: '::', Metric: 256})
      if (r.chance(0.5)) routes.push({RoutingDomainID: rdid(domain), VirtualSubnetID: vsid, DestinationPrefix: '0.0.0.0/0', NextHop: `10.${domain}.${v}.${2 + r.int(50)}`, Metric: r.int(100)})
      if (r.chance(0.5)) routes.push({RoutingDomainID: rdid(domain), VirtualSubnetID: vsid, DestinationPrefix: `10.${domain}.${v}.128/25`, NextHop: `10.${domain}.${v}.${130 + r.int(50)}`, Metric: r.int(100)})
    }
    const hosts = new Set<number>()
    for (let k = 0, n = 3 + r.int(12); k < n; k++) hosts.add(1 + r.int(200))
    for (const host of hosts) {
      const mac = hex(0x0a0000000000 + macs++, 12)
      const pa = r.pick(PAS)
      const type = r.chance(0.2) ? 'Dynamic' : 'Static'
      records.push({CustomerAddress: `10.${domain}.${v}.${host}`, VirtualSubnetID: vsid, MACAddress: mac, ProviderAddress: pa, Rule: 'TranslationMethodEncap', VMName: r.chance(0.2) ? null : `vm-${vsid}-${host}`, Type: type})
      if (r.chance(0.5)) records.push({CustomerAddress: `fd01:${domain}:${v}::${host.toString(16)}`, VirtualSubnetID: vsid, MACAddress: mac, ProviderAddress: pa, Rule: 'TranslationMethodEncap', VMName: `vm-${vsid}-${host}`})
      if (r.chance(0.15)) adapters.push({VMName: `vm-${vsid}-${host}`, Name: 'Network Adapter', StaticMacAddress: mac, VirtualSubnetId: vsid, InterfaceName: `hnv-${vsid}-${host}`})
    }
    if (r.chance(0.6)) records.push({CustomerAddress: r.chance(0.5) ? '0.0.0.0' : '::', VirtualSubnetID: vsid, MACAddress: hex(0x0c0000000000 + v, 12), ProviderAddress: r.pick(PAS), Rule: 'TranslationMethodEncap', Type: r.pick(['L2Only', 'GatewayWildcard'])})
  })
  adapters.push({VMName: 'Plain', StaticMacAddress: '00155D000099', VirtualSubnetId: 0, InterfaceName: 'hnv-plain'})
  return {
    Version: 1,
    ProviderAddresses: [
      {ProviderAddress: PAS[r.int(3)], InterfaceIndex: 2, PrefixLength: 24},
      {ProviderAddress: PAS[4 + r.int(3)], InterfaceIndex: 2, PrefixLength: 64},
    ],
    CustomerRoutes: routes,
    LookupRecords: records,
    VMNetworkAdapters: adapters,
  }
}

function storeWith(document: PolicyDocument): PolicyService {
  const service = new PolicyService(PolicyStore.open(':memory:'))
  service.importPolicy(document, true)
  return service
}

/** One random CLI-like change; the service refuses some (a CA taken, ...), which is fine. */
function randomChange(service: PolicyService, r: ReturnType<typeof random>): void {
  const records = service.get(lookupRecord, {}).objects
  const routes = service.get(customerRoute, {}).objects
  const vsid = r.pick([5001, 5002, 6001, 7001, 9001, 9002])
  const ca = r.chance(0.7) ? `10.${Math.floor(vsid / 1000)}.${r.int(8)}.${1 + r.int(250)}` : `fd01:${Math.floor(vsid / 1000)}:${r.int(8)}::${(1 + r.int(250)).toString(16)}`
  const pick = <T>(xs: T[]): T | undefined => (xs.length === 0 ? undefined : r.pick(xs))
  try {
    switch (r.int(10)) {
      case 0:
      case 1:
      case 2: {
        service.create(lookupRecord, {CustomerAddress: ca, VirtualSubnetID: vsid, MACAddress: hex(0x0e0000000000 + r.int(1 << 30), 12), ProviderAddress: r.pick(PAS), Rule: 'TranslationMethodEncap', VMName: r.chance(0.8) ? `new-${r.int(1000)}` : null})
        break
      }
      case 3:
      case 4: {
        const victim = pick(records)
        if (victim) service.remove(lookupRecord, {inputObjects: [victim]})
        break
      }
      case 5: {
        const victim = pick(records)
        if (victim) service.set(lookupRecord, {inputObjects: [victim]}, {ProviderAddress: r.pick(PAS), VMName: `moved-${r.int(100)}`})
        break
      }
      case 6: {
        const route = pick(routes)
        if (route && r.chance(0.5)) service.set(customerRoute, {inputObjects: [route]}, {Metric: String(r.int(500))})
        else if (route) service.remove(customerRoute, {inputObjects: [route]})
        break
      }
      case 7: {
        const domain = Math.floor(vsid / 1000)
        service.create(customerRoute, {RoutingDomainID: rdid(domain), VirtualSubnetID: vsid, DestinationPrefix: `10.${domain}.${8 + r.int(8)}.0/24`, NextHop: '0.0.0.0', Metric: String(r.int(300))})
        break
      }
      case 8: {
        if (r.chance(0.5)) service.create(vmNetworkAdapter, {VMName: `vm-new-${r.int(100)}`, VirtualSubnetId: r.pick([0, vsid])})
        else {
          const adapter = pick(service.get(vmNetworkAdapter, {}).objects)
          if (adapter) service.remove(vmNetworkAdapter, {inputObjects: [adapter]})
        }
        break
      }
      default: {
        if (r.chance(0.5)) service.create(providerRoute, {InterfaceIndex: 2, DestinationPrefix: `203.0.113.${r.int(64) * 4}/30`, NextHop: '0.0.0.0'})
        else service.create(providerAddress, {ProviderAddress: r.pick(PAS), InterfaceIndex: 3, PrefixLength: 24})
      }
    }
  } catch (error) {
    if (!(error instanceof PolicyError) && (error as Error).name !== 'UsageError') throw error
  }
}

describe('loadForwardingTable: the table compile() makes', () => {
  it('for the Blue/Red demo, read whole from the store', () => {
    const service = demoService()
    service.create(vmNetworkAdapter, {VMName: 'Blue1', StaticMacAddress: '060600000005', VirtualSubnetId: 5001})
    service.create(vmNetworkAdapter, {VMName: 'Red1', StaticMacAddress: '080800000005', VirtualSubnetId: 6001})
    const table = expectSameTable(service, 'all')
    expect(table.revision).toBe(service.store.revision())
    expect(table.explainOrigin('LookupRecords', 1)).toBe(
      'LookupRecord CustomerAddress 10.0.0.7, VirtualSubnetID 5001, MACAddress 060600000007, ProviderAddress 198.51.100.22, Rule TranslationMethodEncap, Type Static, VMName Blue2',
    )
  })

  it.each([1, 2, 3, 4, 5])('for a random policy (seed %i): IPv4 and IPv6, several domains, wildcards, adapters', (seed) => {
    const service = storeWith(randomPolicy(seed))
    const table = expectSameTable(service, 'all')
    expect(table.records.count).toBeGreaterThan(20)
    expect(table.domains.count).toBeGreaterThanOrEqual(4)
    expect([...table.records.family]).toContain(6)
    expect(table.records.wildcardByMac.size).toBeGreaterThan(0)
  })

  it.each([11, 12, 13])('after each of 60 random changes, applying only what the change log names (seed %i)', (seed) => {
    const service = storeWith(randomPolicy(seed))
    expectSameTable(service, 'all')
    const r = random(seed)
    const kinds = new Set<string>()
    for (let step = 0; step < 60; step++) {
      randomChange(service, r)
      expectSameTable(service)
      kinds.add(lastLoadKind(service.store)!)
    }
    expect(kinds).toContain('changes')
    expect(kinds).not.toContain('all')
    expect(kinds).not.toContain('documents')
  })

  it('keeps the table when the revision has not moved, and its content when only provider routes changed', () => {
    const service = storeWith(randomPolicy(7))
    const first = loadForwardingTable(service.store)
    expect(loadForwardingTable(service.store)).toBe(first)
    expect(lastLoadKind(service.store)).toBe('same')
    service.create(providerRoute, {InterfaceIndex: 2, DestinationPrefix: '203.0.113.0/24', NextHop: '0.0.0.0'})
    const second = expectSameTable(service, 'changes')
    expect(second.revision).toBe(first.revision + 1)
    expect(second.records).toBe(first.records)
  })

  it('reads everything again after an import, a gap in the log, or many changed rows', () => {
    const service = storeWith(randomPolicy(8))
    loadForwardingTable(service.store)
    service.importPolicy(randomPolicy(9), true)
    expectSameTable(service, 'all')
    // Revisions pruned from the log (an engine far behind): the log cannot say what changed.
    service.create(lookupRecord, {CustomerAddress: '10.9.0.77', VirtualSubnetID: 9001, MACAddress: '0F0000000077', ProviderAddress: HOST2_PA, Rule: 'TranslationMethodEncap'})
    service.store.db.prepare('DELETE FROM change_log').run()
    expectSameTable(service, 'all')
    // More rows than MAX_LOGGED_ROWS in one command (a wide Set), each logged.
    service.importPolicy({Version: 1, LookupRecords: Array.from({length: MAX_LOGGED_ROWS + 1}, (_, i) => ({CustomerAddress: `10.99.${i >> 8}.${i & 255}`, VirtualSubnetID: 9900, MACAddress: hex(0x0d0000000000 + i, 12), ProviderAddress: HOST2_PA, Rule: 'TranslationMethodEncap'}))}, false)
    expectSameTable(service, 'all')
    service.set(lookupRecord, {filters: {VirtualSubnetID: ['9900']}}, {ProviderAddress: '198.51.100.3'})
    expect(service.store.db.prepare('SELECT count(*) AS n FROM change_log WHERE revision = ?').get(service.store.revision())).toEqual({n: MAX_LOGGED_ROWS + 1})
    expectSameTable(service, 'all')
  })

  it('reads everything after a write that changed rows without logging them (store.write logs a full change)', () => {
    const service = storeWith(randomPolicy(14))
    loadForwardingTable(service.store)
    service.store.write(() => service.store.db.prepare("UPDATE lookup_records SET vm_name = 'renamed' WHERE id = 2").run())
    expect(service.store.db.prepare('SELECT table_name FROM change_log WHERE revision = ?').all(service.store.revision())).toEqual([{table_name: '*'}])
    expectSameTable(service, 'all')
  })

  it('reads the documents when a value holds the separator or is not in the canonical spelling', () => {
    const service = storeWith(randomPolicy(10))
    loadForwardingTable(service.store)
    const db = service.store.db
    /** A write the log does not know about: the next load reads everything. */
    const forgetLog = () => {
      db.prepare('DELETE FROM change_log').run()
      db.prepare('UPDATE revision SET value = value + 1').run()
    }
    // A VM name holding the separator the joined columns use: fine as a changed row, not in a full read.
    service.create(lookupRecord, {CustomerAddress: '10.9.0.78', VirtualSubnetID: 9001, MACAddress: '0F0000000078', ProviderAddress: HOST2_PA, Rule: 'TranslationMethodEncap', VMName: 'odd\u001fname'})
    expectSameTable(service, 'changes')
    forgetLog()
    expectSameTable(service, 'documents')
    service.remove(lookupRecord, {filters: {CustomerAddress: ['10.9.0.78']}})
    forgetLog()
    expectSameTable(service, 'all')
    // Written behind the service's back: a lower-case MAC, a prefix length with a leading zero. The
    // tables agree anyway; reading documents keeps the explanations quoting the store as it is.
    db.prepare('UPDATE lookup_records SET mac_address = lower(mac_address) WHERE id = 3').run()
    db.prepare("UPDATE customer_routes SET destination_prefix = replace(destination_prefix, '/24', '/024') WHERE id = 1").run()
    db.prepare('UPDATE revision SET value = value + 1').run()
    expectSameTable(service, 'documents')
    forgetLog()
    expectSameTable(service, 'documents')
  })

  it('throws the PolicyError compile() throws, whichever way it read the store', () => {
    const service = storeWith(randomPolicy(12))
    loadForwardingTable(service.store)
    // Two routes put one VSID in two routing domains: the service refuses it, so write it by hand.
    service.store.db.prepare(`INSERT INTO customer_routes (routing_domain_id, virtual_subnet_id, destination_prefix, next_hop, metric) VALUES ('${rdid(77)}', 5001, '10.77.0.0/24', '0.0.0.0', 1)`).run()
    service.store.db.prepare('UPDATE revision SET value = value + 1').run()
    let message = ''
    try {
      compile(service.exportPolicy(), service.store.revision())
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toMatch(/VirtualSubnetID 5001 is in routing domain/)
    expect(() => loadForwardingTable(service.store)).toThrow(message)
    expect(() => loadForwardingTable(service.store)).toThrow(message)
  })
})

describe('FieldReader: a fast parser takes a value exactly when the general parser reads it as the same canonical text', () => {
  /** The general parser's canonical text of `raw`, or null when it refuses it. */
  const general = <T>(parse: (text: string) => T, text: (value: T) => string) => (raw: string): string | null => {
    try {
      return text(parse(raw))
    } catch {
      return null
    }
  }
  const ipv4Text = general(parseIp, (ip) => (ip.family === 4 ? ip.text : 'IPv6'))
  const prefixText = general(parsePrefix, (p) => (p.family === 4 ? p.text : 'IPv6'))
  const macText = general(parseMac, (m) => m)
  const guidText = general(parseGuid, (g) => g)
  const noSeparator = (t: string) => !t.includes('\u001f')
  const octet = fc.oneof(fc.integer({min: 0, max: 300}).map(String), fc.constantFrom('00', '01', '010', '1000', '', ' 1', '1 ', 'a', '-1'))
  const ipv4ish = fc.oneof(fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')), fc.constantFrom('1.2.3', '1.2.3.4.5', '::', 'fd01::1', '::ffff:1.2.3.4'))
  const value = (arb: fc.Arbitrary<string>) => fc.oneof(arb, fc.string({maxLength: 16})).filter(noSeparator)
  const dotted = (w: number) => [w >>> 24, (w >>> 16) & 255, (w >>> 8) & 255, w & 255].join('.')

  it('ipv4: a strict dotted quad, as a uint32', () => {
    fc.assert(
      fc.property(fc.array(value(ipv4ish), {minLength: 1, maxLength: 6}), (values) => {
        const r = new FieldReader(values.join('\u001f'), 0x1f)
        for (const v of values) {
          const address = r.ipv4()
          expect(address >= 0).toBe(ipv4Text(v) === v)
          if (address >= 0) expect(dotted(address)).toBe(v)
          else expect(r.next()).toBe(v)
        }
        expect(r.aligned(values.length)).toBe(true)
      }),
      {numRuns: 3000},
    )
  })

  it('prefix4: a canonical IPv4 prefix, as network and length', () => {
    const length = fc.oneof(fc.integer({min: 0, max: 40}).map(String), fc.constantFrom('024', '', 'x', '8 '))
    const prefix = fc.tuple(ipv4ish, length).map(([a, l]) => `${a}/${l}`)
    fc.assert(
      fc.property(fc.array(value(prefix), {minLength: 1, maxLength: 6}), (values) => {
        const r = new FieldReader(values.join('\u001f'), 0x1f)
        for (const v of values) {
          const network = r.prefix4()
          expect(network >= 0).toBe(prefixText(v) === v)
          if (network >= 0) expect(`${dotted(network)}/${r.length}`).toBe(v)
          else expect(r.next()).toBe(v)
        }
        expect(r.aligned(values.length)).toBe(true)
      }),
      {numRuns: 3000},
    )
  })

  it('mac, guid, uint', () => {
    const mac = fc.oneof(fc.stringMatching(/^[0-9A-F]{12}$/), fc.stringMatching(/^[0-9a-fA-F]{11,13}$/), fc.stringMatching(/^([0-9A-F]{2}-){5}[0-9A-F]{2}$/))
    const guid = fc.oneof(fc.uuid().map((u) => `{${u}}`), fc.uuid().map((u) => `{${u.toUpperCase()}}`), fc.uuid())
    const digits = fc.oneof(fc.nat().map(String), fc.stringMatching(/^[0-9]{1,18}$/))
    fc.assert(
      fc.property(value(mac), value(guid), value(digits), (m, g, n) => {
        const r = new FieldReader([m, g, n].join('\u001f'), 0x1f)
        const tookMac = r.mac()
        expect(tookMac).toBe(macText(m) === m)
        if (tookMac) expect([r.hi, r.lo]).toEqual([parseInt(m.slice(0, 4), 16), parseInt(m.slice(4), 16)])
        else expect(r.next()).toBe(m)
        const tookGuid = r.guid()
        expect(tookGuid !== null).toBe(guidText(g) === g)
        if (tookGuid !== null) expect(tookGuid).toBe(g)
        else expect(r.next()).toBe(g)
        const number = r.uint()
        expect(number >= 0).toBe(/^\d{1,15}$/.test(n))
        if (number >= 0) expect(number).toBe(Number(n))
        else expect(r.next()).toBe(n)
        expect(r.aligned(3)).toBe(true)
      }),
      {numRuns: 3000},
    )
  })

  it('tells a value holding the separator from the fields it was joined with', () => {
    const r = new FieldReader(['a', 'b\u001fc', 'd'].join('\u001f'), 0x1f)
    for (let i = 0; i < 3; i++) r.skip()
    expect(r.aligned(3)).toBe(false)
    const last = new FieldReader('a\u001fb\u001f', 0x1f)
    last.skip()
    last.skip()
    expect(last.aligned(2)).toBe(false)
    expect(new FieldReader('', 0x1f).aligned(0)).toBe(true)
  })
})
