import {readFileSync} from 'node:fs'
import {describe, expect, it} from 'vitest'
import {LINKTYPE_ETHERNET, LINKTYPE_RAW, PcapWriter, pcapFile, readPcap, WireErrorCode} from '../../../src/lib/wire/index.js'
import {expectWireError, FIXTURE_DIR, fixtures} from './support.js'

const T0 = 1700000000

describe('pcap', () => {
  it('reads scapy\'s files: link type, timestamps, lengths', () => {
    const p = readPcap(readFileSync(FIXTURE_DIR + 'nvgre.pcap'))
    expect(p.linkType).toBe(LINKTYPE_ETHERNET)
    expect(p.nanosecond).toBe(false)
    expect(p.records.map((r) => r.tsSec)).toEqual(p.records.map((_, i) => T0 + i))
    for (const r of p.records) expect(r.origLen).toBe(r.data.length)
  })

  it.each(['arp', 'ipv4', 'icmpv6', 'nvgre', 'dhcp'])('writes %s.pcap byte for byte as scapy did', (name) => {
    const frames = [...fixtures(name).values()].map((f) => f.bytes)
    expect(pcapFile(frames, LINKTYPE_ETHERNET, T0)).toEqual(readFileSync(FIXTURE_DIR + name + '.pcap'))
  })

  it('streams through a sink without allocating per frame, and cuts frames to the snap length', () => {
    const chunks: Buffer[] = []
    const w = new PcapWriter((b, o, n) => chunks.push(Buffer.from(b.subarray(o, o + n))), LINKTYPE_RAW, 10)
    const frame = Buffer.alloc(30, 7)
    w.write(frame, 5, 25, 12, 345678)
    const p = readPcap(Buffer.concat(chunks))
    expect(p.linkType).toBe(LINKTYPE_RAW)
    expect(p.snapLen).toBe(10)
    expect(p.records).toHaveLength(1)
    expect(p.records[0]).toMatchObject({tsSec: 12, tsFrac: 345678, origLen: 20})
    expect(p.records[0].data).toEqual(Buffer.alloc(10, 7))
  })

  it('reads big-endian and nanosecond files', () => {
    const le = pcapFile([Buffer.from([1, 2, 3])], LINKTYPE_ETHERNET, 5)
    const be = Buffer.from(le)
    for (const [at, size] of [[0, 4], [4, 2], [6, 2], [16, 4], [20, 4], [24, 4], [28, 4], [32, 4], [36, 4]]) {
      be.subarray(at, at + size).reverse()
    }
    be.writeUInt32BE(0xa1b23c4d, 0)
    const p = readPcap(be)
    expect(p.nanosecond).toBe(true)
    expect(p.records[0]).toMatchObject({tsSec: 5, origLen: 3})
    expect(p.records[0].data).toEqual(Buffer.from([1, 2, 3]))
  })

  it('rejects what is not a pcap, or a cut one', () => {
    expectWireError(() => readPcap(Buffer.alloc(10)), WireErrorCode.BAD_PCAP, /needs 24 bytes/)
    expectWireError(() => readPcap(Buffer.alloc(24)), WireErrorCode.BAD_PCAP, /not a pcap file/)
    const f = pcapFile([Buffer.alloc(20)])
    expectWireError(() => readPcap(f.subarray(0, f.length - 1)), WireErrorCode.BAD_PCAP, /claims 20 bytes, 19 remain/)
    expectWireError(() => readPcap(f.subarray(0, 30)), WireErrorCode.BAD_PCAP, /cut short/)
  })
})
