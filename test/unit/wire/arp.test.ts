import {describe, expect, it} from 'vitest'
import {
  Arp,
  ArpOp,
  ArpView,
  emitArp,
  EthernetView,
  ipv4FromString,
  parseArp,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, fixtures, frame, layer, reEmit} from './support.js'

const valid = [...fixtures('arp').values()].filter((f) => f.name !== 'rarp-like-op3')

function arpOffset(buf: Buffer): number {
  const eth = new EthernetView()
  expect(eth.wrap(buf, 0, buf.length)).toBe(0)
  return eth.payloadOffset
}

describe('ARP against scapy', () => {
  it.each(valid.map((f) => [f.name, f] as const))('deconstructs, parses and re-emits %s', (_name, fx) => {
    const a = layer(fx, 'ARP')
    const off = arpOffset(fx.bytes)
    const v = new ArpView()
    expect(v.wrap(fx.bytes, off, fx.bytes.length)).toBe(0)
    expect(v.operation).toBe(a.op)
    expect(v.senderIp).toBe(ipv4FromString(a.psrc))
    expect(v.targetIp).toBe(ipv4FromString(a.pdst))
    expect(v.senderMacHi.toString(16).padStart(4, '0') + v.senderMacLo.toString(16).padStart(8, '0')).toBe(a.hwsrc.replace(/:/g, ''))
    expect(v.targetMacHi.toString(16).padStart(4, '0') + v.targetMacLo.toString(16).padStart(8, '0')).toBe(a.hwdst.replace(/:/g, ''))

    const repr = parseArp(fx.bytes, off, fx.bytes.length)
    const fromScapy = {operation: a.op, senderMac: a.hwsrc, senderIp: ipv4FromString(a.psrc), targetMac: a.hwdst, targetIp: ipv4FromString(a.pdst)}
    expect(repr).toEqual(fromScapy)
    const {buf, written} = reEmit(fx, off, Arp.LEN, (b) => emitArp(fromScapy, b, off))
    expect(written).toBe(Arp.LEN)
    expect(buf).toEqual(fx.bytes)
  })

  it('ignores Ethernet padding after the 28 bytes', () => {
    const fx = frame('arp', 'padded-request')
    expect(fx.bytes.length).toBe(60)
    expect(parseArp(fx.bytes, 14, 60).targetIp).toBe(ipv4FromString('10.0.0.1'))
  })

  it('turns a request into the reply scapy wrote, in place (the ARP proxy path)', () => {
    const buf = Buffer.from(frame('arp', 'request').bytes)
    const want = frame('arp', 'reply').bytes
    const eth = new EthernetView()
    const arp = new ArpView()
    expect(eth.wrap(buf, 0, buf.length)).toBe(0)
    expect(arp.wrap(buf, eth.payloadOffset, buf.length)).toBe(0)
    const [askerHi, askerLo, askerIp, wanted] = [arp.senderMacHi, arp.senderMacLo, arp.senderIp, arp.targetIp]
    eth.setDst(askerHi, askerLo)
    eth.setSrc(0x0606, 0x00000007)
    arp.operation = ArpOp.REPLY
    arp.setTargetMac(askerHi, askerLo)
    arp.targetIp = askerIp
    arp.setSenderMac(0x0606, 0x00000007)
    arp.senderIp = wanted
    expect(buf).toEqual(want)
  })

  it('views pass an unknown operation through; parse rejects it by number', () => {
    const fx = frame('arp', 'rarp-like-op3')
    const v = new ArpView()
    expect(v.wrap(fx.bytes, 14, fx.bytes.length)).toBe(0)
    expect(v.operation).toBe(3)
    expectWireError(() => parseArp(fx.bytes, 14, fx.bytes.length), WireErrorCode.UNSUPPORTED, /operation 3 is not request/)
  })

  it('rejects truncated packets and other hardware or protocol types', () => {
    const bytes = frame('arp', 'request').bytes
    const v = new ArpView()
    expect(v.wrap(bytes, 14, 14 + Arp.LEN - 1)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseArp(bytes, 14, 41), WireErrorCode.TRUNCATED, /needs 28 bytes, 27 available/)
    const tokenRing = Buffer.from(bytes)
    tokenRing.writeUInt16BE(6, 14)
    expect(v.wrap(tokenRing, 14, tokenRing.length)).toBe(WireErrorCode.UNSUPPORTED)
    expectWireError(() => parseArp(tokenRing, 14, tokenRing.length), WireErrorCode.UNSUPPORTED, /hardware type 6/)
    const ipv6Lengths = Buffer.from(bytes)
    ipv6Lengths[14 + 5] = 16
    expect(v.wrap(ipv6Lengths, 14, ipv6Lengths.length)).toBe(WireErrorCode.UNSUPPORTED)
  })
})
