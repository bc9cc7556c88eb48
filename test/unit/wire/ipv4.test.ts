import {describe, expect, it} from 'vitest'
import {
  ChecksumMode,
  checksumUpdate32,
  emitIpv4,
  internetChecksum,
  IpProto,
  Ipv4,
  ipv4FromString,
  Ipv4View,
  parseIpv4,
  UdpView,
  type Ipv4Repr,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, layer, reEmit} from './support.js'

const ETH = 14
const all = [...fixtures('ipv4').values()]

// scapy's IP flags field: bit 0 = MF, bit 1 = DF.
const SCAPY_MF = 1
const SCAPY_DF = 2

/** scapy's field values as our repr; options as the raw header bytes scapy wrote. */
function reprFromScapy(fx: Fixture): Ipv4Repr {
  const ip = layer(fx, 'IP')
  const headerLen = ip.ihl * 4
  return {
    src: ipv4FromString(ip.src),
    dst: ipv4FromString(ip.dst),
    protocol: ip.proto,
    ttl: ip.ttl,
    tos: ip.tos,
    ident: ip.id,
    dontFrag: (ip.flags & SCAPY_DF) !== 0,
    moreFrags: (ip.flags & SCAPY_MF) !== 0,
    fragOffset: ip.frag * 8,
    payloadLen: ip.len - headerLen,
    options: new Uint8Array(fx.bytes.subarray(ETH + Ipv4.HEADER_LEN, ETH + headerLen)),
  }
}

describe('IPv4 against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const ip = layer(fx, 'IP')
    const v = new Ipv4View()
    expect(v.wrap(fx.bytes, ETH, fx.bytes.length)).toBe(0)
    expect(v.version).toBe(ip.version)
    expect(v.headerLen).toBe(ip.ihl * 4)
    expect(v.tos).toBe(ip.tos)
    expect(v.dscp).toBe(ip.tos >>> 2)
    expect(v.ecn).toBe(ip.tos & 3)
    expect(v.totalLen).toBe(ip.len)
    expect(v.end).toBe(ETH + ip.len)
    expect(v.ident).toBe(ip.id)
    expect(v.dontFrag).toBe((ip.flags & SCAPY_DF) !== 0)
    expect(v.moreFrags).toBe((ip.flags & SCAPY_MF) !== 0)
    expect(v.fragOffset).toBe(ip.frag * 8)
    expect(v.isFragment).toBe(ip.frag !== 0 || (ip.flags & SCAPY_MF) !== 0)
    expect(v.ttl).toBe(ip.ttl)
    expect(v.protocol).toBe(ip.proto)
    expect(v.checksum).toBe(ip.chksum)
    expect(v.checksumValid()).toBe(true)
    expect(v.src).toBe(ipv4FromString(ip.src))
    expect(v.dst).toBe(ipv4FromString(ip.dst))
    expect(v.payloadOffset).toBe(ETH + ip.ihl * 4)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const want = reprFromScapy(fx)
    expect(parseIpv4(fx.bytes, ETH, fx.bytes.length)).toEqual(want)
    const {buf, written} = reEmit(fx, ETH, layer(fx, 'IP').ihl * 4, (b) => emitIpv4(want, b, ETH))
    expect(written).toBe(layer(fx, 'IP').ihl * 4)
    expect(buf).toEqual(fx.bytes)
  })

  it('keeps the options scapy wrote (NOP, record route, EOL padding)', () => {
    const fx = frame('ipv4', 'options-rr')
    const opts = layer(fx, 'IP').options as {layer: string; hex: string}[]
    const repr = parseIpv4(fx.bytes, ETH, fx.bytes.length)
    expect(Buffer.from(repr.options).toString('hex').startsWith(opts.map((o) => o.hex).join(''))).toBe(true)
    expect(repr.options.length % 4).toBe(0)
  })

  it('stops at the total length: Ethernet padding is not payload', () => {
    const fx = frame('ipv4', 'ethernet-padding')
    const v = new Ipv4View()
    expect(v.wrap(fx.bytes, ETH, fx.bytes.length)).toBe(0)
    expect(fx.bytes.length - v.end).toBe(17)
    expect(v.payloadLen).toBe(9)
  })
})

describe('IPv4 TTL and address rewrite (RFC 1624)', () => {
  it('decrements TTL 64 -> 63 to exactly what scapy computes, including a 0x0000 checksum', () => {
    const after = frame('ipv4', 'ttl-63')
    // The case RFC 1141's update gets wrong (it would write 0xFFFF).
    expect(layer(after, 'IP').chksum).toBe(0)
    const buf = Buffer.from(frame('ipv4', 'ttl-64').bytes)
    const v = new Ipv4View()
    expect(v.wrap(buf, ETH, buf.length)).toBe(0)
    expect(v.decrementTtl()).toBe(63)
    expect(buf).toEqual(after.bytes)
  })

  it('decrements TTL 2 -> 1 as scapy writes it, and leaves TTL 0 alone', () => {
    const buf = Buffer.from(frame('ipv4', 'ttl-2').bytes)
    const v = new Ipv4View()
    expect(v.wrap(buf, ETH, buf.length)).toBe(0)
    expect(v.decrementTtl()).toBe(1)
    expect(buf).toEqual(frame('ipv4', 'ttl-1').bytes)
    expect(v.decrementTtl()).toBe(0)
    const zero = Buffer.from(buf)
    expect(v.decrementTtl()).toBe(0)
    expect(buf).toEqual(zero)
    expect(v.checksumValid()).toBe(true)
  })

  it('rewrites an address, patching the header checksum and, via checksumUpdate32, the UDP one', () => {
    const buf = Buffer.from(frame('ipv4', 'udp').bytes)
    const ip = new Ipv4View()
    const udp = new UdpView()
    expect(ip.wrap(buf, ETH, buf.length)).toBe(0)
    expect(udp.wrap(buf, ip.payloadOffset, ip.end)).toBe(0)
    const old = ip.src
    const pa = ipv4FromString('203.0.113.9')
    ip.rewriteSrc(pa)
    udp.checksum = checksumUpdate32(udp.checksum, old, pa)
    expect(ip.src).toBe(pa)
    expect(ip.checksumValid()).toBe(true)
    expect(udp.checksumValid(ip.pseudoSum())).toBe(true)
    ip.rewriteDst(ipv4FromString('198.51.100.1'))
    const patched = ip.checksum
    ip.fillChecksum()
    expect(ip.checksum).toBe(patched)
    expect(internetChecksum(buf, ETH, ETH + Ipv4.HEADER_LEN)).toBe(0)
  })
})

describe('IPv4 malformed input (smoltcp-style)', () => {
  const good = frame('ipv4', 'udp').bytes

  function mutate(f: (b: Buffer) => void): Buffer {
    const b = Buffer.from(good)
    f(b)
    return b
  }

  it('truncated below 20 bytes', () => {
    expect(new Ipv4View().wrap(good, ETH, ETH + 19)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseIpv4(good, ETH, ETH + 19), WireErrorCode.TRUNCATED, /IPv4 header needs 20 bytes, 19 available/)
  })

  it('header length below 20', () => {
    const b = mutate((x) => (x[ETH] = 0x43))
    expect(new Ipv4View().wrap(b, ETH, b.length)).toBe(WireErrorCode.BAD_HEADER_LEN)
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.BAD_HEADER_LEN, /IPv4 header length 12 is less than 20/)
  })

  it('header length beyond the buffer', () => {
    const b = mutate((x) => (x[ETH] = 0x4f))
    expectWireError(() => parseIpv4(b, ETH, ETH + 40), WireErrorCode.TRUNCATED, /header length 60 exceeds the 40 bytes/)
  })

  it('total length beyond the buffer (overlong)', () => {
    const b = mutate((x) => x.writeUInt16BE(200, ETH + 2))
    expect(new Ipv4View().wrap(b, ETH, b.length)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.TRUNCATED, /total length 200 exceeds/)
  })

  it('total length below the header length', () => {
    const b = mutate((x) => x.writeUInt16BE(19, ETH + 2))
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.BAD_LENGTH, /total length 19 is less than the header length 20/)
  })

  it('version other than 4', () => {
    const b = mutate((x) => (x[ETH] = 0x65))
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.BAD_VERSION, /version is 6, expected 4/)
  })

  it('bad header checksum: parse rejects unless told not to verify', () => {
    const b = mutate((x) => (x[ETH + Ipv4.CHECKSUM] ^= 1))
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.BAD_CHECKSUM, /checksum 0x[0-9a-f]+ is wrong/)
    expect(parseIpv4(b, ETH, b.length, false).ttl).toBe(64)
  })

  it('an option whose length runs past the header', () => {
    const b = Buffer.from(frame('ipv4', 'options-rr').bytes)
    b[ETH + 22] = 40
    const v = new Ipv4View()
    v.wrap(b, ETH, b.length)
    v.fillChecksum()
    expectWireError(() => parseIpv4(b, ETH, b.length), WireErrorCode.BAD_OPTION, /option 7 at header offset 21 runs past/)
  })

  it('emit leaves the checksum zero in ZERO and PARTIAL modes, and refuses options longer than 40 bytes', () => {
    const repr = parseIpv4(good, ETH, good.length)
    const b = Buffer.alloc(20, 0xff)
    emitIpv4(repr, b, 0, ChecksumMode.ZERO)
    expect(b.readUInt16BE(Ipv4.CHECKSUM)).toBe(0)
    emitIpv4(repr, b, 0, ChecksumMode.PARTIAL)
    expect(b.readUInt16BE(Ipv4.CHECKSUM)).toBe(0)
    expectWireError(() => emitIpv4({...repr, options: new Uint8Array(41)}, Buffer.alloc(80), 0), WireErrorCode.BAD_OPTION)
    expect(repr.protocol).toBe(IpProto.UDP)
  })
})
