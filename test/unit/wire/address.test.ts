import {describe, expect, it} from 'vitest'
import {
  copyIpv6,
  ipv4FromString,
  ipv4ToString,
  ipv6Equal,
  ipv6FromString,
  ipv6ToString,
  macHi,
  macLo,
  macToString,
  setMac,
  WireErrorCode,
  writeIpv6,
  writeMac,
} from '../../../src/lib/wire/index.js'
import {expectWireError} from './support.js'

describe('address text', () => {
  it('MACs: colons, dashes or bare digits in; lower-case colons out; hi16/lo32 words', () => {
    const b = Buffer.alloc(8)
    for (const text of ['06:06:00:00:00:0A', '06-06-00-00-00-0a', '06060000000a']) {
      writeMac(text, b, 1)
      expect(macToString(b, 1)).toBe('06:06:00:00:00:0a')
    }
    expect([macHi(b, 1), macLo(b, 1)]).toEqual([0x0606, 0x0000000a])
    setMac(b, 1, 0xffff, 0xffffffff)
    expect(macToString(b, 1)).toBe('ff:ff:ff:ff:ff:ff')
    expectWireError(() => writeMac('06:06:00:00:00', b, 0), WireErrorCode.BAD_ADDRESS, /MAC address '06:06:00:00:00'/)
  })

  it('IPv4 as uint32', () => {
    expect(ipv4FromString('198.51.100.255')).toBe(0xc63364ff)
    expect(ipv4ToString(0xc63364ff)).toBe('198.51.100.255')
    expect(ipv4ToString(0)).toBe('0.0.0.0')
    for (const bad of ['256.0.0.1', '1.2.3', '1.2.3.4.5', 'a.b.c.d', '']) expectWireError(() => ipv4FromString(bad), WireErrorCode.BAD_ADDRESS)
  })

  // What Python's socket.inet_ntop (glibc) prints, which is what scapy's JSON holds.
  it.each([
    ['2001:db8::1', '2001:db8::1'],
    ['2001:0DB8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['::ffff:198.51.100.1', '::ffff:198.51.100.1'],
    ['ff02::1:ff00:7', 'ff02::1:ff00:7'],
  ])('IPv6 %s reads back as %s (RFC 5952)', (text, canonical) => {
    const b = ipv6FromString(text)
    expect(ipv6ToString(b, 0)).toBe(canonical)
  })

  it('rejects malformed IPv6 text', () => {
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', ':::', '1:2:3:4:5:6:7::8']) {
      expectWireError(() => ipv6FromString(bad), WireErrorCode.BAD_ADDRESS, /IPv6 address/)
    }
  })

  it('compares and copies IPv6 addresses in place', () => {
    const a = Buffer.alloc(40)
    writeIpv6('2001:db8::5', a, 3)
    const b = Buffer.alloc(20)
    copyIpv6(a, 3, b, 4)
    expect(ipv6Equal(a, 3, b, 4)).toBe(true)
    b[19] ^= 1
    expect(ipv6Equal(a, 3, b, 4)).toBe(false)
  })
})
