import {describe, expect, it} from 'vitest'
import {
  BOOTREPLY,
  Dhcp,
  DHCP_OPT_REQUESTED_IP,
  DHCP_OPT_SERVER_ID,
  DHCPACK,
  DHCPOFFER,
  DhcpView,
  emitDhcp,
  emitEthernet,
  emitIpv4,
  emitUdp,
  EtherType,
  IpProto,
  ipv4FromString,
  ipv4PseudoSum,
  parseDhcp,
  type DhcpRepr,
  Udp,
  WireErrorCode,
} from '../../../src/lib/wire/index.js'
import {expectWireError, type Fixture, fixtures, frame, l4Of, layer, reEmit} from './support.js'

const all = [...fixtures('dhcp').values()]
const MESSAGE_TYPES: Record<string, number> = {discover: 1, offer: 2, request: 3, ack: 5}

function dhcpOffset(fx: Fixture): {off: number; end: number} {
  const {off, end} = l4Of(fx.bytes)
  return {off: off + Udp.HEADER_LEN, end}
}

/** Our repr from scapy's BOOTP fields and DHCP option list (unmodelled options are left out). */
function reprFromScapy(fx: Fixture): DhcpRepr {
  const b = layer(fx, 'BOOTP')
  const repr: DhcpRepr = {
    op: b.op,
    hops: b.hops,
    xid: b.xid,
    secs: b.secs,
    flags: b.flags,
    ciaddr: ipv4FromString(b.ciaddr),
    yiaddr: ipv4FromString(b.yiaddr),
    siaddr: ipv4FromString(b.siaddr),
    giaddr: ipv4FromString(b.giaddr),
    chaddr: (b.chaddr as string).slice(0, 12).replace(/(..)(?!$)/g, '$1:'),
    messageType: 0,
  }
  for (const opt of layer(fx, 'DHCP options').options as (string | [string, ...unknown[]])[]) {
    if (typeof opt === 'string') continue
    const [name, ...values] = opt
    if (name === 'message-type') repr.messageType = typeof values[0] === 'number' ? values[0] : MESSAGE_TYPES[values[0] as string]
    if (name === 'requested_addr') repr.requestedIp = ipv4FromString(values[0] as string)
    if (name === 'server_id') repr.serverId = ipv4FromString(values[0] as string)
    if (name === 'lease_time') repr.leaseTime = values[0] as number
    if (name === 'subnet_mask') repr.subnetMask = ipv4FromString(values[0] as string)
    if (name === 'router') repr.routers = (values as string[]).map(ipv4FromString)
    if (name === 'name_server') repr.dnsServers = (values as string[]).map(ipv4FromString)
  }
  return repr
}

describe('DHCP against scapy', () => {
  it.each(all.map((f) => [f.name, f] as const))('deconstructs and parses %s', (_name, fx) => {
    const b = layer(fx, 'BOOTP')
    const {off, end} = dhcpOffset(fx)
    const v = new DhcpView()
    expect(v.wrap(fx.bytes, off, end)).toBe(0)
    expect([v.op, v.xid, v.secs, v.flags]).toEqual([b.op, b.xid, b.secs, b.flags])
    expect([v.ciaddr, v.yiaddr, v.siaddr, v.giaddr]).toEqual([b.ciaddr, b.yiaddr, b.siaddr, b.giaddr].map(ipv4FromString))
    expect(v.chaddrHi.toString(16).padStart(4, '0') + v.chaddrLo.toString(16).padStart(8, '0')).toBe(b.chaddr.slice(0, 12))
    const want = reprFromScapy(fx)
    expect(v.messageType).toBe(want.messageType)
    expect(v.addressOption(DHCP_OPT_REQUESTED_IP)).toBe(want.requestedIp ?? 0)
    expect(v.addressOption(DHCP_OPT_SERVER_ID)).toBe(want.serverId ?? 0)
    expect(parseDhcp(fx.bytes, off, end)).toEqual(want)
  })

  // request-renewing carries a hostname and a parameter list, which the responder reads past and never sends.
  it.each(all.filter((f) => f.name !== 'request-renewing').map((f) => [f.name, f] as const))('re-emits %s byte for byte', (_name, fx) => {
    const {off, end} = dhcpOffset(fx)
    const {buf, written} = reEmit(fx, off, end - off, (b) => emitDhcp(reprFromScapy(fx), b, off))
    expect(written).toBe(end - off)
    expect(buf).toEqual(fx.bytes)
  })

  it('answers scapy\'s DISCOVER with scapy\'s OFFER, whole frame, from our emitters', () => {
    const discover = frame('dhcp', 'discover')
    const {off, end} = dhcpOffset(discover)
    const req = parseDhcp(discover.bytes, off, end)
    const gateway = ipv4FromString('10.0.0.1')
    const offer: DhcpRepr = {
      op: BOOTREPLY,
      hops: 0,
      xid: req.xid,
      secs: 0,
      flags: 0,
      ciaddr: 0,
      yiaddr: ipv4FromString('10.0.0.5'),
      siaddr: 0,
      giaddr: 0,
      chaddr: req.chaddr,
      messageType: DHCPOFFER,
      serverId: gateway,
      leaseTime: 86400,
      subnetMask: ipv4FromString('255.255.255.0'),
      routers: [gateway],
      dnsServers: [gateway, ipv4FromString('198.51.100.53')],
    }
    const want = frame('dhcp', 'offer').bytes
    const buf = Buffer.alloc(want.length, 0xaa)
    const dhcpLen = emitDhcp(offer, buf, 14 + 20 + 8)
    emitEthernet({dst: req.chaddr, src: '06:06:00:00:00:01', etherType: EtherType.IPV4}, buf, 0)
    const ip = {src: gateway, dst: offer.yiaddr, protocol: IpProto.UDP, ttl: 64, tos: 0, ident: 1, dontFrag: false, moreFrags: false, fragOffset: 0, payloadLen: 8 + dhcpLen, options: new Uint8Array(0)}
    emitIpv4(ip, buf, 14)
    emitUdp({srcPort: 67, dstPort: 68, payloadLen: dhcpLen}, buf, 34, ipv4PseudoSum(ip.src, ip.dst, IpProto.UDP))
    expect(buf).toEqual(want)
    expect(parseDhcp(frame('dhcp', 'ack').bytes, off, frame('dhcp', 'ack').bytes.length).messageType).toBe(DHCPACK)
  })
})

describe('DHCP malformed input', () => {
  const fx = frame('dhcp', 'request')
  const {off, end} = dhcpOffset(fx)

  it('truncated below 240 bytes, magic cookie missing, non-Ethernet hardware', () => {
    const v = new DhcpView()
    expect(v.wrap(fx.bytes, off, off + Dhcp.HEADER_LEN - 1)).toBe(WireErrorCode.TRUNCATED)
    expectWireError(() => parseDhcp(fx.bytes, off, off + 100), WireErrorCode.TRUNCATED, /needs 240 bytes, 100 available/)
    const b = Buffer.from(fx.bytes)
    b[off + Dhcp.MAGIC] = 0
    expectWireError(() => parseDhcp(b, off, end), WireErrorCode.DHCP_MAGIC, /magic cookie is 0x825363/)
    const c = Buffer.from(fx.bytes)
    c[off + 1] = 6
    expectWireError(() => parseDhcp(c, off, end), WireErrorCode.UNSUPPORTED, /hardware type 6 length 6/)
  })

  it('an option running past the end, an address option of the wrong size, plain BOOTP', () => {
    expectWireError(() => parseDhcp(fx.bytes, off, off + Dhcp.OPTIONS + 5), WireErrorCode.BAD_OPTION, /runs past the end/)
    const b = Buffer.from(fx.bytes)
    b[off + Dhcp.OPTIONS + 3 + 1] = 3 // requested address: length 3
    b[off + Dhcp.OPTIONS + 3 + 2 + 3] = 0 // keep the walk aligned: a pad where the 4th byte was
    expectWireError(() => parseDhcp(b, off, end), WireErrorCode.BAD_OPTION, /option 50 has length 3, expected 4/)
    const c = Buffer.from(fx.bytes)
    c[off + Dhcp.OPTIONS] = 0 // message type option becomes pads
    c[off + Dhcp.OPTIONS + 1] = 0
    c[off + Dhcp.OPTIONS + 2] = 0
    expectWireError(() => parseDhcp(c, off, end), WireErrorCode.UNSUPPORTED, /no message type option \(53\)/)
  })
})
