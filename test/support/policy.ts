// The classic two-host, two-tenant demo (reference/hnv.md §6) with 198.51.100.0/24 provider addresses.
import {join} from 'node:path'
import {tempDir} from './cli.js'
import {PolicyService} from '../../src/lib/policy/service.js'
import {PolicyStore} from '../../src/lib/policy/store.js'
import {customerRoute, lookupRecord, providerAddress} from '../../src/lib/policy/kinds.js'

export const BLUE_RDID = '{11111111-2222-3333-4444-000000005001}'
export const RED_RDID = '{11111111-2222-3333-4444-000000006001}'
export const HOST1_PA = '198.51.100.11'
export const HOST2_PA = '198.51.100.22'

export const DEMO_RECORDS = [
  {CustomerAddress: '10.0.0.5', VirtualSubnetID: 5001, MACAddress: '060600000005', ProviderAddress: HOST1_PA, VMName: 'Blue1'},
  {CustomerAddress: '10.0.0.7', VirtualSubnetID: 5001, MACAddress: '060600000007', ProviderAddress: HOST2_PA, VMName: 'Blue2'},
  {CustomerAddress: '10.0.0.5', VirtualSubnetID: 6001, MACAddress: '080800000005', ProviderAddress: HOST1_PA, VMName: 'Red1'},
  {CustomerAddress: '10.0.0.7', VirtualSubnetID: 6001, MACAddress: '080800000007', ProviderAddress: HOST2_PA, VMName: 'Red2'},
]

/** Host1's policy: both tenants' records and on-link routes, and its own PA. */
export function loadDemo(service: PolicyService): void {
  service.create(customerRoute, {RoutingDomainID: BLUE_RDID, VirtualSubnetID: 5001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255})
  service.create(customerRoute, {RoutingDomainID: RED_RDID, VirtualSubnetID: 6001, DestinationPrefix: '10.0.0.0/24', NextHop: '0.0.0.0', Metric: 255})
  for (const record of DEMO_RECORDS) service.create(lookupRecord, {...record, Rule: 'TranslationMethodEncap'})
  service.create(providerAddress, {ProviderAddress: HOST1_PA, InterfaceIndex: 2, PrefixLength: 24})
}

/** A store file holding the demo, for tests that run the CLI. */
export function demoStore(): {store: string; remove(): void} {
  const dir = tempDir()
  const store = join(dir.path, 'policy.db')
  const opened = PolicyStore.open(store)
  loadDemo(new PolicyService(opened))
  opened.close()
  return {store, remove: dir.remove}
}

export function demoService(): PolicyService {
  const service = new PolicyService(PolicyStore.open(':memory:'))
  loadDemo(service)
  return service
}
