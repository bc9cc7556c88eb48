// Diagnostics hooks of a running engine: packet capture (`hnv capture`) and live trace (`hnv trace
// --live`). The engine holds one `EngineTap` reference, null unless something is armed, and looks at it
// once per batch (engine.ts); everything here runs only while armed, on the control path's budget
// (copies and objects are fine here, never in the engine's loop).
//
// Live trace: a probe frame carries a random marker as its last bytes (trace.ts PROBE_PAYLOAD + token).
// When a batch holds a marked frame, the tap asks the engine's own pipeline for the verdict over the
// table in force, on a copy, before the engine processes the batch with that same pipeline and table:
// what is recorded is the decision the engine is about to act on, on every host that sees the packet.
import {IPV6_ADDR_LEN, ipv4ToString, ipv6ToString} from '../wire/address.js'
import {describeFrame} from '../wire/describe.js'
import {IpProto} from '../wire/ip.js'
import {writeIpv4Header} from '../wire/ipv4.js'
import {writeIpv6Fixed} from '../wire/ipv6.js'
import {LINKTYPE_ETHERNET, LINKTYPE_RAW} from '../wire/pcap.js'
import {NVGRE_HEADER_LEN, parseNvgre} from '../wire/nvgre.js'
import {explainHop, outcomeOf, recordVerdict, resultOf, type Hop, type TraceOutcome, type TraceStep} from './explain.js'
import {Verdict} from './pipeline.js'
import {ADDR_DST, ADDR_SRC, ADDR_STRIDE, DEST_STRIDE, type PacketBatch, type RxBatch, type UnderlayRxBatch, type UnderlayTxBatch} from './ports.js'
import {NONE, type ForwardingTable} from './table.js'

/** What the engine lets a tap do: its table, and its pipeline's decisions. */
export interface TapHost {
  table(): ForwardingTable | null
  /** The engine's own pipeline on a frame from a port / a packet from the underlay (into `v`). */
  decidePort(port: number, buf: Buffer, off: number, end: number, v: Verdict): void
  decideUnderlay(family: number, buf: Buffer, off: number, end: number, addrs: Uint8Array, addrOff: number, v: Verdict): void
}

/** Called by the engine once per batch while armed. */
export interface EngineTap {
  portIn(host: TapHost, name: string, tablePort: number, batch: RxBatch, vnetLen: number): void
  portOut(host: TapHost, name: string, tablePort: number, batch: PacketBatch, count: number, vnetLen: number): void
  underlayIn(host: TapHost, family: number, batch: UnderlayRxBatch): void
  underlayOut(host: TapHost, family: number, local: Uint8Array | null, batch: UnderlayTxBatch, count: number): void
}

// ---- capture ----

export type CaptureTarget = {kind: 'port'; name: string} | {kind: 'vsid'; vsid: number} | {kind: 'underlay'}

export interface CapturedPacket {
  /** Epoch microseconds. */
  time: number
  /** in / out, from the engine's point of view. */
  direction: 'in' | 'out'
  data: Buffer
}

export function captureLinkType(target: CaptureTarget): number {
  return target.kind === 'underlay' ? LINKTYPE_RAW : LINKTYPE_ETHERNET
}

/** One armed capture: filters what the engine sees, hands copies to `sink`, stops itself after `count`. */
export class Capture {
  private taken = 0
  done = false

  constructor(
    readonly target: CaptureTarget,
    private readonly count: number,
    private readonly sink: (packet: CapturedPacket) => void,
    private readonly onDone: () => void,
  ) {}

  private take(direction: 'in' | 'out', data: Buffer): void {
    if (this.done) return
    this.sink({time: Date.now() * 1000, direction, data})
    this.taken++
    if (this.count > 0 && this.taken >= this.count) {
      this.done = true
      this.onDone()
    }
  }

  portFrames(t: ForwardingTable | null, name: string, tablePort: number, batch: PacketBatch, count: number, skip: number, direction: 'in' | 'out'): void {
    const target = this.target
    if (target.kind === 'underlay') return
    if (target.kind === 'port' && target.name !== name) return
    if (target.kind === 'vsid' && (t === null || tablePort === NONE || t.ports.vsidValue[tablePort] !== target.vsid)) return
    for (let i = 0; i < count && !this.done; i++) {
      const off = batch.offsets[i] + skip
      const end = batch.offsets[i] + batch.lengths[i]
      if (end > off) this.take(direction, Buffer.from(batch.buffer.subarray(off, end)))
    }
  }

  underlayPacket(family: number, buf: Buffer, off: number, end: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number, direction: 'in' | 'out'): void {
    const target = this.target
    if (target.kind === 'port') return
    if (target.kind === 'vsid') {
      let vsid: number
      try {
        vsid = parseNvgre(buf, off, end).vsid
      } catch {
        return
      }
      if (vsid === target.vsid && end > off + NVGRE_HEADER_LEN) this.take(direction, Buffer.from(buf.subarray(off + NVGRE_HEADER_LEN, end)))
      return
    }
    this.take(direction, withOuterHeader(family, buf, off, end, src, srcOff, dst, dstOff))
  }
}

/** The GRE packet behind the outer IP header the kernel added or stripped (for LINKTYPE_RAW captures). */
function withOuterHeader(family: number, buf: Buffer, off: number, end: number, src: Uint8Array, srcOff: number, dst: Uint8Array, dstOff: number): Buffer {
  const len = end - off
  const header = family === 4 ? 20 : 40
  const out = Buffer.alloc(header + len)
  if (family === 4) {
    const word = (b: Uint8Array, o: number): number => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
    writeIpv4Header(out, 0, 20, 0, header + len, 0, 0, 64, IpProto.GRE, word(src, srcOff), word(dst, dstOff))
    let sum = 0
    for (let i = 0; i < 20; i += 2) sum += (out[i] << 8) | out[i + 1]
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
    out.writeUInt16BE(~sum & 0xffff, 10)
  } else {
    writeIpv6Fixed(out, 0, 0, 0, len, IpProto.GRE, 64)
    out.set(src.subarray(srcOff, srcOff + IPV6_ADDR_LEN), 8)
    out.set(dst.subarray(dstOff, dstOff + IPV6_ADDR_LEN), 24)
  }
  buf.copy(out, header, off, end)
  return out
}

// ---- live trace ----

/** What one engine did with a marked packet: the explained steps of its hop (explain.ts). */
export interface LiveHopReport {
  /** Epoch milliseconds, to order the hops of several engines. */
  time: number
  packet: string
  steps: TraceStep[]
  result: string
  outcome: TraceOutcome
}

export class LiveTrace {
  readonly hops: {time: number; hop: Hop}[] = []
  private readonly verdict = new Verdict()

  constructor(
    readonly marker: Buffer,
    /** How this host is named in the steps (its provider addresses). */
    readonly host: string,
  ) {}

  private marked(buf: Buffer, end: number): boolean {
    const m = this.marker.length
    return end - m >= 0 && buf.compare(this.marker, 0, m, end - m, end) === 0
  }

  portBatch(host: TapHost, tablePort: number, batch: RxBatch, vnetLen: number): void {
    const table = host.table()
    if (table === null) return
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offsets[i] + vnetLen
      const end = batch.offsets[i] + batch.lengths[i]
      if (!this.marked(batch.buffer, end)) continue
      const copy = Buffer.alloc(end - off + 128)
      batch.buffer.copy(copy, 128, off, end)
      const packet = describeFrame(copy, 128, copy.length)
      const fields = innerFields(copy, 128, copy.length)
      host.decidePort(tablePort, copy, 128, copy.length, this.verdict)
      this.hops.push({time: Date.now(), hop: {host: this.host, table, direction: 'from-port', packet, ...fields, verdict: recordVerdict(this.verdict)}})
    }
  }

  underlayBatch(host: TapHost, family: number, batch: UnderlayRxBatch): void {
    const table = host.table()
    if (table === null) return
    for (let i = 0; i < batch.count; i++) {
      const off = batch.offsets[i]
      const end = off + batch.lengths[i]
      if (!this.marked(batch.buffer, end)) continue
      const copy = Buffer.from(batch.buffer.subarray(off, end))
      const addrs = Uint8Array.from(batch.addrs.subarray(i * ADDR_STRIDE, (i + 1) * ADDR_STRIDE))
      const packet = describeFrame(copy, NVGRE_HEADER_LEN, copy.length)
      const fields = innerFields(copy, NVGRE_HEADER_LEN, copy.length)
      host.decideUnderlay(family, copy, 0, copy.length, addrs, 0, this.verdict)
      this.hops.push({time: Date.now(), hop: {host: this.host, table, direction: 'from-underlay', packet, ...fields, verdict: recordVerdict(this.verdict)}})
    }
  }

  /** The recorded hops, explained over the tables they were decided with. */
  reports(): LiveHopReport[] {
    return this.hops.map(({time, hop}) => ({time, packet: hop.packet, steps: explainHop(hop), result: resultOf([hop]), outcome: outcomeOf([hop])}))
  }
}

/** Source, destination and TTL of the IP packet in an Ethernet frame (null for ARP and the like). */
function innerFields(buf: Buffer, off: number, end: number): {source: string | null; destination: string | null; ttl: number | null} {
  if (end - off < 14) return {source: null, destination: null, ttl: null}
  const type = buf.readUInt16BE(off + 12)
  const ip = off + 14
  if (type === 0x0800 && end - ip >= 20) return {source: ipv4ToString(buf.readUInt32BE(ip + 12)), destination: ipv4ToString(buf.readUInt32BE(ip + 16)), ttl: buf[ip + 8]}
  if (type === 0x86dd && end - ip >= 40) return {source: ipv6ToString(buf, ip + 8), destination: ipv6ToString(buf, ip + 24), ttl: buf[ip + 7]}
  return {source: null, destination: null, ttl: null}
}

// ---- the set the engine holds ----

/** Every capture and live trace armed on one engine; the engine's `tap` while any is. */
export class TapSet implements EngineTap {
  readonly captures = new Set<Capture>()
  readonly traces = new Set<LiveTrace>()

  get empty(): boolean {
    return this.captures.size === 0 && this.traces.size === 0
  }

  portIn(host: TapHost, name: string, tablePort: number, batch: RxBatch, vnetLen: number): void {
    for (const trace of this.traces) trace.portBatch(host, tablePort, batch, vnetLen)
    for (const capture of this.captures) capture.portFrames(host.table(), name, tablePort, batch, batch.count, vnetLen, 'in')
  }

  portOut(host: TapHost, name: string, tablePort: number, batch: PacketBatch, count: number, vnetLen: number): void {
    for (const capture of this.captures) capture.portFrames(host.table(), name, tablePort, batch, count, vnetLen, 'out')
  }

  underlayIn(host: TapHost, family: number, batch: UnderlayRxBatch): void {
    for (const trace of this.traces) trace.underlayBatch(host, family, batch)
    for (const capture of this.captures) {
      for (let i = 0; i < batch.count; i++) {
        const off = batch.offsets[i]
        capture.underlayPacket(family, batch.buffer, off, off + batch.lengths[i], batch.addrs, i * ADDR_STRIDE + ADDR_SRC, batch.addrs, i * ADDR_STRIDE + ADDR_DST, 'in')
      }
    }
  }

  underlayOut(host: TapHost, family: number, local: Uint8Array | null, batch: UnderlayTxBatch, count: number): void {
    if (this.captures.size === 0) return
    const src = local ?? new Uint8Array(16)
    for (const capture of this.captures) {
      for (let i = 0; i < count; i++) {
        const off = batch.offsets[i]
        capture.underlayPacket(family, batch.buffer, off, off + batch.lengths[i], src, 0, batch.destinations, i * DEST_STRIDE, 'out')
      }
    }
  }
}
