// `hnv trace --live`: a marked probe injected into the source host's running engine, the verdicts every
// engine recorded for it collected and put in the order they happened (runtime/diagnostics.ts, tap.ts).
// The hops are explained by each engine over its own table, in the format of the simulated trace.
import {setTimeout as sleep} from 'node:timers/promises'
import type {Trace, TraceOutcome, TraceStep} from '../engine/explain.js'
import {newTraceMarker} from '../engine/runtime/diagnostics.js'
import type {LiveHopReport} from '../engine/tap.js'
import type {TraceRequest} from '../engine/trace.js'
import {controlRequest} from './client.js'

export interface LiveEngine {
  socket: string
  /** Names it in errors: "for store /var/lib/hnv/host2.db". */
  context: string
}

/** How long the engines get to move the probe before their records are collected. */
export const LIVE_SETTLE_MS = 300

export async function liveTrace(source: LiveEngine, peers: readonly LiveEngine[], request: TraceRequest): Promise<Trace> {
  const marker = newTraceMarker()
  const engines = [source, ...peers]
  for (const e of engines) await controlRequest(e.socket, 'trace-arm', {params: {marker}, context: e.context})
  let injected: {packet: string; steps: TraceStep[]; injected: boolean}
  const reports: LiveHopReport[] = []
  try {
    injected = (await controlRequest(source.socket, 'trace-inject', {params: {marker, request: {...request}}, context: source.context})) as typeof injected
    if (injected.injected) await sleep(LIVE_SETTLE_MS)
  } finally {
    for (const e of engines) {
      const answer = (await controlRequest(e.socket, 'trace-collect', {params: {marker}, context: e.context})) as {hops: LiveHopReport[]}
      reports.push(...answer.hops)
    }
  }
  reports.sort((a, b) => a.time - b.time)
  // The probe's own path ends at its first delivery, drop or reply; what follows (the VM's answer, an ICMP
  // error quoting the probe) carries the marker too, but is another packet.
  const end = reports.findIndex((r) => r.outcome.Action !== 'encap')
  if (end >= 0) reports.splice(end + 1)
  const last = reports[reports.length - 1]
  const none: TraceOutcome = {Action: 'drop', Host: null, Stage: null, Reason: null, InterfaceName: null, ProviderAddress: null}
  return {
    Mode: 'live',
    Packet: injected.packet,
    Steps: [...injected.steps, ...reports.flatMap((r) => r.steps)],
    Result: !injected.injected ? 'not sent: the VM cannot resolve its next hop' : last === undefined ? 'no engine saw the probe' : last.result,
    Outcome: !injected.injected ? (injected.steps.length > 0 ? {...none, Stage: injected.steps[injected.steps.length - 1].Stage, Reason: injected.steps[injected.steps.length - 1].Drop?.Reason ?? null} : none) : last?.outcome ?? none,
  }
}
