// The real binary in real processes: both spellings, exit codes, and pipelines between processes.
import {writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {hnvProcess, tempDir} from '../support/cli.js'

const dir = tempDir()
afterAll(() => dir.remove())
const store = join(dir.path, 'policy.db')

describe('hnv binary', () => {
  it('builds the demo policy in both spellings and reads it back', () => {
    const blue = '{11111111-2222-3333-4444-000000005001}'
    expect(hnvProcess(store, ['New-NetVirtualizationCustomerRoute', '-RoutingDomainID', blue, '-VirtualSubnetID', '5001', '-DestinationPrefix', '10.0.0.0/24', '-NextHop', '0.0.0.0', '-Metric', '255']).code).toBe(0)
    expect(hnvProcess(store, ['customer-route', 'new', '--routing-domain-id', '11111111-2222-3333-4444-000000006001', '--virtual-subnet-id', '6001', '--destination-prefix', '10.0.0.0/24', '--next-hop', '0.0.0.0', '--metric', '255']).code).toBe(0)
    for (const [ca, vsid, mac, pa] of [['10.0.0.5', '5001', '060600000005', '198.51.100.11'], ['10.0.0.7', '5001', '060600000007', '198.51.100.22'], ['10.0.0.5', '6001', '080800000005', '198.51.100.11'], ['10.0.0.7', '6001', '080800000007', '198.51.100.22']]) {
      const run = hnvProcess(store, ['New-NetVirtualizationLookupRecord', '-CustomerAddress', ca, '-VirtualSubnetID', vsid, '-MACAddress', mac, '-ProviderAddress', pa, '-Rule', 'TranslationMethodEncap', '--json'])
      expect(run.code, run.stderr).toBe(0)
      expect(JSON.parse(run.stdout)).toMatchObject({CustomerAddress: ca, VirtualSubnetID: Number(vsid)})
    }
    expect(JSON.parse(hnvProcess(store, ['lookup-record', 'get', '--json']).stdout)).toHaveLength(4)
  })

  it('pipes Get --json into Remove -InputObject -', () => {
    const got = hnvProcess(store, ['Get-NetVirtualizationLookupRecord', '-VirtualSubnetID', '6001', '--json'])
    const removed = hnvProcess(store, ['Remove-NetVirtualizationLookupRecord', '-InputObject', '-', '-PassThru', '--json'], got.stdout)
    expect(removed.code, removed.stderr).toBe(0)
    expect(JSON.parse(removed.stdout)).toEqual(JSON.parse(got.stdout))
    expect(JSON.parse(hnvProcess(store, ['lookup-record', 'get', '--json']).stdout)).toHaveLength(2)
  })

  it('pipes Get --json into Set -InputObject -', () => {
    const got = hnvProcess(store, ['customer-route', 'get', '--virtual-subnet-id', '5001', '--json'])
    const set = hnvProcess(store, ['Set-NetVirtualizationCustomerRoute', '-InputObject', '-', '-Metric', '10', '-PassThru', '--json'], got.stdout)
    expect(set.code, set.stderr).toBe(0)
    expect(JSON.parse(set.stdout)[0].Metric).toBe(10)
  })

  it('exits 2 with one line for usage errors', () => {
    const run = hnvProcess(store, ['Get-NetVirtualizationLookupRecord', '-Bogus', '1'])
    expect(run.code).toBe(2)
    expect(run.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('exports and imports (JSON and YAML), all or nothing', () => {
    const exported = hnvProcess(store, ['policy', 'export', '-o', 'yaml'])
    expect(exported.code).toBe(0)
    const file = join(dir.path, 'policy.yaml')
    writeFileSync(file, exported.stdout)
    const copy = join(dir.path, 'copy.db')
    const imported = hnvProcess(copy, ['policy', 'import', file])
    expect(imported.code, imported.stderr).toBe(0)
    expect(imported.stderr).toBe('imported 2 CustomerRoutes, 2 LookupRecords\n')
    expect(hnvProcess(copy, ['policy', 'export']).stdout).toBe(hnvProcess(store, ['policy', 'export']).stdout)
    // A second import of the same document clashes on the first record: nothing of it is written.
    const again = hnvProcess(copy, ['policy', 'import', file])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/^hnv: CustomerRoutes\[0\]: a customer route 10.0.0.0\/24 via 0.0.0.0 already exists/)
    expect(hnvProcess(copy, ['policy', 'import', '--replace', file]).code).toBe(0)
  })
})
