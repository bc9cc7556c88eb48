// A Port over a Linux TAP (Documentation/networking/tuntap.rst), through the native addon.
//
// OS facts this layer absorbs:
//  - One read() returns one frame; when the frame is larger than the buffer the kernel copies what
//    fits and still returns the full length, so `length > capacity` means truncated (dropped here).
//  - With IFF_VNET_HDR every frame, both ways, starts with a struct virtio_net_hdr
//    (features.vnetHdrLen bytes); with TUNSETOFFLOAD the kernel may hand over TCP/UDP super-frames
//    of up to 64 KB and frames whose checksum is left to us (NEEDS_CSUM), and accepts the same.
//  - A TAP is not persistent by default: closing the last fd deletes the interface. The fd keeps
//    working when the interface is moved to another network namespace (`ip link set dev X netns
//    VM`), which is how a "VM" namespace gets its NIC.
//  - Link settings here (mtu, mac, up) are applied by ioctl in this process's namespace, at open.
import type {Port, PortFeatures, PacketBatch, RxBatch} from '../ports.js'
import {DEFAULT_BATCH_SIZE, DEFAULT_HEADROOM, IoStat} from '../ports.js'
import {FdEndpoint} from './fd-endpoint.js'
import {native, setup} from './native.js'

export interface TapPortOptions {
  /** Interface name, at most 15 bytes; '' lets the kernel pick tapN (see `port.name`). */
  name: string
  /** Sets the link MTU; default: leave the kernel's (1500 for a new TAP). */
  mtu?: number
  /** Sets the TAP's own MAC address (6 bytes). */
  mac?: Uint8Array
  /** Brings the link up (default true). */
  up?: boolean
  /** IFF_VNET_HDR (default false). */
  vnetHdr?: boolean
  /** With vnetHdr: ask for checksum and TSO offload, and USO where the kernel has it (default true). */
  offload?: boolean
  /** IFF_MULTI_QUEUE: opening the same name again attaches another queue (default false). */
  multiQueue?: boolean
  /** TUNSETPERSIST: keep the interface when the fd closes (default false). */
  persist?: boolean
  batchSize?: number
  headroom?: number
}

/** Ethernet header plus one 802.1Q tag: what a frame adds to the MTU. */
const ETH_OVERHEAD = 14 + 4
/** The largest GSO super-frame payload the kernel hands a TAP. */
const GSO_MAX = 65535
const ASSUMED_TAP_MTU = 1500

export class TapPort extends FdEndpoint<RxBatch, PacketBatch> implements Port {
  /** Opens (creates, or with multiQueue attaches to) a TAP and configures it. */
  static open(options: TapPortOptions): TapPort {
    const addon = native()
    const vnetHdr = options.vnetHdr ?? false
    const multiQueue = options.multiQueue ?? false
    const tap = setup(`opening TAP '${options.name}'`, () => addon.tapOpen(options.name, vnetHdr, multiQueue))
    try {
      const context = `configuring TAP '${tap.name}'`
      const c = addon.constants
      let csum = false
      let tso = false
      let uso = false
      let tsoEcn = false
      if (vnetHdr && (options.offload ?? true)) {
        // As wireguard-go's initFromFlags: TCP offloads or none (with ECN's CWR handling when the kernel
        // takes it); UDP offloads only if the kernel has them. A refused TUNSETOFFLOAD changes nothing, so
        // each try falls back to the last set that was accepted.
        const base = c.TUN_F_CSUM | c.TUN_F_TSO4 | c.TUN_F_TSO6
        tsoEcn = tryOffload(tap.fd, base | c.TUN_F_TSO_ECN)
        tso = tsoEcn || tryOffload(tap.fd, base)
        csum = tso || tryOffload(tap.fd, c.TUN_F_CSUM)
        const tcp = tsoEcn ? base | c.TUN_F_TSO_ECN : base
        uso = tso && tryOffload(tap.fd, tcp | c.TUN_F_USO4 | c.TUN_F_USO6)
      }
      if (options.persist) setup(context, () => addon.tapSetPersist(tap.fd, 1))
      if (options.mac) setup(context, () => addon.linkSetMac(tap.name, options.mac!))
      if (options.mtu !== undefined) setup(context, () => addon.linkSetMtu(tap.name, options.mtu!))
      if (options.up ?? true) setup(context, () => addon.linkSetUp(tap.name, true))
      const features: PortFeatures = {
        vnetHdr,
        vnetHdrLen: vnetHdr ? c.VIRTIO_NET_HDR_LEN : 0,
        csum,
        tso,
        tsoEcn,
        uso,
        multiQueue,
      }
      return new TapPort(tap.fd, tap.name, options.mtu ?? ASSUMED_TAP_MTU, features, options)
    } catch (error) {
      addon.close(tap.fd)
      throw error
    }
  }

  private constructor(
    fd: number,
    readonly name: string,
    readonly mtu: number,
    readonly features: PortFeatures,
    options: TapPortOptions,
  ) {
    const payload = features.tso || features.uso ? GSO_MAX : mtu
    super(
      fd,
      `TAP ${name}`,
      {
        batchSize: options.batchSize ?? DEFAULT_BATCH_SIZE,
        headroom: options.headroom ?? DEFAULT_HEADROOM,
        capacity: features.vnetHdrLen + ETH_OVERHEAD + payload,
        addrStride: 0,
      },
      native().constants.READER_READ,
    )
  }

  protected override get rxBatch(): RxBatch {
    return this.ring
  }

  protected override accept(count: number): number {
    const capacity = this.ring.capacity
    const lengths = this.ring.lengths
    for (let i = 0; i < count; i++) {
      if (lengths[i] > capacity) count = this.drop(i--, count, IoStat.RX_TRUNCATED)
    }
    return count
  }

  protected override sendSome(batch: PacketBatch, first: number, count: number): number {
    return native().writeBatch(this.fd, batch.buffer, batch.offsets, batch.lengths, first, count)
  }
}

/** TUNSETOFFLOAD, reporting instead of throwing: a refused offload set is a fallback, not an error. */
function tryOffload(fd: number, flags: number): boolean {
  try {
    native().tapSetOffload(fd, flags)
    return true
  } catch {
    return false
  }
}
