// An Underlay in memory (wireguard-go's bindtest.ChannelBind), and a MemoryNetwork that joins several by
// their local PA, so two Engines exchange real NVGRE without raw sockets. As the GRE underlay does,
// packets start at the GRE header and the outer addresses travel beside them (`addrs`: source at +0,
// destination at +16, 16 bytes each, IPv4 in the first 4). Delivery is synchronous but never re-entrant:
// a send made while the network is delivering is queued and delivered after.
import {parseIp, type Family} from '../../src/lib/net/ip.js'
import {
  ADDR_DST,
  ADDR_SRC,
  ADDR_STRIDE,
  DEFAULT_BATCH_SIZE,
  DEFAULT_HEADROOM,
  DEST_STRIDE,
  IO_STAT_COUNT,
  IoStat,
  type ErrorHandler,
  type Underlay,
  type UnderlayRxBatch,
  type UnderlayTxBatch,
} from '../../src/lib/engine/ports.js'
import {MemoryRing} from './memory-port.js'

/** 16 bytes, IPv4 in the first 4 (the layout of addrs and destinations). */
export function addressBlock(text: string): Uint8Array {
  const out = new Uint8Array(16)
  out.set(parseIp(text).bytes)
  return out
}

function blockText(family: Family, block: Uint8Array, at: number): string {
  if (family === 4) return Array.from(block.subarray(at, at + 4)).join('.')
  const groups: string[] = []
  for (let i = 0; i < 16; i += 2) groups.push(((block[at + i] << 8) | block[at + i + 1]).toString(16))
  return parseIp(groups.join(':')).text
}

class MemoryRxRing extends MemoryRing implements UnderlayRxBatch {
  readonly addrs: Uint8Array
  constructor(slotCount: number, headroom: number, slotSize: number) {
    super(slotCount, headroom, slotSize)
    this.addrs = new Uint8Array(slotCount * ADDR_STRIDE)
  }
}

export interface SentPacket {
  /** Outer destination PA, as text. */
  destination: string
  /** GRE header + inner frame (a copy). */
  packet: Buffer
}

export interface MemoryUnderlayOptions {
  family: Family
  /** The bound local PA, as text; null for an unbound socket. */
  local: string | null
  /** Largest GRE packet (default 1480: a 1500 link minus the outer IPv4 header). */
  mtu?: number
  headroom?: number
  batchSize?: number
  /** Keep copies in `sent` (default true). */
  record?: boolean
  /** Largest packet a receive slot holds (default 9216; the raw socket's is 65535: GSO super-packets). */
  slotCapacity?: number
}

/** Largest packet a memory underlay slot holds (a reassembled datagram can exceed the MTU). */
const SLOT_CAPACITY = 9216

export class MemoryUnderlay implements Underlay {
  readonly family: Family
  readonly local: Uint8Array | null
  readonly localText: string | null
  readonly mtu: number
  readonly headroom: number
  readonly batchSize: number
  readonly stats = new Float64Array(IO_STAT_COUNT)
  lastErrno = 0
  readonly sent: SentPacket[] = []
  closed = false
  /** send() calls made (one per destination group per batch is the engine's contract). */
  sendCalls = 0
  network: MemoryNetwork | null = null
  private readonly ring: MemoryRxRing
  private readonly record: boolean
  private onBatch: ((batch: UnderlayRxBatch) => void) | null = null

  constructor(options: MemoryUnderlayOptions) {
    this.family = options.family
    this.localText = options.local === null ? null : parseIp(options.local).text
    this.local = options.local === null ? null : addressBlock(options.local).subarray(0, options.family === 4 ? 4 : 16)
    this.mtu = options.mtu ?? (options.family === 4 ? 1480 : 1460)
    this.headroom = options.headroom ?? DEFAULT_HEADROOM
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
    this.record = options.record ?? true
    this.ring = new MemoryRxRing(this.batchSize, this.headroom, this.headroom + (options.slotCapacity ?? SLOT_CAPACITY))
  }

  start(onBatch: (batch: UnderlayRxBatch) => void, _onError?: ErrorHandler): void {
    if (this.closed) throw new Error('memory underlay is closed')
    if (this.onBatch !== null) throw new Error('memory underlay is already started')
    this.onBatch = onBatch
  }

  /** GRE packets arrive from `source` (text) to `destination` (default: this underlay's local PA). */
  receive(packets: readonly {source: string; destination?: string; packet: Uint8Array}[]): void {
    for (let i = 0; i < packets.length; i += this.batchSize) {
      const chunk = packets.slice(i, i + this.batchSize)
      this.ring.fill(chunk.map((p) => p.packet))
      chunk.forEach((p, j) => {
        this.ring.addrs.fill(0, j * ADDR_STRIDE, (j + 1) * ADDR_STRIDE)
        this.ring.addrs.set(addressBlock(p.source), j * ADDR_STRIDE + ADDR_SRC)
        const destination = p.destination ?? this.localText
        if (destination === null) throw new Error('an unbound memory underlay needs a destination per packet')
        this.ring.addrs.set(addressBlock(destination), j * ADDR_STRIDE + ADDR_DST)
      })
      this.deliver(this.ring)
    }
  }

  /** Hands a batch to the engine as it is (benchmarks). */
  deliver(batch: UnderlayRxBatch): void {
    if (this.onBatch === null || this.closed) return
    this.stats[IoStat.RX_BATCHES]++
    this.stats[IoStat.RX_PACKETS] += batch.count
    this.onBatch(batch)
  }

  send(batch: UnderlayTxBatch, first: number, count: number): number {
    if (this.closed) return 0
    this.sendCalls++
    for (let i = first; i < first + count; i++) {
      if (!this.record && this.network === null) continue
      const packet = Buffer.from(batch.buffer.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i]))
      const destination = blockText(this.family, batch.destinations, i * DEST_STRIDE)
      if (this.record) this.sent.push({destination, packet})
      this.network?.transmit(this, destination, packet)
    }
    this.stats[IoStat.TX_PACKETS] += count
    return count
  }

  take(): SentPacket[] {
    return this.sent.splice(0, this.sent.length)
  }

  close(): void {
    this.closed = true
    this.onBatch = null
  }
}

/** Joins memory underlays by local PA: what one sends to a PA another holds arrives there. */
export class MemoryNetwork {
  private readonly members: MemoryUnderlay[] = []
  private readonly queue: {from: MemoryUnderlay; to: MemoryUnderlay; packet: Buffer}[] = []
  private delivering = false
  /** Packets to a PA no member holds. */
  readonly lost: SentPacket[] = []

  underlay(options: Omit<MemoryUnderlayOptions, 'local'> & {local: string}): MemoryUnderlay {
    const u = new MemoryUnderlay(options)
    u.network = this
    this.members.push(u)
    return u
  }

  transmit(from: MemoryUnderlay, destination: string, packet: Buffer): void {
    const to = this.members.find((m) => m !== from && !m.closed && m.family === from.family && m.localText === destination)
    if (to === undefined) {
      this.lost.push({destination, packet})
      return
    }
    this.queue.push({from, to, packet})
    if (this.delivering) return
    this.delivering = true
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        next.to.receive([{source: next.from.localText ?? '0.0.0.0', packet: next.packet}])
      }
    } finally {
      this.delivering = false
    }
  }
}
