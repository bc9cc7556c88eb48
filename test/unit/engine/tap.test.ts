// Capture and live trace on two engines joined in memory: the tap is null until armed, the live hops are
// the pipeline's verdicts explained like the simulated trace's, and the capture's pcap opens in tshark.
import {execFileSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {Engine} from '../../../src/lib/engine/engine.js'
import {Capture, LiveTrace, TapSet, captureLinkType, type CapturedPacket} from '../../../src/lib/engine/tap.js'
import {PROBE_MARK, prepareProbe, simulateTrace} from '../../../src/lib/engine/trace.js'
import {pcapFile} from '../../../src/lib/wire/index.js'
import {RuntimeDiagnostics, newTraceMarker} from '../../../src/lib/engine/runtime/diagnostics.js'
import type {ControlStream} from '../../../src/lib/control/server.js'
import {MemoryPort} from '../../support/memory-port.js'
import {MemoryNetwork} from '../../support/memory-underlay.js'
import {HOST1_PA, HOST1_PA6, HOST2_PA, HOST2_PA6, topology, VMS} from './support.js'

const tables = {1: compile(topology(1), 1), 2: compile(topology(2), 1)}
let engines: Engine[] = []
afterEach(() => {
  for (const e of engines) e.close()
  engines = []
})

function twoHosts(): {engines: Engine[]; port: Record<string, MemoryPort>} {
  const network = new MemoryNetwork()
  const port: Record<string, MemoryPort> = {}
  engines = ([1, 2] as const).map((h) => {
    const engine = new Engine({underlays: [network.underlay({family: 4, local: h === 1 ? HOST1_PA : HOST2_PA}), network.underlay({family: 6, local: h === 1 ? HOST1_PA6 : HOST2_PA6})]})
    engine.load(tables[h])
    for (const vm of Object.values(VMS).filter((vm) => vm.host === h)) {
      port[vm.iface] = new MemoryPort({name: vm.iface})
      engine.attach(port[vm.iface])
    }
    return engine
  })
  return {engines, port}
}

const marker = Buffer.concat([PROBE_MARK, Buffer.from('0123456789abcdef', 'hex')])

describe('live trace', () => {
  it('records each engine\'s verdict for the marked probe, explained as the simulated trace explains it', () => {
    const {engines: [h1, h2], port} = twoHosts()
    expect(h1.tap).toBeNull()
    const traces = [new LiveTrace(marker, HOST1_PA), new LiveTrace(marker, HOST2_PA)]
    ;[h1, h2].forEach((e, i) => {
      const set = new TapSet()
      set.traces.add(traces[i])
      e.tap = set
    })
    const request = {vmName: 'Blue1', destination: '10.0.1.9', protocol: 'udp' as const, port: 5353}
    const prepared = prepareProbe({name: HOST1_PA, table: tables[1]}, request, marker)
    expect(h1.inject(prepared.portName, prepared.probe!.buf.subarray(prepared.probe!.off, prepared.probe!.end))).toBe(true)
    // It really went: Blue3 on host2 got it.
    expect(port['hnv-blue3'].take()).toHaveLength(1)
    const live = [...traces[0].reports(), ...traces[1].reports()]
    expect(live.map((r) => r.outcome.Action)).toEqual(['encap', 'deliver'])
    const simulated = simulateTrace(
      [
        {name: HOST1_PA, table: tables[1]},
        {name: HOST2_PA, table: tables[2]},
      ],
      request,
    )
    // Same steps but the VM's ARP (the simulation's first) and the FlowID, which hashes the ports.
    const strip = (text: string) => text.replace(/FlowID 0x[0-9a-f]+/, 'FlowID ?')
    expect(live.flatMap((r) => r.steps).map((s) => [s.Host, s.Stage, s.Action, strip(s.Text)])).toEqual(simulated.Steps.slice(1).map((s) => [s.Host, s.Stage, s.Action, strip(s.Text)]))
    expect(live[1].outcome).toMatchObject({InterfaceName: 'hnv-blue3', Host: HOST2_PA})
  })

  it('ignores unmarked traffic', () => {
    const {engines: [h1], port} = twoHosts()
    const trace = new LiveTrace(marker, HOST1_PA)
    const set = new TapSet()
    set.traces.add(trace)
    h1.tap = set
    const prepared = prepareProbe({name: HOST1_PA, table: tables[1]}, {vmName: 'Blue1', destination: '10.0.0.7'})
    port['hnv-blue1'].receive(prepared.probe!.buf.subarray(prepared.probe!.off, prepared.probe!.end))
    expect(trace.reports()).toEqual([])
  })
})

describe('capture', () => {
  it('a port, a VSID and the underlay, each as tshark reads it', () => {
    const {engines: [h1, h2], port} = twoHosts()
    const got: Record<string, CapturedPacket[]> = {port: [], vsid: [], underlay: []}
    let done = 0
    const set1 = new TapSet()
    const set2 = new TapSet()
    set1.captures.add(new Capture({kind: 'port', name: 'hnv-blue1'}, 0, (p) => got.port.push(p), () => done++))
    set1.captures.add(new Capture({kind: 'underlay'}, 0, (p) => got.underlay.push(p), () => done++))
    set2.captures.add(new Capture({kind: 'vsid', vsid: 5002}, 2, (p) => got.vsid.push(p), () => done++))
    h1.tap = set1
    h2.tap = set2
    const prepared = prepareProbe({name: HOST1_PA, table: tables[1]}, {vmName: 'Blue1', destination: '10.0.1.9'})
    const frame = prepared.probe!.buf.subarray(prepared.probe!.off, prepared.probe!.end)
    port['hnv-blue1'].receive(frame, frame, frame)
    // Blue1's port: the three frames in; the VSID 5002 capture stops itself at two.
    expect(got.port.map((p) => p.direction)).toEqual(['in', 'in', 'in'])
    expect(got.vsid).toHaveLength(2)
    expect(done).toBe(1)
    expect(got.underlay.map((p) => p.direction)).toEqual(['out', 'out', 'out'])

    const dir = mkdtempSync(join(tmpdir(), 'hnv-d5-tap-'))
    try {
      const read = (name: string, packets: CapturedPacket[], linkType: number, fields: string[]): string[] => {
        const file = join(dir, name)
        writeFileSync(file, pcapFile(packets.map((p) => p.data), linkType))
        return execFileSync('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {encoding: 'utf8'}).trim().split('\n')
      }
      expect(read('port.pcap', got.port, captureLinkType({kind: 'port', name: ''}), ['eth.src', 'ip.src', 'ip.dst'])[0]).toBe('06:06:00:00:00:05\t10.0.0.5\t10.0.1.9')
      // tshark decodes the outer IPv4, GRE, and the inner frame it carries.
      expect(read('under.pcap', got.underlay, captureLinkType({kind: 'underlay'}), ['ip.src', 'ip.dst', 'gre.key', 'gre.proto']).map((l) => l.split('\t').slice(0, 2).join(' ')))
        .toEqual(Array(3).fill(`${HOST1_PA},10.0.0.5 ${HOST2_PA},10.0.1.9`))
      const gre = read('under2.pcap', got.underlay, captureLinkType({kind: 'underlay'}), ['gre.proto', 'gre.key'])[0].split('\t')
      expect(gre[0]).toBe('0x6558')
      expect(Number(gre[1]) >>> 8).toBe(5002)
      // The VSID capture shows the inner frames as host2 received them: routed, TTL 63.
      expect(read('vsid.pcap', got.vsid, captureLinkType({kind: 'vsid', vsid: 5002}), ['eth.dst', 'ip.ttl'])[0]).toBe(`06:06:00:01:00:09\t63`)
    } finally {
      rmSync(dir, {recursive: true, force: true})
    }
    void h2
  })
})

describe('the runtime side (control methods)', () => {
  it('capture arms the tap, streams events, stops at its count and disarms', async () => {
    const {engines: [h1], port} = twoHosts()
    const diagnostics = new RuntimeDiagnostics(h1, () => HOST1_PA)
    const events: unknown[] = []
    const stream: ControlStream = {send: (e) => events.push(e), onClose: () => {}}
    const done = diagnostics.capture({target: 'port', name: 'hnv-blue1', count: 2}, stream)
    expect(h1.tap).not.toBeNull()
    const prepared = prepareProbe({name: HOST1_PA, table: tables[1]}, {vmName: 'Blue1', destination: '10.0.0.7'})
    const frame = prepared.probe!.buf.subarray(prepared.probe!.off, prepared.probe!.end)
    port['hnv-blue1'].receive(frame, frame, frame)
    expect(await done).toEqual({packets: 2, linkType: 1})
    expect(events[0]).toEqual({linkType: 1})
    expect(Buffer.from((events[1] as {data: string}).data, 'base64')).toEqual(Buffer.from(frame))
    expect(h1.tap).toBeNull()
    expect(() => diagnostics.capture({target: 'port', name: 'hnv-nope'}, stream)).toThrow('no TAP hnv-nope on this engine (TAPs: hnv-blue1, ')
    expect(() => diagnostics.capture({target: 'vsid', vsid: 4242}, stream)).toThrow('VSID 4242 is not in the policy in force')
    // A capture without limits ends when the engine stops.
    const open = diagnostics.capture({target: 'underlay'}, stream)
    expect(h1.tap).not.toBeNull()
    diagnostics.close()
    expect(await open).toEqual({packets: 0, linkType: 101})
    expect(h1.tap).toBeNull()
  })

  it('trace-arm, trace-inject, trace-collect: the hop explained, then disarmed', () => {
    const {engines: [h1, h2]} = twoHosts()
    const d1 = new RuntimeDiagnostics(h1, () => HOST1_PA)
    const d2 = new RuntimeDiagnostics(h2, () => HOST2_PA)
    const marker = newTraceMarker()
    d1.traceArm({marker})
    d2.traceArm({marker})
    const injected = d1.traceInject({marker, request: {vmName: 'Blue1', destination: '10.0.0.7', protocol: 'tcp', port: 443}})
    expect(injected.injected).toBe(true)
    expect(injected.steps.map((s) => s.Stage)).toEqual(['arp-nd-proxy'])
    const hops = [...d1.traceCollect({marker}).hops, ...d2.traceCollect({marker}).hops]
    expect(hops.map((h) => h.outcome.Action)).toEqual(['encap', 'deliver'])
    expect(hops[1].outcome.InterfaceName).toBe('hnv-blue2')
    expect(h1.tap).toBeNull()
    expect(h2.tap).toBeNull()
    expect(() => d1.traceArm({marker: 'xyz'})).toThrow('marker must be 32 hex digits')
  })
})
