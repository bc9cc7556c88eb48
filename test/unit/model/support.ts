// Model fixtures: the two-host, two-tenant plan of reference/hnv.md §6 as SCVMM objects.
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {ModelService} from '../../../src/lib/model/service.js'
import {host, ipPool, vm, vmNetwork, vmSubnet} from '../../../src/lib/model/kinds.js'
import {BLUE_RDID, HOST1_PA, HOST2_PA, RED_RDID} from '../../support/policy.js'

export function model(localHost: string | null = null): ModelService {
  return new ModelService(PolicyStore.open(':memory:'), {localHost})
}

/** Blue and Red (both 10.0.0.0/24) with the reference's RDIDs, VSIDs, CAs and MACs, on host1 and host2. */
export function loadClassic(service: ModelService): void {
  service.transaction(() => {
    service.create(host, {Name: 'host1', ProviderAddresses: `${HOST1_PA}/24`})
    service.create(host, {Name: 'host2', ProviderAddresses: `${HOST2_PA}/24`})
    service.create(vmNetwork, {Name: 'Blue', RoutingDomainID: BLUE_RDID})
    service.create(vmNetwork, {Name: 'Red', RoutingDomainID: RED_RDID})
    service.create(vmSubnet, {Name: 'Blue-Subnet', VMNetwork: 'Blue', Prefix: '10.0.0.0/24', VirtualSubnetID: 5001})
    service.create(vmSubnet, {Name: 'Red-Subnet', VMNetwork: 'Red', Prefix: '10.0.0.0/24', VirtualSubnetID: 6001})
    service.create(vm, {Name: 'Blue1', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.5', MACAddress: '060600000005'})
    service.create(vm, {Name: 'Blue2', VMSubnet: 'Blue-Subnet', VMHost: 'host2', IPv4Address: '10.0.0.7', MACAddress: '060600000007'})
    service.create(vm, {Name: 'Red1', VMSubnet: 'Red-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.5', MACAddress: '080800000005'})
    service.create(vm, {Name: 'Red2', VMSubnet: 'Red-Subnet', VMHost: 'host2', IPv4Address: '10.0.0.7', MACAddress: '080800000007'})
  })
}

/** A tenant with allocated everything: one subnet, one pool, n VMs spread over two hosts. */
export function loadAllocated(service: ModelService, vms = 3): void {
  service.transaction(() => {
    service.create(host, {Name: 'host1', ProviderAddresses: '198.51.100.11'})
    service.create(host, {Name: 'host2', ProviderAddresses: '198.51.100.22/24,2001:db8::22/64'})
    service.create(vmNetwork, {Name: 'Green', AddressFamily: 'DualStack'})
    service.create(vmSubnet, {Name: 'Green-Web', VMNetwork: 'Green', Prefix: '10.1.0.0/24,2001:db8:1::/64'})
    service.create(ipPool, {Name: 'Green-Web-v4', VMSubnet: 'Green-Web', IPAddressRangeStart: '10.1.0.10', IPAddressRangeEnd: '10.1.0.200', IPAddressReservedSet: '10.1.0.11-10.1.0.12'})
    for (let i = 1; i <= vms; i++) service.create(vm, {Name: `Green${i}`, VMSubnet: 'Green-Web', VMHost: i % 2 === 1 ? 'host1' : 'host2'})
  })
}
