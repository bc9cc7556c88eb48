// hnv policy test's rules, one by one, on the classic demo policy (clean) with one thing broken at a time.
import {describe, expect, it} from 'vitest'
import {runChecks, type CheckInput, type CheckModel, type LowLevelPolicy} from '../../../src/lib/apply/checks.js'
import {demoService, HOST1_PA, HOST2_PA} from '../../support/policy.js'

const BLUE = '{11111111-2222-3333-4444-000000005001}'

function demo(): LowLevelPolicy {
  const doc = demoService().exportPolicy() as unknown as LowLevelPolicy
  return {LookupRecords: doc.LookupRecords, CustomerRoutes: doc.CustomerRoutes, ProviderAddresses: doc.ProviderAddresses, VMNetworkAdapters: doc.VMNetworkAdapters}
}

const hosts = [{Name: 'host1', ProviderAddresses: `${HOST1_PA}/24`}, {Name: 'host2', ProviderAddresses: `${HOST2_PA}/24`}]
const emptyModel: CheckModel = {hosts, subnets: [], pools: [], vms: []}

function checks(input: CheckInput) {
  return runChecks(input).findings.map((f) => f.Check)
}

describe('policy test on low-level policy', () => {
  it('finds nothing wrong in the demo, and skips the PA rule when no host is known', () => {
    const report = runChecks({policy: demo()})
    expect(report.findings).toEqual([])
    expect(report.skipped.map((s) => s.Check)).toEqual(['pa-not-owned'])
    expect(runChecks({policy: demo(), model: emptyModel})).toEqual({findings: [], skipped: []})
  })

  it('overlapping prefixes of two subnets in one routing domain', () => {
    const policy = demo()
    policy.CustomerRoutes.push({RoutingDomainID: BLUE, VirtualSubnetID: 5002, DestinationPrefix: '10.0.0.128/25', NextHop: '0.0.0.0', Metric: 255})
    const [finding] = runChecks({policy}).findings
    expect(finding).toMatchObject({Check: 'prefix-overlap'})
    expect(finding.Objects).toEqual([
      `CustomerRoute 10.0.0.0/24 via 0.0.0.0 (VSID 5001, RDID ${BLUE})`,
      `CustomerRoute 10.0.0.128/25 via 0.0.0.0 (VSID 5002, RDID ${BLUE})`,
    ])
  })

  it('a CA outside its subnet prefix', () => {
    const policy = demo()
    policy.LookupRecords.push({CustomerAddress: '10.9.0.5', VirtualSubnetID: 5001, MACAddress: '060600000009', ProviderAddress: HOST1_PA, Rule: 'TranslationMethodEncap', VMName: 'Blue9', Type: 'Static'})
    const [finding] = runChecks({policy}).findings
    expect(finding.Check).toBe('ca-outside-prefix')
    expect(finding.Objects[0]).toBe(`LookupRecord 10.9.0.5 (VSID 5001, MAC 060600000009, PA ${HOST1_PA}, VM Blue9)`)
  })

  it('a record whose PA no host owns (with hosts known)', () => {
    const policy = demo()
    policy.LookupRecords[1] = {...policy.LookupRecords[1], ProviderAddress: '198.51.100.99'}
    const report = runChecks({policy, model: emptyModel})
    expect(report.findings.map((f) => [f.Check, f.Objects[0]])).toEqual([['pa-not-owned', 'LookupRecord 10.0.0.7 (VSID 5001, MAC 060600000007, PA 198.51.100.99, VM Blue2)']])
    // Gateway records name a PA on purpose that no host has.
    expect(checks({policy, model: emptyModel, gatewayProviderAddresses: ['198.51.100.99']})).toEqual([])
  })

  it('a customer route whose next hop has no record', () => {
    const policy = demo()
    policy.CustomerRoutes.push({RoutingDomainID: BLUE, VirtualSubnetID: 5001, DestinationPrefix: '0.0.0.0/0', NextHop: '10.0.0.254', Metric: 256})
    expect(checks({policy})).toEqual(['next-hop-unresolved'])
    policy.LookupRecords.push({CustomerAddress: '10.0.0.254', VirtualSubnetID: 5001, MACAddress: '0606000000FE', ProviderAddress: HOST1_PA, Rule: 'TranslationMethodEncap', VMName: 'gw', Type: 'Static'})
    expect(checks({policy})).toEqual([])
  })

  it('a VSID in two routing domains', () => {
    const policy = demo()
    policy.CustomerRoutes.push({RoutingDomainID: '{11111111-2222-3333-4444-000000007001}', VirtualSubnetID: 5001, DestinationPrefix: '10.7.0.0/24', NextHop: '0.0.0.0', Metric: 255})
    expect(checks({policy})).toContain('vsid-in-two-domains')
  })

  it('a VM on the .1, but not the gateway record there', () => {
    const policy = demo()
    policy.LookupRecords.push({CustomerAddress: '10.0.0.1', VirtualSubnetID: 5001, MACAddress: '101010101101', ProviderAddress: '169.254.254.254', Rule: 'TranslationMethodEncap', VMName: null, Type: 'Static'})
    expect(checks({policy})).toEqual([])
    policy.LookupRecords.push({CustomerAddress: '10.0.0.1', VirtualSubnetID: 6001, MACAddress: '080800000001', ProviderAddress: HOST1_PA, Rule: 'TranslationMethodEncap', VMName: 'Red0', Type: 'Static'})
    expect(checks({policy})).toEqual(['vm-on-gateway'])
  })
})

describe('policy test on model objects', () => {
  const policy: LowLevelPolicy = {LookupRecords: [], CustomerRoutes: [], ProviderAddresses: [], VMNetworkAdapters: []}
  const model = (): CheckModel => ({
    hosts,
    subnets: [
      {Name: 'Blue-A', VMNetwork: 'Blue', Prefix: '10.0.0.0/24', VirtualSubnetID: 5001},
      {Name: 'Blue-B', VMNetwork: 'Blue', Prefix: '10.0.1.0/24,2001:db8:b1::/64'},
      {Name: 'Red-A', VMNetwork: 'Red', Prefix: '10.0.0.0/24', VirtualSubnetID: 6001},
    ],
    pools: [
      {Name: 'Blue-A-pool', VMSubnet: 'Blue-A', IPAddressRangeStart: '10.0.0.10', IPAddressRangeEnd: '10.0.0.99'},
      {Name: 'Red-A-pool', VMSubnet: 'Red-A', IPAddressRangeStart: '10.0.0.10', IPAddressRangeEnd: '10.0.0.99'},
    ],
    vms: [{Name: 'Blue1', VMSubnet: 'Blue-A', IPv4Address: '10.0.0.5'}, {Name: 'Blue3', VMSubnet: 'blue-b', IPv6Address: '2001:db8:b1::5'}],
  })

  it('is clean for two tenants with the same addresses', () => {
    expect(checks({policy, model: model(), tables: 'separate'})).toEqual([])
  })

  it('finds overlapping pools, subnets, a shared VSID, a VM outside its prefix and one on the .1', () => {
    const m = model()
    m.pools.push({Name: 'Blue-A-more', VMSubnet: 'Blue-A', IPAddressRangeStart: '10.0.0.90', IPAddressRangeEnd: '10.0.0.120'})
    m.subnets.push({Name: 'Blue-C', VMNetwork: 'Blue', Prefix: '10.0.1.128/25'}, {Name: 'Green-A', VMNetwork: 'Green', Prefix: '10.5.0.0/24', VirtualSubnetID: 6001})
    m.vms.push({Name: 'Blue4', VMSubnet: 'Blue-A', IPv4Address: '10.1.0.5'}, {Name: 'Blue5', VMSubnet: 'Blue-B', IPv6Address: '2001:db8:b1::1'})
    const findings = runChecks({policy, model: m, tables: 'separate'}).findings
    expect(findings.map((f) => f.Check)).toEqual(['pool-overlap', 'prefix-overlap', 'vsid-in-two-domains', 'ca-outside-prefix', 'vm-on-gateway'])
    expect(findings[0].Objects).toEqual(['StaticIPAddressPool Blue-A-pool (10.0.0.10-10.0.0.99, subnet Blue-A)', 'StaticIPAddressPool Blue-A-more (10.0.0.90-10.0.0.120, subnet Blue-A)'])
    expect(findings[4].Problem).toBe('VM Blue5 has 2001:db8:b1::1, the gateway (.1) of 2001:db8:b1::/64; no VM may use it')
  })

  it('with derived tables, leaves to the tables what they show and still checks pools', () => {
    const m = model()
    m.vms.push({Name: 'Blue4', VMSubnet: 'Blue-A', IPv4Address: '10.1.0.5'})
    m.pools.push({Name: 'Stray', VMSubnet: 'Blue-B', IPAddressRangeStart: '10.2.0.10', IPAddressRangeEnd: '10.2.0.20'})
    expect(checks({policy, model: m, tables: 'derived'})).toEqual(['ca-outside-prefix'])
  })
})
