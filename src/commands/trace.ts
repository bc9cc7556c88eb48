import {resolve} from 'node:path'
import {Flags} from '@oclif/core'
import {PolicyCommand} from '../lib/cli/policy-command.js'
import type {AnyFlags} from '../lib/cli/base.js'
import {writeResult} from '../lib/cli/output.js'
import {readPreferences} from '../lib/cli/preferences.js'
import {renderTrace, type Trace} from '../lib/engine/explain.js'
import {loadForwardingTable} from '../lib/engine/policy-source.js'
import {TRACE_PROTOCOLS, simulateTrace, type TraceHost, type TraceRequest} from '../lib/engine/trace.js'
import type {ForwardingTable} from '../lib/engine/table.js'
import {PolicyStore} from '../lib/policy/store.js'
import {liveTrace} from '../lib/control/live-trace.js'
import {controlSocketPath} from '../lib/control/protocol.js'

export default class TraceCommand extends PolicyCommand {
  static override summary = 'Explain the path of a packet: adapter, lookup records, customer route, PA, rewrite, delivery, or the rule that drops it and the policy that would let it through'
  static override description =
    "Builds the packet (ICMP echo, TCP SYN or UDP) and runs it through the engine's own pipeline over the policy compiled from the store: " +
    "first the VM's ARP / neighbor solicitation for its next hop, then the packet; NVGRE to a PA of a host whose store is given with --peer-store " +
    'continues on that host. --live injects a marked packet into the running engines and reports what they did, in the same format.'
  static override examples = [
    '<%= config.bin %> trace --vm Blue1 --destination 10.0.0.7',
    '<%= config.bin %> trace --vsid 5001 --source 10.0.0.5 --destination 10.0.1.9 --protocol tcp --port 443 --peer-store /var/lib/hnv/host2.db',
  ]
  static override flags = {
    vm: Flags.string({description: "Source: the VM's name, with its adapter as VMName/Adapter when it has several"}),
    vsid: Flags.integer({min: 0, max: 16_777_215, description: 'Source: the virtual subnet ID (with --source)'}),
    source: Flags.string({description: "Source customer address (default with --vm: the adapter's first CA)"}),
    destination: Flags.string({required: true, description: 'Destination customer address (required)'}),
    protocol: Flags.option({options: TRACE_PROTOCOLS, default: 'icmp' as const, description: 'What to send: ICMP echo request, TCP SYN or UDP datagram'})(),
    port: Flags.integer({min: 1, max: 65_535, description: 'Destination port for tcp (default 80) and udp (default 53)'}),
    ttl: Flags.integer({min: 1, max: 255, default: 64, description: 'TTL / hop limit of the packet'}),
    size: Flags.integer({min: 1, max: 65_535, description: 'Length of the IP packet in bytes (default: headers + 16), e.g. 1500 to see what the MTU does to it'}),
    'link-mtu': Flags.integer({min: 576, max: 65_535, description: 'Without --live: the physical MTU of the underlay to assume (default 1500)'}),
    'peer-store': Flags.string({multiple: true, description: 'Store of another host, to follow the packet there after NVGRE (repeatable); with --live, its engine is asked too'}),
    live: Flags.boolean({description: "Inject a marked packet into the running engine(s) and report what they did (the stores' engines must run)"}),
    socket: Flags.string({description: 'With --live: control socket of the source engine (default: the one of the store)'}),
  }

  async execute(flags: AnyFlags): Promise<void> {
    const store = this.service(flags).store
    const own = loadForwardingTable(store)
    const hosts: TraceHost[] = [{name: hostName(own, store.path), table: own}]
    const peers: PolicyStore[] = []
    try {
      for (const path of (flags['peer-store'] ?? []) as string[]) {
        const peer = PolicyStore.open(resolve(path))
        peers.push(peer)
        const table = loadForwardingTable(peer)
        hosts.push({name: hostName(table, peer.path), table})
      }
      const [vmName, adapter] = flags.vm === undefined ? [undefined, undefined] : splitVm(flags.vm)
      const request: TraceRequest = {vmName, adapter, vsid: flags.vsid, source: flags.source, destination: flags.destination, protocol: flags.protocol, port: flags.port, ttl: flags.ttl, size: flags.size, linkMtu: flags['link-mtu']}
      const trace: Trace = flags.live
        ? await liveTrace(
            {socket: flags.socket ?? controlSocketPath(store.path), context: `for store ${store.path}`},
            peers.map((p) => ({socket: controlSocketPath(p.path), context: `for store ${p.path}`})),
            request,
          )
        : simulateTrace(hosts, request)
      const format = flags.json ? 'json' : flags.output ?? readPreferences().output ?? 'table'
      writeResult(format === 'json' ? JSON.stringify(trace, null, 2) + '\n' : renderTrace(trace))
    } finally {
      for (const peer of peers) peer.close()
    }
  }
}

/** A host as people name it: its provider addresses, else its store. */
function hostName(table: ForwardingTable, path: string): string {
  const pas = table.localProviderAddresses()
  return pas.length > 0 ? pas.join(', ') : path
}

function splitVm(text: string): [string, string | undefined] {
  const slash = text.indexOf('/')
  return slash < 0 ? [text, undefined] : [text.slice(0, slash), text.slice(slash + 1)]
}
