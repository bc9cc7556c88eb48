// IANA "Assigned Internet Protocol Numbers": the IPv4 protocol field and the IPv6 next header share them.

export const enum IpProto {
  HOPOPT = 0,
  ICMP = 1,
  TCP = 6,
  UDP = 17,
  IPV6_ROUTE = 43,
  IPV6_FRAG = 44,
  /** RFC 2784: GRE, which carries NVGRE. */
  GRE = 47,
  ESP = 50,
  AH = 51,
  ICMPV6 = 58,
  IPV6_NONXT = 59,
  IPV6_OPTS = 60,
  /** RFC 6275 Mobility, RFC 7401 HIP, RFC 5533 Shim6: extension headers too (RFC 7045). */
  MOBILITY = 135,
  HIP = 139,
  SHIM6 = 140,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const IP_PROTO_HOPOPT = IpProto.HOPOPT
export const IP_PROTO_ICMP = IpProto.ICMP
export const IP_PROTO_TCP = IpProto.TCP
export const IP_PROTO_UDP = IpProto.UDP
export const IP_PROTO_IPV6_ROUTE = IpProto.IPV6_ROUTE
export const IP_PROTO_IPV6_FRAG = IpProto.IPV6_FRAG
export const IP_PROTO_GRE = IpProto.GRE
export const IP_PROTO_ESP = IpProto.ESP
export const IP_PROTO_AH = IpProto.AH
export const IP_PROTO_ICMPV6 = IpProto.ICMPV6
export const IP_PROTO_IPV6_NONXT = IpProto.IPV6_NONXT
export const IP_PROTO_IPV6_OPTS = IpProto.IPV6_OPTS
export const IP_PROTO_MOBILITY = IpProto.MOBILITY
export const IP_PROTO_HIP = IpProto.HIP
export const IP_PROTO_SHIM6 = IpProto.SHIM6
