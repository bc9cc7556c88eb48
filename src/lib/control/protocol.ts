// The engine's control protocol: newline-delimited JSON over a unix socket that only root may open
// (mode 0600 in a root-owned /run/hnv). One request per line, one response per line, matched by id:
//   -> {"id": 1, "method": "status"}
//   <- {"id": 1, "ok": true, "result": {...}}      or      {"id": 1, "ok": false, "error": "one line"}
// `stop` answers once the engine has stopped (its TAPs are gone), just before the socket closes;
// `status` answers a RuntimeStatus (below): the same object `hnv engine status --json` prints.
// `capture` streams the packets it captures as events ({time, direction, data: base64}) and ends with
// {packets}; `trace-arm`, `trace-inject` and `trace-collect` run a live trace (tap.ts).
import {createHash} from 'node:crypto'
import {realpathSync} from 'node:fs'
import {join, resolve} from 'node:path'
import type {EngineStatus, PortStatus, RecordStatus, UnderlayStatus, VsidStatus} from '../engine/engine.js'

export const CONTROL_METHODS = ['status', 'stop', 'capture', 'trace-arm', 'trace-inject', 'trace-collect'] as const
export type ControlMethod = (typeof CONTROL_METHODS)[number]

export interface ControlRequest {
  id: number
  method: ControlMethod
  /** Arguments of capture and the trace methods. */
  params?: Record<string, unknown>
}

/**
 * One line of an answer. A streaming method (capture) sends any number of `event` lines before its one
 * final `result` (or `error`) line.
 */
export type ControlResponse =
  | {id: number | null; ok: true; result: unknown}
  | {id: number | null; ok: true; event: unknown}
  | {id: number | null; ok: false; error: string}

/** Where the sockets live: /run is a tmpfs, so a socket never outlives a reboot. */
export const CONTROL_DIR = '/run/hnv'
/** The engine of the default (root) store. */
export const DEFAULT_SOCKET = join(CONTROL_DIR, 'engine.sock')
const ROOT_DEFAULT_STORE = '/var/lib/hnv/policy.db'

/** A request line longer than this is not ours: the connection is closed. */
export const MAX_LINE = 64 * 1024

/**
 * The control socket of the engine serving `store`: /run/hnv/engine.sock for the default store, else
 * /run/hnv/engine-<hash of the store's real path>.sock, so engines over different stores on one machine
 * (the demo's two hosts) never share a socket, and every spelling of one path finds the same engine.
 */
export function controlSocketPath(store: string): string {
  const path = canonicalPath(store)
  if (path === ROOT_DEFAULT_STORE) return DEFAULT_SOCKET
  const digest = createHash('sha256').update(path).digest('hex').slice(0, 16)
  return join(CONTROL_DIR, `engine-${digest}.sock`)
}

function canonicalPath(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return resolve(path)
  }
}

export function isControlRequest(value: unknown): value is ControlRequest {
  if (typeof value !== 'object' || value === null) return false
  const {id, method, params} = value as Record<string, unknown>
  const paramsOk = params === undefined || (typeof params === 'object' && params !== null && !Array.isArray(params))
  return Number.isSafeInteger(id) && CONTROL_METHODS.includes(method as ControlMethod) && paramsOk
}

// ---- what `status` answers ----

/** How long the latest applied revision took, from noticing it to having it in force. */
export interface ApplyTiming {
  revision: number
  /** Unix epoch milliseconds at which the new table was in force. */
  appliedAt: number
  /** Reading the store and compiling: only the rows the change log names when it can, else everything. */
  loadMs: number
  load: string
  swapMs: number
}

export interface RuntimeError {
  revision: number | null
  message: string
  at: string
}

/**
 * What `hnv engine status` shows: the process and the policy it applies (the runtime's), then the
 * provider addresses, ports and counters (the core's status, with the host facts the runtime knows).
 */
export interface RuntimeStatus {
  pid: number
  store: string
  socket: string
  startedAt: string
  uptimeSeconds: number
  /** Revision of the table in force, and the store's current one (they differ while a bad revision waits). */
  revision: number
  storeRevision: number
  lastApply: ApplyTiming
  /** Why the store's current revision is not (fully) in force; null when it is. */
  lastError: RuntimeError | null
  /** MTU of the TAPs: the smallest physical MTU of the provider addresses minus NVGRE's overhead. */
  tapMtu: number
  providerAddresses: ({address: string; interface: string; interfaceIndex: number; linkMtu: number} & UnderlayStatus)[]
  ports: (PortStatus & {mtu: number | null})[]
  vsids: VsidStatus[]
  /** Every drop reason by name, zero included. */
  drops: Record<string, number>
  /** Frames the engine answered itself (ARP, ND, echo, time exceeded). */
  replies: Record<string, number>
  /** TAP offloads: super-frames segmented, segments coalesced (offload.ts counters). */
  offload: EngineStatus['offload']
  /** The per-flow decision cache: hits, misses, stores, evictions, bypassed, unstored; null when it is off. */
  flowCache: EngineStatus['flowCache']
  /** Where TCP super-frames are segmented, per provider address: kernel GSO (tcx) or userspace, and why. */
  segmentation?: string
  /** Packets and bytes per lookup record that traffic resolved to (records never used are left out). */
  records: RecordStatus[]
  /** Broadcast, multicast and L2Only ARP copied by source replication: frames, portCopies, underlayCopies. */
  flood?: Record<string, number>
  /** Dynamic lookup records: their age, and how many were learned and removed since the start. */
  learning?: {dynamicAgeSeconds: number; learned: number; aged: number}
}
