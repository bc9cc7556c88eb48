// `hnv demo`: reference/hnv.md §6 built for real (topology.ts), then shown: the policy each host holds,
// Blue1 -> Blue2 and Red1 -> Red2 pinging across hosts over NVGRE, Blue unable to reach Red although both
// use 10.0.0.7, and the engines' counters. Everything is torn down at the end, on failure and on Ctrl-C,
// unless `keep` asks to leave it up for exploring.
import type {Result} from '../cli/output.js'
import {EngineError} from '../control/errors.js'
import {statusSections} from '../control/present.js'
import {macToColon} from '../net/mac.js'
import {KINDS} from '../policy/kinds.js'
import {PolicyService} from '../policy/service.js'
import {PolicyStore} from '../policy/store.js'
import type {RuntimeStatus} from '../control/protocol.js'
import {Topology, classicSpec, ping, run, sh, type HostState} from './topology.js'

/** Namespaces of demos start with this; `hnv demo --down` removes kept ones. */
export const DEMO_PREFIX = 'hnvdemo'

/** How the demo talks: a headed section with a table, or a line. The command maps these to the output kit. */
export interface DemoReporter {
  section(title: string, result: Result): void
  line(text: string): void
}

export type DemoCheck = {
  Check: string
  Expected: string
  Observed: string
  Passed: boolean
}

export interface DemoOptions {
  keep?: boolean
  signal?: AbortSignal
  report: DemoReporter
}

export async function runDemo(options: DemoOptions): Promise<{checks: DemoCheck[]; topology: Topology}> {
  const {report, signal} = options
  const topology = Topology.plan(classicSpec(), `${DEMO_PREFIX}-${process.pid}`)
  let keep = false
  try {
    report.line('Building reference/hnv.md §6 in network namespaces: two hosts (PAs 198.51.100.11 and .22), two tenants sharing 10.0.0.0/24')
    await topology.up({signal, progress: (line) => report.line(`  ${line}`)})
    showPolicy(topology, report)
    const checks: DemoCheck[] = []
    const [host1, host2] = topology.hosts

    for (const [from, to] of [['Blue1', 'Blue2'], ['Red1', 'Red2']] as const) {
      const target = topology.vm(to).spec.addresses[0]
      const result = await ping(topology.vm(from).ns, target, {count: 3, signal})
      const observed = `${result.received}/${result.transmitted} replies${result.rttAvgMs === null ? '' : `, avg ${result.rttAvgMs.toFixed(2)} ms`}`
      report.line(`ping ${from} -> ${to} (${target}, on ${topology.vm(to).host.spec.name}): ${observed}`)
      checks.push({Check: `${from} -> ${to} across hosts`, Expected: '3/3 replies', Observed: observed, Passed: result.received === 3})
    }

    // Blue1 and Red1 both asked for 10.0.0.7: each got its own tenant's MAC, from its own host's ARP proxy.
    for (const [vm, mac] of [['Blue1', '060600000007'], ['Red1', '080800000007']] as const) {
      const state = topology.vm(vm)
      const neighbour = await run('ip', ['-n', state.ns, 'neigh', 'show', '10.0.0.7', 'dev', state.tap], signal)
      const seen = /lladdr ([0-9a-f:]+)/.exec(neighbour)?.[1] ?? 'none'
      checks.push({Check: `${vm} resolves 10.0.0.7 to its own tenant`, Expected: macToColon(mac), Observed: seen, Passed: seen === macToColon(mac)})
    }

    // Blue1 forces Red2's MAC for 10.0.0.7: the engine must not carry it into Red's subnet.
    const blue1 = topology.vm('Blue1')
    const red2Port = (s: RuntimeStatus) => s.ports.find((p) => p.vmName === 'Red2')?.txPackets ?? 0
    const before = red2Port(await topology.status(host2))
    await sh(blue1.ns, signal, `ip neigh replace 10.0.0.7 lladdr ${macToColon('080800000007')} dev ${blue1.tap} nud permanent`)
    const forced = await ping(blue1.ns, '10.0.0.7', {count: 3, signal})
    await sh(blue1.ns, signal, `ip neigh del 10.0.0.7 dev ${blue1.tap}`)
    const delivered = red2Port(await topology.status(host2)) - before
    const observed = `${forced.received}/${forced.transmitted} replies, ${delivered} frames delivered to Red2`
    report.line(`ping Blue1 -> 10.0.0.7 with Red2's MAC forced into Blue1's neighbour table: ${observed}`)
    checks.push({Check: 'Blue1 -> Red2 (Red2\'s MAC forced)', Expected: '0 replies, 0 frames to Red2', Observed: observed, Passed: forced.received === 0 && delivered === 0})

    for (const host of [host1, host2]) showCounters(host, await topology.status(host), report)

    if (options.keep) {
      keep = true
      showExplore(topology, report)
    }
    return {checks, topology}
  } catch (error) {
    if (signal?.aborted) throw new EngineError('demo interrupted; everything it made has been removed')
    throw error
  } finally {
    if (!keep) {
      const problems = await topology.down()
      if (problems.length > 0) report.line(`teardown could not remove everything: ${problems.join('; ')}`)
      else report.line(`removed namespaces ${topology.prefix}-*, engines and stores`)
    }
  }
}

function showPolicy(topology: Topology, report: DemoReporter): void {
  const [host1] = topology.hosts
  const kind = (name: string) => KINDS.find((k) => k.exportName === name)!
  const table = (host: HostState, name: string): Result => {
    const store = PolicyStore.open(host.store)
    try {
      const spec = kind(name)
      return {rows: new PolicyService(store).get(spec, {}).objects, columns: spec.properties.map((p) => p.name)}
    } finally {
      store.close()
    }
  }
  report.section(`Lookup records (the same on both hosts): hnv lookup-record get --store ${host1.store}`, table(host1, 'LookupRecords'))
  report.section('Customer routes (the same on both hosts)', table(host1, 'CustomerRoutes'))
  for (const host of topology.hosts) {
    report.section(`${host.spec.name}: provider address`, table(host, 'ProviderAddresses'))
    report.section(`${host.spec.name}: VM network adapters (the engine makes one TAP each)`, table(host, 'VMNetworkAdapters'))
  }
}

function showCounters(host: HostState, status: RuntimeStatus, report: DemoReporter): void {
  for (const section of statusSections(status)) {
    if (section.title === 'Engine') continue
    report.section(`${host.spec.name} engine (pid ${status.pid}, revision ${status.revision}): ${section.title.toLowerCase()}`, section.result)
  }
}

function showExplore(topology: Topology, report: DemoReporter): void {
  const lines = [
    'The demo is left up. To explore it:',
    ...topology.vms.map((vm) => {
      const peer = topology.vms.find((other) => other.spec.vsid === vm.spec.vsid && other !== vm)
      return `  ip netns exec ${vm.ns} ping ${peer?.spec.addresses[0] ?? '10.0.0.1'}    # from ${vm.spec.name}${peer ? ` to ${peer.spec.name}` : ''}`
    }),
    ...topology.hosts.map((host) => `  hnv engine status --store ${host.store}    # ${host.spec.name}'s engine`),
    `  hnv lookup-record get --store ${topology.hosts[0].store}`,
    `  ip netns exec ${topology.hosts[0].ns} tcpdump -ni eth0 proto gre    # NVGRE on host1's physical link`,
    '  hnv demo --down    # remove it',
  ]
  for (const line of lines) report.line(line)
}
