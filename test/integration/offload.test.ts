// The fast path end to end: 200 MB over TCP from one VM to another through two engines, with TAP offloads
// on (TSO super-frames from the sending VM segmented by its engine, segments coalesced by the receiving
// engine into super-frames for the receiving VM) and off (MTU-sized frames only); the SHA-256 of what the
// receiver got must equal the sender's. Needs root; the namespaces are named hnvt-<pid>-b6-* and removed in
// afterAll, also on failure. Provider addresses from 198.51.100.0/24; tenant addresses only inside the VMs.
import {spawn} from 'node:child_process'

import {afterAll, describe, expect, it} from 'vitest'

import {Topology, classicSpec} from '../../src/lib/demo/topology.js'

const isRoot = process.getuid?.() === 0
if (!isRoot) console.warn('test/integration/offload.test.ts: skipped, needs root (network namespaces, TAPs, raw GRE sockets)')

const BYTES = 200 * 1024 * 1024
const PORT = 5201

/** Receiver: counts and hashes one connection's bytes, prints "<bytes> <sha256>" when it closes. */
const RECEIVER = `
const {createHash} = require('node:crypto')
const server = require('node:net').createServer((socket) => {
  const hash = createHash('sha256')
  let bytes = 0
  socket.on('data', (chunk) => { bytes += chunk.length; hash.update(chunk) })
  socket.on('end', () => { process.stdout.write(bytes + ' ' + hash.digest('hex') + '\\n'); server.close() })
})
server.listen(${PORT}, () => process.stdout.write('listening\\n'))
`

/** Sender: BYTES of random data in 1 MB chunks, with back-pressure; prints "<bytes> <sha256>". */
const SENDER = `
const {createHash, randomFillSync} = require('node:crypto')
const hash = createHash('sha256')
const socket = require('node:net').connect(${PORT}, process.argv[1], async () => {
  let left = ${BYTES}
  while (left > 0) {
    const chunk = randomFillSync(Buffer.allocUnsafe(Math.min(left, 1 << 20)))
    hash.update(chunk)
    left -= chunk.length
    if (!socket.write(chunk)) await new Promise((r) => socket.once('drain', r))
  }
  socket.end(() => process.stdout.write(${BYTES} + ' ' + hash.digest('hex') + '\\n'))
})
socket.on('error', (e) => { console.error(e.message); process.exit(1) })
`

function node(ns: string, script: string, args: string[] = []): {done: Promise<string>; ready: Promise<void>} {
  const child = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', script, ...args], {stdio: ['ignore', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  let markReady!: () => void
  const ready = new Promise<void>((r) => (markReady = r))
  child.stdout.on('data', (c: Buffer) => {
    out += c.toString()
    if (out.includes('listening')) markReady()
  })
  child.stderr.on('data', (c: Buffer) => (err += c.toString()))
  const timer = setTimeout(() => child.kill(), 150_000)
  const done = new Promise<string>((resolve, reject) =>
    child.on('close', (code) => {
      clearTimeout(timer)
      if (code === 0) resolve(out.replace('listening\n', '').trim())
      else reject(new Error(`${ns}: exit ${code}: ${err.trim()}`))
    }),
  )
  return {done, ready}
}

const topologies: Topology[] = []

afterAll(async () => {
  const problems: string[] = []
  for (const t of topologies) problems.push(...(await t.down()))
  expect(problems).toEqual([])
}, 60_000)

describe.skipIf(!isRoot)('200 MB VM to VM through two engines (needs root)', () => {
  for (const offload of [true, false]) {
    it(`arrives intact with TAP offloads ${offload ? 'on' : 'off'}`, async () => {
      const spec = classicSpec()
      spec.vms = spec.vms.filter((vm) => vm.name.startsWith('Blue'))
      const topology = Topology.plan(spec, `hnvt-${process.pid}-b6-${offload ? 'on' : 'off'}`)
      topologies.push(topology)
      await topology.up({engineArgs: offload ? ['--offload'] : ['--no-offload']})
      const [h1, h2] = topology.hosts
      const status = await topology.status(h1)
      expect(status.ports[0].features.tso).toBe(offload)

      const receiver = node(topology.vm('Blue2').ns, RECEIVER)
      await receiver.ready
      const sent = await node(topology.vm('Blue1').ns, SENDER, ['10.0.0.7']).done
      const received = await receiver.done
      expect(received).toBe(sent)
      expect(sent.startsWith(`${BYTES} `)).toBe(true)

      const s1 = await topology.status(h1)
      const s2 = await topology.status(h2)
      if (offload) {
        // The sender's super-frames were segmented, and the receiver's engine coalesced segments.
        expect(s1.offload.segment.superframes).toBeGreaterThan(0)
        expect(s2.offload.coalesce.superframes).toBeGreaterThan(0)
      } else {
        expect(s1.offload.segment.superframes).toBe(0)
      }
      for (const s of [s1, s2]) {
        expect(s.drops['offload-unsupported']).toBe(0)
        expect(s.drops['malformed']).toBe(0)
      }
      await topology.down()
    }, 180_000)
  }
})
