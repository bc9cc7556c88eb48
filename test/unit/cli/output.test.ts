import {afterAll, describe, expect, it} from 'vitest'
import {hnv} from '../../support/cli.js'
import {demoStore} from '../../support/policy.js'

const demo = demoStore()
const store = demo.store
afterAll(() => demo.remove())

describe('output', () => {
  it('is a table for the topic form', async () => {
    const run = await hnv(store, 'customer-route', 'get')
    expect(run.stdout).toBe([
      'RoutingDomainID                        VirtualSubnetID DestinationPrefix NextHop Metric',
      '---------------                        --------------- ----------------- ------- ------',
      '{11111111-2222-3333-4444-000000005001} 5001            10.0.0.0/24       0.0.0.0 255',
      '{11111111-2222-3333-4444-000000006001} 6001            10.0.0.0/24       0.0.0.0 255',
      '',
    ].join('\n'))
  })

  it('is PowerShell\'s list view for the cmdlet form', async () => {
    const run = await hnv(store, 'get-netvirtualizationcustomerroute', '-VirtualSubnetID', '6001')
    expect(run.stdout).toBe('\nRoutingDomainID   : {11111111-2222-3333-4444-000000006001}\nVirtualSubnetID   : 6001\nDestinationPrefix : 10.0.0.0/24\nNextHop           : 0.0.0.0\nMetric            : 255\n\n')
  })

  it('is CSV on request, with a header even when empty', async () => {
    expect((await hnv(store, 'provider-route', 'get', '-o', 'csv')).stdout).toBe('InterfaceIndex,DestinationPrefix,NextHop,Metric\n')
    const run = await hnv(store, 'Get-NetVirtualizationLookupRecord', '-VMName', 'Red2', '-Output', 'csv')
    expect(run.stdout).toBe('CustomerAddress,VirtualSubnetID,MACAddress,ProviderAddress,CustomerID,Context,Rule,VMName,UseVmMACAddress,Type\n10.0.0.7,6001,080800000007,198.51.100.22,,,TranslationMethodEncap,Red2,False,Static\n')
  })

  it('prints nothing for Set and Remove unless -PassThru', async () => {
    expect((await hnv(store, 'Set-NetVirtualizationProviderAddress', '-VlanID', '7')).stdout).toBe('')
    const run = await hnv(store, 'Set-NetVirtualizationProviderAddress', '-VlanID', '0', '-PassThru', '--json')
    expect(JSON.parse(run.stdout)[0]).toMatchObject({ProviderAddress: '198.51.100.11', VlanID: 0, AddressState: 'Preferred'})
  })

  it('-WhatIf prints what would happen and changes nothing', async () => {
    const run = await hnv(store, 'Remove-NetVirtualizationLookupRecord', '-VirtualSubnetID', '6001', '-WhatIf')
    expect(run.stdout).toBe([
      'What if: Performing the operation "Remove-NetVirtualizationLookupRecord" on target "CustomerAddress 10.0.0.5, VirtualSubnetID 6001, MACAddress 080800000005, ProviderAddress 198.51.100.11".',
      'What if: Performing the operation "Remove-NetVirtualizationLookupRecord" on target "CustomerAddress 10.0.0.7, VirtualSubnetID 6001, MACAddress 080800000007, ProviderAddress 198.51.100.22".',
      '',
    ].join('\n'))
    expect(JSON.parse((await hnv(store, 'lookup-record', 'get', '--json')).stdout)).toHaveLength(4)
  })

  it('Global settings: get, set with $false/$true', async () => {
    expect(JSON.parse((await hnv(store, 'Get-NetVirtualizationGlobal', '--json')).stdout)).toEqual({UseExternalRouter: false})
    expect((await hnv(store, 'Set-NetVirtualizationGlobal', '-UseExternalRouter', '$true', '-PassThru')).stdout).toBe('\nUseExternalRouter : True\n\n')
    expect((await hnv(store, 'global', 'set', '--use-external-router', 'false', '--pass-thru', '--json')).stdout).toBe('{\n  "UseExternalRouter": false\n}\n')
  })

  it('VM network adapters take the VM name positionally, as Hyper-V does', async () => {
    const added = await hnv(store, 'Add-VMNetworkAdapter', 'Blue1', '-StaticMacAddress', '06-06-00-00-00-05', '--json')
    expect(JSON.parse(added.stdout)).toEqual({VMName: 'Blue1', Name: 'Network Adapter', MacAddress: '060600000005', VirtualSubnetId: 0, SwitchName: null, InterfaceName: 'hnv-blue1', Dhcp: false, MssClamp: false})
    await hnv(store, 'Set-VMNetworkAdapter', 'Blue1', '-VirtualSubnetId', '5001')
    expect(JSON.parse((await hnv(store, 'vm-network-adapter', 'get', '--vm-name', 'blue1', '--json')).stdout)[0].VirtualSubnetId).toBe(5001)
    // -Dhcp is a switch in both spellings, with a way back.
    const dhcp = async () => JSON.parse((await hnv(store, 'vm-network-adapter', 'get', '--vm-name', 'blue1', '--json')).stdout)[0].Dhcp
    await hnv(store, 'Set-VMNetworkAdapter', 'Blue1', '-Dhcp')
    expect(await dhcp()).toBe(true)
    await hnv(store, 'Set-VMNetworkAdapter', 'Blue1', '-Dhcp:$false')
    expect(await dhcp()).toBe(false)
    await hnv(store, 'vm-network-adapter', 'set', '--vm-name', 'Blue1', '--dhcp')
    expect(await dhcp()).toBe(true)
    await hnv(store, 'vm-network-adapter', 'set', '--vm-name', 'Blue1', '--no-dhcp')
    expect(await dhcp()).toBe(false)
    expect(JSON.parse((await hnv(store, 'vm-network-adapter', 'get', '--dhcp', 'false', '--json')).stdout)).toHaveLength(1)
    expect((await hnv(store, 'Remove-VMNetworkAdapter', 'Blue1')).code).toBe(0)
  })
})
