// The virtio_net_hdr in front of every frame of an IFF_VNET_HDR TAP (include/uapi/linux/virtio_net.h;
// virtio 1.x §5.1.6). Reading: a frame whose checksum the guest left to us (NEEDS_CSUM) is completed in
// place by vnetIngress; a GSO super-frame goes to offload.ts (Segmenter). Writing: frames we send get an
// all-zero header (no offload asked, checksums complete) or, for a coalesced super-frame, a GSO header
// (writeVnetGso).
// The header is little-endian (the legacy layout a TAP uses by default on little-endian hosts): 10 bytes,
// or 12 with num_buffers (VIRTIO_NET_F_MRG_RXBUF / virtio 1.x), which we always write as 0.
import {fold, sum16} from '../wire/checksum.js'
import {DropReason} from './stages.js'

/** struct virtio_net_hdr field offsets. */
export const VNET_FLAGS = 0
export const VNET_GSO_TYPE = 1
export const VNET_HDR_LEN = 2
export const VNET_GSO_SIZE = 4
export const VNET_CSUM_START = 6
export const VNET_CSUM_OFFSET = 8
/** sizeof(struct virtio_net_hdr); 12 with struct virtio_net_hdr_mrg_rxbuf. */
export const VNET_HEADER_LEN = 10

/** VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset holds only the pseudo-header sum. */
export const VNET_F_NEEDS_CSUM = 1
/** VIRTIO_NET_HDR_F_DATA_VALID: the checksum was verified (receive side). */
export const VNET_F_DATA_VALID = 2

/** gso_type values; the ECN bit (0x80) may ride on any of them. */
export const VNET_GSO_NONE = 0
export const VNET_GSO_TCPV4 = 1
/** The old UFO (IP fragmentation of one UDP datagram): never asked for, refused. */
export const VNET_GSO_UDP = 3
export const VNET_GSO_TCPV6 = 4
/** USO: UDP segmentation into datagrams of gso_size payload bytes. */
export const VNET_GSO_UDP_L4 = 5
export const VNET_GSO_ECN = 0x80

/** Linux's CSUM_MANGLED_0: a computed checksum of 0 is sent as 0xFFFF (UDP's 0 means "none"). */
const CSUM_MANGLED_0 = 0xffff

export function le16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8)
}

function setLe16(b: Uint8Array, o: number, v: number): void {
  b[o] = v
  b[o + 1] = v >>> 8
}

/** The header's gso_type without the ECN bit (VNET_GSO_NONE for a plain frame). */
export function vnetGsoType(buf: Uint8Array, hdr: number): number {
  return buf[hdr + VNET_GSO_TYPE] & ~VNET_GSO_ECN
}

/**
 * Completes the partial checksum a NEEDS_CSUM header asks for, in `buf[frame, end)`. Returns
 * DropReason.NONE, or OFFLOAD_UNSUPPORTED (a checksum request outside the frame).
 */
export function vnetCompleteChecksum(buf: Uint8Array, hdr: number, frame: number, end: number): number {
  if ((buf[hdr + VNET_FLAGS] & VNET_F_NEEDS_CSUM) === 0) return DropReason.NONE
  const start = frame + le16(buf, hdr + VNET_CSUM_START)
  const field = start + le16(buf, hdr + VNET_CSUM_OFFSET)
  if (field + 2 > end) return DropReason.OFFLOAD_UNSUPPORTED
  const sum = ~fold(sum16(buf, start, end)) & 0xffff
  const value = sum === 0 ? CSUM_MANGLED_0 : sum
  buf[field] = value >>> 8
  buf[field + 1] = value
  return DropReason.NONE
}

/**
 * Checks the header at `hdr` of the frame `buf[frame, end)`, completing a partial checksum in place.
 * Returns DropReason.NONE, or OFFLOAD_UNSUPPORTED (a GSO super-frame: give it to Segmenter instead, or a
 * checksum request outside the frame).
 */
export function vnetIngress(buf: Uint8Array, hdr: number, frame: number, end: number): number {
  if (vnetGsoType(buf, hdr) !== VNET_GSO_NONE) return DropReason.OFFLOAD_UNSUPPORTED
  return vnetCompleteChecksum(buf, hdr, frame, end)
}

/** Writes an all-zero header of `len` bytes at `off` (no GSO, checksum complete). */
export function writeVnetNone(buf: Uint8Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) buf[off + i] = 0
}

/**
 * Writes a GSO header of `len` bytes (10 or 12) at `off`: NEEDS_CSUM, `gsoType`, hdr_len, gso_size and
 * the checksum location, all offsets relative to the start of the Ethernet frame.
 */
export function writeVnetGso(
  buf: Uint8Array,
  off: number,
  len: number,
  gsoType: number,
  hdrLen: number,
  gsoSize: number,
  csumStart: number,
  csumOffset: number,
): void {
  buf[off + VNET_FLAGS] = VNET_F_NEEDS_CSUM
  buf[off + VNET_GSO_TYPE] = gsoType
  setLe16(buf, off + VNET_HDR_LEN, hdrLen)
  setLe16(buf, off + VNET_GSO_SIZE, gsoSize)
  setLe16(buf, off + VNET_CSUM_START, csumStart)
  setLe16(buf, off + VNET_CSUM_OFFSET, csumOffset)
  for (let i = VNET_HEADER_LEN; i < len; i++) buf[off + i] = 0
}
