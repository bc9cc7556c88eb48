import {describe, expect, it} from 'vitest'
import {
  ChecksumMode,
  emitUdp,
  internetChecksum,
  parseUdp,
  Udp,
  UdpView,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, fixtures, frame, l4Of, layer, reEmit} from './support.js'

const all = [...fixtures('udp').values()]

describe('UDP against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const u = layer(fx, 'UDP')
    const {off, end, pseudo} = l4Of(fx.bytes)
    const v = new UdpView()
    expect(v.wrap(fx.bytes, off, end)).toBe(0)
    expect([v.srcPort, v.dstPort, v.length, v.checksum]).toEqual([u.sport, u.dport, u.len, u.chksum])
    expect(v.payloadOffset).toBe(off + Udp.HEADER_LEN)
    expect(v.payloadLen).toBe(u.len - Udp.HEADER_LEN)
    expect(v.checksumValid(pseudo)).toBe(true)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const u = layer(fx, 'UDP')
    const {off, end, pseudo} = l4Of(fx.bytes)
    const want = {srcPort: u.sport, dstPort: u.dport, payloadLen: u.len - Udp.HEADER_LEN}
    expect(parseUdp(fx.bytes, off, end, pseudo)).toEqual(want)
    const mode = u.chksum === 0 ? ChecksumMode.ZERO : ChecksumMode.COMPUTE
    const {buf, written} = reEmit(fx, off, Udp.HEADER_LEN, (b) => emitUdp(want, b, off, pseudo, mode))
    expect(written).toBe(Udp.HEADER_LEN)
    expect(buf).toEqual(fx.bytes)
  })

  it('sends a computed 0 as 0xFFFF (RFC 768), as scapy does', () => {
    expect(layer(frame('udp', 'ipv4-checksum-ffff'), 'UDP').chksum).toBe(0xffff)
  })

  it('PARTIAL leaves the pseudo-header sum for a NIC to finish into scapy\'s checksum', () => {
    for (const fx of [frame('udp', 'ipv4'), frame('udp', 'ipv6')]) {
      const {off, end, pseudo} = l4Of(fx.bytes)
      const b = Buffer.from(fx.bytes)
      const v = new UdpView()
      v.wrap(b, off, end)
      v.fillChecksum(pseudo, ChecksumMode.PARTIAL)
      // What a device does for CHECKSUM_PARTIAL: sum from the L4 header on, complement, store.
      expect(internetChecksum(b, off, end)).toBe(layer(fx, 'UDP').chksum)
    }
  })
})

describe('UDP malformed input', () => {
  const fx = frame('udp', 'ipv4')
  const {off, end, pseudo} = l4Of(fx.bytes)

  it('truncated header, length field beyond the buffer, length below 8', () => {
    const v = new UdpView()
    expect(v.wrap(fx.bytes, off, off + 7)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseUdp(fx.bytes, off, off + 7), WireErrorCode.TRUNCATED, /needs 8 bytes, 7 available/)
    expectWireError(() => parseUdp(fx.bytes, off, end - 1), WireErrorCode.TRUNCATED, /length 15 exceeds the 14 bytes/)
    const b = Buffer.from(fx.bytes)
    b.writeUInt16BE(7, off + 4)
    expect(v.wrap(b, off, end)).toBe(WireErrorCode.BAD_LENGTH)
    expectWireError(() => parseUdp(b, off, end), WireErrorCode.BAD_LENGTH, /length 7 is less than 8/)
  })

  it('bad checksum; zero means none', () => {
    const b = Buffer.from(fx.bytes)
    b[off + Udp.CHECKSUM] ^= 1
    expectWireError(() => parseUdp(b, off, end, pseudo), WireErrorCode.BAD_CHECKSUM, /UDP checksum/)
    expect(parseUdp(b, off, end).srcPort).toBe(40000)
    b.writeUInt16BE(0, off + Udp.CHECKSUM)
    expect(parseUdp(b, off, end, pseudo).srcPort).toBe(40000)
  })

  it('bounds the datagram by its length field, not the IP payload', () => {
    const v = new UdpView()
    const longer = Buffer.concat([fx.bytes, Buffer.alloc(5)])
    expect(v.wrap(longer, off, longer.length)).toBe(0)
    expect(v.end).toBe(end)
  })

  it('port setters write in place', () => {
    const b = Buffer.from(fx.bytes)
    const v = new UdpView()
    v.wrap(b, off, end)
    v.srcPort = 53
    v.dstPort = 5353
    v.fillChecksum(pseudo)
    expect(parseUdp(b, off, end, pseudo)).toMatchObject({srcPort: 53, dstPort: 5353})
  })
})
