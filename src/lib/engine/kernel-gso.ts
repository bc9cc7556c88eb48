// Kernel GSO for NVGRE super-packets (the NVGRE task offload a real NIC gives Windows' HNV).
//
// Send: a TCP super-frame from a TSO port, once the pipeline has decided it (one verdict for all its
// segments), is written whole as [Ethernet | outer IPv4 or IPv6 | GRE(key) | inner frame] behind a
// virtio GSO header into an "underlay TAP" in the host namespace. A tcx ingress program on that TAP
// (assembled here, loaded by the addon with bpf()) cuts the 42 (62) bytes of outer IP, GRE and inner
// Ethernet out and puts them back with bpf_skb_adjust_room(ENCAP_L3_IPV4 (IPV6) | ENCAP_L4_GRE |
// ENCAP_L2_ETH | ENCAP_L2(14)): that marks the skb encapsulated with SKB_GSO_GRE, the state only
// kernel tunnels set. bpf_redirect_neigh() then sends it out of the physical interface (FIB and
// neighbour fill the outer MACs), where a GSO-capable device (veth, a NIC with GRE TSO) takes it
// whole and anything else gets it segmented by gre_gso_segment() at the last moment.
//
// Receive: such a packet crosses veth whole and the peer's raw GRE socket receives up to 64 KB of
// inner frame whose TCP checksum holds only the pseudo-header sum (CHECKSUM_PARTIAL on the sender);
// segments a device cut without checksumming carry the same. RxOffload turns them into what a TAP
// takes: a GSO virtio header (NEEDS_CSUM) for a frame above the port's MTU, a completed checksum for
// one that fits.
import {fold, internetChecksum, sum16 as jsSum16} from '../wire/checksum.js'
import {VNET_F_NEEDS_CSUM, VNET_GSO_ECN, VNET_GSO_TCPV4, VNET_GSO_TCPV6, le16, writeVnetGso} from './vnet.js'
import type {Checksum} from './offload.js'

// ---- the tcx program ----

// struct bpf_insn opcodes (include/uapi/linux/bpf.h, bpf_common.h).
const BPF_ALU64_MOV_K = 0xb7
const BPF_ALU64_MOV_X = 0xbf
const BPF_ALU64_ADD_K = 0x07
const BPF_LD_DW_IMM = 0x18
const BPF_JNE_K = 0x55
const BPF_JEQ_K = 0x15
const BPF_JA = 0x05
const BPF_CALL = 0x85
const BPF_EXIT = 0x95
/** *(u32 *)(dst + off) = src */
const BPF_STX_MEM_W = 0x63
/** lock *(u64 *)(dst + off) += src (BPF_STX | BPF_ATOMIC | BPF_DW, imm BPF_ADD) */
const BPF_STX_ATOMIC_DW = 0xdb
/** src_reg of a 64-bit immediate load that names a map by fd. */
const BPF_PSEUDO_MAP_FD = 1
// Helper ids (enum bpf_func_id).
const FN_MAP_LOOKUP_ELEM = 1
const FN_SKB_STORE_BYTES = 9
const FN_SKB_LOAD_BYTES = 26
const FN_SKB_ADJUST_ROOM = 50
const FN_REDIRECT_NEIGH = 152
const BPF_ADJ_ROOM_MAC = 1
const F_FIXED_GSO = 1n
const F_ENCAP_L3_IPV4 = 1n << 1n
const F_ENCAP_L3_IPV6 = 1n << 2n
const F_ENCAP_L4_GRE = 1n << 3n
const F_ENCAP_L2_ETH = 1n << 6n
const ENCAP_L2_SHIFT = 56n
/** TCX_DROP (= TC_ACT_SHOT). */
const TCX_DROP = 2

/** Outer IPv4 (IPv6) + GRE with key + inner Ethernet: what the program lifts out and puts back. */
export const GSO_ENCAP_LEN = 20 + 8 + 14
export const GSO_ENCAP_LEN_V6 = 40 + 8 + 14
/** The outer Ethernet header the engine writes (its MACs are filled by bpf_redirect_neigh). */
const OUTER_ETH = 14
/** Flags of the second bpf_skb_adjust_room: room for IPv4 + GRE + 14 bytes of inner Ethernet, encapsulated. */
export const GROW_FLAGS = F_FIXED_GSO | F_ENCAP_L3_IPV4 | F_ENCAP_L4_GRE | F_ENCAP_L2_ETH | (14n << ENCAP_L2_SHIFT)
/** The same over an IPv6 outer header. */
export const GROW_FLAGS_V6 = F_FIXED_GSO | F_ENCAP_L3_IPV6 | F_ENCAP_L4_GRE | F_ENCAP_L2_ETH | (14n << ENCAP_L2_SHIFT)
/** Instructions of the program. */
export const GSO_PROGRAM_LEN = 53
/**
 * The program's drop counters (u64 each, in an array map indexed by step): which helper failed. The
 * redirect itself fails later, in the kernel (counted as the physical interface's tx drops).
 */
export const PROGRAM_DROP_NAMES: readonly string[] = ['programDropLoad', 'programDropShrink', 'programDropGrow', 'programDropStore']

function insn(out: DataView, at: number, code: number, dst: number, src: number, off: number, imm: number): number {
  out.setUint8(at * 8, code)
  out.setUint8(at * 8 + 1, (src << 4) | dst)
  out.setInt16(at * 8 + 2, off, true)
  out.setInt32(at * 8 + 4, imm | 0, true)
  return at + 1
}

/**
 * The tcx ingress program of the underlay TAP, as struct bpf_insn bytes: save the 42 bytes after the
 * outer Ethernet header (62 over IPv6), drop them, re-insert room for them as an IPv4 (IPv6)/GRE/Ethernet
 * encapsulation (gso_size kept), write them back, redirect to `physicalIfindex` through the neighbour
 * table. A helper that fails drops the packet (TCX_DROP) and counts it in the array map `countersFd`
 * (PROGRAM_DROP_NAMES order).
 */
export function assembleGsoProgram(physicalIfindex: number, countersFd: number, outerV6 = false): Uint8Array {
  if (!Number.isInteger(physicalIfindex) || physicalIfindex <= 0 || physicalIfindex > 0x7fffffff) throw new RangeError(`interface index ${physicalIfindex} is not a positive 31-bit integer`)
  if (!Number.isInteger(countersFd) || countersFd < 0 || countersFd > 0x7fffffff) throw new RangeError(`map fd ${countersFd} is not a file descriptor`)
  const encapLen = outerV6 ? GSO_ENCAP_LEN_V6 : GSO_ENCAP_LEN
  const grow = outerV6 ? GROW_FLAGS_V6 : GROW_FLAGS
  // The saved headers on the stack, the map key below them.
  const saved = outerV6 ? -64 : -48
  const key = saved - 4
  const bytes = new Uint8Array(GSO_PROGRAM_LEN * 8)
  const out = new DataView(bytes.buffer)
  const checks: number[] = []
  let n = 0
  const stackCopy = (): void => {
    n = insn(out, n, BPF_ALU64_MOV_X, 1, 6, 0, 0) // r1 = skb
    n = insn(out, n, BPF_ALU64_MOV_K, 2, 0, 0, OUTER_ETH) // r2 = offset
    n = insn(out, n, BPF_ALU64_MOV_X, 3, 10, 0, 0) // r3 = fp
    n = insn(out, n, BPF_ALU64_ADD_K, 3, 0, 0, saved) // r3 = fp - 48 (64)
    n = insn(out, n, BPF_ALU64_MOV_K, 4, 0, 0, encapLen) // r4 = 42 (62)
  }
  const check = (): void => {
    checks.push(n)
    n = insn(out, n, BPF_JNE_K, 0, 0, 0, 0) // if r0 != 0 goto fail_k
  }
  n = insn(out, n, BPF_ALU64_MOV_X, 6, 1, 0, 0) // r6 = skb
  stackCopy()
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_SKB_LOAD_BYTES)
  check()
  n = insn(out, n, BPF_ALU64_MOV_X, 1, 6, 0, 0)
  n = insn(out, n, BPF_ALU64_MOV_K, 2, 0, 0, -encapLen)
  n = insn(out, n, BPF_ALU64_MOV_K, 3, 0, 0, BPF_ADJ_ROOM_MAC)
  n = insn(out, n, BPF_ALU64_MOV_K, 4, 0, 0, Number(F_FIXED_GSO))
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_SKB_ADJUST_ROOM)
  check()
  n = insn(out, n, BPF_ALU64_MOV_X, 1, 6, 0, 0)
  n = insn(out, n, BPF_ALU64_MOV_K, 2, 0, 0, encapLen)
  n = insn(out, n, BPF_ALU64_MOV_K, 3, 0, 0, BPF_ADJ_ROOM_MAC)
  n = insn(out, n, BPF_LD_DW_IMM, 4, 0, 0, Number(grow & 0xffffffffn))
  n = insn(out, n, 0, 0, 0, 0, Number(grow >> 32n))
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_SKB_ADJUST_ROOM)
  check()
  stackCopy()
  n = insn(out, n, BPF_ALU64_MOV_K, 5, 0, 0, 0) // r5 = flags
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_SKB_STORE_BYTES)
  check()
  n = insn(out, n, BPF_ALU64_MOV_K, 1, 0, 0, physicalIfindex)
  n = insn(out, n, BPF_ALU64_MOV_K, 2, 0, 0, 0)
  n = insn(out, n, BPF_ALU64_MOV_K, 3, 0, 0, 0)
  n = insn(out, n, BPF_ALU64_MOV_K, 4, 0, 0, 0)
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_REDIRECT_NEIGH) // r0 = TCX_REDIRECT or TCX_DROP
  n = insn(out, n, BPF_EXIT, 0, 0, 0, 0)
  // fail_k: r7 = k, then the counter: the last one falls through.
  const jumps: number[] = []
  checks.forEach((at, k) => {
    out.setInt16(at * 8 + 2, n - at - 1, true)
    n = insn(out, n, BPF_ALU64_MOV_K, 7, 0, 0, k)
    if (k < checks.length - 1) {
      jumps.push(n)
      n = insn(out, n, BPF_JA, 0, 0, 0, 0)
    }
  })
  const count = n
  for (const j of jumps) out.setInt16(j * 8 + 2, count - j - 1, true)
  n = insn(out, n, BPF_STX_MEM_W, 10, 7, key, 0) // key = r7 below the saved headers
  n = insn(out, n, BPF_LD_DW_IMM, 1, BPF_PSEUDO_MAP_FD, 0, countersFd) // r1 = map
  n = insn(out, n, 0, 0, 0, 0, 0)
  n = insn(out, n, BPF_ALU64_MOV_X, 2, 10, 0, 0)
  n = insn(out, n, BPF_ALU64_ADD_K, 2, 0, 0, key) // r2 = &key
  n = insn(out, n, BPF_CALL, 0, 0, 0, FN_MAP_LOOKUP_ELEM)
  n = insn(out, n, BPF_JEQ_K, 0, 0, 2, 0) // no value: skip the add
  n = insn(out, n, BPF_ALU64_MOV_K, 1, 0, 0, 1)
  n = insn(out, n, BPF_STX_ATOMIC_DW, 0, 1, 0, 0) // lock *(u64 *)r0 += 1
  n = insn(out, n, BPF_ALU64_MOV_K, 0, 0, 0, TCX_DROP)
  n = insn(out, n, BPF_EXIT, 0, 0, 0, 0)
  if (n !== GSO_PROGRAM_LEN) throw new Error(`assembled ${n} instructions, expected ${GSO_PROGRAM_LEN}`)
  return bytes
}

// ---- send: one super-frame as one NVGRE super-packet ----

/** What gsoPlan() found out about a super-frame; reused, never allocated per frame. */
export class GsoPlan {
  /** gso_size for the kernel: the guest's, lowered to what fits the underlay. */
  gsoSize = 0
  /** The largest segment as an inner Ethernet frame (what the pipeline's MTU stage must accept). */
  segmentFrameLen = 0
  /** Inner TCP header offset from the frame start, and header bytes up to the payload. */
  l4 = 0
  headerLen = 0
  /** gso_type with the ECN bit. */
  gsoType = 0
}

/**
 * Checks that the super-frame `buf[frame, end)` behind the virtio header at `hdr` is TCP GSO with a
 * partial checksum the kernel can finish (TCPV4/TCPV6, NEEDS_CSUM at the TCP checksum, untagged
 * Ethernet) and fills `plan`; false when it is anything else (then the engine segments it itself).
 * `maxInnerIp` is the largest inner IP packet one NVGRE packet may carry.
 */
export function gsoPlan(buf: Uint8Array, hdr: number, frame: number, end: number, maxInnerIp: number, plan: GsoPlan): boolean {
  const type = buf[hdr + 1]
  const base = type & ~VNET_GSO_ECN
  if (base !== VNET_GSO_TCPV4 && base !== VNET_GSO_TCPV6) return false
  if ((buf[hdr] & VNET_F_NEEDS_CSUM) === 0) return false
  const etherType = (buf[frame + 12] << 8) | buf[frame + 13]
  if (etherType !== (base === VNET_GSO_TCPV4 ? 0x0800 : 0x86dd)) return false
  const l4 = le16(buf, hdr + 6)
  if (le16(buf, hdr + 8) !== 16 || l4 < 14 + (base === VNET_GSO_TCPV4 ? 20 : 40) || frame + l4 + 20 > end) return false
  const tcpLen = (buf[frame + l4 + 12] >> 4) << 2
  if (tcpLen < 20 || frame + l4 + tcpLen > end) return false
  const ipHeader = l4 - 14
  const gso = le16(buf, hdr + 4)
  const fit = maxInnerIp - ipHeader - tcpLen
  if (gso === 0 || fit <= 0) return false
  plan.gsoSize = gso < fit ? gso : fit
  // One segment's worth or less: the kernel's tcp_gso_segment() refuses it (-EINVAL), the engine sends it.
  if (end - frame - l4 - tcpLen <= plan.gsoSize) return false
  plan.l4 = l4
  plan.headerLen = l4 + tcpLen
  plan.segmentFrameLen = plan.headerLen + plan.gsoSize
  plan.gsoType = type
  return true
}

/** Bytes in front of the GRE header that writeGsoEncap() writes: outer IP and Ethernet, the virtio header. */
export function gsoEncapRoom(outerV6: boolean, vnetLen: number): number {
  return (outerV6 ? 40 : 20) + OUTER_ETH + vnetLen
}

/**
 * Writes, in front of the NVGRE packet at `gre` (GRE header + inner frame up to `end`): the outer IPv4
 * header (source `src`, destination the 4 bytes at `dst[dstOff]`, DF, TTL 64) or, when `src` has 16
 * bytes, the outer IPv6 header (hop limit 64), an outer Ethernet header of zero MACs, and the virtio GSO
 * header (`vnetLen` bytes) the kernel segments by. Returns the offset of the virtio header, or -1 when
 * the packet would exceed an IPv4 total length (IPv6 payload length).
 */
export function writeGsoEncap(
  buf: Uint8Array,
  gre: number,
  end: number,
  src: Uint8Array,
  dst: Uint8Array,
  dstOff: number,
  id: number,
  plan: GsoPlan,
  vnetLen: number,
): number {
  let eth: number
  if (src.length === 16) {
    const payload = end - gre
    if (payload > 0xffff) return -1
    const ip = gre - 40
    buf[ip] = 0x60
    buf[ip + 1] = 0
    buf[ip + 2] = 0
    buf[ip + 3] = 0
    buf[ip + 4] = payload >>> 8
    buf[ip + 5] = payload & 0xff
    buf[ip + 6] = 47
    buf[ip + 7] = 64
    for (let b = 0; b < 16; b++) {
      buf[ip + 8 + b] = src[b]
      buf[ip + 24 + b] = dst[dstOff + b]
    }
    eth = ip - OUTER_ETH
    buf[eth + 12] = 0x86
    buf[eth + 13] = 0xdd
  } else {
    const total = end - gre + 20
    if (total > 0xffff) return -1
    const ip = gre - 20
    buf[ip] = 0x45
    buf[ip + 1] = 0
    buf[ip + 2] = total >>> 8
    buf[ip + 3] = total & 0xff
    buf[ip + 4] = (id >>> 8) & 0xff
    buf[ip + 5] = id & 0xff
    buf[ip + 6] = 0x40
    buf[ip + 7] = 0
    buf[ip + 8] = 64
    buf[ip + 9] = 47
    buf[ip + 10] = 0
    buf[ip + 11] = 0
    for (let b = 0; b < 4; b++) {
      buf[ip + 12 + b] = src[b]
      buf[ip + 16 + b] = dst[dstOff + b]
    }
    const c = internetChecksum(buf, ip, ip + 20)
    buf[ip + 10] = c >>> 8
    buf[ip + 11] = c & 0xff
    eth = ip - OUTER_ETH
    buf[eth + 12] = 0x08
    buf[eth + 13] = 0x00
  }
  for (let b = 0; b < 12; b++) buf[eth + b] = 0
  const v = eth - vnetLen
  // The plan's offsets count from the inner Ethernet header; the written packet starts 42 (62) bytes earlier.
  const shift = gre + 8 - eth
  writeVnetGso(buf, v, vnetLen, plan.gsoType, shift + plan.headerLen, plan.gsoSize, shift + plan.l4, 16)
  return v
}

// ---- receive: super-packets and partial checksums from the underlay ----

/** RxOffload.prepare() results. */
export const RxKind = {
  /** Nothing to do: not TCP, or a complete checksum within the MTU. */
  PLAIN: 0,
  /** A partial checksum within the MTU, completed in place. */
  COMPLETED: 1,
  /** Above the MTU: a GSO virtio header was written in front of the frame. */
  SUPER: 2,
} as const

export const RX_OFFLOAD_STAT_NAMES: readonly string[] = ['completed', 'superFrames', 'superBadChecksum']

export class RxOffload {
  readonly stats = new Float64Array(RX_OFFLOAD_STAT_NAMES.length)
  private readonly sum: Checksum

  constructor(checksum?: Checksum) {
    this.sum = checksum ?? jsSum16
  }

  /**
   * Looks at the inner Ethernet frame `buf[frame, end)` bound for a port of inner IP MTU `mtu`: a TCP
   * segment whose checksum field holds only the pseudo-header sum gets its checksum completed; a TCP
   * packet above the MTU gets a GSO header (`vnetLen` bytes, NEEDS_CSUM, gso_size from the MTU) at
   * `frame - vnetLen`, its checksum field set to the pseudo-header sum (a full one is verified first).
   * With vnetLen 0 (no offloads on the port) a super-packet is reported as SUPER without a header.
   */
  prepare(buf: Uint8Array, frame: number, end: number, mtu: number, vnetLen: number): number {
    if (end - frame < 14 + 20 + 20) return RxKind.PLAIN
    const etherType = (buf[frame + 12] << 8) | buf[frame + 13]
    const ip = frame + 14
    let l4: number
    let ipEnd: number
    let pseudo: number
    let gsoType: number
    if (etherType === 0x0800) {
      if (buf[ip + 9] !== 6 || (buf[ip + 6] & 0x3f) !== 0 || buf[ip + 7] !== 0) return RxKind.PLAIN
      l4 = ip + ((buf[ip] & 0x0f) << 2)
      ipEnd = ip + ((buf[ip + 2] << 8) | buf[ip + 3])
      if (ipEnd > end || l4 + 20 > ipEnd) return RxKind.PLAIN
      pseudo = 6 + (ipEnd - l4)
      for (let b = 12; b < 20; b += 2) pseudo += (buf[ip + b] << 8) | buf[ip + b + 1]
      gsoType = VNET_GSO_TCPV4
    } else if (etherType === 0x86dd) {
      if (buf[ip + 6] !== 6) return RxKind.PLAIN
      l4 = ip + 40
      ipEnd = l4 + ((buf[ip + 4] << 8) | buf[ip + 5])
      if (ipEnd > end || l4 + 20 > ipEnd) return RxKind.PLAIN
      pseudo = 6 + (ipEnd - l4)
      for (let b = 8; b < 40; b += 2) pseudo += (buf[ip + b] << 8) | buf[ip + b + 1]
      gsoType = VNET_GSO_TCPV6
    } else return RxKind.PLAIN
    pseudo = fold(pseudo)
    const field = (buf[l4 + 16] << 8) | buf[l4 + 17]
    const partial = field === pseudo
    const big = ipEnd - ip > mtu
    if (!big) {
      if (!partial) return RxKind.PLAIN
      const c = ~fold(this.sum(buf, l4, ipEnd)) & 0xffff
      buf[l4 + 16] = c >>> 8
      buf[l4 + 17] = c & 0xff
      this.stats[0]++
      return RxKind.COMPLETED
    }
    if (!partial) {
      // A full checksum (a reassembled datagram): verified, then replaced by the partial one.
      if (fold(this.sum(buf, l4, ipEnd) + pseudo) !== 0xffff) {
        this.stats[2]++
        return RxKind.PLAIN
      }
      buf[l4 + 16] = pseudo >>> 8
      buf[l4 + 17] = pseudo & 0xff
    }
    this.stats[1]++
    if (vnetLen === 0) return RxKind.SUPER
    const tcpLen = (buf[l4 + 12] >> 4) << 2
    const ipHeader = l4 - ip
    writeVnetGso(buf, frame - vnetLen, vnetLen, gsoType, l4 - frame + tcpLen, mtu - ipHeader - tcpLen, l4 - frame, 16)
    return RxKind.SUPER
  }
}

// ---- the engine's view of the path ----

/** Where the engine writes super-packets (io/gso-underlay.ts). */
export interface GsoSink {
  /** The outer source (the underlay's bound PA): 4 bytes for IPv4, 16 for IPv6. */
  readonly local: Uint8Array
  /** virtio_net_hdr bytes in front of each packet. */
  readonly vnetLen: number
  /** Packets first..first+count-1 of the batch, one write each; returns how many were taken. */
  send(batch: {buffer: Uint8Array; offsets: Uint32Array; lengths: Uint32Array}, first: number, count: number): number
  /** Adds the program's drop counters (PROGRAM_DROP_NAMES order) to `into`; read when status is asked. */
  readProgramDrops?(into: Float64Array): void
}

/** Kernel GSO counters (status offload.kernelGso). */
export const GsoStat = {
  /** Super-packets handed to the kernel. */
  SUPER_PACKETS: 0,
  /** TCP super-frames segmented here instead: not encapsulated to an underlay with the kernel path (local delivery, flood, IPv6 PA, MSS clamp). */
  NOT_ENCAPSULATED: 1,
  /** ... or longer than one IP packet may be with the outer header, or without headroom. */
  TOO_LONG: 2,
  /** Not taken by the underlay TAP. */
  TX_DROPPED: 3,
} as const
export const GSO_STAT_NAMES: readonly string[] = ['superPackets', 'fallbackNotEncapsulated', 'fallbackTooLong', 'txDropped']
