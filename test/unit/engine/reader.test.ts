// The addon's batch reader (native/src/reader.cc) on a FIFO, no root needed: what it delivers, and when the
// nextTick and microtask queues run after its callback. The callback is a plain call into JS; it returns false
// when it queued nothing asynchronous, and anything else makes the reader run those queues at once, in its
// async context ('hnv:reader', seen by async_hooks), before any other event-loop callback (here: a
// setImmediate queued inside the callback).
import {createHook} from 'node:async_hooks'
import {spawnSync} from 'node:child_process'
import {closeSync, constants, mkdtempSync, openSync, rmSync, writeSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'

import {FdEndpoint} from '../../../src/lib/engine/io/fd-endpoint.js'
import {native, nativeAvailable} from '../../../src/lib/engine/io/native.js'
import {IoStat, type PacketBatch, type RxBatch} from '../../../src/lib/engine/ports.js'

const SLOT = 256
const SLOTS = 8
const HEADROOM = 32

/** An FdEndpoint over any readable fd in read() mode: the same reader path as a TAP port. */
class FifoEndpoint extends FdEndpoint<RxBatch, PacketBatch> {
  constructor(fd: number) {
    super(fd, 'FIFO', {batchSize: SLOTS, headroom: HEADROOM, capacity: SLOT - HEADROOM, addrStride: 0}, native().constants.READER_READ)
  }
  protected override get rxBatch(): RxBatch {
    return this.ring
  }
  protected override accept(count: number): number {
    return count
  }
  protected override sendSome(): number {
    return 0
  }
}

type Order = string[]

describe.skipIf(!nativeAvailable())('the native batch reader', () => {
  let dir: string
  let fifo: string

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `hnv-reader-${process.pid}-`))
    fifo = join(dir, 'fifo')
    const made = spawnSync('mkfifo', [fifo])
    if (made.status !== 0) throw new Error(`mkfifo failed: ${made.stderr}`)
  })

  afterAll(() => {
    rmSync(dir, {recursive: true, force: true})
  })

  /** Starts a reader on the FIFO, writes `bytes`, and resolves with the order of events after the first wakeup. */
  async function oneWakeup(returned: boolean | undefined, bytes: Buffer): Promise<{order: Order; data: Buffer; count: number; stats: Float64Array}> {
    // O_RDWR: opening a FIFO this way never blocks, and the same fd can write to it.
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK)
    const endpoint = new FifoEndpoint(fd)
    const order: Order = []
    let data = Buffer.alloc(0)
    let count = 0
    const types = new Map<number, string>()
    const hook = createHook({
      init: (id, type) => types.set(id, type),
      before: (id) => {
        if (types.get(id) === 'hnv:reader') order.push('hnv:reader')
      },
    })
    try {
      // Before start: the reader's async resource is made there.
      hook.enable()
      await new Promise<void>((resolve) => {
        endpoint.start((batch) => {
          order.push('callback')
          count = batch.count
          data = Buffer.from(batch.buffer.subarray(batch.offsets[0], batch.offsets[0] + batch.lengths[0]))
          process.nextTick(() => order.push('nextTick'))
          queueMicrotask(() => order.push('microtask'))
          setImmediate(() => {
            order.push('immediate')
            // Whatever was queued has run by the next timer at the latest.
            setTimeout(resolve, 5)
          })
          return returned
        })
        writeSync(fd, bytes)
      })
      return {order, data, count, stats: endpoint.stats}
    } finally {
      hook.disable()
      // close() stops the reader before it closes the fd.
      endpoint.close()
    }
  }

  it('delivers what was ready in one wakeup into slot 0 after the headroom, counted', async () => {
    const {data, count, stats} = await oneWakeup(undefined, Buffer.from('hello, reader'))
    expect(count).toBe(1)
    expect(data.toString()).toBe('hello, reader')
    expect(stats[IoStat.RX_BATCHES]).toBe(1)
    expect(stats[IoStat.RX_PACKETS]).toBe(1)
  })

  it('runs the nextTick and microtask queues right after a callback that does not return false', async () => {
    const {order} = await oneWakeup(undefined, Buffer.from('x'))
    expect(order).toEqual(['callback', 'hnv:reader', 'nextTick', 'microtask', 'immediate'])
    const {order: withTrue} = await oneWakeup(true, Buffer.from('y'))
    expect(withTrue).toEqual(['callback', 'hnv:reader', 'nextTick', 'microtask', 'immediate'])
  })

  it('skips that after a callback that returns false (only synchronous work); the queues still run, by Node', async () => {
    const {order, data} = await oneWakeup(false, Buffer.from('z'))
    expect(data.toString()).toBe('z')
    expect(order[0]).toBe('callback')
    expect(order).not.toContain('hnv:reader')
    expect([...order].sort()).toEqual(['callback', 'immediate', 'microtask', 'nextTick'])
  })

  it('lets a callback stop its own reader', async () => {
    const fd = openSync(fifo, constants.O_RDWR | constants.O_NONBLOCK)
    let calls = 0
    try {
      const endpoint = new FifoEndpoint(fd)
      await new Promise<void>((resolve) => {
        endpoint.start(() => {
          calls++
          endpoint.close()
          setTimeout(resolve, 20)
          return false
        })
        writeSync(fd, Buffer.from('one'))
      })
      expect(calls).toBe(1)
    } finally {
      try {
        closeSync(fd)
      } catch {
        // already closed by the endpoint
      }
    }
  })
})
