// `hnv engine status` for people: the status object the engine sends, cut into sections (the engine,
// its provider addresses, its ports, counters per VSID, drops per reason), each rendered by the output
// kit. JSON is the object itself: that is what scripts read.
import {type OutputFormat, type Result, render} from '../cli/output.js'
import type {RuntimeStatus} from './protocol.js'

export function renderStatus(status: RuntimeStatus, format: OutputFormat): string {
  if (format === 'json') return JSON.stringify(status, null, 2) + '\n'
  return statusSections(status)
    .map(({title, result, view}) => {
      if (format === 'csv') return render(result, 'csv')
      // The engine's own facts read best as a list, whatever the tables use.
      const body = render(result, view ?? format)
      return `${title}\n${body.trim() === '' ? '(none)' : body.trim()}\n`
    })
    .join('\n')
}

interface Section {
  title: string
  result: Result
  view?: OutputFormat
}

export function statusSections(status: RuntimeStatus): Section[] {
  const apply = status.lastApply
  const engine = {
    Pid: status.pid,
    Store: status.store,
    Revision: status.revision,
    StoreRevision: status.storeRevision,
    AppliedAt: new Date(apply.appliedAt).toISOString(),
    ApplyTime: `load ${ms(apply.loadMs)} (${apply.load}), swap ${ms(apply.swapMs)}`,
    LastError: status.lastError ? `revision ${status.lastError.revision ?? '?'} at ${status.lastError.at}: ${status.lastError.message}` : null,
    TapMTU: status.tapMtu,
    Segmentation: status.segmentation ?? null,
    FlowCache: status.flowCache ? `${status.flowCache.hits} hits, ${status.flowCache.misses} misses, ${status.flowCache.bypassed} bypassed, ${status.flowCache.evictions} evictions, ${status.flowCache.unstored} not stored (thrashing)` : 'off',
    Uptime: `${status.uptimeSeconds} s`,
    Socket: status.socket,
  }
  const nonZero = (counts: Record<string, number>) => Object.entries(counts).filter(([, n]) => n > 0)
  return [
    {title: 'Engine', result: {rows: [engine], columns: Object.keys(engine), single: true}, view: 'list'},
    {
      title: 'Provider addresses',
      result: {
        columns: ['ProviderAddress', 'Interface', 'LinkMTU', 'RxPackets', 'TxPackets', 'TxErrors'],
        rows: status.providerAddresses.map((pa) => ({
          ProviderAddress: pa.address,
          Interface: pa.interface,
          LinkMTU: pa.linkMtu,
          RxPackets: pa.io.rxPackets,
          TxPackets: pa.io.txPackets,
          TxErrors: pa.io.txErrors + pa.io.txWouldBlock + pa.io.txLinkDown,
        })),
      },
    },
    {
      title: 'Ports',
      result: {
        columns: ['InterfaceName', 'VMName', 'VirtualSubnetId', 'MacAddress', 'State', 'MTU', 'Offload', 'RxPackets', 'TxPackets', 'Drops', 'Replies'],
        rows: status.ports.map((port) => ({
          InterfaceName: port.name,
          VMName: port.vmName,
          VirtualSubnetId: port.vsid,
          MacAddress: port.mac,
          State: port.state,
          MTU: port.mtu,
          // What the TAP got when it was opened (probed, with fallback): tso implies csum.
          Offload: port.features.tso ? (port.features.uso ? 'tso,uso' : 'tso') : port.features.csum ? 'csum' : 'none',
          RxPackets: port.rxPackets,
          TxPackets: port.txPackets,
          Drops: port.drops,
          Replies: port.replies,
        })),
      },
    },
    {
      title: 'Virtual subnets',
      result: {
        columns: ['VirtualSubnetID', 'Packets', 'Bytes', 'Drops'],
        rows: status.vsids.map((v) => ({VirtualSubnetID: v.vsid, Packets: v.packets, Bytes: v.bytes, Drops: v.drops})),
      },
    },
    {
      title: 'Lookup records (traffic resolved to them)',
      result: {
        columns: ['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'Packets', 'Bytes'],
        rows: (status.records ?? []).map((r) => ({
          CustomerAddress: r.CustomerAddress,
          VirtualSubnetID: r.VirtualSubnetID,
          MACAddress: r.MACAddress,
          ProviderAddress: r.ProviderAddress,
          Packets: r.packets,
          Bytes: r.bytes,
        })),
      },
    },
    {title: 'Drops', result: {columns: ['Reason', 'Packets'], rows: nonZero(status.drops).map(([Reason, Packets]) => ({Reason, Packets}))}},
    {title: 'Replies by the engine', result: {columns: ['Reply', 'Packets'], rows: nonZero(status.replies).map(([Reply, Packets]) => ({Reply, Packets}))}},
    {
      title: 'Offload (TSO super-frames segmented or handed to the kernel whole, segments coalesced)',
      result: {
        columns: ['Counter', 'Value'],
        rows: [
          ...nonZero(status.offload.segment).map(([name, Value]) => ({Counter: `segment.${name}`, Value})),
          ...nonZero(status.offload.coalesce).map(([name, Value]) => ({Counter: `coalesce.${name}`, Value})),
          ...nonZero(status.offload.kernelGso ?? {}).map(([name, Value]) => ({Counter: `kernelGso.${name}`, Value})),
          ...nonZero(status.offload.receive ?? {}).map(([name, Value]) => ({Counter: `receive.${name}`, Value})),
        ],
      },
    },
    {
      title: 'Replication and learning',
      result: {
        columns: ['FloodedFrames', 'PortCopies', 'UnderlayCopies', 'DynamicLearned', 'DynamicAged', 'DynamicAge'],
        rows: [{
          FloodedFrames: status.flood?.frames ?? 0,
          PortCopies: status.flood?.portCopies ?? 0,
          UnderlayCopies: status.flood?.underlayCopies ?? 0,
          DynamicLearned: status.learning?.learned ?? 0,
          DynamicAged: status.learning?.aged ?? 0,
          DynamicAge: status.learning === undefined ? null : `${status.learning.dynamicAgeSeconds} s`,
        }],
        single: true,
      },
      view: 'list',
    },
  ]
}

function ms(value: number): string {
  return `${value.toFixed(value < 10 ? 1 : 0)} ms`
}
