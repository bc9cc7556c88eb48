import {Dhcp} from './dhcp.js'
// Wire errors are small numbers. Views return them from `wrap` (no allocation on the hot path); the engine
// maps "which stage, which code" to its own drop reason. `parse*` functions, for tools and tests, throw one
// class, `WireError`, carrying the same code and a message naming the field and the value that is wrong.

export const WireErrorCode = {
  OK: 0,
  /** The buffer ends before the header (or a length it declares) does. */
  TRUNCATED: 1,
  /** IP version nibble is not 4 (or 6). */
  BAD_VERSION: 2,
  /** A header length field is below the protocol's minimum (IPv4 IHL, TCP data offset). */
  BAD_HEADER_LEN: 3,
  /** A total/payload length field disagrees with the header length (IPv4 total length, UDP length). */
  BAD_LENGTH: 4,
  BAD_CHECKSUM: 5,
  /** Well-formed but outside what this layer handles (ARP over non-Ethernet, an ICMP type we do not model). */
  UNSUPPORTED: 6,
  /** A malformed option: IPv4, TCP, ICMPv6 ND or DHCP. */
  BAD_OPTION: 7,
  /** An IPv6 extension header is out of place or runs past the payload. */
  BAD_EXTENSION_HEADER: 8,
  /** RFC 7637 §3.2: C MUST be 0. */
  NVGRE_CHECKSUM_BIT: 9,
  /** RFC 2784 §2.3: R (bit 1) must be 0. */
  NVGRE_ROUTING_BIT: 10,
  /** RFC 7637 §3.2: K MUST be 1. */
  NVGRE_NO_KEY: 11,
  /** RFC 7637 §3.2: S MUST be 0. */
  NVGRE_SEQUENCE_BIT: 12,
  /** RFC 2784 §2.3: bits 4 and 5 (RFC 1701 strict source route, recursion) must be 0. */
  NVGRE_RESERVED_BITS: 13,
  /** RFC 2784 §2.3.1: version MUST be 0. */
  NVGRE_VERSION: 14,
  /** RFC 7637 §3.2: protocol type MUST be 0x6558 (transparent Ethernet bridging). */
  NVGRE_PROTOCOL: 15,
  /** DHCP magic cookie (RFC 2131 §3) missing. */
  DHCP_MAGIC: 16,
  /** No room in front of a frame for the headers to be pushed there. */
  NO_HEADROOM: 17,
  /** An address string (MAC, IPv4, IPv6) that does not parse; tools only. */
  BAD_ADDRESS: 18,
  /** A pcap file that cannot be read. */
  BAD_PCAP: 19,
} as const

export type WireErrorCode = (typeof WireErrorCode)[keyof typeof WireErrorCode]

/** Printable names, indexed by code. */
export const WIRE_ERROR_NAMES: readonly string[] = (() => {
  const names: string[] = []
  for (const [name, code] of Object.entries(WireErrorCode)) names[code] = name
  return names
})()

export function wireErrorName(code: number): string {
  return WIRE_ERROR_NAMES[code] ?? 'UNKNOWN_' + code
}

export class WireError extends Error {
  override readonly name = 'WireError'
  constructor(
    readonly code: WireErrorCode,
    message: string,
  ) {
    super(message)
  }
}
