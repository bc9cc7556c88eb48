// A Port in memory (wireguard-go's tuntest.ChannelTUN): the test plays the VM. `receive()` copies frames
// into a receive ring laid out as the TAP reader's (a slot per frame, headroom in front) and hands the
// batch to the engine; what the engine sends is copied into `sent`. No fd, no root.
import {IO_STAT_COUNT, IoStat, type ErrorHandler, type PacketBatch, type Port, type PortFeatures, type RxBatch} from '../../src/lib/engine/ports.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM} from '../../src/lib/engine/ports.js'

/** A receive batch like the addon's ring: slot i at i * slotSize, packets at slot start + headroom. */
export class MemoryRing implements RxBatch {
  readonly buffer: Buffer
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  count = 0

  constructor(
    readonly slotCount: number,
    readonly headroom: number,
    readonly slotSize: number,
  ) {
    this.buffer = Buffer.alloc(slotCount * slotSize)
    this.offsets = new Uint32Array(slotCount)
    this.lengths = new Uint32Array(slotCount)
  }

  /** Copies packets into slots 0..n-1 (n <= slotCount) and sets count. */
  fill(packets: readonly Uint8Array[]): void {
    if (packets.length > this.slotCount) throw new RangeError(`${packets.length} packets do not fit a ring of ${this.slotCount}`)
    packets.forEach((p, i) => {
      if (this.headroom + p.length > this.slotSize) throw new RangeError(`a ${p.length}-byte packet does not fit a ${this.slotSize}-byte slot`)
      const at = i * this.slotSize + this.headroom
      this.buffer.fill(0, i * this.slotSize, (i + 1) * this.slotSize)
      this.buffer.set(p, at)
      this.offsets[i] = at
      this.lengths[i] = p.length
    })
    this.count = packets.length
  }
}

export interface MemoryPortOptions {
  name: string
  mtu?: number
  headroom?: number
  batchSize?: number
  features?: Partial<PortFeatures>
  /** Keep copies of sent frames in `sent` (default true; benchmarks turn it off). */
  record?: boolean
  /** Most frames one send() accepts; the rest count as TX_WOULDBLOCK (default: all). */
  sendLimit?: number
}

const NO_FEATURES: PortFeatures = {vnetHdr: false, vnetHdrLen: 0, csum: false, tso: false, tsoEcn: false, uso: false, multiQueue: false}
/** Ethernet header and one 802.1Q tag, as the TAP's slot adds to the MTU. */
const ETH_OVERHEAD = 18

export class MemoryPort implements Port {
  readonly name: string
  readonly mtu: number
  readonly headroom: number
  readonly batchSize: number
  readonly features: PortFeatures
  readonly stats = new Float64Array(IO_STAT_COUNT)
  lastErrno = 0
  /** Frames the engine sent here, oldest first (copies). */
  readonly sent: Buffer[] = []
  closed = false
  /** send() calls made (one per destination group per batch is the engine's contract). */
  sendCalls = 0
  private readonly ring: MemoryRing
  private readonly record: boolean
  private readonly sendLimit: number
  private onBatch: ((batch: RxBatch) => void) | null = null

  constructor(options: MemoryPortOptions) {
    this.name = options.name
    this.mtu = options.mtu ?? 1500
    this.headroom = options.headroom ?? DEFAULT_HEADROOM
    this.batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE
    this.features = {...NO_FEATURES, ...options.features}
    this.record = options.record ?? true
    this.sendLimit = options.sendLimit ?? Infinity
    this.ring = new MemoryRing(this.batchSize, this.headroom, this.headroom + this.features.vnetHdrLen + ETH_OVERHEAD + this.mtu)
  }

  get started(): boolean {
    return this.onBatch !== null
  }

  start(onBatch: (batch: RxBatch) => void, _onError?: ErrorHandler): void {
    if (this.closed) throw new Error(`memory port ${this.name} is closed`)
    if (this.onBatch !== null) throw new Error(`memory port ${this.name} is already started`)
    this.onBatch = onBatch
  }

  /** The VM transmits: frames go to the engine in batches of batchSize, as a TAP reader would hand them. */
  receive(...frames: Uint8Array[]): void {
    for (let i = 0; i < frames.length; i += this.batchSize) this.deliver(this.fillRing(frames.slice(i, i + this.batchSize)))
  }

  /** Hands a batch to the engine as it is (a benchmark's preallocated batch: no copy). */
  deliver(batch: RxBatch): void {
    if (this.onBatch === null || this.closed) return
    this.stats[IoStat.RX_BATCHES]++
    this.stats[IoStat.RX_PACKETS] += batch.count
    this.onBatch(batch)
  }

  send(batch: PacketBatch, first: number, count: number): number {
    if (this.closed) return 0
    this.sendCalls++
    const n = Math.min(count, this.sendLimit)
    if (this.record) {
      for (let i = first; i < first + n; i++) this.sent.push(Buffer.from(batch.buffer.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i])))
    }
    this.stats[IoStat.TX_PACKETS] += n
    this.stats[IoStat.TX_WOULDBLOCK] += count - n
    return n
  }

  /** Returns what was sent since the last take() and forgets it. */
  take(): Buffer[] {
    return this.sent.splice(0, this.sent.length)
  }

  close(): void {
    this.closed = true
    this.onBatch = null
  }

  private fillRing(frames: Uint8Array[]): MemoryRing {
    this.ring.fill(frames)
    return this.ring
  }
}
