// hnv plan / hnv apply against real store files: plan, apply, idempotence, changes, prune, stability across
// stores, -WhatIf, all-or-nothing, and errors that point at the file's line.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {hnv, tempDir} from '../../support/cli.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {PolicyService} from '../../../src/lib/policy/service.js'
import {ModelService} from '../../../src/lib/model/service.js'
import {TENANTS} from './tenants.js'

const dir = tempDir()
afterAll(() => dir.remove())
let n = 0
const newStore = () => join(dir.path, `store-${++n}.db`)
const file = (name: string, text: string) => {
  const path = join(dir.path, name)
  writeFileSync(path, text)
  return path
}


function revision(store: string): number {
  const opened = PolicyStore.open(store)
  try {
    return opened.revision()
  } finally {
    opened.close()
  }
}

function exported(store: string) {
  const opened = PolicyStore.open(store)
  try {
    return new PolicyService(opened).exportPolicy()
  } finally {
    opened.close()
  }
}

function model(store: string) {
  const opened = PolicyStore.open(store)
  try {
    const service = new ModelService(opened)
    return {hosts: service.hosts(), networks: service.vmNetworks(), subnets: service.vmSubnets(), pools: service.ipPools(), vms: service.vms()}
  } finally {
    opened.close()
  }
}

const json = (run: {stdout: string}) => JSON.parse(run.stdout) as {Operation: string; Kind: string; Name: string; Details: string}[]

describe('hnv plan and hnv apply', () => {
  const tenants = file('tenants.yaml', TENANTS)

  it('plans on an empty store with the IDs and addresses it would allocate, exit 2, and writes nothing', async () => {
    const store = newStore()
    const run = await hnv(store, 'plan', '-f', tenants, '--json')
    expect(run.code).toBe(2)
    const rows = json(run)
    expect(rows.map((r) => `${r.Operation} ${r.Kind} ${r.Name}`)).toEqual([
      'New Host host1', 'New Host host2', 'New VMNetwork Blue', 'New VMNetwork Red', 'New VMSubnet Blue-A', 'New VMSubnet Red-A',
      'New StaticIPAddressPool Blue-A-pool', 'New VM Blue1', 'New VM Blue2', 'New VM Red1', 'New VM Red2',
    ])
    expect(rows.find((r) => r.Name === 'Blue-A')!.Details).toBe('VMNetwork Blue, Prefix 10.0.0.0/24, VirtualSubnetID 4096')
    expect(rows.find((r) => r.Name === 'Blue2')!.Details).toBe('VMSubnet Blue-A, VMHost host2, IPv4Address 10.0.0.6, MACAddress 02484E560001')
    expect(run.stderr).toBe('plan: 11 to create, 0 to change, 0 to remove; low-level rows derived: 8 to create, 0 to change, 0 to remove\n')
    expect(revision(store)).toBe(0)
  })

  it('applies in one transaction, then a second apply changes nothing and says so (exit 0, same revision)', async () => {
    const store = newStore()
    const first = await hnv(store, 'apply', '-f', tenants, '--host', 'host1')
    expect([first.code, first.stderr]).toEqual([0, 'applied: 11 created, 1 changed, 0 removed; low-level rows derived: 11 created, 0 changed, 0 removed\n'])
    expect(revision(store)).toBe(1)
    const again = await hnv(store, 'apply', '-f', tenants, '--host', 'host1')
    expect([again.code, again.stdout, again.stderr]).toEqual([0, '', 'no changes: the store already holds what the file describes\n'])
    expect(revision(store)).toBe(1)
    const plan = await hnv(store, 'plan', '-f', tenants, '--host', 'host1')
    expect(plan.code).toBe(0)
    // The derived policy of host1: its PA, its two VMs' adapters, every VM's record, gateways and on-link routes.
    const policy = exported(store) as Record<string, Record<string, unknown>[]>
    expect(policy.ProviderAddresses.map((p) => p.ProviderAddress)).toEqual(['198.51.100.11'])
    expect(policy.VMNetworkAdapters.map((a) => a.VMName).sort()).toEqual(['Blue1', 'Red1'])
    expect(policy.LookupRecords.filter((r) => r.VMName).map((r) => `${r.VMName} ${r.CustomerAddress} ${r.ProviderAddress}`).sort()).toEqual([
      'Blue1 10.0.0.5 198.51.100.11', 'Blue2 10.0.0.6 198.51.100.22', 'Red1 10.0.0.2 198.51.100.11', 'Red2 10.0.0.3 198.51.100.22',
    ])
  })

  it('takes values in any spelling the CLI takes: a second apply of them changes nothing', async () => {
    const store = newStore()
    const loose = file('loose.yaml', `Hosts:
  - {Name: h1, ProviderAddresses: ' 198.51.100.11 , 2001:DB8:0::11'}
VMNetworks: [{Name: N, AddressFamily: DualStack}]
VMSubnets: [{Name: S, VMNetwork: n, Prefix: '10.1.0.0/24, 2001:DB8:0:1::/64'}]
StaticIPAddressPools: [{Name: P, VMSubnet: s, IPAddressRangeStart: 10.1.0.10, IPAddressRangeEnd: 10.1.0.20, IPAddressReservedSet: '10.1.0.12-10.1.0.13, 10.1.0.15'}]
VMs: [{Name: V, VMSubnet: s, VMHost: H1, MACAddress: 02-00-00-00-00-0a, IPv6Address: '2001:DB8:0:1::0a'}]
`)
    expect((await hnv(store, 'apply', '-f', loose)).code).toBe(0)
    const before = revision(store)
    const again = await hnv(store, 'apply', '-f', loose)
    expect([again.code, again.stdout, again.stderr]).toEqual([0, '', 'no changes: the store already holds what the file describes\n'])
    expect(revision(store)).toBe(before)
  })

  it('allocates the same IDs and addresses from the same file on another empty store', async () => {
    const [a, b] = [newStore(), newStore()]
    expect((await hnv(a, 'apply', '-f', tenants)).code).toBe(0)
    expect((await hnv(b, 'apply', '-f', tenants)).code).toBe(0)
    expect(exported(b)).toEqual(exported(a))
    expect(model(b)).toEqual(model(a))
  })

  it('changes what the file changes, keeps what it leaves out, and prunes only with --prune', async () => {
    const store = newStore()
    await hnv(store, 'apply', '-f', tenants, '--host', 'host1')
    const changed = file('changed.yaml', TENANTS.replace('{Name: Blue2, VMSubnet: Blue-A, VMHost: host2}', '{Name: Blue2, VMSubnet: Blue-A, VMHost: host1, Description: moved}')
      .replace('  - {Name: Red2, VMSubnet: Red-A, VMHost: host2}\n', ''))
    const plan = await hnv(store, 'plan', '-f', changed, '--host', 'host1', '--json')
    expect(plan.code).toBe(2)
    expect(json(plan)).toEqual([{Operation: 'Set', Kind: 'VM', Name: 'Blue2', Details: 'VMHost host2 -> host1, Description (none) -> moved'}])
    const pruning = await hnv(store, 'plan', '-f', changed, '--host', 'host1', '--prune', '--derived', '--json')
    const rows = json(pruning)
    expect(rows.filter((r) => r.Kind === 'VM').map((r) => `${r.Operation} ${r.Name}`)).toEqual(['Remove Red2', 'Set Blue2'])
    expect(rows.filter((r) => r.Name === 'VM Red2').map((r) => `${r.Operation} ${r.Kind}`)).toEqual(['Remove LookupRecord'])
    expect(rows.filter((r) => r.Name === 'VM Blue2').map((r) => `${r.Operation} ${r.Kind}`).sort()).toEqual(['New VMNetworkAdapter', 'Set LookupRecord'])
    expect((await hnv(store, 'apply', '-f', changed, '--host', 'host1', '--prune')).code).toBe(0)
    expect((await hnv(store, 'plan', '-f', changed, '--host', 'host1', '--prune')).code).toBe(0)
    const policy = exported(store) as Record<string, Record<string, unknown>[]>
    expect(policy.LookupRecords.some((r) => r.VMName === 'Red2')).toBe(false)
    expect(policy.VMNetworkAdapters.map((a) => a.VMName).sort()).toEqual(['Blue1', 'Blue2', 'Red1'])
  })

  it('-WhatIf and --what-if are plan: nothing written', async () => {
    const store = newStore()
    for (const flag of ['-WhatIf', '--what-if']) {
      const run = await hnv(store, 'apply', '-f', tenants, flag)
      expect(run.code).toBe(2)
      expect(run.stderr).toMatch(/^plan: 11 to create/m)
    }
    expect(revision(store)).toBe(0)
  })

  it('writes nothing when one object fails, and names its line', async () => {
    const store = newStore()
    const bad = file('bad.yaml', TENANTS.replace('{Name: Red2, VMSubnet: Red-A, VMHost: host2}', '{Name: Red2, VMSubnet: Green-A, VMHost: host2}'))
    const run = await hnv(store, 'apply', '-f', bad)
    expect(run.code).toBe(1)
    expect(run.stderr).toBe("hnv: bad.yaml:26: VMs[3].VMSubnet: VM 'Red2' refers to VM subnet 'Green-A', which does not exist (there are: Blue-A, Red-A); create it first, or give another -VMSubnet\n")
    expect(revision(store)).toBe(0)
    expect(model(store).hosts).toEqual([])
  })

  it('names the field when the model names it, on its own line', async () => {
    const store = newStore()
    const bad = file('field.yaml', TENANTS.replace('    Prefix: 10.0.0.0/24\n  - Name: Red-A', '    Prefix: 10.0.0.1/24\n  - Name: Red-A'))
    const run = await hnv(store, 'plan', '-f', bad)
    expect(run.stderr).toMatch(/^hnv: field\.yaml:13: VMSubnets\[0\]\.Prefix: -Prefix: prefix '10\.0\.0\.1\/24' has host bits set; did you mean 10\.0\.0\.0\/24\?$/m)
    expect(run.code).toBe(1)
  })

  it('refuses to change what cannot change in place, naming the line', async () => {
    const store = newStore()
    await hnv(store, 'apply', '-f', tenants)
    const moved = file('moved.yaml', TENANTS.replace('{Name: Red1, VMSubnet: Red-A', '{Name: Red1, VMSubnet: Blue-A'))
    const run = await hnv(store, 'apply', '-f', moved)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^hnv: moved\.yaml:25: VMs\[2\]\.VMSubnet: -VMSubnet is Red-A for VM Red1 in the store and cannot be changed in place; remove the VM first/)
  })

  it('creates raw low-level records beside the model, once', async () => {
    const store = newStore()
    const raw = file('raw.yaml', `${TENANTS}Policy:
  CustomerRoutes:
    - {RoutingDomainID: '{11111111-2222-3333-4444-000000007001}', VirtualSubnetID: 7001, DestinationPrefix: 10.7.0.0/24, NextHop: 0.0.0.0, Metric: 255}
  LookupRecords:
    - {CustomerAddress: 10.7.0.5, VirtualSubnetID: 7001, MACAddress: 07-07-00-00-00-05, ProviderAddress: 198.51.100.22, Rule: TranslationMethodEncap, VMName: Green1}
`)
    const first = json(await hnv(store, 'apply', '-f', raw, '--json'))
    expect(first.filter((r) => !['Host', 'VMNetwork', 'VMSubnet', 'StaticIPAddressPool', 'VM'].includes(r.Kind)).map((r) => `${r.Operation} ${r.Kind}`)).toEqual(['New CustomerRoute', 'New LookupRecord'])
    const again = await hnv(store, 'apply', '-f', raw)
    expect(again.stderr).toBe('no changes: the store already holds what the file describes\n')
    const changed = file('raw2.yaml', readFileSync(raw, 'utf8').replace('VMName: Green1', 'VMName: Green-1'))
    expect(json(await hnv(store, 'apply', '-f', changed, '--json'))).toEqual([{Operation: 'Set', Kind: 'LookupRecord', Name: 'CustomerAddress 10.7.0.5, VirtualSubnetID 7001, MACAddress 070700000005, ProviderAddress 198.51.100.22', Details: 'VMName Green1 -> Green-1'}])
  })

  it('reads JSON files too', async () => {
    const store = newStore()
    const path = file('tenants.json', JSON.stringify({Version: 1, Hosts: [{Name: 'h', ProviderAddresses: '198.51.100.5/24'}]}, null, 2))
    const run = await hnv(store, 'apply', '-f', path, '--json')
    expect(json(run).map((r) => r.Name)).toEqual(['h'])
  })
})
