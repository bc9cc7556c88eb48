// compile() tested by its output, as ovn-northd.at compares dump-flows with expected text: the Blue/Red
// demo (reference/hnv.md §6) from the policy service, and the rules that make a policy uncompilable.
import {describe, expect, it} from 'vitest'
import {PolicyError} from '../../../src/lib/cli/errors.js'
import {compile} from '../../../src/lib/engine/compile.js'
import {NONE} from '../../../src/lib/engine/table.js'
import {ipv4FromString, ipv6FromString} from '../../../src/lib/wire/index.js'
import {providerAddress, vmNetworkAdapter} from '../../../src/lib/policy/kinds.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {demoService, HOST1_PA, HOST2_PA} from '../../support/policy.js'
import {BLUE_RDID, topology} from './support.js'

function demo(host: 1 | 2): PolicyDocument {
  const service = demoService()
  if (host === 2) {
    service.remove(providerAddress, {filters: {}})
    service.create(providerAddress, {ProviderAddress: HOST2_PA, InterfaceIndex: 2, PrefixLength: 24})
  }
  const [blue, red] = host === 1 ? ['060600000005', '080800000005'] : ['060600000007', '080800000007']
  service.create(vmNetworkAdapter, {VMName: `Blue${host}`, StaticMacAddress: blue, VirtualSubnetId: 5001})
  service.create(vmNetworkAdapter, {VMName: `Red${host}`, StaticMacAddress: red, VirtualSubnetId: 6001})
  return service.exportPolicy()
}

const HOST1_DUMP = `table revision 7
provider-address 198.51.100.11 local
provider-address 198.51.100.22
routing-domain {11111111-2222-3333-4444-000000005001}
  vsid 5001 router-mac ipv4 026E76001389 ipv6 026E76001389
    gateway 10.0.0.1 mac 026E76001389 generated  <CustomerRoutes[0]>
  route 10.0.0.0/24 via on-link metric 255 vsid 5001  <CustomerRoutes[0]>
  record 10.0.0.5 vsid 5001 mac 060600000005 pa 198.51.100.11 (local) Static TranslationMethodEncap vm Blue1  <LookupRecords[0]>
  record 10.0.0.7 vsid 5001 mac 060600000007 pa 198.51.100.22 Static TranslationMethodEncap vm Blue2  <LookupRecords[1]>
routing-domain {11111111-2222-3333-4444-000000006001}
  vsid 6001 router-mac ipv4 026E76001771 ipv6 026E76001771
    gateway 10.0.0.1 mac 026E76001771 generated  <CustomerRoutes[1]>
  route 10.0.0.0/24 via on-link metric 255 vsid 6001  <CustomerRoutes[1]>
  record 10.0.0.5 vsid 6001 mac 080800000005 pa 198.51.100.11 (local) Static TranslationMethodEncap vm Red1  <LookupRecords[2]>
  record 10.0.0.7 vsid 6001 mac 080800000007 pa 198.51.100.22 Static TranslationMethodEncap vm Red2  <LookupRecords[3]>
port hnv-blue1 vsid 5001 mac 060600000005 vm Blue1 adapter "Network Adapter"  <VMNetworkAdapters[0]>
port hnv-red1 vsid 6001 mac 080800000005 vm Red1 adapter "Network Adapter"  <VMNetworkAdapters[1]>
`

/** The dump without origins: what must not depend on the order of the document's rows. */
const content = (dump: string) => dump.replace(/ {2}<[^>]*>/g, '')

function shuffled<T>(rows: T[], seed: number): T[] {
  const out = [...rows]
  for (let i = out.length - 1; i > 0; i--) {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    const j = seed % (i + 1)
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

function withRows(doc: PolicyDocument, section: string, rows: unknown[]): PolicyDocument {
  return {...doc, [section]: rows}
}

const rows = (doc: PolicyDocument, section: string) => doc[section] as Record<string, unknown>[]

describe('compile: the Blue/Red demo', () => {
  it('dumps host1 as expected', () => {
    expect(compile(demo(1), 7).dump()).toBe(HOST1_DUMP)
  })

  it('dumps host2 with its own PA local and its own ports', () => {
    const dump = compile(demo(2), 7).dump()
    expect(dump).toContain('provider-address 198.51.100.11\nprovider-address 198.51.100.22 local\n')
    expect(dump).toContain('record 10.0.0.7 vsid 5001 mac 060600000007 pa 198.51.100.22 (local) Static')
    expect(dump).toContain('port hnv-blue2 vsid 5001 mac 060600000007 vm Blue2')
    expect(dump).not.toContain('hnv-blue1')
  })

  it('is deterministic: the order of the rows changes only the origins', () => {
    const doc = demo(1)
    const again = {...doc}
    for (const section of ['LookupRecords', 'CustomerRoutes', 'VMNetworkAdapters', 'ProviderAddresses']) again[section] = shuffled(rows(doc, section), 42)
    expect(content(compile(again, 7).dump())).toBe(content(HOST1_DUMP))
    expect(compile(doc, 7).dump()).toBe(compile(doc, 7).dump())
  })

  it("keeps each entry's origin and explains it as the policy object", () => {
    const t = compile(demo(1), 7)
    const blue = t.vsidIndex(5001)
    const record = t.record4(t.vsids.domain[blue], ipv4FromString('10.0.0.7'))
    expect(t.explainOrigin('LookupRecords', t.records.origin[record])).toBe(
      'LookupRecord CustomerAddress 10.0.0.7, VirtualSubnetID 5001, MACAddress 060600000007, ProviderAddress 198.51.100.22, Rule TranslationMethodEncap, Type Static, VMName Blue2',
    )
    expect(t.explainOrigin('CustomerRoutes', t.routes.origin[0])).toContain('CustomerRoute RoutingDomainID {11111111-2222-3333-4444-000000005001}')
  })

  it('answers the per-packet lookups with numbers', () => {
    const t = compile(demo(1), 7)
    const blue = t.vsidIndex(5001)
    const red = t.vsidIndex(6001)
    expect(blue).not.toBe(NONE)
    expect(t.vsidIndex(7001)).toBe(NONE)
    // Blue and Red share 10.0.0.5 but not a routing domain.
    const blue5 = t.record4(t.vsids.domain[blue], ipv4FromString('10.0.0.5'))
    const red5 = t.record4(t.vsids.domain[red], ipv4FromString('10.0.0.5'))
    expect(blue5).not.toBe(red5)
    expect(t.records.vmName[blue5]).toBe('Blue1')
    expect(t.records.vmName[red5]).toBe('Red1')
    expect(t.pas.local[t.pa4(ipv4FromString(HOST1_PA))]).toBe(1)
    expect(t.pas.local[t.pa4(ipv4FromString(HOST2_PA))]).toBe(0)
    expect(t.pa4(ipv4FromString('198.51.100.99'))).toBe(NONE)
    expect(t.portByMac(blue, 0x0606, 0x00000005)).toBe(t.portIndex('hnv-blue1'))
    expect(t.portByMac(red, 0x0606, 0x00000005)).toBe(NONE)
    expect(t.gateway4(blue, ipv4FromString('10.0.0.1'))).not.toBe(NONE)
    expect(t.route4(t.vsids.domain[blue], ipv4FromString('10.0.0.200'))).not.toBe(NONE)
    expect(t.route4(t.vsids.domain[blue], ipv4FromString('10.0.1.1'))).toBe(NONE)
    expect(t.localProviderAddresses()).toEqual([HOST1_PA])
    expect(Object.isFrozen(t)).toBe(true)
  })
})

describe('compile: gateways, routes and domains', () => {
  it('takes the gateway MAC from the .1 record, generates it otherwise, and finds prefix::1', () => {
    const t = compile(topology(1), 1)
    const dump = t.dump()
    expect(dump).toContain('  vsid 5001 router-mac ipv4 060600000001 ipv6 026E76001389\n    gateway 10.0.0.1 mac 060600000001 from-record')
    expect(dump).toContain('    gateway fd01:5001::1 mac 026E76001389 generated')
    expect(dump).toContain('  vsid 5002 router-mac ipv4 026E7600138A ipv6 026E7600138A\n    gateway 10.0.1.1 mac 026E7600138A generated')
    expect(dump).toContain('record 10.0.0.1 vsid 5001 mac 060600000001 pa 169.254.254.254 Static TranslationMethodEncap gateway')
    const blue = t.vsidIndex(5001)
    expect(t.gateway6(blue, ipv6FromString('fd01:5001::1'), 0)).not.toBe(NONE)
    expect(t.gatewayByMac(blue, 0x0606, 1)).not.toBe(NONE)
    // Two subnets of one tenant share a routing domain.
    expect(t.vsids.domain[t.vsidIndex(5002)]).toBe(t.vsids.domain[blue])
  })

  it('orders equal prefixes by metric: the lowest wins', () => {
    const doc = demo(1)
    const extra = [
      {RoutingDomainID: BLUE_RDID, VirtualSubnetID: 5001, DestinationPrefix: '0.0.0.0/0', NextHop: '10.0.0.7', Metric: 20},
      {RoutingDomainID: BLUE_RDID, VirtualSubnetID: 5001, DestinationPrefix: '0.0.0.0/0', NextHop: '10.0.0.5', Metric: 10},
    ]
    const t = compile(withRows(doc, 'CustomerRoutes', [...rows(doc, 'CustomerRoutes'), ...extra]), 1)
    const r = t.route4(t.vsids.domain[t.vsidIndex(5001)], ipv4FromString('192.0.2.1'))
    expect(t.routes.nextHopText[r]).toBe('10.0.0.5')
    expect(t.routes.metric[r]).toBe(10)
    expect(t.dump()).toContain('  route 0.0.0.0/0 via 10.0.0.5 metric 10 vsid 5001  <CustomerRoutes[3]>\n  route 0.0.0.0/0 via 10.0.0.7 metric 20')
  })

  it('gives a VSID without customer routes an implicit domain of its own', () => {
    const doc = demo(1)
    const extra = {CustomerAddress: '10.9.0.5', VirtualSubnetID: 9001, MACAddress: '090900000005', ProviderAddress: HOST2_PA, Rule: 'TranslationMethodEncap', VMName: 'Lonely'}
    const t = compile(withRows(doc, 'LookupRecords', [...rows(doc, 'LookupRecords'), extra]), 1)
    const v = t.vsidIndex(9001)
    expect(t.domains.rdid[t.vsids.domain[v]]).toBeNull()
    expect(t.record4(t.vsids.domain[v], ipv4FromString('10.9.0.5'))).not.toBe(NONE)
    expect(t.dump()).toContain('routing-domain (implicit)\n  vsid 9001')
  })

  it('compiles an empty policy', () => {
    const t = compile({Version: 1}, 0)
    expect(t.dump()).toBe('table revision 0\n')
    expect(t.portIndex('hnv-blue1')).toBe(NONE)
  })
})

describe('compile: policies that cannot be compiled', () => {
  const doc = demo(1)
  const records = rows(doc, 'LookupRecords')
  const routes = rows(doc, 'CustomerRoutes')
  const adapters = rows(doc, 'VMNetworkAdapters')
  it.each([
    ['a CA twice in one routing domain', withRows(withRows(doc, 'CustomerRoutes', [...routes, {...routes[0], VirtualSubnetID: 5002, DestinationPrefix: '10.0.1.0/24'}]), 'LookupRecords', [...records, {...records[0], VirtualSubnetID: 5002, MACAddress: '060600000099'}]),
      /LookupRecords\[4\]: CustomerAddress 10\.0\.0\.5 .* is already LookupRecords\[0\]'s .* in routing domain \{11111111-2222-3333-4444-000000005001\}; a CA must be unique/],
    ['a VSID in two routing domains', withRows(doc, 'CustomerRoutes', [...routes, {...routes[1], VirtualSubnetID: 5001, DestinationPrefix: '10.5.0.0/16'}]),
      /CustomerRoutes\[2\]: VirtualSubnetID 5001 is in routing domain \{.*6001\}, but CustomerRoutes\[0\] puts it in \{.*5001\}/],
    ['a CA that is not an address', withRows(doc, 'LookupRecords', [{...records[0], CustomerAddress: '10.0.0.300'}]), /LookupRecords\[0\]: CustomerAddress '10\.0\.0\.300' is not valid/],
    ['a missing MAC', withRows(doc, 'LookupRecords', [{...records[0], MACAddress: undefined}]), /LookupRecords\[0\]: MACAddress is missing/],
    ['an unknown Rule', withRows(doc, 'LookupRecords', [{...records[0], Rule: 'Teleport'}]), /Rule 'Teleport' is not valid: use one of TranslationMethodEncap/],
    ['a wildcard CA on a Static record', withRows(doc, 'LookupRecords', [{...records[0], CustomerAddress: '0.0.0.0', Type: 'Static'}]), /CustomerAddress 0\.0\.0\.0 is only valid with Type L2Only or GatewayWildcard/],
    ['a next hop of the other family', withRows(doc, 'CustomerRoutes', [{...routes[0], NextHop: '::'}]), /NextHop :: is IPv6 but DestinationPrefix 10\.0\.0\.0\/24 is IPv4/],
    ['a VSID out of range', withRows(doc, 'CustomerRoutes', [{...routes[0], VirtualSubnetID: 17}]), /VirtualSubnetID '17' is not valid: use a whole number from 4096/],
    ['two adapters on one interface', withRows(doc, 'VMNetworkAdapters', [...adapters, {...adapters[1], VMName: 'Other', MacAddress: '00155D000001'}]), /InterfaceName hnv-red1 is already VMNetworkAdapters\[1\]'s/],
    ['two adapters with one MAC in one VSID', withRows(doc, 'VMNetworkAdapters', [...adapters, {...adapters[0], VMName: 'Twin', InterfaceName: 'hnv-twin'}]), /MacAddress 060600000005 in VirtualSubnetId 5001 is already adapter hnv-blue1's/],
    ['a section that is not a list', withRows(doc, 'LookupRecords', {} as unknown as unknown[]), /LookupRecords must be a list of objects/],
  ])('%s', (_name, bad, message) => {
    expect(() => compile(bad, 1)).toThrow(PolicyError)
    expect(() => compile(bad, 1)).toThrow(message)
  })
})
