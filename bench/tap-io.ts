// TAP I/O speed (DESIGN §3): the io layer and the addon, not the engine. Two measurements:
//  1. Closed loop through a kernel bridge: this process writes batches of 64-byte frames into
//     TAP A and reads them back from TAP B (both ports of one bridge in a namespace), keeping a
//     fixed number in flight. Frames/s read = what one Node thread sustains, write + read.
//  2. A wire between two TAPs, each moved into its own namespace, with iperf3 TCP across it:
//     every batch one reader hands us is written to the other TAP as it is (zero copy), without
//     and with IFF_VNET_HDR + TSO (64 KB super-frames).
//   node --import tsx bench/tap-io.ts        (root; iperf3 for part 2)
import {execFileSync, spawn} from 'node:child_process'
import {once} from 'node:events'

import {IoStat, type PacketBatch, type RxBatch} from '../src/lib/engine/ports.js'
import {TapPort} from '../src/lib/engine/io/tap-port.js'

const SECONDS = 5
const prefix = `hnvb-tapio-${process.pid}`
const NS = [`${prefix}-1`, `${prefix}-2`]
const TAPS = [`hiob${process.pid}x`, `hiob${process.pid}y`]
const BRIDGE = `hiob${process.pid}br`
// Tenant addresses, only inside the two namespaces.
const ADDRS = ['10.77.0.1', '10.77.0.2']

function ip(...args: string[]): void {
  execFileSync('ip', args, {stdio: ['ignore', 'ignore', 'pipe']})
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Part 1: frames/s through write(TAP A) -> bridge -> read(TAP B), one thread, batches of 64. */
async function bridgeLoop(): Promise<void> {
  const FRAME = 64
  const BATCH = 64
  const IN_FLIGHT = 8 * BATCH // below the TAP queue (txqueuelen 1000), so nothing is dropped
  const ports = TAPS.map((name) => TapPort.open({name, up: false, batchSize: BATCH}))
  try {
    for (const port of ports) ip('link', 'set', 'dev', port.name, 'netns', NS[0])
    ip('-n', NS[0], 'link', 'add', BRIDGE, 'type', 'bridge')
    for (const port of ports) {
      ip('-n', NS[0], 'link', 'set', port.name, 'master', BRIDGE)
      ip('-n', NS[0], 'link', 'set', port.name, 'up')
    }
    ip('-n', NS[0], 'link', 'set', BRIDGE, 'up')
    await sleep(200) // let the bridge ports reach forwarding (no STP: immediate, but be safe)

    // One transmit batch of identical frames to an unknown unicast MAC: the bridge floods it to B.
    const tx: PacketBatch = {
      buffer: Buffer.alloc(BATCH * FRAME),
      offsets: new Uint32Array(BATCH),
      lengths: new Uint32Array(BATCH),
      count: BATCH,
    }
    for (let i = 0; i < BATCH; i++) {
      const frame = tx.buffer.subarray(i * FRAME, (i + 1) * FRAME)
      Buffer.from('02000000bbbb' + '02000000aaaa' + '88b5', 'hex').copy(frame) // 0x88B5: local experimental
      tx.offsets[i] = i * FRAME
      tx.lengths[i] = FRAME
    }
    const [a, b] = ports
    let running = true
    b.start((batch: RxBatch) => {
      if (running) a.send(tx, 0, batch.count) // replace what arrived: constant frames in flight
    })
    for (let sent = 0; sent < IN_FLIGHT; sent += BATCH) a.send(tx, 0, BATCH)
    await sleep(500) // warm up
    const before = b.stats[IoStat.RX_PACKETS]
    const batchesBefore = b.stats[IoStat.RX_BATCHES]
    const start = performance.now()
    await sleep(SECONDS * 1000)
    const seconds = (performance.now() - start) / 1000
    const frames = b.stats[IoStat.RX_PACKETS] - before
    const batches = b.stats[IoStat.RX_BATCHES] - batchesBefore
    running = false
    console.log(
      `${'bridge loop, 64-byte frames, batch 64'.padEnd(40)} ${(frames / seconds / 1e6).toFixed(3)} M frames/s ` +
        `(each written once and read once; ${(frames / batches).toFixed(1)} frames per wakeup; ` +
        `write drops ${a.stats[IoStat.TX_WOULDBLOCK] + a.stats[IoStat.TX_ERRORS]})`,
    )
  } finally {
    for (const port of ports) port.close()
    ip('-n', NS[0], 'link', 'del', BRIDGE)
  }
}

/** Part 2: a zero-copy wire between two TAPs, iperf3 TCP from namespace 1 to 2. */
async function wire(label: string, vnetHdr: boolean): Promise<void> {
  const ports = TAPS.map((name) => TapPort.open({name, up: false, vnetHdr}))
  const server = spawn('ip', ['netns', 'exec', NS[1], 'iperf3', '-s', '-1'], {stdio: 'ignore'})
  try {
    ports.forEach((port, i) => {
      ip('link', 'set', 'dev', port.name, 'netns', NS[i])
      ip('-n', NS[i], 'addr', 'add', `${ADDRS[i]}/24`, 'dev', port.name)
      ip('-n', NS[i], 'link', 'set', port.name, 'up')
    })
    const [a, b] = ports
    // false: nothing asynchronous was queued (ports.ts start).
    a.start((batch: RxBatch) => {
      b.send(batch, 0, batch.count)
      return false
    })
    b.start((batch: RxBatch) => {
      a.send(batch, 0, batch.count)
      return false
    })
    await sleep(300)
    const before = ports.map((port) => port.stats[IoStat.RX_PACKETS])
    const start = performance.now()
    const client = spawn('ip', ['netns', 'exec', NS[0], 'iperf3', '-c', ADDRS[1], '-t', String(SECONDS), '-J'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    let out = ''
    client.stdout.on('data', (chunk) => (out += chunk))
    const timer = setTimeout(() => client.kill(), (SECONDS + 10) * 1000)
    await once(client, 'exit')
    clearTimeout(timer)
    const seconds = (performance.now() - start) / 1000
    const frames = ports.reduce((sum, port, i) => sum + port.stats[IoStat.RX_PACKETS] - before[i], 0)
    const result = JSON.parse(out)
    if (result.error) throw new Error(`iperf3: ${result.error}`)
    const gbits = (result.end.sum_received.bits_per_second as number) / 1e9
    console.log(
      `${label.padEnd(40)} ${gbits.toFixed(2)} Gbit/s TCP delivered, ${(frames / seconds / 1e6).toFixed(3)} M frames/s ` +
        `through the wire (tso=${a.features.tso})`,
    )
  } finally {
    server.kill()
    for (const port of ports) port.close()
  }
}

if (process.getuid?.() !== 0) {
  console.error('bench/tap-io.ts needs root (namespaces and TAPs)')
  process.exit(1)
}
for (const ns of NS) ip('netns', 'add', ns)
try {
  await bridgeLoop()
  await wire('wire, TCP, plain TAP', false)
  await wire('wire, TCP, IFF_VNET_HDR + TSO', true)
} finally {
  for (const ns of NS) ip('netns', 'del', ns)
}
