// hnv trace (simulated and --live), Select-NetVirtualizationNextHop and hnv capture against two real
// engines in network namespaces (Topology), as an operator runs them. Needs root; everything lives in
// namespaces named hnvt-d5-<pid>-* that afterAll removes, also on failure. Provider addresses come from
// 198.51.100.0/24 only; tenant addresses exist only inside the VM namespaces.
import {execFileSync, spawn} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {BIN, hnvProcess, tempDir} from '../support/cli.js'
import {BLUE_RDID, RED_RDID, Topology, ping, type HostState, type TopologySpec} from '../../src/lib/demo/topology.js'
import type {Trace} from '../../src/lib/engine/explain.js'
import {inEchos, inNs, namespacesLeft, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/diagnostics.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const SPEC: TopologySpec = {
  hosts: [
    {name: 'host1', providerAddresses: ['198.51.100.11']},
    {name: 'host2', providerAddresses: ['198.51.100.22']},
  ],
  subnets: [
    {vsid: 5001, rdid: BLUE_RDID, prefixes: ['10.0.0.0/24']},
    {vsid: 5002, rdid: BLUE_RDID, prefixes: ['10.0.1.0/24']},
    {vsid: 6001, rdid: RED_RDID, prefixes: ['10.0.0.0/24']},
  ],
  vms: [
    {name: 'Blue1', host: 'host1', vsid: 5001, mac: '060600000005', addresses: ['10.0.0.5']},
    {name: 'Blue2', host: 'host2', vsid: 5001, mac: '060600000007', addresses: ['10.0.0.7']},
    {name: 'Blue3', host: 'host2', vsid: 5002, mac: '060600010005', addresses: ['10.0.1.5']},
    {name: 'Red1', host: 'host1', vsid: 6001, mac: '080800000005', addresses: ['10.0.0.5']},
    {name: 'Red2', host: 'host2', vsid: 6001, mac: '080800000007', addresses: ['10.0.0.7']},
  ],
  // Each engine serves metrics inside its own host namespace.
  metrics: '127.0.0.1:9464',
}
const METRICS_PARSER = fileURLToPath(new URL('../fixtures/metrics/parse.py', import.meta.url))

/** `hnv ...` as a separate process, to completion, with a shell pipeline after it when given. */
function pipeline(store: string, args: string[], after: string): Promise<{stdout: string; stderr: string; code: number}> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ')
  return new Promise((resolve) => {
    const child = spawn('sh', ['-c', `${quoted} | ${after}`], {env: {...process.env, HNV_STORE: store}})
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (c) => (stdout += c))
    child.stderr.on('data', (c) => (stderr += c))
    child.on('close', (code) => resolve({stdout, stderr, code: code ?? -1}))
  })
}

describe.skipIf(!isRoot)('trace, next hop and capture against running engines (needs root)', () => {
  const topology = Topology.plan(SPEC, `hnvt-d5-${process.pid}`)
  const host1 = topology.host('host1')
  const host2 = topology.host('host2')
  const dir = tempDir()
  const cli = (host: HostState, ...args: string[]) => {
    const run = hnvProcess(host.store, args)
    expect(run.code, run.stderr).toBe(0)
    return run
  }
  const trace = (live: boolean, ...args: string[]): Trace =>
    JSON.parse(cli(host1, 'trace', '--peer-store', host2.store, '--json', ...(live ? ['--live'] : []), ...args).stdout) as Trace
  /** Host, stage and action of each step but the VM's ARP (the live trace injects the probe itself). */
  const path = (t: Trace) => t.Steps.slice(1).map((s) => `${s.Host} ${s.Stage} ${s.Action}${s.Drop ? ' ' + s.Drop.Reason : ''}`)

  beforeAll(async () => {
    requireTools(['ip', 'ping', 'tshark'], 'apt-get install iproute2 iputils-ping tshark')
    await topology.up()
  })

  afterAll(async () => {
    dir.remove()
    const problems = await topology.down()
    const left = namespacesLeft(topology.prefix)
    expect([...problems, ...left]).toEqual([])
  })

  it('a routed packet: the live trace takes the path the simulated one predicts, and the VM gets it', async () => {
    const blue3 = topology.vm('Blue3').ns
    const before = inEchos(blue3)
    const simulated = trace(false, '--vm', 'Blue1', '--destination', '10.0.1.5')
    const live = trace(true, '--vm', 'Blue1', '--destination', '10.0.1.5')
    expect(live.Mode).toBe('live')
    expect(path(live)).toEqual(path(simulated))
    expect(path(live)).toEqual([
      '198.51.100.11 port-ingress continue',
      '198.51.100.11 port-security continue',
      '198.51.100.11 route continue',
      '198.51.100.11 resolve continue',
      '198.51.100.11 encap encap',
      '198.51.100.22 decap-check continue',
      '198.51.100.22 local-delivery deliver',
    ])
    expect(live.Outcome).toMatchObject({Action: 'deliver', InterfaceName: 'hnv-blue3', Host: '198.51.100.22'})
    // The probe really crossed: Blue3's kernel received one more echo request.
    await new Promise((r) => setTimeout(r, 200))
    expect(inEchos(blue3)).toBe(before + 1)
    // The text form of the same live trace.
    const text = cli(host1, 'trace', '--peer-store', host2.store, '--live', '--vm', 'Blue1', '--destination', '10.0.1.5', '--protocol', 'udp', '--port', '7').stdout
    expect(text).toMatch(/^Live trace: .*UDP 49152 > 7/)
    expect(text).toContain('Result: delivered to adapter')
  })

  it('a drop: both traces stop at resolve with no-record and the policy that fixes it', () => {
    const simulated = trace(false, '--vm', 'Blue1', '--destination', '10.0.1.77')
    const live = trace(true, '--vm', 'Blue1', '--destination', '10.0.1.77')
    expect(path(live)).toEqual(path(simulated))
    expect(live.Outcome).toMatchObject({Action: 'drop', Reason: 'no-record', Stage: 'resolve'})
    expect(live.Steps[live.Steps.length - 1].Drop!.Fix).toContain('New-NetVirtualizationLookupRecord -CustomerAddress 10.0.1.77 -VirtualSubnetID 5002')
  })

  it('Select-NetVirtualizationNextHop answers from the store, engine or not, in both spellings', () => {
    const ps = JSON.parse(cli(host1, 'Select-NetVirtualizationNextHop', '10.0.0.5', '10.0.1.5', '5001', '--json').stdout)
    expect(ps).toEqual({
      SourceCustomerAddress: '10.0.0.5',
      DestinationCustomerAddress: '10.0.1.5',
      SourceVirtualSubnetID: 5001,
      NextHopAddress: '10.0.1.5',
      SourceMACAddress: '060600000005',
      NextHopMACAddress: '060600010005',
    })
    const topic = JSON.parse(cli(host1, 'next-hop', 'select', '--destination-customer-address', '10.0.0.7', '--source-virtual-subnet-id', '6001', '--json').stdout)
    expect(topic.NextHopMACAddress).toBe('080800000007')
    const missing = hnvProcess(host1.store, ['next-hop', 'select', '--destination-customer-address', '10.0.1.77', '--source-virtual-subnet-id', '5001'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('no-record')
  })

  it('hnv capture of a port writes a pcap tshark reads; of the underlay, a stream tshark reads from stdin', async () => {
    const file = join(dir.path, 'blue1.pcap')
    let armed: () => void
    const portArmed = new Promise<void>((resolve) => (armed = resolve))
    const port = new Promise<{code: number; stderr: string}>((resolve) => {
      const child = spawn(process.execPath, [BIN, 'capture', '--port', 'hnv-blue1', '--count', '4', '--duration', '30', '-w', file], {env: {...process.env, HNV_STORE: host1.store}})
      let stderr = ''
      child.stderr.on('data', (c) => {
        stderr += c
        if (stderr.includes('capturing port hnv-blue1')) armed()
      })
      child.on('close', (code) => resolve({code: code ?? -1, stderr}))
    })
    const underlay = pipeline(host1.store, ['capture', '--underlay', '--count', '2', '--duration', '30'], 'tshark -r - -T fields -e ip.src -e ip.dst -e gre.key -e icmp.type')
    await portArmed
    // The underlay capture arms within the same time (its note goes to the pipeline's stderr).
    await new Promise((r) => setTimeout(r, 1500))
    expect((await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 2, intervalS: 0.2})).received).toBe(2)
    const captured = await port
    expect(captured.code, captured.stderr).toBe(0)
    expect(captured.stderr).toContain('4 packets captured')
    expect(readFileSync(file).readUInt32LE(0)).toBe(0xa1b2c3d4)
    const frames = execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'eth.src', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'icmp.type'], {encoding: 'utf8'}).trim().split('\n')
    expect(frames).toContain('06:06:00:00:00:05\t10.0.0.5\t10.0.0.7\t8')
    expect(frames).toContain('06:06:00:00:00:07\t10.0.0.7\t10.0.0.5\t0')
    const wire = await underlay
    expect(wire.code, wire.stderr).toBe(0)
    const lines = wire.stdout.trim().split('\n')
    expect(lines).toHaveLength(2)
    // Outer PAs, then the inner CAs tshark decoded through GRE; key = VSID 5001 << 8 | FlowID.
    for (const line of lines) {
      const [src, dst, key] = line.split('\t')
      expect(src.split(',')[0]).toMatch(/^198\.51\.100\.(11|22)$/)
      expect(dst.split(',')[0]).toMatch(/^198\.51\.100\.(11|22)$/)
      expect(Number(key) >>> 8).toBe(5001)
    }
    // Nothing stays armed: the engine's counters show no capture left behind (a second capture starts clean).
    const again = hnvProcess(host1.store, ['capture', '--port', 'hnv-red1', '--duration', '1', '-w', join(dir.path, 'red1.pcap')])
    expect(again.code, again.stderr).toBe(0)
    expect(again.stderr).toContain('0 packets captured')
  }, 90_000)

  it('hnv engine start --metrics: /metrics scraped in the host namespace and parsed by the Prometheus client', async () => {
    expect((await ping(topology.vm('Red1').ns, '10.0.0.7', {count: 2, intervalS: 0.2})).received).toBe(2)
    const scrape = [
      'import sys, urllib.request',
      "r = urllib.request.urlopen('http://127.0.0.1:9464/metrics', timeout=5)",
      "sys.stdout.write(r.headers['Content-Type'] + '\\n' + r.read().decode())",
    ].join('\n')
    const [contentType, ...body] = inNs(host1.ns, '/usr/bin/python3', '-c', scrape).split('\n')
    expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8')
    const families = JSON.parse(execFileSync('/usr/bin/python3', [METRICS_PARSER], {input: body.join('\n'), encoding: 'utf8'})) as Record<string, {samples: [string, Record<string, string>, number][]}>
    const red = families.hnv_vsid_packets.samples.find(([, labels]) => labels.vsid === '6001')
    expect(red?.[2]).toBeGreaterThanOrEqual(2)
    const port = families.hnv_port_tx_packets.samples.find(([, labels]) => labels.port === 'hnv-red1')
    expect(port?.[1]).toMatchObject({vm: 'Red1', vsid: '6001'})
    expect(port?.[2]).toBeGreaterThanOrEqual(2)
    expect(families.hnv_drops.samples.map(([, labels]) => labels.reason)).toContain('no-record')
    expect(families.hnv_lookup_record_packets.samples.some(([, labels]) => labels.customer_address === '10.0.0.7' && labels.vsid === '6001')).toBe(true)
  })

  it('engine status shows the lookup records traffic resolved to', () => {
    const status = JSON.parse(cli(host1, 'engine', 'status', '--json').stdout) as {records: {CustomerAddress: string; VirtualSubnetID: number; packets: number}[]}
    expect(status.records.find((r) => r.CustomerAddress === '10.0.0.7' && r.VirtualSubnetID === 5001)?.packets).toBeGreaterThanOrEqual(2)
    expect(cli(host1, 'engine', 'status').stdout).toContain('Lookup records (traffic resolved to them)')
  })
})
