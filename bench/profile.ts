// Where the engine's time goes under load (BENCHMARKS.md's "what limits it"): builds run A of
// bench/overlay.ts (two hosts, hnv's engines, Blue1 -> Blue2), drives iperf3 TCP through it and reports
// the engines' user and system CPU seconds, batch sizes from the engines' own counters, and optionally the
// syscalls of the sending host's engine (`strace -c -f`) or a V8 CPU profile (`--cpu-prof`, the engines
// then run with bench/cpu-prof-hook.mjs and write <pid>.cpuprofile files into bench/results/profile/ when
// they stop).
//   sudo npx tsx bench/profile.ts [--no-offload] [--strace] [--cpu-prof] [--udp] [--streams N] [--seconds N] [--nice N]
import {execFileSync, spawn} from 'node:child_process'
import {mkdirSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {Topology, classicSpec, run} from '../src/lib/demo/topology.js'

const PREFIX = `hnvb-${process.pid}-b6p`
const OFFLOAD = !process.argv.includes('--no-offload')
const STRACE = process.argv.includes('--strace')
const UDP = process.argv.includes('--udp')
const STREAMS = Number(argValue('--streams') ?? 1)
const SECONDS = Number(argValue('--seconds') ?? 5)
const TICKS = Number(execFileSync('getconf', ['CLK_TCK'], {encoding: 'utf8'}).trim()) || 100

function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(name)
  return i < 0 ? undefined : process.argv[i + 1]
}

function cpu(pid: number): {user: number; system: number} {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return {user: Number(f[11]) / TICKS, system: Number(f[12]) / TICKS}
}

if (process.getuid?.() !== 0) {
  console.error('bench/profile.ts needs root')
  process.exit(1)
}
if (process.argv.includes('--cpu-prof')) {
  // The engines (children of `hnv engine start --detach`) inherit it and write a profile when they stop.
  const dir = join(import.meta.dirname, 'results/profile')
  mkdirSync(dir, {recursive: true})
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --import ${join(import.meta.dirname, 'cpu-prof-hook.mjs')}`
  process.env.HNV_CPU_PROF_DIR = dir
}
const spec = classicSpec()
spec.vms = spec.vms.filter((vm) => vm.name.startsWith('Blue'))
const topology = Topology.plan(spec, PREFIX)
try {
  await topology.up({engineArgs: OFFLOAD ? [] : ['--no-offload']})
  const [h1, h2] = topology.hosts
  // --nice N: run the engines at that niceness (a data plane daemon's Nice= in its unit), to see how much
  // of the gap is waiting for a CPU behind other processes.
  const nice = argValue('--nice')
  if (nice !== undefined) for (const h of topology.hosts) execFileSync('renice', ['-n', nice, '-p', String(h.pid)], {stdio: 'ignore'})
  const server = spawn('ip', ['netns', 'exec', topology.vm('Blue2').ns, 'iperf3', '-s', '-1'], {stdio: 'ignore'})
  await new Promise((r) => setTimeout(r, 300))
  const before = [cpu(h1.pid!), cpu(h2.pid!)]
  const s1 = await topology.status(h1)
  const strace = STRACE ? spawn('strace', ['-c', '-f', '-p', String(h1.pid)], {stdio: ['ignore', 'ignore', 'pipe']}) : null
  let straceOut = ''
  strace?.stderr.on('data', (c: Buffer) => (straceOut += c.toString()))
  // Mid-transfer: the sender's TCP state (cwnd, rtt, what limits it) and the receiver's.
  const ssTimer = setTimeout(() => {
    void run('ip', ['netns', 'exec', topology.vm('Blue1').ns, 'ss', '-tin', 'dport', '5201']).then((o) => console.log(`sender ss: ${o.replace(/\s+/g, ' ').slice(0, 2000)}`))
    // The GRE raw sockets' queues (Recv-Q: what waits for the engine's recvmmsg) on both hosts.
    for (const h of topology.hosts) void run('ip', ['netns', 'exec', h.ns, 'ss', '-w', '-a', '-n', '-m']).then((o) => console.log(`${h.spec.name} raw sockets: ${o.replace(/\s+/g, ' ')}`))
    void run('ip', ['netns', 'exec', topology.vm('Blue2').ns, 'ss', '-tin', 'sport', '5201']).then((o) => console.log(`receiver ss: ${o.replace(/\s+/g, ' ').slice(0, 2000)}`))
  }, (SECONDS * 1000) / 2)
  const out = await run('ip', ['netns', 'exec', topology.vm('Blue1').ns, 'iperf3', '-c', '10.0.0.7', '-t', String(SECONDS), '-J', '-P', String(STREAMS), ...(UDP ? ['-u', '-l', '64', '-b', '0'] : [])])
  clearTimeout(ssTimer)
  if (strace) {
    strace.kill('SIGINT')
    await new Promise((r) => strace.on('exit', r))
  }
  server.kill()
  const after = [cpu(h1.pid!), cpu(h2.pid!)]
  const s2 = await topology.status(h1)
  const r2 = await topology.status(h2)
  const report = JSON.parse(out)
  const gbps = UDP ? null : report.end.sum_received.bits_per_second / 1e9
  console.log(UDP ? `UDP 64 B: ${JSON.stringify(report.end.sum)}` : `TCP ${STREAMS} stream(s), offload ${OFFLOAD ? 'on' : 'off'}: ${gbps!.toFixed(2)} Gbit/s, retransmits ${report.end.sum_sent.retransmits}`)
  for (const [i, h] of topology.hosts.entries()) {
    console.log(`${h.spec.name} engine: user ${(after[i].user - before[i].user).toFixed(2)} s, system ${(after[i].system - before[i].system).toFixed(2)} s over ${SECONDS} s`)
  }
  const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(b).map((k) => [k, b[k] - (a[k] ?? 0)]))
  const p1 = s1.ports[0]
  const p2 = s2.ports[0]
  console.log(`host1 port ${p2.name} features ${JSON.stringify(p2.features)} io ${JSON.stringify(diff(p1.io, p2.io))}`)
  console.log(`host1 underlay io ${JSON.stringify(diff(s1.providerAddresses[0].io, s2.providerAddresses[0].io))}`)
  console.log(`host1 drops ${JSON.stringify(Object.fromEntries(Object.entries(s2.drops).filter(([, v]) => v > 0)))}`)
  console.log(`host1 offload ${JSON.stringify(s2.offload)}`)
  console.log(`host2 port io ${JSON.stringify(r2.ports[0].io)} underlay io ${JSON.stringify(r2.providerAddresses[0].io)}`)
  console.log(`host2 offload ${JSON.stringify(r2.offload)} drops ${JSON.stringify(Object.fromEntries(Object.entries(r2.drops).filter(([, v]) => v > 0)))}`)
  if (strace) console.log(straceOut.split('\n').filter((l) => !l.startsWith('strace:')).slice(0, 16).join('\n'))
} finally {
  const problems = await topology.down()
  if (problems.length > 0) console.error(problems.join('\n'))
}
