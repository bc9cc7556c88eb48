import {describe, expect, it} from 'vitest'
import {
  emitEthernet,
  Eth,
  EtherType,
  EthernetView,
  parseEthernet,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, fixtures, hasLayer, layer, reEmit} from './support.js'

/** The (hi16, lo32) pair a view exposes, computed from the text independently of address.ts. */
function macWords(mac: string): [number, number] {
  const h = mac.replace(/:/g, '')
  return [parseInt(h.slice(0, 4), 16), parseInt(h.slice(4), 16)]
}

const frames = [...fixtures('ethernet').values(), ...fixtures('arp').values()]

describe('Ethernet against scapy', () => {
  it.each(frames.map((f) => [f.name, f] as const))('deconstructs %s', (_name, fx) => {
    const eth = layer(fx, 'Ethernet')
    const v = new EthernetView()
    expect(v.wrap(fx.bytes, 0, fx.bytes.length)).toBe(0)
    expect([v.dstHi, v.dstLo]).toEqual(macWords(eth.dst))
    expect([v.srcHi, v.srcLo]).toEqual(macWords(eth.src))
    expect(v.dstIsBroadcast).toBe(eth.dst === 'ff:ff:ff:ff:ff:ff')
    expect(v.dstIsGroup).toBe((parseInt(eth.dst.slice(0, 2), 16) & 1) === 1)
    if (hasLayer(fx, '802.1Q')) {
      const q = layer(fx, '802.1Q')
      expect(v.tagged).toBe(true)
      expect(v.vlanId).toBe(q.vlan)
      expect(v.vlanTci >>> 13).toBe(q.prio)
      expect((v.vlanTci >>> 12) & 1).toBe(q.id)
      expect(v.etherType).toBe(q.type)
      expect(v.payloadOffset).toBe(Eth.VLAN_HEADER_LEN)
    } else {
      expect(v.tagged).toBe(false)
      expect(v.vlanTci).toBe(0)
      expect(v.etherType).toBe(eth.type)
      expect(v.payloadOffset).toBe(Eth.HEADER_LEN)
    }
  })

  it.each(frames.map((f) => [f.name, f] as const))('parses and re-emits %s byte for byte', (_name, fx) => {
    const eth = layer(fx, 'Ethernet')
    const repr = parseEthernet(fx.bytes, 0, fx.bytes.length)
    expect(repr.dst).toBe(eth.dst)
    expect(repr.src).toBe(eth.src)
    if (hasLayer(fx, '802.1Q')) {
      const q = layer(fx, '802.1Q')
      expect(repr.vlan).toEqual({pcp: q.prio, dei: q.id === 1, vid: q.vlan})
      expect(repr.etherType).toBe(q.type)
    } else {
      expect(repr.vlan).toBeUndefined()
      expect(repr.etherType).toBe(eth.type)
    }
    // Built from scapy's field values, not from our parse.
    const fromScapy = hasLayer(fx, '802.1Q')
      ? {dst: eth.dst, src: eth.src, etherType: layer(fx, '802.1Q').type, vlan: {pcp: layer(fx, '802.1Q').prio, dei: layer(fx, '802.1Q').id === 1, vid: layer(fx, '802.1Q').vlan}}
      : {dst: eth.dst, src: eth.src, etherType: eth.type}
    const len = repr.vlan ? Eth.VLAN_HEADER_LEN : Eth.HEADER_LEN
    const {buf, written} = reEmit(fx, 0, len, (b) => emitEthernet(fromScapy, b, 0))
    expect(written).toBe(len)
    expect(buf).toEqual(fx.bytes)
  })
})

describe('Ethernet edges', () => {
  const tagged = fixtures('ethernet').get('vlan-100')!.bytes

  it('reports a frame shorter than 14 bytes, and a tagged one shorter than 18', () => {
    const v = new EthernetView()
    expect(v.wrap(tagged, 0, 13)).toBe(WireErrorCode.TRUNCATED)
    expect(v.wrap(tagged, 0, 17)).toBe(WireErrorCode.TRUNCATED)
    expect(v.wrap(tagged, 0, 18)).toBe(0)
    expectWireError(() => parseEthernet(tagged, 0, 10), WireErrorCode.TRUNCATED, /needs 14 bytes, 10 available/)
    expectWireError(() => parseEthernet(tagged, 0, 16), WireErrorCode.TRUNCATED, /needs 18 bytes, 16 available/)
  })

  it('reads at an offset and writes addresses and type in place', () => {
    const buf = Buffer.alloc(64, 0xee)
    const untagged = fixtures('ethernet').get('ipv4')!.bytes
    untagged.copy(buf, 7)
    const v = new EthernetView()
    expect(v.wrap(buf, 7, 7 + untagged.length)).toBe(0)
    v.setDst(0x0606, 0x00000009)
    v.setSrc(0x0200, 0x00000011)
    v.etherType = EtherType.ARP
    expect(parseEthernet(buf, 7, 7 + 14)).toEqual({dst: '06:06:00:00:00:09', src: '02:00:00:00:00:11', etherType: EtherType.ARP})
    expect(buf[6]).toBe(0xee)
  })

  it('passes unknown EtherTypes (and 802.3 lengths) through as numbers', () => {
    const buf = Buffer.from(fixtures('ethernet').get('ipv4')!.bytes)
    buf.writeUInt16BE(0x88cc, 12)
    expect(parseEthernet(buf, 0, buf.length).etherType).toBe(0x88cc)
    buf.writeUInt16BE(46, 12)
    expect(parseEthernet(buf, 0, buf.length).etherType).toBe(46)
  })

  it('emits an untagged header of 14 bytes', () => {
    const buf = Buffer.alloc(14)
    expect(emitEthernet({dst: 'ff:ff:ff:ff:ff:ff', src: '06-06-00-00-00-05', etherType: EtherType.IPV4}, buf, 0)).toBe(14)
    expect(buf.toString('hex')).toBe('ffffffffffff0606000000050800')
  })
})
