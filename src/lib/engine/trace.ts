// `hnv trace` without an engine: a probe frame built with the wire emitters, run through the pipeline's
// own functions (Pipeline.fromPort, then Pipeline.fromUnderlay on the host owning the PA) over the
// compiled tables, with the engine's own actions (actions.ts) applied between the hops. The VM's view is
// simulated too: before the probe it resolves the next hop's MAC with ARP / a neighbor solicitation,
// which the host answers (or not) through the same pipeline.
import {ipv4FromString, ipv6FromString} from '../wire/address.js'
import {ArpOp, emitArp} from '../wire/arp.js'
import {ChecksumMode, ipv4PseudoSum, ipv6PseudoSum} from '../wire/checksum.js'
import {describeFrame, describePacket} from '../wire/describe.js'
import {emitEthernet, EtherType} from '../wire/ethernet.js'
import {emitIcmpv4, ICMPV4_ECHO_REQUEST} from '../wire/icmpv4.js'
import {emitIcmpv6, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_SOLICIT} from '../wire/icmpv6.js'
import {IpProto} from '../wire/ip.js'
import {emitIpv4, IPV4_HEADER_LEN} from '../wire/ipv4.js'
import {emitIpv6, IPV6_HEADER_LEN} from '../wire/ipv6.js'
import {emitTcp, TcpFlag} from '../wire/tcp.js'
import {emitUdp} from '../wire/udp.js'
import {parseIp, parsePrefix, prefixContains} from '../net/ip.js'
import {macToColon} from '../net/mac.js'
import {PolicyError} from '../cli/errors.js'
import {pushNvgre, rewriteRouted} from './actions.js'
import {rewriteToPa} from './nat.js'
import {explainTrace, recordVerdict, type Hop, type Trace} from './explain.js'
import {Action, Pipeline, Verdict} from './pipeline.js'
import {ADDR_DST, ADDR_SRC, ADDR_STRIDE, DEFAULT_HEADROOM} from './ports.js'
import {NONE, PA_STRIDE, macText, type ForwardingTable} from './table.js'

export const TRACE_PROTOCOLS = ['icmp', 'tcp', 'udp'] as const
export type TraceProtocol = (typeof TRACE_PROTOCOLS)[number]

/** One host the trace may cross: its compiled table and how people name it. */
export interface TraceHost {
  name: string
  table: ForwardingTable
}

export interface TraceSource {
  /** VMName and adapter Name (optional when the VM has one adapter). */
  vmName?: string
  adapter?: string
  /** Or the VSID and source CA (the adapter is the one with a lookup record for it). */
  vsid?: number
  source?: string
}

export interface TraceRequest extends TraceSource {
  destination: string
  protocol?: TraceProtocol
  /** Destination port for tcp/udp (default 80 / 53). */
  port?: number
  ttl?: number
  /** Length of the IP packet (default: headers and a 16-byte payload), to see what the MTU stage does with it. */
  size?: number
  /** Simulation only: the physical MTU of the underlay (default 1500), as the engine takes it from its links. */
  linkMtu?: number
}

/** The probe as built: the frame (with headroom before it) and where it starts. */
export interface Probe {
  buf: Buffer
  off: number
  end: number
  /** Adapter row in the table, the probe's source and destination CA text. */
  port: number
  source: string
  destination: string
  ttl: number
}

/** A recognisable payload, so a probe can be told from the VM's own traffic in captures. */
export const PROBE_PAYLOAD = Buffer.from('hnv-trace-probe!')
/** The first half of a live trace's probe payload; the second is random (runtime/diagnostics.ts). */
export const PROBE_MARK = Buffer.from('hnv-trc!')
const PROBE_IDENT = 0x686e
const PROBE_SPORT = 49_152
const DEFAULT_TTL = 64
/** The largest probe: an IPv4 packet's total length field. */
const MAX_PROBE_SIZE = 65_535
const FRAME_ROOM = 256

/** Finds the adapter a trace starts from; throws a PolicyError naming what exists. */
export function findSourcePort(t: ForwardingTable, spec: TraceSource): {port: number; source: string} {
  const ports = t.ports
  const all = Array.from({length: ports.count}, (_, i) => i)
  if (spec.vmName !== undefined) {
    const vm = spec.vmName.toLowerCase()
    let found = all.filter((p) => ports.vmName[p].toLowerCase() === vm)
    if (spec.adapter !== undefined) found = found.filter((p) => ports.adapter[p].toLowerCase() === spec.adapter!.toLowerCase())
    if (found.length === 0) {
      const known = all.map((p) => `${ports.vmName[p]}/${ports.adapter[p]}`).join(', ') || 'none'
      throw new PolicyError(`no VM network adapter ${spec.vmName}${spec.adapter === undefined ? '' : '/' + spec.adapter} in the policy (adapters: ${known})`)
    }
    if (found.length > 1) throw new PolicyError(`VM ${spec.vmName} has ${found.length} adapters: name one with -Adapter (${found.map((p) => ports.adapter[p]).join(', ')})`)
    const port = found[0]
    return {port, source: spec.source ?? sourceOf(t, port, spec.vmName)}
  }
  if (spec.vsid === undefined || spec.source === undefined) throw new PolicyError('give the source: -VMName (and -Adapter), or -VirtualSubnetID with -Source')
  const vsid = t.vsidIndex(spec.vsid)
  if (vsid === NONE) throw new PolicyError(`VirtualSubnetID ${spec.vsid} is not in the policy (VSIDs: ${Array.from(t.vsids.value).join(', ') || 'none'})`)
  const source = canonical(spec.source, '-Source')
  const record = findRecord(t, vsid, source)
  if (record === NONE) throw new PolicyError(`no lookup record for ${source} in VSID ${spec.vsid}: it is not a VM of this VSID`)
  const port = t.portByMac(vsid, t.records.macHi[record], t.records.macLo[record])
  if (port === NONE) {
    throw new PolicyError(`${source} in VSID ${spec.vsid} (MAC ${macText(t.records.macHi[record], t.records.macLo[record])}) has no adapter on this host: trace from the host it lives on`)
  }
  return {port, source}
}

function canonical(text: string, parameter: string): string {
  try {
    return parseIp(text).text
  } catch (error) {
    throw new PolicyError(`${parameter} ${(error as Error).message}`)
  }
}

/** The record of a CA in the VSID's routing domain, or NONE. */
export function findRecord(t: ForwardingTable, vsid: number, ca: string): number {
  const address = parseIp(ca)
  const domain = t.vsids.domain[vsid]
  if (address.family === 4) return t.record4(domain, ipv4FromString(address.text))
  return t.record6(domain, ipv6FromString(address.text), 0)
}

/** The adapter's first IPv4 CA (else IPv6): the records of its MAC in its VSID. */
function sourceOf(t: ForwardingTable, port: number, vmName: string): string {
  const vsid = t.ports.vsid[port]
  const cas: string[] = []
  for (let r = 0; r < t.records.count; r++) {
    if (t.records.vsid[r] === vsid && t.records.macHi[r] === t.ports.macHi[port] && t.records.macLo[r] === t.ports.macLo[port] && t.records.gateway[r] === NONE) {
      const text = t.records.caText[r]
      if (text !== '0.0.0.0' && text !== '::') cas.push(text)
    }
  }
  cas.sort((a, b) => Number(b.includes('.')) - Number(a.includes('.')))
  if (cas.length === 0) throw new PolicyError(`VM ${vmName} has no lookup record with its MAC ${t.ports.macText[port]}: give its address with -Source`)
  return cas[0]
}

/** The address the VM asks ARP/ND for: the destination when it is in the VM's own subnet, else the gateway. */
function neighborFor(t: ForwardingTable, port: number, source: string, destination: string): string {
  const vsid = t.ports.vsid[port]
  if (vsid === NONE) return destination
  const src = parseIp(source)
  const dst = parseIp(destination)
  const routes = t.routes
  for (let r = 0; r < routes.count; r++) {
    if (routes.vsid[r] !== vsid || routes.onLink[r] !== 1 || routes.family[r] !== src.family) continue
    const prefix = parsePrefix(routes.prefix[r])
    if (!prefixContains(prefix, src)) continue
    if (prefixContains(prefix, dst)) return destination
    const gateway = src.family === 4 ? t.vsids.gateway4[vsid] : t.vsids.gateway6[vsid]
    return gateway === NONE ? destination : t.gateways.addressText[gateway]
  }
  return destination
}

function frameBuffer(payload = 0): {buf: Buffer; off: number} {
  return {buf: Buffer.alloc(DEFAULT_HEADROOM + FRAME_ROOM + payload), off: DEFAULT_HEADROOM}
}

/** ARP request / neighbor solicitation from the adapter for `target`. */
export function buildNeighborProbe(t: ForwardingTable, port: number, source: string, target: string): Probe {
  const {buf, off} = frameBuffer()
  const srcMac = macToColon(t.ports.macText[port])
  const family = parseIp(target).family
  let end: number
  if (family === 4) {
    end = off + emitEthernet({dst: 'ff:ff:ff:ff:ff:ff', src: srcMac, etherType: EtherType.ARP}, buf, off)
    end += emitArp({operation: ArpOp.REQUEST, senderMac: srcMac, senderIp: ipv4FromString(source), targetMac: '00:00:00:00:00:00', targetIp: ipv4FromString(target)}, buf, end)
  } else {
    // Solicited-node multicast of the target (RFC 4291 §2.7.1), and its Ethernet group (RFC 2464 §7).
    const tb = ipv6FromString(target)
    const group = `ff02::1:ff${tb[13].toString(16).padStart(2, '0')}:${((tb[14] << 8) | tb[15]).toString(16)}`
    const groupMac = `33:33:ff:${[tb[13], tb[14], tb[15]].map((b) => b.toString(16).padStart(2, '0')).join(':')}`
    end = off + emitEthernet({dst: groupMac, src: srcMac, etherType: EtherType.IPV6}, buf, off)
    const ip = end
    const icmp = ip + 40
    const len = emitIcmpv6({type: ICMPV6_NEIGHBOR_SOLICIT, code: 0, target, sourceLla: srcMac}, buf, icmp, 0)
    emitIpv6({src: source, dst: group, nextHeader: IpProto.ICMPV6, hopLimit: 255, trafficClass: 0, flowLabel: 0, payloadLen: len}, buf, ip)
    emitIcmpv6({type: ICMPV6_NEIGHBOR_SOLICIT, code: 0, target, sourceLla: srcMac}, buf, icmp, ipv6PseudoSum(buf, ip + 8, ip + 24, IpProto.ICMPV6), ChecksumMode.COMPUTE)
    end = icmp + len
  }
  return {buf, off, end, port, source, destination: target, ttl: 255}
}

/** The probe itself: echo request, TCP SYN or UDP datagram from the adapter to `dstMac`. */
export function buildProbe(
  t: ForwardingTable,
  port: number,
  source: string,
  destination: string,
  dstMac: string,
  protocol: TraceProtocol,
  dport: number | undefined,
  ttl: number,
  payload: Buffer = PROBE_PAYLOAD,
  size?: number,
): Probe {
  const family = parseIp(source).family
  const headers = (family === 4 ? 20 : 40) + (protocol === 'tcp' ? 20 : 8)
  if (size !== undefined && (size < headers + payload.length || size > MAX_PROBE_SIZE)) {
    throw new PolicyError(`-Size ${size} is not from ${headers + payload.length} to ${MAX_PROBE_SIZE} (the ${protocol} probe's headers and marker take ${headers + payload.length} bytes)`)
  }
  // Padding goes in front: the marker stays the last bytes of the frame.
  const data = size === undefined ? payload : Buffer.concat([Buffer.alloc(size - headers - payload.length), payload])
  const {buf, off} = frameBuffer(data.length)
  const srcMac = macToColon(t.ports.macText[port])
  if (parseIp(destination).family !== family) throw new PolicyError(`the source ${source} and the destination ${destination} are of different address families`)
  const ip = off + emitEthernet({dst: dstMac, src: srcMac, etherType: family === 4 ? EtherType.IPV4 : EtherType.IPV6}, buf, off)
  const ipLen = family === 4 ? 20 : 40
  const l4 = ip + ipLen
  const proto = protocol === 'tcp' ? IpProto.TCP : protocol === 'udp' ? IpProto.UDP : family === 4 ? IpProto.ICMP : IpProto.ICMPV6
  const l4Header = protocol === 'tcp' ? 20 : 8
  const l4Len = l4Header + data.length
  if (family === 4) {
    emitIpv4({src: ipv4FromString(source), dst: ipv4FromString(destination), protocol: proto, ttl, tos: 0, ident: PROBE_IDENT, dontFrag: true, moreFrags: false, fragOffset: 0, payloadLen: l4Len, options: new Uint8Array(0)}, buf, ip)
  } else {
    emitIpv6({src: source, dst: destination, nextHeader: proto, hopLimit: ttl, trafficClass: 0, flowLabel: 0, payloadLen: l4Len}, buf, ip)
  }
  const pseudo = family === 4 ? ipv4PseudoSum(ipv4FromString(source), ipv4FromString(destination), proto) : ipv6PseudoSum(buf, ip + 8, ip + 24, proto)
  buf.set(data, l4 + l4Header)
  if (protocol === 'tcp') {
    emitTcp({srcPort: PROBE_SPORT, dstPort: dport ?? 80, seq: 1, ack: 0, flags: TcpFlag.SYN, window: 64_240, urgent: 0, options: new Uint8Array(0), payloadLen: data.length}, buf, l4, pseudo)
  } else if (protocol === 'udp') {
    emitUdp({srcPort: PROBE_SPORT, dstPort: dport ?? 53, payloadLen: data.length}, buf, l4, pseudo)
  } else if (family === 4) {
    emitIcmpv4({type: ICMPV4_ECHO_REQUEST, code: 0, ident: PROBE_IDENT, seq: 1, data}, buf, l4)
  } else {
    emitIcmpv6({type: ICMPV6_ECHO_REQUEST, code: 0, ident: PROBE_IDENT, seq: 1, data}, buf, l4, pseudo, ChecksumMode.COMPUTE)
  }
  return {buf, off, end: l4 + l4Len, port, source, destination, ttl}
}

/** The VM's side of a trace: its ARP / ND for the next hop (a hop), then the probe, or the trace so far when unanswered. */
export interface PreparedProbe {
  neighborHop: Hop
  probe: Probe | null
  /** The first line of the trace. */
  packet: string
  /** The adapter's TAP. */
  portName: string
}

/** Resolves the source, asks the pipeline for the next hop's MAC as the VM would, and builds the probe. */
export function prepareProbe(host: TraceHost, request: TraceRequest, payload: Buffer = PROBE_PAYLOAD, pipeline = new Pipeline()): PreparedProbe {
  const t = host.table
  const {port, source} = findSourcePort(t, request)
  const destination = canonical(request.destination, '-Destination')
  const protocol = request.protocol ?? 'icmp'
  if (parseIp(source).family !== parseIp(destination).family) throw new PolicyError(`the source ${source} and the destination ${destination} are of different address families`)
  const v = new Verdict()
  const neighbor = neighborFor(t, port, source, destination)
  const ask = buildNeighborProbe(t, port, source, neighbor)
  pipeline.fromPort(t, port, ask.buf, ask.off, ask.end, v)
  const neighborHop: Hop = {host: host.name, table: t, direction: 'from-port', packet: describeFrame(ask.buf, ask.off, ask.end), source, destination: null, ttl: null, neighbor, verdict: recordVerdict(v)}
  if (v.action !== Action.REPLY) {
    return {neighborHop, probe: null, packet: `${protocol} ${source} -> ${destination} from ${vmLabel(t, port)}: the VM cannot resolve ${neighbor}`, portName: t.ports.name[port]}
  }
  const dstMac = macToColon(macText(v.srcMacHi, v.srcMacLo))
  const probe = buildProbe(t, port, source, destination, dstMac, protocol, request.port, request.ttl ?? DEFAULT_TTL, payload, request.size)
  return {neighborHop, probe, packet: `${describeFrame(probe.buf, probe.off, probe.end)}, from ${vmLabel(t, port)}`, portName: t.ports.name[port]}
}

/**
 * Simulates the trace over `hosts` (the first is the source's host). Returns the steps; ENCAP to a PA
 * none of the hosts owns ends the trace there, saying so.
 */
export function simulateTrace(hosts: readonly TraceHost[], request: TraceRequest): Trace {
  const pipeline = new Pipeline()
  if (request.linkMtu !== undefined) {
    // What the engine does with its underlays' link MTU (engine.ts): the room for GRE and the frame.
    pipeline.underlayMtu[0] = request.linkMtu - IPV4_HEADER_LEN
    pipeline.underlayMtu[1] = request.linkMtu - IPV6_HEADER_LEN
  }
  const prepared = prepareProbe(hosts[0], request, PROBE_PAYLOAD, pipeline)
  if (prepared.probe === null) return explainTrace('simulated', prepared.packet, [prepared.neighborHop])
  return followProbe(hosts, prepared.probe, pipeline, new Verdict(), [prepared.neighborHop], prepared.packet)
}

function vmLabel(t: ForwardingTable, port: number): string {
  return `VM ${t.ports.vmName[port]} adapter '${t.ports.adapter[port]}'`
}

/** Runs the probe from its port, then across the underlay to the host owning the PA. */
function followProbe(hosts: readonly TraceHost[], probe: Probe, pipeline: Pipeline, v: Verdict, hops: Hop[], packet: string): Trace {
  const first = hosts[0]
  const t = first.table
  const {buf} = probe
  pipeline.fromPort(t, probe.port, buf, probe.off, probe.end, v)
  hops.push({host: first.name, table: t, direction: 'from-port', packet: describeFrame(buf, probe.off, probe.end), source: probe.source, destination: probe.destination, ttl: probe.ttl, verdict: recordVerdict(v)})
  if (v.action === Action.REWRITE) return followRewrite(hosts, probe, pipeline, v, hops, packet)
  if (v.action !== Action.ENCAP) return explainTrace('simulated', packet, hops)

  // What the engine does to it (engine.ts apply): the routed rewrite, the NVGRE header in the headroom.
  if (v.routed) rewriteRouted(buf, v)
  const start = pushNvgre(buf, v, 0)
  const paText = t.pas.text[v.pa]
  const peer = hosts.find((h) => h.table.localProviderAddresses().includes(paText))
  if (peer === undefined) return explainTrace('simulated', packet, hops, `no store of the host owning ${paText} given: add it with --peer-store to follow the packet there`)
  const family = t.pas.family[v.pa]
  const addrs = new Uint8Array(ADDR_STRIDE)
  const srcPa = senderPa(t, v.srcRecord, family)
  if (srcPa !== NONE) addrs.set(t.pas.bytes.subarray(srcPa * PA_STRIDE, srcPa * PA_STRIDE + (family === 4 ? 4 : 16)), ADDR_SRC)
  addrs.set(t.pas.bytes.subarray(v.pa * PA_STRIDE, v.pa * PA_STRIDE + (family === 4 ? 4 : 16)), ADDR_DST)
  const innerText = describeFrame(buf, v.frameOff, v.frameEnd)
  const ttl = v.routed ? probe.ttl - 1 : probe.ttl
  const end = v.frameEnd
  pipeline.fromUnderlay(peer.table, family, buf, start, end, addrs, 0, v)
  hops.push({host: peer.name, table: peer.table, direction: 'from-underlay', packet: innerText, source: probe.source, destination: probe.destination, ttl, verdict: recordVerdict(v)})
  return explainTrace('simulated', packet, hops)
}

/** TranslationMethodNat: what the engine sends (nat.ts rewriteToPa) and the host owning the destination PA. */
function followRewrite(hosts: readonly TraceHost[], probe: Probe, pipeline: Pipeline, v: Verdict, hops: Hop[], packet: string): Trace {
  const t = hosts[0].table
  const {buf} = probe
  if (v.routed) rewriteRouted(buf, v)
  rewriteToPa(t, buf, v)
  const paText = t.pas.text[v.pa]
  const peer = hosts.find((h) => h.table.localProviderAddresses().includes(paText))
  if (peer === undefined) return explainTrace('simulated', packet, hops, `no store of the host owning ${paText} given: add it with --peer-store to follow the packet there`)
  const start = v.outOff
  const end = v.outEnd
  const text = describePacket(buf, start, end)
  const ttl = v.routed ? probe.ttl - 1 : probe.ttl
  pipeline.fromPhysical(peer.table, v.family, buf, start, end, v)
  hops.push({host: peer.name, table: peer.table, direction: 'from-physical', packet: text, source: probe.source, destination: probe.destination, ttl, verdict: recordVerdict(v)})
  return explainTrace('simulated', packet, hops)
}

/** The PA the sending host sends from: the source record's when local and of the family, else its first local one. */
function senderPa(t: ForwardingTable, srcRecord: number, family: number): number {
  if (srcRecord !== NONE) {
    const pa = t.records.pa[srcRecord]
    if (t.pas.local[pa] === 1 && t.pas.family[pa] === family) return pa
  }
  for (let p = 0; p < t.pas.count; p++) if (t.pas.local[p] === 1 && t.pas.family[p] === family) return p
  return NONE
}
