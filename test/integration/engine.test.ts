// The engine as a process against the kernel: two hosts in network namespaces, each with its own store
// and `hnv engine start --detach`, VMs in their own namespaces on the engines' TAPs, real traffic, and
// the policy changed with the CLI while everything runs. Needs root; everything lives in namespaces named
// hnvt-eng-<pid>-* that afterAll removes, also on failure. Provider addresses come from 198.51.100.0/24
// and 2001:db8:100::/64 only; tenant addresses exist only inside the VM namespaces.
import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'
import {existsSync, readFileSync, rmSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, hnvProcess} from '../support/cli.js'
import {PolicyStore} from '../../src/lib/policy/store.js'
import {BLUE_RDID, RED_RDID, Topology, ping, type HostState, type TopologySpec} from '../../src/lib/demo/topology.js'
import type {RuntimeStatus} from '../../src/lib/control/protocol.js'
import {inEchos, inNs, namespacesLeft, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/engine.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')
const FIXTURES = fileURLToPath(new URL('./fixtures/engine/', import.meta.url))
const PYTHON = '/usr/bin/python3'

/** reference §6 plus what the tests need: a second Blue subnet on host2, IPv6 CAs for Blue, IPv6 PAs. */
const SPEC: TopologySpec = {
  hosts: [
    {name: 'host1', providerAddresses: ['198.51.100.11', '2001:db8:100::11']},
    {name: 'host2', providerAddresses: ['198.51.100.22', '2001:db8:100::22']},
  ],
  subnets: [
    {vsid: 5001, rdid: BLUE_RDID, prefixes: ['10.0.0.0/24', '2001:db8:b100::/64']},
    {vsid: 5002, rdid: BLUE_RDID, prefixes: ['10.0.1.0/24']},
    {vsid: 6001, rdid: RED_RDID, prefixes: ['10.0.0.0/24']},
  ],
  vms: [
    {name: 'Blue1', host: 'host1', vsid: 5001, mac: '060600000005', addresses: ['10.0.0.5', '2001:db8:b100::5']},
    {name: 'Blue2', host: 'host2', vsid: 5001, mac: '060600000007', addresses: ['10.0.0.7', '2001:db8:b100::7']},
    {name: 'Blue3', host: 'host2', vsid: 5002, mac: '060600010005', addresses: ['10.0.1.5']},
    {name: 'Red1', host: 'host1', vsid: 6001, mac: '080800000005', addresses: ['10.0.0.5']},
    {name: 'Red2', host: 'host2', vsid: 6001, mac: '080800000007', addresses: ['10.0.0.7']},
  ],
}

/** A scapy fixture run by Debian's python3 inside a namespace. */
function scapy(ns: string, script: string, args: object): unknown {
  return JSON.parse(inNs(ns, PYTHON, join(FIXTURES, script), JSON.stringify(args)))
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

describe.skipIf(!isRoot)('the engine in network namespaces (needs root)', () => {
  const topology = Topology.plan(SPEC, `hnvt-eng-${process.pid}`)
  const host1 = topology.host('host1')
  const host2 = topology.host('host2')
  const status = (host: HostState): Promise<RuntimeStatus> => topology.status(host)
  const drops = async (host: HostState, reason: string): Promise<number> => {
    const counts = (await status(host)).drops
    expect(Object.keys(counts)).toContain(reason)
    return counts[reason]
  }
  const port = async (host: HostState, vm: string) => (await status(host)).ports.find((p) => p.vmName === vm)!
  /** The CLI against a host's store, as an operator runs it. */
  const cli = (host: HostState, ...args: string[]) => {
    const run = hnvProcess(host.store, args)
    expect(run.code, run.stderr).toBe(0)
    return run
  }
  /** Milliseconds from now until the engine has the store's current revision in force, cleanly. */
  const applied = async (host: HostState, since = performance.now()): Promise<number> => {
    await waitFor(`${host.spec.name}'s engine to apply the store's revision`, async () => {
      const s = await status(host)
      return s.revision === s.storeRevision && s.lastError === null ? true : undefined
    })
    return performance.now() - since
  }

  beforeAll(async () => {
    requireTools(['ip', 'ping', 'tcpdump', 'tshark', PYTHON], 'apt-get install iproute2 iputils-ping tcpdump tshark python3-scapy')
    await topology.up()
  })

  afterAll(async () => {
    const problems = await topology.down()
    const left = namespacesLeft(topology.prefix)
    expect([...problems, ...left]).toEqual([])
  })

  it('creates one TAP per adapter of the store, with its MAC and MTU = physical MTU - 62 (an IPv6 PA is bound)', async () => {
    const s = await status(host1)
    expect(s.ports.map((p) => [p.name, p.vmName, p.vsid, p.mac, p.state, p.mtu])).toEqual([
      ['hnv-blue1', 'Blue1', 5001, '060600000005', 'forwarding', 1438],
      ['hnv-red1', 'Red1', 6001, '080800000005', 'forwarding', 1438],
    ])
    expect(s.providerAddresses.map((pa) => [pa.address, pa.interface, pa.linkMtu])).toEqual([
      ['198.51.100.11', 'eth0', 1500],
      ['2001:db8:100::11', 'eth0', 1500],
    ])
    const link = JSON.parse(inNs(topology.vm('Blue1').ns, 'ip', '-j', 'link', 'show', 'hnv-blue1'))[0]
    expect([link.address, link.mtu]).toEqual(['06:06:00:00:00:05', 1438])
  })

  it('pings across hosts in the demo topology: Blue1 -> Blue2 and Red1 -> Red2', async () => {
    for (const [from, to] of [['Blue1', '10.0.0.7'], ['Red1', '10.0.0.7'], ['Blue2', '10.0.0.5'], ['Red2', '10.0.0.5']]) {
      const result = await ping(topology.vm(from).ns, to, {count: 3})
      expect(result.received, `${from} -> ${to}`).toBe(3)
    }
  })

  it('routes between two subnets of one tenant through the .1 gateway, and answers pings to it', async () => {
    const blue1 = topology.vm('Blue1').ns
    expect((await ping(blue1, '10.0.1.5', {count: 3})).received).toBe(3) // Blue3, VSID 5002 on host2
    expect((await ping(topology.vm('Blue3').ns, '10.0.0.5', {count: 3})).received).toBe(3)
    const echo = (await status(host1)).replies['echo-reply']
    expect((await ping(blue1, '10.0.0.1', {count: 2})).received).toBe(2)
    expect((await status(host1)).replies['echo-reply']).toBe(echo + 2)
    // Red has no 10.0.1.0/24: Blue's second subnet is not Red's.
    const noRoute = await drops(host1, 'no-route')
    expect((await ping(topology.vm('Red1').ns, '10.0.1.5', {count: 2, waitS: 0.5})).received).toBe(0)
    expect(await drops(host1, 'no-route')).toBe(noRoute + 2)
  })

  it('isolates the overlapping tenants both ways', async () => {
    for (const [from, own, other, otherVm] of [
      ['Blue1', 'Blue2', '08:08:00:00:00:07', 'Red2'],
      ['Red1', 'Red2', '06:06:00:00:00:07', 'Blue2'],
    ] as const) {
      const vm = topology.vm(from)
      const ownBefore = (await port(host2, own)).txPackets
      const otherBefore = (await port(host2, otherVm)).txPackets
      expect((await ping(vm.ns, '10.0.0.7', {count: 3})).received).toBe(3)
      expect((await port(host2, own)).txPackets - ownBefore).toBeGreaterThanOrEqual(3)
      expect((await port(host2, otherVm)).txPackets).toBe(otherBefore)
      // The VM forces the other tenant's MAC for 10.0.0.7: dropped on its own host, counted, never delivered.
      const mismatch = await drops(host1, 'dst-mac-mismatch')
      inNs(vm.ns, 'ip', 'neigh', 'replace', '10.0.0.7', 'lladdr', other, 'dev', vm.tap, 'nud', 'permanent')
      try {
        expect((await ping(vm.ns, '10.0.0.7', {count: 3, waitS: 0.5})).received).toBe(0)
      } finally {
        inNs(vm.ns, 'ip', 'neigh', 'del', '10.0.0.7', 'dev', vm.tap)
      }
      expect(await drops(host1, 'dst-mac-mismatch')).toBe(mismatch + 3)
      expect((await port(host2, otherVm)).txPackets).toBe(otherBefore)
    }
  })

  it('drops and counts a spoofed source MAC and a spoofed source CA from a VM', async () => {
    const blue1 = topology.vm('Blue1')
    const frame = {iface: blue1.tap, dstMac: '06:06:00:00:00:07', dstIp: '10.0.0.7', count: 4}
    const mac = await drops(host1, 'src-mac-spoofed')
    const ip = await drops(host1, 'src-ip-spoofed')
    const echos = inEchos(topology.vm('Blue2').ns)
    scapy(blue1.ns, 'send_frame.py', {...frame, srcMac: '06:06:00:00:00:99', srcIp: '10.0.0.5'})
    scapy(blue1.ns, 'send_frame.py', {...frame, srcMac: '06:06:00:00:00:05', srcIp: '10.0.0.99'})
    await waitFor('the drops to be counted', async () => ((await drops(host1, 'src-ip-spoofed')) === ip + 4 ? true : undefined))
    expect(await drops(host1, 'src-mac-spoofed')).toBe(mac + 4)
    expect(inEchos(topology.vm('Blue2').ns)).toBe(echos)
  })

  it('drops and counts NVGRE from an unknown PA, for an unknown VSID, or with the C or S bit set', async () => {
    const blue2 = topology.vm('Blue2')
    const packet = {src: '198.51.100.22', dst: '198.51.100.11', vsid: 5001, flowId: 7, srcMac: '06:06:00:00:00:07', dstMac: '06:06:00:00:00:05', srcIp: '10.0.0.7', dstIp: '10.0.0.5', count: 2}
    const cases: [string, object][] = [
      ['source-pa-mismatch', {src: '198.51.100.99'}],
      ['unknown-vsid', {vsid: 7777}],
      ['gre-checksum-bit', {checksum: true}],
      ['gre-sequence-bit', {sequence: true}],
    ]
    const echos = inEchos(topology.vm('Blue1').ns)
    for (const [reason, change] of cases) {
      const before = await drops(host1, reason)
      scapy(blue2.host.ns, 'send_nvgre.py', {...packet, ...change})
      await waitFor(`${reason} to be counted`, async () => ((await drops(host1, reason)) === before + 2 ? true : undefined))
    }
    expect(inEchos(topology.vm('Blue1').ns)).toBe(echos)
  })

  it('delivers an NVGRE frame crafted by scapy with a non-zero FlowID to the VM', async () => {
    const blue1 = topology.vm('Blue1')
    const before = inEchos(blue1.ns)
    const sent = scapy(host2.ns, 'send_nvgre.py', {
      src: '198.51.100.22', dst: '198.51.100.11', vsid: 5001, flowId: 0xab,
      srcMac: '06:06:00:00:00:07', dstMac: '06:06:00:00:00:05', srcIp: '10.0.0.7', dstIp: '10.0.0.5',
    }) as {gre: string}
    expect(sent.gre.slice(0, 16)).toBe('20006558001389ab') // K bit, 0x6558, VSID 5001, FlowID 0xab
    await waitFor('the echo request to reach Blue1', () => (inEchos(blue1.ns) === before + 1 ? true : undefined))
  })

  it('puts NVGRE on the wire that tshark decodes: gre.key = VSID << 8 | FlowID, protocol 0x6558', async () => {
    const pcap = join(topology.dir, 'phys.pcap')
    // 3 echo requests and 3 replies per tenant: ARP never reaches the wire (each host answers it).
    const expected = 12
    const capture = spawn('ip', ['netns', 'exec', host1.ns, 'tcpdump', '-Z', 'root', '-U', '-n', '-c', String(expected), '-i', 'eth0', '-w', pcap, 'ip proto 47'], {stdio: ['ignore', 'ignore', 'pipe']})
    const exited = once(capture, 'exit')
    let err = ''
    capture.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    try {
      await waitFor('tcpdump to listen', () => (err.includes('listening on') ? true : undefined))
      expect((await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 3})).received).toBe(3)
      expect((await ping(topology.vm('Red1').ns, '10.0.0.7', {count: 3})).received).toBe(3)
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))])
    } finally {
      if (capture.exitCode === null) capture.kill('SIGINT')
      await exited
    }
    // Outer and inner headers both have ip.* and eth.* fields: all occurrences, outer first.
    const fields = ['ip.src', 'ip.dst', 'gre.flags.checksum', 'gre.flags.key', 'gre.flags.sequence_number', 'gre.proto', 'gre.key', 'eth.src', 'icmp.type']
    const rows = execFileSync('tshark', ['-r', pcap, '-T', 'fields', '-E', 'separator=;', '-E', 'occurrence=a', '-E', 'aggregator=,', ...fields.flatMap((f) => ['-e', f])], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore']})
      .trim()
      .split('\n')
      .map((line) => Object.fromEntries(line.split(';').map((value, i) => [fields[i], value.split(',')])))
    rmSync(pcap, {force: true})
    expect(rows.length).toBe(expected)
    const flows = new Map<string, Set<number>>()
    for (const row of rows) {
      expect(row['ip.src'][0]).toMatch(/^198\.51\.100\.(11|22)$/) // outer: the PAs
      expect(row['gre.flags.key'][0]).toMatch(/^(1|True)$/)
      expect(row['gre.flags.checksum'][0]).toMatch(/^(0|False)$/)
      expect(row['gre.flags.sequence_number'][0]).toMatch(/^(0|False)$/)
      expect(Number(row['gre.proto'][0])).toBe(0x6558)
      const key = Number(row['gre.key'][0])
      const vsid = key >>> 8
      // The inner source MAC (the last Ethernet header) names the tenant; the key carries its VSID.
      expect(vsid).toBe(row['eth.src'].at(-1)!.startsWith('06:06') ? 5001 : 6001)
      const flow = `${row['ip.src'].join('>')}>${row['ip.dst'].join('>')} ${vsid} ${row['icmp.type'][0]}`
      flows.set(flow, (flows.get(flow) ?? new Set()).add(key & 0xff))
    }
    expect(flows.size).toBe(4) // two tenants, two directions
    // Per-flow entropy: one FlowID for all packets of one flow.
    for (const [flow, ids] of flows) expect(ids.size, flow).toBe(1)
  })

  it('carries IPv6 CAs over IPv4 PAs', async () => {
    const v4 = (await status(host1)).providerAddresses[0].io.txPackets
    const result = await ping(topology.vm('Blue1').ns, '2001:db8:b100::7', {count: 3})
    expect(result.received).toBe(3)
    expect((await status(host1)).providerAddresses[0].io.txPackets - v4).toBeGreaterThanOrEqual(3)
  })

  it('carries IPv4 CAs over IPv6 PAs once the records say so, with no restart', async () => {
    const records: [string, string][] = [['10.0.0.5', '2001:db8:100::11'], ['10.0.0.7', '2001:db8:100::22']]
    const set = (pas: [string, string][]) => {
      for (const host of [host1, host2]) {
        for (const [ca, pa] of pas) cli(host, 'lookup-record', 'set', '--customer-address', ca, '--virtual-subnet-id', '5001', '--provider-address', pa)
      }
    }
    set(records)
    try {
      await applied(host1)
      await applied(host2)
      const before = (await status(host1)).providerAddresses.map((pa) => pa.io.txPackets)
      expect((await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 3})).received).toBe(3)
      const after = (await status(host1)).providerAddresses.map((pa) => pa.io.txPackets)
      expect(after[1] - before[1]).toBeGreaterThanOrEqual(3) // 2001:db8:100::11
      expect(after[0] - before[0]).toBe(0) // 198.51.100.11: Blue's IPv4 CAs left it
    } finally {
      set([['10.0.0.5', '198.51.100.11'], ['10.0.0.7', '198.51.100.22']])
      await applied(host1)
      await applied(host2)
    }
    expect((await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 2})).received).toBe(2)
  })

  it('stops traffic within a second of removing a lookup record with the CLI, and restores it when it is added back', async () => {
    const blue1 = topology.vm('Blue1').ns
    const ports = (await status(host1)).ports.map((p) => p.name)
    // Timed from the command's return (its own start-up, ~0.5 s of Node here, is not the engine's).
    cli(host1, 'Remove-NetVirtualizationLookupRecord', '-CustomerAddress', '10.0.0.7', '-VirtualSubnetID', '5001')
    expect(await applied(host1)).toBeLessThan(1000)
    const noRecord = await drops(host1, 'no-record')
    expect((await ping(blue1, '10.0.0.7', {count: 2, waitS: 0.5})).received).toBe(0)
    expect(await drops(host1, 'no-record')).toBe(noRecord + 2)
    // Red, whose records did not change, kept working.
    expect((await ping(topology.vm('Red1').ns, '10.0.0.7', {count: 1})).received).toBe(1)

    cli(host1, 'New-NetVirtualizationLookupRecord', '-CustomerAddress', '10.0.0.7', '-VirtualSubnetID', '5001', '-MACAddress', '060600000007', '-ProviderAddress', '198.51.100.22', '-Rule', 'TranslationMethodEncap', '-VMName', 'Blue2')
    expect(await applied(host1)).toBeLessThan(1000)
    expect((await ping(blue1, '10.0.0.7', {count: 3})).received).toBe(3)
    // Same engine, same TAPs.
    const s = await status(host1)
    expect(s.pid).toBe(host1.pid)
    expect(s.ports.map((p) => p.name)).toEqual(ports)
  })

  it('keeps the last good table when a revision cannot be compiled, and says why', async () => {
    const before = await status(host1)
    // What no hnv command writes (they validate), but another writer or a hand edit could: a CA that is
    // not an address, committed as a revision like any other.
    const corrupt = (from: string, to: string) => {
      const store = PolicyStore.open(host1.store)
      try {
        store.write(() => store.db.prepare('UPDATE lookup_records SET customer_address = ? WHERE customer_address = ? AND virtual_subnet_id = 6001').run(to, from))
      } finally {
        store.close()
      }
    }
    corrupt('10.0.0.7', '10.0.0.999')
    try {
      const failed = await waitFor('the error to be reported', async () => {
        const s = await status(host1)
        return s.lastError !== null ? s : undefined
      })
      expect(failed.revision).toBe(before.revision)
      expect(failed.storeRevision).toBe(before.storeRevision + 1)
      expect(failed.lastError!.message).toContain('10.0.0.999')
      // The last good table is still in force: Red still reaches 10.0.0.7.
      expect((await ping(topology.vm('Red1').ns, '10.0.0.7', {count: 2})).received).toBe(2)
    } finally {
      corrupt('10.0.0.999', '10.0.0.7')
    }
    await applied(host1)
  })

  it('creates, updates and removes TAPs as adapters come, change and go, leaving the others alone', async () => {
    const links = () => JSON.parse(inNs(host1.ns, 'ip', '-j', 'link', 'show')) as {ifname: string; ifindex: number; address: string}[]
    const green = () => links().find((l) => l.ifname === 'hnv-green1')
    const rx = (await port(host1, 'Blue1')).rxPackets
    cli(host1, 'vm-network-adapter', 'add', '--vm-name', 'Green1', '--static-mac-address', '0A0000000001', '--virtual-subnet-id', '5001', '--interface-name', 'hnv-green1')
    await applied(host1)
    const created = green()!
    expect(created.address).toBe('0a:00:00:00:00:01')
    expect((await port(host1, 'Green1')).mtu).toBe(1438)
    // A new VSID is the table's business: the same TAP stays.
    cli(host1, 'vm-network-adapter', 'set', '--vm-name', 'Green1', '--virtual-subnet-id', '6001')
    await applied(host1)
    expect(green()!.ifindex).toBe(created.ifindex)
    expect((await port(host1, 'Green1')).vsid).toBe(6001)
    // A new MAC is the kernel side's: the TAP is made again with it.
    cli(host1, 'vm-network-adapter', 'set', '--vm-name', 'Green1', '--static-mac-address', '0A0000000002')
    await applied(host1)
    expect(green()!.address).toBe('0a:00:00:00:00:02')
    cli(host1, 'vm-network-adapter', 'remove', '--vm-name', 'Green1')
    await applied(host1)
    expect(green()).toBeUndefined()
    // Blue1's TAP (in its VM namespace) was never touched: its counters go on.
    expect((await port(host1, 'Blue1')).rxPackets).toBeGreaterThanOrEqual(rx)
    const result = await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 2})
    expect(result.received, JSON.stringify((await status(host1)).drops)).toBe(2)
  })

  it('shows counters per port, per VSID and per drop reason with hnv engine status --json', () => {
    const run = cli(host1, 'engine', 'status', '--json')
    const s = JSON.parse(run.stdout) as RuntimeStatus
    expect(s.pid).toBe(host1.pid)
    expect(s.revision).toBe(s.storeRevision)
    expect(s.ports.find((p) => p.vmName === 'Blue1')!.rxPackets).toBeGreaterThan(0)
    expect(s.vsids.find((v) => v.vsid === 5001)!.packets).toBeGreaterThan(0)
    expect(s.drops['src-mac-spoofed']).toBeGreaterThan(0)
    expect(s.providerAddresses[0].io.rxPackets).toBeGreaterThan(0)
    // The pings of the tests before came back through the flow cache.
    expect(s.flowCache!.hits).toBeGreaterThan(0)
    const table = cli(host1, 'engine', 'status').stdout
    expect(table).toMatch(/^Engine\n/)
    expect(table).toContain('src-mac-spoofed')
    expect(table).toMatch(/FlowCache +: \d+ hits, \d+ misses/)
  })

  it('lets only root talk to the engine: the control socket is 0600 and root\'s', () => {
    const {mode, uid} = statSync(host1.socket)
    expect([mode & 0o777, uid]).toEqual([0o600, 0])
    const asNobody = execFileSync('sh', ['-c', `setpriv --reuid=65534 --regid=65534 --clear-groups ${process.execPath} ${BIN} engine status --store ${host1.store} 2>&1; echo "exit $?"`], {encoding: 'utf8', env: {...process.env, HOME: '/nonexistent'}, cwd: '/'})
    expect(asNobody).toMatch(/^hnv: only root may talk to the engine \(.* is root's, mode 0600\): run this as root\nexit 1\n$/)
  })

  it('refuses a second engine on the same store, and names a provider address the host lacks', () => {
    const second = hnvProcess(host1.store, ['engine', 'start'])
    expect(second.code).toBe(1)
    expect(second.stderr.trim()).toMatch(/^hnv: an engine is already running for store .*host1\.db/)
    // The root namespace has none of the PAs: the error names the first and how to fix it.
    const elsewhere = hnvProcess(host1.store, ['engine', 'start', '--socket', join(topology.dir, 'other.sock')])
    expect(elsewhere.code).toBe(1)
    expect(elsewhere.stderr.trim().split('\n')).toHaveLength(1)
    expect(elsewhere.stderr.trim()).toMatch(/provider address 198\.51\.100\.11 is not assigned to any interface of this host .*ip addr add 198\.51\.100\.11\/24 dev <interface>.*hnv provider-address remove --store \S+host1\.db --provider-address 198\.51\.100\.11\)$/)
  })

  it('stops with hnv engine stop: its TAPs go (also those moved into VMs), the socket goes, nothing is left', async () => {
    for (const host of [host1, host2]) {
      const pid = host.pid!
      cli(host, 'engine', 'stop')
      expect(existsSync(host.socket)).toBe(false)
      await waitFor(`engine ${pid} to exit`, () => {
        try {
          process.kill(pid, 0)
          return undefined
        } catch {
          return true
        }
      })
      for (const vm of topology.vms.filter((v) => v.host === host)) {
        expect(inNs(vm.ns, 'ip', '-o', 'link', 'show')).not.toContain(vm.tap)
      }
      expect(inNs(host.ns, 'ip', '-o', 'link', 'show')).not.toContain('hnv-')
      expect(readFileSync(host.log, 'utf8')).toMatch(/engine stopped/)
    }
    const status = hnvProcess(host1.store, ['engine', 'status'])
    expect(status.code).toBe(1)
    expect(status.stderr).toMatch(/no engine is running/)
  })
})
