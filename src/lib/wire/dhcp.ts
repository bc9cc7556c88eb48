// DHCPv4 (RFC 2131, options RFC 2132): enough for the engine's responder to read DISCOVER/REQUEST and
// answer with OFFER/ACK: message type (53), requested address (50), server identifier (54), lease time
// (51), subnet mask (1), router (3), DNS servers (6), end (255). Other options are skipped when parsing;
// option overload (52: options inside sname/file) is not read.

import {macHi, macLo, macToString, writeMac} from './address.js'
import {EMPTY, setU16, setU32, u16, u32} from './bytes.js'
import {WireError, WireErrorCode} from './errors.js'

/** RFC 2131 §2 message layout. */
export const enum Dhcp {
  OP = 0,
  HTYPE = 1,
  HLEN = 2,
  HOPS = 3,
  XID = 4,
  SECS = 8,
  FLAGS = 10,
  CIADDR = 12,
  YIADDR = 16,
  SIADDR = 20,
  GIADDR = 24,
  CHADDR = 28,
  CHADDR_LEN = 16,
  SNAME = 44,
  FILE = 108,
  /** RFC 2131 §3: the options field starts with the magic cookie 99.130.83.99. */
  MAGIC = 236,
  OPTIONS = 240,
  /** Fixed fields and cookie: the smallest DHCP message. */
  HEADER_LEN = 240,
}
// The same values as plain constants, for callers that prefer them; hot paths use the enum (inlined).
export const DHCP_OP = Dhcp.OP
export const DHCP_HTYPE = Dhcp.HTYPE
export const DHCP_HLEN = Dhcp.HLEN
export const DHCP_HOPS = Dhcp.HOPS
export const DHCP_XID = Dhcp.XID
export const DHCP_SECS = Dhcp.SECS
export const DHCP_FLAGS = Dhcp.FLAGS
export const DHCP_CIADDR = Dhcp.CIADDR
export const DHCP_YIADDR = Dhcp.YIADDR
export const DHCP_SIADDR = Dhcp.SIADDR
export const DHCP_GIADDR = Dhcp.GIADDR
export const DHCP_CHADDR = Dhcp.CHADDR
export const DHCP_CHADDR_LEN = Dhcp.CHADDR_LEN
export const DHCP_SNAME = Dhcp.SNAME
export const DHCP_FILE = Dhcp.FILE
export const DHCP_MAGIC = Dhcp.MAGIC
export const DHCP_OPTIONS = Dhcp.OPTIONS
export const DHCP_HEADER_LEN = Dhcp.HEADER_LEN
export const DHCP_MAGIC_COOKIE = 0x63825363

export const DHCP_SERVER_PORT = 67
export const DHCP_CLIENT_PORT = 68
export const BOOTREQUEST = 1
export const BOOTREPLY = 2
/** RFC 2131 §2: the client asks for a broadcast reply. */
export const DHCP_FLAG_BROADCAST = 0x8000
/** RFC 1700 hardware type Ethernet, 6-byte addresses. */
export const DHCP_HTYPE_ETHERNET = 1

// RFC 2132 option codes.
export const DHCP_OPT_PAD = 0
export const DHCP_OPT_SUBNET_MASK = 1
export const DHCP_OPT_ROUTER = 3
export const DHCP_OPT_DNS = 6
export const DHCP_OPT_REQUESTED_IP = 50
export const DHCP_OPT_LEASE_TIME = 51
export const DHCP_OPT_MESSAGE_TYPE = 53
export const DHCP_OPT_SERVER_ID = 54
export const DHCP_OPT_END = 255

// RFC 2132 §9.6 message types.
export const DHCPDISCOVER = 1
export const DHCPOFFER = 2
export const DHCPREQUEST = 3
export const DHCPDECLINE = 4
export const DHCPACK = 5
export const DHCPNAK = 6
export const DHCPRELEASE = 7
export const DHCPINFORM = 8

/** Addresses are uint32. Optional fields are absent when the option is. */
export interface DhcpRepr {
  op: number
  hops: number
  xid: number
  secs: number
  flags: number
  ciaddr: number
  yiaddr: number
  siaddr: number
  giaddr: number
  /** Client hardware address (Ethernet). */
  chaddr: string
  messageType: number
  requestedIp?: number
  serverId?: number
  leaseTime?: number
  subnetMask?: number
  routers?: number[]
  dnsServers?: number[]
}

export class DhcpView {
  buf: Buffer = EMPTY
  off = 0
  end = 0

  /**
   * Binds to a DHCP message (the UDP payload): TRUNCATED below 240 bytes, Dhcp.MAGIC without the
   * cookie, UNSUPPORTED unless Ethernet addresses, BAD_OPTION when an option runs past `end`.
   */
  wrap(buf: Buffer, off: number, end: number): WireErrorCode {
    if (end - off < Dhcp.HEADER_LEN) return WireErrorCode.TRUNCATED
    if (u32(buf, off + Dhcp.MAGIC) !== DHCP_MAGIC_COOKIE) return WireErrorCode.DHCP_MAGIC
    if (buf[off + Dhcp.HTYPE] !== DHCP_HTYPE_ETHERNET || buf[off + Dhcp.HLEN] !== 6) return WireErrorCode.UNSUPPORTED
    for (let at = off + Dhcp.OPTIONS; at < end; ) {
      const code = buf[at]
      if (code === DHCP_OPT_END) break
      if (code === DHCP_OPT_PAD) {
        at++
        continue
      }
      if (at + 2 > end || at + 2 + buf[at + 1] > end) return WireErrorCode.BAD_OPTION
      at += 2 + buf[at + 1]
    }
    this.buf = buf
    this.off = off
    this.end = end
    return 0
  }

  get op(): number {
    return this.buf[this.off + Dhcp.OP]
  }
  get xid(): number {
    return u32(this.buf, this.off + Dhcp.XID)
  }
  get secs(): number {
    return u16(this.buf, this.off + Dhcp.SECS)
  }
  get flags(): number {
    return u16(this.buf, this.off + Dhcp.FLAGS)
  }
  get ciaddr(): number {
    return u32(this.buf, this.off + Dhcp.CIADDR)
  }
  get yiaddr(): number {
    return u32(this.buf, this.off + Dhcp.YIADDR)
  }
  get siaddr(): number {
    return u32(this.buf, this.off + Dhcp.SIADDR)
  }
  get giaddr(): number {
    return u32(this.buf, this.off + Dhcp.GIADDR)
  }
  get chaddrHi(): number {
    return macHi(this.buf, this.off + Dhcp.CHADDR)
  }
  get chaddrLo(): number {
    return macLo(this.buf, this.off + Dhcp.CHADDR)
  }

  /** Offset of the value of the first option `code` (its length is the byte before), or -1. */
  option(code: number): number {
    const b = this.buf
    for (let at = this.off + Dhcp.OPTIONS; at < this.end; ) {
      const c = b[at]
      if (c === DHCP_OPT_END) return -1
      if (c === DHCP_OPT_PAD) {
        at++
        continue
      }
      if (c === code) return at + 2
      at += 2 + b[at + 1]
    }
    return -1
  }

  /** Option 53, or 0 when absent: a BOOTP message. */
  get messageType(): number {
    const at = this.option(DHCP_OPT_MESSAGE_TYPE)
    return at < 0 || this.buf[at - 1] < 1 ? 0 : this.buf[at]
  }
  /** A 4-byte address option (50, 54, 1 ...), or 0 when absent or not 4 bytes long. */
  addressOption(code: number): number {
    const at = this.option(code)
    return at < 0 || this.buf[at - 1] !== 4 ? 0 : u32(this.buf, at)
  }
}

function wrapMessage(code: number, buf: Buffer, off: number, end: number): string {
  const avail = Math.max(0, end - off)
  switch (code) {
    case WireErrorCode.TRUNCATED:
      return 'DHCP message needs ' + Dhcp.HEADER_LEN + ' bytes, ' + avail + ' available'
    case WireErrorCode.DHCP_MAGIC:
      return 'DHCP magic cookie is 0x' + u32(buf, off + Dhcp.MAGIC).toString(16) + ', expected 0x63825363'
    case WireErrorCode.UNSUPPORTED:
      return 'DHCP hardware type ' + buf[off + Dhcp.HTYPE] + ' length ' + buf[off + Dhcp.HLEN] + ' is not Ethernet (1, 6)'
    default:
      return 'DHCP option runs past the end of the message'
  }
}

function optionError(code: number, len: number, want: string): WireError {
  return new WireError(WireErrorCode.BAD_OPTION, 'DHCP option ' + code + ' has length ' + len + ', expected ' + want)
}

/** Parses a DHCP message; a message without option 53 (plain BOOTP) is UNSUPPORTED. */
export function parseDhcp(buf: Buffer, off: number, end: number): DhcpRepr {
  const v = new DhcpView()
  const code = v.wrap(buf, off, end)
  if (code !== 0) throw new WireError(code, wrapMessage(code, buf, off, end))
  const repr: DhcpRepr = {
    op: v.op,
    hops: buf[off + Dhcp.HOPS],
    xid: v.xid,
    secs: v.secs,
    flags: v.flags,
    ciaddr: v.ciaddr,
    yiaddr: v.yiaddr,
    siaddr: v.siaddr,
    giaddr: v.giaddr,
    chaddr: macToString(buf, off + Dhcp.CHADDR),
    messageType: 0,
  }
  const address = (opt: number): number | undefined => {
    const at = v.option(opt)
    if (at < 0) return undefined
    if (buf[at - 1] !== 4) throw optionError(opt, buf[at - 1], '4')
    return u32(buf, at)
  }
  const addresses = (opt: number): number[] | undefined => {
    const at = v.option(opt)
    if (at < 0) return undefined
    const len = buf[at - 1]
    if (len === 0 || len % 4 !== 0) throw optionError(opt, len, 'a non-zero multiple of 4')
    const list: number[] = []
    for (let i = 0; i < len; i += 4) list.push(u32(buf, at + i))
    return list
  }
  const mt = v.option(DHCP_OPT_MESSAGE_TYPE)
  if (mt < 0) throw new WireError(WireErrorCode.UNSUPPORTED, 'DHCP message has no message type option (53): plain BOOTP')
  if (buf[mt - 1] !== 1) throw optionError(DHCP_OPT_MESSAGE_TYPE, buf[mt - 1], '1')
  repr.messageType = buf[mt]
  assign(repr, 'requestedIp', address(DHCP_OPT_REQUESTED_IP))
  assign(repr, 'serverId', address(DHCP_OPT_SERVER_ID))
  assign(repr, 'leaseTime', address(DHCP_OPT_LEASE_TIME))
  assign(repr, 'subnetMask', address(DHCP_OPT_SUBNET_MASK))
  assign(repr, 'routers', addresses(DHCP_OPT_ROUTER))
  assign(repr, 'dnsServers', addresses(DHCP_OPT_DNS))
  return repr
}

/** Sets an optional field only when the option was present, so absent options leave no key. */
function assign<K extends keyof DhcpRepr>(repr: DhcpRepr, key: K, value: DhcpRepr[K] | undefined): void {
  if (value !== undefined) repr[key] = value
}

function putU32Option(buf: Buffer, at: number, code: number, value: number | undefined): number {
  if (value === undefined) return at
  buf[at] = code
  buf[at + 1] = 4
  setU32(buf, at + 2, value)
  return at + 6
}

function putListOption(buf: Buffer, at: number, code: number, list: number[] | undefined): number {
  if (list === undefined || list.length === 0) return at
  buf[at] = code
  buf[at + 1] = 4 * list.length
  for (let i = 0; i < list.length; i++) setU32(buf, at + 2 + 4 * i, list[i])
  return at + 2 + 4 * list.length
}

/**
 * Writes the message at `off` and returns its length. Options go out in the order 53, 50, 54, 51, 1, 3,
 * 6, 255 (message type first, as clients expect); sname and file are zero; no padding is added.
 */
export function emitDhcp(repr: DhcpRepr, buf: Buffer, off: number): number {
  buf[off + Dhcp.OP] = repr.op
  buf[off + Dhcp.HTYPE] = DHCP_HTYPE_ETHERNET
  buf[off + Dhcp.HLEN] = 6
  buf[off + Dhcp.HOPS] = repr.hops
  setU32(buf, off + Dhcp.XID, repr.xid)
  setU16(buf, off + Dhcp.SECS, repr.secs)
  setU16(buf, off + Dhcp.FLAGS, repr.flags)
  setU32(buf, off + Dhcp.CIADDR, repr.ciaddr)
  setU32(buf, off + Dhcp.YIADDR, repr.yiaddr)
  setU32(buf, off + Dhcp.SIADDR, repr.siaddr)
  setU32(buf, off + Dhcp.GIADDR, repr.giaddr)
  buf.fill(0, off + Dhcp.CHADDR, off + Dhcp.MAGIC)
  writeMac(repr.chaddr, buf, off + Dhcp.CHADDR)
  setU32(buf, off + Dhcp.MAGIC, DHCP_MAGIC_COOKIE)
  let at = off + Dhcp.OPTIONS
  buf[at] = DHCP_OPT_MESSAGE_TYPE
  buf[at + 1] = 1
  buf[at + 2] = repr.messageType
  at += 3
  at = putU32Option(buf, at, DHCP_OPT_REQUESTED_IP, repr.requestedIp)
  at = putU32Option(buf, at, DHCP_OPT_SERVER_ID, repr.serverId)
  at = putU32Option(buf, at, DHCP_OPT_LEASE_TIME, repr.leaseTime)
  at = putU32Option(buf, at, DHCP_OPT_SUBNET_MASK, repr.subnetMask)
  at = putListOption(buf, at, DHCP_OPT_ROUTER, repr.routers)
  at = putListOption(buf, at, DHCP_OPT_DNS, repr.dnsServers)
  buf[at++] = DHCP_OPT_END
  return at - off
}
