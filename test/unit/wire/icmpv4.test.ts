import {describe, expect, it} from 'vitest'
import {
  ChecksumMode,
  checksumUpdate16,
  emitIcmpv4,
  Icmpv4,
  ICMPV4_DEST_UNREACHABLE,
  ICMPV4_ECHO_REPLY,
  Icmpv4View,
  type Icmpv4Repr,
  Ipv4View,
  EthernetView,
  parseIcmpv4,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, layer, reEmit} from './support.js'

const ICMP = 14 + 20
const all = [...fixtures('icmpv4').values()]

function reprFromScapy(fx: Fixture): Icmpv4Repr {
  const m = layer(fx, 'ICMP')
  const data = new Uint8Array(fx.bytes.subarray(ICMP + Icmpv4.HEADER_LEN))
  switch (m.type) {
    case 0:
    case 8:
      return {type: m.type, code: m.code, ident: m.id, seq: m.seq, data}
    case 3:
      return {type: 3, code: m.code, nextHopMtu: m.nexthopmtu, data}
    default:
      return {type: 11, code: m.code, data}
  }
}

describe('ICMPv4 against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const m = layer(fx, 'ICMP')
    const v = new Icmpv4View()
    expect(v.wrap(fx.bytes, ICMP, fx.bytes.length)).toBe(0)
    expect(v.type).toBe(m.type)
    expect(v.code).toBe(m.code)
    expect(v.checksum).toBe(m.chksum)
    expect(v.checksumValid()).toBe(true)
    if (m.type === 8 || m.type === 0) expect([v.ident, v.seq]).toEqual([m.id, m.seq])
    if (m.type === 3) expect(v.nextHopMtu).toBe(m.nexthopmtu)
    expect(v.dataOffset).toBe(ICMP + 8)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const want = reprFromScapy(fx)
    expect(parseIcmpv4(fx.bytes, ICMP, fx.bytes.length)).toEqual(want)
    const len = fx.bytes.length - ICMP
    const {buf, written} = reEmit(fx, ICMP, len, (b) => emitIcmpv4(want, b, ICMP))
    expect(written).toBe(len)
    expect(buf).toEqual(fx.bytes)
  })

  it('carries the next-hop MTU of "fragmentation needed" (RFC 1191)', () => {
    const r = parseIcmpv4(frame('icmpv4', 'frag-needed').bytes, ICMP, frame('icmpv4', 'frag-needed').bytes.length)
    expect(r.type === ICMPV4_DEST_UNREACHABLE && r.code === 4 && r.nextHopMtu).toBe(1458)
  })

  it('turns the echo request into scapy\'s echo reply in place (the gateway ping path)', () => {
    const buf = Buffer.from(frame('icmpv4', 'echo-request').bytes)
    const eth = new EthernetView()
    const ip = new Ipv4View()
    const icmp = new Icmpv4View()
    expect(eth.wrap(buf, 0, buf.length)).toBe(0)
    expect(ip.wrap(buf, eth.payloadOffset, buf.length)).toBe(0)
    expect(icmp.wrap(buf, ip.payloadOffset, ip.end)).toBe(0)
    const [dHi, dLo, sHi, sLo] = [eth.dstHi, eth.dstLo, eth.srcHi, eth.srcLo]
    eth.setDst(sHi, sLo)
    eth.setSrc(dHi, dLo)
    const [src, dst] = [ip.src, ip.dst]
    ip.rewriteSrc(dst)
    ip.rewriteDst(src)
    const oldWord = (icmp.type << 8) | icmp.code
    icmp.type = ICMPV4_ECHO_REPLY
    buf.writeUInt16BE(checksumUpdate16(icmp.checksum, oldWord, ICMPV4_ECHO_REPLY << 8), ICMP + Icmpv4.CHECKSUM)
    expect(buf).toEqual(frame('icmpv4', 'echo-reply').bytes)
  })
})

describe('ICMPv4 malformed input', () => {
  const good = frame('icmpv4', 'echo-request').bytes

  it('truncated below 8 bytes', () => {
    expect(new Icmpv4View().wrap(good, ICMP, ICMP + 7)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseIcmpv4(good, ICMP, ICMP + 7), WireErrorCode.TRUNCATED, /needs 8 bytes, 7 available/)
  })

  it('a cut message fails its checksum; parse can skip the check', () => {
    expectWireError(() => parseIcmpv4(good, ICMP, good.length - 1), WireErrorCode.BAD_CHECKSUM, /checksum 0x5435 is wrong/)
    expect(parseIcmpv4(good, ICMP, good.length - 1, false).type).toBe(8)
  })

  it('types we do not model are UNSUPPORTED, by number', () => {
    const ts = Buffer.from(good)
    ts[ICMP] = 13
    const v = new Icmpv4View()
    v.wrap(ts, ICMP, ts.length)
    v.fillChecksum()
    expectWireError(() => parseIcmpv4(ts, ICMP, ts.length), WireErrorCode.UNSUPPORTED, /type 13 is not echo/)
  })

  it('emit in ZERO mode leaves the checksum zero', () => {
    const b = Buffer.alloc(16, 0xff)
    expect(emitIcmpv4({type: 8, code: 0, ident: 1, seq: 2, data: new Uint8Array(8)}, b, 0, ChecksumMode.ZERO)).toBe(16)
    expect(b.readUInt16BE(Icmpv4.CHECKSUM)).toBe(0)
  })
})
