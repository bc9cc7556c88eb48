// Allocation (VSIDs, RDIDs, CAs, MACs), its determinism, pool exhaustion, and the model's validation rules.
import {describe, expect, it} from 'vitest'
import {PolicyError, UsageError} from '../../../src/lib/cli/errors.js'
import {host, ipPool, macPool, routingDomainIdFor, vm, vmNetwork, vmSubnet} from '../../../src/lib/model/kinds.js'
import {DEFAULT_MAC_POOL} from '../../../src/lib/model/types.js'
import {customerRoute, lookupRecord} from '../../../src/lib/policy/kinds.js'
import {loadAllocated, loadClassic, model} from './support.js'

function everything(service: ReturnType<typeof model>) {
  return {hosts: service.hosts(), networks: service.vmNetworks(), subnets: service.vmSubnets(), pools: service.ipPools(), vms: service.vms(), derived: service.policy.exportPolicy()}
}

describe('allocation', () => {
  it('hands out VSIDs from 4096, the RDID from the name, CAs from the pool (skipping exclusions) and MACs from the default pool', () => {
    const service = model()
    loadAllocated(service, 3)
    const [network] = service.vmNetworks()
    expect(network.RoutingDomainID).toBe(routingDomainIdFor('Green'))
    expect(network.RoutingDomainID).toMatch(/^\{[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\}$/)
    expect(service.vmSubnets()[0].VirtualSubnetID).toBe(4096)
    expect(service.vms().map((v) => [v.Name, v.IPv4Address, v.IPv6Address, v.MACAddress])).toEqual([
      ['Green1', '10.1.0.10', '2001:db8:1::2', '02484E560000'],
      ['Green2', '10.1.0.13', '2001:db8:1::3', '02484E560001'],
      ['Green3', '10.1.0.14', '2001:db8:1::4', '02484E560002'],
    ])
  })

  it('is the same on another empty store given the same objects in the same order', () => {
    const a = model('host1')
    const b = model('host1')
    loadAllocated(a, 20)
    loadAllocated(b, 20)
    expect(everything(a)).toEqual(everything(b))
  })

  it('gives the lowest free value again after a removal, and never the .1 or a hand-made CA', () => {
    const service = model()
    service.transaction(() => {
      service.create(host, {Name: 'h', ProviderAddresses: '198.51.100.1'})
      service.create(vmNetwork, {Name: 'N'})
      service.create(vmSubnet, {Name: 'S1', VMNetwork: 'N', Prefix: '10.0.0.0/24'})
      service.create(vmSubnet, {Name: 'S2', VMNetwork: 'N', Prefix: '10.0.1.0/24'})
    })
    expect(service.vmSubnets().map((s) => s.VirtualSubnetID)).toEqual([4096, 4097])
    service.policy.create(lookupRecord, {CustomerAddress: '10.0.0.2', VirtualSubnetID: 4096, MACAddress: '0A0000000001', ProviderAddress: '198.51.100.9', Rule: 'TranslationMethodEncap'})
    service.create(vm, {Name: 'A', VMSubnet: 'S1', VMHost: 'h'})
    service.create(vm, {Name: 'B', VMSubnet: 'S1', VMHost: 'h'})
    expect(service.vms().map((v) => v.IPv4Address)).toEqual(['10.0.0.3', '10.0.0.4'])
    service.remove(vm, {filters: {Name: ['A']}})
    service.create(vm, {Name: 'C', VMSubnet: 'S1', VMHost: 'h'})
    expect(service.vms().find((v) => v.Name === 'C')!.IPv4Address).toBe('10.0.0.3')
    service.remove(vmSubnet, {filters: {Name: ['S2']}})
    service.create(vmSubnet, {Name: 'S3', VMNetwork: 'N', Prefix: '10.0.2.0/24'})
    expect(service.vmSubnets().find((s) => s.Name === 'S3')!.VirtualSubnetID).toBe(4097)
  })

  it('skips VSIDs that hand-made policy uses', () => {
    const service = model()
    service.policy.create(customerRoute, {RoutingDomainID: '{11111111-2222-3333-4444-000000005001}', VirtualSubnetID: 4096, DestinationPrefix: '10.9.0.0/24', NextHop: '0.0.0.0'})
    service.transaction(() => {
      service.create(vmNetwork, {Name: 'N'})
      service.create(vmSubnet, {Name: 'S', VMNetwork: 'N', Prefix: '10.0.0.0/24'})
    })
    expect(service.vmSubnets()[0].VirtualSubnetID).toBe(4097)
  })

  it('names the pool and its range when it is exhausted, and writes nothing', () => {
    const service = model()
    service.transaction(() => {
      service.create(host, {Name: 'h', ProviderAddresses: '198.51.100.1'})
      service.create(vmNetwork, {Name: 'N'})
      service.create(vmSubnet, {Name: 'S', VMNetwork: 'N', Prefix: '10.0.0.0/24'})
      service.create(ipPool, {Name: 'Tiny', VMSubnet: 'S', IPAddressRangeStart: '10.0.0.1', IPAddressRangeEnd: '10.0.0.3'})
      service.create(vm, {Name: 'A', VMSubnet: 'S', VMHost: 'h'})
      service.create(vm, {Name: 'B', VMSubnet: 'S', VMHost: 'h'})
    })
    expect(service.vms().map((v) => v.IPv4Address)).toEqual(['10.0.0.2', '10.0.0.3'])
    const revision = service.store.revision()
    expect(() => service.create(vm, {Name: 'C', VMSubnet: 'S', VMHost: 'h'})).toThrow(
      new PolicyError("static IP address pool 'Tiny' (10.0.0.1-10.0.0.3) of VMSubnet 'S' has no free IPv4 address for VM 'C'; widen the range, add a pool (New-SCStaticIPAddressPool) or give -IPv4Address"),
    )
    expect(service.store.revision()).toBe(revision)
    expect(service.vms()).toHaveLength(2)
  })

  it('names the MAC pool and its range when it is exhausted', () => {
    const service = model()
    service.transaction(() => {
      service.create(host, {Name: 'h', ProviderAddresses: '198.51.100.1'})
      service.create(macPool, {Name: 'Two', MACAddressRangeStart: '02-00-00-00-00-01', MACAddressRangeEnd: '020000000002'})
      service.create(vmNetwork, {Name: 'N'})
      service.create(vmSubnet, {Name: 'S', VMNetwork: 'N', Prefix: '10.0.0.0/24'})
      service.create(vm, {Name: 'A', VMSubnet: 'S', VMHost: 'h'})
      service.create(vm, {Name: 'B', VMSubnet: 'S', VMHost: 'h'})
    })
    expect(service.vms().map((v) => v.MACAddress)).toEqual(['020000000001', '020000000002'])
    expect(() => service.create(vm, {Name: 'C', VMSubnet: 'S', VMHost: 'h'})).toThrow(
      "MAC address pool 'Two' (020000000001-020000000002) has no free MAC address for VM 'C'; add a pool (New-SCMACAddressPool) or give -MACAddress",
    )
  })

  it('uses a locally administered unicast default MAC range', () => {
    const first = parseInt(DEFAULT_MAC_POOL.MACAddressRangeStart.slice(0, 2), 16)
    expect(first & 0b10).toBe(0b10)
    expect(first & 0b01).toBe(0)
  })

  it('gives a pool the whole subnet after the .1 by default', () => {
    const service = model()
    service.transaction(() => {
      service.create(vmNetwork, {Name: 'N', AddressFamily: 'IPv6'})
      service.create(vmSubnet, {Name: 'S', VMNetwork: 'N', Prefix: '2001:db8:5::/64'})
      service.create(ipPool, {Name: 'P', VMSubnet: 'S'})
    })
    expect(service.ipPools()[0]).toMatchObject({IPAddressRangeStart: '2001:db8:5::2', IPAddressRangeEnd: '2001:db8:5:0:ffff:ffff:ffff:ffff'})
  })
})

describe('validation', () => {
  const base = () => {
    const service = model()
    loadClassic(service)
    return service
  }

  it.each([
    ['a duplicate name', vmNetwork, {Name: 'blue'}, "a VM network named 'blue' already exists"],
    ['an unknown network', vmSubnet, {Name: 'X', VMNetwork: 'Green', Prefix: '10.5.0.0/24'}, "VMSubnet 'X' refers to VM network 'Green', which does not exist (there are: Blue, Red)"],
    ['overlapping prefixes in one VM network', vmSubnet, {Name: 'X', VMNetwork: 'Blue', Prefix: '10.0.0.128/25'}, "-Prefix 10.0.0.128/25 overlaps 10.0.0.0/24 of VMSubnet 'Blue-Subnet' in the same VM network 'Blue'"],
    ['a prefix of a family the network does not have', vmSubnet, {Name: 'X', VMNetwork: 'Blue', Prefix: '2001:db8::/64'}, "-Prefix 2001:db8::/64 is IPv6, but VM network 'Blue' has AddressFamily IPv4"],
    ['a taken VSID', vmSubnet, {Name: 'X', VMNetwork: 'Blue', Prefix: '10.1.0.0/24', VirtualSubnetID: 6001}, "VirtualSubnetID 6001 already belongs to VMSubnet 'Red-Subnet'"],
    ['a VSID out of range', vmSubnet, {Name: 'X', VMNetwork: 'Blue', Prefix: '10.1.0.0/24', VirtualSubnetID: 100}, "-VirtualSubnetID '100' is not valid: use a whole number from 4096 to 16777214"],
    ['a pool outside its subnet', ipPool, {Name: 'P', VMSubnet: 'Blue-Subnet', IPAddressRangeStart: '10.0.0.10', IPAddressRangeEnd: '10.0.1.10'}, "range 10.0.0.10-10.0.1.10 is not inside VMSubnet 'Blue-Subnet' (10.0.0.0/24)"],
    ['a VM on the .1', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.1'}, "-IPv4Address 10.0.0.1 is the gateway (.1) of VMSubnet 'Blue-Subnet' (10.0.0.0/24); no VM may use it"],
    ['a VM outside its subnet', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.1.5'}, "-IPv4Address 10.0.1.5 of VM 'X' is not a VM address of VMSubnet 'Blue-Subnet' (10.0.0.0/24: 10.0.0.2-10.0.0.254)"],
    ['a VM on the broadcast address', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.255'}, 'is not a VM address of'],
    ['a CA another VM of the network holds', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.7'}, "-IPv4Address 10.0.0.7 of VM 'X' is already used by VM 'Blue2' in VM network 'Blue'"],
    ['a MAC another VM holds', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host1', MACAddress: '080800000005'}, "-MACAddress 080800000005 of VM 'X' is already used by VM 'Red1'"],
    ['an unknown host', vm, {Name: 'X', VMSubnet: 'Blue-Subnet', VMHost: 'host9'}, "VM 'X' refers to host 'host9', which does not exist (there are: host1, host2)"],
    ['a provider address another host has', host, {Name: 'host3', ProviderAddresses: '198.51.100.11/24'}, "provider address 198.51.100.11 of host 'host3' already belongs to host 'host1'"],
  ])('refuses %s', (_what, kind, input, message) => {
    const service = base()
    const before = service.policy.exportPolicy()
    const revision = service.store.revision()
    expect(() => service.create(kind, input)).toThrow(message)
    expect(service.store.revision()).toBe(revision)
    expect(service.policy.exportPolicy()).toEqual(before)
  })

  it('refuses a missing mandatory parameter as a usage error', () => {
    expect(() => model().create(vmSubnet, {Name: 'X'})).toThrow(UsageError)
  })

  it('keeps the model whole: no Set or Remove leaves a VM outside its subnet or a reference dangling', () => {
    const service = base()
    expect(() => service.set(vmSubnet, {filters: {Name: ['Blue-Subnet']}}, {Prefix: '10.9.0.0/24'})).toThrow("VM 'Blue1'")
    expect(() => service.remove(vmSubnet, {filters: {Name: ['Blue-Subnet']}})).toThrow("cannot remove VM subnet 'Blue-Subnet': VMs 'Blue1', 'Blue2' are still in it; remove them first (Remove-SCVirtualMachine)")
    expect(() => service.remove(vmNetwork, {filters: {Name: ['Red']}})).toThrow("cannot remove VM network 'Red': VM subnet 'Red-Subnet' is still in it; remove them first (Remove-SCVMSubnet)")
    expect(() => service.remove(host, {filters: {Name: ['host2']}})).toThrow("cannot remove host 'host2': VMs 'Blue2', 'Red2' are still on it; remove or move them first")
    expect(service.vmSubnets()).toHaveLength(2)
  })

  it('refuses a local host that is not in the model', () => {
    const service = model('nowhere')
    expect(() => service.create(vmNetwork, {Name: 'N'})).toThrow("the local host 'nowhere' (--host, HNV_HOST) is not a host of the model (there is none)")
    expect(service.vmNetworks()).toEqual([])
  })
})

describe('transactions', () => {
  it('a dry run inside a transaction keeps nothing of its own, the rest commits once', () => {
    const service = model()
    const revision = service.store.revision()
    service.transaction(() => {
      service.create(vmNetwork, {Name: 'Kept'})
      service.create(vmNetwork, {Name: 'WhatIf'}, true)
    })
    expect(service.vmNetworks().map((n) => n.Name)).toEqual(['Kept'])
    expect(service.store.revision()).toBe(revision + 1)
  })

  it('a dry run does the whole work, derivation included, and keeps none of it', () => {
    const service = model()
    loadClassic(service)
    const revision = service.store.revision()
    const before = service.policy.exportPolicy()
    service.transaction(() => service.remove(vm, {filters: {}}), {dryRun: true})
    expect(service.lastDerivedChanges.filter((c) => c.operation === 'Remove').length).toBe(4)
    expect(service.store.revision()).toBe(revision)
    expect(service.policy.exportPolicy()).toEqual(before)
    expect(service.vms()).toHaveLength(4)
  })
})
