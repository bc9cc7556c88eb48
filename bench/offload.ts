// Micro-benchmark of src/lib/engine/offload.ts, in process, no root:
//  - segmentation: a 64 KB TCP/IPv4 super-frame as a vnet_hdr TAP hands it over (NEEDS_CSUM, gso_size
//    1418) cut to the 1458-byte inner MTU (NVGRE over IPv4 on a 1500 MTU): ns per super-frame and per
//    segment written (every segment's IPv4 and TCP checksum computed in full);
//  - coalescing: batches of 64 in-order TCP/IPv4 segments of one flow (1418 payload bytes) merged into
//    super-frames, with checksum verification on (the default) and off: ns per segment coalesced;
//  - garbage collections during the timed loops (the target is none).
// Each twice: with the default DataView copies (allocation-free), and with the `memcpy` option fed by
// Buffer.prototype.copy (a real memcpy, but it allocates a view per call), to show what an
// allocation-free native memcpy (the addon) would buy.
//
//   npx tsx bench/offload.ts     prints the figures and writes bench/results/offload.json
//   runOffloadBench()            the same, for a bench runner

import {mkdirSync, writeFileSync} from 'node:fs'
import {cpus, loadavg} from 'node:os'
import {PerformanceObserver, performance} from 'node:perf_hooks'
import {fileURLToPath, pathToFileURL} from 'node:url'
import {nativeAvailable, nativeChecksum, nativeMemcpy} from '../src/lib/engine/io/native.js'
import {Coalescer, innerMtu, OffloadBatch, Segmenter, type OffloadOptions} from '../src/lib/engine/offload.js'
import {VNET_F_NEEDS_CSUM, VNET_GSO_TCPV4, VNET_HEADER_LEN, writeVnetGso} from '../src/lib/engine/vnet.js'
import {fold, sum16} from '../src/lib/wire/checksum.js'

const MSS = 1418
const SUPER_PAYLOAD = 65535 - 40
const COALESCE_BATCH = 64
const RUNS = 9
const HEADROOM = 64

interface Figures {
  median: number
  min: number
  max: number
  all: number[]
}

export interface OffloadBenchResult {
  node: string
  cpu: string
  cores: number
  loadAverage: number[]
  dataViewCopies: OffloadFigures
  bufferCopyMemcpy: OffloadFigures
  /** With the addon's allocation-free copy and sum16; null when the addon is not built. */
  addonMemcpy: OffloadFigures | null
}

interface OffloadFigures {
  segment: {what: string; segmentsPerSuperFrame: number; nsPerSuperFrame: Figures; nsPerSegment: Figures; gbitPerSecond: number; gcDuringLoop: number}
  coalesce: {what: string; batch: number; nsPerSegment: Figures; nsPerSegmentNoVerify: Figures; gcDuringLoop: number; gcDuringLoopNoVerify: number}
}

/** An Ethernet + IPv4 + TCP frame of `payload` bytes at `at`; returns its length. Checksums complete unless `partial`. */
function tcpFrame(b: Buffer, at: number, payload: number, seq: number, id: number, partial: boolean): number {
  b.fill(0, at, at + 54)
  b.writeUInt16BE(0x0800, at + 12)
  const ip = at + 14
  b[ip] = 0x45
  b.writeUInt16BE(40 + payload, ip + 2)
  b.writeUInt16BE(id & 0xffff, ip + 4)
  b[ip + 6] = 0x40
  b[ip + 8] = 64
  b[ip + 9] = 6
  b.writeUInt32BE(0x0a000005, ip + 12)
  b.writeUInt32BE(0x0a000007, ip + 16)
  b.writeUInt16BE(~fold(sum16(b, ip, ip + 20)) & 0xffff, ip + 10)
  const tcp = ip + 20
  b.writeUInt16BE(40000, tcp)
  b.writeUInt16BE(5201, tcp + 2)
  b.writeUInt32BE(seq >>> 0, tcp + 4)
  b.writeUInt32BE(1, tcp + 8)
  b[tcp + 12] = 0x50
  b[tcp + 13] = 0x10
  b.writeUInt16BE(502, tcp + 14)
  for (let i = 0; i < payload; i++) b[tcp + 20 + i] = (seq + i) & 0xff
  const pseudo = sum16(b, ip + 12, ip + 20, 6 + 20 + payload)
  b.writeUInt16BE(partial ? fold(pseudo) : ~fold(sum16(b, tcp, tcp + 20 + payload, pseudo)) & 0xffff, tcp + 16)
  return 54 + payload
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[s.length >> 1]
}
const round = (x: number): number => Math.round(x * 10) / 10
const summary = (xs: number[]): Figures => ({median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)), all: xs.map(round)})

/** Times `loop` RUNS times; returns CPU ns per call and the GCs that started inside the timed runs. */
async function timed(loop: () => number, perRun: number): Promise<{ns: number[]; gcs: number}> {
  const starts: number[] = []
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) starts.push(e.startTime)
  })
  observer.observe({entryTypes: ['gc']})
  await new Promise((r) => setImmediate(r))
  const ns: number[] = []
  let sink = 0
  const t0 = performance.now()
  for (let r = 0; r < RUNS; r++) {
    // Process CPU time, not wall-clock: on a shared 2-core machine it leaves out time spent descheduled.
    const c0 = process.cpuUsage()
    sink ^= loop()
    const c = process.cpuUsage(c0)
    ns.push(((c.user + c.system) * 1000) / perRun)
  }
  const t1 = performance.now()
  await new Promise((r) => setTimeout(r, 50))
  observer.disconnect()
  if (sink === 0x7fffffff) console.log('')
  return {ns, gcs: starts.filter((s) => s >= t0 && s <= t1).length}
}

const bufferCopy = (src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void => {
  Buffer.prototype.copy.call(src, dst, at, from, to)
}

export async function runOffloadBench(): Promise<OffloadBenchResult> {
  const dataViewCopies = await figures({})
  const bufferCopyMemcpy = await figures({memcpy: bufferCopy})
  // The addon's copy (what the engine uses when the addon has it): no allocation, one N-API call per copy.
  const copy = nativeAvailable() ? nativeMemcpy() : undefined
  const addonMemcpy = copy === undefined ? null : await figures({memcpy: copy, checksum: nativeChecksum()})
  return {node: process.version, cpu: cpus()[0]?.model ?? 'unknown', cores: cpus().length, loadAverage: loadavg().map(round), dataViewCopies, bufferCopyMemcpy, addonMemcpy}
}

async function figures(options: OffloadOptions): Promise<OffloadFigures> {
  // Segmentation input: virtio header + 64 KB super-frame.
  const src = Buffer.alloc(VNET_HEADER_LEN + 54 + SUPER_PAYLOAD)
  tcpFrame(src, VNET_HEADER_LEN, SUPER_PAYLOAD, 1000, 7, true)
  writeVnetGso(src, 0, VNET_HEADER_LEN, VNET_GSO_TCPV4, 54, MSS, 34, 16)
  if (src[0] !== VNET_F_NEEDS_CSUM) throw new Error('bad virtio header')
  const segmenter = new Segmenter(options)
  const segOut = new OffloadBatch(128 * 1024, 64)
  const maxIp = innerMtu(1500, false)
  const segmentOnce = (): number => {
    segOut.reset()
    return segmenter.segment(src, 0, VNET_HEADER_LEN, src.length, maxIp, segOut, HEADROOM)
  }
  const perSuper = segmentOnce()
  if (perSuper !== Math.ceil(SUPER_PAYLOAD / MSS)) throw new Error('segmentation failed: ' + perSuper)
  const superFrames = 2000
  const segLoop = (): number => {
    let acc = 0
    for (let i = 0; i < superFrames; i++) acc += segmentOnce()
    return acc
  }
  segLoop()
  const seg = await timed(segLoop, superFrames)

  // Coalescing input: COALESCE_BATCH segments in one buffer, as the underlay's receive batch holds them.
  const slot = 2048
  const rx = Buffer.alloc(COALESCE_BATCH * slot)
  const offsets = new Uint32Array(COALESCE_BATCH)
  const lengths = new Uint32Array(COALESCE_BATCH)
  for (let i = 0; i < COALESCE_BATCH; i++) {
    offsets[i] = i * slot + HEADROOM
    lengths[i] = tcpFrame(rx, offsets[i], MSS, 1000 + i * MSS, 7 + i, false)
  }
  const coOut = new OffloadBatch(COALESCE_BATCH * slot, COALESCE_BATCH)
  const bench = async (verify: boolean) => {
    const co = new Coalescer({...options, verifyChecksums: verify})
    const batches = 300
    const once = (): number => {
      coOut.reset()
      return co.coalesce(rx, offsets, lengths, COALESCE_BATCH, coOut, VNET_HEADER_LEN)
    }
    // 45 segments of 1418 fit 64 KB: 64 segments make two super-frames.
    if (once() !== 2) throw new Error('coalescing failed')
    const loop = (): number => {
      let acc = 0
      for (let i = 0; i < batches; i++) acc += once()
      return acc
    }
    loop()
    return timed(loop, batches * COALESCE_BATCH)
  }
  const co = await bench(true)
  const coNoVerify = await bench(false)

  const nsSuper = median(seg.ns)
  return {
    segment: {
      what: '64 KB TCP/IPv4 super-frame (NEEDS_CSUM, gso_size 1418) cut to a 1458-byte inner MTU, full checksums per segment',
      segmentsPerSuperFrame: perSuper,
      nsPerSuperFrame: summary(seg.ns),
      nsPerSegment: summary(seg.ns.map((x) => x / perSuper)),
      gbitPerSecond: round((SUPER_PAYLOAD * 8) / nsSuper),
      gcDuringLoop: seg.gcs,
    },
    coalesce: {
      what: `${COALESCE_BATCH} in-order TCP/IPv4 segments of 1418 bytes (one flow) merged into super-frames with a virtio header`,
      batch: COALESCE_BATCH,
      nsPerSegment: summary(co.ns),
      nsPerSegmentNoVerify: summary(coNoVerify.ns),
      gcDuringLoop: co.gcs,
      gcDuringLoopNoVerify: coNoVerify.gcs,
    },
  }
}

async function main(): Promise<void> {
  const r = await runOffloadBench()
  for (const [label, f] of [['DataView copies', r.dataViewCopies], ['Buffer.copy memcpy', r.bufferCopyMemcpy], ['addon copy + sum16', r.addonMemcpy]] as const) {
    if (f === null) continue
    const s = f.segment
    const c = f.coalesce
    console.log(`offload (${label}): segment 64 KB -> ${s.segmentsPerSuperFrame} segments: ${s.nsPerSuperFrame.median} ns per super-frame (${s.nsPerSuperFrame.min}–${s.nsPerSuperFrame.max}), ${s.nsPerSegment.median} ns per segment, ~${s.gbitPerSecond} Gbit/s of payload on one core; GCs in loop: ${s.gcDuringLoop}`)
    console.log(`offload (${label}): coalesce ${c.nsPerSegment.median} ns per segment (${c.nsPerSegment.min}–${c.nsPerSegment.max}) verifying checksums, ${c.nsPerSegmentNoVerify.median} ns without; GCs in loop: ${c.gcDuringLoop} / ${c.gcDuringLoopNoVerify}`)
  }
  console.log(`offload: load average ${r.loadAverage.join(' ')} on ${r.cores} cores (${r.cpu})`)
  const dir = fileURLToPath(new URL('./results/', import.meta.url))
  mkdirSync(dir, {recursive: true})
  writeFileSync(dir + 'offload.json', JSON.stringify(r, null, 2) + '\n')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main()
