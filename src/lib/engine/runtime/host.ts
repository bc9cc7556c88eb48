// What the runtime needs to know about the host it runs on: whether it may create TAPs and raw
// sockets, and which interface carries each local provider address (with its MTU). Read from the
// kernel of the process's own network namespace (`ip -j addr`, netlink), never from /sys, which
// may belong to another namespace.
import {execFileSync} from 'node:child_process'
import {readFileSync} from 'node:fs'
import {EngineError} from '../../control/errors.js'
import {type Family, parseIp} from '../../net/ip.js'

/** capability(7) numbers. */
const CAP_NET_ADMIN = 12
const CAP_NET_RAW = 13

/** True when the process holds CAP_NET_ADMIN and CAP_NET_RAW (root has both unless a container took them). */
export function hasNetworkCapabilities(): boolean {
  try {
    const status = readFileSync('/proc/self/status', 'utf8')
    const effective = BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? '0'}`)
    return ((effective >> BigInt(CAP_NET_ADMIN)) & 1n) === 1n && ((effective >> BigInt(CAP_NET_RAW)) & 1n) === 1n
  } catch {
    return process.getuid?.() === 0
  }
}

/** Throws the one-line "needs root" error unless the process may create TAPs and raw sockets. */
export function requireNetworkCapabilities(what: string, why: string): void {
  if (!hasNetworkCapabilities()) {
    throw new EngineError(`${what} needs root (CAP_NET_ADMIN and CAP_NET_RAW: ${why}); run it as root (sudo hnv ${what})`)
  }
}

/** A provider address as found on this host. */
export interface LocalAddress {
  address: string
  family: Family
  /** Its 4 or 16 bytes, for binding. */
  bytes: Uint8Array
  interfaceName: string
  interfaceIndex: number
  /** The physical link MTU. */
  mtu: number
  prefixLength: number
}

interface IpAddrJson {
  ifindex: number
  ifname: string
  mtu: number
  addr_info?: {family: string; local: string; prefixlen: number; tentative?: boolean; dadfailed?: boolean}[]
}

/** Every address of every interface in this namespace, from `ip -j addr show`. */
export function listLocalAddresses(): LocalAddress[] {
  let text: string
  try {
    text = execFileSync('ip', ['-j', 'addr', 'show'], {encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe']})
  } catch (error) {
    throw new EngineError(`cannot list this host's addresses with 'ip -j addr show' (is iproute2 installed?): ${(error as Error).message.split('\n')[0]}`)
  }
  const found: LocalAddress[] = []
  for (const link of JSON.parse(text) as IpAddrJson[]) {
    for (const info of link.addr_info ?? []) {
      if (info.family !== 'inet' && info.family !== 'inet6') continue
      if (info.tentative || info.dadfailed) continue
      const parsed = parseIp(info.local)
      found.push({
        address: parsed.text,
        family: parsed.family,
        bytes: Uint8Array.from(parsed.bytes),
        interfaceName: link.ifname,
        interfaceIndex: link.ifindex,
        mtu: link.mtu,
        prefixLength: info.prefixlen,
      })
    }
  }
  return found
}

/** A provider address as the store holds it. */
export interface StoreProviderAddress {
  ProviderAddress: string
  PrefixLength: number
}

/**
 * The interfaces of the provider addresses: each must be assigned here. The error names the missing one
 * and both ways out (`storeFlag` is the --store the fix needs, '' for the default store).
 */
export function resolveProviderAddresses(addresses: readonly StoreProviderAddress[], storeFlag = '', local = listLocalAddresses()): LocalAddress[] {
  return addresses.map(({ProviderAddress, PrefixLength}) => {
    const wanted = parseIp(ProviderAddress).text
    const match = local.find((candidate) => candidate.address === wanted)
    if (!match) {
      throw new EngineError(
        `provider address ${wanted} is not assigned to any interface of this host (ip addr shows none): ` +
          `add it (ip addr add ${wanted}/${PrefixLength} dev <interface>) or remove it from the store (hnv provider-address remove${storeFlag} --provider-address ${wanted})`,
      )
    }
    return match
  })
}

/** NVGRE's overhead on the physical MTU (reference/hnv.md §4): outer IP + GRE with key + inner Ethernet. */
export function overlayOverhead(family: Family): number {
  return family === 4 ? 20 + 8 + 14 : 40 + 8 + 14
}

/** What a TAP's MTU is with no provider address to go by: a 1500-byte physical network over IPv4. */
export const FALLBACK_PHYSICAL_MTU = 1500
