// The MTU stage: a frame that would not fit the underlay after encapsulation. IPv4 with DF and any IPv6
// get fragmentation-needed / packet-too-big from the ingress subnet's gateway with the inner MTU (1458 over
// a 1500-byte IPv4 link, 1438 over IPv6); IPv4 without DF is sent (the kernel fragments the outer packet).
// The decision is checked on the Verdict; the bytes the engine writes are parsed by scapy.
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {ACTION_NAMES, Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {dropReasonName, replyName, stageName} from '../../../src/lib/engine/stages.js'
import {
  ChecksumMode,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  emitIpv4,
  emitIpv6,
  emitTcp,
  EtherType,
  ICMPV4_ECHO_REQUEST,
  ICMPV6_ECHO_REQUEST,
  IpProto,
  ipv4FromString,
  ipv4PseudoSum,
  ipv6PseudoSum,
} from '../../../src/lib/wire/index.js'
import {MemoryPort} from '../../support/memory-port.js'
import {PYTHON, scapyAvailable} from '../../support/scapy.js'
import {MemoryUnderlay} from '../../support/memory-underlay.js'
import {BLUE_5001_MAC6, BLUE_GATEWAY_MAC, colon, HOST1_PA, HOST1_PA6, HOST2_PA, nvgre, topology, VMS} from './support.js'

const {blue1, blue6, green1} = VMS
const SCAPY_SCRIPT = fileURLToPath(new URL('../../fixtures/scapy/icmp_error.py', import.meta.url))
const SCAPY_TCP = fileURLToPath(new URL('../../fixtures/scapy/tcp_mss.py', import.meta.url))
const hasScapy = scapyAvailable('test/unit/engine/mtu.test.ts', 'scapy checks')

/** An echo request whose IPv4 packet is `total` bytes, DF as asked. */
function big4(srcMac: string, dstMac: string, src: string, dst: string, total: number, dontFrag = true): Buffer {
  const buf = Buffer.alloc(14 + total)
  emitEthernet({dst: colon(dstMac), src: colon(srcMac), etherType: EtherType.IPV4}, buf, 0)
  const l4Len = total - 20
  emitIpv4({src: ipv4FromString(src), dst: ipv4FromString(dst), protocol: IpProto.ICMP, ttl: 64, tos: 0, ident: 0x4242, dontFrag, moreFrags: false, fragOffset: 0, payloadLen: l4Len, options: new Uint8Array(0)}, buf, 14)
  emitIcmpv4({type: ICMPV4_ECHO_REQUEST, code: 0, ident: 7, seq: 1, data: Buffer.alloc(l4Len - 8, 0x61)}, buf, 34)
  return buf
}

/** An ICMPv6 echo request whose IPv6 packet is `total` bytes. */
function big6(srcMac: string, dstMac: string, src: string, dst: string, total: number): Buffer {
  const buf = Buffer.alloc(14 + total)
  emitEthernet({dst: colon(dstMac), src: colon(srcMac), etherType: EtherType.IPV6}, buf, 0)
  const len = total - 40
  emitIpv6({src, dst, nextHeader: IpProto.ICMPV6, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLen: len}, buf, 14)
  emitIcmpv6({type: ICMPV6_ECHO_REQUEST, code: 0, ident: 7, seq: 1, data: Buffer.alloc(len - 8, 0x62)}, buf, 54, ipv6PseudoSum(buf, 22, 38, IpProto.ICMPV6), ChecksumMode.COMPUTE)
  return buf
}

const t1 = compile(topology(1), 1)
const pipeline = new Pipeline()
const v = new Verdict()

function decide(frame: Buffer, iface = blue1.iface) {
  pipeline.fromPort(t1, t1.portIndex(iface), frame, 0, frame.length, v)
  return {action: ACTION_NAMES[v.action], stage: stageName(v.stage), reason: dropReasonName(v.reason), reply: replyName(v.reply), mtu: v.mtu}
}

const tooBig = (mtu: number) => ({action: 'reply', stage: 'mtu', reason: 'too-big', reply: 'packet-too-big', mtu})

describe('MTU: the decision (1500-byte physical links by default)', () => {
  it.each([
    ['IPv4 DF, 1458 bytes to a remote VM: fits (1458 + 14 + 8 + 20 = 1500)', () => big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 1458), 'encap', 'none'],
    ['IPv4 DF, 1459 bytes to a remote VM: fragmentation needed, MTU 1458', () => big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 1459), 'reply', 'too-big'],
    ['IPv4 without DF, 1500 bytes: sent (the outer packet is fragmented)', () => big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 1500, false), 'encap', 'none'],
    ['IPv4 DF, 1500 bytes routed to another subnet on another host', () => big4(blue1.mac, BLUE_GATEWAY_MAC, '10.0.0.5', '10.0.1.9', 1500), 'reply', 'too-big'],
    ['IPv4 DF, 1500 bytes to a VM of this host: delivered, no underlay in the way', () => big4(blue1.mac, blue6.mac, '10.0.0.5', '10.0.0.6', 1500), 'deliver', 'none'],
    ['IPv6, 1458 bytes: fits', () => big6(blue1.mac, VMS.blue2.mac, 'fd01:5001::5', 'fd01:5001::7', 1458), 'encap', 'none'],
    ['IPv6, 1459 bytes: packet too big, MTU 1458', () => big6(blue1.mac, VMS.blue2.mac, 'fd01:5001::5', 'fd01:5001::7', 1459), 'reply', 'too-big'],
  ])('%s', (_name, make, action, reason) => {
    const d = decide(make())
    expect([d.action, d.reason]).toEqual([action, reason])
    if (reason === 'too-big') expect(d).toEqual(tooBig(1458))
  })

  it('an IPv6 underlay leaves 1438 bytes: 1500 - 40 - 8 - 14', () => {
    expect(decide(big4(green1.mac, VMS.green2.mac, '10.7.0.5', '10.7.0.7', 1439), green1.iface)).toMatchObject({action: 'reply', reply: 'packet-too-big', mtu: 1438})
    expect(decide(big4(green1.mac, VMS.green2.mac, '10.7.0.5', '10.7.0.7', 1438), green1.iface)).toMatchObject({action: 'encap', mtu: 1438})
  })
})

interface Host {
  engine: Engine
  u4: MemoryUnderlay
  u6: MemoryUnderlay
  port: MemoryPort
}
let host: Host | undefined

function host1(mtu4?: number): Host {
  const u4 = new MemoryUnderlay({family: 4, local: HOST1_PA, mtu: mtu4})
  const u6 = new MemoryUnderlay({family: 6, local: HOST1_PA6})
  const engine = new Engine({underlays: [u4, u6]})
  engine.load(t1)
  const port = new MemoryPort({name: blue1.iface, mtu: 9000})
  engine.attach(port)
  host = {engine, u4, u6, port}
  return host
}

afterEach(() => {
  host?.engine.close()
  host = undefined
})

function scapy(frames: Buffer[]): Record<string, unknown>[] {
  return JSON.parse(execFileSync(PYTHON, [SCAPY_SCRIPT, ...frames.map((f) => f.toString('hex'))], {encoding: 'utf8'}))
}

describe('MTU: what the engine sends', () => {
  it('takes the MTU from its underlays (jumbo frames: 9000 - 20 - 8 - 14 = 8958)', () => {
    const {port, u4} = host1(9000 - 20)
    port.receive(big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 8958))
    expect(u4.take()).toHaveLength(1)
    port.receive(big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 8959))
    expect(u4.take()).toHaveLength(0)
    expect(port.take()).toHaveLength(1)
  })

  it.skipIf(!hasScapy)('answers IPv4 DF and IPv6 with ICMP errors scapy reads as RFC 1191 / RFC 4443 ones', () => {
    const {engine, port, u4, u6} = host1()
    const v4 = big4(blue1.mac, VMS.blue2.mac, '10.0.0.5', '10.0.0.7', 1500)
    const routed = big4(blue1.mac, BLUE_GATEWAY_MAC, '10.0.0.5', '10.0.1.9', 1459)
    const v6 = big6(blue1.mac, BLUE_5001_MAC6, 'fd01:5001::5', 'fd01:5002::9', 1500)
    port.receive(v4)
    port.receive(routed)
    port.receive(v6)
    expect([...u4.take(), ...u6.take()]).toHaveLength(0)
    const out = port.take()
    expect(out).toHaveLength(3)
    // From the gateway's MAC to the VM's, like every answer of the distributed router.
    expect(out[0].subarray(0, 12).toString('hex')).toBe(blue1.mac.toLowerCase() + BLUE_GATEWAY_MAC.toLowerCase())
    const [a, b, c] = scapy(out)
    expect(a).toEqual({
      src: '10.0.0.1', dst: '10.0.0.5', ipChecksumOk: true, type: 3, code: 4, mtu: 1458, checksumOk: true,
      quotedSrc: '10.0.0.5', quotedDst: '10.0.0.7', quotedLen: 1500, quotedBytes: 28,
    })
    expect(b).toMatchObject({src: '10.0.0.1', dst: '10.0.0.5', type: 3, code: 4, mtu: 1458, checksumOk: true, quotedDst: '10.0.1.9', quotedLen: 1459})
    // RFC 4443 §2.4(c): as much of the packet as fits in the minimum MTU, 1280 - 40 - 8 = 1232 bytes.
    expect(c).toEqual({
      src: 'fd01:5001::1', dst: 'fd01:5001::5', plen: 8 + 1232, type: 2, code: 0, mtu: 1458, checksumOk: true,
      quotedSrc: 'fd01:5001::5', quotedDst: 'fd01:5002::9', quotedBytes: 1232,
    })
    const s = engine.status()
    expect(s.drops['too-big']).toBe(3)
    expect(s.replies['packet-too-big']).toBe(3)
  })
})

/** A TCP segment (SYN by default) with `options` (raw bytes); from blue1 to blue2 unless told. */
function tcp4(options: number[], flags = 0x02, ends = {srcMac: blue1.mac, dstMac: VMS.blue2.mac, src: '10.0.0.5', dst: '10.0.0.7'}): Buffer {
  const opts = Uint8Array.from(options)
  const l4Len = 20 + ((opts.length + 3) & ~3)
  const buf = Buffer.alloc(14 + 20 + l4Len)
  emitEthernet({dst: colon(ends.dstMac), src: colon(ends.srcMac), etherType: EtherType.IPV4}, buf, 0)
  const src = ipv4FromString(ends.src)
  const dst = ipv4FromString(ends.dst)
  emitIpv4({src, dst, protocol: IpProto.TCP, ttl: 64, tos: 0, ident: 1, dontFrag: true, moreFrags: false, fragOffset: 0, payloadLen: l4Len, options: new Uint8Array(0)}, buf, 14)
  emitTcp({srcPort: 40000, dstPort: 5201, seq: 1000, ack: 0, flags, window: 64240, urgent: 0, options: opts, payloadLen: 0}, buf, 34, ipv4PseudoSum(src, dst, IpProto.TCP))
  return buf
}

/** Linux's SYN options: MSS 1460, SACK permitted, timestamps, NOP, window scale 7. */
const LINUX_SYN = [2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7]
/** MSS behind a NOP: its value straddles two 16-bit words of the checksum. */
const ODD_SYN = [1, 2, 4, 0x05, 0xb4, 1, 1, 1]

function clampingHost(): Host {
  const doc = topology(1)
  for (const a of doc.VMNetworkAdapters as {VMName: string; MssClamp?: boolean}[]) if (a.VMName === 'Blue1') a.MssClamp = true
  const u4 = new MemoryUnderlay({family: 4, local: HOST1_PA})
  const u6 = new MemoryUnderlay({family: 6, local: HOST1_PA6})
  const engine = new Engine({underlays: [u4, u6]})
  engine.load(compile(doc, 1))
  const port = new MemoryPort({name: blue1.iface})
  engine.attach(port)
  host = {engine, u4, u6, port}
  return host
}

function scapyTcp(frames: Buffer[]): {mss: number | null; flags: string; checksumOk: boolean}[] {
  return JSON.parse(execFileSync(PYTHON, [SCAPY_TCP, ...frames.map((f) => f.toString('hex'))], {encoding: 'utf8'}))
}

describe('MSS clamping (Set-VMNetworkAdapter -MssClamp)', () => {
  it.skipIf(!hasScapy)("lowers a marked adapter's SYN MSS to 1418 (1458 - 40) on the way out, checksum patched", () => {
    const {port, u4} = clampingHost()
    port.receive(tcp4(LINUX_SYN))
    port.receive(tcp4(ODD_SYN))
    port.receive(tcp4(LINUX_SYN, 0x10)) // not a SYN: untouched
    port.receive(tcp4([2, 4, 0x02, 0x18])) // MSS 536: already below, untouched
    const out = u4.take().map((p) => p.packet.subarray(8))
    expect(scapyTcp(out)).toEqual([
      {mss: 1418, flags: 'S', checksumOk: true},
      {mss: 1418, flags: 'S', checksumOk: true},
      {mss: 1460, flags: 'A', checksumOk: true},
      {mss: 536, flags: 'S', checksumOk: true},
    ])
  })

  it.skipIf(!hasScapy)("lowers the SYN-ACK arriving for a marked adapter from the underlay", () => {
    const {port, u4} = clampingHost()
    const synAck = tcp4(LINUX_SYN, 0x12, {srcMac: VMS.blue2.mac, dstMac: blue1.mac, src: '10.0.0.7', dst: '10.0.0.5'})
    u4.receive([{source: HOST2_PA, packet: nvgre(5001, 0, synAck)}])
    const [seen] = scapyTcp(port.take())
    expect(seen).toEqual({mss: 1418, flags: 'SA', checksumOk: true})
  })

  it.skipIf(!hasScapy)('lowers an IPv6 SYN to 1398 (1458 - 60)', () => {
    const {port, u4} = clampingHost()
    const opts = Uint8Array.from(LINUX_SYN)
    const l4Len = 20 + opts.length
    const frame = Buffer.alloc(14 + 40 + l4Len)
    emitEthernet({dst: colon(VMS.blue2.mac), src: colon(blue1.mac), etherType: EtherType.IPV6}, frame, 0)
    emitIpv6({src: 'fd01:5001::5', dst: 'fd01:5001::7', nextHeader: IpProto.TCP, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLen: l4Len}, frame, 14)
    emitTcp({srcPort: 40000, dstPort: 5201, seq: 1, ack: 0, flags: 0x02, window: 64800, urgent: 0, options: opts, payloadLen: 0}, frame, 54, ipv6PseudoSum(frame, 22, 38, IpProto.TCP))
    port.receive(frame)
    expect(scapyTcp(u4.take().map((p) => p.packet.subarray(8)))).toEqual([{mss: 1398, flags: 'S', checksumOk: true}])
  })

  it('leaves unmarked adapters alone', () => {
    const {port, u4} = host1()
    port.receive(tcp4(LINUX_SYN))
    expect(u4.take()[0].packet.subarray(8).readUInt16BE(14 + 20 + 22)).toBe(1460)
  })
})
