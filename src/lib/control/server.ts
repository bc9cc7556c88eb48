// The engine's end of the control socket (protocol.ts). It answers requests with the handler the
// runtime gives it; closing stops listening at once but lets requests in flight answer first, so
// `stop` can reply after the engine has stopped.
import {chmodSync, lstatSync, mkdirSync, unlinkSync} from 'node:fs'
import {createConnection, createServer, type Server, type Socket} from 'node:net'
import {dirname} from 'node:path'
import {EngineError} from './errors.js'
import {CONTROL_METHODS, type ControlMethod, type ControlResponse, MAX_LINE, isControlRequest} from './protocol.js'

/** What a handler may do besides answering: stream events, and hear that the client went away. */
export interface ControlStream {
  send(event: unknown): void
  /** Runs `listener` when the connection closes (at once if it has). */
  onClose(listener: () => void): void
}

export type ControlHandler = (method: ControlMethod, params: Record<string, unknown>, stream: ControlStream) => unknown | Promise<unknown>

interface Connection {
  socket: Socket
  inFlight: number
}

export class ControlServer {
  private readonly connections = new Set<Connection>()
  private closing = false

  private constructor(
    readonly path: string,
    private readonly server: Server,
  ) {}

  /**
   * Listens on `path` (mode 0600, in a root-owned directory it creates). A socket an engine still answers
   * on is refused; one left by an engine that died is replaced.
   */
  static async listen(path: string, handler: ControlHandler): Promise<ControlServer> {
    prepareDirectory(dirname(path))
    await removeStale(path)
    let instance: ControlServer | undefined
    const server = createServer((socket) => instance!.accept(socket, handler))
    // The umask makes the socket 0600 from its first instant; the chmod is for the record.
    const umask = process.umask(0o177)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(path, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } catch (error) {
      throw new EngineError(`cannot listen on the control socket ${path}: ${(error as Error).message}`)
    } finally {
      process.umask(umask)
    }
    chmodSync(path, 0o600)
    instance = new ControlServer(path, server)
    return instance
  }

  /** Stops listening and removes the socket; connections end once their requests are answered. */
  close(): void {
    if (this.closing) return
    this.closing = true
    this.server.close()
    try {
      unlinkSync(this.path)
    } catch {
      // already gone
    }
    for (const connection of this.connections) if (connection.inFlight === 0) connection.socket.end()
  }

  private accept(socket: Socket, handler: ControlHandler): void {
    const connection: Connection = {socket, inFlight: 0}
    this.connections.add(connection)
    socket.setEncoding('utf8')
    socket.on('error', () => socket.destroy())
    socket.on('close', () => this.connections.delete(connection))
    let pending = ''
    socket.on('data', (chunk: string) => {
      pending += chunk
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, newline).trim()
        pending = pending.slice(newline + 1)
        if (line) void this.answer(connection, line, handler)
      }
      if (pending.length > MAX_LINE) {
        this.reply(connection, {id: null, ok: false, error: `request longer than ${MAX_LINE} bytes`})
        socket.end()
      }
    })
  }

  private async answer(connection: Connection, line: string, handler: ControlHandler): Promise<void> {
    let request: unknown
    try {
      request = JSON.parse(line)
    } catch {
      this.reply(connection, {id: null, ok: false, error: 'not JSON: send one {"id": n, "method": "status"} per line'})
      return
    }
    if (!isControlRequest(request)) {
      const id = (request as {id?: unknown} | null)?.id
      this.reply(connection, {id: Number.isSafeInteger(id) ? (id as number) : null, ok: false, error: `unknown request: methods are ${CONTROL_METHODS.join(', ')}`})
      return
    }
    connection.inFlight++
    let response: ControlResponse
    try {
      const id = request.id
      const socket = connection.socket
      const stream: ControlStream = {
        send: (event) => this.reply(connection, {id, ok: true, event}),
        onClose: (listener) => (socket.destroyed ? listener() : socket.once('close', listener)),
      }
      response = {id: request.id, ok: true, result: await handler(request.method, request.params ?? {}, stream)}
    } catch (error) {
      response = {id: request.id, ok: false, error: (error as Error).message}
    }
    connection.inFlight--
    this.reply(connection, response)
    if (this.closing && connection.inFlight === 0) connection.socket.end()
  }

  private reply(connection: Connection, response: ControlResponse): void {
    if (!connection.socket.destroyed) connection.socket.write(JSON.stringify(response) + '\n')
  }
}

/** /run/hnv: created root-only-writable; refused if someone else could have planted sockets in it. */
function prepareDirectory(dir: string): void {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o755})
  } catch (error) {
    throw new EngineError(`cannot create ${dir} for the control socket: ${(error as Error).message}`)
  }
  const stat = lstatSync(dir)
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new EngineError(`${dir} must be a directory owned by root and writable by root only (check: ls -ld ${dir})`)
  }
}

/** Refuses a socket another engine answers on; unlinks one nobody listens on any more. */
async function removeStale(path: string): Promise<void> {
  let stat
  try {
    stat = lstatSync(path)
  } catch {
    return
  }
  if (!stat.isSocket()) throw new EngineError(`${path} exists and is not a socket: remove it`)
  const alive = await new Promise<boolean>((resolve) => {
    const probe = createConnection(path)
    probe.once('connect', () => {
      probe.destroy()
      resolve(true)
    })
    probe.once('error', () => resolve(false))
  })
  if (alive) throw new EngineError(`an engine is already running for this store (control socket ${path}); stop it first: hnv engine stop`)
  unlinkSync(path)
}
