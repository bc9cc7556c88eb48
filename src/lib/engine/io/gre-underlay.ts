// An Underlay over a raw IP socket of protocol 47 (GRE), through the native addon. The kernel here
// has no GRE module: the NVGRE data plane is ours, and the kernel only does IP.
//
// OS facts this layer absorbs (raw(7), ipv6(7)):
//  - Send: no IP_HDRINCL. We hand the kernel the GRE header and the inner frame; it adds the outer
//    IPv4 or IPv6 header (protocol / next header 47, source = the bound address or the route's,
//    default TTL / hop limit) and fragments locally if the packet exceeds the route MTU, unless
//    `dontFragment` (then such packets fail with EMSGSIZE and are counted as TX_ERRORS).
//  - Receive: an AF_INET raw socket delivers the packet WITH its IPv4 header, an AF_INET6 one
//    WITHOUT the IPv6 header. Here both become the same thing: offsets[i] at the GRE header, the
//    outer addresses in `addrs` (source from recvmmsg's msg_name, destination from
//    IP_PKTINFO / IPV6_PKTINFO). For IPv4 the outer header stays in the buffer just before the
//    GRE header.
//  - Fragments are reassembled by the kernel before delivery, so a packet can exceed the MTU.
//  - Every raw socket of protocol 47 in the namespace gets a copy of every GRE packet for it; one
//    bound to a local address gets only those sent to that address.
//  - While a raw GRE socket is open the kernel no longer answers arriving GRE with ICMP
//    protocol-unreachable: keep the underlay open for as long as the engine runs.
import type {Family} from '../../net/ip.js'
import type {Underlay, UnderlayRxBatch, UnderlayTxBatch} from '../ports.js'
import {ADDR_STRIDE, DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM, IoStat} from '../ports.js'
import {FdEndpoint} from './fd-endpoint.js'
import {native, setup} from './native.js'

export interface GreUnderlayOptions {
  family: Family
  /** Local PA to bind (4 or 16 bytes): the outer source of what we send; only packets to it arrive. */
  local?: Uint8Array
  /** The physical link MTU (default 1500); `underlay.mtu` is this minus the outer IP header. */
  linkMtu?: number
  /** Set DF / forbid local fragmentation: oversized sends fail with EMSGSIZE (default false). */
  dontFragment?: boolean
  /** Socket receive and send buffer size in bytes (default 4 MiB; best effort). */
  socketBuffer?: number
  batchSize?: number
  headroom?: number
}

const IPV4_HEADER_MIN = 20
const IPV6_HEADER = 40
/** IPv4 total length and the IPv6 payload length are 16-bit: no reassembled packet is larger. */
const IP_MAX = 65535
const DEFAULT_LINK_MTU = 1500
const DEFAULT_SOCKET_BUFFER = 4 << 20

export class GreUnderlay extends FdEndpoint<UnderlayRxBatch, UnderlayTxBatch> implements Underlay {
  static open(options: GreUnderlayOptions): GreUnderlay {
    const addon = native()
    const c = addon.constants
    if (c.READER_ADDR_STRIDE !== ADDR_STRIDE) throw new Error('the native addon and ports.ts disagree on ADDR_STRIDE')
    const {family} = options
    const label = `GRE/IPv${family} underlay`
    const fd = setup(`opening the ${label}`, () => addon.rawOpen(family))
    try {
      const context = `configuring the ${label}`
      const v4 = family === 4
      // Per-packet destination address, for hosts with several PAs on one unbound socket.
      setup(context, () =>
        addon.setsockoptInt(fd, v4 ? c.IPPROTO_IP : c.IPPROTO_IPV6, v4 ? c.IP_PKTINFO : c.IPV6_RECVPKTINFO, 1),
      )
      if (options.dontFragment) {
        setup(context, () =>
          addon.setsockoptInt(
            fd,
            v4 ? c.IPPROTO_IP : c.IPPROTO_IPV6,
            v4 ? c.IP_MTU_DISCOVER : c.IPV6_MTU_DISCOVER,
            v4 ? c.IP_PMTUDISC_DO : c.IPV6_PMTUDISC_DO,
          ),
        )
      }
      const bytes = options.socketBuffer ?? DEFAULT_SOCKET_BUFFER
      setBuffer(fd, c.SO_RCVBUFFORCE, c.SO_RCVBUF, bytes)
      setBuffer(fd, c.SO_SNDBUFFORCE, c.SO_SNDBUF, bytes)
      let local: Uint8Array | null = null
      if (options.local) {
        if (options.local.length !== (v4 ? 4 : 16)) {
          throw new RangeError(`${label}: local address must be ${v4 ? 4 : 16} bytes`)
        }
        local = Uint8Array.from(options.local)
        setup(`binding the ${label}`, () => addon.rawBind(fd, family, local!))
      }
      const linkMtu = options.linkMtu ?? DEFAULT_LINK_MTU
      return new GreUnderlay(fd, label, family, local, linkMtu - (v4 ? IPV4_HEADER_MIN : IPV6_HEADER), options)
    } catch (error) {
      addon.close(fd)
      throw error
    }
  }

  private constructor(
    fd: number,
    label: string,
    readonly family: Family,
    readonly local: Uint8Array | null,
    readonly mtu: number,
    options: GreUnderlayOptions,
  ) {
    super(
      fd,
      label,
      {
        batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
        headroom: options.headroom ?? DEFAULT_HEADROOM,
        capacity: IP_MAX,
        addrStride: ADDR_STRIDE,
      },
      native().constants.READER_RECVMMSG,
    )
  }

  protected override get rxBatch(): UnderlayRxBatch {
    return this.ring
  }

  protected override accept(count: number): number {
    const {buffer, offsets, lengths, capacity} = this.ring
    for (let i = 0; i < count; i++) {
      const length = lengths[i]
      if (length > capacity) {
        count = this.drop(i--, count, IoStat.RX_TRUNCATED)
        continue
      }
      if (this.family === 6) continue
      // Step over the IPv4 header the kernel left in front (IHL in 32-bit words).
      const off = offsets[i]
      const headerLength = (buffer[off] & 0x0f) << 2
      const valid = length >= IPV4_HEADER_MIN && buffer[off] >> 4 === 4 && headerLength >= IPV4_HEADER_MIN
      if (!valid || headerLength > length) {
        count = this.drop(i--, count, IoStat.RX_MALFORMED)
        continue
      }
      offsets[i] = off + headerLength
      lengths[i] = length - headerLength
    }
    return count
  }

  protected override sendSome(batch: UnderlayTxBatch, first: number, count: number): number {
    const {buffer, offsets, lengths, destinations} = batch
    return native().sendBatch(this.fd, this.family, buffer, offsets, lengths, destinations, first, count)
  }
}

/** SO_*BUFFORCE (CAP_NET_ADMIN, ignores the sysctl cap) and else the capped SO_*BUF, as wireguard-go. */
function setBuffer(fd: number, force: number, plain: number, bytes: number): void {
  const {SOL_SOCKET} = native().constants
  try {
    native().setsockoptInt(fd, SOL_SOCKET, force, bytes)
  } catch {
    try {
      native().setsockoptInt(fd, SOL_SOCKET, plain, bytes)
    } catch {
      // Best effort: the default buffer still works, with less room for bursts.
    }
  }
}
