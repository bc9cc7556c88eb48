import {describe, expect, it} from 'vitest'
import {describeFrame, describePacket} from '../../../src/lib/wire/index.js'
import {frame} from './support.js'

function text(file: string, name: string): string {
  const b = frame(file, name).bytes
  return describeFrame(b, 0, b.length)
}

describe('describeFrame', () => {
  it('names every layer of an NVGRE frame, inner frame included', () => {
    expect(text('nvgre', 'v4-vsid6001-flow127-tcp')).toBe(
      '02:00:00:00:00:11 > 02:00:00:00:00:22, IPv4 198.51.100.11 > 198.51.100.22 ttl 64 DF, NVGRE vsid 6001 flow 127 | ' +
        '08:08:00:00:00:05 > 08:08:00:00:00:07, IPv4 10.0.0.5 > 10.0.0.7 ttl 64, TCP 40000 > 22 [S] seq 0 ack 0 win 8192 mss 1418 len 0',
    )
    expect(text('nvgre', 'v6-vsid16777214-flow200-udp6')).toContain('IPv6 2001:db8::11 > 2001:db8::22 hlim 64, NVGRE vsid 16777214 flow 200 | ')
  })

  it('reads ARP, ND, DHCP and ICMP for people', () => {
    expect(text('arp', 'request')).toBe('06:06:00:00:00:05 > ff:ff:ff:ff:ff:ff, ARP who-has 10.0.0.7 tell 10.0.0.5')
    expect(text('arp', 'tagged-request')).toContain(', vlan 7 pcp 0, ARP who-has')
    expect(text('icmpv6', 'ns')).toContain('ICMPv6 neighbor solicitation 2001:db8:ca::7 lladdr 06:06:00:00:00:05')
    expect(text('dhcp', 'offer')).toContain('UDP 67 > 68 len 278, DHCP OFFER xid 0x3903f326 chaddr 06:06:00:00:00:05 yiaddr 10.0.0.5')
    expect(text('icmpv4', 'frag-needed')).toContain('ICMP unreachable fragmentation needed mtu 1458')
    expect(text('ipv4', 'fragment-last')).toContain('frag id 4660 offset 24, UDP fragment 13 bytes')
  })

  it('shows where and why a layer does not parse, and never throws', () => {
    expect(text('nvgre-invalid', 'sequence-bit')).toContain('GRE (not NVGRE) [malformed: NVGRE_SEQUENCE_BIT]')
    const b = Buffer.from(frame('udp', 'ipv4').bytes)
    b[14 + 26] ^= 0xff
    expect(describeFrame(b, 0, b.length)).toContain('UDP 40000 > 5000 len 7 bad-checksum')
    expect(describeFrame(b, 0, 20)).toContain('IPv4 [malformed: TRUNCATED]')
    expect(describeFrame(b, 0, 3)).toBe('Ethernet [malformed: TRUNCATED] 3 bytes')
    expect(describeFrame(b, -5, 1000)).toContain('bad-checksum')
  })

  it('describes raw IP packets (LINKTYPE_RAW)', () => {
    const b = frame('nvgre', 'v6-vsid5001-flow1-udp').bytes
    expect(describePacket(b, 14, b.length)).toMatch(/^IPv6 2001:db8::11 > 2001:db8::22 hlim 64, NVGRE vsid 5001 flow 1 \| /)
    expect(describePacket(b, 14, 14)).toBe('IPv4 [malformed: TRUNCATED]')
  })
})
