// The offload fixtures scapy made (test/fixtures/offload/*.json, written by make-fixtures.py there) and
// the small readers the tests share: a virtio header to and from bytes, a frame's L4 payload, a batch of
// frames at unaligned offsets, an OffloadBatch's frames.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

import type {OffloadBatch} from '../../src/lib/engine/offload.js'
import {VNET_HEADER_LEN} from '../../src/lib/engine/vnet.js'

export interface Vnet {
  flags: number
  gsoType: number
  hdrLen: number
  gsoSize: number
  csumStart: number
  csumOffset: number
}

/** A super-frame and the segments scapy cut it into (null, with a reason, when it must be refused). */
export interface SegmentCase {
  name: string
  vnet: Vnet
  maxIpLen: number
  frame: string
  segments: string[] | null
  reason?: string
}

export function readOffloadFixture<T>(name: 'segment.json' | 'coalesce.json' | 'coalesce-udp.json'): T {
  return JSON.parse(readFileSync(fileURLToPath(new URL(`../fixtures/offload/${name}`, import.meta.url)), 'utf8')) as T
}

/** The segment cases scapy cut (no refusals). */
export function segmentedCases(): (SegmentCase & {segments: string[]})[] {
  return readOffloadFixture<SegmentCase[]>('segment.json').filter((c): c is SegmentCase & {segments: string[]} => c.reason === undefined && c.segments !== null)
}

export function vnetHeader(v: Vnet): Buffer {
  const h = Buffer.alloc(VNET_HEADER_LEN)
  h[0] = v.flags
  h[1] = v.gsoType
  h.writeUInt16LE(v.hdrLen, 2)
  h.writeUInt16LE(v.gsoSize, 4)
  h.writeUInt16LE(v.csumStart, 6)
  h.writeUInt16LE(v.csumOffset, 8)
  return h
}

/** The L4 payload of an IPv4 TCP or UDP frame (IP options allowed). */
export function l4Payload(frame: Buffer): Buffer {
  const ip = 14
  const total = frame.readUInt16BE(ip + 2)
  const l4 = ip + (frame[ip] & 0x0f) * 4
  const l4Header = frame[ip + 9] === 6 ? (frame[l4 + 12] >> 4) * 4 : 8
  return frame.subarray(l4 + l4Header, ip + total)
}

/** The virtio header at `b[at]` (little-endian fields). */
export function readVnet(b: Uint8Array, at: number): Vnet {
  const le = (o: number) => b[at + o] | (b[at + o + 1] << 8)
  return {flags: b[at], gsoType: b[at + 1], hdrLen: le(2), gsoSize: le(4), csumStart: le(6), csumOffset: le(8)}
}

/** Frames in one buffer at odd offsets with gaps filled with `gap` (nothing may assume alignment). */
export function unalignedBatch(inputs: Buffer[], gap = 0): {src: Buffer; offsets: Uint32Array; lengths: Uint32Array} {
  const src = Buffer.alloc(inputs.reduce((a, f) => a + f.length + 7, 3), gap)
  const offsets = new Uint32Array(inputs.length)
  const lengths = new Uint32Array(inputs.length)
  let at = 3
  inputs.forEach((f, i) => {
    offsets[i] = at
    lengths[i] = f.length
    f.copy(src, at)
    at += f.length + 7
  })
  return {src, offsets, lengths}
}

/** Copies of an OffloadBatch's packets from index `from` on. */
export function batchFrames(out: OffloadBatch, from = 0): Buffer[] {
  const r: Buffer[] = []
  for (let i = from; i < out.count; i++) r.push(Buffer.from(out.buffer.subarray(out.offsets[i], out.offsets[i] + out.lengths[i])))
  return r
}
