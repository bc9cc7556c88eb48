// The DHCP responder's reply (RFC 2131 §4.3.1-§4.3.2, options RFC 2132), written in the request's own slot
// like the other replies (actions.ts): the pipeline decided OFFER, ACK or NAK (pipeline.ts dhcpFromPort)
// and found the adapter's record, its on-link route and the gateway; this writes Ethernet, IPv4, UDP and
// the DHCP message. The reply ends where the request ended and reaches back into the headroom when it is
// the longer; everything it needs from the request is read before anything is written. No allocation.
import {setMac} from '../wire/address.js'
import {setU16, setU32, u16, u32} from '../wire/bytes.js'
import {ChecksumMode, fillChecksum, ipv4PseudoSum} from '../wire/checksum.js'
import {
  BOOTREPLY,
  Dhcp,
  DHCP_CLIENT_PORT,
  DHCP_FLAG_BROADCAST,
  DHCP_HTYPE_ETHERNET,
  DHCP_MAGIC_COOKIE,
  DHCP_OPT_END,
  DHCP_OPT_LEASE_TIME,
  DHCP_OPT_MESSAGE_TYPE,
  DHCP_OPT_ROUTER,
  DHCP_OPT_SERVER_ID,
  DHCP_OPT_SUBNET_MASK,
  DHCP_SERVER_PORT,
  DHCPNAK,
} from '../wire/dhcp.js'
import {Eth, EtherType, writeEthernetHeader} from '../wire/ethernet.js'
import {IpProto} from '../wire/ip.js'
import {Ipv4, writeIpv4Header} from '../wire/ipv4.js'
import {Udp} from '../wire/udp.js'
import type {Verdict} from './pipeline.js'
import type {ForwardingTable} from './table.js'

/** The lease the responder gives, in seconds: the address is the record's, so renewals always succeed. */
export const DHCP_LEASE_SECONDS = 3600
/** RFC 951 / RFC 1542 §3.4: a BOOTP message is at least 300 bytes (some clients drop shorter ones). */
const BOOTP_MIN_LEN = 300
const REPLY_UDP_LEN = Udp.HEADER_LEN + BOOTP_MIN_LEN
const REPLY_IP_LEN = Ipv4.HEADER_LEN + REPLY_UDP_LEN
export const DHCP_REPLY_FRAME_LEN = Eth.HEADER_LEN + REPLY_IP_LEN
const REPLY_TTL = 64
const BROADCAST = 0xffffffff
const BROADCAST_MAC_HI = 0xffff
const BROADCAST_MAC_LO = 0xffffffff

/** Writes v.dhcpMessage for the request in v; sets v.outOff/outEnd. False when it does not fit above `floor`. */
export function writeDhcpReply(t: ForwardingTable, v: Verdict, buf: Buffer, floor: number): boolean {
  const request = v.l4Off + Udp.HEADER_LEN
  const xid = u32(buf, request + Dhcp.XID)
  const flags = u16(buf, request + Dhcp.FLAGS)
  const ciaddr = u32(buf, request + Dhcp.CIADDR)
  const giaddr = u32(buf, request + Dhcp.GIADDR)
  const start = Math.min(v.frameOff, v.frameEnd - DHCP_REPLY_FRAME_LEN)
  if (start < floor) return false
  const nak = v.dhcpMessage === DHCPNAK
  const yiaddr = nak ? 0 : t.records.ca[v.dstRecord * 4]
  const server = t.gateways.address[v.gateway * 4]
  const length = t.routes.length[v.route]
  const mask = length === 0 ? 0 : ((-1 << (32 - length)) >>> 0)
  // RFC 2131 §4.1: a NAK and a reply the client asked to be broadcast go to 255.255.255.255; a renewing
  // client (ciaddr) gets it at its address; otherwise at the address offered, to its MAC.
  let dst: number
  if (nak || (flags & DHCP_FLAG_BROADCAST) !== 0) dst = BROADCAST
  else if (ciaddr !== 0) dst = ciaddr
  else dst = yiaddr
  const broadcast = dst === BROADCAST
  writeEthernetHeader(buf, start, broadcast ? BROADCAST_MAC_HI : v.dstMacHi, broadcast ? BROADCAST_MAC_LO : v.dstMacLo, v.srcMacHi, v.srcMacLo, EtherType.IPV4)
  const ip = start + Eth.HEADER_LEN
  writeIpv4Header(buf, ip, Ipv4.HEADER_LEN, 0, REPLY_IP_LEN, 0, 0, REPLY_TTL, IpProto.UDP, server, dst)
  fillChecksum(buf, ip, ip + Ipv4.HEADER_LEN, ip + Ipv4.CHECKSUM, 0, ChecksumMode.COMPUTE)
  const udp = ip + Ipv4.HEADER_LEN
  setU16(buf, udp + Udp.SRC_PORT, DHCP_SERVER_PORT)
  setU16(buf, udp + Udp.DST_PORT, DHCP_CLIENT_PORT)
  setU16(buf, udp + Udp.LENGTH, REPLY_UDP_LEN)
  const d = udp + Udp.HEADER_LEN
  buf.fill(0, d, d + BOOTP_MIN_LEN)
  buf[d + Dhcp.OP] = BOOTREPLY
  buf[d + Dhcp.HTYPE] = DHCP_HTYPE_ETHERNET
  buf[d + Dhcp.HLEN] = 6
  setU32(buf, d + Dhcp.XID, xid)
  setU16(buf, d + Dhcp.FLAGS, flags)
  setU32(buf, d + Dhcp.YIADDR, yiaddr)
  setU32(buf, d + Dhcp.GIADDR, giaddr)
  setMac(buf, d + Dhcp.CHADDR, v.dstMacHi, v.dstMacLo)
  setU32(buf, d + Dhcp.MAGIC, DHCP_MAGIC_COOKIE)
  let at = d + Dhcp.OPTIONS
  buf[at++] = DHCP_OPT_MESSAGE_TYPE
  buf[at++] = 1
  buf[at++] = v.dhcpMessage
  at = option32(buf, at, DHCP_OPT_SERVER_ID, server)
  if (!nak) {
    at = option32(buf, at, DHCP_OPT_LEASE_TIME, DHCP_LEASE_SECONDS)
    at = option32(buf, at, DHCP_OPT_SUBNET_MASK, mask)
    at = option32(buf, at, DHCP_OPT_ROUTER, server)
  }
  buf[at] = DHCP_OPT_END
  const sum = fillChecksum(buf, udp, udp + REPLY_UDP_LEN, udp + Udp.CHECKSUM, ipv4PseudoSum(server, dst, IpProto.UDP) + REPLY_UDP_LEN, ChecksumMode.COMPUTE)
  // RFC 768: a computed 0 is sent as all ones (0 means "no checksum").
  if (sum === 0) setU16(buf, udp + Udp.CHECKSUM, 0xffff)
  v.outOff = start
  v.outEnd = start + DHCP_REPLY_FRAME_LEN
  return true
}

function option32(buf: Buffer, at: number, code: number, value: number): number {
  buf[at] = code
  buf[at + 1] = 4
  setU32(buf, at + 2, value)
  return at + 6
}
