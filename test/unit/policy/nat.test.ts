// TranslationMethodNat records (reference/hnv.md §2): the CA is rewritten to the record's PA, so that PA
// belongs to its CA alone: not to a second NAT record, not to an encapsulating record (a host's PA).
import {describe, expect, it} from 'vitest'
import {PolicyError} from '../../../src/lib/cli/errors.js'
import {lookupRecord} from '../../../src/lib/policy/kinds.js'
import {demoService} from '../../support/policy.js'

const NAT = {VirtualSubnetID: 5001, MACAddress: '060600000031', Rule: 'TranslationMethodNat'}

describe('TranslationMethodNat records', () => {
  it('refuse a PA an encapsulating record uses, naming that record', () => {
    const service = demoService()
    const encap = service.get(lookupRecord, {CustomerAddress: ['10.0.0.5'], VirtualSubnetID: ['5001']}).objects[0]
    const create = () => service.create(lookupRecord, {...NAT, CustomerAddress: '10.0.0.31', ProviderAddress: String(encap.ProviderAddress)})
    expect(create).toThrow(PolicyError)
    expect(create).toThrow(`ProviderAddress ${encap.ProviderAddress} of a TranslationMethodNat record is already used by the TranslationMethodEncap record of CustomerAddress 10.0.0.5`)
    expect(service.get(lookupRecord, {CustomerAddress: ['10.0.0.31']}).objects).toEqual([])
  })

  it("refuse an encapsulating record on a NAT record's PA, and a second NAT record on it", () => {
    const service = demoService()
    service.create(lookupRecord, {...NAT, CustomerAddress: '10.0.0.31', ProviderAddress: '198.51.100.31', UseVmMACAddress: '$true'})
    expect(() => service.create(lookupRecord, {CustomerAddress: '10.0.0.32', VirtualSubnetID: 5001, MACAddress: '060600000032', Rule: 'TranslationMethodEncap', ProviderAddress: '198.51.100.31'}))
      .toThrow('is already used by the TranslationMethodNat record of CustomerAddress 10.0.0.31 (VirtualSubnetID 5001)')
    expect(() => service.create(lookupRecord, {...NAT, CustomerAddress: '10.0.0.33', ProviderAddress: '198.51.100.31'})).toThrow('one ProviderAddress per CA')
  })

  it('refuse turning an encapsulating record into NAT while its PA carries other records', () => {
    const service = demoService()
    expect(() => service.set(lookupRecord, {filters: {CustomerAddress: ['10.0.0.5'], VirtualSubnetID: ['5001']}}, {Rule: 'TranslationMethodNat'})).toThrow(PolicyError)
  })

  it('keep UseVmMACAddress to NAT records', () => {
    expect(() => demoService().create(lookupRecord, {CustomerAddress: '10.0.0.34', VirtualSubnetID: 5001, MACAddress: '060600000034', Rule: 'TranslationMethodEncap', ProviderAddress: '198.51.100.34', UseVmMACAddress: '$true'}))
      .toThrow('-UseVmMACAddress $true is only valid with -Rule TranslationMethodNat')
  })
})
