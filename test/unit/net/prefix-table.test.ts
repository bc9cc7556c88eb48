// The LPM tables against a slow, obvious oracle (wireguard-go's allowedips_rand_test.go and SlowRouter):
// a linear scan over the prefixes, longest first, the earliest entry among equal prefixes.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {
  buildPrefixTables,
  Ipv4PrefixTable,
  Ipv6PrefixTable,
  NO_MATCH,
  type Ipv4PrefixEntry,
  type Ipv6PrefixEntry,
} from '../../../src/lib/net/prefix-table.js'

function mask4(length: number): number {
  return length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0
}

function slow4(entries: Ipv4PrefixEntry[], address: number): number {
  let best = NO_MATCH
  let bestLength = -1
  for (const e of entries) {
    const m = mask4(e.length)
    if (((address & m) >>> 0) === ((e.address & m) >>> 0) && e.length > bestLength) {
      best = e.value
      bestLength = e.length
    }
  }
  return best
}

function big(bytes: ArrayLike<number>): bigint {
  let v = 0n
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(bytes[i])
  return v
}

function slow6(entries: Ipv6PrefixEntry[], address: Uint8Array): number {
  const a = big(address)
  let best = NO_MATCH
  let bestLength = -1
  for (const e of entries) {
    const shift = BigInt(128 - e.length)
    if (a >> shift === big(e.address) >> shift && e.length > bestLength) {
      best = e.value
      bestLength = e.length
    }
  }
  return best
}

/** Addresses worth probing: each prefix's first and last address and their neighbours, plus randoms. */
function probes4(entries: Ipv4PrefixEntry[], extra: number[]): number[] {
  const out = [0, 0xffffffff, ...extra]
  for (const e of entries) {
    const start = (e.address & mask4(e.length)) >>> 0
    const end = (start + 2 ** (32 - e.length) - 1) >>> 0
    out.push(start, end, (start - 1) >>> 0, (end + 1) >>> 0)
  }
  return out
}

const entry4 = fc.record({
  // A few /8s so that random prefixes nest often.
  address: fc.tuple(fc.constantFrom(10, 172, 192), fc.nat(0xffffff)).map(([a, b]) => ((a << 24) | b) >>> 0),
  length: fc.integer({min: 0, max: 32}),
  value: fc.nat(1000),
})

const bytes16 = (hi: number[]) =>
  fc.uint8Array({minLength: 16 - hi.length, maxLength: 16 - hi.length}).map((rest) => Uint8Array.from([...hi, ...rest]))

const entry6 = fc.record({
  address: fc.oneof(bytes16([0x20, 0x01, 0x0d, 0xb8]), bytes16([0xfd, 0x00]), bytes16([])),
  length: fc.integer({min: 0, max: 128}),
  value: fc.nat(1000),
})

describe('Ipv4PrefixTable', () => {
  it('matches the linear scan on random prefixes', () => {
    fc.assert(
      fc.property(fc.array(entry4, {maxLength: 40}), fc.array(fc.nat(0xffffffff), {maxLength: 20}), (entries, extra) => {
        const table = Ipv4PrefixTable.build(entries)
        expect(table.ranges).toBeLessThanOrEqual(2 * entries.length + 1)
        for (const a of probes4(entries, extra)) expect(table.lookup(a)).toBe(slow4(entries, a))
      }),
      {numRuns: 400},
    )
  })

  it('prefers the longest prefix, then the first of equal ones', () => {
    const t = buildPrefixTables([
      {prefix: '0.0.0.0/0', value: 0},
      {prefix: '10.0.0.0/8', value: 1},
      {prefix: '10.0.0.0/24', value: 2},
      {prefix: '10.0.0.0/24', value: 9},
      {prefix: '10.0.0.128/25', value: 3},
      {prefix: '10.0.0.7/32', value: 4},
    ]).v4
    const at = (text: string) => t.lookup(text.split('.').reduce((a, o) => a * 256 + Number(o), 0))
    expect([at('11.0.0.1'), at('10.1.0.0'), at('10.0.0.1'), at('10.0.0.200'), at('10.0.0.7'), at('10.0.0.8')]).toEqual([0, 1, 2, 3, 4, 2])
    expect(t.size).toBe(5)
  })

  it('misses outside every prefix and when empty', () => {
    expect(Ipv4PrefixTable.build([]).lookup(0x0a000001)).toBe(NO_MATCH)
    const t = Ipv4PrefixTable.build([{address: 0x0a000000, length: 24, value: 5}])
    expect([t.lookup(0x09ffffff), t.lookup(0x0a000000), t.lookup(0x0a0000ff), t.lookup(0x0a000100)]).toEqual([NO_MATCH, 5, 5, NO_MATCH])
    expect(Ipv4PrefixTable.build([{address: 0xffffffff, length: 32, value: 1}]).lookup(0xffffffff)).toBe(1)
  })

  it('rejects bad lengths and values', () => {
    expect(() => Ipv4PrefixTable.build([{address: 0, length: 33, value: 0}])).toThrow(RangeError)
    expect(() => Ipv4PrefixTable.build([{address: 0, length: 8, value: -1}])).toThrow(RangeError)
  })
})

describe('Ipv6PrefixTable', () => {
  it('matches the linear scan on random prefixes', () => {
    fc.assert(
      fc.property(fc.array(entry6, {maxLength: 30}), fc.array(bytes16([0x20, 0x01, 0x0d, 0xb8]), {maxLength: 10}), (entries, extra) => {
        const table = Ipv6PrefixTable.build(entries)
        const probes: Uint8Array[] = [new Uint8Array(16), new Uint8Array(16).fill(255), ...extra]
        for (const e of entries) {
          const shift = BigInt(128 - e.length)
          const start = (big(e.address) >> shift) << shift
          const end = start + (1n << shift) - 1n
          for (const v of [start, end, start - 1n, end + 1n]) {
            if (v < 0n || v >= 1n << 128n) continue
            const b = new Uint8Array(16)
            for (let i = 0; i < 16; i++) b[i] = Number((v >> BigInt(8 * (15 - i))) & 255n)
            probes.push(b)
          }
        }
        for (const p of probes) {
          expect(table.lookupBytes(p, 0)).toBe(slow6(entries, p))
          const w = (i: number) => ((p[i] << 24) | (p[i + 1] << 16) | (p[i + 2] << 8) | p[i + 3]) >>> 0
          expect(table.lookup(w(0), w(4), w(8), w(12))).toBe(slow6(entries, p))
        }
      }),
      {numRuns: 300},
    )
  })

  it('reads the address in place at an offset', () => {
    const t = buildPrefixTables([
      {prefix: '2001:db8::/32', value: 1},
      {prefix: '2001:db8:0:1::/64', value: 2},
    ]).v6
    const buf = Buffer.alloc(40)
    Buffer.from('20010db8000000010000000000000005', 'hex').copy(buf, 24)
    expect(t.lookupBytes(buf, 24)).toBe(2)
    buf[31] = 2
    expect(t.lookupBytes(buf, 24)).toBe(1)
    buf[24] = 0x30
    expect(t.lookupBytes(buf, 24)).toBe(NO_MATCH)
  })
})
