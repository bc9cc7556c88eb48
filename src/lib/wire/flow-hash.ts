// A flow hash over the inner 5-tuple, for the NVGRE FlowID (RFC 7637 §3.2: "per-flow entropy" for ECMP)
// and the outer IPv6 flow label. Each 32-bit word of the tuple is folded in with xor, xor-shift and a
// multiply by an odd constant, and the result goes through MurmurHash3's finaliser so every output bit
// depends on every input bit. Fixed constants, no seed from the environment: the same flow gets the same
// value in every process and on every host. No call allocates. Not symmetric: the two directions of a
// flow may take different paths, as with any ECMP.
//
// Cheaper than full MurmurHash3 on purpose: the engine inlines this into its per-packet loop, where V8's
// inlining budget is shared with the views (measured in bench/wire.ts).
//
// The result has 31 bits: a non-negative small integer in V8, which a caller can pass on without it
// being boxed into a heap number (a full uint32 would be, once per packet).
//
// FlowID = hash & 0xff. RFC 7637 says to send 0 when FlowID is unused; hnv always fills it, so 0 is just
// one of the 256 values a flow may get.
//
// For protocols without ports (ICMP, GRE ...) and for IP fragments, pass ports 0: the hash then depends on
// addresses and protocol only, which keeps every fragment of a datagram on one path.

/** Odd multipliers (golden ratio and MurmurHash3's finaliser constants) and a fixed starting value. */
const enum K {
  START = 0x4e564752, // 'NVGR'
  M1 = 0x9e3779b1,
  M2 = 0x85ebca6b,
  M3 = 0xc2b2ae35,
}

/** Hash of an IPv4 5-tuple (addresses as uint32): 31 bits. */
export function flowHashIpv4(src: number, dst: number, protocol: number, srcPort: number, dstPort: number): number {
  let h = Math.imul(K.START ^ src, K.M1)
  h = Math.imul(h ^ (h >>> 15) ^ dst, K.M2)
  h = Math.imul(h ^ (h >>> 15) ^ ((srcPort << 16) | dstPort), K.M1)
  h = Math.imul(h ^ (h >>> 15) ^ protocol, K.M2)
  return finish(h)
}

/**
 * Hash of an IPv6 5-tuple whose source and destination are the 32 bytes at `addrOff` (an IPv6 header's
 * offset + 8, as Ipv6View.srcOffset gives): 31 bits.
 */
export function flowHashIpv6(buf: Uint8Array, addrOff: number, protocol: number, srcPort: number, dstPort: number): number {
  let h: number = K.START
  for (let o = addrOff; o < addrOff + 32; o += 4) {
    h = Math.imul(h ^ (h >>> 15) ^ ((buf[o] << 24) | (buf[o + 1] << 16) | (buf[o + 2] << 8) | buf[o + 3]), K.M1)
  }
  h = Math.imul(h ^ (h >>> 15) ^ ((srcPort << 16) | dstPort), K.M2)
  h = Math.imul(h ^ (h >>> 15) ^ protocol, K.M1)
  return finish(h)
}

/** MurmurHash3's fmix32, cut to 31 bits. */
function finish(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, K.M2)
  h ^= h >>> 13
  h = Math.imul(h, K.M3)
  h ^= h >>> 16
  return h & 0x7fffffff
}

/** RFC 7637's 8-bit FlowID from a flow hash. */
export function flowIdOf(hash: number): number {
  return hash & 0xff
}
