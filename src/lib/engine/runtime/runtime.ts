// The engine as a process: the forwarding core (Engine over a compiled ForwardingTable) wired to the
// host. It binds one GRE underlay per local provider address of the store, opens one TAP per VM network
// adapter (named, addressed and placed in a virtual subnet by the store), watches the store's revision
// and swaps in a freshly compiled table without touching the ports, and answers on the control socket.
//
// Policy changes never stop it: a revision that cannot be read or compiled leaves the last good table in
// force and is reported (status, log). Stopping closes every TAP fd, which deletes the TAPs wherever they
// have been moved, and removes the control socket: nothing is left behind.
import {defaultStorePath, type PolicyStore} from '../../policy/store.js'
import {parseMac} from '../../net/mac.js'
import {ControlServer, type ControlStream} from '../../control/server.js'
import {RuntimeDiagnostics} from './diagnostics.js'
import {MetricsServer, type MetricsAddress} from '../../control/metrics.js'
import {engineAnswers} from '../../control/client.js'
import {EngineError} from '../../control/errors.js'
import type {ApplyTiming, ControlMethod, RuntimeError, RuntimeStatus} from '../../control/protocol.js'
import {GreUnderlay} from '../io/gre-underlay.js'
import {GsoUnderlay} from '../io/gso-underlay.js'
import {PhysicalLink} from '../io/physical-link.js'
import {natInterface, natProviderAddresses} from './nat-link.js'
import {parseIp} from '../../net/ip.js'
import {TapPort} from '../io/tap-port.js'
import {nativeChecksum, nativeMemcpy} from '../io/native.js'
import {lastLoadKind, loadForwardingTable} from '../policy-source.js'
import type {ForwardingTable} from '../table.js'
import {Engine} from '../engine.js'
import {DEFAULT_DYNAMIC_AGE_SECONDS, DynamicRecords} from '../learning.js'
import {FALLBACK_PHYSICAL_MTU, type LocalAddress, type StoreProviderAddress, overlayOverhead, resolveProviderAddresses} from './host.js'

/** How often the store's revision is read (one indexed row): a change is noticed within this. */
export const DEFAULT_POLL_MS = 20
/** How often learned addresses are written to the store and Dynamic records aged (learning.ts). */
const LEARNING_TICK_MS = 1000

/** A bound provider address: its raw GRE socket and, where it could be set up, its kernel GSO device. */
interface UnderlayEntry {
  local: LocalAddress
  underlay: GreUnderlay
  gso: GsoUnderlay | null
}

export interface RuntimeOptions {
  store: PolicyStore
  socketPath: string
  pollMs?: number
  /** The TAPs' MTU; default: the smallest physical MTU of the provider addresses minus NVGRE's overhead. */
  tapMtu?: number
  /**
   * IFF_VNET_HDR with checksum and TCP segmentation offload on every TAP (default true): the VM sends and
   * receives TCP super-frames, which the engine segments to the physical MTU and coalesces (offload.ts).
   * Probed per TAP, with a fallback to plain frames; status shows what each port got.
   */
  offload?: boolean
  /**
   * With offloads: TCP super-frames to provider addresses go to the kernel whole, segmented by it
   * at the physical interface (kernel-gso.ts; tcx + bpf(), Linux >= 6.6); default true. Where that cannot
   * be set up the engine segments them itself, and says so in the log and status.
   */
  kernelGso?: boolean
  /** The per-flow decision cache in front of the pipeline (flow-cache.ts); default true. */
  flowCache?: boolean
  /** Serve Prometheus metrics at http://HOST:PORT/metrics. */
  metrics?: MetricsAddress
  /** Seconds a Dynamic lookup record stays unused before it is removed (default 300). */
  dynamicAgeSeconds?: number
  /** Where the runtime's log lines go (the command passes the output kit's stderr writer). */
  log?: (line: string) => void
}

/** A VM network adapter as the store exports it. */
export interface Adapter {
  VMName: string
  Name: string
  MacAddress: string
  VirtualSubnetId: number
  SwitchName: string | null
  InterfaceName: string
}

interface OpenPort {
  adapter: Adapter
  port: TapPort
}

export class EngineRuntime {
  private readonly ports = new Map<string, OpenPort>()
  private readonly startedAt = Date.now()
  private timer: NodeJS.Timeout | undefined
  private learningTimer: NodeJS.Timeout | undefined
  private dynamic: DynamicRecords | undefined
  /** Dynamic records written and removed since the start. */
  private readonly learningCounts = {learned: 0, aged: 0}
  private seenRevision: number
  private lastApply: ApplyTiming
  private lastError: RuntimeError | null = null
  private stopping: Promise<void> | undefined
  private closing = false
  private server: ControlServer | undefined
  private metrics: MetricsServer | undefined
  private diagnosticsState: RuntimeDiagnostics | undefined
  private resolveStopped!: () => void
  /** Settles once the runtime has stopped (by `stop`, the control socket, or a signal). */
  readonly stopped = new Promise<void>((resolve) => (this.resolveStopped = resolve))

  private constructor(
    private readonly options: RuntimeOptions,
    private readonly engine: Engine,
    private readonly underlays: UnderlayEntry[],
    private readonly providerAddresses: readonly string[],
    readonly tapMtu: number,
    table: ForwardingTable,
    timing: ApplyTiming,
  ) {
    this.seenRevision = table.revision
    this.lastApply = timing
  }

  /** Where TCP super-frames are segmented, per provider address (log and status). */
  kernelGso = ''

  /**
   * Reads and compiles the store's policy, binds the underlays, opens the TAPs and the control socket.
   * Anything that fails here fails the start (with everything opened so far closed again): a policy
   * that does not compile, a provider address this host does not have, a TAP that cannot be created.
   */
  static async start(options: RuntimeOptions): Promise<EngineRuntime> {
    const {store, socketPath} = options
    if (await engineAnswers(socketPath)) {
      throw new EngineError(`an engine is already running for store ${store.path} (control socket ${socketPath}); stop it first: hnv engine stop --store ${store.path}`)
    }
    const t0 = performance.now()
    let table: ForwardingTable
    try {
      table = loadForwardingTable(store)
    } catch (error) {
      throw new EngineError(`the policy in ${store.path} (revision ${store.revision()}) cannot be applied: ${(error as Error).message}`)
    }
    const t1 = performance.now()
    const rows = table.sources.ProviderAddresses as unknown as StoreProviderAddress[]
    const providerAddresses = providerAddressesOf(table)
    // TranslationMethodNat PAs are the engine's own, never on the host's stack (nat-link.ts).
    const natPas = natProviderAddresses(table)
    const natRows = rows.filter((row) => natPas.has(parseIp(row.ProviderAddress).text))
    const locals = resolveProviderAddresses(rows.filter((row) => !natRows.includes(row)), store.path === defaultStorePath() ? '' : ` --store ${store.path}`)
    const natLink = natRows.length === 0 ? null : natInterface(natRows[0])
    const underlays: UnderlayEntry[] = []
    const gsoNotes: string[] = []
    let physical: PhysicalLink | undefined
    let engine: Engine | undefined
    let runtime: EngineRuntime | undefined
    try {
      for (const local of locals) {
        const entry: UnderlayEntry = {local, underlay: hostCall(() => GreUnderlay.open({family: local.family, local: local.bytes, linkMtu: local.mtu})), gso: null}
        underlays.push(entry)
        const off = options.offload === false ? '--no-offload' : options.kernelGso === false ? '--no-kernel-gso' : null
        if (off !== null) gsoNotes.push(`${local.address}: userspace segmentation (${off})`)
        else {
          try {
            entry.gso = GsoUnderlay.open(local.interfaceIndex, local.bytes)
            gsoNotes.push(`${local.address}: kernel GSO through ${entry.gso.name} (tcx) to ${local.interfaceName}`)
          } catch (error) {
            gsoNotes.push(`${local.address}: userspace segmentation (kernel GSO unavailable: ${(error as Error).message.split('\n')[0]})`)
          }
        }
      }
      if (natLink !== null) physical = hostCall(() => PhysicalLink.open({interfaceName: natLink.interfaceName, interfaceIndex: natLink.interfaceIndex}))
      engine = new Engine({underlays: underlays.map((u) => u.underlay), kernelGso: underlays.map((u) => u.gso), flowCache: options.flowCache === false ? false : undefined, physical, onError: throttledLog(options.log), memcpy: nativeMemcpy(), checksum: nativeChecksum()})
      // Every TAP fits the tightest underlay: a frame may leave through any of them.
      const tapMtu =
        options.tapMtu ??
        (locals.length === 0 ? FALLBACK_PHYSICAL_MTU - overlayOverhead(4) : Math.min(...locals.map((l) => l.mtu - overlayOverhead(l.family))))
      const timing = {revision: table.revision, appliedAt: 0, loadMs: t1 - t0, load: lastLoadKind(store) ?? 'all', swapMs: 0}
      runtime = new EngineRuntime(options, engine, underlays, providerAddresses, tapMtu, table, timing)
      const failures = runtime.reconcilePorts(adaptersOf(table))
      if (failures.length > 0) throw new EngineError(failures.join('; '))
      const t3 = performance.now()
      engine.load(table)
      timing.swapMs = performance.now() - t3
      timing.appliedAt = Date.now()
      runtime.server = await ControlServer.listen(socketPath, (method, params, stream) => runtime!.handle(method, params, stream))
      if (options.metrics) runtime.metrics = await MetricsServer.listen(options.metrics, () => runtime!.status())
    } catch (error) {
      runtime?.server?.close()
      if (runtime) runtime.closeDataPlane()
      else {
        engine?.close()
        for (const {underlay, gso} of underlays) {
          underlay.close()
          gso?.close()
        }
        if (engine === undefined) physical?.close()
      }
      throw error
    }
    runtime.timer = setInterval(() => runtime!.poll(), options.pollMs ?? DEFAULT_POLL_MS)
    runtime.dynamic = new DynamicRecords(store, (options.dynamicAgeSeconds ?? DEFAULT_DYNAMIC_AGE_SECONDS) * 1000)
    runtime.learningTimer = setInterval(() => runtime!.learn(), Math.min(LEARNING_TICK_MS, Math.max(100, runtime.dynamic.ageMs / 4)))
    runtime.log(
      `engine started (pid ${process.pid}): store ${store.path} revision ${table.revision}, ` +
        `${locals.length} provider address${locals.length === 1 ? '' : 'es'} (${locals.map((l) => `${l.address} on ${l.interfaceName}`).join(', ') || 'none'}), ` +
        `${runtime.ports.size} TAP${runtime.ports.size === 1 ? '' : 's'} (MTU ${runtime.tapMtu}), control socket ${socketPath}` +
        (runtime.metrics ? `, metrics http://${runtime.metrics.address.host.includes(':') ? `[${runtime.metrics.address.host}]` : runtime.metrics.address.host}:${runtime.metrics.address.port}/metrics` : ''),
    )
    runtime.kernelGso = gsoNotes.join('; ') || 'none (no provider address)'
    runtime.log(`TCP segmentation: ${runtime.kernelGso}`)
    if (natLink !== null) runtime.log(`TranslationMethodNat provider addresses ${natRows.map((r) => r.ProviderAddress).join(', ')} answered by the engine on ${natLink.interfaceName}`)
    if (locals.length === 0) runtime.log('no provider address in the store: nothing can be sent to or received from other hosts')
    return runtime
  }

  status(): RuntimeStatus {
    let storeRevision = this.seenRevision
    try {
      storeRevision = this.options.store.revision()
    } catch {
      // reported by the poll
    }
    const core = this.engine.status()
    return {
      pid: process.pid,
      store: this.options.store.path,
      socket: this.options.socketPath,
      startedAt: new Date(this.startedAt).toISOString(),
      uptimeSeconds: Math.round((Date.now() - this.startedAt) / 1000),
      revision: core.revision ?? this.lastApply.revision,
      storeRevision,
      lastApply: this.lastApply,
      lastError: this.lastError,
      tapMtu: this.tapMtu,
      // The core lists the underlays in the order they were given.
      providerAddresses: this.underlays.map(({local}, i) => ({
        address: local.address,
        interface: local.interfaceName,
        interfaceIndex: local.interfaceIndex,
        linkMtu: local.mtu,
        ...core.underlays[i],
      })),
      ports: core.ports.map((port) => ({...port, mtu: this.ports.get(port.name)?.port.mtu ?? null})),
      vsids: core.vsids,
      drops: core.drops,
      replies: core.replies,
      offload: core.offload,
      flowCache: core.flowCache,
      segmentation: this.kernelGso,
      records: core.records,
      flood: core.flood,
      learning: {dynamicAgeSeconds: (this.dynamic?.ageMs ?? DEFAULT_DYNAMIC_AGE_SECONDS * 1000) / 1000, ...this.learningCounts},
    }
  }

  /**
   * One learning tick (learning.ts): what the data path learned goes to the store in one transaction,
   * and Dynamic records unused for the age are removed; the revision that makes is then loaded as usual.
   */
  private learn(): void {
    if (this.closing || this.dynamic === undefined) return
    const harvest = this.engine.takeLearning()
    if (harvest.table === null) return
    try {
      const done = this.dynamic.tick(Date.now(), harvest.learned, harvest.used, harvest.table)
      for (const r of done.learned) this.log(`learned Dynamic lookup record ${r.CustomerAddress} (VSID ${r.VirtualSubnetID}, MAC ${r.MACAddress}, PA ${r.ProviderAddress})`)
      for (const r of done.aged) this.log(`removed Dynamic lookup record ${r.CustomerAddress} (VSID ${r.VirtualSubnetID}): unused for ${this.dynamic.ageMs / 1000} s`)
      for (const problem of done.refused) this.log(`cannot learn ${problem}`)
      this.learningCounts.learned += done.learned.length
      this.learningCounts.aged += done.aged.length
    } catch (error) {
      // The store is busy or gone: what was learned is learned again from the next ARP reply.
      this.log(`cannot write learned lookup records: ${(error as Error).message}`)
    }
  }

  /** Stops polling and the control socket, closes the TAPs (deleting them) and the underlays. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.closing = true
      clearInterval(this.timer)
      clearInterval(this.learningTimer)
      this.server?.close()
      this.metrics?.close()
      this.diagnosticsState?.close()
      this.closeDataPlane()
      this.log(`engine stopped (pid ${process.pid})`)
      this.resolveStopped()
    })()
    return this.stopping
  }

  private async handle(method: ControlMethod, params: Record<string, unknown> = {}, stream?: ControlStream): Promise<unknown> {
    switch (method) {
      case 'status':
        return this.status()
      case 'stop':
        await this.stop()
        return {stopped: true, pid: process.pid}
      case 'capture':
        if (stream === undefined) throw new EngineError('capture streams its packets: it needs a connection')
        return this.diagnostics.capture(params, stream)
      case 'trace-arm':
        return this.diagnostics.traceArm(params)
      case 'trace-inject':
        return this.diagnostics.traceInject(params)
      case 'trace-collect':
        return this.diagnostics.traceCollect(params)
    }
  }

  /** Capture and live trace (diagnostics.ts); this host is named by its provider addresses in traces. */
  private get diagnostics(): RuntimeDiagnostics {
    this.diagnosticsState ??= new RuntimeDiagnostics(this.engine, () => this.providerAddresses.join(', ') || this.options.store.path)
    return this.diagnosticsState
  }

  /** One timer tick: a single indexed row read unless the revision moved. */
  private poll(): void {
    if (this.closing) return
    let revision: number
    try {
      revision = this.options.store.revision()
    } catch (error) {
      this.fail(null, `cannot read the store's revision: ${(error as Error).message}`)
      return
    }
    if (revision !== this.seenRevision) this.reload(revision)
  }

  /**
   * Reads and compiles the store's current policy; only if both succeed are the ports reconciled and the
   * new table swapped in. The ports that stay are not touched.
   */
  private reload(noticed: number): void {
    this.seenRevision = noticed
    const t0 = performance.now()
    let table: ForwardingTable
    try {
      table = loadForwardingTable(this.options.store)
    } catch (error) {
      this.fail(noticed, (error as Error).message)
      return
    }
    this.seenRevision = table.revision
    const t1 = performance.now()
    const problems = this.reconcilePorts(adaptersOf(table))
    const wanted = providerAddressesOf(table)
    if (wanted.join() !== this.providerAddresses.join()) {
      problems.push(
        `the store's provider addresses changed (now ${wanted.join(', ') || 'none'}; bound: ${this.providerAddresses.join(', ') || 'none'}): ` +
          'restart the engine to bind them',
      )
    }
    const t3 = performance.now()
    this.engine.load(table)
    const t4 = performance.now()
    const load = lastLoadKind(this.options.store) ?? 'all'
    this.lastApply = {revision: table.revision, appliedAt: Date.now(), loadMs: t1 - t0, load, swapMs: t4 - t3}
    this.lastError = null
    this.log(`applied revision ${table.revision} (load ${ms(t1 - t0)}: ${load}, ports ${ms(t3 - t1)}, swap ${ms(t4 - t3)})`)
    if (problems.length > 0) this.fail(table.revision, problems.join('; '), true)
  }

  /**
   * Makes the open TAPs match the adapters: new adapters get a TAP, removed ones lose theirs, and an
   * adapter whose MAC changed gets a new TAP (the kernel side keeps its address otherwise). Others are
   * left alone, even when their VSID or names changed: the table says where their frames go.
   * Returns what could not be done.
   */
  private reconcilePorts(adapters: Adapter[]): string[] {
    const wanted = new Map(adapters.map((adapter) => [adapter.InterfaceName, adapter]))
    for (const [name, open] of this.ports) {
      const adapter = wanted.get(name)
      if (adapter && adapter.MacAddress !== open.adapter.MacAddress) {
        this.log(`adapter '${adapter.Name}' of VM '${adapter.VMName}' has a new MAC ${adapter.MacAddress}: its TAP ${name} is made again (move it into its VM again if it had been moved)`)
      }
      if (!adapter || adapter.MacAddress !== open.adapter.MacAddress) this.closePort(name)
    }
    const problems: string[] = []
    for (const [name, adapter] of wanted) {
      const open = this.ports.get(name)
      if (open) {
        open.adapter = adapter
        continue
      }
      try {
        const port = hostCall(() =>
          TapPort.open({name, mtu: this.tapMtu, mac: macBytes(adapter.MacAddress), up: true, vnetHdr: this.options.offload ?? true}),
        )
        try {
          this.engine.attach(port)
        } catch (error) {
          port.close()
          throw error
        }
        this.ports.set(name, {adapter, port})
        if (this.server) this.log(`TAP ${name} created for adapter '${adapter.Name}' of VM '${adapter.VMName}' (VSID ${adapter.VirtualSubnetId})`)
      } catch (error) {
        problems.push(`no TAP for adapter '${adapter.Name}' of VM '${adapter.VMName}': ${(error as Error).message}`)
      }
    }
    return problems
  }

  private closePort(name: string): void {
    const open = this.ports.get(name)
    if (!open) return
    this.ports.delete(name)
    try {
      this.engine.detach(name)
    } finally {
      open.port.close()
    }
    if (!this.closing) this.log(`TAP ${name} removed`)
  }

  private closeDataPlane(): void {
    for (const name of [...this.ports.keys()]) {
      try {
        this.closePort(name)
      } catch (error) {
        this.log(`closing TAP ${name}: ${(error as Error).message}`)
      }
    }
    this.engine.close()
    for (const {underlay, gso} of this.underlays) {
      underlay.close()
      gso?.close()
    }
  }

  private fail(revision: number | null, message: string, applied = false): void {
    this.lastError = {revision, message, at: new Date().toISOString()}
    const kept = applied ? '' : `, keeping revision ${this.lastApply.revision}`
    this.log(`revision ${revision ?? '?'} ${applied ? 'applied with problems' : 'not applied'}${kept}: ${message}`)
  }

  private log(line: string): void {
    this.options.log?.(line)
  }
}

/** Stops the runtime on SIGTERM (systemd) and SIGINT (Ctrl-C); the handlers go when it has stopped. */
export function stopOnSignals(runtime: EngineRuntime): void {
  const stop = (): void => void runtime.stop()
  const signals = ['SIGTERM', 'SIGINT', 'SIGHUP'] as const
  for (const signal of signals) process.on(signal, stop)
  void runtime.stopped.then(() => {
    for (const signal of signals) process.off(signal, stop)
  })
}

function providerAddressesOf(table: ForwardingTable): string[] {
  return (table.sources.ProviderAddresses as unknown as {ProviderAddress: string}[]).map((row) => row.ProviderAddress).sort()
}

function adaptersOf(table: ForwardingTable): Adapter[] {
  return table.sources.VMNetworkAdapters as unknown as Adapter[]
}

function macBytes(mac: string): Uint8Array {
  return Uint8Array.from(Buffer.from(parseMac(mac), 'hex'))
}

/** Native setup errors (errno with what we were doing) become one-line EngineErrors. */
function hostCall<T>(fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof EngineError) throw error
    throw new EngineError((error as Error).message)
  }
}

/** Receive errors are counted by the io layer; the log hears about each source at most once a minute. */
function throttledLog(log: RuntimeOptions['log']): (source: string, error: Error) => void {
  const last = new Map<string, number>()
  return (source, error) => {
    const now = Date.now()
    if ((last.get(source) ?? -Infinity) > now - 60_000) return
    last.set(source, now)
    log?.(`${source}: ${error.message} (counted; further errors of this source for a minute are only counted)`)
  }
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 1 : 0)} ms`
}
