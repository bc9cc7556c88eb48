// Scapy fixtures (test/fixtures/wire, made by make-fixtures.py) and helpers shared by the wire tests.

import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {expect} from 'vitest'
import {EtherType, EthernetView, Ipv4View, Ipv6View, readPcap, WireError} from '../../../src/lib/wire/index.js'

export const FIXTURE_DIR = fileURLToPath(new URL('../../fixtures/wire/', import.meta.url))

export interface ScapyLayer {
  layer: string
  fields: Record<string, unknown>
}

export interface Fixture {
  name: string
  /** The frame as read from the pcap. */
  bytes: Buffer
  /** scapy's view of each layer, outermost first. */
  layers: ScapyLayer[]
}

const cache = new Map<string, Map<string, Fixture>>()

/** The frames of `<file>.pcap`, by name, with scapy's fields from `<file>.json`. */
export function fixtures(file: string): Map<string, Fixture> {
  let set = cache.get(file)
  if (set !== undefined) return set
  const pcap = readPcap(readFileSync(FIXTURE_DIR + file + '.pcap'))
  const json = JSON.parse(readFileSync(FIXTURE_DIR + file + '.json', 'utf8')) as {
    frames: {name: string; hex: string; layers: ScapyLayer[]}[]
  }
  if (pcap.records.length !== json.frames.length) throw new Error(file + ': pcap and JSON disagree on the frame count')
  set = new Map()
  json.frames.forEach((f, i) => {
    const bytes = Buffer.from(pcap.records[i].data)
    if (bytes.toString('hex') !== f.hex) throw new Error(file + '/' + f.name + ': pcap and JSON bytes differ')
    set!.set(f.name, {name: f.name, bytes, layers: f.layers})
  })
  cache.set(file, set)
  return set
}

export function frame(file: string, name: string): Fixture {
  const f = fixtures(file).get(name)
  if (f === undefined) throw new Error('no fixture ' + file + '/' + name)
  return f
}

/** Fields of the `nth` layer whose scapy name is `name` (0 = outermost). */
export function layer(fx: Fixture, name: string, nth = 0): Record<string, any> {
  const found = fx.layers.filter((l) => l.layer === name)
  if (found.length <= nth) throw new Error(fx.name + ' has no layer ' + name + ' #' + nth)
  return found[nth].fields
}

export function hasLayer(fx: Fixture, name: string): boolean {
  return fx.layers.some((l) => l.layer === name)
}

/**
 * A copy of the fixture with `[off, off + len)` overwritten with 0xAA, handed to `emit`, which must
 * restore scapy's exact bytes there. The junk catches an emitter that skips a field.
 */
export function reEmit(fx: Fixture, off: number, len: number, emit: (buf: Buffer) => number): {buf: Buffer; written: number} {
  const buf = Buffer.from(fx.bytes)
  buf.fill(0xaa, off, off + len)
  const written = emit(buf)
  return {buf, written}
}

/** Asserts `fn` throws a WireError with `code` (and a message matching `message`, if given). */
export function expectWireError(fn: () => unknown, code: number, message?: RegExp): void {
  let caught: unknown
  try {
    fn()
  } catch (e) {
    caught = e
  }
  expect(caught, 'expected a WireError').toBeInstanceOf(WireError)
  expect((caught as WireError).code).toBe(code)
  if (message !== undefined) expect((caught as WireError).message).toMatch(message)
}

export function hex(s: string): Buffer {
  return Buffer.from(s.replace(/\s+/g, ''), 'hex')
}

/** Where an Ethernet frame's upper layer starts and ends, and its pseudo-header sum (without length). */
export function l4Of(buf: Buffer): {off: number; end: number; pseudo: number} {
  const eth = new EthernetView()
  expect(eth.wrap(buf, 0, buf.length)).toBe(0)
  const ip = eth.etherType === EtherType.IPV4 ? new Ipv4View() : new Ipv6View()
  expect(ip.wrap(buf, eth.payloadOffset, buf.length)).toBe(0)
  return {off: ip.payloadOffset, end: ip.end, pseudo: ip.pseudoSum()}
}
