// TranslationMethodNat (IP rewrite) against the kernel: two hosts in network namespaces built by Topology,
// NatA on host1 (CA 10.8.0.5, PA 198.51.100.105) and NatB on host2 (CA 10.8.0.7, PA 198.51.100.107). The NAT
// PAs are in each host's store but never on its interface: each engine answers ARP for its own and sends
// through an IPPROTO_RAW socket. A ping NatA -> NatB works; tcpdump on host2's physical veth sees plain ICMP
// between the PAs (no GRE), and tcpdump inside NatB's namespace sees the CAs. Needs root; every name starts
// with hnvt-n5-<pid> and afterAll removes everything, also on failure.
import {execFileSync, spawn} from 'node:child_process'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ping, PHYS, Topology, type TopologySpec} from '../../src/lib/demo/topology.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/nat.test.ts: skipped, needs root (network namespaces, TAPs, raw and packet sockets)')

const PREFIX = `hnvt-n5-${process.pid}`
const NAT_RDID = '{11111111-2222-3333-4444-000000008005}'

const SPEC: TopologySpec = {
  hosts: [
    {name: 'host1', providerAddresses: ['198.51.100.11', '2001:db8::11']},
    {name: 'host2', providerAddresses: ['198.51.100.22', '2001:db8::22']},
  ],
  subnets: [{vsid: 8001, rdid: NAT_RDID, prefixes: ['10.8.0.0/24', '2001:db8:8005::/64']}],
  vms: [
    {name: 'NatA', host: 'host1', vsid: 8001, mac: '0C0C00000005', addresses: ['10.8.0.5', '2001:db8:8005::5'], nat: ['198.51.100.105', '2001:db8::105']},
    {name: 'NatB', host: 'host2', vsid: 8001, mac: '0C0C00000007', addresses: ['10.8.0.7', '2001:db8:8005::7'], nat: ['198.51.100.107', '2001:db8::107']},
  ],
}

/** In NatB: accept one connection on 10.8.0.7:7007 and echo everything back until the client closes. */
const TCP_SERVER = `
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('10.8.0.7', 7007)); s.listen(1)
c, _ = s.accept()
while True:
    d = c.recv(65536)
    if not d: break
    c.sendall(d)
c.close()
`
/** In NatA: 200 KB of a pattern to NatB and the same bytes back. */
const TCP_CLIENT = `
import socket
data = bytes(i * 7 % 251 for i in range(204800))
c = socket.create_connection(('10.8.0.7', 7007), timeout=10)
c.sendall(data); c.shutdown(socket.SHUT_WR)
got = b''
while True:
    d = c.recv(65536)
    if not d: break
    got += d
print('ok', len(got) if got == data else 'mismatch %d' % len(got))
`

/** tcpdump in a namespace for `seconds`, its lines (started before the traffic, ended by timeout). */
function tcpdump(ns: string, dev: string, filter: string, seconds: number): Promise<string[]> {
  return new Promise((resolve) => {
    const child = spawn('ip', ['netns', 'exec', ns, 'timeout', String(seconds), 'tcpdump', '-l', '-n', '-e', '-i', dev, filter], {stdio: ['ignore', 'pipe', 'pipe']})
    let text = ''
    child.stdout.on('data', (chunk: Buffer) => (text += chunk.toString()))
    child.on('close', () => resolve(text.split('\n').filter((l) => l.trim() !== '')))
    child.on('error', () => resolve([]))
  })
}

describe.skipIf(!isRoot)('TranslationMethodNat in network namespaces (needs root)', () => {
  const topology = Topology.plan(SPEC, PREFIX)
  const host2 = topology.host('host2')
  const natA = topology.vm('NatA')
  const natB = topology.vm('NatB')

  beforeAll(async () => {
    await topology.up()
  }, 60_000)

  afterAll(async () => {
    const problems = await topology.down()
    expect(problems).toEqual([])
  }, 60_000)

  it('the NAT PAs stay off the hosts\' interfaces', () => {
    const addrs = execFileSync('ip', ['-n', host2.ns, '-4', 'addr', 'show', 'dev', PHYS], {encoding: 'utf8'})
    expect(addrs).toContain('198.51.100.22')
    expect(addrs).not.toContain('198.51.100.107')
  })

  it('a ping between the NAT VMs works: PAs on the wire (plain ICMP, no GRE), CAs in the VM', async () => {
    const wire = tcpdump(host2.ns, PHYS, 'icmp or proto 47', 6)
    const vm = tcpdump(natB.ns, natB.tap, 'icmp', 6)
    await new Promise((r) => setTimeout(r, 1500))
    const result = await ping(natA.ns, '10.8.0.7', {count: 3, waitS: 2})
    expect(result.received, JSON.stringify(result)).toBe(3)
    const [wireLines, vmLines] = await Promise.all([wire, vm])
    expect(wireLines.some((l) => l.includes('198.51.100.105 > 198.51.100.107: ICMP echo request'))).toBe(true)
    expect(wireLines.some((l) => l.includes('198.51.100.107 > 198.51.100.105: ICMP echo reply'))).toBe(true)
    expect(wireLines.filter((l) => l.includes('GRE') || l.includes('10.8.0.'))).toEqual([])
    expect(vmLines.some((l) => l.includes('0c:0c:00:00:00:05 > 0c:0c:00:00:00:07') && l.includes('10.8.0.5 > 10.8.0.7: ICMP echo request'))).toBe(true)
    expect(vmLines.some((l) => l.includes('10.8.0.7 > 10.8.0.5: ICMP echo reply'))).toBe(true)
    const status = await topology.status(host2)
    expect(status.replies['arp-reply'] ?? 0).toBeGreaterThan(0)
  }, 30_000)

  it('TCP across the rewrite: 200 KB echoed back whole (the kernels check every TCP checksum the engines patched)', async () => {
    const server = spawn('ip', ['netns', 'exec', natB.ns, '/usr/bin/python3', '-c', TCP_SERVER], {stdio: ['ignore', 'pipe', 'pipe']})
    try {
      await new Promise((r) => setTimeout(r, 1000))
      const out = execFileSync('ip', ['netns', 'exec', natA.ns, '/usr/bin/python3', '-c', TCP_CLIENT], {encoding: 'utf8', timeout: 20_000})
      expect(out.trim()).toBe('ok 204800')
    } finally {
      server.kill()
    }
  }, 30_000)

  it('over IPv6 too: the engine answers neighbor solicitations for its NAT PA; PAs on the wire, CAs in the VM', async () => {
    const wire = tcpdump(host2.ns, PHYS, 'icmp6 and not ip6[40] >= 133', 6)
    const vm = tcpdump(natB.ns, natB.tap, 'icmp6 and not ip6[40] >= 133', 6)
    await new Promise((r) => setTimeout(r, 1500))
    const result = await ping(natA.ns, '2001:db8:8005::7', {count: 3, waitS: 2})
    expect(result.received, JSON.stringify(result)).toBe(3)
    const [wireLines, vmLines] = await Promise.all([wire, vm])
    expect(wireLines.some((l) => l.includes('2001:db8::105 > 2001:db8::107: ICMP6, echo request'))).toBe(true)
    expect(wireLines.some((l) => l.includes('2001:db8::107 > 2001:db8::105: ICMP6, echo reply'))).toBe(true)
    expect(wireLines.filter((l) => l.includes('2001:db8:8005:'))).toEqual([])
    expect(vmLines.some((l) => l.includes('2001:db8:8005::5 > 2001:db8:8005::7: ICMP6, echo request'))).toBe(true)
    const status = await topology.status(host2)
    expect(status.replies['neighbor-advert'] ?? 0).toBeGreaterThan(0)
  }, 30_000)
})
