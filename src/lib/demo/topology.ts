// Two HNV hosts and their VMs in network namespaces, built with the real pieces: each host is a
// namespace with one physical interface (a veth to the other host) holding its provider addresses, its
// own policy store (imported through the policy service) and its own engine process (`hnv engine start
// --detach` run inside the namespace); each VM is a namespace that receives the TAP the engine created
// for its adapter, with the VM's MAC (set by the engine) and CAs (set here), gateway the subnet's .1.
//
// `hnv demo` builds the classic topology of reference/hnv.md §6 with it; the integration tests build
// variants (a second subnet, IPv6 CAs, IPv6 PAs). Everything carries the caller's prefix and `down()`
// removes all of it, whatever state `up()` reached.
import {execFile, spawn} from 'node:child_process'
import {mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {controlRequest} from '../control/client.js'
import {controlSocketPath} from '../control/protocol.js'
import {parseIp, parsePrefix} from '../net/ip.js'
import {macToColon} from '../net/mac.js'
import {PolicyService, type PolicyDocument} from '../policy/service.js'
import {PolicyStore} from '../policy/store.js'
import {GATEWAY_MAC, GATEWAY_RECORD_PA, gatewayOf} from '../policy/gateway.js'
import type {RuntimeStatus} from '../control/protocol.js'

const BIN = fileURLToPath(new URL('../../../bin/run.js', import.meta.url))

/** Blue and Red of reference/hnv.md §6. */
export const BLUE_RDID = '{11111111-2222-3333-4444-000000005001}'
export const RED_RDID = '{11111111-2222-3333-4444-000000006001}'

export interface HostSpec {
  /** Short name: host1. The namespace is <prefix>-<name>. */
  name: string
  /** Provider addresses of the host's physical interface; the first of `paFamily` is the one records point to. */
  providerAddresses: string[]
}

export interface SubnetSpec {
  vsid: number
  rdid: string
  /** Its prefixes (one per address family at most); the first host address of each is the gateway. */
  prefixes: string[]
}

export interface VmSpec {
  /** VMName; the namespace is <prefix>-<lowercase name>, the TAP hnv-<lowercase name>. */
  name: string
  host: string
  vsid: number
  mac: string
  /** CAs, one per prefix of its subnet (no length: it is the subnet's). */
  addresses: string[]
  /** Its adapter is marked -Dhcp and its namespace is left unaddressed (the VM runs a DHCP client). */
  dhcp?: boolean
  /** Its lookup record is an L2Only one (CA 0.0.0.0): other hosts learn its addresses from its ARP replies. */
  l2Only?: boolean
  /**
   * TranslationMethodNat: one PA per address (same order) instead of its host's; a provider address of its
   * host in the store, never assigned to the host's interface (the engine answers for it).
   */
  nat?: string[]
}

export interface TopologySpec {
  hosts: [HostSpec, HostSpec]
  subnets: SubnetSpec[]
  vms: VmSpec[]
  /** Which family of provider addresses the lookup records name (the underlay); default 4. */
  paFamily?: 4 | 6
  /** The engines' TAP MTU (`hnv engine start --tap-mtu`); default: the physical MTU minus the overhead. */
  tapMtu?: number
  /** Seconds before an unused Dynamic record is removed (`hnv engine start --dynamic-age`). */
  dynamicAge?: number
  /** HOST:PORT of each engine's Prometheus endpoint, inside its host's namespace (`hnv engine start --metrics`). */
  metrics?: string
}

/** reference/hnv.md §6 with PAs from 198.51.100.0/24. */
export function classicSpec(): TopologySpec {
  return {
    hosts: [
      {name: 'host1', providerAddresses: ['198.51.100.11']},
      {name: 'host2', providerAddresses: ['198.51.100.22']},
    ],
    subnets: [
      {vsid: 5001, rdid: BLUE_RDID, prefixes: ['10.0.0.0/24']},
      {vsid: 6001, rdid: RED_RDID, prefixes: ['10.0.0.0/24']},
    ],
    vms: [
      {name: 'Blue1', host: 'host1', vsid: 5001, mac: '060600000005', addresses: ['10.0.0.5']},
      {name: 'Blue2', host: 'host2', vsid: 5001, mac: '060600000007', addresses: ['10.0.0.7']},
      {name: 'Red1', host: 'host1', vsid: 6001, mac: '080800000005', addresses: ['10.0.0.5']},
      {name: 'Red2', host: 'host2', vsid: 6001, mac: '080800000007', addresses: ['10.0.0.7']},
    ],
  }
}

/** A running host: namespace, store, engine. */
export interface HostState {
  spec: HostSpec
  ns: string
  /** The physical interface in the host's namespace. */
  phys: string
  store: string
  socket: string
  log: string
  pid: number | null
  /** Its engine start was attempted: an interrupted start may still bring one up. */
  starting: boolean
}

export interface VmState {
  spec: VmSpec
  ns: string
  /** The TAP, as named in the store and seen inside the VM. */
  tap: string
  host: HostState
}

/** The physical interface of each host (a veth to the other). */
export const PHYS = 'eth0'

export class Topology {
  readonly hosts: HostState[]
  readonly vms: VmState[]
  private downDone = false

  private constructor(
    readonly spec: TopologySpec,
    readonly prefix: string,
    readonly dir: string,
  ) {
    this.hosts = spec.hosts.map((host) => {
      const store = join(dir, `${host.name}.db`)
      return {spec: host, ns: `${prefix}-${host.name}`, phys: PHYS, store, socket: controlSocketPath(store), log: join(dir, `${host.name}.log`), pid: null, starting: false}
    })
    this.vms = spec.vms.map((vm) => ({spec: vm, ns: `${prefix}-${vm.name.toLowerCase()}`, tap: tapName(vm.name), host: this.host(vm.host)}))
  }

  /** Plans a topology under `prefix` (namespaces <prefix>-*) with its stores in a new temporary directory. */
  static plan(spec: TopologySpec, prefix: string): Topology {
    const dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
    return new Topology(spec, prefix, dir)
  }

  host(name: string): HostState {
    const host = this.hosts.find((h) => h.spec.name === name)
    if (!host) throw new Error(`no host ${name} in the topology`)
    return host
  }

  vm(name: string): VmState {
    const vm = this.vms.find((v) => v.spec.name === name)
    if (!vm) throw new Error(`no VM ${name} in the topology`)
    return vm
  }

  get namespaces(): string[] {
    return [...this.hosts.map((h) => h.ns), ...this.vms.map((v) => v.ns)]
  }

  /** The policy document of one host: both tenants' records and routes, its own PAs and adapters. */
  policy(host: HostState): PolicyDocument {
    const family = this.spec.paFamily ?? 4
    const paOf = (name: string): string => {
      const pa = this.host(name).spec.providerAddresses.find((a) => parseIp(a).family === family)
      if (!pa) throw new Error(`host ${name} has no IPv${family} provider address`)
      return pa
    }
    const routes = []
    const records = []
    for (const subnet of this.spec.subnets) {
      for (const prefix of subnet.prefixes) {
        const v4 = parsePrefix(prefix).family === 4
        routes.push({RoutingDomainID: subnet.rdid, VirtualSubnetID: subnet.vsid, DestinationPrefix: prefix, NextHop: v4 ? '0.0.0.0' : '::', Metric: 255})
        records.push({CustomerAddress: gatewayOf(prefix), VirtualSubnetID: subnet.vsid, MACAddress: GATEWAY_MAC, ProviderAddress: GATEWAY_RECORD_PA, Rule: 'TranslationMethodEncap'})
      }
    }
    for (const vm of this.spec.vms) {
      if (vm.l2Only) {
        for (const family of new Set(vm.addresses.map((a) => parseIp(a).family))) {
          records.push({CustomerAddress: family === 4 ? '0.0.0.0' : '::', VirtualSubnetID: vm.vsid, MACAddress: vm.mac, ProviderAddress: paOf(vm.host), Rule: 'TranslationMethodEncap', VMName: vm.name, Type: 'L2Only'})
        }
        continue
      }
      vm.addresses.forEach((address, i) => {
        const nat = vm.nat?.[i]
        records.push({CustomerAddress: address, VirtualSubnetID: vm.vsid, MACAddress: vm.mac, ProviderAddress: nat ?? paOf(vm.host), Rule: nat ? 'TranslationMethodNat' : 'TranslationMethodEncap', VMName: vm.name})
      })
    }
    return {
      Version: 1,
      ProviderAddresses: [...host.spec.providerAddresses, ...this.spec.vms.filter((vm) => vm.host === host.spec.name).flatMap((vm) => vm.nat ?? [])].map((address) => ({
        ProviderAddress: address,
        InterfaceIndex: 2,
        PrefixLength: parseIp(address).family === 4 ? 24 : 64,
      })),
      CustomerRoutes: routes,
      LookupRecords: records,
      VMNetworkAdapters: this.vms
        .filter((vm) => vm.host === host)
        .map((vm) => ({VMName: vm.spec.name, StaticMacAddress: vm.spec.mac, VirtualSubnetId: vm.spec.vsid, InterfaceName: vm.tap, ...(vm.spec.dhcp ? {Dhcp: true} : {})})),
    }
  }

  /**
   * Builds it: namespaces, the physical link, each host's store and engine, then each VM's TAP moved into
   * its namespace and addressed. `engineArgs` go to each `hnv engine start` (e.g. --no-offload). On failure
   * the caller still calls down().
   */
  async up(options: {signal?: AbortSignal; progress?: (line: string) => void; fillStore?: (host: HostState) => void; engineArgs?: string[]} = {}): Promise<void> {
    const {signal, progress, fillStore} = options
    writeFileSync(join(this.dir, 'topology.json'), JSON.stringify(this.record(), null, 2))
    progress?.(`creating namespaces ${this.prefix}-*`)
    for (const ns of this.namespaces) await run('ip', ['netns', 'add', ns], signal)
    const [a, b] = this.hosts
    await run('ip', ['link', 'add', PHYS, 'netns', a.ns, 'type', 'veth', 'peer', 'name', PHYS, 'netns', b.ns], signal)
    for (const host of this.hosts) {
      await sh(host.ns, signal, 'ip link set lo up', `ip link set ${PHYS} up`)
      for (const address of host.spec.providerAddresses) {
        const v4 = parseIp(address).family === 4
        await run('ip', ['-n', host.ns, ...(v4 ? [] : ['-6']), 'addr', 'add', `${address}/${v4 ? 24 : 64}`, 'dev', PHYS, ...(v4 ? [] : ['nodad'])], signal)
      }
      // The caller may write the store itself (`hnv apply -f tenant.yaml --host <name>`) instead of policy().
      if (fillStore) fillStore(host)
      else importInto(host.store, this.policy(host))
    }
    for (const host of this.hosts) {
      progress?.(`${host.spec.name}: starting its engine (hnv engine start --store ${host.store} --detach, in namespace ${host.ns})`)
      host.starting = true
      // Not aborted midway: an engine half started would outlive the demo. The start takes a second.
      const engineArgs = this.spec.tapMtu === undefined ? [] : ['--tap-mtu', String(this.spec.tapMtu)]
      if (this.spec.dynamicAge !== undefined) engineArgs.push('--dynamic-age', String(this.spec.dynamicAge))
      if (this.spec.metrics !== undefined) engineArgs.push('--metrics', this.spec.metrics)
      const out = await run('ip', ['netns', 'exec', host.ns, process.execPath, BIN, 'engine', 'start', '--store', host.store, '--detach', '--log-file', host.log, '--json', ...engineArgs, ...(options.engineArgs ?? [])])
      host.pid = (JSON.parse(out) as {Pid: number}).Pid
      writeFileSync(join(this.dir, 'topology.json'), JSON.stringify(this.record(), null, 2))
      signal?.throwIfAborted()
    }
    for (const vm of this.vms) {
      await run('ip', ['-n', vm.host.ns, 'link', 'set', vm.tap, 'netns', vm.ns], signal)
      const commands = ['ip link set lo up']
      const v6 = vm.spec.addresses.some((a) => parseIp(a).family === 6)
      // An IPv4-only VM keeps quiet on IPv6 (router solicitations, MLD): the engine's counters stay readable.
      if (!v6) commands.push(`sysctl -qw net.ipv6.conf.${vm.tap}.disable_ipv6=1`)
      else commands.push(`sysctl -qw net.ipv6.conf.${vm.tap}.accept_dad=0`)
      commands.push(`ip link set ${vm.tap} up`)
      const subnet = this.spec.subnets.find((s) => s.vsid === vm.spec.vsid)!
      for (const address of vm.spec.dhcp ? [] : vm.spec.addresses) {
        const family = parseIp(address).family
        const prefix = subnet.prefixes.find((p) => parsePrefix(p).family === family)!
        commands.push(`ip -${family} addr add ${address}/${parsePrefix(prefix).length} dev ${vm.tap}${family === 6 ? ' nodad' : ''}`)
        commands.push(`ip -${family} route add default via ${gatewayOf(prefix)} dev ${vm.tap}`)
      }
      await sh(vm.ns, signal, ...commands)
    }
    progress?.(`${this.vms.length} VMs up: ${this.vms.map((vm) => `${vm.spec.name} (${vm.spec.addresses.join(', ')}, MAC ${macToColon(vm.spec.mac)}) on ${vm.host.spec.name}`).join('; ')}`)
  }

  /** The engine of a host, as `hnv engine status --json` shows it. */
  async status(host: HostState): Promise<RuntimeStatus> {
    return (await controlRequest(host.socket, 'status')) as RuntimeStatus
  }

  /** Stops the engines, deletes the namespaces and the directory. Never throws; returns what it could not remove. */
  async down(): Promise<string[]> {
    if (this.downDone) return []
    this.downDone = true
    const problems = await teardown(this.namespaces, this.hosts.map((h) => ({socket: h.socket, pid: h.pid, starting: h.starting})))
    rmSync(this.dir, {recursive: true, force: true})
    return problems
  }

  private record(): TopologyRecord {
    return {prefix: this.prefix, namespaces: this.namespaces, engines: this.hosts.map((h) => ({socket: h.socket, pid: h.pid, starting: h.starting}))}
  }
}

function importInto(path: string, policy: PolicyDocument): void {
  const store = PolicyStore.open(path)
  try {
    new PolicyService(store).importPolicy(policy, true)
  } finally {
    store.close()
  }
}

/** What a kept topology leaves in its directory, so `hnv demo --down` can remove it later. */
interface TopologyRecord {
  prefix: string
  namespaces: string[]
  engines: EngineRef[]
}

interface EngineRef {
  socket: string
  pid: number | null
  starting: boolean
}

/** Removes every topology kept under tmpdir whose prefix starts with `prefix`. Returns what was removed and the problems. */
export async function removeKept(prefix: string): Promise<{removed: string[]; problems: string[]}> {
  const removed: string[] = []
  const problems: string[] = []
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(`${prefix}`)) continue
    const dir = join(tmpdir(), entry)
    let record: TopologyRecord
    try {
      record = JSON.parse(readFileSync(join(dir, 'topology.json'), 'utf8')) as TopologyRecord
    } catch {
      continue
    }
    problems.push(...(await teardown(record.namespaces, record.engines)))
    rmSync(dir, {recursive: true, force: true})
    removed.push(record.prefix)
  }
  return {removed, problems}
}

/** Engines first (their TAPs go with them), then the namespaces. Best effort, in that order. */
async function teardown(namespaces: string[], engines: EngineRef[]): Promise<string[]> {
  const problems: string[] = []
  for (const engine of engines) {
    if (!engine.starting) continue
    // An engine whose start was interrupted has no pid here, but answers on its socket once it is up.
    const deadline = Date.now() + (engine.pid === null ? 5000 : 0)
    let stopped = false
    do {
      try {
        await controlRequest(engine.socket, 'stop', {timeoutMs: 10_000})
        stopped = true
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    } while (!stopped && Date.now() < deadline)
    if (!stopped && engine.pid !== null && alive(engine.pid)) {
      try {
        process.kill(engine.pid, 'SIGKILL')
      } catch (error) {
        problems.push(`cannot kill engine ${engine.pid}: ${(error as Error).message}`)
      }
    }
  }
  for (const engine of engines) {
    if (engine.pid !== null && !(await gone(engine.pid))) problems.push(`engine ${engine.pid} is still running`)
  }
  for (const ns of namespaces) {
    try {
      await run('ip', ['netns', 'del', ns])
    } catch (error) {
      if (!/No such file|does not exist|Invalid argument/.test((error as Error).message)) problems.push(`ip netns del ${ns}: ${(error as Error).message}`)
    }
  }
  return problems
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function gone(pid: number, timeoutMs = 3000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (alive(pid)) {
    if (Date.now() > deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  return true
}

/** hnv-<lowercase VM name>, as the store would name it by default; at most 15 bytes. */
export function tapName(vm: string): string {
  return `hnv-${vm.toLowerCase()}`.slice(0, 15)
}

/** Runs a program; rejects with its stderr's first line. Aborting kills it. */
export function run(file: string, args: string[], signal?: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, {encoding: 'utf8', signal, maxBuffer: 16 << 20}, (error, stdout, stderr) => {
      if (error) {
        const detail = stderr.trim().split('\n').pop() || error.message
        reject(Object.assign(new Error(`${file} ${args.join(' ')}: ${detail}`), {cause: error, code: (error as NodeJS.ErrnoException).code}))
      } else resolve(stdout)
    })
  })
}

/** Runs shell command lines, in order, inside a namespace. */
export function sh(ns: string, signal: AbortSignal | undefined, ...commands: string[]): Promise<string> {
  return run('ip', ['netns', 'exec', ns, 'sh', '-ec', commands.join('\n')], signal)
}

export interface PingResult {
  transmitted: number
  received: number
  /** Average round trip in ms, null without replies. */
  rttAvgMs: number | null
  rttMs: number[]
}

/** ping from inside a namespace; never rejects for lost replies. */
export function ping(ns: string, target: string, options: {count?: number; intervalS?: number; waitS?: number; signal?: AbortSignal} = {}): Promise<PingResult> {
  const args = ['netns', 'exec', ns, 'ping', '-n', '-c', String(options.count ?? 3), '-i', String(options.intervalS ?? 0.2), '-W', String(options.waitS ?? 1), target]
  return new Promise((resolve, reject) => {
    const child = spawn('ip', args, {stdio: ['ignore', 'pipe', 'pipe'], signal: options.signal})
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.on('error', reject)
    child.on('close', () => {
      if (options.signal?.aborted) return reject(options.signal.reason)
      const stats = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(out)
      const rttMs = [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]))
      resolve({
        transmitted: Number(stats?.[1] ?? 0),
        received: Number(stats?.[2] ?? 0),
        rttAvgMs: rttMs.length > 0 ? rttMs.reduce((s, v) => s + v, 0) / rttMs.length : null,
        rttMs,
      })
    })
  })
}
