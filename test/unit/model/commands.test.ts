// The model's commands in both spellings (hnv vm-network new / New-SCVMNetwork), over a store file, with
// --json output checked against schema/<Kind>.json, --host remembered in the store, and one-line errors.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv} from 'ajv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {modelSchemas} from '../../../src/lib/model/schema.js'
import {ModelService} from '../../../src/lib/model/service.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {ROOT, hnv, tempDir} from '../../support/cli.js'

const dir = tempDir()
const store = join(dir.path, 'policy.db')
afterAll(() => dir.remove())

const json = async (...args: string[]) => {
  const run = await hnv(store, ...args, '--json')
  // In-process runs add listeners to process: Node's warning about it is not ours.
  expect(run.stderr.split('\n').filter((line) => line.startsWith('hnv:'))).toEqual([])
  expect(run.code).toBe(0)
  return JSON.parse(run.stdout)
}

beforeAll(async () => {
  // Cmdlet spelling, with PowerShell's -Name:value, abbreviations and positional Name.
  expect((await hnv(store, 'Add-SCVMHost', '-Name', 'host1', '-ProviderAddresses', '198.51.100.11/24', '-Host', 'host1')).code).toBe(0)
  expect((await hnv(store, 'host', 'new', '--name', 'host2', '--provider-addresses', '198.51.100.22')).code).toBe(0)
  expect((await hnv(store, 'New-SCVMNetwork', 'Blue', '-RoutingDomainID:{11111111-2222-3333-4444-000000005001}')).code).toBe(0)
  expect((await hnv(store, 'vm-network', 'new', '--name', 'Red')).code).toBe(0)
  expect((await hnv(store, 'new-scvmsubnet', '-Name', 'Blue-Subnet', '-VMNetwork', 'Blue', '-Prefix', '10.0.0.0/24', '-VirtualSubnetID', '5001')).code).toBe(0)
  expect((await hnv(store, 'vm-subnet', 'new', '--name', 'Red-Subnet', '--vm-network', 'Red', '--prefix', '10.0.0.0/24')).code).toBe(0)
  expect((await hnv(store, 'New-SCStaticIPAddressPool', '-Name', 'Blue-Pool', '-VMSubnet', 'Blue-Subnet', '-IPAddressRangeStart', '10.0.0.5', '-IPAddressRangeEnd', '10.0.0.50')).code).toBe(0)
  expect((await hnv(store, 'New-SCMACAddressPool', '-Name', 'Lab', '-MACAddressRangeStart', '02-00-00-00-01-00', '-MACAddressRangeEnd', '02-00-00-00-01-FF')).code).toBe(0)
})

describe('model commands', () => {
  it('create in both spellings and print the allocated values', async () => {
    const blue1 = await json('New-SCVirtualMachine', '-Name', 'Blue1', '-VMSubnet', 'Blue-Subnet', '-VMHost', 'host1')
    expect(blue1).toEqual({Name: 'Blue1', VMSubnet: 'Blue-Subnet', VMHost: 'host1', IPv4Address: '10.0.0.5', IPv6Address: null, MACAddress: '020000000100', Description: null})
    const red1 = await json('vm', 'new', '--name', 'Red1', '--vm-subnet', 'red-subnet', '--vm-host', 'host1', '--ipv4-address', '10.0.0.5')
    expect(red1).toMatchObject({VMSubnet: 'Red-Subnet', IPv4Address: '10.0.0.5', MACAddress: '020000000101'})
    expect(await json('vm-subnet', 'get', '--name', 'Red-Subnet')).toEqual([{Name: 'Red-Subnet', VMNetwork: 'Red', Prefix: '10.0.0.0/24', VirtualSubnetID: 4096, Description: null}])
  })

  it('derive the local host\'s policy, remembered from --host', async () => {
    const adapters = await json('vm-network-adapter', 'get')
    expect(adapters.map((a: {VMName: string; InterfaceName: string}) => [a.VMName, a.InterfaceName])).toEqual([['Blue1', 'hnv-blue1'], ['Red1', 'hnv-red1']])
    expect((await json('Get-NetVirtualizationProviderAddress')).map((p: {ProviderAddress: string}) => p.ProviderAddress)).toEqual(['198.51.100.11'])
    const opened = PolicyStore.open(store)
    expect(new ModelService(opened).localHost()).toBe('host1')
    opened.close()
  })

  it('print --json that the published schemas describe', async () => {
    const ajv = new Ajv({allErrors: true, strict: true})
    const schemas = modelSchemas()
    for (const [file, args] of [
      ['Host.json', ['host', 'get']],
      ['VMNetwork.json', ['Get-SCVMNetwork']],
      ['VMSubnet.json', ['vm-subnet', 'get']],
      ['StaticIPAddressPool.json', ['Get-SCStaticIPAddressPool']],
      ['MACAddressPool.json', ['mac-pool', 'get']],
      ['VM.json', ['Get-SCVirtualMachine']],
    ] as const) {
      expect(JSON.parse(readFileSync(join(ROOT, 'schema', file), 'utf8'))).toEqual(schemas[file])
      const validate = ajv.compile({...schemas[file], $id: undefined})
      const objects = await json(...args)
      expect(objects.length).toBeGreaterThan(0)
      for (const object of objects) expect(validate(object), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true)
    }
  })

  it('filter with wildcards and set, in both spellings', async () => {
    expect((await json('Get-SCVirtualMachine', '-Name', 'B*')).map((v: {Name: string}) => v.Name)).toEqual(['Blue1'])
    expect((await hnv(store, 'Set-SCVirtualMachine', '-Name', 'Blue1', '-Description', 'web')).code).toBe(0)
    // Blue2 keeps Blue on host1 (a host gets the records of the VM networks it runs a VM of).
    expect((await hnv(store, 'vm', 'new', '--name', 'Blue2', '--vm-subnet', 'Blue-Subnet', '--vm-host', 'host1')).code).toBe(0)
    expect(await json('vm', 'set', '--name', 'Blue1', '--vm-host', 'host2', '--pass-thru')).toMatchObject([{Name: 'Blue1', VMHost: 'host2', Description: 'web'}])
    expect((await json('lookup-record', 'get', '--vm-name', 'Blue1'))[0].ProviderAddress).toBe('198.51.100.22')
  })

  it('-WhatIf shows the change and writes nothing', async () => {
    const run = await hnv(store, 'Remove-SCVirtualMachine', '-Name', 'Red1', '-WhatIf')
    expect(run.stdout).toContain('What if: Performing the operation "Remove-SCVirtualMachine" on target "VM Red1 (10.0.0.5, 020000000101, on host1)".')
    expect(await json('vm', 'get', '--name', 'Red1')).toHaveLength(1)
  })

  it('errors are one line naming the value, in the spelling used, exit 1, nothing written', async () => {
    const topic = await hnv(store, 'vm', 'new', '--name', 'X', '--vm-subnet', 'Blue-Subnet', '--vm-host', 'host1', '--ipv4-address', '10.0.0.1')
    expect(topic).toMatchObject({code: 1, stdout: ''})
    expect(topic.stderr).toBe("hnv: --ipv4-address 10.0.0.1 is the gateway (.1) of VMSubnet 'Blue-Subnet' (10.0.0.0/24); no VM may use it\n")
    const cmdlet = await hnv(store, 'New-SCVirtualMachine', '-Name', 'X', '-VMSubnet', 'Blue-Subnet', '-VMHost', 'host1', '-IPv4Address', '10.0.0.1')
    expect(cmdlet.stderr).toBe("hnv: -IPv4Address 10.0.0.1 is the gateway (.1) of VMSubnet 'Blue-Subnet' (10.0.0.0/24); no VM may use it\n")
    const missing = await hnv(store, 'vm-subnet', 'new', '--name', 'X')
    expect(missing.code).toBe(2)
    expect((await json('vm', 'get')).map((v: {Name: string}) => v.Name)).not.toContain('X')
  })

  it('take the local host from HNV_HOST too, and Get ignores it', async () => {
    process.env.HNV_HOST = 'host2'
    try {
      expect((await json('vm', 'get')).length).toBeGreaterThan(0)
      const opened = PolicyStore.open(store)
      expect(new ModelService(opened).localHost()).toBe('host1')
      opened.close()
      expect((await hnv(store, 'New-SCVMNetwork', '-Name', 'Env')).code).toBe(0)
      expect((await json('Get-NetVirtualizationProviderAddress')).map((p: {ProviderAddress: string}) => p.ProviderAddress)).toEqual(['198.51.100.22'])
      expect((await json('vm-network', 'remove', '--name', 'Env', '--host', 'host1', '--pass-thru')).map((n: {Name: string}) => n.Name)).toEqual(['Env'])
    } finally {
      delete process.env.HNV_HOST
    }
    expect((await json('Get-NetVirtualizationProviderAddress')).map((p: {ProviderAddress: string}) => p.ProviderAddress)).toEqual(['198.51.100.11'])
  })

  it('remove exactly what was derived from a VM', async () => {
    const before = await json('lookup-record', 'get')
    expect((await hnv(store, 'Remove-SCVirtualMachine', '-Name', 'Red1')).code).toBe(0)
    const after = await json('lookup-record', 'get')
    expect(after).toEqual(before.filter((r: {VMName: string | null; VirtualSubnetID: number}) => r.VirtualSubnetID !== 4096))
  })
})
