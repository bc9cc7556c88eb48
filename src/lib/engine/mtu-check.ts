// `hnv mtu check`: for each pair of a local provider address and a PA the lookup records name, the VM MTU
// that NVGRE leaves (the physical MTU minus 42 over IPv4, 62 over IPv6: reference/hnv.md §4), the path MTU
// found by DF pings between the PAs (`ping -M do`, a binary search when the link MTU does not pass), and
// what to change when the VMs' MTU is above it. Control path only: it runs ping, never touches packets.
import {execFile} from 'node:child_process'
import {controlRequest} from '../control/client.js'
import {controlSocketPath, type RuntimeStatus} from '../control/protocol.js'
import {type Family, parseIp} from '../net/ip.js'
import {lookupRecord, providerAddress} from '../policy/kinds.js'
import {PolicyService} from '../policy/service.js'
import {defaultStorePath, type PolicyStore} from '../policy/store.js'
import {overlayOverhead, resolveProviderAddresses, type LocalAddress, type StoreProviderAddress} from './runtime/host.js'

/** One row of the check (PowerShell-style property names, the order of the table). */
export interface MtuCheckRow {
  LocalProviderAddress: string
  RemoteProviderAddress: string
  Interface: string
  LinkMTU: number
  /** The largest packet that crossed with DF set; null without probing, or when the peer never answered. */
  PathMTU: number | null
  /** The VM MTU that fits: PathMTU (LinkMTU without probing) minus the NVGRE overhead. */
  VMMTU: number
  /** The TAPs' MTU: the running engine's, else what `hnv engine start` would pick. */
  TapMTU: number
  Status: string
}

export const MTU_CHECK_COLUMNS = ['LocalProviderAddress', 'RemoteProviderAddress', 'Interface', 'LinkMTU', 'PathMTU', 'VMMTU', 'TapMTU', 'Status']

/** Sends one DF probe of `size` bytes (IP header included) from `local` to `remote`; true when answered. */
export type Prober = (local: LocalAddress, remote: string, size: number) => Promise<boolean>

export interface MtuCheckOptions {
  /** Probe with DF pings (default true); without, the link MTU is taken as the path's. */
  probe?: boolean
  /** The running engine's TAP MTU, if one runs. */
  tapMtu?: number | null
  prober?: Prober
}

/** IP + ICMP echo headers a ping of `-s N` adds: the packet is N + this. */
const PING_OVERHEAD: Record<Family, number> = {4: 20 + 8, 6: 40 + 8}
/** The smallest MTU each family must carry (RFC 791, RFC 8200 §5): the search never goes below. */
const MIN_MTU: Record<Family, number> = {4: 576, 6: 1280}

export async function mtuCheck(store: PolicyStore, options: MtuCheckOptions = {}, local?: LocalAddress[]): Promise<MtuCheckRow[]> {
  const service = new PolicyService(store)
  const pas = service.get(providerAddress, {}).objects as unknown as StoreProviderAddress[]
  const locals = resolveProviderAddresses(pas, store.path === defaultStorePath() ? '' : ` --store ${store.path}`, local)
  const localTexts = new Set(locals.map((l) => l.address))
  const remotes = [...new Set(service.get(lookupRecord, {}).objects.map((r) => parseIp(String(r.ProviderAddress)).text))]
    .filter((pa) => !localTexts.has(pa) && !isLinkLocal(pa))
    .sort()
  const defaultTap = locals.length === 0 ? 1500 - overlayOverhead(4) : Math.min(...locals.map((l) => l.mtu - overlayOverhead(l.family)))
  const tapMtu = options.tapMtu ?? defaultTap
  const probe = options.probe ?? true
  const prober = options.prober ?? pingProbe
  const rows: MtuCheckRow[] = []
  for (const l of locals) {
    for (const remote of remotes) {
      if (parseIp(remote).family !== l.family) continue
      const pathMtu = probe ? await pathMtuOf(l, remote, prober) : l.mtu
      const vmMtu = (pathMtu ?? l.mtu) - overlayOverhead(l.family)
      rows.push({
        LocalProviderAddress: l.address,
        RemoteProviderAddress: remote,
        Interface: l.interfaceName,
        LinkMTU: l.mtu,
        PathMTU: probe ? pathMtu : null,
        VMMTU: vmMtu,
        TapMTU: tapMtu,
        Status: statusOf(l, remote, pathMtu, vmMtu, tapMtu),
      })
    }
  }
  return rows
}

function statusOf(l: LocalAddress, remote: string, pathMtu: number | null, vmMtu: number, tapMtu: number): string {
  if (pathMtu === null) return `unreachable: no answer to ping from ${l.address} to ${remote}; check the physical network and provider routes`
  const path = pathMtu < l.mtu ? `the path to ${remote} carries ${pathMtu} of the link's ${l.mtu} bytes; ` : ''
  if (tapMtu <= vmMtu) return path + 'ok'
  return (
    `${path}too big: the VMs' MTU ${tapMtu} is above ${vmMtu}; start the engine with --tap-mtu ${vmMtu} ` +
    `(or raise the physical MTU to ${tapMtu + overlayOverhead(l.family)}), or mark adapters --mss-clamp for TCP; ` +
    'until then larger DF packets get fragmentation-needed'
  )
}

/** The TAP MTU of the engine running for the store, or null when none answers. */
export async function runningTapMtu(storePath: string): Promise<number | null> {
  try {
    return ((await controlRequest(controlSocketPath(storePath), 'status', {timeoutMs: 2000})) as RuntimeStatus).tapMtu
  } catch {
    return null
  }
}

/** The largest DF packet that reaches `remote` (binary search below the link MTU), or null when none does. */
async function pathMtuOf(l: LocalAddress, remote: string, prober: Prober): Promise<number | null> {
  if (await prober(l, remote, l.mtu)) return l.mtu
  let good = MIN_MTU[l.family]
  if (!(await prober(l, remote, good))) return null
  let bad = l.mtu
  while (bad - good > 1) {
    const mid = (good + bad) >>> 1
    if (await prober(l, remote, mid)) good = mid
    else bad = mid
  }
  return good
}

/** One `ping -M do` of `size` bytes from the local PA; two tries, a second each. */
const pingProbe: Prober = (l, remote, size) =>
  new Promise((resolve) => {
    const args = ['-n', '-q', '-c', '2', '-i', '0.2', '-W', '1', '-M', 'do', '-I', l.address, '-s', String(size - PING_OVERHEAD[l.family]), remote]
    execFile('ping', args, (error, stdout) => resolve(error === null || /[1-9]\d* (?:packets )?received/.test(stdout)))
  })

function isLinkLocal(address: string): boolean {
  const parsed = parseIp(address)
  const b = parsed.bytes
  return parsed.family === 4 ? b[0] === 169 && b[1] === 254 : b[0] === 0xfe && (b[1] & 0xc0) === 0x80
}
