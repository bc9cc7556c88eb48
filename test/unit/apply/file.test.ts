// The tenant file: its schema (published, up to date, usable by other tools) and errors that point at the
// line and field, for YAML and JSON alike.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv} from 'ajv'
import {describe, expect, it} from 'vitest'
import {parseTenantFile} from '../../../src/lib/apply/file.js'
import {tenantFileSchema} from '../../../src/lib/apply/schema.js'
import {ROOT} from '../../support/cli.js'

async function problems(text: string, name = 'tenant.yaml'): Promise<string[]> {
  try {
    await parseTenantFile(text, name)
  } catch (error) {
    return (error as Error).message.split('\n')
  }
  return []
}

const GOOD = `Version: 1
Hosts:
  - Name: host1
    ProviderAddresses: [198.51.100.11/24, 2001:db8::11/64]
VMNetworks:
  - Name: Blue
    AddressFamily: DualStack
VMSubnets:
  - Name: Blue-A
    VMNetwork: Blue
    Prefix:
      - 10.0.0.0/24
      - 2001:db8:b::/64
    VirtualSubnetID: 5001
VMs:
  - Name: Blue1
    VMSubnet: Blue-A
    VMHost: host1
    Description: null
`

describe('tenant file', () => {
  it('schema/TenantFile.json is up to date (npm run schema)', () => {
    expect(JSON.parse(readFileSync(join(ROOT, 'schema/TenantFile.json'), 'utf8'))).toEqual(tenantFileSchema())
  })

  it('accepts a good file and every example, and the schema accepts them as other tools would read them', async () => {
    const file = await parseTenantFile(GOOD, 'tenant.yaml')
    expect(file.sections.get('Hosts')![0].input).toEqual({Name: 'host1', ProviderAddresses: '198.51.100.11/24,2001:db8::11/64'})
    expect(file.sections.get('VMs')![0]).toEqual({input: {Name: 'Blue1', VMSubnet: 'Blue-A', VMHost: 'host1'}, path: ['VMs', 0]})
    const validate = new Ajv({strict: false}).compile({...tenantFileSchema(), $id: undefined})
    const {parse} = await import('yaml')
    for (const example of ['examples/tenants.yaml']) {
      const text = readFileSync(join(ROOT, example), 'utf8')
      expect(validate(parse(text)), example).toBe(true)
      await parseTenantFile(text, example)
    }
  })

  it('names the line and field of every schema problem, in file order', async () => {
    const text = GOOD.replace('    VMHost: host1\n', '    Host: host1\n')
      .replace('VirtualSubnetID: 5001', 'VirtualSubnetID: 12')
      .replace('AddressFamily: DualStack', 'AddressFamily: IPv5')
      .replace('    ProviderAddresses: [198.51.100.11/24, 2001:db8::11/64]\n', '    ProviderAddresses: [198.51.100.11/24, {a: 7}]\n')
    expect(await problems(text)).toEqual([
      'tenant.yaml:4: Hosts[0].ProviderAddresses[1]: {"a":7} must be a string',
      'tenant.yaml:7: VMNetworks[0].AddressFamily: "IPv5" is not allowed; use one of IPv4, IPv6, DualStack',
      'tenant.yaml:14: VMSubnets[0].VirtualSubnetID: 12 is out of range: must be >= 4096',
      'tenant.yaml:16: VMs[0]: missing VMHost',
      'tenant.yaml:18: VMs[0].Host: unknown property; allowed: Name, VMSubnet, VMHost, IPv4Address, IPv6Address, MACAddress, Description',
    ])
  })

  it('names unknown sections, wrong shapes and duplicate names', async () => {
    expect(await problems('Version: 1\nVM:\n  - Name: a\n')).toEqual([
      'tenant.yaml:2: VM: unknown property; allowed: Version, Hosts, MACAddressPools, VMNetworks, VMSubnets, StaticIPAddressPools, VMs, Policy',
    ])
    expect(await problems('Hosts:\n  Name: a\n')).toEqual(['tenant.yaml:1: Hosts: {"Name":"a"} must be a list'])
    expect(await problems('VMNetworks:\n  - Name: Blue\n  - Name: red\n  - Name: BLUE\n')).toEqual([
      "tenant.yaml:4: VMNetworks[2].Name: 'BLUE' is already the name of VMNetworks[0]; names are unique per kind (case-insensitive)",
    ])
    expect(await problems('Policy:\n  LookupRecords:\n    - {CustomerAddress: 10.0.0.5, VirtualSubnetID: 5001, MACAddress: 060600000005, ProviderAddress: 198.51.100.11}\n')).toEqual([
      'tenant.yaml:3: Policy.LookupRecords[0]: missing Rule',
    ])
  })

  it('gives JSON files line numbers too', async () => {
    const text = JSON.stringify({Version: 1, VMNetworks: [{Name: 'Blue'}, {Name: 'Red', AddressFamily: 4}]}, null, 2)
    expect(await problems(text, 'tenant.json')).toEqual(['tenant.json:9: VMNetworks[1].AddressFamily: "4" is not allowed; use one of IPv4, IPv6, DualStack'])
  })

  it('keeps what YAML would read as a number as the text it is: MACs, VSIDs given as text', async () => {
    const file = await parseTenantFile('VMs:\n  - {Name: 7, VMSubnet: A, VMHost: h, MACAddress: 060600000005}\n  - {Name: b, VMSubnet: A, VMHost: h, MACAddress: 101010101105}\nVMSubnets:\n  - {Name: A, VMNetwork: N, Prefix: 10.0.0.0/24, VirtualSubnetID: "5001"}\n', 't.yaml')
    expect(file.sections.get('VMs')!.map((o) => [o.input.Name, o.input.MACAddress])).toEqual([['7', '060600000005'], ['b', '101010101105']])
    expect(file.sections.get('VMSubnets')![0].input.VirtualSubnetID).toBe(5001)
  })

  it('says where the file stops being YAML', async () => {
    expect(await problems('Hosts:\n  - Name: a\n   ProviderAddresses: x\n')).toEqual([expect.stringMatching(/^tenant\.yaml:3: not valid YAML or JSON: /)])
    expect(await problems('Hosts: []\nHosts: []\n')).toEqual([expect.stringMatching(/^tenant\.yaml:2: not valid YAML or JSON: Map keys must be unique/)])
  })
})
