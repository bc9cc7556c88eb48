// 20 processes each creating 50 lookup records at the same moment, one transaction per record, on one
// store file: every record must be there and no process may fail (WAL, IMMEDIATE transactions, busy timeout).
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {PolicyStore} from '../../src/lib/policy/store.js'
import {ROOT, tempDir} from '../support/cli.js'

const dir = tempDir()
afterAll(() => dir.remove())

const WRITER = `
import {PolicyService} from '${ROOT}/dist/lib/policy/service.js'
import {PolicyStore} from '${ROOT}/dist/lib/policy/store.js'
import {lookupRecord} from '${ROOT}/dist/lib/policy/kinds.js'
const [store, worker] = process.argv.slice(1)
const service = new PolicyService(PolicyStore.open(store))
for (let i = 0; i < 50; i++) {
  service.create(lookupRecord, {CustomerAddress: '10.' + worker + '.0.' + (i + 2), VirtualSubnetID: 5001, MACAddress: '0606' + worker.padStart(4, '0') + String(i).padStart(4, '0'), ProviderAddress: '198.51.100.11', Rule: 'TranslationMethodEncap'})
}
`

function writer(store: string, worker: number): Promise<{code: number | null; stderr: string}> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', WRITER, store, String(worker)], {stdio: ['ignore', 'ignore', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.on('close', (code) => resolve({code, stderr}))
  })
}

describe('concurrent writers', () => {
  it('20 processes x 50 records: all 1000 present, none failed', async () => {
    // The file is created by the writers themselves: creation races are part of the test.
    const store = join(dir.path, 'policy.db')
    const results = await Promise.all(Array.from({length: 20}, (_, worker) => writer(store, worker)))
    for (const result of results) expect(result, result.stderr).toMatchObject({code: 0})
    const opened = PolicyStore.open(store)
    expect(opened.db.prepare('SELECT count(*) AS n FROM lookup_records').get()).toEqual({n: 1000})
    expect(opened.revision()).toBe(1000)
    opened.close()
  }, 120_000)
})
