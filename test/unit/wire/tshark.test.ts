// Frames written by our emitters, decoded by tshark (a dissector nobody here wrote). Skipped, with a
// message, when tshark is not installed; CI installs it.

import {spawnSync} from 'node:child_process'
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {
  BOOTREPLY,
  DHCPOFFER,
  emitArp,
  emitDhcp,
  emitEthernet,
  emitIcmpv4,
  emitIcmpv6,
  emitIpv4,
  emitIpv6,
  emitTcp,
  emitUdp,
  EtherType,
  flowHashIpv4,
  flowHashIpv6,
  ICMPV6_NEIGHBOR_SOLICIT,
  IpProto,
  Ipv6,
  ipv4FromString,
  ipv4PseudoSum,
  ipv6PseudoSum,
  NvgreEncap,
  pcapFile,
  TcpFlag,
  type Ipv4Repr,
} from '../../../src/lib/wire/index.js'

const hasTshark = spawnSync('tshark', ['--version'], {stdio: 'ignore'}).status === 0
const HEADROOM = 128
const HOST = {dst: '02:00:00:00:00:22', src: '02:00:00:00:00:11'}
// Ports no Wireshark dissector claims, so the payload is shown as data and never "malformed".
const SPORT = 40000
const DPORT = 47001

interface Built {
  frame: Buffer
  vsid: number
  flowId: number
  outer: [string, string]
  inner: [string, string] | null
}

/** An inner frame built at HEADROOM by `build` (returns its length), then pushed into NVGRE. */
function tunnel(encap: NvgreEncap, vsid: number, hash: number, outer: [string, string], inner: [string, string] | null, build: (b: Buffer, at: number) => number): Built {
  const buf = Buffer.alloc(HEADROOM + 400)
  const len = build(buf, HEADROOM)
  const start = encap.push(buf, HEADROOM, HEADROOM + len, vsid, hash)
  expect(start).toBeGreaterThanOrEqual(0)
  return {frame: buf.subarray(start, HEADROOM + len), vsid, flowId: hash & 0xff, outer, inner}
}

function ipv4(src: string, dst: string, protocol: number, payloadLen: number): Ipv4Repr {
  return {src: ipv4FromString(src), dst: ipv4FromString(dst), protocol, ttl: 64, tos: 0, ident: 7, dontFrag: false, moreFrags: false, fragOffset: 0, payloadLen, options: new Uint8Array(0)}
}

function buildFrames(): Built[] {
  const v4 = new NvgreEncap({ethernet: HOST, src: '198.51.100.11', dst: '198.51.100.22'})
  const v6 = new NvgreEncap({ethernet: HOST, src: '2001:db8::11', dst: '2001:db8::22'})
  const o4: [string, string] = ['198.51.100.11', '198.51.100.22']
  const o6: [string, string] = ['2001:db8::11', '2001:db8::22']
  const vm = {dst: '06:06:00:00:00:07', src: '06:06:00:00:00:05'}
  const frames: Built[] = []

  const udp4 = (b: Buffer, at: number): number => {
    const payload = Buffer.from('hello, blue')
    const ip = ipv4('10.0.0.5', '10.0.0.7', IpProto.UDP, 8 + payload.length)
    let p = at + emitEthernet({...vm, etherType: EtherType.IPV4}, b, at)
    p += emitIpv4(ip, b, p)
    payload.copy(b, p + 8)
    emitUdp({srcPort: SPORT, dstPort: DPORT, payloadLen: payload.length}, b, p, ipv4PseudoSum(ip.src, ip.dst, IpProto.UDP))
    return p + 8 + payload.length - at
  }
  const hashUdp4 = flowHashIpv4(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.UDP, SPORT, DPORT)
  frames.push(tunnel(v4, 5001, hashUdp4, o4, ['10.0.0.5', '10.0.0.7'], udp4))
  frames.push(tunnel(v6, 16777214, hashUdp4, o6, ['10.0.0.5', '10.0.0.7'], udp4))

  frames.push(
    tunnel(v4, 6001, flowHashIpv4(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.7'), IpProto.TCP, SPORT, 22), o4, ['10.0.0.5', '10.0.0.7'], (b, at) => {
      const ip = ipv4('10.0.0.5', '10.0.0.7', IpProto.TCP, 24)
      let p = at + emitEthernet({dst: '08:08:00:00:00:07', src: '08:08:00:00:00:05', etherType: EtherType.IPV4}, b, at)
      p += emitIpv4(ip, b, p)
      const mss = Uint8Array.from([2, 4, 0x05, 0x8a])
      p += emitTcp({srcPort: SPORT, dstPort: 22, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 64240, urgent: 0, options: mss, payloadLen: 0}, b, p, ipv4PseudoSum(ip.src, ip.dst, IpProto.TCP))
      return p - at
    }),
  )

  frames.push(
    tunnel(v4, 5001, flowHashIpv4(ipv4FromString('10.0.0.5'), ipv4FromString('10.0.0.1'), IpProto.ICMP, 0, 0), o4, ['10.0.0.5', '10.0.0.1'], (b, at) => {
      let p = at + emitEthernet({...vm, etherType: EtherType.IPV4}, b, at)
      p += emitIpv4(ipv4('10.0.0.5', '10.0.0.1', IpProto.ICMP, 8 + 5), b, p)
      p += emitIcmpv4({type: 8, code: 0, ident: 3, seq: 4, data: Buffer.from('odd!!')}, b, p)
      return p - at
    }),
  )

  const ns = (b: Buffer, at: number): number => {
    let p = at + emitEthernet({dst: '33:33:ff:00:00:07', src: vm.src, etherType: EtherType.IPV6}, b, at)
    const ip = p
    p += emitIpv6({src: '2001:db8:ca::5', dst: 'ff02::1:ff00:7', nextHeader: IpProto.ICMPV6, hopLimit: 255, trafficClass: 0, flowLabel: 0, payloadLen: 32}, b, p)
    p += emitIcmpv6({type: ICMPV6_NEIGHBOR_SOLICIT, code: 0, target: '2001:db8:ca::7', sourceLla: vm.src}, b, p, ipv6PseudoSum(b, ip + Ipv6.SRC, ip + Ipv6.DST, IpProto.ICMPV6))
    return p - at
  }
  frames.push(tunnel(v6, 5001, 0x1234567, o6, ['2001:db8:ca::5', 'ff02::1:ff00:7'], ns))

  frames.push(
    tunnel(v6, 4096, 200, o6, ['2001:db8:ca::5', '2001:db8:ca::7'], (b, at) => {
      let p = at + emitEthernet({...vm, etherType: EtherType.IPV6}, b, at)
      const ip = p
      const payload = Buffer.from('v6 payload')
      p += emitIpv6({src: '2001:db8:ca::5', dst: '2001:db8:ca::7', nextHeader: IpProto.UDP, hopLimit: 64, trafficClass: 0, flowLabel: 0, payloadLen: 8 + payload.length}, b, p)
      payload.copy(b, p + 8)
      emitUdp({srcPort: SPORT, dstPort: DPORT, payloadLen: payload.length}, b, p, ipv6PseudoSum(b, ip + Ipv6.SRC, ip + Ipv6.DST, IpProto.UDP))
      expect(flowHashIpv6(b, ip + Ipv6.SRC, IpProto.UDP, SPORT, DPORT)).toBeGreaterThanOrEqual(0)
      return p + 8 + payload.length - at
    }),
  )

  frames.push(
    tunnel(v4, 5001, 77, o4, ['10.0.0.1', '10.0.0.5'], (b, at) => {
      let p = at + emitEthernet({dst: vm.src, src: '06:06:00:00:00:01', etherType: EtherType.IPV4}, b, at)
      const dhcpAt = p + 20 + 8
      const gw = ipv4FromString('10.0.0.1')
      const len = emitDhcp(
        {op: BOOTREPLY, hops: 0, xid: 0x3903f326, secs: 0, flags: 0, ciaddr: 0, yiaddr: ipv4FromString('10.0.0.5'), siaddr: 0, giaddr: 0, chaddr: vm.src, messageType: DHCPOFFER, serverId: gw, leaseTime: 86400, subnetMask: ipv4FromString('255.255.255.0'), routers: [gw], dnsServers: [gw]},
        b,
        dhcpAt,
      )
      const ip = ipv4('10.0.0.1', '10.0.0.5', IpProto.UDP, 8 + len)
      p += emitIpv4(ip, b, p)
      emitUdp({srcPort: 67, dstPort: 68, payloadLen: len}, b, p, ipv4PseudoSum(ip.src, ip.dst, IpProto.UDP))
      return dhcpAt + len - at
    }),
  )

  frames.push(
    tunnel(v4, 4096, 0, o4, null, (b, at) => {
      const p = at + emitEthernet({dst: 'ff:ff:ff:ff:ff:ff', src: vm.src, etherType: EtherType.ARP}, b, at)
      return p + emitArp({operation: 1, senderMac: vm.src, senderIp: ipv4FromString('10.0.0.5'), targetMac: '00:00:00:00:00:00', targetIp: ipv4FromString('10.0.0.7')}, b, p) - at
    }),
  )
  return frames
}

const FIELDS = [
  'frame.number',
  'gre.flags.key',
  'gre.proto',
  'gre.key',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.checksum.status',
  'udp.checksum.status',
  'tcp.checksum.status',
  'icmp.checksum.status',
  'icmpv6.checksum.status',
  '_ws.expert.severity',
  '_ws.expert.message',
  '_ws.malformed',
  'frame.protocols',
]
/** Wireshark's expert severities: PI_WARN and above would mean something is wrong (bad checksums are PI_ERROR). */
const PI_WARN = 0x600000

describe('tshark decodes what our emitters write', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hnv-wire-tshark-'))
  afterAll(() => rmSync(dir, {recursive: true, force: true}))

  const title = 'shows NVGRE key, protocol, VSID/FlowID, inner addresses, and no bad checksum'
  it.skipIf(!hasTshark)(hasTshark ? title : title + ' (skipped: tshark is not installed; apt-get install tshark)', () => {
    const frames = buildFrames()
    const file = join(dir, 'emitted.pcap')
    writeFileSync(file, pcapFile(frames.map((f) => f.frame), 1, 1700000000))
    if (process.env.HNV_WIRE_KEEP_PCAP) writeFileSync(process.env.HNV_WIRE_KEEP_PCAP, readFileSync(file))
    const args = ['-r', file, '-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE']
    const run = spawnSync('tshark', [...args, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', ...FIELDS.flatMap((f) => ['-e', f])], {encoding: 'utf8'})
    expect(run.status, run.stderr).toBe(0)
    const rows = run.stdout.trimEnd().split('\n').map((line) => Object.fromEntries(line.split('\t').map((v, i) => [FIELDS[i], v])))
    expect(rows).toHaveLength(frames.length)
    rows.forEach((row, i) => {
      const f = frames[i]
      const where = 'frame ' + (i + 1) + ': ' + row['frame.protocols']
      expect(row['gre.flags.key'], where).toMatch(/^(1|True)$/)
      expect(row['gre.proto'], where).toBe('0x6558')
      expect(Number(row['gre.key']), where).toBe(((f.vsid << 8) | f.flowId) >>> 0)
      const [src, dst] = f.outer[0].includes(':') ? ['ipv6.src', 'ipv6.dst'] : ['ip.src', 'ip.dst']
      expect(row[src].split(',')[0], where).toBe(f.outer[0])
      expect(row[dst].split(',')[0], where).toBe(f.outer[1])
      if (f.inner !== null) {
        const [isrc, idst] = f.inner[0].includes(':') ? ['ipv6.src', 'ipv6.dst'] : ['ip.src', 'ip.dst']
        expect(row[isrc].split(',').at(-1), where).toBe(f.inner[0])
        expect(row[idst].split(',').at(-1), where).toBe(f.inner[1])
      }
      for (const field of FIELDS.filter((x) => x.endsWith('checksum.status'))) {
        // 1 = good; the field is empty where the protocol is absent.
        for (const status of row[field].split(',').filter((s) => s !== '')) expect(status, where + ' ' + field).toBe('1')
      }
      expect(row['_ws.malformed'], where).toBe('')
      const severities = row['_ws.expert.severity'].split(',').filter((s) => s !== '').map(Number)
      expect(severities.filter((s) => s >= PI_WARN), where + ': ' + row['_ws.expert.message']).toEqual([])
    })
    // Each frame got a checksum verdict from at least one checksummed layer.
    const verdicts = rows.map((r) => FIELDS.filter((x) => x.endsWith('checksum.status')).some((x) => r[x] !== ''))
    expect(verdicts.every(Boolean)).toBe(true)
    const protocols = rows.map((r) => r['frame.protocols'])
    for (const p of ['gre:eth:ethertype:ip:udp', 'ip:tcp', 'ip:icmp', 'ipv6:icmpv6', 'ip:udp:dhcp', 'gre:eth:ethertype:arp']) {
      expect(protocols.some((x) => x.includes(p)), p + ' in ' + protocols.join(' | ')).toBe(true)
    }
  })

  it.skipIf(!hasTshark)('would notice a bad checksum: one broken on purpose is reported', () => {
    const frame = Buffer.from(buildFrames()[0].frame)
    frame[frame.length - 1] ^= 0xff // last payload byte of the inner UDP datagram
    const file = join(dir, 'broken.pcap')
    writeFileSync(file, pcapFile([frame]))
    const run = spawnSync('tshark', ['-r', file, '-o', 'udp.check_checksum:TRUE', '-T', 'fields', '-e', 'udp.checksum.status', '-e', '_ws.expert.severity'], {encoding: 'utf8'})
    expect(run.status, run.stderr).toBe(0)
    const [status, severity] = run.stdout.trim().split('\t')
    expect(status).toBe('0')
    expect(Math.max(...severity.split(',').map(Number))).toBeGreaterThanOrEqual(PI_WARN)
  })
})
