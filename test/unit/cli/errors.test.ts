// Every bad input of the issue: one line naming the value and what is allowed, exit 1 (2 for usage),
// and the store exactly as it was.
import {dirname} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {hnv} from '../../support/cli.js'
import {BLUE_RDID, demoStore} from '../../support/policy.js'

const demo = demoStore()
const store = demo.store
afterAll(() => demo.remove())

const record = (over: Record<string, string>) => {
  const params = {CustomerAddress: '10.0.0.9', VirtualSubnetID: '5001', MACAddress: '060600000009', ProviderAddress: '198.51.100.11', Rule: 'TranslationMethodEncap', ...over}
  return ['New-NetVirtualizationLookupRecord', ...Object.entries(params).flatMap(([k, v]) => [`-${k}`, v])]
}
const route = (over: Record<string, string>) => {
  const params = {RoutingDomainID: BLUE_RDID, VirtualSubnetID: '5001', DestinationPrefix: '10.0.1.0/24', NextHop: '0.0.0.0', ...over}
  return ['New-NetVirtualizationCustomerRoute', ...Object.entries(params).flatMap(([k, v]) => [`-${k}`, v])]
}

const cases: [string, string[], number, string][] = [
  ['partial IPv4', record({CustomerAddress: '10.1'}), 1, "-CustomerAddress: '10.1' is not an IPv4 address"],
  ['octet over 255', record({CustomerAddress: '10.0.0.256'}), 1, "'10.0.0.256' is not an IPv4 address"],
  ['next hop of the wrong family', route({NextHop: '::'}), 1, '-NextHop :: is IPv6 but -DestinationPrefix 10.0.1.0/24 is IPv4'],
  ['prefix with host bits', route({DestinationPrefix: '10.0.1.7/24'}), 1, 'did you mean 10.0.1.0/24?'],
  ['VSID below the range', record({VirtualSubnetID: '4095'}), 1, "-VirtualSubnetID '4095' is not valid: use a whole number from 4096 to 16777214"],
  ['VSID above the range', record({VirtualSubnetID: '16777215'}), 1, 'from 4096 to 16777214'],
  ['malformed MAC', record({MACAddress: '06060000000'}), 1, "-MACAddress: '06060000000' is not a MAC address"],
  ['malformed RDID', route({RoutingDomainID: '{1111-2222}'}), 1, "-RoutingDomainID: '{1111-2222}' is not a GUID"],
  ['duplicate record', record({CustomerAddress: '10.0.0.5'}), 1, 'a lookup record for CustomerAddress 10.0.0.5 in VirtualSubnetID 5001 already exists'],
  ['same CA in two VSIDs of one routing domain', [...record({CustomerAddress: '10.0.0.5', VirtualSubnetID: '5002'})], 0, ''],
  ['VSID under two RDIDs', route({RoutingDomainID: '{11111111-2222-3333-4444-000000006001}'}), 1, 'VirtualSubnetID 5001 already belongs to routing domain {11111111-2222-3333-4444-000000005001}'],
  ['0.0.0.0 as a Static CA', record({CustomerAddress: '0.0.0.0', Type: 'Static'}), 1, '-CustomerAddress 0.0.0.0 is only valid with -Type L2Only or GatewayWildcard'],
  [':: as a Dynamic CA', record({CustomerAddress: '::', Type: 'Dynamic'}), 1, '-CustomerAddress :: is only valid with -Type L2Only or GatewayWildcard'],
  ['UseVmMACAddress without NAT', record({UseVmMACAddress: '$true'}), 1, '-UseVmMACAddress $true is only valid with -Rule TranslationMethodNat'],
  ['unknown Rule', record({Rule: 'Encap'}), 1, "-Rule 'Encap' is not valid: use one of TranslationMethodEncap, TranslationMethodNat, TranslationMethodNone"],
  ['unknown Type', record({Type: 'Sticky'}), 1, "-Type 'Sticky' is not valid: use one of Static, Dynamic, L2Only, GatewayWildcard"],
  ['unknown parameter', [...record({}), '-CustomerAdres', '1'], 2, 'unknown parameter -CustomerAdres; did you mean -CustomerAddress?'],
  ['unknown flag, topic form', ['lookup-record', 'get', '--virtual-subnet', '5001'], 2, 'did you mean --virtual-subnet-id?'],
  ['missing mandatory', ['New-NetVirtualizationLookupRecord', '-CustomerAddress', '10.0.0.9'], 2, 'missing mandatory -VirtualSubnetID, -MACAddress, -ProviderAddress, -Rule'],
  ['topic form names flags', ['lookup-record', 'new', '--customer-address', '10.0.0.9'], 2, 'missing mandatory --virtual-subnet-id, --mac-address, --provider-address, --rule'],
]

describe('bad input', () => {
  it.each(cases)('%s', async (_name, args, code, message) => {
    const before = await hnv(store, 'policy', 'export')
    // The one case that must succeed is run against the unchanged store and proves the rule is per routing domain.
    if (code === 0) {
      const run = await hnv(store, ...args)
      expect(run.code).toBe(0)
      const clash = await hnv(store, ...route({VirtualSubnetID: '5002'}))
      expect(clash.code).toBe(1)
      expect(clash.stderr).toContain('VirtualSubnetID 5002 and 5001 both hold CustomerAddress 10.0.0.5')
      await hnv(store, 'Remove-NetVirtualizationLookupRecord', '-VirtualSubnetID', '5002')
      return
    }
    const run = await hnv(store, ...args)
    expect(run.code).toBe(code)
    expect(run.stdout).toBe('')
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1)
    expect(run.stderr).toContain(message)
    expect((await hnv(store, 'policy', 'export')).stdout).toBe(before.stdout)
  })

  it('refuses a store file that is not an hnv database', async () => {
    const run = await hnv(dirname(store), 'lookup-record', 'get')
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^hnv: cannot open policy store/)
  })
})

describe('non-terminating errors', () => {
  it('prints what was found, reports the rest on stderr and exits 1', async () => {
    const run = await hnv(store, 'Get-NetVirtualizationLookupRecord', '-CustomerAddress', '10.0.0.7,10.0.0.77', '--json')
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toHaveLength(2)
    expect(run.stderr).toBe("hnv: No MSFT_NetVirtualizationLookupRecordSettingData objects found with property 'CustomerAddress' equal to '10.0.0.77'. Verify the value of the property and retry.\n")
  })

  it('-ErrorAction SilentlyContinue hides them', async () => {
    const run = await hnv(store, 'Get-NetVirtualizationLookupRecord', '-CustomerAddress', '10.0.0.77', '-ErrorAction', 'SilentlyContinue')
    expect(run).toEqual({stdout: '', stderr: '', code: 0})
  })
})
