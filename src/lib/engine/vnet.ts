// The virtio_net_hdr in front of every frame of an IFF_VNET_HDR TAP (include/uapi/linux/virtio_net.h;
// virtio 1.x §5.1.6), as far as the forwarding core needs it before offload.ts exists: a frame whose
// checksum the guest left to us (NEEDS_CSUM) is completed in place; a GSO super-frame is refused (counted)
// until segmentation lands; frames we send get an all-zero header (no offload asked, checksums complete).
// The header is little-endian (the legacy layout a TAP uses by default on little-endian hosts).
import {fold, sum16} from '../wire/checksum.js'
import {DropReason} from './stages.js'

const VNET_FLAGS = 0
const VNET_GSO_TYPE = 1
const VNET_CSUM_START = 6
const VNET_CSUM_OFFSET = 8
/** VIRTIO_NET_HDR_F_NEEDS_CSUM: the checksum at csum_start + csum_offset holds only the pseudo-header sum. */
const VNET_F_NEEDS_CSUM = 1
/** VIRTIO_NET_HDR_GSO_NONE; the ECN bit (0x80) may ride on any GSO type. */
const VNET_GSO_NONE = 0
const VNET_GSO_ECN = 0x80
/** Linux's CSUM_MANGLED_0: a computed checksum of 0 is sent as 0xFFFF (UDP's 0 means "none"). */
const CSUM_MANGLED_0 = 0xffff

function le16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8)
}

/**
 * Checks the header at `hdr` of the frame `buf[frame, end)`, completing a partial checksum in place.
 * Returns DropReason.NONE, or OFFLOAD_UNSUPPORTED (a GSO super-frame, or a checksum request outside the
 * frame).
 */
export function vnetIngress(buf: Uint8Array, hdr: number, frame: number, end: number): number {
  if ((buf[hdr + VNET_GSO_TYPE] & ~VNET_GSO_ECN) !== VNET_GSO_NONE) return DropReason.OFFLOAD_UNSUPPORTED
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

/** Writes an all-zero header of `len` bytes at `off` (no GSO, checksum complete). */
export function writeVnetNone(buf: Uint8Array, off: number, len: number): void {
  for (let i = 0; i < len; i++) buf[off + i] = 0
}
