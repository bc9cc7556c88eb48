import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {PolicyCommand} from '../../lib/cli/policy-command.js'
import type {AnyFlags} from '../../lib/cli/base.js'
import {type Result, writeNote} from '../../lib/cli/output.js'
import {parseMetricsAddress} from '../../lib/control/metrics.js'
import {controlSocketPath} from '../../lib/control/protocol.js'
import {notifyReady, startEngineDetached} from '../../lib/engine/runtime/daemon.js'
import {requireNetworkCapabilities} from '../../lib/engine/runtime/host.js'
import {DEFAULT_POLL_MS, EngineRuntime, stopOnSignals} from '../../lib/engine/runtime/runtime.js'

export default class EngineStart extends PolicyCommand {
  static override summary = 'Run the NVGRE engine over the store: one TAP per VM network adapter, the underlay on the local provider addresses'
  static override description =
    'Runs in the foreground until stopped (hnv engine stop, SIGTERM or Ctrl-C), as systemd wants; --detach runs it in the background and returns once it is ready. ' +
    'Policy changes made with any hnv command are applied while it runs; a policy that cannot be applied leaves the last good one in force (see hnv engine status). Needs root.'
  static override flags = {
    detach: Flags.boolean({description: 'Run in the background; return once the engine is ready'}),
    socket: Flags.string({description: 'Control socket (default /run/hnv/engine.sock for the default store, else one derived from the store path)'}),
    'log-file': Flags.string({description: 'With --detach: the file the engine logs to (default: the socket path with .log)'}),
    'poll-interval': Flags.integer({min: 1, max: 10_000, default: DEFAULT_POLL_MS, description: 'Milliseconds between two reads of the store revision'}),
    'dynamic-age': Flags.integer({min: 1, max: 86_400, description: 'Seconds an unused Dynamic lookup record (learned from an L2Only VM\'s ARP reply) stays before it is removed (default 300)'}),
    metrics: Flags.string({description: 'Serve Prometheus metrics at http://HOST:PORT/metrics (e.g. 127.0.0.1:9464): per-VSID and per-port packets, bytes and drops, drops by reason, per lookup record, io'}),
    'tap-mtu': Flags.integer({min: 576, max: 65_535, description: 'MTU of the TAPs (default: the physical MTU minus 42 over IPv4 provider addresses, 62 over IPv6)'}),
    offload: Flags.boolean({default: true, allowNo: true, description: 'Checksum and TCP segmentation offload on the TAPs (IFF_VNET_HDR, TUNSETOFFLOAD): the engine segments and coalesces TCP itself; --no-offload moves MTU-sized frames only'}),
    'kernel-gso': Flags.boolean({default: true, allowNo: true, description: 'With offloads: TCP super-frames go to the kernel whole (tcx program on an underlay TAP, GRE GSO at the physical interface); --no-kernel-gso segments them in the engine'}),
    'flow-cache': Flags.boolean({default: true, allowNo: true, description: 'Cache per flow what the pipeline decided (unicast IPv4; a new policy table empties it); --no-flow-cache runs every frame through the whole pipeline'}),
  }

  async execute(flags: AnyFlags): Promise<Result | void> {
    const metrics = flags.metrics === undefined ? undefined : parseMetricsAddress(flags.metrics)
    requireNetworkCapabilities('engine start', 'it creates TAP interfaces and opens raw GRE sockets')
    const store = this.service(flags).store
    const storePath = resolve(store.path)
    const socket = flags.socket ?? controlSocketPath(storePath)
    if (flags.detach) {
      const {pid, logFile} = await startEngineDetached({store: storePath, socket, pollMs: flags['poll-interval'], tapMtu: flags['tap-mtu'], offload: flags.offload, kernelGso: flags['kernel-gso'], flowCache: flags['flow-cache'], logFile: flags['log-file'], metrics: flags.metrics, dynamicAge: flags['dynamic-age']})
      return {rows: [{Pid: pid, Store: storePath, Socket: socket, Log: logFile}], columns: ['Pid', 'Store', 'Socket', 'Log'], single: true}
    }
    const runtime = await EngineRuntime.start({
      store,
      socketPath: socket,
      pollMs: flags['poll-interval'],
      tapMtu: flags['tap-mtu'],
      offload: flags.offload,
      kernelGso: flags['kernel-gso'],
      flowCache: flags['flow-cache'],
      metrics,
      dynamicAgeSeconds: flags['dynamic-age'],
      log: (line) => writeNote(`${new Date().toISOString()} ${line}`),
    })
    stopOnSignals(runtime)
    notifyReady()
    await runtime.stopped
  }
}
