// Segmentation and coalescing (src/lib/engine/offload.ts) against frames scapy made
// (test/fixtures/offload/make-fixtures.py): super-frames a vnet_hdr TAP hands over and the segments the
// kernel would cut them into; runs of segments and the super-frame GRO would build. Every segment we
// write is also decoded by tshark with checksum verification on.
import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import fc from 'fast-check'
import {afterAll, describe, expect, it} from 'vitest'
import {Coalescer, CoalesceStat, innerMtu, OffloadBatch, Segmenter, SegmentStat} from '../../../src/lib/engine/offload.js'
import {DropReason, dropReasonName} from '../../../src/lib/engine/stages.js'
import {VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_TCPV6, VNET_HEADER_LEN, vnetIngress} from '../../../src/lib/engine/vnet.js'
import {checksumValid, fold, sum16} from '../../../src/lib/wire/checksum.js'
import {pcapFile} from '../../../src/lib/wire/pcap.js'
import {batchFrames, readOffloadFixture, readVnet, unalignedBatch, type SegmentCase, type Vnet} from '../../support/offload-fixtures.js'

const hasTshark = spawnSync('tshark', ['--version'], {stdio: 'ignore'}).status === 0

interface CoalesceCase {
  name: string
  frames: string[]
  outputs: {vnet: Vnet | null; frame: string}[]
}

const segmentCases = readOffloadFixture<SegmentCase[]>('segment.json')
const coalesceCases = readOffloadFixture<CoalesceCase[]>('coalesce.json')

function writeVnet(b: Uint8Array, at: number, v: Vnet): void {
  const le = (o: number, x: number) => ((b[at + o] = x & 0xff), (b[at + o + 1] = x >>> 8))
  b[at] = v.flags
  b[at + 1] = v.gsoType
  le(2, v.hdrLen)
  le(4, v.gsoSize)
  le(6, v.csumStart)
  le(8, v.csumOffset)
}

/** The case's header and frame in a buffer, at odd offsets (nothing may assume alignment). */
function source(c: {vnet: Vnet; frame: string}): {src: Buffer; hdr: number; frame: number; end: number} {
  const frame = Buffer.from(c.frame, 'hex')
  const src = Buffer.alloc(frame.length + 40, 0xee)
  writeVnet(src, 3, c.vnet)
  frame.copy(src, 3 + VNET_HEADER_LEN)
  return {src, hdr: 3, frame: 3 + VNET_HEADER_LEN, end: 3 + VNET_HEADER_LEN + frame.length}
}

const HEADROOM = 62
/** The memcpy option, as a native fast call would provide it (Buffer.copy allocates; fine in a test). */
const memcpy = (src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void => {
  Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(dst, at, from, to)
}
/** The checksum option, as a native fast call would provide it. */
const checksum = (buf: Uint8Array, from: number, to: number): number => fold(sum16(buf, from, to))
const COPIES = [
  ['DataView copies', {}],
  ['memcpy option', {memcpy}],
  ['memcpy and checksum options', {memcpy, checksum}],
] as const

/** Every fixture super-frame that is to be segmented, through a fresh Segmenter. */
function segmentAll(): Buffer[] {
  const segmenter = new Segmenter()
  const out = new OffloadBatch(256 * 1024, 128)
  const all: Buffer[] = []
  for (const c of segmentCases.filter((x) => x.segments !== null)) {
    const {src, hdr, frame, end} = source(c)
    out.reset()
    expect(segmenter.segment(src, hdr, frame, end, c.maxIpLen, out, HEADROOM)).toBe(c.segments!.length)
    all.push(...batchFrames(out))
  }
  return all
}

describe.each(COPIES)('Segmenter (%s): super-frames from a vnet_hdr TAP, against segments scapy made', (_, options) => {
  const segmenter = new Segmenter(options)
  const out = new OffloadBatch(256 * 1024, 128)
  for (const c of segmentCases) {
    it(c.name, () => {
      const {src, hdr, frame, end} = source(c)
      const before = Buffer.from(src)
      out.reset()
      // Something already in the batch: segments are appended after it.
      out.offsets[0] = 0
      out.lengths[0] = 5
      out.count = 1
      out.used = 5
      const n = segmenter.segment(src, hdr, frame, end, c.maxIpLen, out, HEADROOM)
      expect(src.equals(before), 'the source is not modified').toBe(true)
      if (c.segments === null) {
        expect(dropReasonName(-n)).toBe(c.reason)
        expect(out.count).toBe(1)
        expect(out.used).toBe(5)
        return
      }
      expect(n).toBe(c.segments.length)
      expect(out.count).toBe(1 + n)
      const got = batchFrames(out, 1)
      got.forEach((g, i) => expect(g.toString('hex'), 'segment ' + i).toBe(c.segments![i]))
      let prevEnd = 5
      for (let i = 1; i < out.count; i++) {
        expect(out.offsets[i] - prevEnd, 'headroom before segment ' + i).toBeGreaterThanOrEqual(HEADROOM)
        prevEnd = out.offsets[i] + out.lengths[i]
        expect(out.lengths[i] - 14, 'IP packet within the inner MTU').toBeLessThanOrEqual(c.maxIpLen)
      }
      expect(out.used).toBe(prevEnd)
    })
  }

  it('reassembles the byte stream: payloads by sequence number give back the super-frame payload', () => {
    for (const c of segmentCases.filter((x) => x.segments !== null && x.vnet.gsoType !== VNET_GSO_NONE && (x.vnet.gsoType & 0x7f) !== 5)) {
      const sup = Buffer.from(c.frame, 'hex')
      const v6 = sup.readUInt16BE(12) === 0x86dd
      const ipLen = v6 ? 40 : (sup[14] & 15) * 4
      const tcp = 14 + ipLen
      const payloadAt = tcp + (sup[tcp + 12] >>> 4) * 4
      const seq0 = sup.readUInt32BE(tcp + 4)
      const {src, hdr, frame, end} = source(c)
      out.reset()
      const n = segmenter.segment(src, hdr, frame, end, c.maxIpLen, out, 0)
      const stream = Buffer.alloc(sup.length - payloadAt)
      let covered = 0
      for (const s of batchFrames(out)) {
        const off = (s.readUInt32BE(tcp + 4) - seq0) >>> 0
        const p = s.subarray(payloadAt)
        p.copy(stream, off)
        covered += p.length
        if (!v6) {
          expect(s.readUInt16BE(14 + 2)).toBe(s.length - 14)
          expect(checksumValid(s, 14, 14 + ipLen)).toBe(true)
        } else {
          expect(s.readUInt16BE(14 + 4)).toBe(s.length - 54)
        }
      }
      expect(n).toBeGreaterThan(0)
      expect(covered, c.name).toBe(stream.length)
      expect(stream.equals(sup.subarray(payloadAt)), c.name).toBe(true)
    }
  })

  it('counts super-frames, segments, plain frames and clamped MSS', () => {
    expect(segmenter.stats[SegmentStat.SUPERFRAMES]).toBeGreaterThan(10)
    expect(segmenter.stats[SegmentStat.PLAIN]).toBeGreaterThanOrEqual(2)
    expect(segmenter.stats[SegmentStat.MSS_CLAMPED]).toBeGreaterThanOrEqual(2)
    expect(segmenter.stats[SegmentStat.SEGMENTS]).toBeGreaterThan(segmenter.stats[SegmentStat.SUPERFRAMES])
  })

  it('refuses, with out unchanged, a super-frame whose segments do not fit the batch', () => {
    const c = segmentCases.find((x) => x.name.startsWith('tcp4 64 KB'))!
    const {src, hdr, frame, end} = source(c)
    const small = new OffloadBatch(20000, 128)
    expect(segmenter.segment(src, hdr, frame, end, c.maxIpLen, small, HEADROOM)).toBe(-DropReason.OFFLOAD_NO_ROOM)
    expect([small.count, small.used]).toEqual([0, 0])
    const few = new OffloadBatch(256 * 1024, 10)
    expect(segmenter.segment(src, hdr, frame, end, c.maxIpLen, few, HEADROOM)).toBe(-DropReason.OFFLOAD_NO_ROOM)
    expect(few.count).toBe(0)
  })

  it('stays right when more source and output buffers take turns than it caches views for', () => {
    const c = segmentCases.find((x) => x.name.startsWith('tcp4 timestamps'))!
    const sources = Array.from({length: 11}, () => source(c))
    const outs = Array.from({length: 3}, () => new OffloadBatch(64 * 1024, 16))
    const s = new Segmenter()
    for (let round = 0; round < 3; round++) {
      sources.forEach(({src, hdr, frame, end}, i) => {
        const o = outs[(i + round) % outs.length]
        o.reset()
        expect(s.segment(src, hdr, frame, end, c.maxIpLen, o, HEADROOM)).toBe(c.segments!.length)
        expect(batchFrames(o).map((f) => f.toString('hex'))).toEqual(c.segments)
      })
    }
  })

  it('a plain frame larger than the inner MTU is refused, not sent whole', () => {
    const c = segmentCases.find((x) => x.name.startsWith('tcp4 20000 bytes'))!
    const {src, hdr, frame, end} = source({...c, vnet: {...c.vnet, gsoType: VNET_GSO_NONE}})
    const out = new OffloadBatch(64 * 1024, 16)
    expect(new Segmenter().segment(src, hdr, frame, end, c.maxIpLen, out, 0)).toBe(-DropReason.SEGMENT_TOO_BIG)
    expect(out.count).toBe(0)
  })

  it('innerMtu: 1500 leaves 1458 under NVGRE over IPv4 and 1438 over IPv6', () => {
    expect(innerMtu(1500, false)).toBe(1458)
    expect(innerMtu(1500, true)).toBe(1438)
  })

  it('vnetIngress completes a plain NEEDS_CSUM frame in place and leaves GSO frames to the Segmenter', () => {
    const plain = segmentCases.find((x) => x.name === 'plain tcp4 NEEDS_CSUM')!
    const {src, hdr, frame, end} = source(plain)
    expect(vnetIngress(src, hdr, frame, end)).toBe(DropReason.NONE)
    expect(src.subarray(frame, end).toString('hex')).toBe(plain.segments![0])
    const gso = source(segmentCases[0])
    expect(vnetIngress(gso.src, gso.hdr, gso.frame, gso.end)).toBe(DropReason.OFFLOAD_UNSUPPORTED)
  })
})

describe('Segmenter: the IP length field bounds the super-frame', () => {
  const c = segmentCases.find((x) => x.name.startsWith('tcp4 20000 bytes'))!
  const c6 = segmentCases.find((x) => x.name.startsWith('tcp6 20000 bytes'))!
  const run = (frame: Buffer, v: SegmentCase): number | Buffer[] => {
    const {src, hdr, frame: f, end} = source({vnet: v.vnet, frame: frame.toString('hex')})
    const out = new OffloadBatch(256 * 1024, 128)
    const n = new Segmenter().segment(src, hdr, f, end, v.maxIpLen, out, 0)
    return n < 0 ? n : batchFrames(out)
  }
  it('bytes after the IP packet (padding) are not sent', () => {
    for (const v of [c, c6]) {
      const padded = Buffer.concat([Buffer.from(v.frame, 'hex'), Buffer.alloc(9, 0xab)])
      expect((run(padded, v) as Buffer[]).map((x) => x.toString('hex'))).toEqual(v.segments)
    }
  })
  it('a length of 0 means the whole frame', () => {
    const f = Buffer.from(c.frame, 'hex')
    f.writeUInt16BE(0, 14 + 2)
    // The IPv4 header checksum of the super-frame is not checked: each segment gets its own.
    expect((run(f, c) as Buffer[]).map((x) => x.toString('hex'))).toEqual(c.segments)
  })
  it('a length beyond the frame is malformed', () => {
    const f = Buffer.from(c.frame, 'hex')
    f.writeUInt16BE(f.length - 14 + 1, 14 + 2)
    expect(run(f, c)).toBe(-DropReason.MALFORMED)
    const g = Buffer.from(c6.frame, 'hex')
    g.writeUInt16BE(g.length - 54 + 1, 14 + 4)
    expect(run(g, c6)).toBe(-DropReason.MALFORMED)
  })
})

describe('tshark decodes every segment we wrote', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnv-offload-tshark-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))
  const FIELDS = ['frame.number', 'ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status', 'ip.len', 'ipv6.plen', 'tcp.len', 'udp.length', '_ws.malformed', '_ws.expert.severity', '_ws.expert.message']
  const PI_ERROR = 0x800000
  const title = 'no bad checksum, no malformed frame, lengths as the headers say'
  it.skipIf(!hasTshark)(hasTshark ? title : title + ' (skipped: tshark is not installed; apt-get install tshark)', () => {
    const segmented = segmentAll()
    expect(segmented.length).toBeGreaterThan(150)
    const file = join(dir, 'segments.pcap')
    writeFileSync(file, pcapFile(segmented, 1, 1700000000))
    if (process.env.HNV_OFFLOAD_KEEP_PCAP) writeFileSync(process.env.HNV_OFFLOAD_KEEP_PCAP, readFileSync(file))
    const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE', '-o', 'tcp.analyze_sequence_numbers:FALSE']
    const run = spawnSync('tshark', [...args, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', ...FIELDS.flatMap((f) => ['-e', f])], {encoding: 'utf8', maxBuffer: 1 << 26})
    expect(run.status, run.stderr).toBe(0)
    const rows = run.stdout.replace(/\n$/, '').split('\n').map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i], v])))
    expect(rows).toHaveLength(segmented.length)
    rows.forEach((row, i) => {
      const where = 'segment ' + (i + 1)
      const statuses = ['ip.checksum.status', 'tcp.checksum.status', 'udp.checksum.status'].flatMap((f) => row[f].split(',').filter((s) => s !== ''))
      expect(statuses.length, where).toBeGreaterThan(0)
      for (const s of statuses) expect(s, where).toBe('1')
      expect(row['_ws.malformed'], where).toBe('')
      const severities = row['_ws.expert.severity'].split(',').filter((s) => s !== '').map(Number)
      expect(severities.filter((s) => s >= PI_ERROR), where + ': ' + row['_ws.expert.message']).toEqual([])
      const ipLen = row['ip.len'] !== '' ? Number(row['ip.len']) : Number(row['ipv6.plen']) + 40
      expect(ipLen, where).toBe(segmented[i].length - 14)
    })
  })
})

describe.each(COPIES)('Coalescer (%s): runs of segments scapy made, against the super-frame GRO builds', (_, options) => {
  for (const vnetLen of [10, 12]) {
    for (const c of coalesceCases) {
      it(c.name + ' (virtio header ' + vnetLen + ' bytes)', () => {
        const co = new Coalescer(options)
        const inputs = c.frames.map((h) => Buffer.from(h, 'hex'))
        const {src, offsets, lengths} = unalignedBatch(inputs)
        const before = Buffer.from(src)
        const out = new OffloadBatch(256 * 1024, 128)
        const n = co.coalesce(src, offsets, lengths, inputs.length, out, vnetLen)
        expect(src.equals(before)).toBe(true)
        expect(n).toBe(c.outputs.length)
        expect(out.count).toBe(n)
        batchFrames(out).forEach((o, k) => {
          const want = c.outputs[k]
          const where = 'output ' + k
          if (want.vnet === null) expect(o.subarray(0, vnetLen).every((x) => x === 0), where).toBe(true)
          else expect(readVnet(o, 0), where).toEqual(want.vnet)
          for (let b = VNET_HEADER_LEN; b < vnetLen; b++) expect(o[b], where + ' num_buffers').toBe(0)
          expect(o.subarray(vnetLen).toString('hex'), where).toBe(want.frame)
        })
        const merged = c.outputs.filter((o) => o.vnet !== null).length
        expect(co.stats[CoalesceStat.SUPERFRAMES]).toBe(merged)
        expect(co.stats[CoalesceStat.PASSED_THROUGH]).toBe(c.outputs.length - merged)
        expect(co.stats[CoalesceStat.FRAMES_IN]).toBe(inputs.length)
      })
    }
  }

  it('super-frames segment back into the very segments scapy made (IDs incrementing)', () => {
    const segmenter = new Segmenter()
    for (const name of ['ten tcp4 segments: one super-frame', 'tcp6 with identical timestamps', 'two interleaved flows', 'up to 64 KB: 47 segments of 1448 make two super-frames']) {
      const c = coalesceCases.find((x) => x.name === name)!
      const co = new Coalescer()
      const src = Buffer.concat(c.frames.map((h) => Buffer.from(h, 'hex')))
      const offsets = new Uint32Array(c.frames.length)
      const lengths = new Uint32Array(c.frames.length)
      let at = 0
      c.frames.forEach((h, i) => ((offsets[i] = at), (lengths[i] = h.length / 2), (at += h.length / 2)))
      const sup = new OffloadBatch(256 * 1024, 64)
      co.coalesce(src, offsets, lengths, c.frames.length, sup, VNET_HEADER_LEN)
      const back = new OffloadBatch(256 * 1024, 128)
      for (let k = 0; k < sup.count; k++) {
        const o = sup.offsets[k]
        expect(segmenter.segment(sup.buffer, o, o + VNET_HEADER_LEN, o + sup.lengths[k], 1500, back, 0)).toBeGreaterThan(0)
      }
      const got = batchFrames(back).map((f) => f.toString('hex')).sort()
      expect(got, name).toEqual([...c.frames].sort())
    }
  })

  it('a segment with another Ethernet header is not merged into its flow', () => {
    const c = coalesceCases.find((x) => x.name === 'ten tcp4 segments: one super-frame')!
    const inputs = c.frames.map((h) => Buffer.from(h, 'hex'))
    inputs[5][0] ^= 0x02
    const src = Buffer.concat(inputs)
    const offsets = new Uint32Array(inputs.length)
    const lengths = new Uint32Array(inputs.length)
    let at = 0
    inputs.forEach((f, i) => ((offsets[i] = at), (lengths[i] = f.length), (at += f.length)))
    const out = new OffloadBatch(256 * 1024, 16)
    expect(new Coalescer().coalesce(src, offsets, lengths, inputs.length, out, 10)).toBe(3)
    expect(batchFrames(out)[1].subarray(10).equals(inputs[5])).toBe(true)
  })

  it('refuses a batch that does not fit the output area, leaving it unchanged', () => {
    const c = coalesceCases[0]
    const src = Buffer.concat(c.frames.map((h) => Buffer.from(h, 'hex')))
    const offsets = new Uint32Array(c.frames.length)
    const lengths = new Uint32Array(c.frames.length)
    let at = 0
    c.frames.forEach((h, i) => ((offsets[i] = at), (lengths[i] = h.length / 2), (at += h.length / 2)))
    const out = new OffloadBatch(4000, 4)
    expect(new Coalescer().coalesce(src, offsets, lengths, c.frames.length, out, 10)).toBe(-DropReason.OFFLOAD_NO_ROOM)
    expect([out.count, out.used]).toEqual([0, 0])
  })
})

/** A TCP/IPv4 or IPv6 super-frame of random shape, built here only for the property (scapy made the rest). */
function superFrame(v6: boolean, payload: Uint8Array, seq: number, id: number, ts: boolean, flags: number): Buffer {
  const ipLen = v6 ? 40 : 20
  const tcpLen = ts ? 32 : 20
  const b = Buffer.alloc(14 + ipLen + tcpLen + payload.length)
  b.writeUInt16BE(v6 ? 0x86dd : 0x0800, 12)
  const ip = 14
  if (v6) {
    b[ip] = 0x60
    b.writeUInt16BE(tcpLen + payload.length, ip + 4)
    b[ip + 6] = 6
    b[ip + 7] = 64
    b[ip + 8] = 0x20
    b[ip + 9] = 0x01
    b[ip + 23] = 5
    b[ip + 24] = 0x20
    b[ip + 25] = 0x01
    b[ip + 39] = 7
  } else {
    b[ip] = 0x45
    b.writeUInt16BE(ipLen + tcpLen + payload.length, ip + 2)
    b.writeUInt16BE(id, ip + 4)
    b[ip + 6] = 0x40
    b[ip + 8] = 64
    b[ip + 9] = 6
    b.writeUInt32BE(0x0a000005, ip + 12)
    b.writeUInt32BE(0x0a000007, ip + 16)
    b.writeUInt16BE(~fold(sum16(b, ip, ip + 20)) & 0xffff, ip + 10)
  }
  const tcp = ip + ipLen
  b.writeUInt16BE(40000, tcp)
  b.writeUInt16BE(47001, tcp + 2)
  b.writeUInt32BE(seq, tcp + 4)
  b.writeUInt32BE(0x10203040, tcp + 8)
  b[tcp + 12] = (tcpLen / 4) << 4
  b[tcp + 13] = flags
  b.writeUInt16BE(502, tcp + 14)
  if (ts) b.set([1, 1, 8, 10, 0, 1, 2, 3, 4, 5, 6, 7], tcp + 20)
  b.set(payload, tcp + tcpLen)
  const addr = v6 ? ip + 8 : ip + 12
  const pseudo = sum16(b, addr, addr + (v6 ? 32 : 8), 6 + tcpLen + payload.length)
  b.writeUInt16BE(~fold(sum16(b, tcp, b.length, pseudo)) & 0xffff, tcp + 16)
  return b
}

describe('properties', () => {
  it('segment then coalesce gives back the original payload, headers and flags', () => {
    const segmenter = new Segmenter()
    const co = new Coalescer()
    const segs = new OffloadBatch(256 * 1024, 128)
    const back = new OffloadBatch(256 * 1024, 128)
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.integer({min: 1, max: 20000}),
        fc.integer({min: 200, max: 1418}),
        fc.integer({min: 0, max: 0xffffffff}),
        fc.integer({min: 0, max: 0xffff}),
        fc.boolean(),
        fc.constantFrom(0x10, 0x18),
        fc.integer({min: 0, max: 255}),
        (v6, len, mss, seq, id, ts, flags, seed) => {
          const payload = new Uint8Array(len)
          for (let i = 0; i < len; i++) payload[i] = (i * 31 + seed) & 0xff
          const frame = superFrame(v6, payload, seq, id, ts, flags)
          const src = Buffer.alloc(VNET_HEADER_LEN + frame.length)
          const hdrLen = frame.length - len
          writeVnet(src, 0, {flags: 0, gsoType: v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4, hdrLen, gsoSize: mss, csumStart: 0, csumOffset: 0})
          frame.copy(src, VNET_HEADER_LEN)
          segs.reset()
          back.reset()
          const n = segmenter.segment(src, 0, VNET_HEADER_LEN, src.length, 1458, segs, 16)
          const fits = Math.min(mss, 1458 - (v6 ? 40 : 20) - (ts ? 32 : 20))
          expect(n).toBe(Math.ceil(len / fits))
          expect(co.coalesce(segs.buffer, segs.offsets, segs.lengths, segs.count, back, VNET_HEADER_LEN)).toBe(1)
          const o = back.offsets[0]
          const got = back.buffer.subarray(o + VNET_HEADER_LEN, o + back.lengths[0])
          const v = readVnet(back.buffer, o)
          expect(v.gsoType).toBe(n === 1 ? 0 : v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4)
          if (n > 1) expect(v.gsoSize).toBe(fits)
          // Equal but for the TCP checksum (partial in a super-frame) and the IPv4 header checksum/ID.
          expect(got.length).toBe(frame.length)
          expect(Buffer.from(got.subarray(hdrLen)).equals(Buffer.from(payload))).toBe(true)
          const tcp = v6 ? 54 : 34
          expect(got.subarray(tcp, tcp + 16).equals(frame.subarray(tcp, tcp + 16))).toBe(true)
        },
      ),
      {numRuns: 200},
    )
  })

  it('coalescing loses nothing: any mix of two flows, re-segmented, gives back every input frame in flow order', () => {
    const segmenter = new Segmenter()
    const co = new Coalescer({maxFlows: 2})
    const out = new OffloadBatch(1 << 20, 256)
    const back = new OffloadBatch(1 << 20, 256)
    const segment = fc.record({flow: fc.integer({min: 0, max: 1}), len: fc.constantFrom(1000, 1000, 1000, 999, 400), psh: fc.boolean()})
    fc.assert(
      fc.property(fc.array(segment, {minLength: 1, maxLength: 60}), fc.array(fc.nat(59), {maxLength: 6}), fc.boolean(), (plan, swaps, v6) => {
        // Each flow's segments are contiguous in sequence space; swaps then reorder some of them.
        const seq = [1000, 0xfffff000]
        const id = [0, 0xfff0]
        const built = plan.map((p) => {
          const payload = new Uint8Array(p.len).fill(seq[p.flow] & 0xff)
          const f = superFrame(v6 && p.flow === 1, payload, seq[p.flow], id[p.flow], p.flow === 0, p.psh ? 0x18 : 0x10)
          f.writeUInt16BE(40000 + p.flow, 14 + (v6 && p.flow === 1 ? 40 : 20))
          const tcp = 14 + (v6 && p.flow === 1 ? 40 : 20)
          // The port changed: fix the checksum for it (RFC 1624 style, by recomputing).
          f.writeUInt16BE(0, tcp + 16)
          const addr = v6 && p.flow === 1 ? 22 : 26
          const pseudo = sum16(f, addr, addr + (v6 && p.flow === 1 ? 32 : 8), 6 + f.length - tcp)
          f.writeUInt16BE(~fold(sum16(f, tcp, f.length, pseudo)) & 0xffff, tcp + 16)
          seq[p.flow] = (seq[p.flow] + p.len) >>> 0
          id[p.flow] = (id[p.flow] + 1) & 0xffff
          return {flow: p.flow, frame: f}
        })
        for (const w of swaps) {
          const a = w % built.length
          const b = (a + 1) % built.length
          ;[built[a], built[b]] = [built[b], built[a]]
        }
        const src = Buffer.concat(built.map((b) => b.frame))
        const offsets = new Uint32Array(built.length)
        const lengths = new Uint32Array(built.length)
        let at = 0
        built.forEach((b, i) => ((offsets[i] = at), (lengths[i] = b.frame.length), (at += b.frame.length)))
        out.reset()
        back.reset()
        const n = co.coalesce(src, offsets, lengths, built.length, out, VNET_HEADER_LEN)
        expect(n).toBeGreaterThan(0)
        expect(n).toBeLessThanOrEqual(built.length)
        for (let k = 0; k < n; k++) {
          const o = out.offsets[k]
          expect(segmenter.segment(out.buffer, o, o + VNET_HEADER_LEN, o + out.lengths[k], 65535, back, 0)).toBeGreaterThan(0)
        }
        const got = batchFrames(back).map((f) => f.toString('hex'))
        const want = built.map((b) => b.frame.toString('hex'))
        expect(got.length).toBe(want.length)
        for (const flow of [0, 1]) {
          const w = built.filter((b) => b.flow === flow).map((b) => b.frame.toString('hex'))
          expect(got.filter((g) => w.includes(g))).toEqual(w)
        }
      }),
      {numRuns: 300},
    )
    expect(co.stats[CoalesceStat.SUPERFRAMES], 'the runs did merge').toBeGreaterThan(100)
    expect(co.stats[CoalesceStat.PASSED_THROUGH], 'and some did not').toBeGreaterThan(100)
  })

  it('valid frames with a few header bytes changed: a reason or sane output, never a throw', () => {
    const segmenter = new Segmenter()
    const co = new Coalescer({verifyChecksums: false})
    const out = new OffloadBatch(1 << 20, 256)
    const supers = segmentCases.filter((c) => c.segments !== null).slice(0, 16)
    const run = coalesceCases.find((x) => x.name === 'ten tcp4 segments: one super-frame')!
    const flip = fc.array(fc.tuple(fc.nat(99), fc.integer({min: 1, max: 255})), {minLength: 1, maxLength: 4})
    fc.assert(
      fc.property(fc.nat(supers.length - 1), flip, fc.nat(9), (k, flips, which) => {
        const {src, hdr, frame, end} = source(supers[k])
        // Offsets 0..9 hit the virtio header, the rest the Ethernet/IP/TCP headers.
        for (const [at, x] of flips) src[hdr + at] ^= x
        out.reset()
        const n = segmenter.segment(src, hdr, frame, end, supers[k].maxIpLen, out, 8)
        if (n > 0) for (let i = 0; i < out.count; i++) expect(out.lengths[i] - 14).toBeLessThanOrEqual(supers[k].maxIpLen)
        const inputs = run.frames.map((h) => Buffer.from(h, 'hex'))
        for (const [at, x] of flips) inputs[which][at] ^= x
        const buf = Buffer.concat(inputs)
        const offsets = new Uint32Array(inputs.length)
        const lengths = new Uint32Array(inputs.length)
        let o = 0
        inputs.forEach((f, i) => ((offsets[i] = o), (lengths[i] = f.length), (o += f.length)))
        out.reset()
        const m = co.coalesce(buf, offsets, lengths, inputs.length, out, 10)
        expect(m).toBeGreaterThan(0)
        let total = 0
        for (let i = 0; i < m; i++) total += out.lengths[i] - 10
        expect(total).toBeLessThanOrEqual(buf.length)
      }),
      {numRuns: 1000},
    )
  })

  it('random bytes and random virtio headers: dropped with a reason or passed through, never a throw', () => {
    const segmenter = new Segmenter()
    const co = new Coalescer()
    const out = new OffloadBatch(256 * 1024, 256)
    const known = new Set([DropReason.MALFORMED, DropReason.OFFLOAD_UNSUPPORTED, DropReason.SEGMENT_TOO_BIG, DropReason.OFFLOAD_NO_ROOM])
    fc.assert(
      fc.property(fc.uint8Array({minLength: 0, maxLength: 3000}), fc.integer({min: 0, max: 6}), fc.integer({min: 0, max: 0xffff}), fc.integer({min: 60, max: 1500}), (bytes, gso, gsoSize, mtu) => {
        const src = Buffer.alloc(VNET_HEADER_LEN + bytes.length)
        writeVnet(src, 0, {flags: gso & 1, gsoType: gso, hdrLen: 0, gsoSize, csumStart: 34, csumOffset: 16})
        src.set(bytes, VNET_HEADER_LEN)
        // Sometimes make it look like IPv4/TCP so the deeper checks run.
        if (bytes.length > 40 && gso % 2 === 1) src.set([0x08, 0x00, 0x45], VNET_HEADER_LEN + 12)
        out.reset()
        const n = segmenter.segment(src, 0, VNET_HEADER_LEN, src.length, mtu, out, 8)
        if (n < 0) expect(known.has(-n), dropReasonName(-n)).toBe(true)
        else expect(out.count).toBe(n)
        out.reset()
        const offsets = Uint32Array.of(0, 5, 17)
        const lengths = Uint32Array.of(Math.min(5, bytes.length), Math.max(0, bytes.length - 5), Math.max(0, bytes.length - 17))
        expect(co.coalesce(bytes, offsets, lengths, 3, out, 10)).toBe(3)
      }),
      {numRuns: 500},
    )
  })
})
