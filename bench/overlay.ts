// The engine's speed through real kernels, beside the kernel's own overlay in the same run:
//  1. policy change -> in force, with 100k lookup records in the store (a CLI command, then the engine's
//     revision poll, read, compile and swap), and how long forwarding stalls meanwhile;
//  2. side by side, VM -> VM across two hosts joined by a veth of MTU 1500 (the physical network):
//     run A = hnv's engines (NVGRE, the engines' TAPs are the VMs' NICs, VM MTU 1458), run B = the kernel's
//     vxlan through a bridge in each host namespace (VM MTU 1450). Runs alternate A, B, A, B... (--runs N,
//     default 3 each) so that a noisy neighbour colours both alike. Per run: ping RTT p50/p99, iperf3 TCP
//     one stream and four streams (Gbit/s), iperf3 UDP with 64-byte payloads (received packets/s), and
//     for A the CPU seconds the two engine processes used per GB moved (utime + stime, /proc/<pid>/stat).
//     The ping runs first, right after the engines start (their JIT has seen no traffic yet), and again
//     after the throughput tests ("warm"): both figures, for both runs.
//     Reported as medians with min-max, and the A/B ratio of the medians.
// Needs root (namespaces, TAPs), iperf3 and the built CLI (npm run build). Everything lives in namespaces
// hnvb-<pid>-b6-* removed at the end, also on failure. Prints figures; writes bench/results/overlay.json
// (overlay-no-offload.json with --no-offload: the engines' TAPs without IFF_VNET_HDR, for comparison).
//   sudo npx tsx bench/overlay.ts [--quick] [--runs N] [--no-offload] [--no-kernel-gso] [--skip-policy]
// (--no-kernel-gso: the engines segment TCP super-frames themselves; overlay-no-kernel-gso.json)
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {Topology, classicSpec, ping, run, sh} from '../src/lib/demo/topology.js'
import {controlRequest} from '../src/lib/control/client.js'
import {controlSocketPath} from '../src/lib/control/protocol.js'
import type {RuntimeStatus} from '../src/lib/control/protocol.js'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin/run.js')
const QUICK = process.argv.includes('--quick')
const PREFIX = `hnvb-${process.pid}-b6`
const RECORDS = 100_000
const IPERF_SECONDS = QUICK ? 3 : 8
const PINGS = QUICK ? 50 : 300
const RUNS = Number(argValue('--runs') ?? (QUICK ? 1 : 3))
const OFFLOAD = !process.argv.includes('--no-offload')
const KERNEL_GSO = !process.argv.includes('--no-kernel-gso')
const SKIP_POLICY = process.argv.includes('--skip-policy')

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1]
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]
}

async function until<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 2))
  }
}

// ---- 1. policy change -> applied at 100k records ----

interface PolicyLatency {
  records: number
  /** Whole CLI process (Node start-up included), as an operator waits for it. */
  cliMs: number[]
  /** From the CLI's exit (its commit is done) to the engine reporting the new revision in force. */
  commitToAppliedMs: number[]
  loadMs: number[]
  swapMs: number[]
  /**
   * The engine has one thread: while it reads and compiles, it forwards nothing. Measured as the longest
   * wait for a status answer during a reload (median over reloads).
   */
  stallMs: number
}

async function policyLatency(): Promise<PolicyLatency> {
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}-policy-`))
  const ns = `${PREFIX}-scale`
  const store = join(dir, 'policy.db')
  const socket = controlSocketPath(store)
  try {
    // 10k virtual subnets of 10 VMs, like bench/cli.ts, and a local PA on a veth; no adapters: this
    // engine only has to take the policy in.
    const records = []
    for (let i = 0; i < RECORDS; i++) {
      const vsid = 5000 + Math.floor(i / 10)
      records.push({CustomerAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, VirtualSubnetID: vsid, MACAddress: `06${i.toString(16).padStart(10, '0')}`, ProviderAddress: `198.51.100.${1 + (i % 200)}`, Rule: 'TranslationMethodEncap', VMName: `vm${i}`})
    }
    const doc = join(dir, 'records.json')
    writeFileSync(doc, JSON.stringify({Version: 1, LookupRecords: records, ProviderAddresses: [{ProviderAddress: '198.51.100.250', InterfaceIndex: 2, PrefixLength: 24}]}))
    execFileSync(process.execPath, [BIN, 'policy', 'import', '--store', store, doc], {stdio: 'ignore'})
    execFileSync('ip', ['netns', 'add', ns])
    execFileSync('ip', ['-n', ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'])
    await sh(ns, undefined, 'ip link set lo up', 'ip link set eth0 up', 'ip link set eth1 up', 'ip addr add 198.51.100.250/24 dev eth0', 'ip addr add 198.51.100.251/24 dev eth1')
    execFileSync('ip', ['netns', 'exec', ns, process.execPath, BIN, 'engine', 'start', '--store', store, '--detach', '--log-file', join(dir, 'engine.log')], {stdio: 'ignore'})
    const cliMs: number[] = []
    const commitToAppliedMs: number[] = []
    const loadMs: number[] = []
    const swapMs: number[] = []
    const runs = QUICK ? 3 : 7
    for (let i = 0; i < runs; i++) {
      const before = (await controlRequest(socket, 'status')) as RuntimeStatus
      const t0 = performance.now()
      const result = spawnSync(process.execPath, [BIN, 'lookup-record', 'new', '--store', store, '--customer-address', `10.200.0.${i + 1}`, '--virtual-subnet-id', '4096', '--mac-address', `0A00000000${(i + 1).toString(16).padStart(2, '0')}`, '--provider-address', '198.51.100.1', '--rule', 'TranslationMethodEncap'], {stdio: 'ignore'})
      if (result.status !== 0) throw new Error('lookup-record new failed')
      const t1 = performance.now()
      const applied = await until(async () => {
        const s = (await controlRequest(socket, 'status')) as RuntimeStatus
        return s.revision > before.revision ? s : undefined
      }, 30_000)
      cliMs.push(t1 - t0)
      // appliedAt is the engine's clock (epoch ms); the CLI's exit is ours: compare on one clock.
      commitToAppliedMs.push(applied.lastApply.appliedAt - (performance.timeOrigin + t1))
      loadMs.push(applied.lastApply.loadMs)
      swapMs.push(applied.lastApply.swapMs)
    }
    const stalls: number[] = []
    for (let i = 0; i < (QUICK ? 2 : 4); i++) {
      const writer = spawn(process.execPath, [BIN, 'lookup-record', 'new', '--store', store, '--customer-address', `10.201.0.${i + 1}`, '--virtual-subnet-id', '4096', '--mac-address', `0B00000000${(i + 1).toString(16).padStart(2, '0')}`, '--provider-address', '198.51.100.1', '--rule', 'TranslationMethodEncap'], {stdio: 'ignore'})
      const done = new Promise((r) => writer.on('exit', r))
      let worst = 0
      let finished = false
      void done.then(() => setTimeout(() => (finished = true), 3000))
      while (!finished) {
        const t = performance.now()
        await controlRequest(socket, 'status', {timeoutMs: 30_000})
        worst = Math.max(worst, performance.now() - t)
      }
      stalls.push(worst)
    }
    return {
      records: RECORDS,
      cliMs,
      commitToAppliedMs,
      loadMs,
      swapMs,
      stallMs: median(stalls),
    }
  } finally {
    try {
      await controlRequest(socket, 'stop', {timeoutMs: 30_000})
    } catch {
      // not started
    }
    spawnSync('ip', ['netns', 'del', ns])
    rmSync(dir, {recursive: true, force: true})
  }
}

// ---- 2. hnv vs the kernel's vxlan, VM to VM across hosts, alternating ----

interface RunFigures {
  pingP50Ms: number
  pingP99Ms: number
  /** The same ping after the throughput tests: engines whose code has been optimised by traffic. */
  pingWarmP50Ms: number
  pingWarmP99Ms: number
  tcp1Gbps: number
  tcp1Retransmits: number
  tcp4Gbps: number
  udp64Pps: number
  /** CPU seconds of the engine processes per GB received by iperf3 over the TCP tests (A only). */
  engineCpuSecondsPerGB: number | null
}

interface Path {
  from: string
  to: string
  target: string
  /** Engine processes whose CPU time is counted (none for the kernel's overlay). */
  pids: number[]
}

function cpuSeconds(pids: number[]): number {
  let ticks = 0
  for (const pid of pids) {
    // Fields after the parenthesised command: utime and stime are fields 14 and 15 (proc(5)).
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    ticks += Number(fields[11]) + Number(fields[12])
  }
  return ticks / CLOCK_TICKS
}

const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100

interface IperfEnd {
  end: {
    sum_received?: {bits_per_second: number; bytes: number}
    sum_sent?: {retransmits?: number}
    sum?: {packets: number; lost_packets: number; seconds: number; bytes: number}
  }
  error?: string
}

async function iperf(path: Path, args: string[]): Promise<IperfEnd> {
  const server = spawn('ip', ['netns', 'exec', path.to, 'iperf3', '-s', '-1'], {stdio: 'ignore'})
  try {
    await new Promise((r) => setTimeout(r, 300))
    const out = await run('ip', ['netns', 'exec', path.from, 'iperf3', '-c', path.target, '-t', String(IPERF_SECONDS), '-J', ...args])
    const report = JSON.parse(out) as IperfEnd
    if (report.error) throw new Error(`iperf3 ${args.join(' ')}: ${report.error}`)
    return report
  } finally {
    server.kill()
    await new Promise((r) => setTimeout(r, 200))
  }
}

async function measure(path: Path): Promise<RunFigures> {
  const result = await ping(path.from, path.target, {count: PINGS, intervalS: 0.005, waitS: 1})
  if (result.received < PINGS * 0.9) throw new Error(`ping ${path.from} -> ${path.target}: ${result.received}/${result.transmitted}`)
  const cpu0 = cpuSeconds(path.pids)
  const tcp1 = await iperf(path, [])
  const tcp4 = await iperf(path, ['-P', '4'])
  const cpu1 = cpuSeconds(path.pids)
  const udp = await iperf(path, ['-u', '-l', '64', '-b', '0'])
  const warm = await ping(path.from, path.target, {count: PINGS, intervalS: 0.005, waitS: 1})
  const bytes = (tcp1.end.sum_received?.bytes ?? 0) + (tcp4.end.sum_received?.bytes ?? 0)
  // iperf3's UDP summary (client side, with the server's loss figures): what arrived.
  const u = udp.end.sum!
  return {
    pingP50Ms: median(result.rttMs),
    pingP99Ms: percentile(result.rttMs, 99),
    pingWarmP50Ms: median(warm.rttMs),
    pingWarmP99Ms: percentile(warm.rttMs, 99),
    tcp1Gbps: tcp1.end.sum_received!.bits_per_second / 1e9,
    tcp1Retransmits: tcp1.end.sum_sent?.retransmits ?? 0,
    tcp4Gbps: tcp4.end.sum_received!.bits_per_second / 1e9,
    udp64Pps: (u.packets - u.lost_packets) / u.seconds,
    engineCpuSecondsPerGB: path.pids.length === 0 ? null : (cpu1 - cpu0) / (bytes / 1e9),
  }
}

/** Run A: two hosts with hnv's engines, one VM each (Blue1, Blue2 of reference/hnv.md §6). */
async function hnvRun(index: number): Promise<RunFigures> {
  const spec = classicSpec()
  spec.vms = spec.vms.filter((vm) => vm.name.startsWith('Blue'))
  const topology = Topology.plan(spec, `${PREFIX}-a${index}`)
  try {
    await topology.up({engineArgs: !OFFLOAD ? ['--no-offload'] : KERNEL_GSO ? [] : ['--no-kernel-gso']})
    const pids = topology.hosts.map((h) => h.pid!)
    return await measure({from: topology.vm('Blue1').ns, to: topology.vm('Blue2').ns, target: '10.0.0.7', pids})
  } finally {
    const problems = await topology.down()
    if (problems.length > 0) console.error(problems.join('\n'))
  }
}

/** Run B: the same layout with the kernel doing the overlay: a bridge and a vxlan device (VNI 5001) per host. */
async function vxlanRun(index: number): Promise<RunFigures> {
  const p = `${PREFIX}-b${index}`
  const hosts = [`${p}-host1`, `${p}-host2`]
  const vms = [`${p}-blue1`, `${p}-blue2`]
  const pas = ['198.51.100.11', '198.51.100.22']
  const cas = ['10.0.0.5', '10.0.0.7']
  try {
    for (const ns of [...hosts, ...vms]) execFileSync('ip', ['netns', 'add', ns])
    execFileSync('ip', ['link', 'add', 'eth0', 'netns', hosts[0], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', hosts[1]])
    for (let i = 0; i < 2; i++) {
      execFileSync('ip', ['link', 'add', 'vm', 'netns', hosts[i], 'type', 'veth', 'peer', 'name', 'eth0', 'netns', vms[i]])
      await sh(hosts[i], undefined,
        'ip link set lo up', 'ip link set eth0 mtu 1500 up', `ip addr add ${pas[i]}/24 dev eth0`,
        `ip link add vx0 type vxlan id 5001 local ${pas[i]} remote ${pas[1 - i]} dstport 4789`,
        'ip link add br0 type bridge', 'ip link set vx0 master br0', 'ip link set vm master br0',
        'ip link set vx0 up', 'ip link set vm up', 'ip link set br0 up')
      // VXLAN over IPv4 costs 50 bytes: the VM MTU is 1450 (hnv's NVGRE: 1458).
      await sh(vms[i], undefined, 'ip link set lo up', 'ip link set eth0 mtu 1450 up', `ip addr add ${cas[i]}/24 dev eth0`)
    }
    return await measure({from: vms[0], to: vms[1], target: cas[1], pids: []})
  } finally {
    for (const ns of [...hosts, ...vms]) spawnSync('ip', ['netns', 'del', ns])
  }
}

interface Spread {
  median: number
  min: number
  max: number
  all: number[]
}

function spread(values: number[]): Spread {
  return {median: median(values), min: Math.min(...values), max: Math.max(...values), all: values}
}

const FIGURES = ['pingP50Ms', 'pingP99Ms', 'pingWarmP50Ms', 'pingWarmP99Ms', 'tcp1Gbps', 'tcp4Gbps', 'udp64Pps', 'engineCpuSecondsPerGB'] as const
type Figure = (typeof FIGURES)[number]

function summarise(runs: RunFigures[]): Partial<Record<Figure, Spread>> {
  const out: Partial<Record<Figure, Spread>> = {}
  for (const f of FIGURES) {
    const values = runs.map((r) => r[f]).filter((v): v is number => v !== null)
    if (values.length > 0) out[f] = spread(values)
  }
  return out
}

if (process.getuid?.() !== 0) {
  console.error('bench/overlay.ts needs root (network namespaces, TAPs, raw sockets)')
  process.exit(1)
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${execFileSync('uname', ['-r'], {encoding: 'utf8'}).trim()}, Node ${process.version}`
const policy = SKIP_POLICY ? null : await policyLatency()
const a: RunFigures[] = []
const b: RunFigures[] = []
for (let i = 0; i < RUNS; i++) {
  a.push(await hnvRun(i))
  console.log(`A${i + 1} hnv:   ${JSON.stringify(a[i])}`)
  b.push(await vxlanRun(i))
  console.log(`B${i + 1} vxlan: ${JSON.stringify(b[i])}`)
}
const hnv = summarise(a)
const vxlan = summarise(b)
const ratio = (f: Figure): number | null => (hnv[f] && vxlan[f] ? hnv[f].median / vxlan[f].median : null)
const pairRatios = (f: Figure): number[] => a.map((r, i) => (r[f] ?? NaN) / (b[i][f] ?? NaN))
const ratios = {
  pingP50: ratio('pingP50Ms'),
  pingP99: ratio('pingP99Ms'),
  pingWarmP50: ratio('pingWarmP50Ms'),
  tcp1: ratio('tcp1Gbps'),
  tcp4: ratio('tcp4Gbps'),
  udp64: ratio('udp64Pps'),
  perPair: {pingP50: pairRatios('pingP50Ms'), tcp1: pairRatios('tcp1Gbps'), tcp4: pairRatios('tcp4Gbps'), udp64: pairRatios('udp64Pps')},
}
const load = execFileSync('cat', ['/proc/loadavg'], {encoding: 'utf8'}).trim()
const results = {machine, date: new Date().toISOString(), loadavgAtEnd: load, quick: QUICK, offload: OFFLOAD, runsEach: RUNS, iperfSeconds: IPERF_SECONDS, pings: PINGS, policy, hnv, vxlan, ratios, runs: {hnv: a, vxlan: b}}
const m = (values: number[]) => median(values).toFixed(0)
const fmt = (s: Spread | undefined, digits: number): string => (s === undefined ? 'n/a' : `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`)
const x = (r: number | null): string => (r === null ? '' : ` = ${r.toFixed(2)}x`)
console.log(`machine: ${machine}; load average at the end: ${load}`)
if (policy) console.log(`policy change -> in force, ${RECORDS / 1000}k records: ${m(policy.commitToAppliedMs)} ms after the CLI returns (load ${m(policy.loadMs)} + swap ${median(policy.swapMs).toFixed(1)} ms; the CLI itself ${m(policy.cliMs)} ms); forwarding stalls up to ${policy.stallMs.toFixed(0)} ms meanwhile`)
console.log(`A = hnv NVGRE (offloads ${OFFLOAD ? 'on' : 'off'}), B = kernel vxlan; ${RUNS} runs each, alternating; median (min-max), A/B`)
console.log(`ping RTT p50 ms:         A ${fmt(hnv.pingP50Ms, 3)}  B ${fmt(vxlan.pingP50Ms, 3)}${x(ratios.pingP50)}`)
console.log(`ping RTT p99 ms:         A ${fmt(hnv.pingP99Ms, 3)}  B ${fmt(vxlan.pingP99Ms, 3)}${x(ratios.pingP99)}`)
console.log(`ping after the tests p50: A ${fmt(hnv.pingWarmP50Ms, 3)}  B ${fmt(vxlan.pingWarmP50Ms, 3)}${x(ratios.pingWarmP50)} (p99 A ${fmt(hnv.pingWarmP99Ms, 3)}, B ${fmt(vxlan.pingWarmP99Ms, 3)})`)
console.log(`TCP 1 stream Gbit/s:     A ${fmt(hnv.tcp1Gbps, 2)}  B ${fmt(vxlan.tcp1Gbps, 2)}${x(ratios.tcp1)}`)
console.log(`TCP 4 streams Gbit/s:    A ${fmt(hnv.tcp4Gbps, 2)}  B ${fmt(vxlan.tcp4Gbps, 2)}${x(ratios.tcp4)}`)
console.log(`UDP 64 B received pkt/s: A ${fmt(hnv.udp64Pps, 0)}  B ${fmt(vxlan.udp64Pps, 0)}${x(ratios.udp64)}`)
console.log(`engine CPU s per GB (TCP tests): A ${fmt(hnv.engineCpuSecondsPerGB, 2)}`)
mkdirSync(join(ROOT, 'bench/results'), {recursive: true})
// The offloads-off run is a comparison, kept beside the main figures rather than over them.
writeFileSync(join(ROOT, `bench/results/${!OFFLOAD ? 'overlay-no-offload' : KERNEL_GSO ? 'overlay' : 'overlay-no-kernel-gso'}.json`), JSON.stringify(results, null, 2) + '\n')
