// Benchmark of the engine's reload (DESIGN §2, STYLE §2 "full recompute first, incremental when measured"):
// how long after a CLI command commits is the new forwarding table ready, at 100k lookup records?
//
// A store in a temp dir gets 100k lookup records through PolicyService.importPolicy (10k VSIDs x 10 CAs in
// 1000 routing domains, an on-link /24 per VSID, 200 remote PAs, 20 local VMs with adapters). The engine
// side opens its own connection and loads the table once. Then, after a few untimed rounds (the engine is a
// warm, long-running process), a second connection (what a CLI process would hold) repeatedly commits a
// change through the policy service, and we time loadForwardingTable from the commit to the table of the
// new revision. The main figure is New-NetVirtualizationLookupRecord; Set,
// Remove and New-NetVirtualizationCustomerRoute are measured the same way. For comparison: the full load
// (everything read from the store), and the documents path (service.exportPolicy() + compile(), what the
// engine did before policy-source.ts). Every table is checked against compile(exportPolicy()) once.
// RSS is measured in a process of its own that only opens the store and loads the table, as the engine does.
//
//   npx tsx bench/reload.ts        prints the figures and writes bench/results/reload.json
//   runReloadBench()               the same, for a bench runner
import {spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, loadavg, tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {compile} from '../src/lib/engine/compile.js'
import {lastLoadKind, loadForwardingTable} from '../src/lib/engine/policy-source.js'
import type {ForwardingTable} from '../src/lib/engine/table.js'
import {customerRoute, lookupRecord} from '../src/lib/policy/kinds.js'
import {PolicyService, type PolicyDocument} from '../src/lib/policy/service.js'
import {PolicyStore} from '../src/lib/policy/store.js'

const VSIDS = 10_000
const RECORDS_PER_VSID = 10
const VSIDS_PER_DOMAIN = 10
const REMOTE_PAS = 200
const LOCAL_VMS = 20
const LOCAL_PA = '198.51.100.250'
/** Changes timed per kind of command (the target figure is New-NetVirtualizationLookupRecord's). */
const RUNS = 25
/** Untimed rounds of every command first (indices WARMUP_FROM...): the engine is a long-running, warm process. */
const WARMUP = 5
const WARMUP_FROM = 30
const FULL_RUNS = 5
const DOCUMENT_RUNS = 3
/** The engine polls the revision this often (runtime DEFAULT_POLL_MS): a change waits up to this before its load starts. */
const POLL_MS = 20

interface Figures {
  medianMs: number
  minMs: number
  maxMs: number
  all: number[]
}

export interface ReloadBenchResult {
  what: string
  node: string
  cpu: string
  cores: number
  loadAverage: number[]
  records: number
  routes: number
  importMs: number
  /** Commit -> table of the new revision, per kind of change, with what the load did. */
  reload: {command: string; loads: string[]; writeMs: Figures; loadMs: Figures; loadCpuMs: Figures}[]
  fullLoadMs: Figures
  documentsPathMs: {exportPolicy: Figures; compile: Figures; total: Figures}
  sameTableAsCompile: boolean
  pollMs: number
  engineMemory: EngineMemory
}

interface EngineMemory {
  baselineRssMB: number
  afterOpenRssMB: number
  afterLoadRssMB: number
  afterLoadGcRssMB: number
  heapUsedMB: number
  arrayBuffersMB: number
  /** RSS after loading less node's own, the JS heap and typed arrays: mostly SQLite's page cache. */
  otherMB: number
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits
const mb = (bytes: number): number => round(bytes / 2 ** 20)
const hex = (n: number, width: number): string => n.toString(16).toUpperCase().padStart(width, '0')

function figures(xs: number[]): Figures {
  const sorted = [...xs].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  const median = sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
  return {medianMs: round(median), minMs: round(sorted[0]), maxMs: round(sorted[sorted.length - 1]), all: xs.map((x) => round(x))}
}

const cpuMs = (): number => {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

function policy(): PolicyDocument {
  const rdid = (d: number) => `{11111111-2222-3333-4444-${hex(d, 12).toLowerCase()}}`
  const routes: object[] = []
  const records: object[] = []
  const adapters: object[] = []
  for (let v = 0; v < VSIDS; v++) {
    const vsid = 5000 + v
    const net = `10.${v >> 8}.${v & 255}`
    routes.push({RoutingDomainID: rdid(Math.floor(v / VSIDS_PER_DOMAIN)), VirtualSubnetID: vsid, DestinationPrefix: `${net}.0/24`, NextHop: '0.0.0.0', Metric: 255})
    for (let k = 0; k < RECORDS_PER_VSID; k++) {
      const n = v * RECORDS_PER_VSID + k
      const local = n < LOCAL_VMS
      const mac = '02' + hex(n, 10)
      records.push({CustomerAddress: `${net}.${10 + k}`, VirtualSubnetID: vsid, MACAddress: mac, ProviderAddress: local ? LOCAL_PA : `198.51.100.${1 + (n % REMOTE_PAS)}`, Rule: 'TranslationMethodEncap', VMName: `vm${n}`})
      if (local) adapters.push({VMName: `vm${n}`, MacAddress: mac, VirtualSubnetId: vsid, InterfaceName: `hnv-vm${n}`})
    }
  }
  return {Version: 1, ProviderAddresses: [{ProviderAddress: LOCAL_PA, InterfaceIndex: 2, PrefixLength: 24}], CustomerRoutes: routes, LookupRecords: records, VMNetworkAdapters: adapters}
}

/** The CLI-equivalent changes, i = 0, 1, ...: each commits one revision through the policy service. */
const COMMANDS: {command: string; run: (cli: PolicyService, i: number) => void}[] = [
  {
    command: 'New-NetVirtualizationLookupRecord',
    run: (cli, i) => cli.create(lookupRecord, {CustomerAddress: `10.${i >> 8}.${i & 255}.200`, VirtualSubnetID: 5000 + i, MACAddress: '04' + hex(i, 10), ProviderAddress: '198.51.100.7', Rule: 'TranslationMethodEncap', VMName: `new${i}`}),
  },
  {
    command: 'Set-NetVirtualizationLookupRecord -ProviderAddress',
    run: (cli, i) => cli.set(lookupRecord, {filters: {CustomerAddress: [`10.${i >> 8}.${i & 255}.200`], VirtualSubnetID: [String(5000 + i)]}}, {ProviderAddress: '198.51.100.8'}),
  },
  {
    command: 'Remove-NetVirtualizationLookupRecord',
    run: (cli, i) => cli.remove(lookupRecord, {filters: {CustomerAddress: [`10.${i >> 8}.${i & 255}.200`], VirtualSubnetID: [String(5000 + i)]}}),
  },
  {
    command: 'New-NetVirtualizationCustomerRoute',
    run: (cli, i) => cli.create(customerRoute, {RoutingDomainID: `{11111111-2222-3333-4444-${hex(Math.floor(i / VSIDS_PER_DOMAIN), 12).toLowerCase()}}`, VirtualSubnetID: 5000 + i, DestinationPrefix: `172.16.${i}.0/24`, NextHop: `10.${i >> 8}.${i & 255}.10`, Metric: 10}),
  },
]

function checkSame(table: ForwardingTable, cli: PolicyService): boolean {
  return table.dump() === compile(cli.exportPolicy(), table.revision).dump()
}

export async function runReloadBench(): Promise<ReloadBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hnv-bench-reload-'))
  try {
    const path = join(dir, 'policy.db')
    const document = policy()
    const t0 = performance.now()
    const setup = PolicyStore.open(path)
    new PolicyService(setup).importPolicy(document, true)
    setup.close()
    const importMs = performance.now() - t0

    // The engine's connection and a CLI's.
    const engine = PolicyStore.open(path)
    const cli = new PolicyService(PolicyStore.open(path))

    // Full loads (the first load, or after an import): everything read from the store.
    const full: number[] = []
    let table = loadForwardingTable(engine)
    for (let i = 0; i < FULL_RUNS; i++) {
      engine.db.prepare('DELETE FROM change_log').run()
      engine.db.prepare('UPDATE revision SET value = value + 1').run()
      const start = performance.now()
      table = loadForwardingTable(engine)
      full.push(performance.now() - start)
      if (lastLoadKind(engine) !== 'all') throw new Error(`expected a full load, got ${lastLoadKind(engine)}`)
    }
    let same = checkSame(table, cli)

    for (let i = WARMUP_FROM; i < WARMUP_FROM + WARMUP; i++) {
      for (const {run} of COMMANDS) {
        run(cli, i)
        loadForwardingTable(engine)
      }
    }
    const reload: ReloadBenchResult['reload'] = []
    for (const {command, run} of COMMANDS) {
      const writes: number[] = []
      const loads: number[] = []
      const cpu: number[] = []
      const kinds = new Set<string>()
      for (let i = 0; i < RUNS; i++) {
        const w0 = performance.now()
        run(cli, i)
        const committed = performance.now()
        const c0 = cpuMs()
        table = loadForwardingTable(engine)
        loads.push(performance.now() - committed)
        cpu.push(cpuMs() - c0)
        writes.push(committed - w0)
        kinds.add(lastLoadKind(engine)!)
        if (table.revision !== cli.store.revision()) throw new Error(`${command}: loaded revision ${table.revision}, store is at ${cli.store.revision()}`)
      }
      same &&= checkSame(table, cli)
      reload.push({command, loads: [...kinds], writeMs: figures(writes), loadMs: figures(loads), loadCpuMs: figures(cpu)})
    }

    // The documents path, as the engine read the store before: exportPolicy() + compile().
    const exports: number[] = []
    const compiles: number[] = []
    for (let i = 0; i < DOCUMENT_RUNS; i++) {
      const start = performance.now()
      const exported = new PolicyService(engine).exportPolicy()
      const read = performance.now()
      compile(exported, engine.revision())
      exports.push(read - start)
      compiles.push(performance.now() - read)
    }
    engine.close()
    cli.store.close()

    return {
      what: 'commit of a CLI-equivalent change (policy service, own connection) -> loadForwardingTable returns the table of the new revision, at 100k lookup records',
      node: process.version,
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      loadAverage: loadavg().map((x) => round(x, 2)),
      records: table.records.count,
      routes: table.routes.count,
      importMs: round(importMs),
      reload,
      fullLoadMs: figures(full),
      documentsPathMs: {exportPolicy: figures(exports), compile: figures(compiles), total: figures(exports.map((x, i) => x + compiles[i]))},
      sameTableAsCompile: same,
      pollMs: POLL_MS,
      engineMemory: engineMemory(path),
    }
  } finally {
    rmSync(dir, {recursive: true, force: true})
  }
}

/** RSS of a process that does what the engine does with the store: open it, load the table, keep it. */
function engineMemory(path: string): EngineMemory {
  const child = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', fileURLToPath(import.meta.url), '--engine-memory', path], {encoding: 'utf8'})
  if (child.status !== 0) throw new Error(`engine memory probe failed: ${child.stderr}`)
  return JSON.parse(child.stdout) as EngineMemory
}

async function probeEngineMemory(path: string): Promise<void> {
  const gc = (globalThis as {gc?: () => void}).gc!
  gc()
  const baseline = process.memoryUsage().rss
  const store = PolicyStore.open(path)
  gc()
  const afterOpen = process.memoryUsage().rss
  const table = loadForwardingTable(store)
  const afterLoad = process.memoryUsage().rss
  gc()
  await new Promise((resolve) => setTimeout(resolve, 50))
  gc()
  const memory = process.memoryUsage()
  const result: EngineMemory = {
    baselineRssMB: mb(baseline),
    afterOpenRssMB: mb(afterOpen),
    afterLoadRssMB: mb(afterLoad),
    afterLoadGcRssMB: mb(memory.rss),
    heapUsedMB: mb(memory.heapUsed),
    arrayBuffersMB: mb(memory.arrayBuffers),
    otherMB: mb(memory.rss - baseline - memory.heapUsed - memory.arrayBuffers),
  }
  if (table.records.count === 0) throw new Error('no records loaded')
  process.stdout.write(JSON.stringify(result))
}

if (process.argv[2] === '--engine-memory') {
  await probeEngineMemory(process.argv[3])
} else if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runReloadBench()
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, {recursive: true})
  writeFileSync(dir + 'reload.json', JSON.stringify(result, null, 2) + '\n')
  const f = (x: Figures) => `median ${x.medianMs} ms (min ${x.minMs}, max ${x.maxMs})`
  console.log(`reload: ${result.records} lookup records, ${result.routes} customer routes (import ${result.importMs} ms); load average ${result.loadAverage.join(' ')}`)
  for (const r of result.reload) console.log(`reload: ${r.command}: commit -> table ${f(r.loadMs)}, CPU ${r.loadCpuMs.medianMs} ms; write ${r.writeMs.medianMs} ms; loads: ${r.loads.join(', ')}`)
  console.log(`reload: full load (everything read) ${f(result.fullLoadMs)}`)
  console.log(`reload: documents path exportPolicy ${f(result.documentsPathMs.exportPolicy)} + compile ${f(result.documentsPathMs.compile)}`)
  console.log(`reload: same table as compile(exportPolicy()): ${result.sameTableAsCompile}; the engine polls every ${result.pollMs} ms before a load starts`)
  const m = result.engineMemory
  console.log(`reload: engine RSS ${m.afterLoadGcRssMB} MB after loading (node alone ${m.baselineRssMB}, store open ${m.afterOpenRssMB}, right after load ${m.afterLoadRssMB}); heap ${m.heapUsedMB} MB, typed arrays ${m.arrayBuffersMB} MB, other (SQLite page cache, ...) ${m.otherMB} MB`)
  console.log('reload: figures in bench/results/reload.json')
  if (!result.sameTableAsCompile) process.exitCode = 1
}
