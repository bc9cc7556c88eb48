// What a TAP port and a GRE underlay share: one fd, one receive ring read by the addon's uv_poll
// reader, counters, and the transmit loop that turns the addon's "count or -errno" into drops.
import {constants} from 'node:os'

import {
  IO_STAT_COUNT,
  IoStat,
  type ErrorHandler,
  type PacketBatch,
  type RxBatch,
} from '../ports.js'
import {errnoError, native, type ReaderCallback} from './native.js'

/** Slot sizes are rounded up to this, so every packet starts cache-line aligned after the headroom. */
const SLOT_ALIGN = 64

export interface RingShape {
  batchSize: number
  headroom: number
  /** Largest packet a slot must hold, after the headroom. */
  capacity: number
  /** Per-slot address block for sockets (READER_ADDR_STRIDE bytes), or 0 for none. */
  addrStride: number
}

/** The receive ring: one buffer of batchSize slots, and the arrays the addon fills. */
export class RxRing implements RxBatch {
  readonly buffer: Buffer
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  readonly addrs: Uint8Array
  readonly headroom: number
  readonly slotSize: number
  readonly slotCount: number
  count = 0

  constructor(shape: RingShape) {
    if (!Number.isInteger(shape.batchSize) || shape.batchSize < 1 || shape.batchSize > 1024) {
      throw new RangeError(`batch size ${shape.batchSize} is not 1 to 1024`)
    }
    this.headroom = shape.headroom
    this.slotCount = shape.batchSize
    this.slotSize = Math.ceil((shape.headroom + shape.capacity) / SLOT_ALIGN) * SLOT_ALIGN
    // allocUnsafeSlow: a dedicated, never-pooled ArrayBuffer, since the addon holds on to it.
    this.buffer = Buffer.allocUnsafeSlow(this.slotSize * this.slotCount)
    this.offsets = new Uint32Array(this.slotCount)
    this.lengths = new Uint32Array(this.slotCount)
    this.addrs = new Uint8Array(shape.addrStride * this.slotCount)
  }

  /** Bytes a packet may occupy from offsets[i] to the end of its slot i (before any adjustment). */
  get capacity(): number {
    return this.slotSize - this.headroom
  }

  /** Removes packet i (keeping the order of the rest); returns the new count. Rare path only. */
  discard(i: number, count: number, addrStride: number): number {
    this.offsets.copyWithin(i, i + 1, count)
    this.lengths.copyWithin(i, i + 1, count)
    if (addrStride > 0) this.addrs.copyWithin(i * addrStride, (i + 1) * addrStride, count * addrStride)
    return count - 1
  }
}

export abstract class FdEndpoint<Rx extends RxBatch, Tx extends PacketBatch> {
  readonly stats = new Float64Array(IO_STAT_COUNT)
  lastErrno = 0
  protected readonly ring: RxRing
  private readerId = 0
  private closed = false
  private onBatch: ((batch: Rx) => boolean | void) | null = null
  private onError: ErrorHandler | undefined

  protected constructor(
    protected readonly fd: number,
    /** For error messages: "TAP hnv0", "GRE/IPv6 underlay". */
    protected readonly label: string,
    shape: RingShape,
    private readonly readerMode: number,
  ) {
    this.ring = new RxRing(shape)
  }

  get batchSize(): number {
    return this.ring.slotCount
  }

  get headroom(): number {
    return this.ring.headroom
  }

  start(onBatch: (batch: Rx) => boolean | void, onError?: ErrorHandler): void {
    if (this.closed) throw new Error(`${this.label} is closed`)
    if (this.readerId !== 0) throw new Error(`${this.label} is already started`)
    this.onBatch = onBatch
    this.onError = onError
    const ring = this.ring
    this.readerId = native().startReader(
      this.fd,
      this.readerMode,
      ring.buffer,
      ring.slotSize,
      ring.slotCount,
      ring.headroom,
      ring.offsets,
      ring.lengths,
      ring.addrs.length > 0 ? ring.addrs : null,
      this.wake,
    )
  }

  send(batch: Tx, first: number, count: number): number {
    const end = first + count
    let next = first
    let sent = 0
    while (next < end) {
      const done = this.sendSome(batch, next, end - next)
      if (done > 0) {
        // A short count may hide an error on the next packet (sendmmsg): the retry reports it,
        // or returns 0 if the fd really would block.
        next += done
        sent += done
      } else if (done === 0) {
        this.stats[IoStat.TX_WOULDBLOCK] += end - next
        break
      } else {
        this.countSendError(done)
        next++
      }
    }
    this.stats[IoStat.TX_PACKETS] += sent
    return sent
  }

  /** A send that failed with -errno: TX_LINK_DOWN when the interface is down (EIO, ENETDOWN), else TX_ERRORS. */
  protected countSendError(errno: number): void {
    if (errno === -constants.errno.EIO || errno === -constants.errno.ENETDOWN) {
      this.stats[IoStat.TX_LINK_DOWN]++
      return
    }
    this.stats[IoStat.TX_ERRORS]++
    this.lastErrno = errno
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    // Reader first: libuv must not be polling the fd when it closes.
    if (this.readerId !== 0) native().stopReader(this.readerId)
    this.readerId = 0
    this.onBatch = null
    native().close(this.fd)
  }

  /** One addon call for packets first..first+count-1: a count, or -errno if packet `first` failed. */
  protected abstract sendSome(batch: Tx, first: number, count: number): number

  /**
   * Turns what the addon wrote for slots 0..count-1 into the batch handed to the engine (drop
   * truncated packets, normalise headers); returns how many remain.
   */
  protected abstract accept(count: number): number

  /** The batch object handed to onBatch (the ring itself, viewed as Rx). */
  protected abstract get rxBatch(): Rx

  /** Drops packet i as RX_TRUNCATED or RX_MALFORMED; returns the new count. */
  protected drop(i: number, count: number, stat: number): number {
    this.stats[stat]++
    return this.ring.discard(i, count, this.ring.addrs.length / this.ring.slotCount)
  }

  /** False (the addon's "nothing asynchronous was queued") unless an error was reported or onBatch said otherwise. */
  private readonly wake: ReaderCallback = (count, err) => {
    let synchronous = true
    if (err !== 0) {
      this.stats[IoStat.RX_ERRORS]++
      this.lastErrno = err
      const syscall = this.readerMode === native().constants.READER_READ ? 'read' : 'recvmmsg'
      this.onError?.(errnoError(err, syscall, this.label))
      synchronous = false
    }
    if (count === 0 || this.onBatch === null) return synchronous ? false : undefined
    this.stats[IoStat.RX_BATCHES]++
    const kept = this.accept(count)
    this.stats[IoStat.RX_PACKETS] += kept
    this.ring.count = kept
    if (kept > 0 && this.onBatch(this.rxBatch) !== false) synchronous = false
    return synchronous ? false : undefined
  }
}
