// The engine's fast path without root: two engines joined in memory, Blue1 on a TSO port sends the
// super-frames scapy made (test/fixtures/offload/segment.json); host1 must put on the wire exactly the
// segments scapy expects, each behind its NVGRE header, and host2 must hand Blue2 the same byte stream:
// coalesced into GSO super-frames when Blue2's port takes them, as the plain segments when it does not.
import {afterEach, describe, expect, it} from 'vitest'

import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import type {PortFeatures} from '../../../src/lib/engine/ports.js'
import type {Checksum, Memcpy} from '../../../src/lib/engine/offload.js'
import {nativeAvailable, nativeChecksum, nativeMemcpy} from '../../../src/lib/engine/io/native.js'
import {fold, sum16} from '../../../src/lib/wire/checksum.js'
import {VNET_GSO_NONE, VNET_GSO_TCPV4, VNET_GSO_UDP_L4, VNET_HEADER_LEN} from '../../../src/lib/engine/vnet.js'
import {parseNvgre} from '../../../src/lib/wire/index.js'
import {MemoryPort} from '../../support/memory-port.js'
import {l4Payload as payload, segmentedCases, vnetHeader} from '../../support/offload-fixtures.js'
import {MemoryNetwork} from '../../support/memory-underlay.js'
import {HOST1_PA, HOST2_PA, topology, VMS} from './support.js'

// Blue1 -> Blue2 over IPv4 (the fixtures' addresses), through an IPv4 underlay of MTU 1500.
const CASES = segmentedCases().filter((c) => c.maxIpLen === 1458 && c.frame.slice(24, 28) === '0800')

const TSO: Partial<PortFeatures> = {vnetHdr: true, vnetHdrLen: VNET_HEADER_LEN, csum: true, tso: true, uso: true}

const engines: Engine[] = []
afterEach(() => {
  for (const e of engines.splice(0)) e.close()
})

/**
 * Joined: every packet host1 sends arrives at host2 at once, as a batch of one. Not joined: the test hands
 * host2 what host1 sent as one batch (as recvmmsg would), which is what coalescing needs.
 */
function twoHosts(receiver: Partial<PortFeatures>, joined = true, memcpy?: Memcpy, checksum?: Checksum) {
  const network = new MemoryNetwork()
  const u1 = network.underlay({family: 4, local: HOST1_PA})
  const u2 = (joined ? network : new MemoryNetwork()).underlay({family: 4, local: HOST2_PA})
  const e1 = new Engine({underlays: [u1], memcpy, checksum})
  const e2 = new Engine({underlays: [u2], memcpy, checksum})
  engines.push(e1, e2)
  e1.load(compile(topology(1), 1))
  e2.load(compile(topology(2), 1))
  const blue1 = new MemoryPort({name: VMS.blue1.iface, mtu: 65535, features: TSO})
  const blue2 = new MemoryPort({name: VMS.blue2.iface, mtu: 65535, features: receiver})
  e1.attach(blue1)
  e2.attach(blue2)
  return {e1, e2, u1, u2, blue1, blue2}
}

describe('TSO super-frames through two engines', () => {
  for (const c of CASES) {
    it(`${c.name}: scapy's segments on the wire; Blue2 gets the byte stream, coalesced`, () => {
      const {e1, e2, u1, u2, blue1, blue2} = twoHosts(TSO, false)
      const frame = Buffer.from(c.frame, 'hex')
      blue1.receive(Buffer.concat([vnetHeader(c.vnet), frame]))

      const wire = u1.take()
      u2.receive(wire.map((w) => ({source: HOST1_PA, packet: w.packet})))
      expect(wire.map((w) => w.packet.subarray(8).toString('hex'))).toEqual(c.segments)
      for (const w of wire) {
        expect(w.destination).toBe(HOST2_PA)
        expect(parseNvgre(w.packet, 0, 8).vsid).toBe(VMS.blue1.vsid)
        expect(w.packet.length).toBeLessThanOrEqual(u1.mtu)
      }

      const arrived = blue2.take()
      const tcp = frame[14 + 9] === 6
      // TCP runs come out as fewer frames (a GSO header when two or more merged); UDP datagrams as one
      // GSO_UDP_L4 super-frame (Blue2's port has USO).
      expect(arrived.length).toBeLessThanOrEqual(c.segments.length)
      // The coalescer leaves IPv4 options and ECN-marked runs alone (offload.ts); the rest must merge.
      const mergeable = !/IP options|ECN/.test(c.name)
      if (tcp && mergeable && c.segments.length > 1) {
        expect(arrived.length).toBeLessThan(c.segments.length)
        expect(arrived[0][1]).toBe(VNET_GSO_TCPV4)
      }
      if (!tcp) expect(arrived.map((a) => a[1])).toEqual(c.segments.length > 1 ? [VNET_GSO_UDP_L4] : [VNET_GSO_NONE])
      const got = Buffer.concat(arrived.map((a) => payload(a.subarray(VNET_HEADER_LEN))))
      expect(got.equals(payload(frame))).toBe(true)

      const s1 = e1.status()
      expect(Object.entries(s1.drops).filter(([, n]) => n > 0)).toEqual([])
      expect(Object.entries(e2.status().drops).filter(([, n]) => n > 0)).toEqual([])
      // A plain frame (NEEDS_CSUM only) is completed in place, not copied through the segmenter.
      expect(s1.offload.segment.segments).toBe(c.vnet.gsoType === VNET_GSO_NONE ? 0 : c.segments.length)
    })
  }

  it.skipIf(!nativeAvailable())('the addon\'s sum16 equals the wire layer\'s sum on random buffers and ranges', () => {
    const native = nativeChecksum()!
    const buf = Buffer.alloc(4096)
    for (let i = 0; i < buf.length; i++) buf[i] = (i * 2654435761) >>> 24
    for (let k = 0; k < 2000; k++) {
      const from = (k * 7919) % 2048
      const to = from + ((k * 104729) % 2049)
      expect(native(buf, from, to)).toBe(fold(sum16(buf, from, to)))
    }
  })

  it.skipIf(!nativeAvailable())('with the addon\'s copy and sum (as the runtime runs it): the same segments and the same stream', () => {
    const memcpy = nativeMemcpy()
    const checksum = nativeChecksum()
    expect(memcpy).toBeDefined()
    expect(checksum).toBeDefined()
    for (const c of CASES.filter((x) => x.segments.length > 2)) {
      const {u1, u2, blue1, blue2} = twoHosts(TSO, false, memcpy, checksum)
      const frame = Buffer.from(c.frame, 'hex')
      blue1.receive(Buffer.concat([vnetHeader(c.vnet), frame]))
      const wire = u1.take()
      expect(wire.map((w) => w.packet.subarray(8).toString('hex'))).toEqual(c.segments)
      u2.receive(wire.map((w) => ({source: HOST1_PA, packet: w.packet})))
      expect(Buffer.concat(blue2.take().map((a) => payload(a.subarray(VNET_HEADER_LEN)))).equals(payload(frame))).toBe(true)
      for (const e of engines.splice(0)) e.close()
    }
  })

  it('a receiving port without offloads gets the plain segments, as scapy made them', () => {
    const c = CASES.find((x) => x.segments.length > 5)!
    const {blue1, blue2} = twoHosts({})
    blue1.receive(Buffer.concat([vnetHeader(c.vnet), Buffer.from(c.frame, 'hex')]))
    expect(blue2.take().map((f) => f.toString('hex'))).toEqual(c.segments)
  })

  it('a receiving port with TSO but without USO (a kernel before 6.2) gets UDP datagrams one by one', () => {
    const c = CASES.find((x) => x.frame.slice(46, 48) === '11' && x.segments.length > 2)!
    const {u1, u2, blue1, blue2, e2} = twoHosts({...TSO, uso: false}, false)
    blue1.receive(Buffer.concat([vnetHeader(c.vnet), Buffer.from(c.frame, 'hex')]))
    u2.receive(u1.take().map((w) => ({source: HOST1_PA, packet: w.packet})))
    const arrived = blue2.take()
    expect(arrived.map((a) => a[1])).toEqual(c.segments.map(() => VNET_GSO_NONE))
    expect(arrived.map((a) => a.subarray(VNET_HEADER_LEN).toString('hex'))).toEqual(c.segments)
    expect(e2.status().offload.coalesce.udpSuperframes).toBe(0)
  })

  it('many super-frames in one batch: the arena is sent and reused, nothing is lost or reordered', () => {
    const c = CASES.find((x) => x.name.includes('64 KB'))!
    const {e1, u1, blue1, blue2} = twoHosts({})
    const input = Buffer.concat([vnetHeader(c.vnet), Buffer.from(c.frame, 'hex')])
    // 40 super-frames of 64 KB: about 1900 segments, more than the arena holds at once.
    blue1.receive(...Array.from({length: 40}, () => input))
    const wire = u1.take()
    expect(wire).toHaveLength(40 * c.segments.length)
    const frames = blue2.take().map((f) => f.toString('hex'))
    expect(frames).toEqual(Array.from({length: 40}, () => c.segments).flat())
    expect(u1.sendCalls).toBeGreaterThan(1)
    expect(Object.entries(e1.status().drops).filter(([, n]) => n > 0)).toEqual([])
  })
})
