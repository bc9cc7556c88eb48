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
//    pseudo-header partial checksum), and, for a port with USO, consecutive UDP datagrams of one flow into
//    one GSO_UDP_L4 super-frame that the port's stack splits back into the same datagrams
//    (udp_rcv_segment); everything else passes through with a zero virtio header.
//
// Nothing here allocates per packet: the state objects are built once and reused; results are offsets
// and lengths in typed arrays; failures are negative DropReasons, never throws.
import {fold, sum16} from '../wire/checksum.js'
import {Eth, EtherType} from '../wire/ethernet.js'
import {IpProto} from '../wire/ip.js'
import {Ipv4, Ipv4Flag} from '../wire/ipv4.js'
import {Ipv6} from '../wire/ipv6.js'
import {Gre} from '../wire/nvgre.js'
import {Tcp, TcpFlag} from '../wire/tcp.js'
import {Udp} from '../wire/udp.js'
import type {PacketBatch} from './ports.js'
import {DropReason} from './stages.js'
import {
  VNET_CSUM_OFFSET,
  VNET_CSUM_START,
  VNET_F_NEEDS_CSUM,
  VNET_FLAGS,
  VNET_GSO_ECN,
  VNET_GSO_NONE,
  VNET_GSO_SIZE,
  VNET_GSO_TCPV4,
  VNET_GSO_TCPV6,
  VNET_GSO_TYPE,
  VNET_GSO_UDP_L4,
  le16,
  writeVnetGso,
  writeVnetNone,
} from './vnet.js'

/** Outer IPv4 (20) + GRE with key (8) + inner Ethernet (14): what NVGRE adds in front of an inner IP packet. */
export const NVGRE_OVERHEAD_V4 = Ipv4.HEADER_LEN + Gre.HEADER_LEN + Eth.HEADER_LEN
/** Outer IPv6 (40) + GRE with key (8) + inner Ethernet (14). */
export const NVGRE_OVERHEAD_V6 = Ipv6.HEADER_LEN + Gre.HEADER_LEN + Eth.HEADER_LEN
/** The largest IP packet a GSO super-frame (or a coalesced one) may carry. */
export const GSO_MAX_IP_LEN = 65535

/** Linux's CSUM_MANGLED_0: a UDP checksum computing to 0 is sent as 0xFFFF (0 means "none"). */
const CSUM_MANGLED_0 = 0xffff

// Bytes move through DataViews, four at a time, summed (RFC 1071 §2(A): the sum may be taken over
// 32-bit words and folded) in the same pass where a checksum needs them. Buffer.prototype.copy is a
// faster memcpy but wraps its source in a new Uint8Array on every call (Node 20 lib/buffer.js
// _copyActual): garbage per packet.

/**
 * A memcpy of `src[from, to)` to `dst` at `at` that allocates nothing (e.g. a native fast call). With
 * one, copies use it instead of the DataView loop; it is called with the same arguments types every
 * time (monomorphic).
 */
export type Memcpy = (src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number) => void

/**
 * The RFC 1071 sum of the big-endian 16-bit words of `buf[from, to)` (an odd last byte padded with
 * zero), folded to 16 bits and not complemented, allocating nothing (e.g. a native fast call).
 */
export type Checksum = (buf: Uint8Array, from: number, to: number) => number

/** Options shared by Segmenter and Coalescer. */
export interface OffloadOptions {
  /** See Memcpy; default: copy through DataViews, four bytes at a time. */
  memcpy?: Memcpy
  /**
   * See Checksum; default: summed through DataViews. Used for payload sums after a `memcpy` copy (without
   * one, the DataView copy sums as it goes) and for the coalescer's verification.
   */
  checksum?: Checksum
}

/**
 * DataViews of the last VIEW_CACHE buffers seen (the engine's per-port receive buffers and its output
 * areas): the engine reuses its buffers, so each view is made once, not per packet or per batch.
 */
const VIEW_CACHE = 8
const EMPTY_VIEW = new DataView(new ArrayBuffer(0))

class Views {
  private readonly buffers: (Uint8Array | null)[] = new Array<Uint8Array | null>(VIEW_CACHE).fill(null)
  private readonly views: DataView[] = new Array<DataView>(VIEW_CACHE).fill(EMPTY_VIEW)
  private last = 0
  private turn = 0

  of(b: Uint8Array): DataView {
    if (this.buffers[this.last] === b) return this.views[this.last]
    for (let i = 0; i < VIEW_CACHE; i++) {
      if (this.buffers[i] === b) {
        this.last = i
        return this.views[i]
      }
    }
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
    const i = this.turn
    this.turn = i + 1 === VIEW_CACHE ? 0 : i + 1
    this.buffers[i] = b
    this.views[i] = v
    this.last = i
    return v
  }
}

/** Copies `s[from, to)` to `d` at `at`. */
function copy(s: DataView, from: number, to: number, d: DataView, at: number): void {
  let i = from
  for (; i + 4 <= to; i += 4, at += 4) d.setUint32(at, s.getUint32(i))
  for (; i < to; i++, at++) d.setUint8(at, s.getUint8(i))
}

/** Copies `s[from, to)` to `d` at `at` and returns the unfolded sum of its 16-bit words (RFC 1071). */
function copySum(s: DataView, from: number, to: number, d: DataView, at: number): number {
  let sum = 0
  let i = from
  for (; i + 4 <= to; i += 4, at += 4) {
    const w = s.getUint32(i)
    d.setUint32(at, w)
    sum += w
  }
  if (i + 2 <= to) {
    const w = s.getUint16(i)
    d.setUint16(at, w)
    sum += w
    i += 2
    at += 2
  }
  if (i < to) {
    const w = s.getUint8(i)
    d.setUint8(at, w)
    sum += w << 8
  }
  return sum
}

/** The unfolded sum of the 16-bit words of `s[from, to)` plus `sum` (the odd last byte padded). */
function sumView(s: DataView, from: number, to: number, sum: number): number {
  let i = from
  for (; i + 4 <= to; i += 4) sum += s.getUint32(i)
  if (i + 2 <= to) {
    sum += s.getUint16(i)
    i += 2
  }
  if (i < to) sum += s.getUint8(i) << 8
  return sum
}

function setU16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 8
  b[o + 1] = v
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24
  b[o + 1] = v >>> 16
  b[o + 2] = v >>> 8
  b[o + 3] = v
}

/**
 * Below this many bytes the coalescer copies and sums in JavaScript even when given a native memcpy and
 * checksum: a call into the addon costs more than the loop over a small datagram (64-byte UDP payloads:
 * 381 ns per datagram with the addon's copy() and sum16(), 242 ns without).
 */
const NATIVE_MIN_BYTES = 256

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
  private readonly views = new Views()
  private readonly memcpy: Memcpy | null
  private readonly checksum: Checksum | null

  constructor(options: OffloadOptions = {}) {
    this.memcpy = options.memcpy ?? null
    this.checksum = options.checksum ?? null
  }

  /**
   * Splits the frame `src[frame, end)`, whose virtio_net_hdr is at `hdr`, into frames whose IP packet
   * is at most `maxIpLen` bytes (see innerMtu), appended to `out` from `out.used` on, each preceded by
   * `headroom` free bytes. GSO TCPV4/TCPV6 (+ECN) and UDP_L4 are split (a TCP super-frame whose gso_size
   * does not fit is cut to the MSS that does; a UDP one is refused: SEGMENT_TOO_BIG); a plain frame is
   * refused when larger than the inner MTU (SEGMENT_TOO_BIG), else copied as one segment with its NEEDS_CSUM checksum completed (the engine's zero-copy path for those
   * is vnetIngress). The IP length field bounds the packet (padding after it is not sent; 0 means the
   * whole frame). `src` is not modified.
   *
   * Returns the number of segments appended (≥ 1), or a negative DropReason (MALFORMED,
   * OFFLOAD_UNSUPPORTED, SEGMENT_TOO_BIG, OFFLOAD_NO_ROOM) with `out` unchanged.
   */
  segment(src: Uint8Array, hdr: number, frame: number, end: number, maxIpLen: number, out: OffloadBatch, headroom: number): number {
    const gsoType = src[hdr + VNET_GSO_TYPE] & ~VNET_GSO_ECN
    if (gsoType === VNET_GSO_NONE) return this.plain(src, hdr, frame, end, maxIpLen, out, headroom)
    if (gsoType !== VNET_GSO_TCPV4 && gsoType !== VNET_GSO_TCPV6 && gsoType !== VNET_GSO_UDP_L4) {
      return -DropReason.OFFLOAD_UNSUPPORTED
    }
    if (end - frame < Eth.HEADER_LEN + Ipv4.HEADER_LEN) return -DropReason.MALFORMED
    const etherType = (src[frame + Eth.TYPE] << 8) | src[frame + Eth.TYPE + 1]
    const ip = frame + Eth.HEADER_LEN
    let v6 = false
    let ipHdrLen = 0
    let protocol = 0
    if (etherType === EtherType.IPV4) {
      if (src[ip] >>> 4 !== 4) return -DropReason.MALFORMED
      ipHdrLen = (src[ip] & 0x0f) << 2
      if (ipHdrLen < Ipv4.HEADER_LEN || ip + ipHdrLen > end) return -DropReason.MALFORMED
      // A fragment cannot be a super-frame.
      if ((((src[ip + Ipv4.FLAGS_FRAG] << 8) | src[ip + Ipv4.FLAGS_FRAG + 1]) & (Ipv4Flag.MF | Ipv4Flag.FRAG_OFFSET_MASK)) !== 0) {
        return -DropReason.MALFORMED
      }
      protocol = src[ip + Ipv4.PROTOCOL]
      if (gsoType === VNET_GSO_TCPV6) return -DropReason.MALFORMED
    } else if (etherType === EtherType.IPV6) {
      if (ip + Ipv6.HEADER_LEN > end || src[ip] >>> 4 !== 6) return -DropReason.MALFORMED
      v6 = true
      ipHdrLen = Ipv6.HEADER_LEN
      // Extension headers in front of TCP/UDP are not handled (the kernel's TAP never sends them with GSO).
      protocol = src[ip + Ipv6.NEXT_HEADER]
      if (protocol !== IpProto.TCP && protocol !== IpProto.UDP) return -DropReason.OFFLOAD_UNSUPPORTED
      if (gsoType === VNET_GSO_TCPV4) return -DropReason.MALFORMED
    } else {
      return -DropReason.OFFLOAD_UNSUPPORTED
    }
    const tcp = gsoType !== VNET_GSO_UDP_L4
    if (protocol !== (tcp ? IpProto.TCP : IpProto.UDP)) return -DropReason.MALFORMED
    // The IP length field bounds the packet (Ethernet padding after it is left out); 0 means "as long as
    // the frame" (a length that did not fit 16 bits).
    const lengthField = v6
      ? (src[ip + Ipv6.PAYLOAD_LEN] << 8) | src[ip + Ipv6.PAYLOAD_LEN + 1]
      : (src[ip + Ipv4.LENGTH] << 8) | src[ip + Ipv4.LENGTH + 1]
    if (lengthField !== 0) {
      const ipEnd = ip + lengthField + (v6 ? Ipv6.HEADER_LEN : 0)
      if (ipEnd > end || ipEnd < ip + ipHdrLen) return -DropReason.MALFORMED
      end = ipEnd
    }
    const l4 = ip + ipHdrLen
    let l4HdrLen = Udp.HEADER_LEN
    if (tcp) {
      if (l4 + Tcp.HEADER_LEN > end) return -DropReason.MALFORMED
      l4HdrLen = (src[l4 + Tcp.DATA_OFF] >>> 4) << 2
      if (l4HdrLen < Tcp.HEADER_LEN) return -DropReason.MALFORMED
    }
    const payload = l4 + l4HdrLen
    if (payload > end) return -DropReason.MALFORMED
    // The checksum request, when there is one, must point at the checksum of the header we found.
    if ((src[hdr + VNET_FLAGS] & VNET_F_NEEDS_CSUM) !== 0) {
      if (le16(src, hdr + VNET_CSUM_START) !== l4 - frame) return -DropReason.MALFORMED
      if (le16(src, hdr + VNET_CSUM_OFFSET) !== (tcp ? Tcp.CHECKSUM : Udp.CHECKSUM)) return -DropReason.MALFORMED
    }
    const gsoSize = le16(src, hdr + VNET_GSO_SIZE)
    if (gsoSize === 0) return -DropReason.MALFORMED
    const room = maxIpLen - ipHdrLen - l4HdrLen
    let mss = gsoSize
    if (gsoSize > room) {
      if (!tcp || room <= 0) return -DropReason.SEGMENT_TOO_BIG
      mss = room
    }
    const payloadLen = end - payload
    const count = payloadLen <= mss ? 1 : Math.ceil(payloadLen / mss)
    const hdrsLen = payload - frame
    if (out.count + count > out.offsets.length) return -DropReason.OFFLOAD_NO_ROOM
    if (out.used + count * (headroom + hdrsLen) + payloadLen > out.buffer.length) return -DropReason.OFFLOAD_NO_ROOM
    if (mss !== gsoSize) this.stats[SegmentStat.MSS_CLAMPED]++

    const dst = out.buffer
    const sv = this.views.of(src)
    const dv = this.views.of(dst)
    const addrOff = v6 ? Ipv6.SRC : Ipv4.SRC
    // Pseudo-header without the length: source, destination, protocol.
    const pseudo = sum16(src, ip + addrOff, ip + addrOff + (v6 ? 32 : 8), protocol)
    const ipId = v6 ? 0 : (src[ip + Ipv4.IDENT] << 8) | src[ip + Ipv4.IDENT + 1]
    const seq = tcp ? readU32(src, l4 + Tcp.SEQ) : 0
    const flags = tcp ? src[l4 + Tcp.FLAGS] : 0
    let at = out.used
    let from = payload
    for (let i = 0; i < count; i++) {
      const chunk = i === count - 1 ? end - from : mss
      const f = at + headroom
      let payloadSum = 0
      if (this.memcpy === null) {
        copy(sv, frame, payload, dv, f)
        payloadSum = copySum(sv, from, from + chunk, dv, f + hdrsLen)
      } else {
        this.memcpy(src, frame, payload, dst, f)
        this.memcpy(src, from, from + chunk, dst, f + hdrsLen)
        payloadSum =
          this.checksum === null ? sumView(dv, f + hdrsLen, f + hdrsLen + chunk, 0) : this.checksum(dst, f + hdrsLen, f + hdrsLen + chunk)
      }
      const sip = f + Eth.HEADER_LEN
      const sl4 = sip + ipHdrLen
      const l4Len = l4HdrLen + chunk
      if (v6) {
        setU16(dst, sip + Ipv6.PAYLOAD_LEN, l4Len)
      } else {
        setU16(dst, sip + Ipv4.LENGTH, ipHdrLen + l4Len)
        setU16(dst, sip + Ipv4.IDENT, (ipId + i) & 0xffff)
        setU16(dst, sip + Ipv4.CHECKSUM, 0)
        setU16(dst, sip + Ipv4.CHECKSUM, ~fold(sum16(dst, sip, sl4)) & 0xffff)
      }
      let csumField = sl4 + Udp.CHECKSUM
      if (tcp) {
        writeU32(dst, sl4 + Tcp.SEQ, (seq + i * mss) >>> 0)
        let fl = flags
        if (i !== count - 1) fl &= ~(TcpFlag.FIN | TcpFlag.PSH)
        if (i !== 0) fl &= ~TcpFlag.CWR
        dst[sl4 + Tcp.FLAGS] = fl
        csumField = sl4 + Tcp.CHECKSUM
      } else {
        setU16(dst, sl4 + Udp.LENGTH, l4Len)
      }
      setU16(dst, csumField, 0)
      let sum = ~fold(sum16(dst, sl4, sl4 + l4HdrLen, pseudo + l4Len + payloadSum)) & 0xffff
      if (sum === 0 && !tcp) sum = 0xffff
      setU16(dst, csumField, sum)
      out.offsets[out.count] = f
      out.lengths[out.count] = hdrsLen + chunk
      out.count++
      at = f + hdrsLen + chunk
      from += chunk
    }
    out.used = at
    this.stats[SegmentStat.SUPERFRAMES]++
    this.stats[SegmentStat.SEGMENTS] += count
    return count
  }

  /** A frame without GSO: copied, its partial checksum completed in the copy. */
  private plain(src: Uint8Array, hdr: number, frame: number, end: number, maxIpLen: number, out: OffloadBatch, headroom: number): number {
    const len = end - frame
    if (len - Eth.HEADER_LEN > maxIpLen) return -DropReason.SEGMENT_TOO_BIG
    if (out.count >= out.offsets.length || out.used + headroom + len > out.buffer.length) return -DropReason.OFFLOAD_NO_ROOM
    let field = 0
    let start = 0
    if ((src[hdr + VNET_FLAGS] & VNET_F_NEEDS_CSUM) !== 0) {
      start = le16(src, hdr + VNET_CSUM_START)
      field = start + le16(src, hdr + VNET_CSUM_OFFSET)
      if (field + 2 > len) return -DropReason.OFFLOAD_UNSUPPORTED
    }
    const f = out.used + headroom
    const dst = out.buffer
    const dv = this.views.of(dst)
    if (this.memcpy === null) copy(this.views.of(src), frame, end, dv, f)
    else this.memcpy(src, frame, end, dst, f)
    if (field !== 0) {
      const sum = ~fold(sumView(dv, f + start, f + len, 0)) & 0xffff
      setU16(dst, f + field, sum === 0 ? CSUM_MANGLED_0 : sum)
    }
    out.offsets[out.count] = f
    out.lengths[out.count] = len
    out.count++
    out.used = f + len
    this.stats[SegmentStat.PLAIN]++
    return 1
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
  /** TCP segments and UDP datagrams not merged because their checksum was wrong (passed through as they are). */
  BAD_CHECKSUM: 4,
  /** Of SUPERFRAMES, the UDP ones (GSO_UDP_L4). */
  UDP_SUPERFRAMES: 5,
  /** Of SEGMENTS_COALESCED, UDP datagrams. */
  UDP_DATAGRAMS: 6,
} as const
export const COALESCE_STAT_NAMES: readonly string[] = ['framesIn', 'superframes', 'segmentsCoalesced', 'passedThrough', 'badChecksum', 'udpSuperframes', 'udpDatagrams']

export interface CoalescerOptions extends OffloadOptions {
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

const ROLE_PASS = 0
const ROLE_LEADER = 1
const ROLE_MEMBER = 2
/** IPv4 ID progression within a group: not yet known, incrementing, fixed (DF set). */
const ID_UNKNOWN = 0
const ID_INCREMENT = 1
const ID_FIXED = 2
/** TCP flags a coalescible segment may carry: ACK, and PSH on the last one. */
const GRO_FLAGS = TcpFlag.ACK
/**
 * Most datagrams in one UDP super-frame: the kernel's UDP_MAX_SEGMENTS (64 before Linux 6.13, where it
 * became 128), which virtio_net_hdr_to_skb enforces on a TAP write.
 */
export const UDP_GRO_MAX_SEGMENTS = 64
/** NOP, NOP, Timestamps (kind 8, length 10): the one option layout that is merged (RFC 7323 appendix A). */
const TS_OPTIONS_LEN = 12

/** Coalesces TCP segments bound for one TAP (GRO). One per engine loop; not reentrant. */
export class Coalescer {
  /** Indexed by CoalesceStat. */
  readonly stats = new Float64Array(COALESCE_STAT_NAMES.length)
  readonly maxFrames: number
  readonly maxFlows: number
  readonly verifyChecksums: boolean

  // Per input frame (pass 1 fills, pass 2 reads).
  private readonly role: Uint8Array
  private readonly next: Int32Array
  private readonly segs: Uint32Array
  private readonly l4At: Uint32Array
  private readonly payAt: Uint32Array
  private readonly ipEnd: Uint32Array
  private readonly v6: Uint8Array
  /** 1: the frame is a UDP datagram (else TCP). */
  private readonly udp: Uint8Array
  // Per open group (a flow being merged), maxFlows of them.
  private readonly gLeader: Int32Array
  private readonly gLast: Int32Array
  private readonly gNextSeq: Float64Array
  private readonly gGso: Uint32Array
  private readonly gIpLen: Uint32Array
  private readonly gClosed: Uint8Array
  private readonly gLastId: Uint32Array
  private readonly gIdMode: Uint8Array
  private evict = 0
  private readonly views = new Views()
  /** The source's view during a coalesce() call. */
  private sv: DataView = EMPTY_VIEW
  private readonly memcpy: Memcpy | null
  private readonly checksum: Checksum | null

  constructor(options: CoalescerOptions = {}) {
    this.maxFrames = options.maxFrames ?? 256
    this.maxFlows = options.maxFlows ?? 8
    this.verifyChecksums = options.verifyChecksums ?? true
    this.memcpy = options.memcpy ?? null
    this.checksum = options.checksum ?? null
    const n = this.maxFrames
    this.role = new Uint8Array(n)
    this.next = new Int32Array(n)
    this.segs = new Uint32Array(n)
    this.l4At = new Uint32Array(n)
    this.payAt = new Uint32Array(n)
    this.ipEnd = new Uint32Array(n)
    this.v6 = new Uint8Array(n)
    this.udp = new Uint8Array(n)
    const g = this.maxFlows
    this.gLeader = new Int32Array(g)
    this.gLast = new Int32Array(g)
    this.gNextSeq = new Float64Array(g)
    this.gGso = new Uint32Array(g)
    this.gIpLen = new Uint32Array(g)
    this.gClosed = new Uint8Array(g)
    this.gLastId = new Uint32Array(g)
    this.gIdMode = new Uint8Array(g)
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
   * position of its first segment. With `udp` (a port whose kernel takes GSO_UDP_L4 writes, Linux 6.2 on:
   * PortFeatures.uso), consecutive UDP datagrams of one flow (same Ethernet header, addresses and ports,
   * a valid non-zero checksum, equal payload sizes but a shorter last one, at most UDP_GRO_MAX_SEGMENTS;
   * IPv4 without options or fragments, same TOS/TTL/flags and IDs incrementing by one, as the kernel's
   * segmentation writes them back; IPv6 without extension headers, same traffic class, flow label and hop
   * limit) become one super-frame with a GSO_UDP_L4 header (gso_size = the datagrams' payload size,
   * NEEDS_CSUM at the UDP checksum, which holds the pseudo-header sum over the super-frame's UDP length).
   * Everything else is copied unchanged behind a zero header. Order within a flow is kept.
   *
   * Returns the number of packets appended, or a negative DropReason (OFFLOAD_NO_ROOM: `out` is too
   * small for the whole batch; it is left unchanged).
   */
  coalesce(src: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: OffloadBatch, vnetLen: number, udp = false): number {
    const n = count < this.maxFrames ? count : this.maxFrames
    const {role, next, segs, gLeader} = this
    for (let g = 0; g < this.maxFlows; g++) gLeader[g] = -1
    this.evict = 0
    this.sv = this.views.of(src)
    let outputs = 0
    let bytes = 0
    // Pass 1: decide which frames merge into which, without writing anything.
    for (let i = 0; i < n; i++) {
      next[i] = -1
      segs[i] = 1
      role[i] = ROLE_PASS
      const f = offsets[i]
      const len = lengths[i]
      if (!this.candidate(src, f, f + len, i, udp)) {
        outputs++
        bytes += vnetLen + len
        continue
      }
      const g = this.findFlow(src, offsets, i)
      if (g >= 0 && this.canAppend(src, offsets, g, i)) {
        this.append(src, offsets, g, i)
        bytes += this.ipEnd[i] - this.payAt[i]
        continue
      }
      this.open(src, g >= 0 ? g : this.freeFlow(), f, i)
      outputs++
      bytes += vnetLen + len
    }
    if (out.count + outputs > out.offsets.length || out.used + bytes > out.buffer.length) return -DropReason.OFFLOAD_NO_ROOM
    // Pass 2: write.
    const dst = out.buffer
    const dv = this.views.of(dst)
    let at = out.used
    for (let i = 0; i < n; i++) {
      if (role[i] === ROLE_MEMBER) continue
      const f = offsets[i]
      let len = lengths[i]
      if (segs[i] === 1) {
        writeVnetNone(dst, at, vnetLen)
        this.copyBytes(src, f, f + len, dst, dv, at + vnetLen)
        this.stats[CoalesceStat.PASSED_THROUGH]++
      } else {
        len = this.writeSuper(src, offsets, i, dst, dv, at, vnetLen) - vnetLen
        this.stats[CoalesceStat.SUPERFRAMES]++
        this.stats[CoalesceStat.SEGMENTS_COALESCED] += segs[i]
        if (this.udp[i] === 1) {
          this.stats[CoalesceStat.UDP_SUPERFRAMES]++
          this.stats[CoalesceStat.UDP_DATAGRAMS] += segs[i]
        }
      }
      out.offsets[out.count] = at
      out.lengths[out.count] = vnetLen + len
      out.count++
      at += vnetLen + len
    }
    out.used = at
    this.stats[CoalesceStat.FRAMES_IN] += n
    return outputs
  }

  /**
   * Whether frame i (`src[f, end)`) is a TCP segment, or with `udp` a UDP datagram, that may be merged;
   * records its offsets.
   */
  private candidate(src: Uint8Array, f: number, end: number, i: number, udp: boolean): boolean {
    if (end - f < Eth.HEADER_LEN + Ipv4.HEADER_LEN + Udp.HEADER_LEN) return false
    const etherType = (src[f + Eth.TYPE] << 8) | src[f + Eth.TYPE + 1]
    const ip = f + Eth.HEADER_LEN
    let l4 = 0
    let ipEnd = 0
    let protocol = 0
    if (etherType === EtherType.IPV4) {
      protocol = src[ip + Ipv4.PROTOCOL]
      if (src[ip] !== 0x45 || (protocol !== IpProto.TCP && (!udp || protocol !== IpProto.UDP))) return false
      if ((((src[ip + Ipv4.FLAGS_FRAG] << 8) | src[ip + Ipv4.FLAGS_FRAG + 1]) & (Ipv4Flag.MF | Ipv4Flag.FRAG_OFFSET_MASK)) !== 0) return false
      ipEnd = ip + ((src[ip + Ipv4.LENGTH] << 8) | src[ip + Ipv4.LENGTH + 1])
      l4 = ip + Ipv4.HEADER_LEN
      if (ipEnd > end || ipEnd < l4 + (protocol === IpProto.TCP ? Tcp.HEADER_LEN : Udp.HEADER_LEN)) return false
      if (this.verifyChecksums && fold(sum16(src, ip, l4)) !== 0xffff) {
        this.stats[CoalesceStat.BAD_CHECKSUM]++
        return false
      }
      this.v6[i] = 0
    } else if (etherType === EtherType.IPV6) {
      l4 = ip + Ipv6.HEADER_LEN
      if (l4 + Udp.HEADER_LEN > end || src[ip] >>> 4 !== 6) return false
      protocol = src[ip + Ipv6.NEXT_HEADER]
      if (protocol !== IpProto.TCP && (!udp || protocol !== IpProto.UDP)) return false
      ipEnd = l4 + ((src[ip + Ipv6.PAYLOAD_LEN] << 8) | src[ip + Ipv6.PAYLOAD_LEN + 1])
      if (ipEnd > end || ipEnd < l4 + (protocol === IpProto.TCP ? Tcp.HEADER_LEN : Udp.HEADER_LEN)) return false
      this.v6[i] = 1
    } else {
      return false
    }
    let pay = l4 + Udp.HEADER_LEN
    if (protocol === IpProto.UDP) {
      // The UDP length must be the IP payload's (no trailing bytes), with data, and a checksum to keep
      // (0, "none", would come back computed).
      if (((src[l4 + Udp.LENGTH] << 8) | src[l4 + Udp.LENGTH + 1]) !== ipEnd - l4 || pay >= ipEnd) return false
      if (src[l4 + Udp.CHECKSUM] === 0 && src[l4 + Udp.CHECKSUM + 1] === 0) return false
      this.udp[i] = 1
    } else {
      // Data offset with no AE/reserved bits; flags ACK or ACK|PSH only.
      const doffByte = src[l4 + Tcp.DATA_OFF]
      if ((doffByte & 0x0f) !== 0 || (src[l4 + Tcp.FLAGS] & ~TcpFlag.PSH) !== GRO_FLAGS) return false
      const tcpHdrLen = (doffByte >>> 4) << 2
      if (tcpHdrLen !== Tcp.HEADER_LEN) {
        if (tcpHdrLen !== Tcp.HEADER_LEN + TS_OPTIONS_LEN) return false
        const o = l4 + Tcp.OPTIONS
        if (src[o] !== 1 || src[o + 1] !== 1 || src[o + 2] !== 8 || src[o + 3] !== 10) return false
      }
      pay = l4 + tcpHdrLen
      if (pay >= ipEnd) return false
      this.udp[i] = 0
    }
    if (this.verifyChecksums) {
      const v6 = this.v6[i] === 1
      const addr = ip + (v6 ? Ipv6.SRC : Ipv4.SRC)
      const pseudo = sum16(src, addr, addr + (v6 ? 32 : 8), protocol + (ipEnd - l4))
      const sum = this.checksum === null || ipEnd - l4 < NATIVE_MIN_BYTES ? sumView(this.sv, l4, ipEnd, pseudo) : this.checksum(src, l4, ipEnd) + pseudo
      if (fold(sum) !== 0xffff) {
        this.stats[CoalesceStat.BAD_CHECKSUM]++
        return false
      }
    }
    this.l4At[i] = l4
    this.payAt[i] = pay
    this.ipEnd[i] = ipEnd
    return true
  }

  /** The open group of frame i's flow (family, addresses, ports), or -1. */
  private findFlow(src: Uint8Array, offsets: Uint32Array, i: number): number {
    const v6 = this.v6[i]
    const udp = this.udp[i]
    const ip = offsets[i] + Eth.HEADER_LEN
    const addr = ip + (v6 === 1 ? Ipv6.SRC : Ipv4.SRC)
    const addrLen = v6 === 1 ? 32 : 8
    const l4 = this.l4At[i]
    for (let g = 0; g < this.maxFlows; g++) {
      const lead = this.gLeader[g]
      if (lead < 0 || this.v6[lead] !== v6 || this.udp[lead] !== udp) continue
      const lip = offsets[lead] + Eth.HEADER_LEN
      const laddr = lip + (v6 === 1 ? Ipv6.SRC : Ipv4.SRC)
      const ll4 = this.l4At[lead]
      if (!same(src, l4, ll4, 4)) continue
      if (same(src, addr, laddr, addrLen)) return g
    }
    return -1
  }

  /** Whether frame i continues group g's super-frame. */
  private canAppend(src: Uint8Array, offsets: Uint32Array, g: number, i: number): boolean {
    if (this.gClosed[g] === 1) return false
    const lead = this.gLeader[g]
    const l4 = this.l4At[i]
    const ll4 = this.l4At[lead]
    const payload = this.ipEnd[i] - this.payAt[i]
    if (payload > this.gGso[g] || this.gIpLen[g] + payload > GSO_MAX_IP_LEN) return false
    if (this.udp[i] === 1) return this.canAppendUdp(src, offsets, g, i)
    if (readU32(src, l4 + Tcp.SEQ) !== this.gNextSeq[g]) return false
    // The Ethernet header (the super-frame carries the first one), then the ACK number, data offset,
    // window, and options byte for byte (flags were checked by candidate()).
    if (!same(src, offsets[i], offsets[lead], Eth.HEADER_LEN)) return false
    if (!same(src, l4 + Tcp.ACK, ll4 + Tcp.ACK, 5)) return false
    if (!same(src, l4 + Tcp.WINDOW, ll4 + Tcp.WINDOW, 2)) return false
    const optLen = this.payAt[i] - l4 - Tcp.HEADER_LEN
    if (optLen !== 0 && !same(src, l4 + Tcp.OPTIONS, ll4 + Tcp.OPTIONS, optLen)) return false
    const ip = offsets[i] + Eth.HEADER_LEN
    const lip = offsets[lead] + Eth.HEADER_LEN
    if (this.v6[i] === 1) {
      return same(src, ip, lip, 4) && src[ip + Ipv6.HOP_LIMIT] === src[lip + Ipv6.HOP_LIMIT]
    }
    if (src[ip + Ipv4.TOS] !== src[lip + Ipv4.TOS] || src[ip + Ipv4.TTL] !== src[lip + Ipv4.TTL]) return false
    // DF and the reserved bit (MF and the offset are zero: candidate()).
    const df = src[ip + Ipv4.FLAGS_FRAG]
    if (df !== src[lip + Ipv4.FLAGS_FRAG]) return false
    const id = (src[ip + Ipv4.IDENT] << 8) | src[ip + Ipv4.IDENT + 1]
    const last = this.gLastId[g]
    const mode = this.gIdMode[g]
    const inc = id === ((last + 1) & 0xffff)
    const fixed = id === last && (df & (Ipv4Flag.DF >>> 8)) !== 0
    if (mode === ID_INCREMENT) return inc
    if (mode === ID_FIXED) return fixed
    return inc || fixed
  }

  /** canAppend's rest for a UDP datagram (ports, addresses, size and group room already checked). */
  private canAppendUdp(src: Uint8Array, offsets: Uint32Array, g: number, i: number): boolean {
    const lead = this.gLeader[g]
    if (this.segs[lead] >= UDP_GRO_MAX_SEGMENTS) return false
    if (!same(src, offsets[i], offsets[lead], Eth.HEADER_LEN)) return false
    const ip = offsets[i] + Eth.HEADER_LEN
    const lip = offsets[lead] + Eth.HEADER_LEN
    if (this.v6[i] === 1) {
      return same(src, ip, lip, 4) && src[ip + Ipv6.HOP_LIMIT] === src[lip + Ipv6.HOP_LIMIT]
    }
    if (src[ip + Ipv4.TOS] !== src[lip + Ipv4.TOS] || src[ip + Ipv4.TTL] !== src[lip + Ipv4.TTL]) return false
    if (src[ip + Ipv4.FLAGS_FRAG] !== src[lip + Ipv4.FLAGS_FRAG]) return false
    // The kernel's segmentation numbers the datagrams from the first one's ID (inet_gso_segment).
    const id = (src[ip + Ipv4.IDENT] << 8) | src[ip + Ipv4.IDENT + 1]
    return id === ((this.gLastId[g] + 1) & 0xffff)
  }

  private append(src: Uint8Array, offsets: Uint32Array, g: number, i: number): void {
    const lead = this.gLeader[g]
    const payload = this.ipEnd[i] - this.payAt[i]
    this.next[this.gLast[g]] = i
    this.gLast[g] = i
    this.role[i] = ROLE_MEMBER
    this.segs[lead]++
    this.gNextSeq[g] = (this.gNextSeq[g] + payload) >>> 0
    this.gIpLen[g] += payload
    if (payload < this.gGso[g] || (this.udp[i] === 0 && (src[this.l4At[i] + Tcp.FLAGS] & TcpFlag.PSH) !== 0)) this.gClosed[g] = 1
    if (this.v6[i] === 0) {
      const ip = offsets[i] + Eth.HEADER_LEN
      const id = (src[ip + Ipv4.IDENT] << 8) | src[ip + Ipv4.IDENT + 1]
      if (this.gIdMode[g] === ID_UNKNOWN) this.gIdMode[g] = id === this.gLastId[g] ? ID_FIXED : ID_INCREMENT
      this.gLastId[g] = id
    }
  }

  /** Starts group g with frame i (at `f`). */
  private open(src: Uint8Array, g: number, f: number, i: number): void {
    const l4 = this.l4At[i]
    const payload = this.ipEnd[i] - this.payAt[i]
    const ip = f + Eth.HEADER_LEN
    this.role[i] = ROLE_LEADER
    this.gLeader[g] = i
    this.gLast[g] = i
    const udp = this.udp[i] === 1
    this.gNextSeq[g] = udp ? 0 : (readU32(src, l4 + Tcp.SEQ) + payload) >>> 0
    this.gGso[g] = payload
    this.gIpLen[g] = this.ipEnd[i] - ip
    this.gClosed[g] = !udp && (src[l4 + Tcp.FLAGS] & TcpFlag.PSH) !== 0 ? 1 : 0
    this.gLastId[g] = this.v6[i] === 1 ? 0 : (src[ip + Ipv4.IDENT] << 8) | src[ip + Ipv4.IDENT + 1]
    this.gIdMode[g] = ID_UNKNOWN
  }

  /** A group slot for a new flow: a free one, else the next in turn (its super-frame is complete). */
  private freeFlow(): number {
    for (let g = 0; g < this.maxFlows; g++) if (this.gLeader[g] < 0) return g
    const g = this.evict
    this.evict = g + 1 === this.maxFlows ? 0 : g + 1
    return g
  }

  /** Writes the super-frame led by frame i at `at` (virtio header first); returns its length. */
  private writeSuper(src: Uint8Array, offsets: Uint32Array, i: number, dst: Uint8Array, dv: DataView, at: number, vnetLen: number): number {
    const f = offsets[i]
    const v6 = this.v6[i] === 1
    const udp = this.udp[i] === 1
    const l4 = this.l4At[i] - f
    const hdrsLen = this.payAt[i] - f
    const gsoType = udp ? VNET_GSO_UDP_L4 : v6 ? VNET_GSO_TCPV6 : VNET_GSO_TCPV4
    writeVnetGso(dst, at, vnetLen, gsoType, hdrsLen, this.ipEnd[i] - this.payAt[i], l4, udp ? Udp.CHECKSUM : Tcp.CHECKSUM)
    const base = at + vnetLen
    this.copyBytes(src, f, this.ipEnd[i], dst, dv, base)
    let w = base + this.ipEnd[i] - f
    let last = i
    for (let m = this.next[i]; m >= 0; m = this.next[m]) {
      this.copyBytes(src, this.payAt[m], this.ipEnd[m], dst, dv, w)
      w += this.ipEnd[m] - this.payAt[m]
      last = m
    }
    const ip = base + Eth.HEADER_LEN
    const l4Out = base + l4
    const protocol = udp ? IpProto.UDP : IpProto.TCP
    const l4Len = w - l4Out
    if (udp) setU16(dst, l4Out + Udp.LENGTH, l4Len)
    else dst[l4Out + Tcp.FLAGS] |= src[this.l4At[last] + Tcp.FLAGS] & TcpFlag.PSH
    let pseudo = 0
    if (v6) {
      setU16(dst, ip + Ipv6.PAYLOAD_LEN, l4Len)
      pseudo = sum16(dst, ip + Ipv6.SRC, ip + Ipv6.SRC + 32, protocol + l4Len)
    } else {
      setU16(dst, ip + Ipv4.LENGTH, w - ip)
      setU16(dst, ip + Ipv4.CHECKSUM, 0)
      setU16(dst, ip + Ipv4.CHECKSUM, ~fold(sum16(dst, ip, l4Out)) & 0xffff)
      pseudo = sum16(dst, ip + Ipv4.SRC, ip + Ipv4.SRC + 8, protocol + l4Len)
    }
    // NEEDS_CSUM: the field holds the pseudo-header sum (over the super-frame's length), not
    // complemented; the guest finishes it (for UDP, __udp_gso_segment moves it to each datagram's length).
    setU16(dst, l4Out + (udp ? Udp.CHECKSUM : Tcp.CHECKSUM), fold(pseudo))
    return w - at
  }

  /** `src[from, to)` to `dst` at `at`: the addon's memcpy when given one and the run is long enough (NATIVE_MIN_BYTES). */
  private copyBytes(src: Uint8Array, from: number, to: number, dst: Uint8Array, dv: DataView, at: number): void {
    if (this.memcpy === null || to - from < NATIVE_MIN_BYTES) copy(this.sv, from, to, dv, at)
    else this.memcpy(src, from, to, dst, at)
  }
}

/** Whether `b[a, a + n)` equals `b[c, c + n)`. */
function same(b: Uint8Array, a: number, c: number, n: number): boolean {
  for (let k = 0; k < n; k++) if (b[a + k] !== b[c + k]) return false
  return true
}
