import {describe, expect, it} from 'vitest'
import {
  emitIpv6,
  IpProto,
  Ipv6,
  ipv6Equal,
  ipv6FromString,
  ipv6ToString,
  Ipv6View,
  parseIpv6,
  TcpView,
  UdpView,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, fixtures, frame, layer, reEmit} from './support.js'

const ETH = 14
const all = [...fixtures('ipv6').values()]

describe('IPv6 against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const ip = layer(fx, 'IPv6')
    const v = new Ipv6View()
    expect(v.wrap(fx.bytes, ETH, fx.bytes.length)).toBe(0)
    expect(v.version).toBe(6)
    expect(v.trafficClass).toBe(ip.tc)
    expect(v.flowLabel).toBe(ip.fl)
    expect(v.payloadLen).toBe(ip.plen)
    expect(v.nextHeader).toBe(ip.nh)
    expect(v.hopLimit).toBe(ip.hlim)
    expect(ipv6Equal(fx.bytes, v.srcOffset, ipv6FromString(ip.src), 0)).toBe(true)
    expect(ipv6Equal(fx.bytes, v.dstOffset, ipv6FromString(ip.dst), 0)).toBe(true)
    expect(ipv6ToString(fx.bytes, v.srcOffset)).toBe(ip.src)
    expect(ipv6ToString(fx.bytes, v.dstOffset)).toBe(ip.dst)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const ip = layer(fx, 'IPv6')
    const want = {src: ip.src, dst: ip.dst, nextHeader: ip.nh, hopLimit: ip.hlim, trafficClass: ip.tc, flowLabel: ip.fl, payloadLen: ip.plen}
    expect(parseIpv6(fx.bytes, ETH, fx.bytes.length)).toEqual(want)
    const {buf, written} = reEmit(fx, ETH, Ipv6.HEADER_LEN, (b) => emitIpv6(want, b, ETH))
    expect(written).toBe(Ipv6.HEADER_LEN)
    expect(buf).toEqual(fx.bytes)
  })
})

describe('IPv6 extension header walk', () => {
  function wrap(name: string): Ipv6View {
    const fx = frame('ipv6', name)
    const v = new Ipv6View()
    expect(v.wrap(fx.bytes, ETH, fx.bytes.length)).toBe(0)
    return v
  }

  it('finds UDP after Hop-by-Hop and Destination Options', () => {
    const v = wrap('hbh-dstopt-udp')
    expect(v.protocol).toBe(IpProto.UDP)
    expect(v.payloadOffset).toBe(ETH + Ipv6.HEADER_LEN + 8 + 8)
    const udp = new UdpView()
    expect(udp.wrap(v.buf, v.payloadOffset, v.end)).toBe(0)
    expect([udp.srcPort, udp.dstPort]).toEqual([40000, 5000])
    expect(udp.checksumValid(v.pseudoSum())).toBe(true)
    expect(v.isFragment).toBe(false)
  })

  it('uses the final destination of a Routing header in the pseudo-header, as scapy does', () => {
    const v = wrap('routing-tcp')
    expect(v.protocol).toBe(IpProto.TCP)
    expect(ipv6ToString(v.buf, v.finalDstOffset)).toBe('2001:db8:ca::9')
    const tcp = new TcpView()
    expect(tcp.wrap(v.buf, v.payloadOffset, v.end)).toBe(0)
    expect(tcp.checksum).toBe(layer(frame('ipv6', 'routing-tcp'), 'TCP').chksum)
    expect(tcp.checksumValid(v.pseudoSum())).toBe(true)
  })

  it('reports fragments: the first carries the UDP header, later ones only data', () => {
    const first = wrap('fragment-first')
    const fh = layer(frame('ipv6', 'fragment-first'), 'IPv6 Extension Header - Fragmentation header')
    expect([first.isFragment, first.fragOffset, first.moreFrags, first.fragIdent]).toEqual([true, 0, true, fh.id])
    expect(first.protocol).toBe(IpProto.UDP)
    expect(first.payloadOffset).toBe(ETH + Ipv6.HEADER_LEN + 8)
    const second = wrap('fragment-second')
    expect([second.isFragment, second.fragOffset, second.moreFrags]).toEqual([true, 24, false])
    expect(second.protocol).toBe(IpProto.UDP)
    expect(second.upperLen).toBe(16)
  })

  it('stops at No Next Header and at ordinary upper layers', () => {
    expect(wrap('no-next-header').protocol).toBe(IpProto.IPV6_NONXT)
    expect(wrap('no-next-header').upperLen).toBe(0)
    expect(wrap('link-local-icmpv6').protocol).toBe(IpProto.ICMPV6)
  })

  it('rejects an extension header that runs past the payload, and Hop-by-Hop out of place', () => {
    const b = Buffer.from(frame('ipv6', 'hbh-dstopt-udp').bytes)
    const v = new Ipv6View()
    b[ETH + Ipv6.HEADER_LEN + 8 + 1] = 10 // Destination Options claims 88 bytes
    expect(v.wrap(b, ETH, b.length)).toBe(WireErrorCode.BAD_EXTENSION_HEADER)
    expectWireError(() => parseIpv6(b, ETH, b.length), WireErrorCode.BAD_EXTENSION_HEADER, /extension headers are malformed/)
    const c = Buffer.from(frame('ipv6', 'hbh-dstopt-udp').bytes)
    c[ETH + Ipv6.HEADER_LEN + 8] = 0 // Destination Options says Hop-by-Hop follows
    expect(v.wrap(c, ETH, c.length)).toBe(WireErrorCode.BAD_EXTENSION_HEADER)
  })
})

describe('IPv6 malformed input', () => {
  const good = frame('ipv6', 'udp').bytes

  it('truncated header, overlong payload length, wrong version', () => {
    const v = new Ipv6View()
    expect(v.wrap(good, ETH, ETH + 39)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseIpv6(good, ETH, ETH + 39), WireErrorCode.TRUNCATED, /needs 40 bytes, 39 available/)
    expectWireError(() => parseIpv6(good, ETH, good.length - 1), WireErrorCode.TRUNCATED, /payload length 13 exceeds the 12 bytes/)
    const v4 = Buffer.from(good)
    v4[ETH] = 0x46
    expectWireError(() => parseIpv6(v4, ETH, v4.length), WireErrorCode.BAD_VERSION, /version is 4, expected 6/)
  })

  it('ignores bytes after the payload length', () => {
    const padded = Buffer.concat([good, Buffer.alloc(9)])
    const v = new Ipv6View()
    expect(v.wrap(padded, ETH, padded.length)).toBe(0)
    expect(v.end).toBe(good.length)
  })

  it('decrements the hop limit in place, stopping at 0', () => {
    const b = Buffer.from(good)
    const v = new Ipv6View()
    v.wrap(b, ETH, b.length)
    expect(v.decrementHopLimit()).toBe(63)
    expect(b[ETH + 7]).toBe(63)
    v.hopLimit = 0
    expect(v.decrementHopLimit()).toBe(0)
    expect(b.subarray(ETH + Ipv6.SRC, ETH + Ipv6.DST + 16)).toEqual(good.subarray(ETH + Ipv6.SRC, ETH + Ipv6.DST + 16))
  })
})
