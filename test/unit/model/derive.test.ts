// Derivation: the low-level policy each host's store gets from the model, compared with what
// reference/hnv.md §6 (and the demo topology built from it) gives each host; removal removes exactly what
// was derived; hand-made rows are never touched; collisions name both rows; the engine reloads incrementally.
import {rmSync} from 'node:fs'
import {afterAll, describe, expect, it} from 'vitest'
import {classicSpec, Topology} from '../../../src/lib/demo/topology.js'
import {GATEWAY_MAC, GATEWAY_RECORD_PA} from '../../../src/lib/policy/gateway.js'
import {loadForwardingTable, lastLoadKind} from '../../../src/lib/engine/policy-source.js'
import {compile} from '../../../src/lib/engine/compile.js'
import {host, vm, vmNetwork, vmSubnet} from '../../../src/lib/model/kinds.js'
import type {ModelService} from '../../../src/lib/model/service.js'
import {customerRoute, lookupRecord, providerAddress, vmNetworkAdapter} from '../../../src/lib/policy/kinds.js'
import type {PolicyObject} from '../../../src/lib/policy/types.js'
import {BLUE_RDID, DEMO_RECORDS, HOST1_PA, HOST2_PA, RED_RDID} from '../../support/policy.js'
import {loadAllocated, loadClassic, model} from './support.js'

const spec = classicSpec()
spec.hosts[0].providerAddresses = [HOST1_PA]
spec.hosts[1].providerAddresses = [HOST2_PA]
const topology = Topology.plan(spec, `hnv-m7-${process.pid}`)
// Only its policy() is used: no namespace is made; its temporary directory is removed.
afterAll(() => rmSync(topology.dir, {recursive: true, force: true}))

const pick = (objects: PolicyObject[], keys: string[]) => objects.map((o) => Object.fromEntries(keys.map((k) => [k, o[k] ?? null]))).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))
const RECORD_KEYS = ['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'Rule', 'VMName']
const ROUTE_KEYS = ['RoutingDomainID', 'VirtualSubnetID', 'DestinationPrefix', 'NextHop', 'Metric']
const PA_KEYS = ['ProviderAddress', 'PrefixLength']
const ADAPTER_KEYS = ['VMName', 'MacAddress', 'VirtualSubnetId', 'InterfaceName']
const adapterOf = (o: Record<string, unknown>) => ({VMName: o.VMName, MacAddress: o.StaticMacAddress, VirtualSubnetId: o.VirtualSubnetId, InterfaceName: o.InterfaceName})

function lowLevel(service: ModelService) {
  const get = (kind: typeof lookupRecord) => service.policy.get(kind, {}).objects
  return {records: get(lookupRecord), routes: get(customerRoute), pas: get(providerAddress), adapters: get(vmNetworkAdapter)}
}

describe('derivation for the two-host, two-tenant plan (reference §6)', () => {
  it.each(['host1', 'host2'])('gives %s the records, routes, PA and adapters the reference gives it', (name) => {
    const service = model(name)
    loadClassic(service)
    const got = lowLevel(service)
    const want = topology.policy(topology.host(name))
    expect(pick(got.records, RECORD_KEYS)).toEqual(pick(want.LookupRecords as PolicyObject[], RECORD_KEYS))
    expect(pick(got.routes, ROUTE_KEYS)).toEqual(pick(want.CustomerRoutes as PolicyObject[], ROUTE_KEYS))
    expect(pick(got.pas, PA_KEYS)).toEqual(pick(want.ProviderAddresses as PolicyObject[], PA_KEYS))
    expect(pick(got.adapters, ADAPTER_KEYS)).toEqual(pick((want.VMNetworkAdapters as Record<string, unknown>[]).map(adapterOf) as PolicyObject[], ADAPTER_KEYS))
  })

  it('has the four lookup records and two on-link routes of §6 on each host, plus the .1 gateways', () => {
    const service = model('host1')
    loadClassic(service)
    const {records, routes} = lowLevel(service)
    const vmRecords = records.filter((r) => r.VMName !== null)
    expect(pick(vmRecords, ['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'VMName'])).toEqual(pick(DEMO_RECORDS as PolicyObject[], ['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'VMName']))
    expect(records.filter((r) => r.VMName === null).map((r) => [r.CustomerAddress, r.VirtualSubnetID, r.MACAddress, r.ProviderAddress])).toEqual([
      ['10.0.0.1', 5001, GATEWAY_MAC, GATEWAY_RECORD_PA],
      ['10.0.0.1', 6001, GATEWAY_MAC, GATEWAY_RECORD_PA],
    ])
    expect(routes).toEqual([
      {RoutingDomainID: BLUE_RDID, VirtualSubnetID: 5001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255},
      {RoutingDomainID: RED_RDID, VirtualSubnetID: 6001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255},
    ])
  })

  it('compiles: the engine table of host1 delivers Blue1 locally and sends Blue2 to host2', () => {
    const service = model('host1')
    loadClassic(service)
    const table = compile(service.policy.exportPolicy(), service.store.revision())
    expect(table.dump()).toContain(HOST2_PA)
  })

  it('derives records and routes of every network, and no PA or adapter, without a local host', () => {
    const service = model()
    loadClassic(service)
    const got = lowLevel(service)
    expect(got.records).toHaveLength(6)
    expect(got.routes).toHaveLength(2)
    expect(got.pas).toEqual([])
    expect(got.adapters).toEqual([])
  })

  it('gives a host only the VM networks it runs a VM of', () => {
    const service = model('host1')
    loadClassic(service)
    service.transaction(() => {
      service.create(host, {Name: 'host3', ProviderAddresses: '198.51.100.33/24'})
      service.create(vmNetwork, {Name: 'Green'})
      service.create(vmSubnet, {Name: 'Green-Subnet', VMNetwork: 'Green', Prefix: '10.7.0.0/24'})
      service.create(vm, {Name: 'Green1', VMSubnet: 'Green-Subnet', VMHost: 'host3'})
    })
    expect(lowLevel(service).routes).toHaveLength(2)
    // Moving Green1 to host1 brings Green's records, route and adapter here.
    service.set(vm, {filters: {Name: ['Green1']}}, {VMHost: 'host1'})
    const got = lowLevel(service)
    expect(got.routes.map((r) => r.DestinationPrefix)).toContain('10.7.0.0/24')
    expect(got.adapters.map((a) => a.VMName)).toContain('Green1')
    expect(service.lastDerivedChanges.map((c) => `${c.operation} ${c.table} ${c.origin}`).sort()).toEqual([
      'New CustomerRoutes VMSubnet Green-Subnet',
      'New LookupRecords VM Green1',
      'New LookupRecords VMSubnet Green-Subnet',
      'New VMNetworkAdapters VM Green1',
    ])
  })

  it('moves a VM: its record follows to the new host\'s PA, its adapter leaves', () => {
    const service = model('host1')
    loadClassic(service)
    service.create(vm, {Name: 'Blue3', VMSubnet: 'Blue-Subnet', VMHost: 'host1'})
    service.set(vm, {filters: {Name: ['Blue1']}}, {VMHost: 'host2'})
    const {records, adapters} = lowLevel(service)
    expect(records.find((r) => r.VMName === 'Blue1')!.ProviderAddress).toBe(HOST2_PA)
    expect(adapters.map((a) => a.VMName)).toEqual(['Red1', 'Blue3'])
  })
})

describe('removal and hand-made rows', () => {
  function withHandMade(): ModelService {
    const service = model('host1')
    service.policy.create(customerRoute, {RoutingDomainID: '{99999999-2222-3333-4444-000000009001}', VirtualSubnetID: 9001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255})
    service.policy.create(lookupRecord, {CustomerAddress: '10.0.0.5', VirtualSubnetID: 9001, MACAddress: '0A0A00000005', ProviderAddress: '198.51.100.99', Rule: 'TranslationMethodEncap', VMName: 'Manual'})
    service.policy.create(lookupRecord, {CustomerAddress: '0.0.0.0', VirtualSubnetID: 5001, MACAddress: '0A0A000000FE', ProviderAddress: '198.51.100.99', Rule: 'TranslationMethodEncap'})
    service.policy.create(vmNetworkAdapter, {VMName: 'Manual', StaticMacAddress: '0A0A00000005', VirtualSubnetId: 9001})
    loadClassic(service)
    // A second Blue VM on host1: host1 keeps needing Blue when Blue1 goes.
    service.create(vm, {Name: 'Blue3', VMSubnet: 'Blue-Subnet', VMHost: 'host1'})
    return service
  }

  it('removing a VM removes exactly its record and adapter', () => {
    const service = withHandMade()
    const before = lowLevel(service)
    service.remove(vm, {filters: {Name: ['Blue1']}})
    const after = lowLevel(service)
    expect(after.records).toEqual(before.records.filter((r) => r.VMName !== 'Blue1'))
    expect(after.adapters).toEqual(before.adapters.filter((a) => a.VMName !== 'Blue1'))
    expect(after.routes).toEqual(before.routes)
    expect(after.pas).toEqual(before.pas)
  })

  it('removing a subnet (after its VMs) removes its route and gateway record, and nothing hand-made', () => {
    const service = withHandMade()
    const before = lowLevel(service)
    service.transaction(() => {
      service.remove(vm, {filters: {VMSubnet: ['Red-Subnet']}})
      service.remove(vmSubnet, {filters: {Name: ['Red-Subnet']}})
    })
    const after = lowLevel(service)
    expect(after.records).toEqual(before.records.filter((r) => r.VirtualSubnetID !== 6001))
    expect(after.routes).toEqual(before.routes.filter((r) => r.VirtualSubnetID !== 6001))
    expect(after.records.filter((r) => r.ProviderAddress === '198.51.100.99')).toHaveLength(2)
  })

  it('removing everything leaves exactly the hand-made rows', () => {
    const service = withHandMade()
    service.transaction(() => {
      for (const kind of [vm, vmSubnet, vmNetwork, host]) service.remove(kind, {filters: {}})
    })
    const after = lowLevel(service)
    expect(after.records.map((r) => r.MACAddress)).toEqual(['0A0A00000005', '0A0A000000FE'])
    expect(after.routes.map((r) => r.VirtualSubnetID)).toEqual([9001])
    expect(after.adapters.map((a) => a.VMName)).toEqual(['Manual'])
    expect(after.pas).toEqual([])
    expect(service.localHost()).toBeNull()
  })

  it('a derived row colliding with a hand-made one is an error naming both, and nothing is written', () => {
    const service = model('host1')
    service.policy.create(providerAddress, {ProviderAddress: HOST1_PA, InterfaceIndex: 3, PrefixLength: 24})
    const revision = service.store.revision()
    expect(() => loadClassic(service)).toThrow(
      `the provider address derived from Host host1 (ProviderAddress ${HOST1_PA}, InterfaceIndex 2) collides with the hand-made provider address ProviderAddress ${HOST1_PA}, InterfaceIndex 3; remove the hand-made one (Remove-NetVirtualizationProviderAddress) or change Host host1`,
    )
    expect(service.store.revision()).toBe(revision)
    expect(service.vms()).toEqual([])
  })

  it('a VM on a CA a hand-made record holds is refused before derivation, naming the record', () => {
    const service = model('host1')
    service.policy.create(lookupRecord, {CustomerAddress: '10.0.0.5', VirtualSubnetID: 5001, MACAddress: '0A0A00000005', ProviderAddress: '198.51.100.99', Rule: 'TranslationMethodEncap'})
    expect(() => loadClassic(service)).toThrow("-IPv4Address 10.0.0.5 of VM 'Blue1' is already used by a hand-made lookup record in VirtualSubnetID 5001 in VM network 'Blue'")
  })

  it('a derived route colliding with a hand-made one names both', () => {
    const service = model('host1')
    service.policy.create(customerRoute, {RoutingDomainID: BLUE_RDID, VirtualSubnetID: 5001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 10})
    expect(() => loadClassic(service)).toThrow(`the customer route derived from VMSubnet Blue-Subnet (RoutingDomainID ${BLUE_RDID}, VirtualSubnetID 5001, DestinationPrefix 10.0.0.0/24, NextHop 0.0.0.0) collides with the hand-made customer route`)
  })

  it('puts back a derived row removed by hand at the next model change', () => {
    const service = model('host1')
    loadClassic(service)
    service.policy.remove(lookupRecord, {filters: {VMName: ['Blue2']}})
    service.create(vmNetwork, {Name: 'Other'})
    expect(lowLevel(service).records.filter((r) => r.VMName === 'Blue2')).toHaveLength(1)
  })
})

describe('the engine', () => {
  it('reloads model changes incrementally, to the table a full compile gives', () => {
    const service = model('host1')
    loadClassic(service)
    loadForwardingTable(service.store)
    service.create(vm, {Name: 'Blue3', VMSubnet: 'Blue-Subnet', VMHost: 'host1'})
    service.remove(vm, {filters: {Name: ['Red2']}})
    const table = loadForwardingTable(service.store)
    expect(lastLoadKind(service.store)).toBe('changes')
    expect(table.dump()).toBe(compile(service.policy.exportPolicy(), service.store.revision()).dump())
    // The model's own rows are logged too: nothing forces a full reload.
    expect(service.store.db.prepare("SELECT count(*) AS n FROM change_log WHERE table_name = '*'").get()).toEqual({n: 0})
  })
})

describe('adapters', () => {
  it('keep their TAP name when the VM gets another MAC', () => {
    const service = model('host1')
    loadClassic(service)
    service.set(vm, {filters: {Name: ['Blue1']}}, {MACAddress: '060600000099'})
    const adapter = service.policy.get(vmNetworkAdapter, {VMName: ['Blue1']}).objects[0]
    expect(adapter).toMatchObject({MacAddress: '060600000099', InterfaceName: 'hnv-blue1', VirtualSubnetId: 5001})
    expect(service.policy.get(lookupRecord, {VMName: ['Blue1']}).objects.map((r) => r.MACAddress)).toEqual(['060600000099'])
  })

  it('get distinct TAP names when VM names shorten to the same one', () => {
    const service = model('host1')
    loadClassic(service)
    service.transaction(() => {
      service.create(vm, {Name: 'Blue-web-frontend-01', VMSubnet: 'Blue-Subnet', VMHost: 'host1'})
      service.create(vm, {Name: 'Blue-web-frontend-02', VMSubnet: 'Blue-Subnet', VMHost: 'host1'})
    })
    const taps = service.policy.get(vmNetworkAdapter, {}).objects.map((a) => a.InterfaceName as string)
    expect(new Set(taps).size).toBe(taps.length)
    for (const tap of taps) expect(tap.length).toBeLessThanOrEqual(15)
  })
})

describe('dual stack', () => {
  it('derives an on-link route and a gateway record per prefix, and a record per VM address', () => {
    const service = model('host2')
    loadAllocated(service, 2)
    const {records, routes, pas} = lowLevel(service)
    expect(routes.map((r) => [r.DestinationPrefix, r.NextHop, r.Metric])).toEqual([
      ['10.1.0.0/24', '0.0.0.0', 255],
      ['2001:db8:1::/64', '::', 255],
    ])
    expect(records.map((r) => [r.CustomerAddress, r.MACAddress, r.ProviderAddress, r.VMName])).toEqual([
      ['10.1.0.1', GATEWAY_MAC, GATEWAY_RECORD_PA, null],
      ['2001:db8:1::1', GATEWAY_MAC, GATEWAY_RECORD_PA, null],
      ['10.1.0.10', '02484E560000', '198.51.100.11', 'Green1'],
      ['2001:db8:1::2', '02484E560000', '198.51.100.11', 'Green1'],
      ['10.1.0.13', '02484E560001', '198.51.100.22', 'Green2'],
      ['2001:db8:1::3', '02484E560001', '198.51.100.22', 'Green2'],
    ])
    expect(pas.map((p) => [p.ProviderAddress, p.PrefixLength])).toEqual([['198.51.100.22', 24], ['2001:db8::22', 64]])
  })
})
