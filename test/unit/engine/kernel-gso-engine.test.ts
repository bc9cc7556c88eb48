// The kernel GSO path through the engine, without root: host1's engine hands TCP super-frames scapy made
// (test/fixtures/offload/segment.json) whole to a GsoSink in memory (the underlay TAP of
// io/gso-underlay.ts), which must get one NVGRE super-packet with the outer IPv4 header and the virtio
// GSO header the kernel segments by; host2's engine, given that packet as its raw GRE socket would,
// must hand Blue2 the byte stream: as one GSO super-frame to a TSO port, cut to the MTU for a port
// without offloads. Frames the kernel path does not take are segmented by the engine as before.
import {afterEach, describe, expect, it} from 'vitest'

import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import type {GsoSink} from '../../../src/lib/engine/kernel-gso.js'
import type {PortFeatures} from '../../../src/lib/engine/ports.js'
import {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_HEADER_LEN} from '../../../src/lib/engine/vnet.js'
import {checksumValid} from '../../../src/lib/wire/checksum.js'
import {parseNvgre} from '../../../src/lib/wire/index.js'
import {MemoryPort} from '../../support/memory-port.js'
import {l4Payload as payload, segmentedCases, vnetHeader} from '../../support/offload-fixtures.js'
import {MemoryNetwork} from '../../support/memory-underlay.js'
import {HOST1_PA, HOST2_PA, topology, VMS} from './support.js'

// TCP over IPv4 with a partial checksum, Blue1 -> Blue2 (the fixtures' addresses), underlay MTU 1500.
const CASES = segmentedCases().filter(
  (c) => c.maxIpLen === 1458 && c.frame.slice(24, 28) === '0800' && (c.vnet.gsoType & 0x7f) === VNET_GSO_TCPV4 && c.vnet.flags === VNET_F_NEEDS_CSUM,
)

const TSO: Partial<PortFeatures> = {vnetHdr: true, vnetHdrLen: VNET_HEADER_LEN, csum: true, tso: true, uso: true}
const PLAIN: Partial<PortFeatures> = {}

class MemorySink implements GsoSink {
  readonly local = Uint8Array.of(198, 51, 100, 11)
  readonly vnetLen = VNET_HEADER_LEN
  readonly sent: Buffer[] = []
  send(batch: {buffer: Uint8Array; offsets: Uint32Array; lengths: Uint32Array}, first: number, count: number): number {
    for (let i = first; i < first + count; i++) this.sent.push(Buffer.from(batch.buffer.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i])))
    return count
  }
}

const engines: Engine[] = []
afterEach(() => {
  for (const e of engines.splice(0)) e.close()
})

function twoHosts(receiver: Partial<PortFeatures>) {
  const network = new MemoryNetwork()
  const u1 = network.underlay({family: 4, local: HOST1_PA})
  const u2 = new MemoryNetwork().underlay({family: 4, local: HOST2_PA, slotCapacity: 65535})
  const sink = new MemorySink()
  const e1 = new Engine({underlays: [u1], kernelGso: [sink]})
  const e2 = new Engine({underlays: [u2]})
  engines.push(e1, e2)
  e1.load(compile(topology(1), 1))
  e2.load(compile(topology(2), 1))
  // Blue1's MTU sizes its receive slots: a TAP with TSO takes 64 KB frames.
  const blue1 = new MemoryPort({name: VMS.blue1.iface, mtu: 65535, features: TSO})
  const blue6 = new MemoryPort({name: VMS.blue6.iface, mtu: 1458, features: PLAIN})
  const blue2 = new MemoryPort({name: VMS.blue2.iface, mtu: 1458, features: receiver})
  e1.attach(blue1)
  e1.attach(blue6)
  e2.attach(blue2)
  return {e1, e2, u1, u2, sink, blue1, blue2, blue6}
}

describe('TCP super-frames through the kernel GSO path', () => {
  it('has fixtures to run', () => expect(CASES.length).toBeGreaterThan(3))

  for (const c of CASES) {
    it(`${c.name}: one super-packet for the kernel; Blue2 gets the byte stream (TSO port, then plain port)`, () => {
      for (const receiver of [TSO, PLAIN]) {
        const {e1, e2, u1, u2, sink, blue1, blue2} = twoHosts(receiver)
        const frame = Buffer.from(c.frame, 'hex')
        blue1.receive(Buffer.concat([vnetHeader(c.vnet), frame]))
        const wire = u1.take()
        if (c.segments.length === 1 || frame.length + 28 > 0xffff) {
          // One segment's worth (the kernel refuses those) or longer than one IPv4 packet with the outer
          // header: segmented by the engine, as without the kernel path.
          expect(sink.sent).toEqual([])
          expect(wire.map((w) => w.packet.subarray(8).toString('hex'))).toEqual(c.segments)
          if (c.segments.length > 1) expect(e1.status().offload.kernelGso.fallbackTooLong).toBe(1)
          continue
        }
        expect(wire).toEqual([])
        expect(sink.sent.length).toBe(1)
        const p = sink.sent[0]
        // virtio header: the guest's gso_type, gso_size lowered to what fits, offsets 42 bytes further.
        const ipHeader = (frame[14] & 0x0f) * 4
        const tcpHeader = (frame[14 + ipHeader + 12] >> 4) * 4
        expect(p[0]).toBe(VNET_F_NEEDS_CSUM)
        expect(p[1]).toBe(c.vnet.gsoType)
        expect(p.readUInt16LE(4)).toBe(Math.min(c.vnet.gsoSize, 1458 - ipHeader - tcpHeader))
        expect(p.readUInt16LE(6)).toBe(42 + c.vnet.csumStart)
        expect(p.readUInt16LE(8)).toBe(16)
        // Outer Ethernet (MACs left to bpf_redirect_neigh), IPv4 from host1's PA to host2's, GRE, the frame.
        const eth = p.subarray(VNET_HEADER_LEN)
        expect(eth.readUInt16BE(12)).toBe(0x0800)
        const ip = eth.subarray(14)
        expect(ip[0]).toBe(0x45)
        expect(ip.readUInt16BE(2)).toBe(ip.length)
        expect(ip[9]).toBe(47)
        expect(ip[6] & 0x40).toBe(0x40)
        expect(checksumValid(ip, 0, 20)).toBe(true)
        expect([...ip.subarray(12, 16)].join('.')).toBe(HOST1_PA)
        expect([...ip.subarray(16, 20)].join('.')).toBe(HOST2_PA)
        const gre = ip.subarray(20)
        expect(parseNvgre(gre, 0, 8).vsid).toBe(VMS.blue1.vsid)
        expect(gre.subarray(8).equals(frame)).toBe(true)
        const s1 = e1.status()
        expect(s1.offload.kernelGso.superPackets).toBe(1)
        expect(s1.offload.segment.superframes).toBe(0)

        // The peer's raw socket delivers the GRE packet whole (veth took it unsegmented).
        u2.receive([{source: HOST1_PA, packet: gre}])
        const arrived = blue2.take()
        if (receiver === TSO) {
          expect(arrived.length).toBe(1)
          const a = arrived[0]
          expect(a[0]).toBe(VNET_F_NEEDS_CSUM)
          expect(a[1]).toBe(VNET_GSO_TCPV4)
          expect(a.readUInt16LE(6)).toBe(14 + ipHeader)
          expect(a.readUInt16LE(4)).toBe(1458 - ipHeader - tcpHeader)
          expect(a.subarray(VNET_HEADER_LEN).equals(frame)).toBe(true)
          expect(e2.status().offload.receive.superFrames).toBe(1)
        } else {
          // No offloads on Blue2's port: MTU-sized segments with complete checksums.
          expect(arrived.length).toBe(c.segments.length)
          for (const a of arrived) {
            expect(a.length).toBeLessThanOrEqual(14 + 1458)
            const l4 = 14 + ipHeader
            const pseudo = Buffer.concat([a.subarray(26, 34), Buffer.of(0, 6), Buffer.from([(a.length - l4) >> 8, (a.length - l4) & 0xff])])
            expect(checksumValid(Buffer.concat([pseudo, a.subarray(l4)]), 0, pseudo.length + a.length - l4)).toBe(true)
          }
          expect(Buffer.concat(arrived.map(payload)).equals(payload(frame))).toBe(true)
        }
        for (const e of [e1, e2]) expect(Object.entries(e.status().drops).filter(([, n]) => n > 0)).toEqual([])
        for (const e of engines.splice(0)) e.close()
      }
    })
  }

  it('segments in the engine what is delivered on the same host (no underlay involved)', () => {
    const c = CASES.find((k) => k.segments.length > 2)!
    const {e1, sink, blue1, blue6} = twoHosts(TSO)
    // The same super-frame, addressed to Blue6 (10.0.0.6, same host): MACs and IPv4 destination rewritten.
    const frame = Buffer.from(c.frame, 'hex')
    Buffer.from(VMS.blue6.mac, 'hex').copy(frame, 0)
    frame[14 + 19] = 6
    frame.writeUInt16BE(0, 14 + 10)
    let sum = 0
    for (let i = 0; i < 20; i += 2) sum += frame.readUInt16BE(14 + i)
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    frame.writeUInt16BE(~sum & 0xffff, 14 + 10)
    // The partial checksum's pseudo-header changes with the destination: +1 in the last address word.
    const l4 = 14 + (frame[14] & 0x0f) * 4
    let partial = frame.readUInt16BE(l4 + 16) + (6 - 7)
    partial = partial <= 0 ? partial + 0xffff : partial
    frame.writeUInt16BE(partial, l4 + 16)
    blue1.receive(Buffer.concat([vnetHeader(c.vnet), frame]))
    expect(sink.sent.length).toBe(0)
    const s = e1.status()
    expect(s.offload.kernelGso.fallbackNotEncapsulated).toBe(1)
    expect(s.offload.segment.superframes).toBe(1)
    const arrived = blue6.take()
    expect(arrived.length).toBe(c.segments.length)
    // Blue6's port has no offloads: plain MTU-sized frames carrying the super-frame's payload.
    for (const a of arrived) expect(a.length).toBeLessThanOrEqual(14 + 1458)
    expect(Buffer.concat(arrived.map(payload)).equals(payload(frame))).toBe(true)
    expect(Object.entries(s.drops).filter(([, n]) => n > 0)).toEqual([])
  })
})
