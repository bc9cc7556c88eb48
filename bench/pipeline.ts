// Benchmark of the forwarding core (DESIGN §3, STYLE §2 "full recompute first, incremental when
// measured"): a policy of 100k lookup records (100 routing domains x 1000 CAs, spread over 100 remote
// PAs) is compiled, then preallocated batches go through the real Engine and pipeline with in-memory ports
// and underlays (no copies, no I/O):
//   encap: VM port -> port security, route, resolve, flow hash, NVGRE header in the headroom -> underlay
//   decap: underlay -> local PA, GRE checks, VSID, port, source CA and PA -> VM port
// at 64- and 1400-byte inner frames, each through an engine with the per-flow decision cache
// (flow-cache.ts, the default) and one without it (every frame through the whole pipeline), each engine
// in a process of its own as in production (two Engines in one process share the JIT's type feedback:
// their forwarding code is optimised for both, which costs the one with the cache 30-60 ns a frame),
// over three working sets:
//   hot       one batch of 64 frames (64 flows: one VM to 64 others) sent again and again: the figure of
//             earlier runs, made without a cache;
//   flows-1k  1024 flows cycling through the batches: a gateway VM (GatewayWildcard record, any source
//             address) sending from 1024 source addresses, each frame's source set before its batch goes in;
//   all-miss  the same with 100k source addresses: more flows than the cache holds, so every frame misses.
// The two cycling sets include the cost of writing the source address into each frame (measured alone as
// `setSourceNs` and reported beside them).
// Figures: ns/frame (median of runs), GCs during the timed loops, the cache's hits and misses during them,
// compile time at 100k records, RSS after compiling.
//
//   npx tsx bench/pipeline.ts [--quick] [--only encap|decap] [--size 64|1400] [--set hot|flows-1k|all-miss] [--cache on|off]
//                                    prints the figures and writes bench/results/pipeline.json (not with
//                                    --quick or a filter); without --cache, runs itself once per cache
//                                    setting (--child: print the result as JSON instead)
import {spawnSync} from 'node:child_process'
import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {PerformanceObserver, performance} from 'node:perf_hooks'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {compile} from '../src/lib/engine/compile.js'
import {Engine} from '../src/lib/engine/engine.js'
import {DEFAULT_FLOW_CACHE_ENTRIES} from '../src/lib/engine/flow-cache.js'
import {ADDR_DST, ADDR_SRC, ADDR_STRIDE, IoStat, type RxBatch, type UnderlayRxBatch} from '../src/lib/engine/ports.js'
import type {ForwardingTable} from '../src/lib/engine/table.js'
import type {PolicyDocument} from '../src/lib/policy/service.js'
import {emitEthernet, emitIpv4, emitNvgre, emitUdp, EtherType, IpProto, ipv4FromString, ipv4PseudoSum} from '../src/lib/wire/index.js'
import {MemoryPort} from '../test/support/memory-port.js'
import {MemoryUnderlay} from '../test/support/memory-underlay.js'

const TENANTS = 100
const CAS_PER_TENANT = 1000
const REMOTE_PAS = 100
const LOCAL_PA = '198.51.100.11'
const LOCAL_MAC = '020000000001'
/** A gateway VM beside vm-0-2 (GatewayWildcard record: it may send from any address) and one on a remote host. */
const GATEWAY_MAC = '020000000002'
const REMOTE_GATEWAY_MAC = '020000000003'
/** The cycling working sets' source addresses: 172.16.0.0 and up. */
const FLOW_SOURCE_BASE = 0xac100000
const BATCH = 64
const HEADROOM = 64
const SLOT = 2048
const QUICK = process.argv.includes('--quick')
const FRAMES_PER_RUN = QUICK ? 1 << 18 : 1 << 20
const RUNS = QUICK ? 3 : 7
const WARMUP_BATCHES = 2000

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name)
  return at < 0 ? undefined : process.argv[at + 1]
}

const SIZES = [64, 1400].filter((n) => option('--size') === undefined || String(n) === option('--size'))
const DIRECTIONS = (['encap', 'decap'] as const).filter((d) => option('--only') === undefined || d === option('--only'))
/** flows 0: the one batch of the earlier runs, unchanged. */
const SETS = [
  {name: 'hot', flows: 0},
  {name: 'flows-1k', flows: 1024},
  {name: 'all-miss', flows: 100_000},
].filter((set) => option('--set') === undefined || set.name === option('--set'))
/** on: only the engine with the cache; off: only the one without. */
const CACHES = [true, false].filter((on) => option('--cache') === undefined || option('--cache') === (on ? 'on' : 'off'))
const FILTERED = ['--size', '--only', '--set', '--cache'].some((name) => option(name) !== undefined)
const CHILD = process.argv.includes('--child')

interface Figure {
  median: number
  min: number
  max: number
}

export interface PipelineBenchResult {
  what: string
  node: string
  cpu: string
  cores: number
  /** os.loadavg() before and after the timed loops. */
  load: {before: number[]; after: number[]}
  records: number
  compileMs: {median: number; all: number[]}
  rssAfterCompileMB: number
  heapUsedAfterCompileMB: number
  batch: number
  framesPerRun: number
  runs: number
  flowCacheEntries: number
  results: {
    direction: 'encap' | 'decap'
    frameLen: number
    /** hot: 64 flows, one batch repeated; flows-1k: 1024 flows; all-miss: 100k flows (more than the cache holds). */
    workingSet: string
    flows: number
    /** Whether the engine had its per-flow decision cache. */
    flowCache: boolean
    nsPerFrame: Figure
    /** CPU time per frame (process user + system), median of the runs: less disturbed by other processes. */
    cpuNsPerFrame: Figure
    mppsMedian: number
    gbpsMedian: number
    gcDuringLoop: {count: number; totalMs: number}
    /** The cache's answers during the timed loops (null without the cache). */
    cache: {hits: number; misses: number; hitRatio: number} | null
    /** ns per frame of writing the sources alone (part of nsPerFrame for the cycling sets, 0 for hot). */
    setSourceNs: number
  }[]
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}

function remotePa(i: number): string {
  return '203.0.113.' + (1 + (i % REMOTE_PAS))
}

function ca(k: number): string {
  return '10.0.' + (k >> 8) + '.' + (k & 255)
}

function macOf(tenant: number, k: number): string {
  return '06' + tenant.toString(16).padStart(4, '0') + k.toString(16).padStart(6, '0')
}

/**
 * 100k records: tenant t has VSID 10000+t, RDID ...t, 10.0.0.0/16 on-link, CAs 10.0.0.2 up; tenant 0 also
 * has a gateway VM here and one on the host of remotePa(0) (GatewayWildcard records).
 */
function policy(): PolicyDocument {
  const records: Record<string, unknown>[] = []
  const routes: Record<string, unknown>[] = []
  for (let t = 0; t < TENANTS; t++) {
    const vsid = 10000 + t
    routes.push({RoutingDomainID: '{00000000-0000-0000-0000-' + t.toString(16).padStart(12, '0') + '}', VirtualSubnetID: vsid, DestinationPrefix: '10.0.0.0/16', NextHop: '0.0.0.0', Metric: 255})
    for (let k = 2; k < CAS_PER_TENANT + 2; k++) {
      const local = t === 0 && k === 2
      records.push({
        CustomerAddress: ca(k),
        VirtualSubnetID: vsid,
        MACAddress: local ? LOCAL_MAC : macOf(t, k),
        ProviderAddress: local ? LOCAL_PA : remotePa(t * CAS_PER_TENANT + k),
        Rule: 'TranslationMethodEncap',
        VMName: 'vm-' + t + '-' + k,
        Type: 'Static',
      })
    }
  }
  const wildcard = (mac: string, pa: string, vm: string) => ({CustomerAddress: '0.0.0.0', VirtualSubnetID: 10000, MACAddress: mac, ProviderAddress: pa, Rule: 'TranslationMethodEncap', VMName: vm, Type: 'GatewayWildcard'})
  records.push(wildcard(GATEWAY_MAC, LOCAL_PA, 'gw-local'), wildcard(REMOTE_GATEWAY_MAC, remotePa(0), 'gw-remote'))
  return {
    Version: 1,
    LookupRecords: records,
    CustomerRoutes: routes,
    ProviderAddresses: [{ProviderAddress: LOCAL_PA, InterfaceIndex: 2, PrefixLength: 24}],
    VMNetworkAdapters: [
      {VMName: 'vm-0-2', Name: 'Network Adapter', MacAddress: LOCAL_MAC, VirtualSubnetId: 10000, InterfaceName: 'hnv-bench'},
      {VMName: 'gw-local', Name: 'Network Adapter', MacAddress: GATEWAY_MAC, VirtualSubnetId: 10000, InterfaceName: 'hnv-bench-gw'},
    ],
  }
}

const colon = (mac: string) => mac.match(/../g)!.join(':')

/** Ethernet + IPv4 + UDP of `len` bytes from `src` to `dst` at `buf[off]`. */
function udpFrame(buf: Buffer, off: number, len: number, dstMac: string, srcMac: string, src: string, dst: string, sport: number): void {
  emitEthernet({dst: colon(dstMac), src: colon(srcMac), etherType: EtherType.IPV4}, buf, off)
  const s = ipv4FromString(src)
  const d = ipv4FromString(dst)
  const payloadLen = len - 14 - 20 - 8
  emitIpv4({src: s, dst: d, protocol: IpProto.UDP, ttl: 64, tos: 0, ident: sport, dontFrag: true, moreFrags: false, fragOffset: 0, payloadLen: 8 + payloadLen, options: new Uint8Array(0)}, buf, off + 14)
  buf.fill(sport & 255, off + 42, off + len)
  emitUdp({srcPort: sport, dstPort: 5201, payloadLen}, buf, off + 34, ipv4PseudoSum(s, d, IpProto.UDP))
}

/** The destination of frame i of a batch: one of the 999 other CAs of tenant 0. */
const peer = (i: number) => 3 + ((i * 7919) % (CAS_PER_TENANT - 1))

/**
 * A receive batch as the TAP reader leaves it: BATCH frames, each behind HEADROOM bytes, from vm-0-2 (or,
 * `gateway`, from the gateway VM, source to be set) to peers of its subnet.
 */
function portBatch(len: number, gateway: boolean): RxBatch {
  const buffer = Buffer.alloc(BATCH * SLOT)
  const offsets = new Uint32Array(BATCH)
  const lengths = new Uint32Array(BATCH)
  for (let i = 0; i < BATCH; i++) {
    const k = peer(i)
    offsets[i] = i * SLOT + HEADROOM
    lengths[i] = len
    udpFrame(buffer, offsets[i], len, macOf(0, k), gateway ? GATEWAY_MAC : LOCAL_MAC, gateway ? '172.16.0.0' : ca(2), ca(k), 40000 + i)
  }
  return {buffer, offsets, lengths, count: BATCH, headroom: HEADROOM}
}

/**
 * A receive batch as the GRE underlay leaves it: GRE + inner frame, outer addresses beside; from peers of
 * vm-0-2 to it (or, `gateway`, from the remote gateway VM, source to be set).
 */
function underlayBatch(len: number, gateway: boolean): UnderlayRxBatch {
  const buffer = Buffer.alloc(BATCH * SLOT)
  const offsets = new Uint32Array(BATCH)
  const lengths = new Uint32Array(BATCH)
  const addrs = new Uint8Array(BATCH * ADDR_STRIDE)
  for (let i = 0; i < BATCH; i++) {
    const k = peer(i)
    offsets[i] = i * SLOT + HEADROOM
    lengths[i] = 8 + len
    emitNvgre({vsid: 10000, flowId: i}, buffer, offsets[i])
    udpFrame(buffer, offsets[i] + 8, len, LOCAL_MAC, gateway ? REMOTE_GATEWAY_MAC : macOf(0, k), gateway ? '172.16.0.0' : ca(k), ca(2), 40000 + i)
    addrs.set((gateway ? remotePa(0) : remotePa(k)).split('.').map(Number), i * ADDR_STRIDE + ADDR_SRC)
    addrs.set(LOCAL_PA.split('.').map(Number), i * ADDR_STRIDE + ADDR_DST)
  }
  return {buffer, offsets, lengths, count: BATCH, headroom: HEADROOM, addrs}
}

/**
 * Before each batch goes in, its frames get the next sources of `flows` (IPv4 source at `srcAt` from each
 * frame's offset), cycling: frame n of the run is flow n mod flows.
 */
function cycling(batch: RxBatch, srcAt: number, flows: number, deliver: (b: RxBatch) => void): () => void {
  let next = 0
  return () => {
    const buf = batch.buffer
    for (let i = 0; i < batch.count; i++) {
      const o = batch.offsets[i] + srcAt
      const a = FLOW_SOURCE_BASE + next
      buf[o] = a >>> 24
      buf[o + 1] = a >>> 16
      buf[o + 2] = a >>> 8
      buf[o + 3] = a
      next = next + 1 === flows ? 0 : next + 1
    }
    deliver(batch)
  }
}

/**
 * Runs `run` RUNS times `batches` times: wall-clock ns per frame of each run, and CPU ns per frame (user +
 * system time of the process: on a shared machine it leaves out the time other processes had the core).
 */
async function timed(run: () => void, batches: number): Promise<{ns: number[]; cpuNs: number[]; gc: {count: number; totalMs: number}}> {
  const gcs: {start: number; duration: number}[] = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({start: e.startTime, duration: e.duration})
  })
  observer.observe({entryTypes: ['gc']})
  await new Promise((r) => setImmediate(r))
  const loopStart = performance.now()
  const ns: number[] = []
  const cpuNs: number[] = []
  for (let r = 0; r < RUNS; r++) {
    const c0 = process.cpuUsage()
    const t0 = process.hrtime.bigint()
    for (let b = 0; b < batches; b++) run()
    ns.push(Number(process.hrtime.bigint() - t0) / (batches * BATCH))
    const c = process.cpuUsage(c0)
    cpuNs.push(((c.user + c.system) * 1000) / (batches * BATCH))
  }
  const loopEnd = performance.now()
  await new Promise((r) => setTimeout(r, 50))
  observer.disconnect()
  const during = gcs.filter((g) => g.start >= loopStart && g.start <= loopEnd)
  return {ns, cpuNs, gc: {count: during.length, totalMs: round(during.reduce((a, g) => a + g.duration, 0))}}
}

interface Rig {
  engine: Engine
  port: MemoryPort
  gatewayPort: MemoryPort
  underlay: MemoryUnderlay
}

function rig(table: ForwardingTable, flowCache: boolean): Rig {
  const port = new MemoryPort({name: 'hnv-bench', record: false, batchSize: BATCH, headroom: HEADROOM})
  const gatewayPort = new MemoryPort({name: 'hnv-bench-gw', record: false, batchSize: BATCH, headroom: HEADROOM})
  const underlay = new MemoryUnderlay({family: 4, local: LOCAL_PA, record: false, batchSize: BATCH, headroom: HEADROOM})
  const engine = new Engine({underlays: [underlay], flowCache: flowCache ? undefined : false})
  engine.load(table)
  engine.attach(port)
  engine.attach(gatewayPort)
  return {engine, port, gatewayPort, underlay}
}

/** Both cache settings: each measured by a child process of its own (this script with --cache and --child). */
function runPerCacheSetting(): PipelineBenchResult {
  const passed = process.argv.slice(2).filter((arg, i, all) => arg !== '--cache' && all[i - 1] !== '--cache')
  const parts = CACHES.map((on) => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url), ...passed, '--cache', on ? 'on' : 'off', '--child'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24})
    if (run.status !== 0) throw new Error(`pipeline bench with the cache ${on ? 'on' : 'off'} failed (exit ${run.status})`)
    return JSON.parse(run.stdout) as PipelineBenchResult
  })
  // The order of a run in one process: size, direction, working set, then the cache on before off.
  type Row = PipelineBenchResult['results'][number]
  const rank = (r: Row) => [SIZES.indexOf(r.frameLen), DIRECTIONS.indexOf(r.direction), SETS.findIndex((set) => set.name === r.workingSet), r.flowCache ? 0 : 1]
  const results = parts.flatMap((p) => p.results)
  results.sort((a, b) => {
    const x = rank(a)
    const y = rank(b)
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2] || x[3] - y[3]
  })
  return {...parts[0], load: {before: parts[0].load.before, after: parts.at(-1)!.load.after}, results}
}

export async function runPipelineBench(): Promise<PipelineBenchResult> {
  return CACHES.length > 1 && !CHILD ? runPerCacheSetting() : runInProcess()
}

async function runInProcess(): Promise<PipelineBenchResult> {
  const doc = policy()
  const compileMs: number[] = []
  let table: ForwardingTable | undefined
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now()
    table = compile(doc, i + 1)
    compileMs.push(performance.now() - t0)
  }
  globalThis.gc?.()
  const memory = process.memoryUsage()
  if (table!.records.count !== TENANTS * CAS_PER_TENANT + 2) throw new Error('compiled ' + table!.records.count + ' records')

  const rigs = CACHES.map((on) => rig(table!, on))
  const loadBefore = loadavg()
  const results: PipelineBenchResult['results'] = []
  const batches = FRAMES_PER_RUN / BATCH
  for (const len of SIZES) {
    for (const direction of DIRECTIONS) {
      for (const set of SETS) {
        const gateway = set.flows !== 0
        const frames: RxBatch = direction === 'encap' ? portBatch(len, gateway) : underlayBatch(len, gateway)
        const srcAt = (direction === 'encap' ? 0 : 8) + 14 + 12
        // The cost of writing the sources alone, to set beside the cycling sets' figures.
        let setSourceNs = 0
        if (gateway) {
          const alone = cycling(frames, srcAt, set.flows, () => {})
          for (let i = 0; i < WARMUP_BATCHES; i++) alone()
          setSourceNs = round(median((await timed(alone, batches)).ns))
        }
        for (const r of rigs) {
          const into = direction === 'decap' ? (b: RxBatch) => r.underlay.deliver(b as UnderlayRxBatch) : gateway ? (b: RxBatch) => r.gatewayPort.deliver(b) : (b: RxBatch) => r.port.deliver(b)
          const run = gateway ? cycling(frames, srcAt, set.flows, into) : () => into(frames)
          const out = direction === 'encap' ? r.underlay : r.port
          // Warm up, and check that every frame went where it should.
          const sentBefore = out.stats[IoStat.TX_PACKETS]
          for (let i = 0; i < WARMUP_BATCHES; i++) run()
          const sent = out.stats[IoStat.TX_PACKETS] - sentBefore
          const drops = Object.entries(r.engine.status().drops).filter(([, n]) => n > 0)
          if (sent !== WARMUP_BATCHES * BATCH || drops.length > 0) throw new Error(`${direction} ${len} ${set.name}: ${sent} sent of ${WARMUP_BATCHES * BATCH}, drops ${JSON.stringify(drops)}`)
          const stats = r.engine.flowCache?.stats
          const hits0 = stats?.[0] ?? 0
          const misses0 = stats?.[1] ?? 0
          const {ns, cpuNs, gc} = await timed(run, batches)
          const med = median(ns)
          const hits = (stats?.[0] ?? 0) - hits0
          const misses = (stats?.[1] ?? 0) - misses0
          results.push({
            direction,
            frameLen: len,
            workingSet: set.name,
            flows: gateway ? set.flows : BATCH,
            flowCache: stats !== undefined,
            nsPerFrame: {median: round(med), min: round(Math.min(...ns)), max: round(Math.max(...ns))},
            cpuNsPerFrame: {median: round(median(cpuNs)), min: round(Math.min(...cpuNs)), max: round(Math.max(...cpuNs))},
            mppsMedian: round(1e3 / med, 2),
            gbpsMedian: round((len * 8) / med, 2),
            gcDuringLoop: gc,
            cache: stats === undefined ? null : {hits, misses, hitRatio: round(hits / Math.max(1, hits + misses), 4)},
            setSourceNs,
          })
        }
      }
    }
  }
  const loadAfter = loadavg()
  for (const r of rigs) r.engine.close()
  return {
    what: 'compile 100k lookup records; Engine + pipeline over preallocated batches with in-memory ports and underlay (encap: port -> NVGRE, decap: NVGRE -> port), with and without the per-flow decision cache',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    load: {before: loadBefore, after: loadAfter},
    records: table!.records.count,
    compileMs: {median: round(median(compileMs)), all: compileMs.map((x) => round(x))},
    rssAfterCompileMB: round(memory.rss / 2 ** 20),
    heapUsedAfterCompileMB: round(memory.heapUsed / 2 ** 20),
    batch: BATCH,
    framesPerRun: FRAMES_PER_RUN,
    runs: RUNS,
    flowCacheEntries: DEFAULT_FLOW_CACHE_ENTRIES,
    results,
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runPipelineBench()
  if (CHILD) {
    process.stdout.write(JSON.stringify(result))
    process.exit(0)
  }
  if (!QUICK && !FILTERED) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url))
    mkdirSync(dir, {recursive: true})
    writeFileSync(dir + 'pipeline.json', JSON.stringify(result, null, 2) + '\n')
  }
  console.log(`pipeline: compiled ${result.records} records in ${result.compileMs.median} ms (median of ${result.compileMs.all.length}); RSS ${result.rssAfterCompileMB} MB, heap ${result.heapUsedAfterCompileMB} MB`)
  for (const r of result.results) {
    const cache = r.cache === null ? 'no cache' : `cache hits ${round(r.cache.hitRatio * 100, 1)} %`
    console.log(`pipeline: ${r.direction} ${r.frameLen} B ${r.workingSet} (${r.flows} flows), ${cache}: ${r.nsPerFrame.median} ns/frame (min ${r.nsPerFrame.min}, max ${r.nsPerFrame.max}; CPU ${r.cpuNsPerFrame.median}, min ${r.cpuNsPerFrame.min}), ` +
      `${r.mppsMedian} Mpps, ${r.gbpsMedian} Gbit/s; GC during loop ${r.gcDuringLoop.count} (${r.gcDuringLoop.totalMs} ms)` + (r.setSourceNs > 0 ? `; of which ${r.setSourceNs} ns writing the source` : ''))
  }
  console.log(`pipeline: load average ${result.load.before.map((x) => round(x, 2)).join(' ')} before, ${result.load.after.map((x) => round(x, 2)).join(' ')} after`)
  if (!QUICK && !FILTERED) console.log('pipeline: figures in bench/results/pipeline.json')
}
