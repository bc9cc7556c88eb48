// A PhysicalLink in memory (TranslationMethodNat): `receive` hands plain IP packets or ARP payloads to the
// engine as the AF_PACKET reader would; `sent` keeps the rewritten IP packets with their destination PA,
// `frames` what sendFrame sent (ARP replies) with the MAC it went to.
import {DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM, DEST_STRIDE, IO_STAT_COUNT, IoStat, type ErrorHandler, type PhysicalLink, type RxBatch, type UnderlayTxBatch} from '../../src/lib/engine/ports.js'
import {MemoryRing} from './memory-port.js'

export class MemoryPhysicalLink implements PhysicalLink {
  readonly interfaceName = 'mem-phys'
  readonly mac = Uint8Array.from([0x02, 0x00, 0x5e, 0x00, 0x00, 0x42])
  readonly mtu = 65535
  readonly headroom = DEFAULT_HEADROOM
  readonly batchSize = DEFAULT_BATCH_SIZE
  readonly stats = new Float64Array(IO_STAT_COUNT)
  lastErrno = 0
  readonly sent: {destination: Buffer; packet: Buffer}[] = []
  readonly frames: {etherType: number; mac: Buffer; payload: Buffer}[] = []
  private onBatch: ((batch: RxBatch) => void) | null = null
  private readonly ring = new MemoryRing(DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM, DEFAULT_HEADROOM + 9000)

  start(onBatch: (batch: RxBatch) => void, _onError?: ErrorHandler): void {
    this.onBatch = onBatch
  }

  receive(...packets: Uint8Array[]): void {
    if (this.onBatch === null) return
    this.ring.fill(packets)
    this.stats[IoStat.RX_PACKETS] += packets.length
    this.onBatch(this.ring)
  }

  send(batch: UnderlayTxBatch, first: number, count: number): number {
    for (let i = first; i < first + count; i++) {
      this.sent.push({
        destination: Buffer.from(batch.destinations.subarray(i * DEST_STRIDE, (i + 1) * DEST_STRIDE)),
        packet: Buffer.from(batch.buffer.subarray(batch.offsets[i], batch.offsets[i] + batch.lengths[i])),
      })
    }
    this.stats[IoStat.TX_PACKETS] += count
    return count
  }

  sendFrame(etherType: number, dstMac: Uint8Array, buf: Buffer, off: number, len: number): number {
    this.frames.push({etherType, mac: Buffer.from(dstMac), payload: Buffer.from(buf.subarray(off, off + len))})
    return len
  }

  close(): void {
    this.onBatch = null
  }
}
