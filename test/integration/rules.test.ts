// HNV forwarding rules against the kernel: MTU (fragmentation-needed / packet-too-big, tracepath), the
// GatewayWildcard gateway VM forwarding to an outside network, UseExternalRouter. Two hosts in network
// namespaces built by Topology (engines started with --tap-mtu 1500, so the VMs keep a 1500-byte MTU over
// a 1500-byte physical link), plus one "outside" namespace behind the gateway VM. Needs root; every name
// starts with hnvt-f5-<pid> and afterAll removes everything, also on failure. Physical addresses from
// 198.51.100.0/24 and 203.0.113.0/24 only; tenant addresses exist only inside the VM namespaces.
import {execFileSync, spawn} from 'node:child_process'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {BIN, hnvProcess} from '../support/cli.js'
import {BLUE_RDID, Topology, ping, type HostState, type TopologySpec} from '../../src/lib/demo/topology.js'
import type {RuntimeStatus} from '../../src/lib/control/protocol.js'
import {inNs, inNsOutput, namespacesLeft, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/rules.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const PREFIX = `hnvt-f5-${process.pid}`
/** The gateway VM's MAC: its GatewayWildcard record and its static record for its own CA. */
const GW_VM_MAC = '0606000900AA'

const SPEC: TopologySpec = {
  hosts: [
    {name: 'host1', providerAddresses: ['198.51.100.11']},
    {name: 'host2', providerAddresses: ['198.51.100.22']},
  ],
  subnets: [
    {vsid: 5001, rdid: BLUE_RDID, prefixes: ['10.0.0.0/24', '2001:db8:f5::/64']},
    {vsid: 5002, rdid: BLUE_RDID, prefixes: ['10.0.1.0/24']},
    {vsid: 5009, rdid: BLUE_RDID, prefixes: ['10.0.9.0/24']},
  ],
  vms: [
    {name: 'Blue1', host: 'host1', vsid: 5001, mac: '060600000005', addresses: ['10.0.0.5', '2001:db8:f5::5']},
    {name: 'Blue2', host: 'host2', vsid: 5001, mac: '060600000007', addresses: ['10.0.0.7', '2001:db8:f5::7']},
    {name: 'Blue3', host: 'host2', vsid: 5002, mac: '060600010005', addresses: ['10.0.1.5']},
    {name: 'GwVM', host: 'host2', vsid: 5009, mac: GW_VM_MAC, addresses: ['10.0.9.2']},
  ],
  tapMtu: 1500,
}

/** A process's stdout and stderr, when it exits (any exit code). */
function spawnText(file: string, args: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(file, args, {stdio: ['ignore', 'pipe', 'pipe']})
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (text += chunk.toString()))
    child.on('close', () => resolve(text))
    child.on('error', (error) => resolve(text + String(error)))
  })
}

describe.skipIf(!isRoot)('HNV forwarding rules in network namespaces (needs root)', () => {
  const topology = Topology.plan(SPEC, PREFIX)
  const host1 = topology.host('host1')
  const host2 = topology.host('host2')
  const outside = `${PREFIX}-outside`
  const status = (host: HostState): Promise<RuntimeStatus> => topology.status(host)
  const cli = (host: HostState, ...args: string[]) => {
    const run = hnvProcess(host.store, args)
    expect(run.code, run.stderr).toBe(0)
    return run
  }
  const applied = async (host: HostState): Promise<void> => {
    const deadline = Date.now() + 5000
    for (;;) {
      const s = await status(host)
      if (s.revision === s.storeRevision && s.lastError === null) return
      if (Date.now() > deadline) throw new Error(`${host.spec.name}'s engine did not apply revision ${s.storeRevision}: ${s.lastError}`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }

  beforeAll(async () => {
    requireTools(['ip', 'ping', 'tracepath', 'tcpdump', 'iperf3'], 'apt-get install iproute2 iputils-ping iputils-tracepath tcpdump iperf3')
    await topology.up()
  }, 60_000)

  afterAll(async () => {
    try {
      execFileSync('ip', ['netns', 'del', outside], {stdio: 'ignore'})
    } catch {
      // never made, or already gone
    }
    const problems = await topology.down()
    const left = namespacesLeft(PREFIX)
    expect([...problems, ...left]).toEqual([])
  })

  describe('MTU', () => {
    it('the VMs keep a 1500-byte MTU over the 1500-byte physical link', () => {
      const link = JSON.parse(inNs(topology.vm('Blue1').ns, 'ip', '-j', 'link', 'show', 'hnv-blue1'))[0]
      expect(link.mtu).toBe(1500)
    })

    it('a 1500-byte ping with DF gets fragmentation-needed with MTU 1458 from the gateway', async () => {
      const blue1 = topology.vm('Blue1').ns
      const before = await status(host1)
      const out = inNsOutput(blue1, 'ping', '-n', '-M', 'do', '-s', '1472', '-c', '2', '-i', '0.3', '-W', '1', '10.0.0.7')
      // The first attempt comes back as "Frag needed and DF set (mtu = 1458)" from 10.0.0.1; then the
      // kernel knows the path MTU and refuses locally ("message too long, mtu=1458").
      expect(out).toMatch(/mtu ?= ?1458/)
      expect(out).toMatch(/0 received/)
      const after = await status(host1)
      expect(after.drops['too-big']).toBeGreaterThan(before.drops['too-big'])
      expect(after.replies['packet-too-big']).toBeGreaterThan(before.replies['packet-too-big'])
      // The route cache in the VM learned it: the path MTU to Blue2 is now 1458.
      expect(inNs(blue1, 'ip', 'route', 'get', '10.0.0.7')).toMatch(/mtu 1458/)
      // And what fits goes through: 1430 + 8 + 20 = 1458.
      expect(inNsOutput(blue1, 'ping', '-n', '-M', 'do', '-s', '1430', '-c', '2', '-i', '0.3', '-W', '2', '10.0.0.7')).toMatch(/2 received/)
    })

    it('a 1500-byte ping without DF goes through: the outer packet is fragmented and reassembled', async () => {
      const blue3 = topology.vm('Blue3').ns
      // From host2's Blue3 to host1's Blue1 (a fresh path, routed between subnets).
      expect(inNsOutput(blue3, 'ping', '-n', '-M', 'dont', '-s', '1472', '-c', '3', '-i', '0.3', '-W', '2', '10.0.0.5')).toMatch(/3 received/)
    })

    it('tracepath finds the path MTU, 1458, from the gateway', () => {
      // Blue2 (host2) to Blue1 (host1) across the underlay, routed through the distributed router.
      const out = inNsOutput(topology.vm('Blue3').ns, 'tracepath', '-n', '-m', '3', '10.0.0.5')
      expect(out, out).toMatch(/10\.0\.1\.1 .*pmtu 1458/)
      expect(out, out).toMatch(/Resume: pmtu 1458/)
    })

    it('IPv6: a 1500-byte ping gets packet-too-big with MTU 1458', () => {
      const blue1 = topology.vm('Blue1').ns
      const out = inNsOutput(blue1, 'ping', '-6', '-n', '-s', '1452', '-c', '2', '-i', '0.3', '-W', '1', '2001:db8:f5::7')
      expect(out).toMatch(/mtu ?= ?1458/i)
      expect(inNs(blue1, 'ip', '-6', 'route', 'get', '2001:db8:f5::7')).toMatch(/mtu 1458/)
      // IPv6 senders fragment themselves once they know: the same ping now arrives in two fragments.
      expect(inNsOutput(blue1, 'ping', '-6', '-n', '-s', '1452', '-c', '2', '-i', '0.3', '-W', '2', '2001:db8:f5::7')).toMatch(/2 received/)
    })

    it('keeps ordinary traffic flowing: 3 pings Blue1 -> Blue2', async () => {
      expect((await ping(topology.vm('Blue1').ns, '10.0.0.7', {count: 3})).received).toBe(3)
    })

    it('TCP with MSS clamping on Blue1 (VM MTU still 1500): SYN and SYN-ACK carry MSS 1418 and a 4 MB transfer needs no PMTU discovery', async () => {
      const blue1 = topology.vm('Blue1').ns
      const blue2 = topology.vm('Blue2').ns
      cli(host1, 'vm-network-adapter', 'set', '--vm-name', 'Blue1', '--mss-clamp')
      await applied(host1)
      // Forget the path MTU the pings above taught both VMs.
      for (const ns of [blue1, blue2]) inNs(ns, 'ip', 'route', 'flush', 'cache')
      const capture = (ns: string, dev: string, filter: string) =>
        spawnText('ip', ['netns', 'exec', ns, 'timeout', '15', 'tcpdump', '-l', '-nn', '-c', '1', '-i', dev, filter])
      const syn = capture(blue2, 'hnv-blue2', 'tcp[tcpflags] & (tcp-syn|tcp-ack) == tcp-syn and port 5201')
      const synAck = capture(blue1, 'hnv-blue1', 'tcp[tcpflags] & (tcp-syn|tcp-ack) == (tcp-syn|tcp-ack) and port 5201')
      const server = spawnText('ip', ['netns', 'exec', blue2, 'timeout', '20', 'iperf3', '-s', '-1', '-p', '5201'])
      await new Promise((resolve) => setTimeout(resolve, 700))
      const before = (await status(host1)).drops['too-big']
      const client = JSON.parse(inNsOutput(blue1, 'iperf3', '-c', '10.0.0.7', '-p', '5201', '-n', '4M', '-J'))
      expect(client.error, JSON.stringify(client.error)).toBeUndefined()
      // All of it sent and acknowledged (iperf3's sum_received is the server's count when the client stops).
      // iperf3 stops at the first write that reaches -n; a partial write before it makes it overshoot by
      // less than one 128 KB block.
      expect(client.end.sum_sent.bytes).toBeGreaterThanOrEqual(4 * 1024 * 1024)
      expect(client.end.sum_sent.bytes).toBeLessThan(4 * 1024 * 1024 + 128 * 1024)
      expect(client.end.sum_received.bytes).toBeGreaterThan(0)
      expect(await syn).toMatch(/mss 1418/)
      expect(await synAck).toMatch(/mss 1418/)
      await server
      // Segments of 1418 bytes fit: nothing was too big, the engine never had to answer.
      expect((await status(host1)).drops['too-big']).toBe(before)
    }, 30_000)

    it('hnv mtu check works out 1458 from the link and the DF probes, says the 1500-byte TAPs are too big, and finds a narrower path', () => {
      const check = () => JSON.parse(inNs(host1.ns, process.execPath, BIN, 'mtu', 'check', '--store', host1.store, '--json'))
      expect(check()).toEqual([
        expect.objectContaining({LocalProviderAddress: '198.51.100.11', RemoteProviderAddress: '198.51.100.22', Interface: 'eth0', LinkMTU: 1500, PathMTU: 1500, VMMTU: 1458, TapMTU: 1500}),
      ])
      expect(check()[0].Status).toMatch(/too big: the VMs' MTU 1500 is above 1458; start the engine with --tap-mtu 1458/)
      // host2's side of the physical link takes 1400 bytes at most: the probes find it.
      inNs(host2.ns, 'ip', 'link', 'set', 'eth0', 'mtu', '1400')
      try {
        // veth lets a frame through up to its MTU plus a VLAN tag's 4 bytes: the kernel's own leeway.
        const row = check()[0]
        expect(row.PathMTU).toBeGreaterThanOrEqual(1400)
        expect(row.PathMTU).toBeLessThanOrEqual(1404)
        expect(row.VMMTU).toBe(row.PathMTU - 42)
        expect(row.Status).toContain(`the path to 198.51.100.22 carries ${row.PathMTU} of the link's 1500 bytes`)
      } finally {
        inNs(host2.ns, 'ip', 'link', 'set', 'eth0', 'mtu', '1500')
      }
    }, 60_000)
  })

  describe('GatewayWildcard: a gateway VM forwarding to an outside network', () => {
    const OUTSIDE = '203.0.113.50'
    beforeAll(async () => {
      // The gateway VM (host2, VSID 5009, CA 10.0.9.2) routes between the VM network and 203.0.113.0/24.
      const gw = topology.vm('GwVM').ns
      execFileSync('ip', ['netns', 'add', outside])
      execFileSync('ip', ['-n', gw, 'link', 'add', 'ext0', 'type', 'veth', 'peer', 'name', 'ext0', 'netns', outside])
      for (const [ns, address] of [[gw, '203.0.113.1/24'], [outside, `${OUTSIDE}/24`]]) {
        inNs(ns, 'ip', 'link', 'set', 'lo', 'up')
        inNs(ns, 'ip', 'addr', 'add', address, 'dev', 'ext0')
        inNs(ns, 'ip', 'link', 'set', 'ext0', 'up')
      }
      inNs(gw, 'sysctl', '-qw', 'net.ipv4.ip_forward=1')
      inNs(outside, 'ip', 'route', 'add', '10.0.0.0/16', 'via', '203.0.113.1')
      // Policy on both hosts: the gateway's wildcard record and Blue's default route to its CA.
      for (const host of [host1, host2]) {
        cli(host, 'lookup-record', 'new', '--customer-address', '0.0.0.0', '--virtual-subnet-id', '5009', '--mac-address', GW_VM_MAC,
          '--provider-address', '198.51.100.22', '--rule', 'TranslationMethodEncap', '--type', 'GatewayWildcard', '--vm-name', 'GwVM')
        cli(host, 'customer-route', 'new', '--routing-domain-id', BLUE_RDID, '--virtual-subnet-id', '5001', '--destination-prefix', '0.0.0.0/0', '--next-hop', '10.0.9.2')
        await applied(host)
      }
    })

    it('Blue1 (host1) and Blue2 (host2) reach the outside through the gateway VM, and its replies with outside sources come back', async () => {
      const before = (await status(host1)).drops['unknown-source-ca']
      expect((await ping(topology.vm('Blue1').ns, OUTSIDE, {count: 3})).received).toBe(3)
      expect((await ping(topology.vm('Blue2').ns, OUTSIDE, {count: 3})).received).toBe(3)
      expect((await status(host1)).drops['unknown-source-ca']).toBe(before)
      // The outside saw the tenant's addresses: the gateway forwards, it does not translate.
      expect(inNsOutput(outside, 'ip', 'neigh', 'show', 'dev', 'ext0')).toContain('203.0.113.1')
    })

    it("refuses other VMs' packets with a source they do not own", async () => {
      const before = (await status(host1)).drops['src-ip-spoofed']
      const blue1 = topology.vm('Blue1').ns
      inNs(blue1, 'ip', 'addr', 'add', '203.0.113.77/32', 'dev', 'hnv-blue1')
      try {
        inNsOutput(blue1, 'ping', '-n', '-I', '203.0.113.77', '-c', '2', '-i', '0.2', '-W', '1', '10.0.0.7')
      } finally {
        inNs(blue1, 'ip', 'addr', 'del', '203.0.113.77/32', 'dev', 'hnv-blue1')
      }
      expect((await status(host1)).drops['src-ip-spoofed']).toBeGreaterThanOrEqual(before + 2)
    })
  })

  describe('UseExternalRouter: subnets reach each other through the gateway VM', () => {
    /** Packets the gateway VM's kernel forwarded (/proc/net/snmp is per namespace). */
    const forwarded = (): number => {
      const lines = inNs(topology.vm('GwVM').ns, 'cat', '/proc/net/snmp').split('\n').filter((line) => line.startsWith('Ip:'))
      return Number(lines[1].split(/\s+/)[lines[0].split(/\s+/).indexOf('ForwDatagrams')])
    }
    const setExternal = async (on: boolean) => {
      for (const host of [host1, host2]) {
        cli(host, 'global', 'set', '--use-external-router', on ? '$true' : '$false')
        await applied(host)
      }
    }

    beforeAll(async () => {
      // Blue's subnets are routed by the gateway VM (10.0.9.2), which has ip_forward on (GatewayWildcard above).
      for (const host of [host1, host2]) {
        cli(host, 'customer-route', 'new', '--routing-domain-id', BLUE_RDID, '--virtual-subnet-id', '5001', '--destination-prefix', '10.0.0.0/16', '--next-hop', '10.0.9.2')
      }
      await setExternal(true)
    })

    it('Blue1 (10.0.0.5, host1) reaches Blue3 (10.0.1.5, host2) through the router VM: it forwards both ways, 3 routed hops', async () => {
      const before = forwarded()
      const out = inNsOutput(topology.vm('Blue1').ns, 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', '10.0.1.5')
      expect(out).toMatch(/3 received/)
      // Blue3's reply: TTL 64 - 1 (into the router's subnet) - 1 (the router VM) - 1 (into Blue1's subnet).
      expect(out).toMatch(/ttl=61/)
      expect(forwarded() - before).toBeGreaterThanOrEqual(6)
    })

    it('with the setting off again, the distributed router routes directly: one hop, the router VM sees nothing', async () => {
      await setExternal(false)
      const before = forwarded()
      const out = inNsOutput(topology.vm('Blue1').ns, 'ping', '-n', '-c', '3', '-i', '0.2', '-W', '2', '10.0.1.5')
      expect(out).toMatch(/3 received/)
      expect(out).toMatch(/ttl=63/)
      expect(forwarded()).toBe(before)
    })
  })
})
