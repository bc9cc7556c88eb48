// Declarative apply against the kernel: examples/tenants.yaml applied with `hnv apply --host` into the stores
// of two hosts (network namespaces, each with its engine), and the VMs it describes ping each other through
// the engines. The topology is the demo's (src/lib/demo/topology.ts); only the stores are filled by apply.
// Needs root; namespaces are hnvt-a7-<pid>-* and afterAll removes them, also on failure. Provider addresses
// come from 198.51.100.0/24; tenant addresses exist only inside the VM namespaces.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {ROOT, hnvProcess} from '../support/cli.js'
import {parseTenantFile} from '../../src/lib/apply/file.js'
import {runPlan} from '../../src/lib/apply/plan.js'
import {Topology, ping, type TopologySpec} from '../../src/lib/demo/topology.js'
import {ModelService} from '../../src/lib/model/service.js'
import {splitList} from '../../src/lib/model/addresses.js'
import {PolicyStore} from '../../src/lib/policy/store.js'
import {namespacesLeft, requireTools} from '../support/netns.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/apply.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const FILE = join(ROOT, 'examples/tenants.yaml')

/** The topology the file describes, with the IDs and addresses apply allocates (planned on an empty store). */
async function specOf(text: string): Promise<TopologySpec> {
  const service = new ModelService(PolicyStore.open(':memory:'))
  runPlan(service, await parseTenantFile(text, 'tenants.yaml'), {dryRun: false})
  const networks = new Map(service.vmNetworks().map((n) => [n.Name, n.RoutingDomainID]))
  const hosts = service.hosts().map((h) => ({name: h.Name, providerAddresses: splitList(h.ProviderAddresses).map((pa) => pa.split('/')[0])}))
  const subnets = service.vmSubnets()
  const spec: TopologySpec = {
    hosts: [hosts[0], hosts[1]],
    subnets: subnets.map((s) => ({vsid: s.VirtualSubnetID, rdid: networks.get(s.VMNetwork)!, prefixes: splitList(s.Prefix)})),
    vms: service.vms().map((vm) => ({
      name: vm.Name,
      host: vm.VMHost,
      vsid: subnets.find((s) => s.Name === vm.VMSubnet)!.VirtualSubnetID,
      mac: vm.MACAddress,
      addresses: [vm.IPv4Address, vm.IPv6Address].filter((a): a is string => a !== null),
    })),
  }
  service.store.close()
  return spec
}

describe.skipIf(!isRoot)('hnv apply into two host stores brings up VMs that ping through the engines (needs root)', () => {
  let topology: Topology
  const text = readFileSync(FILE, 'utf8')

  beforeAll(async () => {
    requireTools(['ip', 'ping'], 'apt-get install iproute2 iputils-ping')
    topology = Topology.plan(await specOf(text), `hnvt-a7-${process.pid}`)
    await topology.up({
      fillStore: (host) => {
        const run = hnvProcess(host.store, ['apply', '-f', FILE, '--host', host.spec.name])
        if (run.code !== 0) throw new Error(`hnv apply --host ${host.spec.name}: ${run.stderr}`)
      },
    })
  })

  afterAll(async () => {
    const problems = topology ? await topology.down() : []
    const left = namespacesLeft(`hnvt-a7-${process.pid}`)
    expect([...problems, ...left]).toEqual([])
  })

  it('allocates on each host what the plan said: same VSIDs, addresses and MACs on both stores', () => {
    const vms = (store: string) => {
      const opened = PolicyStore.open(store)
      try {
        return new ModelService(opened).vms()
      } finally {
        opened.close()
      }
    }
    const [host1, host2] = topology.hosts
    expect(vms(host2.store)).toEqual(vms(host1.store))
    expect(vms(host1.store).map((vm) => `${vm.Name} ${vm.IPv4Address} ${vm.MACAddress}`)).toEqual(topology.spec.vms.map((vm) => `${vm.name} ${vm.addresses[0]} ${vm.mac}`))
  })

  it('each host derives its own adapters (the TAPs its engine made) and every VM\'s record', async () => {
    for (const host of topology.hosts) {
      const status = await topology.status(host)
      expect(status.ports.map((p) => p.vmName).sort()).toEqual(topology.vms.filter((vm) => vm.host === host).map((vm) => vm.spec.name).sort())
      expect(status.ports.every((p) => p.state === 'forwarding')).toBe(true)
    }
  })

  it('Blue1 <-> Blue2 and Red1 <-> Red2 ping across the hosts', async () => {
    for (const [from, to] of [['Blue1', 'Blue2'], ['Blue2', 'Blue1'], ['Red1', 'Red2'], ['Red2', 'Red1']]) {
      const target = topology.vm(to).spec.addresses[0]
      const result = await ping(topology.vm(from).ns, target, {count: 3})
      expect(result.received, `${from} -> ${to} (${target})`).toBe(3)
    }
  })

  it('a second apply changes nothing; apply --prune of a file without Red2 cuts Red1 off from it', async () => {
    for (const host of topology.hosts) {
      const again = hnvProcess(host.store, ['apply', '-f', FILE, '--host', host.spec.name])
      expect([again.code, again.stderr]).toEqual([0, 'no changes: the store already holds what the file describes\n'])
    }
    const pruned = join(topology.dir, 'pruned.yaml')
    writeFileSync(pruned, text.replace(/^ {2}- \{Name: Red2,.*\n/m, ''))
    for (const host of topology.hosts) {
      const run = hnvProcess(host.store, ['apply', '-f', pruned, '--host', host.spec.name, '--prune', '--json'])
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout)).toEqual([{Operation: 'Remove', Kind: 'VM', Name: 'Red2', Details: expect.stringContaining('VMSubnet Red-Subnet')}])
    }
    // The engines reload the store's new revision on their own.
    const red2 = topology.vm('Red2').spec.addresses[0]
    const deadline = Date.now() + 10_000
    let received = 1
    while (received > 0 && Date.now() < deadline) received = (await ping(topology.vm('Red1').ns, red2, {count: 2, waitS: 1})).received
    expect(received).toBe(0)
    expect((await ping(topology.vm('Blue1').ns, topology.vm('Blue2').spec.addresses[0], {count: 2})).received).toBe(2)
  })
})
