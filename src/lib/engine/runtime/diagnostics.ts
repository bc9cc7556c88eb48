// The running engine's side of `hnv capture` and `hnv trace --live` (control methods capture, trace-arm,
// trace-inject, trace-collect): it arms the engine's tap (tap.ts) while a capture or a live trace needs it,
// streams captured packets over the control socket, injects trace probes into a port, and hands back the
// explained hops. When nothing is armed the engine's tap is null again: zero cost.
import {randomBytes} from 'node:crypto'
import {EngineError} from '../../control/errors.js'
import type {ControlStream} from '../../control/server.js'
import {explainHop, type TraceStep} from '../explain.js'
import type {Engine} from '../engine.js'
import {Capture, LiveTrace, TapSet, captureLinkType, type CaptureTarget} from '../tap.js'
import {PROBE_MARK, prepareProbe, TRACE_PROTOCOLS, type TraceProtocol, type TraceRequest} from '../trace.js'

/** A live trace disarms itself after this long if nobody collects it. */
const TRACE_TTL_MS = 30_000
/** Most packets one capture may ask for (without a count it runs until its duration or the client ends it). */
const MAX_CAPTURE_PACKETS = 1_000_000

export class RuntimeDiagnostics {
  private readonly taps = new TapSet()
  private readonly traces = new Map<string, {trace: LiveTrace; timer: NodeJS.Timeout}>()
  /** How to end each running capture (its answer is sent, its client's stream ends). */
  private readonly finishers = new Set<() => void>()

  constructor(
    private readonly engine: Engine,
    private readonly hostName: () => string,
  ) {}

  private rearm(): void {
    this.engine.tap = this.taps.empty ? null : this.taps
  }

  /** Streams what the target sees until `count` packets, `durationMs` or the client goes; answers {packets}. */
  capture(params: Record<string, unknown>, stream: ControlStream): Promise<{packets: number; linkType: number}> {
    const target = captureTarget(params, this.engine)
    const count = integer(params.count, 'count', 0, MAX_CAPTURE_PACKETS) ?? 0
    const durationMs = integer(params.durationMs, 'duration', 0, 86_400_000) ?? 0
    const linkType = captureLinkType(target)
    return new Promise((resolve) => {
      let packets = 0
      let timer: NodeJS.Timeout | undefined
      const finish = (): void => {
        this.finishers.delete(finish)
        if (!this.taps.captures.delete(capture)) return
        clearTimeout(timer)
        this.rearm()
        resolve({packets, linkType})
      }
      this.finishers.add(finish)
      const capture = new Capture(
        target,
        count,
        (packet) => {
          packets++
          stream.send({time: packet.time, direction: packet.direction, data: packet.data.toString('base64')})
        },
        // Counted out inside a batch: end after the engine is done with it.
        () => setImmediate(finish),
      )
      this.taps.captures.add(capture)
      this.rearm()
      stream.send({linkType})
      if (durationMs > 0) timer = setTimeout(finish, durationMs)
      stream.onClose(finish)
    })
  }

  /** Arms a live trace for `marker` (hex): marked packets' verdicts are recorded on this engine. */
  traceArm(params: Record<string, unknown>): {armed: string} {
    const marker = markerOf(params)
    this.traceDisarm(marker.toString('hex'))
    const trace = new LiveTrace(marker, this.hostName())
    const timer = setTimeout(() => this.traceDisarm(marker.toString('hex')), TRACE_TTL_MS)
    timer.unref()
    this.traces.set(marker.toString('hex'), {trace, timer})
    this.taps.traces.add(trace)
    this.rearm()
    return {armed: this.hostName()}
  }

  /** Builds the probe with the table in force and injects it into the source adapter's port. */
  traceInject(params: Record<string, unknown>): {packet: string; steps: TraceStep[]; injected: boolean} {
    const marker = markerOf(params)
    const table = this.engine.table()
    if (table === null) throw new EngineError('the engine has no policy table yet')
    const request = traceRequest(params.request)
    const prepared = prepareProbe({name: this.hostName(), table}, request, marker)
    const neighborSteps = explainHop(prepared.neighborHop)
    const steps = neighborSteps.length > 0 && prepared.probe !== null ? [neighborSteps[neighborSteps.length - 1]] : neighborSteps
    if (prepared.probe === null) return {packet: prepared.packet, steps, injected: false}
    const {buf, off, end} = prepared.probe
    if (!this.engine.inject(prepared.portName, buf.subarray(off, end))) {
      throw new EngineError(`the TAP ${prepared.portName} of the source adapter is not attached to this engine`)
    }
    return {packet: prepared.packet, steps, injected: true}
  }

  /** The hops this engine recorded for `marker`, explained; disarms it. */
  traceCollect(params: Record<string, unknown>): {host: string; hops: ReturnType<LiveTrace['reports']>} {
    const key = markerOf(params).toString('hex')
    const armed = this.traces.get(key)
    if (armed === undefined) return {host: this.hostName(), hops: []}
    this.traceDisarm(key)
    return {host: this.hostName(), hops: armed.trace.reports()}
  }

  private traceDisarm(key: string): void {
    const armed = this.traces.get(key)
    if (armed === undefined) return
    clearTimeout(armed.timer)
    this.traces.delete(key)
    this.taps.traces.delete(armed.trace)
    this.rearm()
  }

  close(): void {
    for (const key of [...this.traces.keys()]) this.traceDisarm(key)
    for (const finish of [...this.finishers]) finish()
    this.rearm()
  }
}

/** A fresh marker: the probe's recognisable prefix and 8 random bytes, as hex. */
export function newTraceMarker(): string {
  return Buffer.concat([PROBE_MARK, randomBytes(8)]).toString('hex')
}

function markerOf(params: Record<string, unknown>): Buffer {
  const text = params.marker
  if (typeof text !== 'string' || !/^[0-9a-f]{32}$/.test(text)) throw new EngineError('marker must be 32 hex digits')
  return Buffer.from(text, 'hex')
}

function integer(value: unknown, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) throw new EngineError(`${name} ${String(value)} is not a whole number from ${min} to ${max}`)
  return value
}

function captureTarget(params: Record<string, unknown>, engine: Engine): CaptureTarget {
  const table = engine.table()
  switch (params.target) {
    case 'port': {
      const name = params.name
      const names = engine.status().ports.map((p) => p.name)
      if (typeof name !== 'string' || !names.includes(name)) throw new EngineError(`no TAP ${String(name)} on this engine (TAPs: ${names.join(', ') || 'none'})`)
      return {kind: 'port', name}
    }
    case 'vsid': {
      const vsid = integer(params.vsid, 'VSID', 0, 16_777_215)
      if (vsid === undefined || table === null || table.vsidIndex(vsid) < 0) {
        throw new EngineError(`VSID ${String(params.vsid)} is not in the policy in force (VSIDs: ${table === null ? 'none' : Array.from(table.vsids.value).join(', ')})`)
      }
      return {kind: 'vsid', vsid}
    }
    case 'underlay':
      return {kind: 'underlay'}
    default:
      throw new EngineError(`capture target ${String(params.target)} is not port, vsid or underlay`)
  }
}

function traceRequest(value: unknown): TraceRequest {
  if (typeof value !== 'object' || value === null) throw new EngineError('trace-inject needs a request')
  const r = value as Record<string, unknown>
  const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined)
  const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)
  const protocol = text(r.protocol)
  if (protocol !== undefined && !TRACE_PROTOCOLS.includes(protocol as TraceProtocol)) throw new EngineError(`protocol ${protocol} is not icmp, tcp or udp`)
  const destination = text(r.destination)
  if (destination === undefined) throw new EngineError('trace-inject needs a destination')
  return {vmName: text(r.vmName), adapter: text(r.adapter), vsid: num(r.vsid), source: text(r.source), destination, protocol: protocol as TraceProtocol | undefined, port: num(r.port), ttl: num(r.ttl), size: num(r.size)}
}
