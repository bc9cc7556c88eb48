// The --json output of plan, apply, policy test and tenant onboard is a contract: checked-in schemas, up to
// date, that real output satisfies.
import {readFileSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {Ajv} from 'ajv'
import {afterAll, describe, expect, it} from 'vitest'
import {outputSchemas} from '../../../src/lib/apply/schema.js'
import {ROOT, hnv, tempDir} from '../../support/cli.js'
import {TENANTS} from './tenants.js'

const dir = tempDir()
afterAll(() => dir.remove())
const schemas = outputSchemas()
const ajv = new Ajv({allErrors: true, strict: true})
const validator = (file: string) => ajv.compile({...schemas[file], $id: undefined})

describe('output schemas of plan, apply, policy test and tenant onboard', () => {
  it.each(Object.keys(schemas))('schema/%s is up to date (npm run schema)', (file) => {
    expect(JSON.parse(readFileSync(join(ROOT, 'schema', file), 'utf8'))).toEqual(schemas[file])
  })

  it('PlanChange.json describes plan and apply --json, derived rows included', async () => {
    const store = join(dir.path, 'a.db')
    const file = join(dir.path, 't.yaml')
    writeFileSync(file, TENANTS)
    const validate = validator('PlanChange.json')
    for (const args of [['plan', '-f', file, '--derived'], ['apply', '-f', file, '--host', 'host2']]) {
      const rows = JSON.parse((await hnv(store, ...args, '--json')).stdout) as unknown[]
      expect(rows.length).toBeGreaterThan(10)
      for (const row of rows) expect(validate(row), JSON.stringify(validate.errors)).toBe(true)
    }
  })

  it('PolicyTestFinding.json describes policy test --json, and TenantOnboard.json the wizard', async () => {
    const file = join(dir.path, 'bad.yaml')
    writeFileSync(file, TENANTS.replace('{Name: Red2, VMSubnet: Red-A, VMHost: host2}', '{Name: Red2, VMSubnet: Red-A, VMHost: host2, IPv4Address: 10.0.0.1}'))
    const findings = JSON.parse((await hnv(join(dir.path, 'x.db'), 'policy', 'test', '-f', file, '--json')).stdout) as unknown[]
    expect(findings.length).toBe(1)
    const finding = validator('PolicyTestFinding.json')
    for (const row of findings) expect(finding(row), JSON.stringify(finding.errors)).toBe(true)
    const store = join(dir.path, 'a.db')
    const onboarded = JSON.parse((await hnv(store, 'tenant', 'onboard', '--name', 'Green', '--subnet', 'G=10.8.0.0/24', '--vm', 'Green1=G@host1', '--yes', '--json')).stdout)
    const onboard = validator('TenantOnboard.json')
    expect(onboard(onboarded), JSON.stringify(onboard.errors)).toBe(true)
  })
})
