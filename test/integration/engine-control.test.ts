// The control socket without an engine behind it (no root needed): the protocol's framing and errors,
// the socket's mode, stale and live sockets, `stop` answering after the work is done, and the socket path
// each store gets.
import {spawn} from 'node:child_process'
import {once} from 'node:events'
import {mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync} from 'node:fs'
import {createConnection, createServer} from 'node:net'
import {tmpdir} from 'node:os'
import {join, relative} from 'node:path'
import {afterAll, describe, expect, it} from 'vitest'
import {controlRequest, engineAnswers} from '../../src/lib/control/client.js'
import {EngineError} from '../../src/lib/control/errors.js'
import {DEFAULT_SOCKET, controlSocketPath} from '../../src/lib/control/protocol.js'
import {ControlServer} from '../../src/lib/control/server.js'

const dir = mkdtempSync(join(tmpdir(), 'hnv-control-'))
afterAll(() => rmSync(dir, {recursive: true, force: true}))
let n = 0
const socketPath = () => join(dir, `s${n++}.sock`)

/** Raw lines in, raw lines out: what a client that is not ours sees. */
function exchange(path: string, text: string, lines: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    let received = ''
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(text))
    socket.on('data', (chunk: string) => {
      received += chunk
      const got = received.split('\n').filter(Boolean)
      if (got.length >= lines) {
        socket.destroy()
        resolve(got)
      }
    })
    socket.on('error', reject)
  })
}

describe('control socket', () => {
  it('answers status, one JSON line per request, on a socket only its owner may open', async () => {
    const path = socketPath()
    const server = await ControlServer.listen(path, (method) => ({method, pid: 42}))
    try {
      expect(statSync(path).mode & 0o777).toBe(0o600)
      expect(await controlRequest(path, 'status')).toEqual({method: 'status', pid: 42})
      const lines = await exchange(path, '{"id": 7, "method": "status"}\n{"id": 8, "method": "status"}\n', 2)
      expect(lines.map((l) => JSON.parse(l))).toEqual([
        {id: 7, ok: true, result: {method: 'status', pid: 42}},
        {id: 8, ok: true, result: {method: 'status', pid: 42}},
      ])
    } finally {
      server.close()
    }
  })

  it('answers what is not a request with an error, and carries the handler\'s errors as one line', async () => {
    const path = socketPath()
    const server = await ControlServer.listen(path, () => {
      throw new Error('nothing to say')
    })
    try {
      const [notJson, unknown, failed] = (await exchange(path, 'hello\n{"id": 1, "method": "reboot"}\n{"id": 2, "method": "status"}\n', 3)).map((l) => JSON.parse(l))
      expect(notJson).toMatchObject({id: null, ok: false, error: expect.stringMatching(/^not JSON/)})
      expect(unknown).toEqual({id: 1, ok: false, error: 'unknown request: methods are status, stop, capture, trace-arm, trace-inject, trace-collect'})
      expect(failed).toEqual({id: 2, ok: false, error: 'nothing to say'})
      await expect(controlRequest(path, 'status')).rejects.toThrow(new EngineError('nothing to say'))
    } finally {
      server.close()
    }
  })

  it('carries params, streams events before the result, and tells the handler when the client goes', async () => {
    const path = socketPath()
    let gone = false
    const server = await ControlServer.listen(path, (method, params, stream) => {
      if (method === 'trace-arm') return {echo: params}
      stream.onClose(() => (gone = true))
      for (let i = 0; i < 3; i++) stream.send({i})
      // Streams until the client goes (capture without limits).
      return new Promise(() => {})
    })
    try {
      expect(await controlRequest(path, 'trace-arm', {params: {marker: 'ab'}})).toEqual({echo: {marker: 'ab'}})
      const [badParams] = (await exchange(path, '{"id": 3, "method": "status", "params": [1]}\n', 1)).map((l) => JSON.parse(l))
      expect(badParams).toMatchObject({id: 3, ok: false})
      const events: unknown[] = []
      const controller = new AbortController()
      const answer = controlRequest(path, 'capture', {
        timeoutMs: 0,
        signal: controller.signal,
        onEvent: (event) => {
          events.push(event)
          if (events.length === 3) controller.abort()
        },
      })
      expect(await answer).toBeNull()
      expect(events).toEqual([{i: 0}, {i: 1}, {i: 2}])
      await new Promise((r) => setTimeout(r, 100))
      expect(gone).toBe(true)
    } finally {
      server.close()
    }
  })

  it('answers stop once the work is done, then closes and removes the socket', async () => {
    const path = socketPath()
    let server: ControlServer | undefined
    let stoppedAt = 0
    server = await ControlServer.listen(path, async (method) => {
      if (method !== 'stop') return {}
      server!.close() // as the runtime does: stop listening first, then tear down
      await new Promise((resolve) => setTimeout(resolve, 200))
      stoppedAt = Date.now()
      return {stopped: true}
    })
    expect(await controlRequest(path, 'stop')).toEqual({stopped: true})
    expect(Date.now()).toBeGreaterThanOrEqual(stoppedAt)
    expect(() => statSync(path)).toThrow()
    await expect(controlRequest(path, 'status')).rejects.toThrow(/^no engine is running \(no control socket/)
  })

  it('replaces the socket of an engine that died, and refuses one an engine answers on', async () => {
    // An engine killed with SIGKILL leaves its socket file behind.
    const stale = socketPath()
    const victim = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => console.log('up'))`], {stdio: ['ignore', 'pipe', 'ignore']})
    await once(victim.stdout!, 'data')
    victim.kill('SIGKILL')
    await once(victim, 'exit')
    expect(statSync(stale).isSocket()).toBe(true)
    await expect(controlRequest(stale, 'status')).rejects.toThrow(/^no engine is running \(.* is left over from one that stopped\)/)
    const replaced = await ControlServer.listen(stale, () => ({fresh: true}))
    expect(await controlRequest(stale, 'status')).toEqual({fresh: true})

    await expect(ControlServer.listen(stale, () => ({}))).rejects.toThrow(/an engine is already running for this store/)
    expect(await engineAnswers(stale)).toBe(true)
    replaced.close()
    expect(await engineAnswers(stale)).toBe(false)
  })

  it('gives up on an engine that does not answer, in words', async () => {
    const path = socketPath()
    const silent = createServer(() => {})
    await new Promise<void>((resolve) => silent.listen(path, resolve))
    try {
      await expect(controlRequest(path, 'status', {timeoutMs: 200, context: 'for store /x.db'})).rejects.toThrow(
        /^the engine for store \/x\.db did not answer 'status' within 0\.2 s/,
      )
    } finally {
      silent.close()
    }
  })

  it('gives each store its own socket, whatever the spelling of its path', () => {
    expect(controlSocketPath('/var/lib/hnv/policy.db')).toBe(DEFAULT_SOCKET)
    const a = join(dir, 'a.db')
    const b = join(dir, 'b.db')
    writeFileSync(a, '')
    symlinkSync(a, join(dir, 'link.db'))
    expect(controlSocketPath(a)).toMatch(/^\/run\/hnv\/engine-[0-9a-f]{16}\.sock$/)
    expect(controlSocketPath(b)).not.toBe(controlSocketPath(a))
    expect(controlSocketPath(join(dir, 'link.db'))).toBe(controlSocketPath(a))
    expect(controlSocketPath(relative(process.cwd(), a))).toBe(controlSocketPath(a))
    expect(controlSocketPath(`${dir}/./a.db`)).toBe(controlSocketPath(a))
  })
})
