// `hnv engine start --metrics 127.0.0.1:9464`: the engine's counters for Prometheus, over node:http at
// /metrics in the text exposition format 0.0.4 (HELP and TYPE lines, one sample per line, label values
// escaped). Built from the same RuntimeStatus `hnv engine status --json` prints, on each scrape only.
import {createServer, type Server} from 'node:http'
import {EngineError} from './errors.js'
import type {RuntimeStatus} from './protocol.js'

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface MetricsAddress {
  host: string
  port: number
}

/** HOST:PORT (IPv6 as [addr]:port) -> address; throws an EngineError naming the value. */
export function parseMetricsAddress(text: string): MetricsAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim())
  const port = match ? Number(match[3]) : NaN
  if (!match || port > 65_535) throw new EngineError(`--metrics ${text} is not HOST:PORT (e.g. 127.0.0.1:9464, [::1]:9464)`)
  return {host: match[1] ?? match[2], port}
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

class Exposition {
  private readonly lines: string[] = []

  family(name: string, type: 'counter' | 'gauge', help: string, samples: [Record<string, string | number | null>, number][]): void {
    this.lines.push(`# HELP ${name} ${help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${name} ${type}`)
    for (const [labels, value] of samples) {
      const entries = Object.entries(labels).filter(([, v]) => v !== null)
      const text = entries.length === 0 ? '' : `{${entries.map(([k, v]) => `${k}="${escapeLabel(String(v))}"`).join(',')}}`
      this.lines.push(`${name}${text} ${Number.isFinite(value) ? value : 0}`)
    }
  }

  text(): string {
    return this.lines.join('\n') + '\n'
  }
}

/** The status as Prometheus text: per VSID, per port, per drop reason, per reply, per lookup record, io, offload, flow cache. */
export function renderMetrics(status: RuntimeStatus): string {
  const out = new Exposition()
  out.family('hnv_up', 'gauge', 'The engine answers (1).', [[{}, 1]])
  out.family('hnv_policy_revision', 'gauge', 'Revision of the policy table in force.', [[{}, status.revision]])
  out.family('hnv_store_revision', 'gauge', "The store's current revision (differs from hnv_policy_revision while a revision cannot be applied).", [[{}, status.storeRevision]])
  out.family('hnv_uptime_seconds', 'gauge', 'Seconds since the engine started.', [[{}, status.uptimeSeconds]])
  const vsid = (v: {vsid: number}) => ({vsid: v.vsid})
  out.family('hnv_vsid_packets_total', 'counter', 'Packets that entered the engine in a virtual subnet (from its ports or with its NVGRE key).', status.vsids.map((v) => [vsid(v), v.packets]))
  out.family('hnv_vsid_bytes_total', 'counter', 'Bytes that entered the engine in a virtual subnet.', status.vsids.map((v) => [vsid(v), v.bytes]))
  out.family('hnv_vsid_drops_total', 'counter', 'Packets of a virtual subnet the engine dropped.', status.vsids.map((v) => [vsid(v), v.drops]))
  const port = (p: RuntimeStatus['ports'][number]) => ({port: p.name, vm: p.vmName, adapter: p.adapter, vsid: p.vsid})
  out.family('hnv_port_rx_packets_total', 'counter', 'Frames the engine read from a VM port (TAP).', status.ports.map((p) => [port(p), p.rxPackets]))
  out.family('hnv_port_rx_bytes_total', 'counter', 'Bytes the engine read from a VM port.', status.ports.map((p) => [port(p), p.rxBytes]))
  out.family('hnv_port_tx_packets_total', 'counter', 'Frames the engine wrote to a VM port.', status.ports.map((p) => [port(p), p.txPackets]))
  out.family('hnv_port_tx_bytes_total', 'counter', 'Bytes the engine wrote to a VM port.', status.ports.map((p) => [port(p), p.txBytes]))
  out.family('hnv_port_drops_total', 'counter', 'Frames from a VM port the engine dropped.', status.ports.map((p) => [port(p), p.drops]))
  out.family('hnv_port_replies_total', 'counter', 'Frames the engine answered itself on a VM port (ARP, ND, echo, ICMP errors).', status.ports.map((p) => [port(p), p.replies]))
  out.family('hnv_drops_total', 'counter', 'Packets dropped, by drop reason (hnv engine status lists the reasons).', Object.entries(status.drops).map(([reason, n]) => [{reason}, n]))
  out.family('hnv_replies_total', 'counter', 'Frames the engine answered itself, by kind.', Object.entries(status.replies).map(([kind, n]) => [{kind}, n]))
  const record = (r: RuntimeStatus['records'][number]) => ({customer_address: r.CustomerAddress, vsid: r.VirtualSubnetID, provider_address: r.ProviderAddress})
  out.family('hnv_lookup_record_packets_total', 'counter', 'Packets that resolved to a lookup record.', (status.records ?? []).map((r) => [record(r), r.packets]))
  out.family('hnv_lookup_record_bytes_total', 'counter', 'Bytes that resolved to a lookup record.', (status.records ?? []).map((r) => [record(r), r.bytes]))
  const io: [Record<string, string | number | null>, number][] = []
  for (const p of status.ports) for (const [stat, n] of Object.entries(p.io)) io.push([{endpoint: 'port', name: p.name, stat}, n])
  for (const pa of status.providerAddresses) for (const [stat, n] of Object.entries(pa.io)) io.push([{endpoint: 'underlay', name: pa.address, stat}, n])
  out.family('hnv_io_total', 'counter', 'I/O counters of the TAPs and the GRE underlays (syscalls, packets, errors, frames refused because the interface is down: txLinkDown), by stat.', io)
  const offload: [Record<string, string>, number][] = []
  for (const [kind, counts] of Object.entries(status.offload ?? {})) for (const [stat, n] of Object.entries(counts)) offload.push([{kind, stat}, n])
  out.family('hnv_offload_total', 'counter', 'Super-frames segmented (segment), segments coalesced (coalesce), super-packets handed to the kernel (kernelGso) and received whole (receive), by stat.', offload)
  if (status.flowCache) out.family('hnv_flow_cache_total', 'counter', "The per-flow decision cache's hits, misses, stores, evictions, frames it cannot hold (bypassed) and misses it did not store while thrashing (unstored).", Object.entries(status.flowCache).map(([stat, n]) => [{stat}, n]))
  return out.text()
}

/** The HTTP endpoint: GET /metrics answers the current status; anything else is 404. */
export class MetricsServer {
  private constructor(
    private readonly server: Server,
    readonly address: MetricsAddress,
  ) {}

  static async listen(address: MetricsAddress, status: () => RuntimeStatus): Promise<MetricsServer> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0]
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, {Allow: 'GET, HEAD'}).end()
        return
      }
      if (path !== '/metrics') {
        res.writeHead(404, {'Content-Type': 'text/plain'}).end('hnv: metrics are at /metrics\n')
        return
      }
      let body: string
      try {
        body = renderMetrics(status())
      } catch (error) {
        res.writeHead(500, {'Content-Type': 'text/plain'}).end(`hnv: ${(error as Error).message}\n`)
        return
      }
      res.writeHead(200, {'Content-Type': METRICS_CONTENT_TYPE})
      res.end(req.method === 'HEAD' ? undefined : body)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error) => reject(new EngineError(`cannot serve metrics on ${address.host}:${address.port}: ${error.message}`)))
      server.listen(address.port, address.host, () => resolve())
    })
    const bound = server.address()
    const port = typeof bound === 'object' && bound !== null ? bound.port : address.port
    return new MetricsServer(server, {host: address.host, port})
  }

  close(): void {
    this.server.close()
    this.server.closeAllConnections()
  }
}
