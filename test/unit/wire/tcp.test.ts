import {describe, expect, it} from 'vitest'
import {
  emitTcp,
  findTcpOption,
  parseTcp,
  TcpFlag,
  Tcp,
  TcpOpt,
  TcpView,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, l4Of, layer, reEmit} from './support.js'

const all = [...fixtures('tcp').values()]

function scapyMss(fx: Fixture): number {
  const opt = (layer(fx, 'TCP').options as [string, unknown][]).find(([k]) => k === 'MSS')
  return opt === undefined ? -1 : (opt[1] as number)
}

describe('TCP against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const t = layer(fx, 'TCP')
    const {off, end, pseudo} = l4Of(fx.bytes)
    const v = new TcpView()
    expect(v.wrap(fx.bytes, off, end)).toBe(0)
    expect([v.srcPort, v.dstPort, v.seq, v.ack]).toEqual([t.sport, t.dport, t.seq, t.ack])
    expect([v.headerLen, v.flags, v.window, v.checksum, v.urgent]).toEqual([t.dataofs * 4, t.flags, t.window, t.chksum, t.urgptr])
    expect(v.mss).toBe(scapyMss(fx))
    expect(v.checksumValid(pseudo)).toBe(true)
    expect(v.payloadLen).toBe(end - off - t.dataofs * 4)
  })

  it.each(all.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const t = layer(fx, 'TCP')
    const {off, end, pseudo} = l4Of(fx.bytes)
    const headerLen = t.dataofs * 4
    const want = {
      srcPort: t.sport,
      dstPort: t.dport,
      seq: t.seq,
      ack: t.ack,
      flags: t.flags,
      window: t.window,
      urgent: t.urgptr,
      // scapy's option bytes (its padding included) are opaque to the emitter.
      options: new Uint8Array(fx.bytes.subarray(off + Tcp.OPTIONS, off + headerLen)),
      payloadLen: end - off - headerLen,
    }
    expect(parseTcp(fx.bytes, off, end, pseudo)).toEqual(want)
    const {buf, written} = reEmit(fx, off, headerLen, (b) => emitTcp(want, b, off, pseudo))
    expect(written).toBe(headerLen)
    expect(buf).toEqual(fx.bytes)
  })
})

describe('TCP MSS rewrite (clamping)', () => {
  it.each([
    ['syn', 'syn-mss-1418', 1418],
    ['syn-odd-mss-1460', 'syn-odd-mss-1200', 1200],
  ])('rewrites %s into scapy\'s %s, checksum included', (from, to, mss) => {
    const buf = Buffer.from(frame('tcp', from).bytes)
    const {off, end} = l4Of(buf)
    const v = new TcpView()
    expect(v.wrap(buf, off, end)).toBe(0)
    expect(v.setMss(mss)).toBe(true)
    expect(v.mss).toBe(mss)
    expect(buf).toEqual(frame('tcp', to).bytes)
  })

  it('reports no MSS option', () => {
    const buf = Buffer.from(frame('tcp', 'no-mss').bytes)
    const {off, end} = l4Of(buf)
    const v = new TcpView()
    v.wrap(buf, off, end)
    expect(v.mss).toBe(-1)
    expect(v.setMss(1200)).toBe(false)
    expect(buf).toEqual(frame('tcp', 'no-mss').bytes)
  })

  it('finds options by kind, and tells absent from malformed', () => {
    const b = Buffer.from([1, 1, 4, 2, 2, 4, 5, 0xb4])
    expect(findTcpOption(b, 0, b.length, TcpOpt.MSS)).toBe(4)
    expect(findTcpOption(b, 0, b.length, 8)).toBe(-1)
    expect(findTcpOption(Buffer.from([0, 2, 4, 5, 0xb4]), 0, 5, TcpOpt.MSS)).toBe(-1)
    expect(findTcpOption(Buffer.from([2, 3, 5]), 0, 3, TcpOpt.MSS)).toBe(-2)
    expect(findTcpOption(Buffer.from([8, 10, 0]), 0, 3, TcpOpt.MSS)).toBe(-2)
    expect(findTcpOption(Buffer.from([8]), 0, 1, TcpOpt.MSS)).toBe(-2)
  })
})

describe('TCP malformed input', () => {
  const fx = frame('tcp', 'syn')
  const {off, end, pseudo} = l4Of(fx.bytes)

  it('truncated header, data offset below 5 or beyond the segment', () => {
    const v = new TcpView()
    expect(v.wrap(fx.bytes, off, off + 19)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseTcp(fx.bytes, off, off + 19), WireErrorCode.TRUNCATED, /needs 20 bytes, 19 available/)
    expectWireError(() => parseTcp(fx.bytes, off, off + 30), WireErrorCode.TRUNCATED, /header length 40 exceeds the 30 bytes/)
    const b = Buffer.from(fx.bytes)
    b[off + 12] = 0x40
    expect(v.wrap(b, off, end)).toBe(WireErrorCode.BAD_HEADER_LEN)
    expectWireError(() => parseTcp(b, off, end), WireErrorCode.BAD_HEADER_LEN, /header length 16 is less than 20/)
  })

  it('malformed options and bad checksums', () => {
    const b = Buffer.from(fx.bytes)
    b[off + Tcp.OPTIONS + 1] = 3
    expectWireError(() => parseTcp(b, off, end), WireErrorCode.BAD_OPTION, /TCP options are malformed/)
    const c = Buffer.from(fx.bytes)
    c[off + Tcp.CHECKSUM] ^= 4
    expectWireError(() => parseTcp(c, off, end, pseudo), WireErrorCode.BAD_CHECKSUM, /TCP checksum/)
  })

  it('carries the AE (ex-NS) bit as flag bit 8', () => {
    const b = Buffer.alloc(Tcp.HEADER_LEN)
    emitTcp({srcPort: 1, dstPort: 2, seq: 3, ack: 4, flags: TcpFlag.AE | TcpFlag.SYN, window: 5, urgent: 0, options: new Uint8Array(0), payloadLen: 0}, b, 0, 0)
    expect(b[12]).toBe(0x51)
    expect(parseTcp(b, 0, b.length, 0).flags).toBe(TcpFlag.AE | TcpFlag.SYN)
  })

  it('refuses options longer than 40 bytes', () => {
    expectWireError(
      () => emitTcp({srcPort: 1, dstPort: 2, seq: 0, ack: 0, flags: 0, window: 0, urgent: 0, options: new Uint8Array(41), payloadLen: 0}, Buffer.alloc(80), 0, 0),
      WireErrorCode.BAD_OPTION,
    )
  })
})
