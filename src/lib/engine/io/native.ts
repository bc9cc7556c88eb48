// The native addon (native/, built by node-gyp at install): its typed contract, lazy loading, and
// errno -> NativeError, done here once. Only io/ imports this file; the engine core sees `ports.ts`.
//
// Conventions of the addon (see native/src/common.h):
//  - setup calls (open, bind, ioctl, setsockopt) throw; `setup()` below turns that into a
//    NativeError carrying what we were doing;
//  - hot-path calls return a count, or a negative errno that `errnoError()` names on demand.
import {createRequire} from 'node:module'
import {constants as osConstants} from 'node:os'
import {fileURLToPath} from 'node:url'

import type {Family} from '../../net/ip.js'

/** Kernel ABI numbers, read from the headers the addon was compiled against. */
export interface NativeConstants {
  readonly TUN_F_CSUM: number
  readonly TUN_F_TSO4: number
  readonly TUN_F_TSO6: number
  readonly TUN_F_TSO_ECN: number
  readonly TUN_F_UFO: number
  readonly TUN_F_USO4: number
  readonly TUN_F_USO6: number
  readonly VIRTIO_NET_HDR_LEN: number
  readonly VIRTIO_NET_HDR_F_NEEDS_CSUM: number
  readonly VIRTIO_NET_HDR_F_DATA_VALID: number
  readonly VIRTIO_NET_HDR_GSO_NONE: number
  readonly VIRTIO_NET_HDR_GSO_TCPV4: number
  readonly VIRTIO_NET_HDR_GSO_UDP: number
  readonly VIRTIO_NET_HDR_GSO_TCPV6: number
  readonly VIRTIO_NET_HDR_GSO_UDP_L4: number
  readonly VIRTIO_NET_HDR_GSO_ECN: number
  readonly SOL_SOCKET: number
  readonly SO_RCVBUF: number
  readonly SO_SNDBUF: number
  readonly SO_RCVBUFFORCE: number
  readonly SO_SNDBUFFORCE: number
  readonly IPPROTO_IP: number
  readonly IPPROTO_IPV6: number
  readonly IPPROTO_GRE: number
  readonly IP_PKTINFO: number
  readonly IP_TTL: number
  readonly IP_TOS: number
  readonly IP_MTU_DISCOVER: number
  readonly IP_PMTUDISC_DONT: number
  readonly IP_PMTUDISC_WANT: number
  readonly IP_PMTUDISC_DO: number
  readonly IPV6_RECVPKTINFO: number
  readonly IPV6_UNICAST_HOPS: number
  readonly IPV6_TCLASS: number
  readonly IPV6_MTU_DISCOVER: number
  readonly IPV6_PMTUDISC_DONT: number
  readonly IPV6_PMTUDISC_WANT: number
  readonly IPV6_PMTUDISC_DO: number
  /** startReader mode: one read() per frame (a TAP). */
  readonly READER_READ: number
  /** startReader mode: one recvmmsg() per wakeup, with addresses (a raw socket). */
  readonly READER_RECVMMSG: number
  /** Bytes per slot in a recvmmsg reader's address array: source at +0, destination at +16. */
  readonly READER_ADDR_STRIDE: number
}

/**
 * Called once per reader wakeup: `count` packets are in slots 0..count-1 (offsets/lengths filled
 * in); `err` is 0, or a negative errno that stopped the drain after those packets. It is called
 * outside the event loop's callback bookkeeping: return false when it did only synchronous work;
 * anything else makes the reader run the nextTick and microtask queues right after it.
 */
export type ReaderCallback = (count: number, err: number) => boolean | void

/** The addon's exports, exactly as native/src/*.cc define them. */
export interface NativeAddon {
  /** TUNSETIFF with IFF_TAP|IFF_NO_PI (+IFF_VNET_HDR, +IFF_MULTI_QUEUE); fd is O_NONBLOCK|O_CLOEXEC. */
  tapOpen(name: string, vnetHdr: boolean, multiQueue: boolean): {fd: number; name: string}
  tapSetOffload(fd: number, flags: number): void
  tapSetVnetHdrSize(fd: number, bytes: number): void
  tapSetPersist(fd: number, persist: number): void
  /** Link ioctls on the interface of that name in this process's network namespace. */
  linkSetUp(name: string, up: boolean): void
  linkSetMtu(name: string, mtu: number): void
  linkSetMac(name: string, mac: Uint8Array): void
  /** socket(AF_INET|AF_INET6, SOCK_RAW|SOCK_NONBLOCK|SOCK_CLOEXEC, IPPROTO_GRE). */
  rawOpen(family: Family): number
  rawBind(fd: number, family: Family, address: Uint8Array): void
  setsockoptInt(fd: number, level: number, name: number, value: number): void
  /**
   * One write() per packet from `first`; returns packets written (short at EAGAIN), or -errno if
   * packet `first` itself failed.
   */
  writeBatch(
    fd: number,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    first: number,
    count: number,
  ): number
  /** sendmmsg to 16-byte destinations per packet index; returns like writeBatch. */
  sendBatch(
    fd: number,
    family: Family,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    destinations: Uint8Array,
    first: number,
    count: number,
  ): number
  /** socket(AF_INET|AF_INET6, SOCK_RAW|SOCK_NONBLOCK|SOCK_CLOEXEC, IPPROTO_RAW): whole IP packets out (physical.cc). */
  ipRawOpen(family: Family): number
  /** AF_PACKET SOCK_DGRAM of every protocol bound to the interface, outgoing frames ignored (physical.cc). */
  packetOpen(ifindex: number): number
  /** One frame with that destination MAC and EtherType on the interface; bytes sent or -errno. */
  packetSend(fd: number, ifindex: number, etherType: number, mac: Uint8Array, buffer: Uint8Array, off: number, len: number): number
  /** 0 or -errno. Stop the fd's reader first. */
  close(fd: number): number
  /** Loads struct bpf_insn bytes as a SCHED_CLS program and links it to the interface's tcx ingress (bpf.cc). */
  bpfTcxAttach?(insns: Uint8Array, ifname: string): {progFd: number; linkFd: number; ifindex: number}
  /** BPF_MAP_CREATE of an array with u32 keys; returns its fd (bpf.cc). */
  bpfArrayCreate?(valueSize: number, entries: number): number
  /** BPF_MAP_LOOKUP_ELEM of `index` into `out`; 0 or -errno. */
  bpfArrayRead?(fd: number, index: number, out: Uint8Array): number
  /** uv_poll reader into slot i at i*slotSize+headroom; returns a reader id. */
  startReader(
    fd: number,
    mode: number,
    buffer: Uint8Array,
    slotSize: number,
    slotCount: number,
    headroom: number,
    offsets: Uint32Array,
    lengths: Uint32Array,
    addrs: Uint8Array | null,
    callback: ReaderCallback,
  ): number
  /** Stops and uv_close()s the reader; true if it was running. Safe inside its own callback. */
  stopReader(id: number): boolean
  /**
   * memmove of `src[from, to)` to `dst` at `at`, allocating nothing: offload.ts's Memcpy (segment
   * payloads, coalesced super-frames). Throws RangeError outside either array.
   */
  copy(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void
  /** RFC 1071 sum of the big-endian words of `buf[from, to)`, folded, not complemented (offload.ts's Checksum). */
  sum16(buf: Uint8Array, from: number, to: number): number
  readonly constants: NativeConstants
}

/** A failed syscall: `code` is the errno name ("EPERM"), `errno` negative as in Node's own errors. */
export class NativeError extends Error {
  constructor(
    readonly code: string,
    readonly errno: number,
    readonly syscall: string,
    context: string,
  ) {
    super(`${context}: ${syscall} failed: ${code} (${describeErrno(code)})`)
    this.name = 'NativeError'
  }
}

/** The addon could not be loaded (not built, or not Linux). */
export class NativeUnavailableError extends Error {
  constructor(readonly path: string, cause: unknown) {
    super(`the hnv native addon is not available at ${path} (build: node-gyp rebuild -C native): ${String(cause)}`)
    this.name = 'NativeUnavailableError'
  }
}

/** Where node-gyp puts the addon, relative to this file in src/lib/engine/io and in dist/lib/engine/io alike. */
export const ADDON_PATH = fileURLToPath(new URL('../../../../native/build/Release/hnv_native.node', import.meta.url))

let loaded: NativeAddon | undefined
let loadError: NativeUnavailableError | undefined

/** The addon, loaded on first use so that importing io/ never fails on a machine without it. */
export function native(): NativeAddon {
  if (loaded) return loaded
  if (loadError) throw loadError
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH) as NativeAddon
    return loaded
  } catch (error) {
    loadError = new NativeUnavailableError(ADDON_PATH, error)
    throw loadError
  }
}

/** The addon's allocation-free checksum, for offload.ts (Checksum), or undefined with an older build. */
export function nativeChecksum(): ((buf: Uint8Array, from: number, to: number) => number) | undefined {
  const addon = native()
  return typeof addon.sum16 === 'function' ? addon.sum16 : undefined
}

/** The addon's allocation-free copy, for offload.ts (Memcpy), or undefined with an older build. */
export function nativeMemcpy(): ((src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number) => void) | undefined {
  const addon = native()
  return typeof addon.copy === 'function' ? addon.copy : undefined
}

export function nativeAvailable(): boolean {
  try {
    native()
    return true
  } catch {
    return false
  }
}

const errnoNames: string[] = []
for (const [name, value] of Object.entries(osConstants.errno)) errnoNames[value] ??= name

/** "EAGAIN" for -11 or 11; "E<n>" for numbers Node does not name. */
export function errnoName(errno: number): string {
  return errnoNames[Math.abs(errno)] ?? `E${Math.abs(errno)}`
}

const errnoText: Record<string, string> = {
  EPERM: 'operation not permitted: needs CAP_NET_ADMIN (TAP, link) or CAP_NET_RAW (raw socket)',
  EACCES: 'permission denied',
  EBUSY: 'device or resource busy: the TAP exists and is in use, or flags differ',
  EINVAL: 'invalid argument',
  ENODEV: 'no such device',
  ENOENT: 'no such file or directory',
  EADDRNOTAVAIL: 'address not available: not assigned to an interface in this namespace',
  EMSGSIZE: 'message too long for the path MTU',
  ENOBUFS: 'no buffer space available',
  EAGAIN: 'resource temporarily unavailable',
  EBADF: 'bad file descriptor',
  EBADFD: 'file descriptor in bad state: the TAP device was deleted',
  ENETUNREACH: 'network is unreachable',
  EHOSTUNREACH: 'no route to host',
}

function describeErrno(code: string): string {
  return errnoText[code] ?? 'see errno(3)'
}

/** A NativeError for a negative errno returned by a hot-path call. */
export function errnoError(errno: number, syscall: string, context: string): NativeError {
  return new NativeError(errnoName(errno), -Math.abs(errno), syscall, context)
}

/** Runs a throwing setup call; an addon Error becomes a NativeError that says what we were doing. */
export function setup<T>(context: string, call: () => T): T {
  try {
    return call()
  } catch (error) {
    if (error instanceof Error && typeof (error as {syscall?: unknown}).syscall === 'string') {
      const {code, errno, syscall} = error as Error & {code: string; errno: number; syscall: string}
      throw new NativeError(code, errno, syscall, context)
    }
    throw error
  }
}
