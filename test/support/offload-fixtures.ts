// The offload fixtures scapy made (test/fixtures/offload/*.json, written by make-fixtures.py there) and
// the small readers the tests share: the virtio header of a case as bytes, a frame's L4 payload.
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'

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
