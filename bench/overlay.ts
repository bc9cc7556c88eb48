// The engine's speed through real kernels, beside the kernel's own overlay in the same run:
//  1. policy change -> in force, with 100k lookup records in the store (a CLI command, then the engine's
//     revision poll, read, compile and swap), and how long forwarding stalls meanwhile;
//  2. ping RTT (p50) VM -> VM across hosts, hnv's NVGRE vs the kernel's VXLAN (same namespaces layout);
//  3. iperf3 TCP VM -> VM across hosts, likewise.
// Needs root (namespaces, TAPs), iperf3 and the built CLI (npm run build). Everything lives in namespaces
// hnvb-<pid>-* removed at the end, also on failure. Prints figures; writes bench/results/overlay.json.
//   sudo npx tsx bench/overlay.ts [--quick]
import {execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs'
import {cpus, tmpdir} from 'node:os'
import {join, resolve} from 'node:path'

import {Topology, classicSpec, ping, run, sh} from '../src/lib/demo/topology.js'
import {controlRequest} from '../src/lib/control/client.js'
import {controlSocketPath} from '../src/lib/control/protocol.js'
import type {RuntimeStatus} from '../src/lib/control/protocol.js'

const ROOT = resolve(import.meta.dirname, '..')
const BIN = join(ROOT, 'bin/run.js')
const QUICK = process.argv.includes('--quick')
const PREFIX = `hnvb-${process.pid}`
const RECORDS = 100_000
const IPERF_SECONDS = QUICK ? 3 : 10
const PINGS = QUICK ? 30 : 200

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

// ---- 2 and 3. hnv vs the kernel's VXLAN, VM to VM across hosts ----

interface PathFigures {
  pingP50Ms: number
  pingP90Ms: number
  iperf3Gbps: number
  iperf3Retransmits: number
}

async function measurePath(from: string, to: string, target: string): Promise<PathFigures> {
  const result = await ping(from, target, {count: PINGS, intervalS: 0.01, waitS: 1})
  if (result.received < PINGS * 0.9) throw new Error(`ping ${from} -> ${target}: ${result.received}/${result.transmitted}`)
  const server = spawn('ip', ['netns', 'exec', to, 'iperf3', '-s', '-1'], {stdio: 'ignore'})
  try {
    await new Promise((r) => setTimeout(r, 500))
    const out = await run('ip', ['netns', 'exec', from, 'iperf3', '-c', target, '-t', String(IPERF_SECONDS), '-J'])
    const report = JSON.parse(out) as {end: {sum_received: {bits_per_second: number}; sum_sent: {retransmits: number}}}
    return {
      pingP50Ms: median(result.rttMs),
      pingP90Ms: percentile(result.rttMs, 90),
      iperf3Gbps: report.end.sum_received.bits_per_second / 1e9,
      iperf3Retransmits: report.end.sum_sent.retransmits,
    }
  } finally {
    server.kill()
  }
}

async function hnvOverlay(): Promise<PathFigures> {
  const topology = Topology.plan(classicSpec(), `${PREFIX}-hnv`)
  try {
    await topology.up()
    return await measurePath(topology.vm('Blue1').ns, topology.vm('Blue2').ns, '10.0.0.7')
  } finally {
    await topology.down()
  }
}

/** The same layout with the kernel doing the overlay: a bridge and a VXLAN device (VNI 5001) per host. */
async function vxlanOverlay(): Promise<PathFigures> {
  const p = `${PREFIX}-vx`
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
        'ip link set lo up', 'ip link set eth0 up', `ip addr add ${pas[i]}/24 dev eth0`,
        `ip link add vx0 type vxlan id 5001 local ${pas[i]} remote ${pas[1 - i]} dstport 4789`,
        'ip link add br0 type bridge', 'ip link set vx0 master br0', 'ip link set vm master br0',
        'ip link set vx0 up', 'ip link set vm up', 'ip link set br0 up')
      // VXLAN over IPv4 costs 50 bytes: the VM MTU is 1450 (hnv's NVGRE: 1458).
      await sh(vms[i], undefined, 'ip link set lo up', 'ip link set eth0 mtu 1450 up', `ip addr add ${cas[i]}/24 dev eth0`)
    }
    return await measurePath(vms[0], vms[1], cas[1])
  } finally {
    for (const ns of [...hosts, ...vms]) spawnSync('ip', ['netns', 'del', ns])
  }
}

if (process.getuid?.() !== 0) {
  console.error('bench/overlay.ts needs root (network namespaces, TAPs, raw sockets)')
  process.exit(1)
}
const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`
const policy = await policyLatency()
const hnv = await hnvOverlay()
const vxlan = await vxlanOverlay()
const results = {machine, quick: QUICK, policy, hnv, vxlan, ratios: {pingP50: hnv.pingP50Ms / vxlan.pingP50Ms, iperf3: hnv.iperf3Gbps / vxlan.iperf3Gbps}}
const m = (values: number[]) => median(values).toFixed(0)
console.log(`machine: ${machine}`)
console.log(`policy change -> in force, ${RECORDS / 1000}k records: ${m(policy.commitToAppliedMs)} ms after the CLI returns (load ${m(policy.loadMs)} + swap ${median(policy.swapMs).toFixed(1)} ms; the CLI itself ${m(policy.cliMs)} ms); forwarding stalls up to ${policy.stallMs.toFixed(0)} ms meanwhile`)
console.log(`ping RTT p50 VM->VM across hosts: hnv ${hnv.pingP50Ms.toFixed(3)} ms, kernel vxlan ${vxlan.pingP50Ms.toFixed(3)} ms (${results.ratios.pingP50.toFixed(2)}x)`)
console.log(`iperf3 TCP VM->VM across hosts (${IPERF_SECONDS} s): hnv ${hnv.iperf3Gbps.toFixed(2)} Gbit/s (${hnv.iperf3Retransmits} retransmits), kernel vxlan ${vxlan.iperf3Gbps.toFixed(2)} Gbit/s (${(results.ratios.iperf3 * 100).toFixed(0)}%)`)
mkdirSync(join(ROOT, 'bench/results'), {recursive: true})
writeFileSync(join(ROOT, 'bench/results/overlay.json'), JSON.stringify(results, null, 2) + '\n')
