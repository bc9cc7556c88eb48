import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {
  ChecksumMode,
  checksumUpdate16,
  checksumUpdate32,
  checksumValid,
  fillChecksum,
  fold,
  internetChecksum,
  ipv4FromString,
  ipv4PseudoSum,
  ipv6FromString,
  ipv6PseudoSum,
  sum16,
} from '../../../src/lib/wire/index.js'
import {hex} from './support.js'

describe('Internet checksum (RFC 1071)', () => {
  it('sums the RFC 1071 §3 example to 0xddf2', () => {
    const b = hex('0001 f203 f4f5 f6f7')
    expect(fold(sum16(b, 0, b.length))).toBe(0xddf2)
    expect(internetChecksum(b, 0, b.length)).toBe(0x220d)
  })

  it('pads an odd trailing byte with zero on the right', () => {
    expect(fold(sum16(hex('0102 03'), 0, 3))).toBe(0x0402)
  })

  it('folds carries of large sums', () => {
    expect(fold(0xffff * 70000)).toBe(0xffff)
    expect(fold(0x1fffe)).toBe(0xffff)
    expect(fold(0x10000)).toBe(1)
  })

  it('validates a buffer including its checksum', () => {
    const b = hex('4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7')
    fillChecksum(b, 0, 20, 10, 0, ChecksumMode.COMPUTE)
    expect(b.readUInt16BE(10)).toBe(0xb861)
    expect(checksumValid(b, 0, 20)).toBe(true)
  })

  it('the pseudo-header sums equal summing the pseudo-header bytes (RFC 768, RFC 8200 §8.1)', () => {
    const v4 = hex('c6336401 cb007109 0011')
    expect(fold(ipv4PseudoSum(ipv4FromString('198.51.100.1'), ipv4FromString('203.0.113.9'), 17))).toBe(fold(sum16(v4, 0, v4.length)))
    const src = ipv6FromString('2001:db8::1')
    const dst = ipv6FromString('fe80::abcd:1')
    const v6 = Buffer.concat([src, dst, hex('0000003a')])
    const addrs = Buffer.concat([Buffer.alloc(3), dst, Buffer.alloc(5), src])
    expect(fold(ipv6PseudoSum(addrs, 24, 3, 58))).toBe(fold(sum16(v6, 0, v6.length)))
  })

  it('fills in PARTIAL mode with the folded, uncomplemented pseudo-header sum', () => {
    const b = Buffer.alloc(8, 0x11)
    expect(fillChecksum(b, 0, 8, 6, 0x12345, ChecksumMode.PARTIAL)).toBe(fold(0x12345))
    expect(b.readUInt16BE(6)).toBe(0x2345 + 1)
    expect(fillChecksum(b, 0, 8, 6, 0x12345, ChecksumMode.ZERO)).toBe(0)
    expect(b.readUInt16BE(6)).toBe(0)
  })
})

describe('incremental update (RFC 1624)', () => {
  it('gives 0x0000 on the RFC 1624 §4 example, where RFC 1141 gives 0xFFFF', () => {
    // Sum of the other words 0xCD7A; m changes from 0x5555 to 0x3285; HC = 0xDD2F.
    expect(checksumUpdate16(0xdd2f, 0x5555, 0x3285)).toBe(0x0000)
  })

  it('matches a full recomputation for any 16-bit or 32-bit change (not all-zero data)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({minLength: 8, maxLength: 64}).filter((a) => a.some((x) => x !== 0)),
        fc.nat(),
        fc.integer({min: 0, max: 0xffffffff}),
        (bytes, at, value) => {
          const b = Buffer.concat([Buffer.from(bytes), Buffer.alloc(bytes.length % 2)])
          const w = (at % ((b.length - 4) >>> 1)) * 2
          const before = internetChecksum(b, 0, b.length)
          const old16 = b.readUInt16BE(w)
          b.writeUInt16BE(value & 0xffff, w)
          if (b.some((x) => x !== 0)) expect(checksumUpdate16(before, old16, value & 0xffff)).toBe(internetChecksum(b, 0, b.length))
          const mid = internetChecksum(b, 0, b.length)
          const old32 = b.readUInt32BE(w)
          b.writeUInt32BE(value, w)
          if (b.some((x) => x !== 0)) expect(checksumUpdate32(mid, old32, value)).toBe(internetChecksum(b, 0, b.length))
        },
      ),
    )
  })
})
