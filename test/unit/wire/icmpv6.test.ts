import {describe, expect, it} from 'vitest'
import {
  emitEthernet,
  emitIcmpv6,
  emitIpv6,
  EtherType,
  Icmpv6,
  ICMPV6_NEIGHBOR_ADVERT,
  Icmpv6View,
  type Icmpv6Repr,
  IpProto,
  Ipv6,
  ipv6Equal,
  ipv6FromString,
  ipv6PseudoSum,
  Ipv6View,
  macToString,
  ND_NA_FLAG_OVERRIDE,
  ND_NA_FLAG_SOLICITED,
  ND_OPT_SOURCE_LLA,
  ND_OPT_TARGET_LLA,
  ND_OPT_MTU,
  parseIcmpv6,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, hasLayer, layer, reEmit} from './support.js'

const IP = 14
const MSG = IP + Ipv6.HEADER_LEN
const all = [...fixtures('icmpv6').values()]

const SLLA = 'ICMPv6 Neighbor Discovery Option - Source Link-Layer Address'
const TLLA = 'ICMPv6 Neighbor Discovery Option - Destination Link-Layer Address'

function pseudo(buf: Buffer): number {
  return ipv6PseudoSum(buf, IP + Ipv6.SRC, IP + Ipv6.DST, IpProto.ICMPV6)
}

/** Our repr from scapy's fields (error messages' quoted packets come from the frame as opaque data). */
function reprFromScapy(fx: Fixture): Icmpv6Repr {
  const m = fx.layers[2].fields as Record<string, any>
  const data = new Uint8Array(fx.bytes.subarray(MSG + Icmpv6.HEADER_LEN))
  const withLla = <T extends object>(obj: T, key: string, name: string): T =>
    hasLayer(fx, name) ? {...obj, [key]: layer(fx, name).lladdr} : obj
  switch (m.type) {
    case 128:
    case 129:
      return {type: m.type, code: m.code, ident: m.id, seq: m.seq, data: new Uint8Array(Buffer.from(m.data, 'hex'))}
    case 1:
    case 3:
      return {type: m.type, code: m.code, data}
    case 2:
      return {type: 2, code: m.code, mtu: m.mtu, data}
    case 133:
      return withLla({type: 133 as const, code: m.code}, 'sourceLla', SLLA)
    case 135:
      return withLla({type: 135 as const, code: m.code, target: m.tgt}, 'sourceLla', SLLA)
    case 136:
      return withLla({type: 136 as const, code: m.code, flags: (m.R << 7) | (m.S << 6) | (m.O << 5), target: m.tgt}, 'targetLla', TLLA)
    default: {
      const mtu = layer(fx, 'ICMPv6 Neighbor Discovery Option - MTU')
      const p = layer(fx, 'ICMPv6 Neighbor Discovery Option - Prefix Information')
      return {
        type: 134,
        code: m.code,
        curHopLimit: m.chlim,
        flags: (m.M << 7) | (m.O << 6) | (m.H << 5) | (m.prf << 3) | (m.P << 2) | m.res,
        routerLifetime: m.routerlifetime,
        reachableTime: m.reachabletime,
        retransTimer: m.retranstimer,
        sourceLla: layer(fx, SLLA).lladdr,
        mtu: mtu.mtu,
        prefixes: [
          {
            prefixLen: p.prefixlen,
            flags: (p.L << 7) | (p.A << 6) | (p.R << 5) | p.res1,
            validLifetime: p.validlifetime,
            preferredLifetime: p.preferredlifetime,
            prefix: p.prefix,
          },
        ],
      }
    }
  }
}

describe('ICMPv6 and ND against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const m = fx.layers[2].fields as Record<string, any>
    const ip = new Ipv6View()
    expect(ip.wrap(fx.bytes, IP, fx.bytes.length)).toBe(0)
    const v = new Icmpv6View()
    expect(v.wrap(fx.bytes, ip.payloadOffset, ip.end)).toBe(0)
    expect(v.type).toBe(m.type)
    expect(v.code).toBe(m.code)
    expect(v.checksum).toBe(m.cksum)
    expect(v.checksumValid(ip.pseudoSum())).toBe(true)
    if (m.type === 128 || m.type === 129) expect([v.ident, v.seq]).toEqual([m.id, m.seq])
    if (m.type === 2) expect(v.mtu).toBe(m.mtu)
    if (m.type === 135 || m.type === 136) expect(ipv6Equal(fx.bytes, v.ndTargetOffset, ipv6FromString(m.tgt), 0)).toBe(true)
    if (m.type === 136) expect(v.naFlags).toBe((m.R << 7) | (m.S << 6) | (m.O << 5))
    const slla = v.ndLinkLayerOffset(ND_OPT_SOURCE_LLA)
    expect(slla < 0 ? undefined : macToString(fx.bytes, slla)).toBe(hasLayer(fx, SLLA) ? layer(fx, SLLA).lladdr : undefined)
    const tlla = v.ndLinkLayerOffset(ND_OPT_TARGET_LLA)
    expect(tlla < 0 ? undefined : macToString(fx.bytes, tlla)).toBe(hasLayer(fx, TLLA) ? layer(fx, TLLA).lladdr : undefined)
    expect(v.optionsOffset >= 0).toBe(m.type >= 133 && m.type <= 136)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const want = reprFromScapy(fx)
    expect(parseIcmpv6(fx.bytes, MSG, fx.bytes.length, pseudo(fx.bytes))).toEqual(want)
    const len = fx.bytes.length - MSG
    const {buf, written} = reEmit(fx, MSG, len, (b) => emitIcmpv6(want, b, MSG, pseudo(b)))
    expect(written).toBe(len)
    expect(buf).toEqual(fx.bytes)
  })

  it('finds the RA MTU option by type', () => {
    const fx = frame('icmpv6', 'ra')
    const v = new Icmpv6View()
    v.wrap(fx.bytes, MSG, fx.bytes.length)
    expect(fx.bytes.readUInt32BE(v.ndOption(ND_OPT_MTU) + 4)).toBe(1458)
    expect(v.ndOption(99)).toBe(-1)
  })

  it('builds the neighbor advertisement scapy wrote, from our emitters alone (the ND proxy reply)', () => {
    const buf = Buffer.alloc(86)
    let at = emitEthernet({dst: '06:06:00:00:00:05', src: '06:06:00:00:00:07', etherType: EtherType.IPV6}, buf, 0)
    const na: Icmpv6Repr = {
      type: ICMPV6_NEIGHBOR_ADVERT,
      code: 0,
      flags: ND_NA_FLAG_SOLICITED | ND_NA_FLAG_OVERRIDE,
      target: '2001:db8:ca::7',
      targetLla: '06:06:00:00:00:07',
    }
    at += emitIpv6({src: '2001:db8:ca::7', dst: '2001:db8:ca::5', nextHeader: IpProto.ICMPV6, hopLimit: 255, trafficClass: 0, flowLabel: 0, payloadLen: 32}, buf, at)
    at += emitIcmpv6(na, buf, at, pseudo(buf))
    expect(at).toBe(86)
    expect(buf).toEqual(frame('icmpv6', 'na').bytes)
  })
})

describe('ICMPv6 malformed input', () => {
  const ns = frame('icmpv6', 'ns').bytes

  it('truncated header, and ND bodies shorter than RFC 4861 says', () => {
    const v = new Icmpv6View()
    expect(v.wrap(ns, MSG, MSG + 7)).toBe(WireErrorCode.TRUNCATED)
    expect(v.wrap(ns, MSG, MSG + 23)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseIcmpv6(ns, MSG, MSG + 20), WireErrorCode.TRUNCATED, /type 135 needs 24 bytes, 20 available/)
    expectWireError(() => parseIcmpv6(ns, MSG, MSG + 4), WireErrorCode.TRUNCATED, /needs 8 bytes, 4 available/)
  })

  it('ND options of length zero, of the wrong size, or past the end', () => {
    const v = new Icmpv6View()
    const zero = Buffer.from(ns)
    zero[MSG + 24 + 1] = 0
    expect(v.wrap(zero, MSG, zero.length)).toBe(WireErrorCode.BAD_OPTION)
    expectWireError(() => parseIcmpv6(zero, MSG, zero.length), WireErrorCode.BAD_OPTION, /ND option/)
    const long = Buffer.from(ns)
    long[MSG + 24 + 1] = 2
    expect(v.wrap(long, MSG, long.length)).toBe(WireErrorCode.BAD_OPTION)
    expect(v.wrap(ns, MSG, ns.length - 1)).toBe(WireErrorCode.BAD_OPTION)
  })

  it('checksum errors, and types we do not model', () => {
    const bad = Buffer.from(ns)
    bad[MSG + 2] ^= 0x80
    expectWireError(() => parseIcmpv6(bad, MSG, bad.length, pseudo(bad)), WireErrorCode.BAD_CHECKSUM, /ICMPv6 checksum/)
    expect(parseIcmpv6(bad, MSG, bad.length).type).toBe(135)
    const redirect = Buffer.from(ns)
    redirect[MSG] = 137
    expectWireError(() => parseIcmpv6(redirect, MSG, redirect.length), WireErrorCode.UNSUPPORTED, /type 137 is not modelled/)
  })
})
