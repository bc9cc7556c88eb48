// The compiled form of a policy (OVN's southbound flows to northbound's objects): what the pipeline reads
// per packet, built by compile() and never changed afterwards; the engine swaps a whole new table in.
//
// Everything the hot path touches is a small integer index into typed-array columns, or a WordMap /
// prefix table lookup on numbers. Indices:
//  - domain: a routing domain (RDID of the customer routes), or an implicit one per VSID that has no
//    customer route (its CAs are still unique within it);
//  - vsid, route, record, gateway, pa, port: rows of the column groups below, in compile's sorted order.
// Each route, record, gateway and port row remembers its origin: the index of the policy row it came from
// in the document's section (OVN's stage-hint); the hot path never reads it. Neither does it read the
// texts (records' caText and vmName, routes' prefix and nextHopText, gateways' addressText): compile
// makes those arrays on first use, so a reload at 100k records does not make 100k strings (the values
// never change once the table is built).
import {IPV6_ADDR_LEN, ipv4ToString, ipv6ToString} from '../wire/address.js'
import type {Ipv4PrefixTable, Ipv6PrefixTable} from '../net/prefix-table.js'
import type {FloodLists} from './flood.js'
import type {WordMap} from './word-map.js'

/** Index value meaning "none" in every column and lookup. */
export const NONE = -1
/** Bytes per PA in ProviderAddresses.bytes: the 16-byte layout of UnderlayTxBatch.destinations. */
export const PA_STRIDE = 16

/** Lookup record types (reference §2 `Type`), in column form. */
export const RecordType = {STATIC: 0, DYNAMIC: 1, L2_ONLY: 2, GATEWAY_WILDCARD: 3} as const
export const RECORD_TYPE_NAMES: readonly string[] = ['Static', 'Dynamic', 'L2Only', 'GatewayWildcard']
/** Lookup record rules (reference §2 `Rule`). Only ENCAP is forwarded. */
export const Translation = {ENCAP: 0, NAT: 1, NONE: 2} as const
export const TRANSLATION_NAMES: readonly string[] = ['TranslationMethodEncap', 'TranslationMethodNat', 'TranslationMethodNone']

/** The policy document sections compiled entries point back to. */
export type OriginSection = 'LookupRecords' | 'CustomerRoutes' | 'VMNetworkAdapters' | 'ProviderAddresses'

export interface Domains {
  count: number
  /** The RDID (braced, lower case), or null for the implicit domain of a VSID without customer routes. */
  rdid: readonly (string | null)[]
  routes4: readonly Ipv4PrefixTable[]
  routes6: readonly Ipv6PrefixTable[]
  /** UseExternalRouter: the routes with a next hop only (empty while the setting is off). */
  external4: readonly Ipv4PrefixTable[]
  external6: readonly Ipv6PrefixTable[]
}

export interface Vsids {
  count: number
  /** VSID number of each index, ascending. */
  value: Uint32Array
  domain: Int32Array
  /** The VSID's first gateway of each family (lowest address), or NONE. */
  gateway4: Int32Array
  gateway6: Int32Array
  /**
   * The MAC the distributed router uses on this subnet, per family (index vsid * 2 + (IPv6 ? 1 : 0)):
   * the first gateway's MAC, else the generated one. Routed frames leave with it as source MAC.
   */
  routerMacHi: Uint32Array
  routerMacLo: Uint32Array
  /** VSID number -> index. */
  byValue: WordMap
}

export interface Routes {
  count: number
  domain: Int32Array
  /** The route's own VirtualSubnetID (as a vsid index). */
  vsid: Int32Array
  family: Uint8Array
  /** Canonical DestinationPrefix text. */
  prefix: readonly string[]
  /** DestinationPrefix's length. */
  length: Uint8Array
  /** 1 when NextHop is 0.0.0.0 / ::. */
  onLink: Uint8Array
  /** Four words per route; IPv4 in the first. */
  nextHop: Uint32Array
  nextHopText: readonly string[]
  metric: Uint32Array
  origin: Int32Array
}

export interface Records {
  count: number
  vsid: Int32Array
  domain: Int32Array
  family: Uint8Array
  /** Four words per record; IPv4 in the first. */
  ca: Uint32Array
  caText: readonly string[]
  macHi: Uint32Array
  macLo: Uint32Array
  pa: Int32Array
  /** RecordType. */
  type: Uint8Array
  /** Translation. */
  rule: Uint8Array
  /** The gateway whose address this record's CA is, or NONE. */
  gateway: Int32Array
  vmName: readonly (string | null)[]
  origin: Int32Array
  /** [domain, IPv4] -> record (Static and Dynamic records). */
  byCa4: WordMap
  /** [domain, w0, w1, w2, w3] -> record. */
  byCa6: WordMap
  /** [vsid, macHi, macLo] -> the first L2Only or GatewayWildcard record of that MAC. */
  wildcardByMac: WordMap
  /** [domain, PA] -> a GatewayWildcard record of that routing domain on that PA (its host may send any source). */
  gatewayByPa: WordMap
}

export interface Gateways {
  count: number
  vsid: Int32Array
  family: Uint8Array
  address: Uint32Array
  addressText: readonly string[]
  macHi: Uint32Array
  macLo: Uint32Array
  /** The lookup record that gave the MAC, or NONE when it is generated from the VSID. */
  record: Int32Array
  /** The on-link customer route it was derived from (its origin is that route's). */
  route: Int32Array
  /** [vsid, IPv4] -> gateway. */
  byAddress4: WordMap
  /** [vsid, w0, w1, w2, w3] -> gateway. */
  byAddress6: WordMap
  /** [vsid, macHi, macLo] -> gateway: frames to these MACs are routed. */
  byMac: WordMap
}

export interface ProviderAddresses {
  count: number
  family: Uint8Array
  /** PA_STRIDE bytes per PA, IPv4 in the first 4 (the layout of UnderlayTxBatch.destinations). */
  bytes: Uint8Array
  /** 1 for this host's PAs (the policy's ProviderAddresses). */
  local: Uint8Array
  text: readonly string[]
  /** [family, w0, w1, w2, w3] -> PA (IPv4: [4, address, 0, 0, 0]). */
  byAddress: WordMap
}

export interface Ports {
  count: number
  /** InterfaceName: the TAP the runtime opens. */
  name: readonly string[]
  vmName: readonly string[]
  adapter: readonly string[]
  /** 12 upper-case hex digits, as the policy writes it. */
  macText: readonly string[]
  macHi: Uint32Array
  macLo: Uint32Array
  /** VirtualSubnetId (0: not virtualized). */
  vsidValue: Uint32Array
  /** vsid index, or NONE for VirtualSubnetId 0. */
  vsid: Int32Array
  origin: Int32Array
  /** 1 when the adapter is marked -Dhcp. */
  dhcp: Uint8Array
  /** 1 when the adapter is marked -MssClamp. */
  mssClamp: Uint8Array
  /** The IPv4 Static/Dynamic record of the adapter's MAC in its VSID, for a -Dhcp adapter (else NONE). */
  dhcpRecord: Int32Array
  byName: ReadonlyMap<string, number>
  /** [vsid, macHi, macLo] -> port. */
  byMac: WordMap
}

export interface TableParts {
  revision: number
  /** Set-NetVirtualizationGlobal -UseExternalRouter: subnets reach each other through a router VM. */
  useExternalRouter: boolean
  domains: Domains
  vsids: Vsids
  routes: Routes
  records: Records
  gateways: Gateways
  pas: ProviderAddresses
  ports: Ports
  /** Per VSID: where copies of broadcast, multicast and L2Only ARP go (flood.ts). */
  flood: FloodLists
  /** The policy rows each section's origin indices point into (frozen copies), for explanations. */
  sources: Readonly<Record<OriginSection, readonly Readonly<Record<string, unknown>>[]>>
}

export class ForwardingTable implements TableParts {
  readonly revision: number
  readonly useExternalRouter: boolean
  readonly domains: Domains
  readonly vsids: Vsids
  readonly routes: Routes
  readonly records: Records
  readonly gateways: Gateways
  readonly pas: ProviderAddresses
  readonly ports: Ports
  readonly flood: FloodLists
  readonly sources: TableParts['sources']

  constructor(parts: TableParts) {
    this.revision = parts.revision
    this.useExternalRouter = parts.useExternalRouter
    this.domains = parts.domains
    this.vsids = parts.vsids
    this.routes = parts.routes
    this.records = parts.records
    this.gateways = parts.gateways
    this.pas = parts.pas
    this.ports = parts.ports
    this.flood = parts.flood
    this.sources = parts.sources
    Object.freeze(this)
  }

  // ---- per-packet lookups: numbers in, an index or NONE out, no allocation ----

  vsidIndex(vsid: number): number {
    return this.vsids.byValue.get1(vsid)
  }

  /** The Static/Dynamic record of an IPv4 CA in a domain (address as uint32 or its int32 bits). */
  record4(domain: number, address: number): number {
    return this.records.byCa4.get2(domain, address | 0)
  }

  /** The record of the IPv6 CA at `buf[off, off + 16)` in a domain. */
  record6(domain: number, buf: Uint8Array, off: number): number {
    return get16(this.records.byCa6, domain, buf, off)
  }

  /** The L2Only/GatewayWildcard record of a MAC in a VSID (its frames may carry any source IP). */
  wildcardRecord(vsid: number, macHi: number, macLo: number): number {
    return this.records.wildcardByMac.get3(vsid, macHi, macLo)
  }

  /** A GatewayWildcard record of routing domain `domain` whose PA is row `pa`, or NONE. */
  gatewayWildcardOfPa(domain: number, pa: number): number {
    return this.records.gatewayByPa.get2(domain, pa)
  }

  portByMac(vsid: number, macHi: number, macLo: number): number {
    return this.ports.byMac.get3(vsid, macHi, macLo)
  }

  gateway4(vsid: number, address: number): number {
    return this.gateways.byAddress4.get2(vsid, address | 0)
  }

  gateway6(vsid: number, buf: Uint8Array, off: number): number {
    return get16(this.gateways.byAddress6, vsid, buf, off)
  }

  gatewayByMac(vsid: number, macHi: number, macLo: number): number {
    return this.gateways.byMac.get3(vsid, macHi, macLo)
  }

  route4(domain: number, address: number): number {
    return this.domains.routes4[domain].lookup(address | 0)
  }

  route6(domain: number, buf: Uint8Array, off: number): number {
    return this.domains.routes6[domain].lookupBytes(buf, off)
  }

  /** UseExternalRouter: the best route with a next hop (the external router's) for an IPv4 address. */
  externalRoute4(domain: number, address: number): number {
    return this.domains.external4[domain].lookup(address | 0)
  }

  externalRoute6(domain: number, buf: Uint8Array, off: number): number {
    return this.domains.external6[domain].lookupBytes(buf, off)
  }

  /** The PA index of an IPv4 address (any PA the table knows: local or named by a record). */
  pa4(address: number): number {
    return this.pas.byAddress.get5(4, address | 0, 0, 0, 0)
  }

  pa6(buf: Uint8Array, off: number): number {
    return get16(this.pas.byAddress, 6, buf, off)
  }

  // ---- control path ----

  /** The port row of a TAP name, or NONE. */
  portIndex(name: string): number {
    return this.ports.byName.get(name) ?? NONE
  }

  /** This host's PAs, as text. */
  localProviderAddresses(): string[] {
    const {count, local, text} = this.pas
    const out: string[] = []
    for (let i = 0; i < count; i++) if (local[i] === 1) out.push(text[i])
    return out
  }

  /** The policy row an entry came from, PowerShell-style ("LookupRecord CustomerAddress 10.0.0.5, ..."). */
  explainOrigin(section: OriginSection, index: number): string {
    const row = this.sources[section][index]
    if (row === undefined) return section + '[' + index + '] (not in the policy)'
    const keys = ORIGIN_KEYS[section]
    return ORIGIN_NAMES[section] + ' ' + keys.map((k) => k + ' ' + String(row[k] ?? '')).join(', ')
  }

  /**
   * Stable text of the whole table, sorted (rows are kept in compile's sorted order), for tests and
   * `hnv engine dump`-style tools, in the manner of `ovn-sbctl dump-flows`.
   */
  dump(): string {
    const lines: string[] = ['table revision ' + this.revision]
    const {pas, domains, vsids, routes, records, gateways, ports} = this
    const vsidsOf = buckets(domains.count, vsids.count, vsids.domain)
    const gatewaysOf = buckets(vsids.count, gateways.count, gateways.vsid)
    const routesOf = buckets(domains.count, routes.count, routes.domain)
    const recordsOf = buckets(domains.count, records.count, records.domain)
    for (let p = 0; p < pas.count; p++) lines.push('provider-address ' + pas.text[p] + (pas.local[p] === 1 ? ' local' : ''))
    for (let d = 0; d < domains.count; d++) {
      lines.push('routing-domain ' + (domains.rdid[d] ?? '(implicit)'))
      for (const v of vsidsOf[d]) {
        lines.push('  vsid ' + vsids.value[v] + ' router-mac ipv4 ' + macText(vsids.routerMacHi[v * 2], vsids.routerMacLo[v * 2]) +
          ' ipv6 ' + macText(vsids.routerMacHi[v * 2 + 1], vsids.routerMacLo[v * 2 + 1]))
        for (const g of gatewaysOf[v]) {
          lines.push('    gateway ' + gateways.addressText[g] + ' mac ' + macText(gateways.macHi[g], gateways.macLo[g]) +
            (gateways.record[g] === NONE ? ' generated' : ' from-record') + '  <CustomerRoutes[' + routes.origin[gateways.route[g]] + ']>')
        }
      }
      for (const r of routesOf[d]) {
        lines.push('  route ' + routes.prefix[r] + ' via ' + (routes.onLink[r] === 1 ? 'on-link' : routes.nextHopText[r]) +
          ' metric ' + routes.metric[r] + ' vsid ' + vsids.value[routes.vsid[r]] + '  <CustomerRoutes[' + routes.origin[r] + ']>')
      }
      for (const r of recordsOf[d]) {
        const pa = records.pa[r]
        const vm = records.vmName[r]
        lines.push('  record ' + records.caText[r] + ' vsid ' + vsids.value[records.vsid[r]] + ' mac ' + macText(records.macHi[r], records.macLo[r]) +
          ' pa ' + pas.text[pa] + (pas.local[pa] === 1 ? ' (local)' : '') + ' ' + RECORD_TYPE_NAMES[records.type[r]] + ' ' +
          TRANSLATION_NAMES[records.rule[r]] + (records.gateway[r] === NONE ? '' : ' gateway') + (vm === null ? '' : ' vm ' + vm) +
          '  <LookupRecords[' + records.origin[r] + ']>')
      }
    }
    for (let p = 0; p < ports.count; p++) {
      lines.push('port ' + ports.name[p] + ' vsid ' + ports.vsidValue[p] + ' mac ' + ports.macText[p] + ' vm ' + ports.vmName[p] +
        ' adapter "' + ports.adapter[p] + '"' + (ports.vsid[p] === NONE ? ' not-virtualized' : '') + '  <VMNetworkAdapters[' + ports.origin[p] + ']>')
    }
    return lines.join('\n') + '\n'
  }
}

/** Row indices grouped by a column's value (rows keep their order within a group). */
function buckets(groups: number, rows: number, column: Int32Array): number[][] {
  const out: number[][] = Array.from({length: groups}, () => [])
  for (let r = 0; r < rows; r++) if (column[r] >= 0) out[column[r]].push(r)
  return out
}

const ORIGIN_NAMES: Record<OriginSection, string> = {
  LookupRecords: 'LookupRecord',
  CustomerRoutes: 'CustomerRoute',
  VMNetworkAdapters: 'VMNetworkAdapter',
  ProviderAddresses: 'ProviderAddress',
}

const ORIGIN_KEYS: Record<OriginSection, readonly string[]> = {
  LookupRecords: ['CustomerAddress', 'VirtualSubnetID', 'MACAddress', 'ProviderAddress', 'Rule', 'Type', 'VMName'],
  CustomerRoutes: ['RoutingDomainID', 'VirtualSubnetID', 'DestinationPrefix', 'NextHop', 'Metric'],
  VMNetworkAdapters: ['VMName', 'Name', 'MacAddress', 'VirtualSubnetId', 'InterfaceName'],
  ProviderAddresses: ['ProviderAddress', 'InterfaceIndex', 'PrefixLength'],
}

/** A five-word key: `first`, then the 16-byte address at `buf[off]`. */
function get16(map: WordMap, first: number, buf: Uint8Array, off: number): number {
  return map.get5(first, word(buf, off), word(buf, off + 4), word(buf, off + 8), word(buf, off + 12))
}

/** Four bytes as an int32 (the bits of the big-endian word; see word-map.ts). */
function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
}

/** 12 upper-case hex digits (the policy's MAC form) from hi16/lo32. */
export function macText(hi: number, lo: number): string {
  return (hi.toString(16).padStart(4, '0') + (lo >>> 0).toString(16).padStart(8, '0')).toUpperCase()
}

/** Text of an address held as four words (IPv4 in the first). */
export function addressText(family: number, words: Uint32Array, at: number): string {
  if (family === 4) return ipv4ToString(words[at])
  const b = new Uint8Array(IPV6_ADDR_LEN)
  for (let i = 0; i < 4; i++) {
    const w = words[at + i]
    b[i * 4] = w >>> 24
    b[i * 4 + 1] = w >>> 16
    b[i * 4 + 2] = w >>> 8
    b[i * 4 + 3] = w
  }
  return ipv6ToString(b, 0)
}
