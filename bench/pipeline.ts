// Benchmark of the forwarding core (DESIGN §3, STYLE §2 "full recompute first, incremental when
// measured"): a policy of 100k lookup records (100 routing domains x 1000 CAs, spread over 100 remote
// PAs) is compiled, then preallocated batches go through the real Engine and pipeline with in-memory ports
// and underlays (no copies, no I/O):
//   encap: VM port -> port security, route, resolve, flow hash, NVGRE header in the headroom -> underlay
//   decap: underlay -> local PA, GRE checks, VSID, port, source CA and PA -> VM port
// at 64- and 1400-byte inner frames. Figures: ns/frame (median of runs), GCs during the timed loops,
// compile time at 100k records, RSS after compiling.
//
//   npx tsx bench/pipeline.ts        prints the figures and writes bench/results/pipeline.json
//   runPipelineBench()               the same, for a bench runner
import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus} from 'node:os'
import {PerformanceObserver, performance} from 'node:perf_hooks'
import {fileURLToPath, pathToFileURL} from 'node:url'

import {compile} from '../src/lib/engine/compile.js'
import {Engine} from '../src/lib/engine/engine.js'
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
const BATCH = 64
const HEADROOM = 64
const SLOT = 2048
const FRAMES_PER_RUN = 1 << 20
const RUNS = 7
const SIZES = [64, 1400] as const

export interface PipelineBenchResult {
  what: string
  node: string
  cpu: string
  cores: number
  records: number
  compileMs: {median: number; all: number[]}
  rssAfterCompileMB: number
  heapUsedAfterCompileMB: number
  batch: number
  framesPerRun: number
  runs: number
  results: {
    direction: 'encap' | 'decap'
    frameLen: number
    nsPerFrame: {median: number; min: number; max: number}
    mppsMedian: number
    gbpsMedian: number
    gcDuringLoop: {count: number; totalMs: number}
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

/** 100k records: tenant t has VSID 10000+t, RDID ...t, 10.0.0.0/16 on-link, CAs 10.0.0.1 up. */
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
  return {
    Version: 1,
    LookupRecords: records,
    CustomerRoutes: routes,
    ProviderAddresses: [{ProviderAddress: LOCAL_PA, InterfaceIndex: 2, PrefixLength: 24}],
    VMNetworkAdapters: [{VMName: 'vm-0-2', Name: 'Network Adapter', MacAddress: LOCAL_MAC, VirtualSubnetId: 10000, InterfaceName: 'hnv-bench'}],
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

/** A receive batch as the TAP reader leaves it: BATCH frames, each behind HEADROOM bytes. */
function portBatch(len: number): RxBatch {
  const buffer = Buffer.alloc(BATCH * SLOT)
  const offsets = new Uint32Array(BATCH)
  const lengths = new Uint32Array(BATCH)
  for (let i = 0; i < BATCH; i++) {
    const k = 3 + ((i * 7919) % (CAS_PER_TENANT - 1))
    offsets[i] = i * SLOT + HEADROOM
    lengths[i] = len
    udpFrame(buffer, offsets[i], len, macOf(0, k), LOCAL_MAC, ca(2), ca(k), 40000 + i)
  }
  return {buffer, offsets, lengths, count: BATCH, headroom: HEADROOM}
}

/** A receive batch as the GRE underlay leaves it: GRE + inner frame, outer addresses beside. */
function underlayBatch(len: number): UnderlayRxBatch {
  const buffer = Buffer.alloc(BATCH * SLOT)
  const offsets = new Uint32Array(BATCH)
  const lengths = new Uint32Array(BATCH)
  const addrs = new Uint8Array(BATCH * ADDR_STRIDE)
  for (let i = 0; i < BATCH; i++) {
    const k = 3 + ((i * 7919) % (CAS_PER_TENANT - 1))
    offsets[i] = i * SLOT + HEADROOM
    lengths[i] = 8 + len
    emitNvgre({vsid: 10000, flowId: i}, buffer, offsets[i])
    udpFrame(buffer, offsets[i] + 8, len, LOCAL_MAC, macOf(0, k), ca(k), ca(2), 40000 + i)
    addrs.set(remotePa(k).split('.').map(Number), i * ADDR_STRIDE + ADDR_SRC)
    addrs.set(LOCAL_PA.split('.').map(Number), i * ADDR_STRIDE + ADDR_DST)
  }
  return {buffer, offsets, lengths, count: BATCH, headroom: HEADROOM, addrs}
}

async function timed(run: () => void, batches: number): Promise<{ns: number[]; gc: {count: number; totalMs: number}}> {
  const gcs: {start: number; duration: number}[] = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) gcs.push({start: e.startTime, duration: e.duration})
  })
  observer.observe({entryTypes: ['gc']})
  await new Promise((r) => setImmediate(r))
  const loopStart = performance.now()
  const ns: number[] = []
  for (let r = 0; r < RUNS; r++) {
    const t0 = process.hrtime.bigint()
    for (let b = 0; b < batches; b++) run()
    ns.push(Number(process.hrtime.bigint() - t0) / (batches * BATCH))
  }
  const loopEnd = performance.now()
  await new Promise((r) => setTimeout(r, 50))
  observer.disconnect()
  const during = gcs.filter((g) => g.start >= loopStart && g.start <= loopEnd)
  return {ns, gc: {count: during.length, totalMs: round(during.reduce((a, g) => a + g.duration, 0))}}
}

export async function runPipelineBench(): Promise<PipelineBenchResult> {
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
  if (table!.records.count !== TENANTS * CAS_PER_TENANT) throw new Error('compiled ' + table!.records.count + ' records')

  const port = new MemoryPort({name: 'hnv-bench', record: false, batchSize: BATCH, headroom: HEADROOM})
  const underlay = new MemoryUnderlay({family: 4, local: LOCAL_PA, record: false, batchSize: BATCH, headroom: HEADROOM})
  const engine = new Engine({underlays: [underlay]})
  engine.load(table!)
  engine.attach(port)

  const results: PipelineBenchResult['results'] = []
  const batches = FRAMES_PER_RUN / BATCH
  for (const len of SIZES) {
    for (const direction of ['encap', 'decap'] as const) {
      const run = direction === 'encap'
        ? ((b: RxBatch) => () => port.deliver(b))(portBatch(len))
        : ((b: UnderlayRxBatch) => () => underlay.deliver(b))(underlayBatch(len))
      // Warm up, and check that every frame went where it should.
      const sentBefore = direction === 'encap' ? underlay.stats[IoStat.TX_PACKETS] : port.stats[IoStat.TX_PACKETS]
      for (let i = 0; i < 2000; i++) run()
      const sent = (direction === 'encap' ? underlay.stats[IoStat.TX_PACKETS] : port.stats[IoStat.TX_PACKETS]) - sentBefore
      const drops = Object.entries(engine.status().drops).filter(([, n]) => n > 0)
      if (sent !== 2000 * BATCH || drops.length > 0) throw new Error(`${direction} ${len}: ${sent} sent of ${2000 * BATCH}, drops ${JSON.stringify(drops)}`)
      const {ns, gc} = await timed(run, batches)
      const med = median(ns)
      results.push({
        direction,
        frameLen: len,
        nsPerFrame: {median: round(med), min: round(Math.min(...ns)), max: round(Math.max(...ns))},
        mppsMedian: round(1e3 / med, 2),
        gbpsMedian: round((len * 8) / med, 2),
        gcDuringLoop: gc,
      })
    }
  }
  engine.close()
  return {
    what: 'compile 100k lookup records; Engine + pipeline over preallocated batches with in-memory ports and underlay (encap: port -> NVGRE, decap: NVGRE -> port)',
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    records: table!.records.count,
    compileMs: {median: round(median(compileMs)), all: compileMs.map((x) => round(x))},
    rssAfterCompileMB: round(memory.rss / 2 ** 20),
    heapUsedAfterCompileMB: round(memory.heapUsed / 2 ** 20),
    batch: BATCH,
    framesPerRun: FRAMES_PER_RUN,
    runs: RUNS,
    results,
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const result = await runPipelineBench()
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, {recursive: true})
  writeFileSync(dir + 'pipeline.json', JSON.stringify(result, null, 2) + '\n')
  console.log(`pipeline: compiled ${result.records} records in ${result.compileMs.median} ms (median of ${result.compileMs.all.length}); RSS ${result.rssAfterCompileMB} MB, heap ${result.heapUsedAfterCompileMB} MB`)
  for (const r of result.results) {
    console.log(`pipeline: ${r.direction} ${r.frameLen} B: ${r.nsPerFrame.median} ns/frame (min ${r.nsPerFrame.min}, max ${r.nsPerFrame.max}), ` +
      `${r.mppsMedian} Mpps, ${r.gbpsMedian} Gbit/s; GC during loop ${r.gcDuringLoop.count} (${r.gcDuringLoop.totalMs} ms)`)
  }
  console.log('pipeline: figures in bench/results/pipeline.json')
}
