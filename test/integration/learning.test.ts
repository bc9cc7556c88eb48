// Issue 5 "learning" against the kernel: udhcpc in a VM namespace gets its address and gateway from the
// engine's DHCP responder; a broadcast reaches every VM of the VSID (local and across the underlay) and
// none of another; an L2Only VM's address is learned as a Dynamic record (Get-NetVirtualizationLookupRecord
// -Type Dynamic) and ages out once unused. Two hosts in network namespaces built by Topology, engines started
// with --dynamic-age 8. Needs root; every name starts with hnvt-l5-<pid> and afterAll removes everything,
// also on failure. Physical addresses from 198.51.100.0/24; tenant addresses only inside VM namespaces.
import {chmodSync, readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {hnvProcess} from '../support/cli.js'
import {BLUE_RDID, RED_RDID, Topology, type HostState, type TopologySpec} from '../../src/lib/demo/topology.js'
import type {RuntimeStatus} from '../../src/lib/control/protocol.js'
import {inNs, inNsOutput, namespacesLeft, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/learning.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const PREFIX = `hnvt-l5-${process.pid}`
/** Long enough for the checks after a ping (a few CLI runs on a busy machine), short enough to wait for. */
const DYNAMIC_AGE_S = 8
const L2_CA = '10.0.0.50'
const L2_CA6 = '2001:db8:15::50'

const SPEC: TopologySpec = {
  hosts: [
    {name: 'host1', providerAddresses: ['198.51.100.11']},
    {name: 'host2', providerAddresses: ['198.51.100.22']},
  ],
  subnets: [
    {vsid: 5001, rdid: BLUE_RDID, prefixes: ['10.0.0.0/24', '2001:db8:15::/64']},
    {vsid: 6001, rdid: RED_RDID, prefixes: ['10.0.0.0/24']},
  ],
  vms: [
    {name: 'Blue1', host: 'host1', vsid: 5001, mac: '060600000005', addresses: ['10.0.0.5', '2001:db8:15::5']},
    {name: 'Blue6', host: 'host1', vsid: 5001, mac: '060600000006', addresses: ['10.0.0.6']},
    {name: 'Blue2', host: 'host2', vsid: 5001, mac: '060600000007', addresses: ['10.0.0.7']},
    {name: 'BlueD', host: 'host2', vsid: 5001, mac: '06060000000D', addresses: ['10.0.0.13'], dhcp: true},
    {name: 'BlueL2', host: 'host2', vsid: 5001, mac: '060600000032', addresses: [L2_CA, L2_CA6], l2Only: true},
    {name: 'Red1', host: 'host1', vsid: 6001, mac: '080800000005', addresses: ['10.0.0.5']},
    {name: 'Red2', host: 'host2', vsid: 6001, mac: '080800000007', addresses: ['10.0.0.7']},
  ],
  dynamicAge: DYNAMIC_AGE_S,
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

describe.skipIf(!isRoot)('learning, replication and DHCP in network namespaces (needs root)', () => {
  const topology = Topology.plan(SPEC, PREFIX)
  const host1 = topology.host('host1')
  const status = (host: HostState): Promise<RuntimeStatus> => topology.status(host)
  const dynamicRecords = (host: HostState) => {
    const run = hnvProcess(host.store, ['Get-NetVirtualizationLookupRecord', '-Type', 'Dynamic', '-ErrorAction', 'SilentlyContinue', '--json'])
    expect(run.code, run.stderr).toBe(0)
    return JSON.parse(run.stdout || '[]') as Record<string, unknown>[]
  }
  const txOf = (s: RuntimeStatus, port: string) => s.ports.find((p) => p.name === port)?.txPackets ?? -1

  beforeAll(async () => {
    requireTools(['ip', 'ping', 'udhcpc'], 'apt-get install iproute2 iputils-ping udhcpc')
    await topology.up()
  }, 60_000)

  afterAll(async () => {
    const problems = await topology.down()
    const left = namespacesLeft(PREFIX)
    expect([...problems, ...left]).toEqual([])
  })

  it('udhcpc in a -Dhcp VM gets its lookup record\'s address, the /24 and the .1 gateway', () => {
    const vm = topology.vm('BlueD')
    const script = join(topology.dir, 'udhcpc.script')
    const log = join(topology.dir, 'udhcpc.log')
    // Our own script (the distribution's may write /etc/resolv.conf, which the namespace shares).
    writeFileSync(script, [
      '#!/bin/sh',
      'case "$1" in',
      '  bound|renew)',
      '    ip addr flush dev "$interface"',
      '    ip addr add "$ip/$mask" dev "$interface"',
      '    [ -n "$router" ] && ip route replace default via "$router" dev "$interface"',
      '    echo "$1 ip=$ip mask=$mask router=$router serverid=$serverid lease=$lease" >> "' + log + '" ;;',
      '  *) echo "$1" >> "' + log + '" ;;',
      'esac',
      '',
    ].join('\n'))
    chmodSync(script, 0o755)
    const out = inNsOutput(vm.ns, 'udhcpc', '-f', '-q', '-n', '-t', '5', '-T', '1', '-i', vm.tap, '-s', script)
    expect(readFileSync(log, 'utf8'), out).toMatch(/bound ip=10\.0\.0\.13 mask=24 router=10\.0\.0\.1 serverid=10\.0\.0\.1 lease=3600/)
    expect(inNs(vm.ns, 'ip', '-4', '-o', 'addr', 'show', 'dev', vm.tap)).toMatch(/inet 10\.0\.0\.13\/24/)
    expect(inNs(vm.ns, 'ip', '-4', 'route', 'show', 'default')).toMatch(/default via 10\.0\.0\.1/)
    // With the address it got, it reaches Blue1 on the other host.
    expect(inNsOutput(vm.ns, 'ping', '-n', '-c', '2', '-i', '0.3', '-W', '2', '10.0.0.5')).toMatch(/2 received/)
  })

  it('a broadcast ping reaches every VM of the VSID, on both hosts, and none of another', async () => {
    for (const name of ['Blue6', 'Blue2', 'BlueD', 'BlueL2', 'Red1', 'Red2']) inNs(topology.vm(name).ns, 'sysctl', '-qw', 'net.ipv4.icmp_echo_ignore_broadcasts=0')
    const host2 = topology.host('host2')
    const [before1, before2] = [await status(host1), await status(host2)]
    const out = inNsOutput(topology.vm('Blue1').ns, 'ping', '-n', '-b', '-c', '3', '-i', '0.5', '-w', '4', '10.0.0.255')
    const responders = new Set([...out.matchAll(/bytes from ([\d.]+)/g)].map((m) => m[1]))
    expect([...responders].sort(), out).toEqual(['10.0.0.13', L2_CA, '10.0.0.6', '10.0.0.7'].sort())
    const [after1, after2] = [await status(host1), await status(host2)]
    // Red's ports got nothing; the engines counted the replication.
    expect(txOf(after1, 'hnv-red1')).toBe(txOf(before1, 'hnv-red1'))
    expect(txOf(after2, 'hnv-red2')).toBe(txOf(before2, 'hnv-red2'))
    expect(after1.flood!.underlayCopies - before1.flood!.underlayCopies).toBeGreaterThanOrEqual(3)
    expect(after2.flood!.portCopies - before2.flood!.portCopies).toBeGreaterThanOrEqual(9)
    const shown = hnvProcess(host2.store, ['engine', 'status'])
    expect(shown.stdout, shown.stderr).toMatch(/Replication and learning\n[\s\S]*PortCopies\s*: [1-9]\d*\n[\s\S]*DynamicAge\s*: 8 s/)
  })

  it('an L2Only VM\'s address is learned as a Dynamic record, used, and removed once unused', async () => {
    const blue1 = topology.vm('Blue1').ns
    expect(dynamicRecords(host1)).toEqual([])
    // Blue1's ARP for 10.0.0.50 goes to host2's L2Only VM; its reply teaches host1 the address. The first
    // echo requests may go before the learned record is in host1's table (a tick, then a reload).
    const out = inNsOutput(blue1, 'ping', '-n', '-c', '6', '-i', '0.4', '-W', '2', L2_CA)
    expect(out).toMatch(/[1-6] received/)
    expect(inNs(blue1, 'ip', 'neigh', 'show', L2_CA)).toMatch(/lladdr 06:06:00:00:00:32/)
    const why = out + readFileSync(host1.log, 'utf8').slice(-1000)
    expect(dynamicRecords(host1), why).toMatchObject([{CustomerAddress: L2_CA, VirtualSubnetID: 5001, MACAddress: '060600000032', ProviderAddress: '198.51.100.22', Type: 'Dynamic', Rule: 'TranslationMethodEncap'}])
    expect((await status(host1)).learning).toMatchObject({dynamicAgeSeconds: DYNAMIC_AGE_S, learned: 1})
    // Now every echo request is forwarded by the record.
    expect(inNsOutput(blue1, 'ping', '-n', '-c', '3', '-i', '0.3', '-W', '2', L2_CA)).toMatch(/3 received/)
    // While used it stays (the pings above, and the kernel's unicast ARP probes confirming the neighbor
    // afterwards, which the host answers from it); unused for the age, it goes.
    const deadline = Date.now() + 30_000
    while (dynamicRecords(host1).length > 0 && Date.now() < deadline) await sleep(500)
    expect(dynamicRecords(host1)).toEqual([])
    expect((await status(host1)).learning).toMatchObject({aged: 1})
  }, 60_000)

  it('IPv6: the L2Only VM\'s address is learned from its neighbor advertisement, and ages out', async () => {
    const blue1 = topology.vm('Blue1').ns
    const out = inNsOutput(blue1, 'ping', '-6', '-n', '-c', '6', '-i', '0.4', '-W', '2', L2_CA6)
    expect(out).toMatch(/[1-6] received/)
    expect(dynamicRecords(host1)).toMatchObject([{CustomerAddress: L2_CA6, VirtualSubnetID: 5001, MACAddress: '060600000032', ProviderAddress: '198.51.100.22', Type: 'Dynamic'}])
    expect(inNsOutput(blue1, 'ping', '-6', '-n', '-c', '3', '-i', '0.3', '-W', '2', L2_CA6)).toMatch(/3 received/)
    const deadline = Date.now() + 30_000
    while (dynamicRecords(host1).length > 0 && Date.now() < deadline) await sleep(500)
    expect(dynamicRecords(host1)).toEqual([])
  }, 60_000)
})
