import fc from 'fast-check'
import {describe, expect, it} from 'vitest'
import {flowHashIpv4, flowHashIpv6, flowIdOf, ipv4FromString, ipv6FromString} from '../../../src/lib/wire/index.js'

const A = ipv4FromString('10.0.0.5')
const B = ipv4FromString('10.0.0.7')
const V6 = Buffer.concat([ipv6FromString('2001:db8:ca::5'), ipv6FromString('2001:db8:ca::7')])

function popcount(x: number): number {
  let n = 0
  for (; x !== 0; x &= x - 1) n++
  return n
}

describe('flow hash', () => {
  it('never changes: these values are pinned (a change would move every flow to another ECMP path)', () => {
    expect(flowHashIpv4(A, B, 17, 40000, 5000)).toBe(0x2ba589bd)
    expect(flowHashIpv4(B, A, 17, 5000, 40000)).toBe(0x2c8f872d)
    expect(flowHashIpv4(A, B, 1, 0, 0)).toBe(0x39c9c78b)
    expect(flowHashIpv6(V6, 0, 6, 40000, 80)).toBe(0x5f7112a6)
  })

  it('stays a non-negative 31-bit integer (a small integer in V8: never boxed per packet)', () => {
    fc.assert(
      fc.property(fc.integer({min: 0, max: 0xffffffff}), fc.integer({min: 0, max: 0xffffffff}), fc.nat(0xffff), (s, d, p) => {
        const h = flowHashIpv4(s, d, 6, p, 443)
        expect(Number.isInteger(h) && h >= 0 && h <= 0x7fffffff).toBe(true)
      }),
    )
  })

  it('reads IPv6 addresses in place, from any offset', () => {
    const shifted = Buffer.concat([Buffer.alloc(8), V6])
    expect(flowHashIpv6(shifted, 8, 6, 40000, 80)).toBe(flowHashIpv6(V6, 0, 6, 40000, 80))
  })

  it('avalanches: one flipped input bit changes about half the output bits, and the FlowID', () => {
    // Over random tuples and every input bit (addresses, ports, protocol): a good mix flips ~15.5 of 31
    // output bits on average and leaves the FlowID unchanged about 1 time in 256.
    let flips = 0
    let sameFlowId = 0
    let trials = 0
    fc.assert(
      fc.property(fc.integer({min: 0, max: 0xffffffff}), fc.integer({min: 0, max: 0xffffffff}), fc.nat(0xffff), fc.nat(0xffff), fc.nat(255), (s, d, sp, dp, proto) => {
        const base = flowHashIpv4(s, d, proto, sp, dp)
        const variants = [
          ...Array.from({length: 32}, (_, i) => flowHashIpv4((s ^ (1 << i)) >>> 0, d, proto, sp, dp)),
          ...Array.from({length: 32}, (_, i) => flowHashIpv4(s, (d ^ (1 << i)) >>> 0, proto, sp, dp)),
          ...Array.from({length: 16}, (_, i) => flowHashIpv4(s, d, proto, sp ^ (1 << i), dp)),
          ...Array.from({length: 16}, (_, i) => flowHashIpv4(s, d, proto, sp, dp ^ (1 << i))),
          ...Array.from({length: 8}, (_, i) => flowHashIpv4(s, d, proto ^ (1 << i), sp, dp)),
        ]
        for (const v of variants) {
          flips += popcount(v ^ base)
          if (flowIdOf(v) === flowIdOf(base)) sameFlowId++
          trials++
        }
      }),
      {numRuns: 200},
    )
    expect(flips / trials).toBeGreaterThan(14.5)
    expect(flips / trials).toBeLessThan(16.5)
    expect(sameFlowId / trials).toBeLessThan(3 / 256)
  })

  it('depends on every IPv6 address byte, the protocol and both ports', () => {
    const base = flowHashIpv6(V6, 0, 17, 1, 2)
    for (let i = 0; i < 32; i++) {
      const c = Buffer.from(V6)
      c[i] ^= 1
      expect(flowHashIpv6(c, 0, 17, 1, 2)).not.toBe(base)
    }
    expect(flowHashIpv6(V6, 0, 6, 1, 2)).not.toBe(base)
    expect(flowHashIpv6(V6, 0, 17, 2, 2)).not.toBe(base)
    expect(flowHashIpv6(V6, 0, 17, 1, 3)).not.toBe(base)
  })

  it('spreads flows evenly over the 256 FlowIDs', () => {
    for (const vary of [(p: number) => flowHashIpv4(A, B, 6, p, 443), (p: number) => flowHashIpv4(A, (B + p) >>> 0, 6, 40000, 443)]) {
      const counts = new Array<number>(256).fill(0)
      for (let p = 0; p < 65536; p++) counts[flowIdOf(vary(p))]++
      // 256 expected per bucket; a uniform hash stays well within ±25% here.
      expect(Math.min(...counts)).toBeGreaterThan(192)
      expect(Math.max(...counts)).toBeLessThan(320)
    }
  })
})
