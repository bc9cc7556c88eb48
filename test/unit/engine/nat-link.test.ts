// Where the runtime opens TranslationMethodNat's physical link: the NAT PAs of the store (records of this
// host's PAs with Rule TranslationMethodNat) and the interface on their subnet; the errors name the PA and
// the fix.
import {describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {natInterface, natProviderAddresses} from '../../../src/lib/engine/runtime/nat-link.js'
import type {LocalAddress} from '../../../src/lib/engine/runtime/host.js'
import {parseIp} from '../../../src/lib/net/ip.js'
import {record, route} from './support.js'

function local(address: string, interfaceName: string, prefixLength: number): LocalAddress {
  const parsed = parseIp(address)
  return {address: parsed.text, family: parsed.family, bytes: Uint8Array.from(parsed.bytes), interfaceName, interfaceIndex: interfaceName === 'eth0' ? 2 : 3, mtu: 1500, prefixLength}
}

const HOST = [local('127.0.0.1', 'lo', 8), local('203.0.113.1', 'eth1', 24), local('198.51.100.11', 'eth0', 24), local('2001:db8::11', 'eth0', 64)]

describe('TranslationMethodNat on a host: the NAT PAs and their interface', () => {
  it('the NAT PAs are the local PAs that NAT records hold (not the NVGRE PA, not another host\'s)', () => {
    const rdid = '{11111111-2222-3333-4444-000000008005}'
    const pa = (address: string) => ({ProviderAddress: address, InterfaceIndex: 2, PrefixLength: 24, VlanID: 0, AddressState: 'Preferred', MACAddress: null, ManagedByCluster: false})
    const table = compile(
      {
        Version: 1,
        Global: {UseExternalRouter: false},
        LookupRecords: [
          {...record('10.8.0.5', 8001, '0C0C00000005', '198.51.100.105', 'NatA'), Rule: 'TranslationMethodNat'},
          {...record('10.8.0.7', 8001, '0C0C00000007', '198.51.100.107', 'NatB'), Rule: 'TranslationMethodNat'},
          record('10.8.0.9', 8001, '0C0C00000009', '198.51.100.11', 'Enc'),
        ],
        CustomerRoutes: [route(rdid, 8001, '10.8.0.0/24', '0.0.0.0')],
        ProviderAddresses: [pa('198.51.100.11'), pa('198.51.100.105')],
        ProviderRoutes: [],
        VMNetworkAdapters: [],
      },
      1,
    )
    expect([...natProviderAddresses(table)]).toEqual(['198.51.100.105'])
  })

  it.each([
    ['198.51.100.105', 24, 'eth0'],
    ['2001:db8::105', 64, 'eth0'],
    ['203.0.113.77', 24, 'eth1'],
  ])('%s/%d is reached on %s, the interface with an address of its subnet', (address, prefixLength, name) => {
    expect(natInterface({ProviderAddress: address, PrefixLength: prefixLength}, HOST).interfaceName).toBe(name)
  })

  it('no interface on the subnet: the error names the PA and what to add', () => {
    expect(() => natInterface({ProviderAddress: '192.168.77.5', PrefixLength: 24}, HOST)).toThrow(
      'no interface of this host is on the subnet of TranslationMethodNat provider address 192.168.77.5/24: give the physical interface an address of that subnet (the NAT PA itself stays unassigned)',
    )
  })

  it('a NAT PA assigned to the host\'s stack: the error says to remove it', () => {
    expect(() => natInterface({ProviderAddress: '198.51.100.11', PrefixLength: 24}, HOST)).toThrow(
      'TranslationMethodNat provider address 198.51.100.11 is assigned to this host\'s stack: the engine answers for it itself, so remove it (ip addr del 198.51.100.11/24 dev <interface>)',
    )
  })
})
