// hnv policy test as a command: on a store built by apply (clean), on the demo's low-level store, on a store
// with a bad hand-made record, on tenant files and on policy documents; it never writes.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {hnv, tempDir} from '../../support/cli.js'
import {demoStore} from '../../support/policy.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {TENANTS} from './tenants.js'

const dir = tempDir()
const demo = demoStore()
afterAll(() => {
  dir.remove()
  demo.remove()
})
const file = (name: string, text: string) => {
  const path = join(dir.path, name)
  writeFileSync(path, text)
  return path
}
const rows = (run: {stdout: string}) => JSON.parse(run.stdout) as {Check: string; Objects: string; Problem: string}[]

describe('hnv policy test', () => {
  it('passes a store that apply built, and changes nothing', async () => {
    const store = join(dir.path, 'applied.db')
    expect((await hnv(store, 'apply', '-f', file('t.yaml', TENANTS), '--host', 'host1')).code).toBe(0)
    const opened = PolicyStore.open(store)
    const before = opened.revision()
    opened.close()
    const run = await hnv(store, 'policy', 'test')
    expect([run.code, run.stdout, run.stderr]).toEqual([0, '', 'policy test: no problems found (7 checks)\n'])
    const again = PolicyStore.open(store)
    expect(again.revision()).toBe(before)
    again.close()
  })

  it('works on low-level policy alone, saying which rule it cannot run', async () => {
    const run = await hnv(demo.store, 'policy', 'test')
    expect(run.code).toBe(0)
    expect(run.stderr).toBe('skipped pa-not-owned: no hosts in the model: the store knows only its own provider addresses, so records of other hosts cannot be told from strays\npolicy test: no problems found (6 checks)\n')
  })

  it('exits 1 naming the objects when a hand-made record breaks a rule', async () => {
    const store = join(dir.path, 'bad.db')
    await hnv(store, 'apply', '-f', file('t2.yaml', TENANTS))
    // A route through a gateway CA nobody has a record for.
    const rdid = JSON.parse((await hnv(store, 'customer-route', 'get', '--json')).stdout)[0].RoutingDomainID as string
    const vsid = JSON.parse((await hnv(store, 'customer-route', 'get', '--json')).stdout)[0].VirtualSubnetID as number
    expect((await hnv(store, 'customer-route', 'new', '--routing-domain-id', rdid, '--virtual-subnet-id', String(vsid), '--destination-prefix', '0.0.0.0/0', '--next-hop', '10.0.0.254')).code).toBe(0)
    const run = await hnv(store, 'policy', 'test', '--json')
    expect(run.code).toBe(1)
    expect(rows(run)).toEqual([{Check: 'next-hop-unresolved', Objects: `CustomerRoute 0.0.0.0/0 via 10.0.0.254 (VSID ${vsid}, RDID ${rdid})`, Problem: `next hop 10.0.0.254 has no lookup record in routing domain ${rdid}; traffic to 0.0.0.0/0 is dropped`}])
    expect(run.stderr).toBe('policy test: 1 problem found\n')
  })

  it('checks a tenant file without a store: pools, subnets, VM addresses, raw records', async () => {
    const text = `${TENANTS.replace('{Name: Red2, VMSubnet: Red-A, VMHost: host2}', '{Name: Red2, VMSubnet: Red-A, VMHost: host2, IPv4Address: 10.0.0.1}')}
  - {Name: Blue3, VMSubnet: Blue-A, VMHost: host2, IPv4Address: 10.0.1.9}
Policy:
  LookupRecords:
    - {CustomerAddress: 10.7.0.5, VirtualSubnetID: 7001, MACAddress: 070700000005, ProviderAddress: 198.51.100.99, Rule: TranslationMethodEncap}
`
    const bad = file('bad.yaml', text.replace('StaticIPAddressPools:\n', 'StaticIPAddressPools:\n  - {Name: Extra, VMSubnet: Blue-A, IPAddressRangeStart: 10.0.0.50, IPAddressRangeEnd: 10.0.0.150}\n'))
    const run = await hnv(join(dir.path, 'never-opened.db'), 'policy', 'test', '-f', bad, '--json')
    expect(run.code).toBe(1)
    expect(rows(run).map((r) => r.Check)).toEqual(['pa-not-owned', 'pool-overlap', 'vm-on-gateway', 'ca-outside-prefix'])
    expect(rows(run)[2].Objects).toBe('VM Red2 (10.0.0.1); VMSubnet Red-A (10.0.0.0/24)')
  })

  it('checks a policy document and points at a bad value\'s line', async () => {
    const exported = (await hnv(demo.store, 'policy', 'export', '-o', 'yaml')).stdout
    expect((await hnv(join(dir.path, 'x.db'), 'policy', 'test', '-f', file('doc.yaml', exported))).code).toBe(0)
    const broken = file('broken.yaml', exported.replace('CustomerAddress: 10.0.0.7', 'CustomerAddress: 10.0.0.700'))
    const run = await hnv(join(dir.path, 'x.db'), 'policy', 'test', '-f', broken)
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^hnv: broken\.yaml:\d+: LookupRecords\[1\]\.CustomerAddress: -CustomerAddress: '10\.0\.0\.700' is not an IPv4 address/m)
  })
})
