// TranslationMethodNat (IP rewrite): the decision (stage ip-rewrite) and the bytes. Both the VM's frames and
// the packets expected on the physical network are built by scapy (test/fixtures/scapy/nat_packets.py),
// every checksum computed there: the incremental rewrite must give exactly scapy's bytes.
import {execFileSync} from 'node:child_process'
import {fileURLToPath} from 'node:url'
import {describe, expect, it} from 'vitest'
import {rewriteRouted} from '../../../src/lib/engine/actions.js'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {restoreToCa, rewriteToPa} from '../../../src/lib/engine/nat.js'
import {ACTION_NAMES, Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {dropReasonName, stageName} from '../../../src/lib/engine/stages.js'
import {simulateTrace} from '../../../src/lib/engine/trace.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {MemoryPhysicalLink} from '../../support/memory-physical.js'
import {MemoryPort} from '../../support/memory-port.js'
import {colon, record, route} from './support.js'
import {PYTHON, scapyAvailable} from '../../support/scapy.js'

const SCAPY = fileURLToPath(new URL('../../fixtures/scapy/nat_packets.py', import.meta.url))
const hasScapy = scapyAvailable('test/unit/engine/nat.test.ts', 'all tests')

const NAT_RDID = '{11111111-2222-3333-4444-000000008001}'
const HOST1_PA = '198.51.100.11'
const HOST2_PA = '198.51.100.22'
/** Generated router MACs (02:6E:76 + VSID) of 8001 and 8002 (no `.1` records). */
const ROUTER_8001 = '026E76001F41'
const ROUTER_8002 = '026E76001F42'

interface NatVm {
  name: string
  mac: string
  vsid: number
  host: 1 | 2
  cas: [string, string][]
  rule?: string
}

const VMS: Record<string, NatVm> = {
  a: {name: 'NatA', mac: '0C0C00000005', vsid: 8001, host: 1, cas: [['10.8.0.5', '198.51.100.105'], ['fd01:8001::5', '2001:db8::105']]},
  e: {name: 'NatE', mac: '0C0C0000000A', vsid: 8001, host: 1, cas: [['10.8.0.10', '198.51.100.110']]},
  f: {name: 'EncF', mac: '0C0C0000000B', vsid: 8001, host: 1, cas: [['10.8.0.11', HOST1_PA]], rule: 'TranslationMethodEncap'},
  b: {name: 'NatB', mac: '0C0C00000007', vsid: 8001, host: 2, cas: [['10.8.0.7', '198.51.100.107'], ['fd01:8001::7', '2001:db8::107']]},
  c: {name: 'NatC', mac: '0C0C00010009', vsid: 8002, host: 2, cas: [['10.8.1.9', '198.51.100.109']]},
}

function policy(host: 1 | 2): PolicyDocument {
  const vms = Object.values(VMS)
  const local = vms.filter((vm) => vm.host === host)
  const pas = [host === 1 ? HOST1_PA : HOST2_PA, ...local.flatMap((vm) => vm.cas.map(([, pa]) => pa))].filter((pa, i, all) => all.indexOf(pa) === i)
  return {
    Version: 1,
    Global: {UseExternalRouter: false},
    LookupRecords: vms.flatMap((vm) => vm.cas.map(([ca, pa]) => ({...record(ca, vm.vsid, vm.mac, pa, vm.name), Rule: vm.rule ?? 'TranslationMethodNat'}))),
    CustomerRoutes: [
      route(NAT_RDID, 8001, '10.8.0.0/24', '0.0.0.0'),
      route(NAT_RDID, 8001, 'fd01:8001::/64', '::'),
      route(NAT_RDID, 8002, '10.8.1.0/24', '0.0.0.0'),
    ],
    ProviderAddresses: pas.map((pa) => ({ProviderAddress: pa, InterfaceIndex: 2, PrefixLength: pa.includes(':') ? 64 : 24, VlanID: 0, AddressState: 'Preferred', MACAddress: null, ManagedByCluster: false})),
    ProviderRoutes: [],
    VMNetworkAdapters: local.map((vm) => ({VMName: vm.name, Name: 'Network Adapter', MacAddress: vm.mac, VirtualSubnetId: vm.vsid, SwitchName: null, InterfaceName: 'hnv-' + vm.name.toLowerCase()})),
  }
}

interface Spec {
  eth: [string, string] | null
  src: string
  dst: string
  ttl: number
  l4: string
  /** ns / na: the target address and the link-layer address of the option. */
  target?: string
  lla?: string
}

function scapy(specs: Spec[]): Buffer[] {
  const hex = JSON.parse(execFileSync(PYTHON, [SCAPY, JSON.stringify(specs)], {encoding: 'utf8'})) as string[]
  return hex.map((h) => Buffer.from(h, 'hex'))
}

const t1 = compile(policy(1), 1)
const t2 = compile(policy(2), 1)
const pipeline = new Pipeline()
const v = new Verdict()

function fromVm(vm: NatVm, frame: Buffer) {
  pipeline.fromPort(t1, t1.portIndex('hnv-' + vm.name.toLowerCase()), frame, 0, frame.length, v)
  return {action: ACTION_NAMES[v.action], stage: stageName(v.stage), reason: dropReasonName(v.reason)}
}

/** A plain IP packet arriving from the physical network at host 2, with 14 bytes of headroom. */
function fromWire(packet: Buffer, t = t2) {
  const buf = Buffer.concat([Buffer.alloc(14), packet])
  pipeline.fromPhysical(t, (packet[0] >> 4) === 6 ? 6 : 4, buf, 14, buf.length, v)
  return {buf, decision: {action: ACTION_NAMES[v.action], stage: stageName(v.stage), reason: dropReasonName(v.reason)}}
}

const mac = (m: string) => colon(m)
const L4_4 = ['icmp', 'tcp', 'udp', 'udp0', 'frag']
const L4_6 = ['icmp', 'tcp', 'udp']

describe.skipIf(!hasScapy)('TranslationMethodNat: send (CA -> PA, plain IP)', () => {
  it.each(L4_4)('IPv4 %s, same subnet: both addresses rewritten, checksums exactly scapy\'s', (l4) => {
    const [frame, expected] = scapy([
      {eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.0.7', ttl: 64, l4},
      {eth: null, src: '198.51.100.105', dst: '198.51.100.107', ttl: 64, l4},
    ])
    expect(fromVm(VMS.a, frame)).toEqual({action: 'rewrite', stage: 'ip-rewrite', reason: 'none'})
    expect(t1.pas.text[v.pa]).toBe('198.51.100.107')
    expect(t1.pas.text[v.srcPa]).toBe('198.51.100.105')
    rewriteToPa(t1, frame, v)
    expect(frame.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it.each(L4_6)('IPv6 %s: both addresses rewritten, the pseudo-header checksum exactly scapy\'s', (l4) => {
    const [frame, expected] = scapy([
      {eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: 'fd01:8001::5', dst: 'fd01:8001::7', ttl: 64, l4},
      {eth: null, src: '2001:db8::105', dst: '2001:db8::107', ttl: 64, l4},
    ])
    expect(fromVm(VMS.a, frame)).toEqual({action: 'rewrite', stage: 'ip-rewrite', reason: 'none'})
    rewriteToPa(t1, frame, v)
    expect(frame.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it('to another subnet (routed by the distributed router): TTL - 1 as well', () => {
    const [frame, expected] = scapy([
      {eth: [mac(ROUTER_8001), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.1.9', ttl: 64, l4: 'tcp'},
      {eth: null, src: '198.51.100.105', dst: '198.51.100.109', ttl: 63, l4: 'tcp'},
    ])
    expect(fromVm(VMS.a, frame)).toEqual({action: 'rewrite', stage: 'ip-rewrite', reason: 'none'})
    expect(v.routed).toBe(true)
    rewriteRouted(frame, v)
    rewriteToPa(t1, frame, v)
    expect(frame.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it('to a NAT VM of this host: delivered to its port, no rewrite', () => {
    const [frame] = scapy([{eth: [mac(VMS.e.mac), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.0.10', ttl: 64, l4: 'icmp'}])
    expect(fromVm(VMS.a, frame)).toEqual({action: 'deliver', stage: 'local-delivery', reason: 'none'})
    expect(t1.ports.name[v.outPort]).toBe('hnv-nate')
  })

  it('from a TranslationMethodEncap VM to a NAT VM elsewhere: nat-rule-mismatch', () => {
    const [frame] = scapy([{eth: [mac(VMS.b.mac), mac(VMS.f.mac)], src: '10.8.0.11', dst: '10.8.0.7', ttl: 64, l4: 'icmp'}])
    expect(fromVm(VMS.f, frame)).toEqual({action: 'drop', stage: 'ip-rewrite', reason: 'nat-rule-mismatch'})
  })
})

describe.skipIf(!hasScapy)('TranslationMethodNat: receive (PA -> CA, delivered as for a local VM)', () => {
  it.each(L4_4)('IPv4 %s: addresses restored, Ethernet header of the sender\'s record, checksums exactly scapy\'s', (l4) => {
    const [packet, expected] = scapy([
      {eth: null, src: '198.51.100.105', dst: '198.51.100.107', ttl: 64, l4},
      {eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.0.7', ttl: 64, l4},
    ])
    const {buf, decision} = fromWire(packet)
    expect(decision).toEqual({action: 'deliver', stage: 'local-delivery', reason: 'none'})
    expect(t2.ports.name[v.outPort]).toBe('hnv-natb')
    expect(restoreToCa(t2, buf, v, 0)).toBe(0)
    expect(buf.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it.each(L4_6)('IPv6 %s: addresses restored, checksum exactly scapy\'s', (l4) => {
    const [packet, expected] = scapy([
      {eth: null, src: '2001:db8::105', dst: '2001:db8::107', ttl: 64, l4},
      {eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: 'fd01:8001::5', dst: 'fd01:8001::7', ttl: 64, l4},
    ])
    const {buf, decision} = fromWire(packet)
    expect(decision).toEqual({action: 'deliver', stage: 'local-delivery', reason: 'none'})
    expect(restoreToCa(t2, buf, v, 0)).toBe(0)
    expect(buf.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it("from another subnet: the source MAC is this subnet's router", () => {
    const [packet, expected] = scapy([
      {eth: null, src: '198.51.100.105', dst: '198.51.100.109', ttl: 63, l4: 'udp'},
      {eth: [mac(VMS.c.mac), mac(ROUTER_8002)], src: '10.8.0.5', dst: '10.8.1.9', ttl: 63, l4: 'udp'},
    ])
    const {buf, decision} = fromWire(packet)
    expect(decision).toEqual({action: 'deliver', stage: 'local-delivery', reason: 'none'})
    expect(restoreToCa(t2, buf, v, 0)).toBe(0)
    expect(buf.subarray(v.outOff, v.outEnd).toString('hex')).toBe(expected.toString('hex'))
  })

  it('no headroom for the Ethernet header: refused, nothing written', () => {
    const [packet] = scapy([{eth: null, src: '198.51.100.105', dst: '198.51.100.107', ttl: 64, l4: 'icmp'}])
    const {buf} = fromWire(packet)
    const before = Buffer.from(buf)
    expect(restoreToCa(t2, buf, v, 1)).toBe(-1)
    expect(buf.equals(before)).toBe(true)
  })

  it.each([
    ['to a PA that is not this host\'s', '198.51.100.105', '198.51.100.200', 'not-local-pa'],
    ['to a local PA of no NAT record (the host\'s NVGRE PA)', '198.51.100.105', HOST2_PA, 'nat-unknown-pa'],
    ['from an address that is no NAT PA', '203.0.113.9', '198.51.100.107', 'nat-unknown-source'],
    ['from the NVGRE PA of an Encap record', HOST1_PA, '198.51.100.107', 'nat-unknown-source'],
  ])('%s: dropped', (_name, src, dst, reason) => {
    const [packet] = scapy([{eth: null, src, dst, ttl: 64, l4: 'icmp'}])
    const {decision} = fromWire(packet)
    expect(decision).toEqual({action: 'drop', stage: 'ip-rewrite', reason})
  })

  it('a truncated IP header: malformed', () => {
    const {decision} = fromWire(Buffer.from('45000054', 'hex'))
    expect(decision).toEqual({action: 'drop', stage: 'ip-rewrite', reason: 'malformed'})
  })
})

describe.skipIf(!hasScapy)('TranslationMethodNat in the engine (memory port and physical link)', () => {
  function engineOf(host: 1 | 2, vm: NatVm, physical: MemoryPhysicalLink | undefined) {
    const engine = new Engine({underlays: [], physical})
    const port = new MemoryPort({name: 'hnv-' + vm.name.toLowerCase()})
    engine.attach(port)
    engine.load(compile(policy(host), 1))
    return {engine, port}
  }

  it('a VM frame leaves as the PA-addressed IP packet, to the destination PA; the answer comes back with the CAs', () => {
    const physical = new MemoryPhysicalLink()
    const {engine, port} = engineOf(1, VMS.a, physical)
    const [frame, onWire, answer, inVm] = scapy([
      {eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.0.7', ttl: 64, l4: 'tcp'},
      {eth: null, src: '198.51.100.105', dst: '198.51.100.107', ttl: 64, l4: 'tcp'},
      {eth: null, src: '198.51.100.107', dst: '198.51.100.105', ttl: 64, l4: 'udp'},
      {eth: [mac(VMS.a.mac), mac(VMS.b.mac)], src: '10.8.0.7', dst: '10.8.0.5', ttl: 64, l4: 'udp'},
    ])
    port.receive(frame)
    expect(physical.sent.map((s) => [s.destination.subarray(0, 4).join('.'), s.packet.toString('hex')])).toEqual([['198.51.100.107', onWire.toString('hex')]])
    physical.receive(answer)
    expect(port.take().map((f) => f.toString('hex'))).toEqual([inVm.toString('hex')])
    engine.close()
  })

  it('ARP for a NAT PA of this host is answered with the interface MAC; for the host\'s own PA it is left to the kernel', () => {
    const physical = new MemoryPhysicalLink()
    const {engine} = engineOf(1, VMS.a, physical)
    // RFC 826 request from 198.51.100.50 (MAC 02:00:00:00:00:50) for a NAT PA, then for the NVGRE PA.
    const request = (target: string) =>
      Buffer.from('0001080006040001' + '020000000050' + 'c6336432' + '000000000000' + Buffer.from(target.split('.').map(Number)).toString('hex'), 'hex')
    physical.receive(request('198.51.100.105'), request(HOST1_PA))
    expect(physical.frames.map((f) => [f.etherType, f.mac.toString('hex'), f.payload.toString('hex')])).toEqual([
      [0x0806, '020000000050', '0001080006040002' + '02005e000042' + 'c6336469' + '020000000050' + 'c6336432'],
    ])
    engine.close()
  })

  it('without a physical link the rewrite is dropped as no-physical-link', () => {
    const {engine, port} = engineOf(1, VMS.a, undefined)
    const [frame] = scapy([{eth: [mac(VMS.b.mac), mac(VMS.a.mac)], src: '10.8.0.5', dst: '10.8.0.7', ttl: 64, l4: 'icmp'}])
    port.receive(frame)
    expect(port.take()).toEqual([])
    expect(engine.status().drops['no-physical-link']).toBe(1)
    engine.close()
  })
})

describe('TranslationMethodNat in hnv trace (the same pipeline over the same table)', () => {
  it('a NAT VM to a NAT VM on another host, host 1 alone: the ip-rewrite step names both PAs; the outcome is rewrite', () => {
    const trace = simulateTrace([{name: 'host1', table: t1}], {vmName: 'NatA', destination: '10.8.0.7', protocol: 'icmp'})
    const last = trace.Steps[trace.Steps.length - 1]
    expect(last.Stage).toBe('ip-rewrite')
    expect(last.Text).toContain('source 10.8.0.5 -> PA 198.51.100.105, destination 10.8.0.7 -> PA 198.51.100.107, sent as plain IP')
    expect(trace.Outcome).toMatchObject({Action: 'rewrite', Stage: 'ip-rewrite', Reason: null, ProviderAddress: '198.51.100.107'})
    expect(trace.Result).toMatch(/^sent as plain IP to PA 198\.51\.100\.107 from PA 198\.51\.100\.105 \(TranslationMethodNat\) \(no store of the host owning 198\.51\.100\.107 given/)
  })

  it('with both hosts: followed to host 2, which restores the CAs and delivers to NatB', () => {
    const trace = simulateTrace([{name: 'host1', table: t1}, {name: 'host2', table: t2}], {vmName: 'NatA', destination: '10.8.0.7', protocol: 'tcp', port: 22})
    const onHost2 = trace.Steps.filter((s) => s.Host === 'host2').map((s) => [s.Stage, s.Text])
    expect(onHost2).toEqual([
      ['ip-rewrite', 'plain IP to NAT PA 198.51.100.107 from 198.51.100.105: destination -> CA 10.8.0.7, source -> CA 10.8.0.5 (their TranslationMethodNat records)'],
      ['local-delivery', expect.stringContaining('to adapter')],
    ])
    expect(trace.Outcome).toMatchObject({Action: 'deliver', Host: 'host2', InterfaceName: 'hnv-natb'})
  })

  it('an Encap VM to a NAT VM elsewhere: dropped at ip-rewrite (nat-rule-mismatch)', () => {
    const trace = simulateTrace([{name: 'host1', table: t1}], {vmName: 'EncF', destination: '10.8.0.7', protocol: 'icmp'})
    expect(trace.Outcome).toMatchObject({Action: 'drop', Stage: 'ip-rewrite', Reason: 'nat-rule-mismatch'})
  })
})

describe.skipIf(!hasScapy)('TranslationMethodNat: neighbor discovery for an IPv6 NAT PA on the physical link', () => {
  it('a solicitation for a NAT PA is answered from the interface MAC, exactly scapy\'s advertisement; DAD and the host\'s own PA are not', () => {
    const physical = new MemoryPhysicalLink()
    const engine = new Engine({underlays: [], physical})
    engine.attach(new MemoryPort({name: 'hnv-nata'}))
    engine.load(t1)
    const [ns, na, dad, other] = scapy([
      {eth: null, src: '2001:db8::50', dst: 'ff02::1:ff00:105', ttl: 255, l4: 'ns', target: '2001:db8::105', lla: '02:00:00:00:00:50'},
      {eth: null, src: '2001:db8::105', dst: '2001:db8::50', ttl: 255, l4: 'na', target: '2001:db8::105', lla: '02:00:5e:00:00:42'},
      {eth: null, src: '::', dst: 'ff02::1:ff00:105', ttl: 255, l4: 'ns', target: '2001:db8::105', lla: '02:00:00:00:00:50'},
      {eth: null, src: '2001:db8::50', dst: 'ff02::1:ff00:11', ttl: 255, l4: 'ns', target: '2001:db8::11', lla: '02:00:00:00:00:50'},
    ])
    physical.receive(ns, dad, other)
    expect(physical.frames.map((f) => [f.etherType, f.mac.toString('hex'), f.payload.toString('hex')])).toEqual([[0x86dd, '020000000050', na.toString('hex')]])
    expect(engine.status().replies['neighbor-advert']).toBe(1)
    engine.close()
  })
})
