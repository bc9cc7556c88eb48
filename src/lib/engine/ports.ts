// The engine's OS boundary, in the shape of wireguard-go's tun.Device and conn.Bind: batches of
// packets in one preallocated buffer, described by offsets and lengths in typed arrays.
//
// A `Port` is a VM-side TAP (Ethernet frames); an `Underlay` is the physical side (GRE packets
// over raw IP sockets; the kernel writes and strips the outer IP header). The pipeline is built
// over these interfaces only, so unit tests drive it with in-memory fakes; io/tap-port.ts and
// io/gre-underlay.ts are the real ones. Nothing here allocates per packet.
import type {Family} from '../net/ip.js'

/** Bytes left free in front of every received packet, so encapsulation writes its header in place. */
export const DEFAULT_HEADROOM = 64
/** Packets per receive wakeup (and the size of the receive arrays). */
export const DEFAULT_BATCH_SIZE = 64

/**
 * Packets in one buffer: packet i is `buffer[offsets[i], offsets[i] + lengths[i])` for i < count.
 * Transmit batches are the engine's own (often a receive batch rewritten in place).
 */
export interface PacketBatch {
  readonly buffer: Buffer
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  count: number
}

/**
 * A received batch. It is the same object at every wakeup and its contents are overwritten by the
 * next one: use it inside the callback (or copy). Every packet in it arrived whole (truncated ones
 * are counted and left out). At least `headroom` bytes before each offsets[i] belong to that
 * packet's slot and may be overwritten.
 */
export interface RxBatch extends PacketBatch {
  readonly headroom: number
}

/** Layout of `UnderlayRxBatch.addrs`: per packet i, ADDR_STRIDE bytes at i * ADDR_STRIDE. */
export const ADDR_STRIDE = 32
/** Outer source address (IPv4: 4 bytes, IPv6: 16 bytes). */
export const ADDR_SRC = 0
/** Outer destination address, i.e. which local PA it was sent to. */
export const ADDR_DST = 16
/** Layout of `UnderlayTxBatch.destinations`: 16 bytes per packet index (IPv4 in the first 4). */
export const DEST_STRIDE = 16

/**
 * A batch from the underlay. For both address families offsets[i] points at the GRE header and the
 * outer IP header is not part of the packet (its addresses are in `addrs`).
 */
export interface UnderlayRxBatch extends RxBatch {
  readonly addrs: Uint8Array
}

/** GRE packets (GRE header + inner frame) to send; the kernel adds the outer IP header. */
export interface UnderlayTxBatch extends PacketBatch {
  readonly destinations: Uint8Array
}

/** Indices into `stats`: plain counters, read by the control socket's status. */
export const IoStat = {
  RX_PACKETS: 0,
  RX_BATCHES: 1,
  /** Larger than the receive slot: dropped. */
  RX_TRUNCATED: 2,
  /** Not a well-formed outer IPv4 header (should never happen: the kernel checked it). */
  RX_MALFORMED: 3,
  /** Errors reported by read()/recvmmsg() or by the poll itself. */
  RX_ERRORS: 4,
  TX_PACKETS: 5,
  /** Dropped because the fd would block (socket buffer full). */
  TX_WOULDBLOCK: 6,
  /** Dropped because the kernel refused the packet (e.g. EMSGSIZE, EINVAL). */
  TX_ERRORS: 7,
  /**
   * Dropped because the interface is down: a TAP whose VM side is not up refuses writes (EIO), a socket
   * whose device is down says ENETDOWN. A state (a VM shut down), not a fault: not in TX_ERRORS.
   */
  TX_LINK_DOWN: 8,
} as const
export const IO_STAT_COUNT = 9
export const IO_STAT_NAMES: readonly string[] = [
  'rxPackets',
  'rxBatches',
  'rxTruncated',
  'rxMalformed',
  'rxErrors',
  'txPackets',
  'txWouldBlock',
  'txErrors',
  'txLinkDown',
]

export type ErrorHandler = (error: Error) => void

interface Endpoint<Rx extends RxBatch, Tx extends PacketBatch> {
  /** Most packets one receive callback delivers. */
  readonly batchSize: number
  /** Port: the link MTU. Underlay: the largest GRE packet (GRE header + frame) sent unfragmented. */
  readonly mtu: number
  readonly headroom: number
  /** Indexed by IoStat. */
  readonly stats: Float64Array
  /** Negative errno of the latest failure, 0 if none. */
  readonly lastErrno: number
  /**
   * Starts receiving: `onBatch` is called once per wakeup with everything that was ready (up to
   * batchSize). Receive errors are counted; `onError` hears about them too. `onBatch` returns false
   * when it did only synchronous work (no promise, nextTick or stream write): the wakeup then skips
   * running the tick and microtask queues, which costs microseconds on a cold CPU. Any other return
   * (undefined included) runs them before the loop goes on, as for any event-loop callback.
   */
  start(onBatch: (batch: Rx) => boolean | void, onError?: ErrorHandler): void
  /**
   * Sends packets first..first+count-1 of the batch; returns how many went out. The others were
   * dropped and counted (TX_WOULDBLOCK, TX_ERRORS): nothing is queued.
   */
  send(batch: Tx, first: number, count: number): number
  /** Stops receiving and closes the fd; afterwards nothing keeps the process alive. Idempotent. */
  close(): void
}

/** What a TAP got at open time (wireguard-go: offloads are probed, with a real fallback). */
export interface PortFeatures {
  /** Frames in both directions start with a virtio_net_hdr of vnetHdrLen bytes. */
  readonly vnetHdr: boolean
  readonly vnetHdrLen: number
  /** The kernel may hand us frames with a partial checksum (VIRTIO_NET_HDR_F_NEEDS_CSUM). */
  readonly csum: boolean
  /** TCP super-frames (GSO TCPV4/TCPV6) up to 64 KB may arrive, and may be sent. */
  readonly tso: boolean
  /** TCP super-frames may carry ECN's CWR (VIRTIO_NET_HDR_GSO_ECN; TUN_F_TSO_ECN accepted). */
  readonly tsoEcn: boolean
  /** UDP super-frames (GSO UDP_L4) likewise. */
  readonly uso: boolean
  readonly multiQueue: boolean
}

/** A VM-side TAP: Ethernet frames (prefixed by a virtio_net_hdr when features.vnetHdr). */
export interface Port extends Endpoint<RxBatch, PacketBatch> {
  readonly name: string
  readonly features: PortFeatures
}

/**
 * TranslationMethodNat's physical link (io/physical-link.ts, nat.ts): the network-layer payload of every
 * frame of the physical interface (IPv4, IPv6, ARP; no Ethernet header), and rewritten IP packets sent
 * whole to their destination PA (`destinations` as for an underlay; the kernel routes them and resolves
 * the next hop). `sendFrame` sends one frame to a MAC: the engine's ARP replies for its NAT PAs.
 */
export interface PhysicalLink extends Endpoint<RxBatch, UnderlayTxBatch> {
  readonly interfaceName: string
  /** The interface's MAC (6 bytes): what the engine answers ARP for its NAT PAs with. */
  readonly mac: Uint8Array
  /** Bytes sent, or -errno. */
  sendFrame(etherType: number, dstMac: Uint8Array, buf: Buffer, off: number, len: number): number
}

/** The physical side: GRE packets to and from provider addresses. */
export interface Underlay extends Endpoint<UnderlayRxBatch, UnderlayTxBatch> {
  readonly family: Family
  /** The bound local PA (outer source of what we send; only packets to it arrive), or null. */
  readonly local: Uint8Array | null
}
