// The kernel GSO path's device (kernel-gso.ts): a TAP in the host namespace with IFF_VNET_HDR whose
// tcx ingress program turns each NVGRE super-packet written into it into an encapsulated GSO skb and
// redirects it to the physical interface. Opened per underlay (IPv4 or IPv6) at engine start; when anything of
// it cannot be set up (no tcx, no bpf(), verifier refusal) open() throws and the engine keeps
// segmenting in userspace.
import type {PacketBatch} from '../ports.js'
import {PROGRAM_DROP_NAMES, assembleGsoProgram} from '../kernel-gso.js'
import {TapPort} from './tap-port.js'
import {native} from './native.js'

export class GsoUnderlay {
  static open(physicalIfindex: number, local: Uint8Array): GsoUnderlay {
    const addon = native()
    if (typeof addon.bpfTcxAttach !== 'function') throw new Error('the native addon has no bpfTcxAttach (rebuild it: npm run install)')
    if (local.length !== 4 && local.length !== 16) throw new RangeError('a provider address has 4 or 16 bytes')
    if (typeof addon.bpfArrayCreate !== 'function' || typeof addon.bpfArrayRead !== 'function') throw new Error('the native addon has no bpfArrayCreate (rebuild it: npm run install)')
    // The kernel picks the number (hnvgso0, hnvgso1, ...): several engines may share a namespace.
    const tap = TapPort.open({name: 'hnvgso%d', vnetHdr: true, offload: false, up: true, batchSize: 1})
    let mapFd = -1
    try {
      mapFd = addon.bpfArrayCreate(8, PROGRAM_DROP_NAMES.length)
      const {progFd, linkFd} = addon.bpfTcxAttach(assembleGsoProgram(physicalIfindex, mapFd, local.length === 16), tap.name)
      return new GsoUnderlay(tap, progFd, linkFd, mapFd, Uint8Array.from(local))
    } catch (error) {
      if (mapFd >= 0) addon.close(mapFd)
      tap.close()
      throw error
    }
  }

  private closed = false
  private readonly value = new Uint8Array(8)
  private constructor(
    private readonly tap: TapPort,
    private readonly progFd: number,
    private readonly linkFd: number,
    private readonly mapFd: number,
    /** The outer source address (the bound PA). */
    readonly local: Uint8Array,
  ) {}

  readProgramDrops(into: Float64Array): void {
    if (this.closed) return
    const view = new DataView(this.value.buffer)
    for (let k = 0; k < PROGRAM_DROP_NAMES.length; k++) {
      if (native().bpfArrayRead!(this.mapFd, k, this.value) === 0) into[k] += Number(view.getBigUint64(0, true))
    }
  }

  get name(): string {
    return this.tap.name
  }

  get vnetLen(): number {
    return this.tap.features.vnetHdrLen
  }

  get stats(): Float64Array {
    return this.tap.stats
  }

  send(batch: PacketBatch, first: number, count: number): number {
    return this.tap.send(batch, first, count)
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    native().close(this.linkFd)
    native().close(this.progFd)
    native().close(this.mapFd)
    this.tap.close()
  }
}
