import {describe, expect, it} from 'vitest'
import {PolicyError, UsageError} from '../../../src/lib/cli/errors.js'
import {documentSize} from '../../../src/lib/policy/document.js'
import {customerRoute, lookupRecord, providerAddress, vmNetworkAdapter} from '../../../src/lib/policy/kinds.js'
import {BLUE_RDID, DEMO_RECORDS, demoService} from '../../support/policy.js'

describe('Get', () => {
  it('combines values of one filter with OR and filters with AND', () => {
    const service = demoService()
    expect(service.get(lookupRecord, {VirtualSubnetID: ['5001', '6001']}).objects).toHaveLength(4)
    expect(service.get(lookupRecord, {VirtualSubnetID: ['5001'], CustomerAddress: ['10.0.0.7']}).objects.map((o) => o.VMName)).toEqual(['Blue2'])
  })

  it('applies wildcards to text filters, case-insensitively', () => {
    const service = demoService()
    expect(service.get(lookupRecord, {VMName: ['blue*']}).objects).toHaveLength(2)
    expect(service.get(lookupRecord, {MACAddress: ['08-08-*']}).objects).toHaveLength(2)
    expect(service.get(lookupRecord, {CustomerAddress: ['10.0.0.?']}).objects).toHaveLength(4)
    expect(service.get(lookupRecord, {Rule: ['*Encap']}).objects).toHaveLength(4)
    expect(service.get(lookupRecord, {VMName: ['Green*']}).notFound).toEqual([])
  })

  it('reports each exact value that matched nothing, like PowerShell', () => {
    const outcome = demoService().get(lookupRecord, {CustomerAddress: ['10.0.0.5', '10.0.0.99']})
    expect(outcome.objects).toHaveLength(2)
    expect(outcome.notFound).toEqual(["No MSFT_NetVirtualizationLookupRecordSettingData objects found with property 'CustomerAddress' equal to '10.0.0.99'. Verify the value of the property and retry."])
  })

  it('matches canonical forms, not the text typed', () => {
    const service = demoService()
    expect(service.get(lookupRecord, {MACAddress: ['06:06:00:00:00:05']}).objects).toHaveLength(1)
    expect(service.get(customerRoute, {RoutingDomainID: ['11111111-2222-3333-4444-000000005001']}).objects).toHaveLength(1)
  })
})

describe('New', () => {
  it('returns the created object with defaults, in display order', () => {
    const [object] = demoService().create(lookupRecord, {CustomerAddress: '10.0.0.9', VirtualSubnetID: '5001', MACAddress: '06-06-00-00-00-09', ProviderAddress: '198.51.100.11', Rule: 'translationmethodencap'}).objects
    expect(object).toEqual({CustomerAddress: '10.0.0.9', VirtualSubnetID: 5001, MACAddress: '060600000009', ProviderAddress: '198.51.100.11', CustomerID: null, Context: null, Rule: 'TranslationMethodEncap', VMName: null, UseVmMACAddress: false, Type: 'Static'})
  })

  it('accepts what real scripts do', () => {
    const service = demoService()
    const base = {VirtualSubnetID: 5001, ProviderAddress: '169.254.254.254', Rule: 'TranslationMethodEncap'}
    // The .1 gateway record, and a WS2012 wildcard record on the same MAC.
    service.create(lookupRecord, {...base, CustomerAddress: '10.0.0.1', MACAddress: '101010101101'})
    const [wildcard] = service.create(lookupRecord, {...base, CustomerAddress: '0.0.0.0', MACAddress: '101010101101'}).objects
    expect(wildcard.Type).toBe('GatewayWildcard')
    // One MAC, several CAs.
    service.create(lookupRecord, {...base, CustomerAddress: '10.0.0.21', MACAddress: '060600000005', ProviderAddress: '198.51.100.11'})
    // IPv6 CA over an IPv4 PA.
    service.create(lookupRecord, {...base, CustomerAddress: '2001:db8:5001::5', MACAddress: '060600000005', ProviderAddress: '198.51.100.11'})
    expect(service.get(lookupRecord, {MACAddress: ['060600000005']}).objects).toHaveLength(3)
  })

  it('checks mandatory parameters all at once', () => {
    expect(() => demoService().create(lookupRecord, {CustomerAddress: '10.0.0.9'})).toThrow(UsageError)
    expect(() => demoService().create(lookupRecord, {CustomerAddress: '10.0.0.9'})).toThrow('missing mandatory -VirtualSubnetID, -MACAddress, -ProviderAddress, -Rule')
  })

  it('keeps TranslationMethodNat to one PA per CA', () => {
    const service = demoService()
    const nat = {VirtualSubnetID: 5001, MACAddress: '060600000031', Rule: 'TranslationMethodNat', ProviderAddress: '198.51.100.31'}
    service.create(lookupRecord, {...nat, CustomerAddress: '10.0.0.31', UseVmMACAddress: '$true'})
    expect(() => service.create(lookupRecord, {...nat, CustomerAddress: '10.0.0.32'})).toThrow('one ProviderAddress per CA')
  })

  it('allocates VM adapter MACs and interface names', () => {
    const service = demoService()
    const first = service.create(vmNetworkAdapter, {VMName: 'Blue1', VirtualSubnetId: '5001'}).objects[0]
    const second = service.create(vmNetworkAdapter, {VMName: 'Blue1', Name: 'Second'}).objects[0]
    expect(first).toEqual({VMName: 'Blue1', Name: 'Network Adapter', MacAddress: '00155D000001', VirtualSubnetId: 5001, SwitchName: null, InterfaceName: 'hnv-blue1', Dhcp: false, MssClamp: false})
    expect(second).toMatchObject({MacAddress: '00155D000002', InterfaceName: 'hnv-blue1-1', VirtualSubnetId: 0})
    expect(() => service.create(vmNetworkAdapter, {VMName: 'blue1'})).toThrow("already has a network adapter named 'Network Adapter'")
    expect(() => service.create(vmNetworkAdapter, {VMName: 'X', VirtualSubnetId: '100'})).toThrow('reserved for VLANs')
    expect(() => service.create(vmNetworkAdapter, {VMName: 'X', InterfaceName: 'much-too-long-name'})).toThrow('is not a Linux interface name')
    expect(() => service.create(vmNetworkAdapter, {VMName: 'X', StaticMacAddress: '010000000001'})).toThrow('not a unicast MAC')
  })
})

describe('Set', () => {
  it('changes only settable properties of the selected objects', () => {
    const service = demoService()
    const outcome = service.set(lookupRecord, {filters: {VirtualSubnetID: ['5001']}}, {ProviderAddress: '198.51.100.33'})
    expect(outcome.objects.map((o) => o.ProviderAddress)).toEqual(['198.51.100.33', '198.51.100.33'])
    expect(service.get(lookupRecord, {ProviderAddress: ['198.51.100.33']}).objects).toHaveLength(2)
    expect(service.get(lookupRecord, {VirtualSubnetID: ['6001'], ProviderAddress: ['198.51.100.33']}).objects).toHaveLength(0)
  })

  it('re-checks the rules on the changed object and writes nothing when one fails', () => {
    const service = demoService()
    const before = service.store.revision()
    expect(() => service.set(lookupRecord, {filters: {}}, {UseVmMACAddress: 'true'})).toThrow(PolicyError)
    expect(service.store.revision()).toBe(before)
    expect(service.get(lookupRecord, {UseVmMACAddress: ['$true']}).objects).toHaveLength(0)
  })

  it('selects by piped objects', () => {
    const service = demoService()
    const piped = service.get(customerRoute, {RoutingDomainID: [BLUE_RDID]}).objects
    expect(service.set(customerRoute, {inputObjects: piped}, {Metric: '10'}).objects[0].Metric).toBe(10)
  })
})

describe('Remove', () => {
  it('removes what the filters select, and everything with no filter', () => {
    const service = demoService()
    expect(service.remove(lookupRecord, {filters: {VirtualSubnetID: ['6001']}}).objects).toHaveLength(2)
    expect(service.get(lookupRecord, {}).objects).toHaveLength(2)
    expect(service.remove(lookupRecord, {filters: {}}).objects).toHaveLength(2)
    expect(service.get(lookupRecord, {}).objects).toHaveLength(0)
  })

  it('removes piped objects and reports the ones it cannot find', () => {
    const service = demoService()
    const objects = service.get(lookupRecord, {VMName: ['Red*']}).objects
    const outcome = service.remove(lookupRecord, {inputObjects: [...objects, {...objects[0], CustomerAddress: '10.0.0.99'}]})
    expect(outcome.objects).toHaveLength(2)
    expect(outcome.notFound[0]).toMatch(/CustomerAddress '10.0.0.99'/)
  })

  it('-WhatIf reports the change and writes nothing', () => {
    const service = demoService()
    const before = service.store.revision()
    const outcome = service.remove(lookupRecord, {filters: {}}, true)
    expect(outcome.changes).toHaveLength(4)
    expect(service.store.revision()).toBe(before)
    expect(service.get(lookupRecord, {}).objects).toHaveLength(4)
  })
})

describe('revision', () => {
  it('moves once per committed change and not for reads or no-ops', () => {
    const service = demoService()
    const start = service.store.revision()
    service.get(lookupRecord, {})
    service.remove(lookupRecord, {filters: {VMName: ['Nobody*']}})
    expect(service.store.revision()).toBe(start)
    service.set(providerAddress, {filters: {}}, {VlanID: '12'})
    expect(service.store.revision()).toBe(start + 1)
  })
})

describe('export and import', () => {
  it('round-trips the whole policy', () => {
    const source = demoService()
    source.create(vmNetworkAdapter, {VMName: 'Blue1', VirtualSubnetId: '5001'})
    source.setGlobal({UseExternalRouter: '$true'})
    const document = source.exportPolicy()
    const target = demoService()
    expect(target.importPolicy(JSON.parse(JSON.stringify(document)), true)).toMatchObject({LookupRecords: DEMO_RECORDS.length})
    expect(target.exportPolicy()).toEqual(document)
  })

  it('ticks its progress once per imported object, as many as documentSize counts', () => {
    const document = JSON.parse(JSON.stringify(demoService().exportPolicy()))
    let ticks = 0
    demoService().importPolicy(document, true, {tick: () => ticks++})
    expect(ticks).toBe(documentSize(document))
    expect(ticks).toBeGreaterThan(DEMO_RECORDS.length)
  })

  it('is all or nothing, naming the bad object', () => {
    const target = demoService()
    const before = target.exportPolicy()
    const document = {LookupRecords: [{...DEMO_RECORDS[0], CustomerAddress: '10.0.0.50', Rule: 'TranslationMethodEncap'}, {...DEMO_RECORDS[0], CustomerAddress: '10.1', Rule: 'TranslationMethodEncap'}]}
    expect(() => target.importPolicy(document, false)).toThrow("LookupRecords[1]: -CustomerAddress: '10.1' is not an IPv4 address")
    expect(target.exportPolicy()).toEqual(before)
  })

  it('rejects unknown sections and properties', () => {
    expect(() => demoService().importPolicy({Records: []}, false)).toThrow('unknown section Records')
    expect(() => demoService().importPolicy({LookupRecords: [{CA: '10.0.0.1'}]}, false)).toThrow("LookupRecord has no property 'CA'")
  })
})
