// The Internet checksum (RFC 1071), its pseudo-headers (RFC 768, RFC 793, RFC 8200 §8.1) and incremental
// updates (RFC 1624). Every checksum in the wire layer goes through these functions.
//
// Sums are kept unfolded in a JS number (exact below 2^53, i.e. far beyond any frame) and folded once.

/** How an emitter treats a checksum field (the offload knob of smoltcp's ChecksumCapabilities). */
export const ChecksumMode = {
  /** Compute the full checksum in software. */
  COMPUTE: 0,
  /** Leave the field zero (IPv4 UDP "no checksum", or a NIC that fills everything). */
  ZERO: 1,
  /**
   * Write the folded pseudo-header sum, not complemented, for a device to finish from the L4 header on
   * (Linux CHECKSUM_PARTIAL / virtio VIRTIO_NET_HDR_F_NEEDS_CSUM). For headers without a pseudo-header
   * (IPv4 header, ICMPv4) it behaves as ZERO.
   */
  PARTIAL: 2,
} as const
export type ChecksumMode = (typeof ChecksumMode)[keyof typeof ChecksumMode]

/** One's-complement sum of the big-endian 16-bit words of `buf[off, end)` added to `sum`, not folded. */
export function sum16(buf: Uint8Array, off: number, end: number, sum = 0): number {
  let i = off
  const pairsEnd = end - 1
  for (; i < pairsEnd; i += 2) sum += (buf[i] << 8) | buf[i + 1]
  // RFC 1071: an odd trailing byte is padded with a zero byte on the right.
  if (i < end) sum += buf[i] << 8
  return sum
}

/** Folds an unfolded sum to 16 bits (end-around carry). */
export function fold(sum: number): number {
  sum = (sum & 0xffff) + ((sum / 0x10000) | 0)
  sum = (sum & 0xffff) + (sum >>> 16)
  return (sum & 0xffff) + (sum >>> 16)
}

/** The checksum field value for `buf[off, end)` plus `initial` (e.g. a pseudo-header sum). */
export function internetChecksum(buf: Uint8Array, off: number, end: number, initial = 0): number {
  return ~fold(sum16(buf, off, end, initial)) & 0xffff
}

/** True when `buf[off, end)`, checksum field included, plus `initial` sums to 0xFFFF (RFC 1071 §1). */
export function checksumValid(buf: Uint8Array, off: number, end: number, initial = 0): boolean {
  return fold(sum16(buf, off, end, initial)) === 0xffff
}

/**
 * RFC 768 / RFC 793 IPv4 pseudo-header: source, destination, protocol. The upper-layer length is left out
 * on purpose: the L4 emitters and checkers add it, since only they know it.
 */
export function ipv4PseudoSum(src: number, dst: number, protocol: number): number {
  return (src >>> 16) + (src & 0xffff) + (dst >>> 16) + (dst & 0xffff) + protocol
}

/**
 * RFC 8200 §8.1 IPv6 pseudo-header: the 16-byte source at `srcOff`, the 16-byte destination at `dstOff`
 * (the final destination when a Routing header is present: Ipv6View finds it) and the next header value;
 * the length is added by the L4 code as for IPv4.
 */
export function ipv6PseudoSum(buf: Uint8Array, srcOff: number, dstOff: number, protocol: number): number {
  return sum16(buf, dstOff, dstOff + 16, sum16(buf, srcOff, srcOff + 16, protocol))
}

/**
 * Fills the checksum at `csumOff` of the message `buf[off, end)` whose pseudo-header sum (length included,
 * 0 for none) is `pseudo`. Returns the value written.
 */
export function fillChecksum(
  buf: Uint8Array,
  off: number,
  end: number,
  csumOff: number,
  pseudo: number,
  mode: ChecksumMode,
): number {
  let v = 0
  buf[csumOff] = 0
  buf[csumOff + 1] = 0
  if (mode === ChecksumMode.COMPUTE) v = internetChecksum(buf, off, end, pseudo)
  else if (mode === ChecksumMode.PARTIAL) v = fold(pseudo)
  buf[csumOff] = v >>> 8
  buf[csumOff + 1] = v
  return v
}

/**
 * RFC 1624 eqn. 3: the new checksum after one 16-bit word of the covered data changes from `oldWord` to
 * `newWord`: HC' = ~(~HC + ~m + m'). Unlike RFC 1141's form it never yields 0xFFFF where a full
 * computation gives 0x0000.
 */
export function checksumUpdate16(checksum: number, oldWord: number, newWord: number): number {
  return ~fold((~checksum & 0xffff) + (~oldWord & 0xffff) + newWord) & 0xffff
}

/** RFC 1624 for a 32-bit field (an IPv4 address, a TCP sequence number) changing from `oldValue`. */
export function checksumUpdate32(checksum: number, oldValue: number, newValue: number): number {
  const sum =
    (~checksum & 0xffff) +
    (~(oldValue >>> 16) & 0xffff) +
    (~oldValue & 0xffff) +
    (newValue >>> 16) +
    (newValue & 0xffff)
  return ~fold(sum) & 0xffff
}
