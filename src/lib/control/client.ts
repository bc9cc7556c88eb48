// The CLI's end of the control socket: one request, one answer, errors in words an operator can act on.
import {createConnection} from 'node:net'
import {EngineError} from './errors.js'
import {type ControlMethod, type ControlResponse, MAX_LINE} from './protocol.js'

export interface RequestOptions {
  /** Give up waiting for the answer after this long (default 5 s). */
  timeoutMs?: number
  /** Names the engine in messages: "for store /var/lib/hnv/policy.db". */
  context?: string
  /** The method's arguments. */
  params?: Record<string, unknown>
  /** Hears a streaming method's events (capture), in order, before the result. */
  onEvent?: (event: unknown) => void
  /** Ends the request early (the connection closes; the engine stops what it streamed): resolves with null. */
  signal?: AbortSignal
}

let nextId = 1

/** Sends one request to the engine at `socketPath` and returns its result; throws EngineError otherwise. */
export function controlRequest(socketPath: string, method: ControlMethod, options: RequestOptions = {}): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? 5000
  const params = options.params
  const context = options.context ? ` ${options.context}` : ''
  const id = nextId++
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    let received = ''
    let settled = false
    const finish = (error: Error | null, result?: unknown): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(result)
    }
    const timer: NodeJS.Timeout | undefined = timeoutMs <= 0 ? undefined : setTimeout(
      () => finish(new EngineError(`the engine${context} did not answer '${method}' within ${timeoutMs / 1000} s (socket ${socketPath})`)),
      timeoutMs,
    )
    if (options.signal !== undefined) {
      if (options.signal.aborted) finish(null, null)
      else options.signal.addEventListener('abort', () => finish(null, null), {once: true})
    }
    socket.setEncoding('utf8')
    socket.once('connect', () => socket.write(JSON.stringify(params === undefined ? {id, method} : {id, method, params}) + '\n'))
    socket.on('error', (error: NodeJS.ErrnoException) => finish(connectError(error, socketPath, context)))
    socket.on('data', (chunk: string) => {
      received += chunk
      let newline: number
      while (!settled && (newline = received.indexOf('\n')) >= 0) {
        const line = received.slice(0, newline)
        received = received.slice(newline + 1)
        let response: ControlResponse
        try {
          response = JSON.parse(line) as ControlResponse
        } catch {
          finish(new EngineError(`the engine${context} answered with something that is not JSON (socket ${socketPath})`))
          return
        }
        if (!response.ok) finish(new EngineError(response.error))
        else if ('event' in response) options.onEvent?.(response.event)
        else finish(null, response.result)
      }
      if (received.length > 64 * MAX_LINE) finish(new EngineError(`the engine${context} sent an answer too long to be one`))
    })
    socket.on('close', () => finish(new EngineError(`the engine${context} closed the control connection without answering '${method}'`)))
  })
}

/** True when an engine answers on the socket (used before starting a second one). */
export async function engineAnswers(socketPath: string): Promise<boolean> {
  try {
    await controlRequest(socketPath, 'status', {timeoutMs: 2000})
    return true
  } catch {
    return false
  }
}

function connectError(error: NodeJS.ErrnoException, socketPath: string, context: string): EngineError {
  switch (error.code) {
    case 'ENOENT':
      return new EngineError(`no engine is running${context} (no control socket ${socketPath}); start one: hnv engine start`)
    case 'ECONNREFUSED':
      return new EngineError(`no engine is running${context} (${socketPath} is left over from one that stopped)`)
    case 'EACCES':
    case 'EPERM':
      return new EngineError(`only root may talk to the engine (${socketPath} is root's, mode 0600): run this as root`)
    default:
      return new EngineError(`cannot reach the engine${context} at ${socketPath}: ${error.message}`)
  }
}
