// UDP coalescing for ports with USO (src/lib/engine/offload.ts, Coalescer.coalesce with `udp`) against
// frames scapy made (test/fixtures/offload/make-fixtures.py, coalesce-udp.json): runs of datagrams and the
// GSO_UDP_L4 super-frames they must become. Each super-frame is also cut back by the Segmenter, which
// segments GSO_UDP_L4 as the kernel's __udp_gso_segment does (IDs counting up, lengths and checksums per
// datagram), and must give back the very datagrams scapy made.
import {describe, expect, it} from 'vitest'
import {Coalescer, CoalesceStat, OffloadBatch, Segmenter, UDP_GRO_MAX_SEGMENTS} from '../../../src/lib/engine/offload.js'
import {VNET_GSO_UDP_L4, VNET_HEADER_LEN} from '../../../src/lib/engine/vnet.js'
import {fold, sum16} from '../../../src/lib/wire/checksum.js'
import {batchFrames, readOffloadFixture, readVnet, unalignedBatch, type Vnet} from '../../support/offload-fixtures.js'

interface CoalesceCase {
  name: string
  frames: string[]
  outputs: {vnet: Vnet | null; frame: string}[]
}

const cases = readOffloadFixture<CoalesceCase[]>('coalesce-udp.json')

const memcpy = (src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void => {
  Buffer.from(src.buffer, src.byteOffset, src.byteLength).copy(dst, at, from, to)
}
const checksum = (buf: Uint8Array, from: number, to: number): number => fold(sum16(buf, from, to))
const COPIES = [
  ['DataView copies', {}],
  ['memcpy and checksum options', {memcpy, checksum}],
] as const

describe.each(COPIES)('Coalescer with UDP (%s): runs of datagrams scapy made, against the GSO_UDP_L4 super-frames', (_, options) => {
  for (const vnetLen of [10, 12]) {
    for (const c of cases) {
      it(`${c.name} (virtio header ${vnetLen} bytes)`, () => {
        const co = new Coalescer(options)
        const {src, offsets, lengths} = unalignedBatch(c.frames.map((h) => Buffer.from(h, 'hex')), 0xee)
        const before = Buffer.from(src)
        const out = new OffloadBatch(512 * 1024, 128)
        const n = co.coalesce(src, offsets, lengths, c.frames.length, out, vnetLen, true)
        expect(src.equals(before)).toBe(true)
        expect(n).toBe(c.outputs.length)
        batchFrames(out).forEach((o, k) => {
          const want = c.outputs[k]
          const where = `output ${k}`
          if (want.vnet === null) expect(o.subarray(0, vnetLen).every((x) => x === 0), where).toBe(true)
          else expect(readVnet(o, 0), where).toEqual(want.vnet)
          for (let b = VNET_HEADER_LEN; b < vnetLen; b++) expect(o[b], `${where} num_buffers`).toBe(0)
          expect(o.subarray(vnetLen).toString('hex'), where).toBe(want.frame)
        })
        const merged = c.outputs.filter((o) => o.vnet !== null)
        expect(co.stats[CoalesceStat.SUPERFRAMES]).toBe(merged.length)
        expect(co.stats[CoalesceStat.UDP_SUPERFRAMES]).toBe(merged.length)
        expect(co.stats[CoalesceStat.UDP_DATAGRAMS]).toBe(co.stats[CoalesceStat.SEGMENTS_COALESCED])
        expect(co.stats[CoalesceStat.PASSED_THROUGH]).toBe(c.outputs.length - merged.length)
        expect(co.stats[CoalesceStat.FRAMES_IN]).toBe(c.frames.length)
      })
    }
  }

  it('without udp (a port without USO) every datagram passes through on its own', () => {
    for (const c of cases) {
      const co = new Coalescer(options)
      const {src, offsets, lengths} = unalignedBatch(c.frames.map((h) => Buffer.from(h, 'hex')), 0xee)
      const out = new OffloadBatch(512 * 1024, 128)
      expect(co.coalesce(src, offsets, lengths, c.frames.length, out, VNET_HEADER_LEN), c.name).toBe(c.frames.length)
      expect(batchFrames(out).map((o) => o.subarray(VNET_HEADER_LEN).toString('hex')), c.name).toEqual(c.frames)
      expect(co.stats[CoalesceStat.UDP_SUPERFRAMES]).toBe(0)
    }
  })

  it('super-frames segment back into the very datagrams scapy made, in order', () => {
    const segmenter = new Segmenter(options)
    for (const c of cases) {
      const co = new Coalescer(options)
      const {src, offsets, lengths} = unalignedBatch(c.frames.map((h) => Buffer.from(h, 'hex')), 0xee)
      const sup = new OffloadBatch(512 * 1024, 128)
      co.coalesce(src, offsets, lengths, c.frames.length, sup, VNET_HEADER_LEN, true)
      const back = new OffloadBatch(1 << 20, 256)
      for (let k = 0; k < sup.count; k++) {
        const o = sup.offsets[k]
        const gso = sup.buffer[o + 1]
        if (gso === VNET_GSO_UDP_L4) expect(sup.buffer.readUInt16LE(o + 4) * UDP_GRO_MAX_SEGMENTS).toBeGreaterThanOrEqual(sup.lengths[k] - VNET_HEADER_LEN - 14 - 48)
        // Plain frames come back as they are (their checksum is complete: no NEEDS_CSUM), super-frames cut.
        expect(segmenter.segment(sup.buffer, o, o + VNET_HEADER_LEN, o + sup.lengths[k], 65535, back, 0), c.name).toBeGreaterThan(0)
      }
      // Output order is per flow; within each flow the datagrams keep their order.
      const got = batchFrames(back).map((f) => f.toString('hex'))
      expect([...got].sort(), c.name).toEqual([...c.frames].sort())
      // Flows by source port (every case uses one address pair), TCP and fragments kept apart.
      const flowOf = (h: string) => {
        const l4 = h.slice(24, 28) === '86dd' ? 54 : 34
        return h.slice(2 * (l4 - 11), 2 * (l4 - 10)) + h.slice(2 * l4, 2 * (l4 + 2))
      }
      for (const flow of new Set(c.frames.map(flowOf))) {
        expect(got.filter((h) => flowOf(h) === flow), c.name).toEqual(c.frames.filter((h) => flowOf(h) === flow))
      }
    }
  })
})
