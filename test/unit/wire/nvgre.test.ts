import {describe, expect, it} from 'vitest'
import {
  emitEthernet,
  emitIpv4,
  emitNvgre,
  emitUdp,
  EtherType,
  EthernetView,
  IpProto,
  ipv4FromString,
  ipv4PseudoSum,
  Ipv4View,
  Ipv6View,
  Gre,
  NvgreEncap,
  NvgreView,
  parseNvgre,
  WireErrorCode,
  writeNvgreHeader,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, layer, reEmit} from './support.js'

const valid = [...fixtures('nvgre').values()]

/** Offset of the GRE header in an outer Ethernet + IPv4/IPv6 frame, found with our views. */
function greOffset(buf: Buffer): number {
  const eth = new EthernetView()
  expect(eth.wrap(buf, 0, buf.length)).toBe(0)
  const ip = eth.etherType === EtherType.IPV4 ? new Ipv4View() : new Ipv6View()
  expect(ip.wrap(buf, eth.payloadOffset, buf.length)).toBe(0)
  return ip.payloadOffset
}

/** The tunnel scapy's outer headers describe. */
function encapFor(fx: Fixture, withEthernet = true): NvgreEncap {
  const eth = layer(fx, 'Ethernet')
  const v4 = fx.layers[1].layer === 'IP'
  const ip = layer(fx, v4 ? 'IP' : 'IPv6')
  return new NvgreEncap({
    ethernet: withEthernet ? {dst: eth.dst, src: eth.src} : undefined,
    src: ip.src,
    dst: ip.dst,
    ttl: v4 ? ip.ttl : ip.hlim,
    tos: v4 ? ip.tos : ip.tc,
  })
}

describe('NVGRE against scapy', () => {
  it.each(valid.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const gre = layer(fx, 'GRE')
    const off = greOffset(fx.bytes)
    const v = new NvgreView()
    expect(v.wrap(fx.bytes, off, fx.bytes.length)).toBe(0)
    expect(gre.key_present).toBe(1)
    expect(gre.proto).toBe(EtherType.TEB)
    expect(v.key).toBe(gre.key)
    expect(v.vsid).toBe(gre.key >>> 8)
    expect(v.flowId).toBe(gre.key & 0xff)
    expect(v.payloadOffset).toBe(off + Gre.HEADER_LEN)
    const inner = new EthernetView()
    expect(inner.wrap(fx.bytes, v.payloadOffset, fx.bytes.length)).toBe(0)
    expect(inner.etherType).toBe(layer(fx, 'Ethernet', 1).type)
  })

  it.each(valid.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const key = layer(fx, 'GRE').key
    const off = greOffset(fx.bytes)
    const want = {vsid: key >>> 8, flowId: key & 0xff}
    expect(parseNvgre(fx.bytes, off, fx.bytes.length)).toEqual(want)
    const viaRepr = reEmit(fx, off, Gre.HEADER_LEN, (b) => emitNvgre(want, b, off))
    expect(viaRepr.written).toBe(Gre.HEADER_LEN)
    expect(viaRepr.buf).toEqual(fx.bytes)
    const direct = reEmit(fx, off, Gre.HEADER_LEN, (b) => writeNvgreHeader(b, off, want.vsid, want.flowId))
    expect(direct.buf).toEqual(fx.bytes)
  })

  it.each(valid.map((f) => [f.name, f] as const))('encapsulates the inner frame of %s into scapy\'s bytes', (_name, fx) => {
    const key = layer(fx, 'GRE').key
    const inner = fx.bytes.subarray(greOffset(fx.bytes) + Gre.HEADER_LEN)
    const headroom = 96
    for (const withEthernet of [true, false]) {
      const encap = encapFor(fx, withEthernet)
      const buf = Buffer.alloc(headroom + inner.length, 0xaa)
      inner.copy(buf, headroom)
      // A hash whose low byte is the FlowID and whose flow-label bits are zero, as scapy's fl = 0.
      const start = encap.push(buf, headroom, buf.length, key >>> 8, key & 0xff)
      expect(start).toBe(headroom - encap.headerLen)
      expect(buf.subarray(start)).toEqual(withEthernet ? fx.bytes : fx.bytes.subarray(14))
    }
  })

  it('builds a whole NVGRE frame from reprs alone, equal to scapy\'s', () => {
    const fx = frame('nvgre', 'v4-vsid5001-flow0-udp')
    const buf = Buffer.alloc(fx.bytes.length, 0xaa)
    const payload = Buffer.from('blue')
    let at = emitEthernet({dst: '02:00:00:00:00:22', src: '02:00:00:00:00:11', etherType: EtherType.IPV4}, buf, 0)
    const innerLen = 14 + 20 + 8 + payload.length
    const outer = {
      src: ipv4FromString('198.51.100.11'),
      dst: ipv4FromString('198.51.100.22'),
      protocol: IpProto.GRE,
      ttl: 64,
      tos: 0,
      ident: 0,
      dontFrag: true,
      moreFrags: false,
      fragOffset: 0,
      payloadLen: Gre.HEADER_LEN + innerLen,
      options: new Uint8Array(0),
    }
    at += emitIpv4(outer, buf, at)
    at += emitNvgre({vsid: 5001, flowId: 0}, buf, at)
    at += emitEthernet({dst: '06:06:00:00:00:07', src: '06:06:00:00:00:05', etherType: EtherType.IPV4}, buf, at)
    const inner = {...outer, src: ipv4FromString('10.0.0.5'), dst: ipv4FromString('10.0.0.7'), protocol: IpProto.UDP, ident: 1, dontFrag: false, payloadLen: 8 + payload.length}
    at += emitIpv4(inner, buf, at)
    payload.copy(buf, at + 8)
    at += emitUdp({srcPort: 40000, dstPort: 5000, payloadLen: payload.length}, buf, at, ipv4PseudoSum(inner.src, inner.dst, IpProto.UDP))
    expect(at + payload.length).toBe(fx.bytes.length)
    expect(buf).toEqual(fx.bytes)
  })
})

describe('NVGRE encapsulation helper', () => {
  const inner = frame('nvgre', 'v6-vsid5001-flow1-udp').bytes.subarray(14 + 40 + 8)

  it('puts the flow hash in the FlowID (bits 0-7) and the outer IPv6 flow label (bits 11-30)', () => {
    const encap = new NvgreEncap({src: '2001:db8::11', dst: '2001:db8::22'})
    expect(encap.headerLen).toBe(40 + 8)
    const buf = Buffer.alloc(64 + inner.length)
    inner.copy(buf, 64)
    const start = encap.push(buf, 64, buf.length, 6001, 0x2bcde0ff)
    const ip = new Ipv6View()
    expect(ip.wrap(buf, start, buf.length)).toBe(0)
    expect(ip.flowLabel).toBe((0x2bcde0ff >>> 11) & 0xfffff)
    expect(ip.payloadLen).toBe(8 + inner.length)
    expect(parseNvgre(buf, start + 40, buf.length)).toEqual({vsid: 6001, flowId: 0xff})
  })

  it('refuses to write without headroom, leaving the buffer alone', () => {
    const encap = new NvgreEncap({ethernet: {dst: '02:00:00:00:00:22', src: '02:00:00:00:00:11'}, src: '198.51.100.11', dst: '198.51.100.22'})
    expect(encap.headerLen).toBe(14 + 20 + 8)
    const buf = Buffer.alloc(41 + inner.length)
    inner.copy(buf, 41)
    const before = Buffer.from(buf)
    expect(encap.push(buf, 41, buf.length, 5001, 0)).toBe(-WireErrorCode.NO_HEADROOM)
    expect(buf).toEqual(before)
  })

  it('writes a valid outer IPv4 header for any length', () => {
    const encap = new NvgreEncap({src: '198.51.100.11', dst: '198.51.100.22', ttl: 9, tos: 0x20})
    const buf = Buffer.alloc(2000)
    for (const len of [14, 60, 1458, 1500]) {
      const start = encap.push(buf, 100, 100 + len, 0xfffffe, 7)
      const ip = new Ipv4View()
      expect(ip.wrap(buf, start, buf.length)).toBe(0)
      expect([ip.totalLen, ip.ttl, ip.tos, ip.dontFrag, ip.checksumValid()]).toEqual([20 + 8 + len, 9, 0x20, true, true])
    }
  })

  it('rejects outer addresses of two families', () => {
    expectWireError(() => new NvgreEncap({src: '198.51.100.11', dst: '2001:db8::22'}), WireErrorCode.BAD_ADDRESS, /not of one family/)
  })

  it('view setters rewrite VSID and FlowID in place', () => {
    const buf = Buffer.from(frame('nvgre', 'v4-vsid6001-flow127-tcp').bytes)
    const v = new NvgreView()
    v.wrap(buf, greOffset(buf), buf.length)
    v.vsid = 0x123456
    v.flowId = 0x42
    expect([v.vsid, v.flowId, v.key]).toEqual([0x123456, 0x42, 0x12345642])
  })
})

describe('GRE that is not NVGRE (scapy-made), each with its reason', () => {
  it.each([
    ['checksum-bit', WireErrorCode.NVGRE_CHECKSUM_BIT, /checksum bit \(C\) is set/],
    ['routing-bit', WireErrorCode.NVGRE_ROUTING_BIT, /routing bit \(R\) is set/],
    ['no-key', WireErrorCode.NVGRE_NO_KEY, /key bit \(K\) is clear/],
    ['sequence-bit', WireErrorCode.NVGRE_SEQUENCE_BIT, /sequence bit \(S\) is set/],
    ['strict-source-route-bit', WireErrorCode.NVGRE_RESERVED_BITS, /reserved bits 4-5/],
    ['recursion-bit-5', WireErrorCode.NVGRE_RESERVED_BITS, /reserved bits 4-5/],
    ['version-1', WireErrorCode.NVGRE_VERSION, /version is 1; NVGRE requires 0/],
    ['protocol-ipv4', WireErrorCode.NVGRE_PROTOCOL, /protocol type is 0x800; NVGRE requires 0x6558/],
    ['truncated-key', WireErrorCode.TRUNCATED, /needs 8 bytes, 6 available/],
  ])('%s', (name, code, message) => {
    const fx = frame('nvgre-invalid', name)
    const off = greOffset(fx.bytes)
    expect(new NvgreView().wrap(fx.bytes, off, fx.bytes.length)).toBe(code)
    expectWireError(() => parseNvgre(fx.bytes, off, fx.bytes.length), code, message)
  })

  it('ignores bits 6-12 on receipt, as RFC 2784 §2.3 requires', () => {
    const fx = frame('nvgre-invalid', 'reserved-bit-7-ignored')
    expect(parseNvgre(fx.bytes, greOffset(fx.bytes), fx.bytes.length)).toEqual({vsid: 5001, flowId: 0})
  })

  it('needs 4 bytes to read the flags at all', () => {
    const fx = frame('nvgre', 'v4-vsid5001-flow0-udp')
    const off = greOffset(fx.bytes)
    expectWireError(() => parseNvgre(fx.bytes, off, off + 3), WireErrorCode.TRUNCATED, /needs 4 bytes, 3 available/)
  })
})
