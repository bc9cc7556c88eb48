// `hnv engine start --detach`: the same command run again as a child in its own session, its output
// appended to a log file, and the parent waiting until the child says it is ready (over an IPC channel
// it then drops) or has failed (its last error line from the log).
import {spawn} from 'node:child_process'
import {closeSync, mkdirSync, openSync, readFileSync, statSync} from 'node:fs'
import {dirname} from 'node:path'
import {fileURLToPath} from 'node:url'
import {EngineError} from '../../control/errors.js'

/** bin/run.js, from src/lib/engine/runtime (tsx) and dist/lib/engine/runtime alike. */
const BIN = fileURLToPath(new URL('../../../../bin/run.js', import.meta.url))
/** Set in the child's environment: report readiness over the IPC channel. */
const READY_ENV = 'HNV_ENGINE_NOTIFY'

interface ReadyMessage {
  ready: true
  pid: number
}

export interface DetachOptions {
  store: string
  socket: string
  pollMs: number
  tapMtu?: number
  /** TAP offloads (default true). */
  offload?: boolean
  /** Kernel GSO for TCP super-frames (default true). */
  kernelGso?: boolean
  /** The per-flow decision cache (default true). */
  flowCache?: boolean
  /** HOST:PORT of the Prometheus endpoint, as given. */
  metrics?: string
  /** Seconds before an unused Dynamic lookup record is removed. */
  dynamicAge?: number
  /** Default: the socket's path with .log for .sock. */
  logFile?: string
}

/** `hnv engine start` with these options, detached; resolves once it is ready. */
export async function startEngineDetached(options: DetachOptions): Promise<{pid: number; logFile: string}> {
  const logFile = options.logFile ?? options.socket.replace(/\.sock$/, '') + '.log'
  const args = ['engine', 'start', '--store', options.store, '--socket', options.socket, '--poll-interval', String(options.pollMs)]
  if (options.tapMtu !== undefined) args.push('--tap-mtu', String(options.tapMtu))
  if (options.offload === false) args.push('--no-offload')
  if (options.kernelGso === false) args.push('--no-kernel-gso')
  if (options.flowCache === false) args.push('--no-flow-cache')
  if (options.metrics !== undefined) args.push('--metrics', options.metrics)
  if (options.dynamicAge !== undefined) args.push('--dynamic-age', String(options.dynamicAge))
  const {pid} = await startDetached(args, logFile)
  return {pid, logFile}
}

/**
 * Starts `hnv <args>` detached and resolves with its pid once it is ready; rejects with the child's own
 * error line if it exits first, or after `timeoutMs`.
 */
export function startDetached(args: string[], logFile: string, timeoutMs = 30_000): Promise<{pid: number}> {
  mkdirSync(dirname(logFile), {recursive: true, mode: 0o755})
  const log = openSync(logFile, 'a', 0o600)
  const logStart = statSync(logFile).size
  const child = spawn(process.execPath, [BIN, ...args], {
    detached: true,
    stdio: ['ignore', log, log, 'ipc'],
    env: {...process.env, [READY_ENV]: 'ipc'},
  })
  closeSync(log)
  return new Promise((resolve, reject) => {
    const done = (error: Error | null, pid?: number): void => {
      clearTimeout(timer)
      child.removeAllListeners()
      if (child.connected) child.disconnect()
      child.unref()
      if (error) reject(error)
      else resolve({pid: pid!})
    }
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      done(new EngineError(`the engine did not report ready within ${timeoutMs / 1000} s; see ${logFile}`))
    }, timeoutMs)
    child.on('message', (message: Partial<ReadyMessage>) => {
      if (message.ready) done(null, message.pid ?? child.pid!)
    })
    child.on('error', (error) => done(new EngineError(`cannot start the engine process: ${error.message}`)))
    child.on('exit', (code, signal) => {
      const text = readFileSync(logFile, 'utf8').slice(logStart)
      const reason = text
        .split('\n')
        .filter((line) => line.startsWith('hnv: '))
        .pop()
        ?.slice('hnv: '.length)
      done(new EngineError(reason ?? `the engine exited (${signal ?? `code ${code}`}) before it was ready; see ${logFile}`))
    })
  })
}

/** In a detached child: tell the parent we are ready, then let go of the channel. A no-op otherwise. */
export function notifyReady(): void {
  if (process.env[READY_ENV] !== 'ipc') return
  delete process.env[READY_ENV]
  // The parent may be gone already (Ctrl-C while it waited): then there is nobody to tell.
  if (!process.send || !process.connected) return
  const message: ReadyMessage = {ready: true, pid: process.pid}
  process.send(message, () => {
    if (process.connected) process.disconnect()
  })
}
