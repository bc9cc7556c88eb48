// TranslationMethodNat's PhysicalLink (ports.ts) through the native addon (native/src/physical.cc).
//
// OS design: a NAT PA is NEVER configured on the host's stack, so the kernel neither answers ARP for it
// nor accepts packets to it (with ip_forward off they are dropped quietly), and never replies to them
// (no RST, no echo reply). The engine owns the address instead:
//  - Receive: an AF_PACKET SOCK_DGRAM socket of every protocol bound to the physical interface, read
//    by the batch reader in read() mode: each packet is a frame's network-layer payload (IPv4, IPv6 or
//    ARP). Outgoing frames are ignored (PACKET_IGNORE_OUTGOING).
//  - Send: IPPROTO_RAW sockets (IP_HDRINCL implied) per family: the rewritten packet goes out whole with
//    the NAT PA as source; the kernel routes it and resolves the next hop's MAC.
//  - ARP and ND: the engine answers ARP requests and neighbor solicitations for its NAT PAs with the
//    interface's MAC, sent on the packet socket to the asker's MAC (ARP sender / source link-layer option).
import {readFileSync} from 'node:fs'
import type {Family} from '../../net/ip.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM, IoStat, type PhysicalLink as PhysicalLinkApi, type RxBatch, type UnderlayTxBatch} from '../ports.js'
import {FdEndpoint} from './fd-endpoint.js'
import {native, setup} from './native.js'

const IP_MAX = 65535

export interface PhysicalLinkOptions {
  interfaceName: string
  interfaceIndex: number
  batchSize?: number
  headroom?: number
}

export class PhysicalLink extends FdEndpoint<RxBatch, UnderlayTxBatch> implements PhysicalLinkApi {
  static open(options: PhysicalLinkOptions): PhysicalLink {
    const addon = native()
    const label = `physical link ${options.interfaceName}`
    const mac = macOf(options.interfaceName)
    const fd = setup(`opening the ${label}`, () => addon.packetOpen(options.interfaceIndex))
    const raw: number[] = []
    try {
      raw.push(setup(`opening the ${label} (IPv4 raw socket)`, () => addon.ipRawOpen(4)))
      raw.push(setup(`opening the ${label} (IPv6 raw socket)`, () => addon.ipRawOpen(6)))
    } catch (error) {
      for (const r of raw) addon.close(r)
      addon.close(fd)
      throw error
    }
    return new PhysicalLink(fd, label, options, mac, raw[0], raw[1])
  }

  readonly interfaceName: string
  private readonly interfaceIndex: number

  private constructor(
    fd: number,
    label: string,
    options: PhysicalLinkOptions,
    readonly mac: Uint8Array,
    private readonly raw4: number,
    private readonly raw6: number,
  ) {
    super(fd, label, {batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE, headroom: options.headroom ?? DEFAULT_HEADROOM, capacity: IP_MAX, addrStride: 0}, native().constants.READER_READ)
    this.interfaceName = options.interfaceName
    this.interfaceIndex = options.interfaceIndex
  }

  /** Not an MTU the engine enforces: rewritten packets are as large as the VM sent them. */
  get mtu(): number {
    return IP_MAX
  }

  sendFrame(etherType: number, dstMac: Uint8Array, buf: Buffer, off: number, len: number): number {
    const sent = native().packetSend(this.fd, this.interfaceIndex, etherType, dstMac, buf, off, len)
    if (sent < 0) this.countSendError(sent)
    else this.stats[IoStat.TX_PACKETS]++
    return sent
  }

  override close(): void {
    super.close()
    native().close(this.raw4)
    native().close(this.raw6)
  }

  protected override get rxBatch(): RxBatch {
    return this.ring
  }

  protected override accept(count: number): number {
    const {lengths, capacity} = this.ring
    for (let i = 0; i < count; i++) {
      if (lengths[i] > capacity) count = this.drop(i--, count, IoStat.RX_TRUNCATED)
    }
    return count
  }

  /** A run of packets of one IP version from `first` goes to that family's raw socket. */
  protected override sendSome(batch: UnderlayTxBatch, first: number, count: number): number {
    const {buffer, offsets, lengths, destinations} = batch
    const family: Family = buffer[offsets[first]] >> 4 === 6 ? 6 : 4
    let run = 1
    while (run < count && (buffer[offsets[first + run]] >> 4 === 6 ? 6 : 4) === family) run++
    return native().sendBatch(family === 4 ? this.raw4 : this.raw6, family, buffer, offsets, lengths, destinations, first, run)
  }
}

/** The interface's MAC from sysfs (this process's network namespace). */
function macOf(name: string): Uint8Array {
  const text = readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim()
  return Uint8Array.from(text.split(':').map((h) => parseInt(h, 16)))
}
