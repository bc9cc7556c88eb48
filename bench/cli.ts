// CLI and store speed (issue: the store's size must not show). Whole processes, as an operator runs them,
// measured against `hnv --version` in the same run. Prints figures and writes bench/results/cli.json.
import {execFileSync, spawnSync} from 'node:child_process'
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin/run.js')
const RECORDS = 100_000
const RUNS = 15

function timeRun(args: string[], store: string): number {
  const start = process.hrtime.bigint()
  const result = spawnSync(process.execPath, [BIN, ...args], {env: {...process.env, HNV_STORE: store}, encoding: 'utf8'})
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  if (result.status !== 0) throw new Error(`hnv ${args.join(' ')} failed: ${result.stderr}`)
  return ms
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

/** 100k records: 10k virtual subnets of 10 VMs each, so a Get by VSID returns 10. */
function document(): object {
  const records = []
  for (let i = 0; i < RECORDS; i++) {
    const vsid = 5000 + Math.floor(i / 10)
    records.push({CustomerAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, VirtualSubnetID: vsid, MACAddress: `06${i.toString(16).padStart(10, '0')}`, ProviderAddress: `198.51.100.${1 + (i % 200)}`, Rule: 'TranslationMethodEncap', VMName: `vm${i}`})
  }
  return {Version: 1, LookupRecords: records}
}

export interface CliBenchResult {
  machine: string
  records: number
  versionMs: number
  newMs: number
  newRatio: number
  getMs: number
  getRatio: number
  importMs: number
}

export function runCliBench(): CliBenchResult {
  const dir = mkdtempSync(join(tmpdir(), 'hnv-bench-'))
  try {
    const store = join(dir, 'policy.db')
    const file = join(dir, 'records.json')
    writeFileSync(file, JSON.stringify(document()))
    const importMs = timeRun(['policy', 'import', file], store)
    const version: number[] = []
    const created: number[] = []
    const got: number[] = []
    // Interleaved, so load on the machine affects all three alike.
    for (let i = 0; i < RUNS; i++) {
      version.push(timeRun(['--version'], store))
      created.push(timeRun(['New-NetVirtualizationLookupRecord', '-CustomerAddress', `10.200.0.${i + 1}`, '-VirtualSubnetID', '4096', '-MACAddress', `0A00000000${(i + 1).toString(16).padStart(2, '0')}`, '-ProviderAddress', '198.51.100.1', '-Rule', 'TranslationMethodEncap'], store))
      got.push(timeRun(['Get-NetVirtualizationLookupRecord', '-VirtualSubnetID', String(5000 + i * 97), '--json'], store))
    }
    const versionMs = median(version)
    const result: CliBenchResult = {
      machine: `${execFileSync('nproc').toString().trim()} cores, node ${process.version}`,
      records: RECORDS,
      versionMs,
      newMs: median(created),
      newRatio: median(created) / versionMs,
      getMs: median(got),
      getRatio: median(got) / versionMs,
      importMs,
    }
    return result
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

if (process.argv[1] === import.meta.filename) {
  const r = runCliBench()
  console.log(`hnv --version                                   ${r.versionMs.toFixed(0)} ms (median of ${RUNS})`)
  console.log(`New-NetVirtualizationLookupRecord, 100k store   ${r.newMs.toFixed(0)} ms  = ${r.newRatio.toFixed(2)}x --version (target <= 1.3x)`)
  console.log(`Get -VirtualSubnetID (10 of 100k) --json        ${r.getMs.toFixed(0)} ms  = ${r.getRatio.toFixed(2)}x --version (target <= 1.5x)`)
  console.log(`policy import of 100k lookup records            ${r.importMs.toFixed(0)} ms (whole process; target < 3000 ms)`)
  writeFileSync(join(ROOT, 'bench/results/cli.json'), JSON.stringify(r, null, 2) + '\n')
}
