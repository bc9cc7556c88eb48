// --json is a contract: each object kind has a checked-in JSON Schema that real output must satisfy, and the
// commands, their cmdlet names and flags match a checked-in snapshot. A change to either is a deliberate edit
// (`npm run schema`, `npm run snapshot`), never an accident.
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv} from 'ajv'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {commandSnapshot} from '../../../scripts/command-snapshot.js'
import {allSchemas} from '../../../src/lib/policy/schema.js'
import {ROOT, hnv} from '../../support/cli.js'
import {demoStore} from '../../support/policy.js'

const demo = demoStore()
const store = demo.store
beforeAll(async () => {
  await hnv(store, 'Add-VMNetworkAdapter', 'Blue1', '-VirtualSubnetId', '5001')
  await hnv(store, 'New-NetVirtualizationProviderRoute', '-InterfaceIndex', '2', '-DestinationPrefix', '0.0.0.0/0', '-NextHop', '198.51.100.1')
})
afterAll(() => demo.remove())

const schemas = allSchemas()
const ajv = new Ajv({allErrors: true, strict: true})

describe('JSON schemas', () => {
  it.each(Object.keys(schemas))('schema/%s is up to date', (file) => {
    expect(JSON.parse(readFileSync(join(ROOT, 'schema', file), 'utf8'))).toEqual(schemas[file])
  })

  it.each([
    ['LookupRecord.json', ['lookup-record', 'get']],
    ['CustomerRoute.json', ['customer-route', 'get']],
    ['ProviderAddress.json', ['provider-address', 'get']],
    ['ProviderRoute.json', ['provider-route', 'get']],
    ['VMNetworkAdapter.json', ['vm-network-adapter', 'get']],
  ])('%s describes what %s prints', async (file, args) => {
    const run = await hnv(store, ...args, '--json')
    const objects = JSON.parse(run.stdout) as unknown[]
    expect(objects.length).toBeGreaterThan(0)
    const validate = ajv.compile({...schemas[file], $id: undefined})
    for (const object of objects) expect(validate(object), JSON.stringify(validate.errors)).toBe(true)
  })

  it('Global.json describes Get-NetVirtualizationGlobal', async () => {
    const validate = ajv.compile({...schemas['Global.json'], $id: undefined})
    expect(validate(JSON.parse((await hnv(store, 'Get-NetVirtualizationGlobal', '--json')).stdout))).toBe(true)
  })
})

describe('command snapshot', () => {
  it('every command, cmdlet name and flag is as recorded', () => {
    const recorded = JSON.parse(readFileSync(join(ROOT, 'test/fixtures/command-snapshot.json'), 'utf8'))
    expect(commandSnapshot(join(ROOT, 'oclif.manifest.json'))).toEqual(recorded)
  })

  it('names every NetWNV cmdlet of the reference but the next-hop one', () => {
    const aliases = commandSnapshot(join(ROOT, 'oclif.manifest.json')).flatMap((c) => c.aliases)
    for (const verb of ['Get', 'New', 'Set', 'Remove']) {
      for (const noun of ['LookupRecord', 'CustomerRoute', 'ProviderAddress', 'ProviderRoute']) expect(aliases).toContain(`${verb}-NetVirtualization${noun}`)
      expect(aliases).toContain(`${verb === 'New' ? 'Add' : verb}-VMNetworkAdapter`)
    }
    expect(aliases).toContain('Get-NetVirtualizationGlobal')
    expect(aliases).toContain('Set-NetVirtualizationGlobal')
  })
})
