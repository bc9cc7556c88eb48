import {describe, expect, it} from 'vitest'
import {AddressError, parseIp, parsePrefix, prefixContains} from '../../../src/lib/net/ip.js'
import {parseMac} from '../../../src/lib/net/mac.js'
import {parseGuid} from '../../../src/lib/net/guid.js'

describe('parseIp', () => {
  it.each([
    ['10.0.0.5', 4, '10.0.0.5'],
    ['0.0.0.0', 4, '0.0.0.0'],
    ['FE80:0:0::1', 6, 'fe80::1'],
    ['2001:db8:0:0:0:0:0:1', 6, '2001:db8::1'],
    ['::', 6, '::'],
  ])('accepts %s', (text, family, canonical) => {
    expect(parseIp(text)).toMatchObject({family, text: canonical})
  })

  it.each(['10.1', '10.0.0.256', '010.0.0.1', '10.0.0', '1.2.3.4.5', 'fe80::1%eth0', 'host', '', '2001:db8::g'])('rejects %s', (text) => {
    expect(() => parseIp(text)).toThrow(AddressError)
  })
})

describe('parsePrefix', () => {
  it('canonicalises', () => {
    expect(parsePrefix('10.0.0.0/24').text).toBe('10.0.0.0/24')
    expect(parsePrefix('2001:DB8::/32').text).toBe('2001:db8::/32')
    expect(parsePrefix('0.0.0.0/0').text).toBe('0.0.0.0/0')
  })

  it('names the network meant when host bits are set', () => {
    expect(() => parsePrefix('10.0.0.5/24')).toThrow('did you mean 10.0.0.0/24?')
    expect(() => parsePrefix('2001:db8::1/64')).toThrow('did you mean 2001:db8::/64?')
  })

  it.each(['10.0.0.0', '10.0.0.0/33', '10.0.0.0/x', '::/129', '10.1/8'])('rejects %s', (text) => {
    expect(() => parsePrefix(text)).toThrow(AddressError)
  })

  it('tests containment', () => {
    expect(prefixContains(parsePrefix('10.0.0.0/24'), parseIp('10.0.0.9'))).toBe(true)
    expect(prefixContains(parsePrefix('10.0.0.0/24'), parseIp('10.0.1.9'))).toBe(false)
    expect(prefixContains(parsePrefix('10.0.0.0/24'), parseIp('::1'))).toBe(false)
  })
})

describe('parseMac and parseGuid', () => {
  it.each(['101010101105', '10-10-10-10-11-05', '10:10:10:10:11:05', 'aabbccddeeff'])('accepts MAC %s', (text) => {
    expect(parseMac(text)).toMatch(/^[0-9A-F]{12}$/)
  })
  it.each(['10101010110', '10-10-10:10-11-05', 'gg1010101105', '10.10.10.10.11.05'])('rejects MAC %s', (text) => {
    expect(() => parseMac(text)).toThrow('is not a MAC address')
  })
  it('accepts GUIDs with or without braces', () => {
    expect(parseGuid('11111111-2222-3333-4444-000000005001')).toBe('{11111111-2222-3333-4444-000000005001}')
    expect(parseGuid('{AAAAAAAA-2222-3333-4444-000000005001}')).toBe('{aaaaaaaa-2222-3333-4444-000000005001}')
    expect(() => parseGuid('{11111111-2222-3333-4444-000000005001')).toThrow('is not a GUID')
    expect(() => parseGuid('1111111-2222-3333-4444-000000005001')).toThrow('is not a GUID')
  })
})
