// compile(policy, revision) -> ForwardingTable: the whole policy turned into the numeric structures the
// pipeline reads (DESIGN §2), as OVN's northd turns northbound rows into logical flows. Pure and
// deterministic: rows are sorted by value, not by document order, so the same policy gives the same table
// (and the same dump) whatever order its rows came in. A policy that cannot be compiled throws a
// PolicyError naming the row and the value; the engine then keeps its last good table.
//
// What is compiled (reference/hnv.md §1-§3):
//  - routing domains from the customer routes (a VSID belongs to one RDID); a VSID without customer
//    routes gets an implicit domain of its own, so its CAs are still found (ARP, anti-spoofing);
//  - customer routes into one IPv4 and one IPv6 prefix table per domain, equal prefixes ordered by metric;
//  - lookup records keyed by [domain, CA] (a CA is unique within a routing domain), and L2Only /
//    GatewayWildcard records by [VSID, MAC];
//  - the gateway of each on-link route (NextHop 0.0.0.0 / ::): the prefix's lowest host address, with the
//    MAC of the lookup record for that address, else 02:6E:76 followed by the 24-bit VSID;
//  - provider addresses (the store's ProviderAddresses are this host's; records name the others);
//  - local ports from VMNetworkAdapters (InterfaceName, MacAddress, VirtualSubnetId).
import {PolicyError} from '../cli/errors.js'
import {parseGuid} from '../net/guid.js'
import {parseIp, parsePrefix, type Family} from '../net/ip.js'
import {parseMac} from '../net/mac.js'
import {IPV6_ADDR_LEN} from '../wire/address.js'
import {Ipv4PrefixTable, Ipv6PrefixTable, type Ipv4PrefixEntry, type Ipv6PrefixEntry} from '../net/prefix-table.js'
import type {PolicyDocument} from '../policy/service.js'
import {
  ForwardingTable,
  NONE,
  PA_STRIDE,
  RECORD_TYPE_NAMES,
  RecordType,
  Translation,
  TRANSLATION_NAMES,
  type OriginSection,
} from './table.js'
import {WordMapBuilder} from './word-map.js'

/** reference/hnv.md §1: VSIDs 4096..16777214; 0 on an adapter means not virtualized. */
const VSID_MIN = 4096
const VSID_MAX = 16_777_214
const UINT32_MAX = 4_294_967_295
/** Windows' default route metric (the policy store's default too). */
const DEFAULT_METRIC = 256
/** Generated gateway MACs: locally administered 02:6E:76 ('nv'), then the 24-bit VSID. */
const GENERATED_MAC_HI = 0x026e
const GENERATED_MAC_LO_TOP = 0x76

type Row = Readonly<Record<string, unknown>>

interface Address {
  family: Family
  text: string
  /** Four words; IPv4 in the first. */
  words: [number, number, number, number]
}

interface RouteIn {
  origin: number
  rdid: string
  vsid: number
  prefix: Address
  length: number
  prefixText: string
  nextHop: Address
  onLink: boolean
  metric: number
}

interface RecordIn {
  origin: number
  ca: Address
  vsid: number
  macHi: number
  macLo: number
  mac: string
  pa: string
  type: number
  rule: number
  vmName: string | null
}

interface PortIn {
  origin: number
  name: string
  vmName: string
  adapter: string
  mac: string
  macHi: number
  macLo: number
  vsid: number
}

interface GatewayIn {
  vsid: number
  address: Address
  /** Sorted route index it came from. */
  route: number
}

export function compile(policy: PolicyDocument, revision: number): ForwardingTable {
  if (typeof policy !== 'object' || policy === null) throw new PolicyError('the policy to compile is not an object')
  const sources = {
    LookupRecords: section(policy, 'LookupRecords'),
    CustomerRoutes: section(policy, 'CustomerRoutes'),
    VMNetworkAdapters: section(policy, 'VMNetworkAdapters'),
    ProviderAddresses: section(policy, 'ProviderAddresses'),
  }
  const routesIn = sources.CustomerRoutes.map((row, i) => parseRoute(row, i))
  const recordsIn = sources.LookupRecords.map((row, i) => parseRecord(row, i))
  const portsIn = sources.VMNetworkAdapters.map((row, i) => parsePort(row, i))
  const localPas = sources.ProviderAddresses.map((row, i) => field(row, 'ProviderAddresses', i, 'ProviderAddress', (t) => parseAddress(t).text))

  // VSIDs and routing domains.
  const rdOfVsid = new Map<number, {rdid: string; origin: number}>()
  for (const r of routesIn) {
    const known = rdOfVsid.get(r.vsid)
    if (known === undefined) rdOfVsid.set(r.vsid, {rdid: r.rdid, origin: r.origin})
    else if (known.rdid !== r.rdid) {
      throw new PolicyError(`CustomerRoutes[${r.origin}]: VirtualSubnetID ${r.vsid} is in routing domain ${r.rdid}, but CustomerRoutes[${known.origin}] puts it in ${known.rdid}; a virtual subnet belongs to exactly one RoutingDomainID`)
    }
  }
  const vsidValues = [...new Set([...routesIn.map((r) => r.vsid), ...recordsIn.map((r) => r.vsid), ...portsIn.filter((p) => p.vsid !== 0).map((p) => p.vsid)])].sort((a, b) => a - b)
  const vsidIndex = new Map(vsidValues.map((v, i) => [v, i]))
  const rdids = [...new Set(routesIn.map((r) => r.rdid))].sort()
  const domainRdid: (string | null)[] = [...rdids]
  const domainOfRdid = new Map(rdids.map((rd, i) => [rd, i]))
  const vsidDomain = new Int32Array(vsidValues.length)
  vsidValues.forEach((v, i) => {
    const rd = rdOfVsid.get(v)
    if (rd !== undefined) vsidDomain[i] = domainOfRdid.get(rd.rdid)!
    else {
      vsidDomain[i] = domainRdid.length
      domainRdid.push(null)
    }
  })
  const domainCount = domainRdid.length

  // Provider addresses: this host's and every record's.
  const paTexts = [...new Set([...localPas, ...recordsIn.map((r) => r.pa)])].map(parseAddress).sort(compareAddress)
  const paIndex = new Map(paTexts.map((a, i) => [a.text, i]))
  const localSet = new Set(localPas)
  const paBytes = new Uint8Array(paTexts.length * PA_STRIDE)
  const paMap = new WordMapBuilder(5)
  paTexts.forEach((a, i) => {
    for (let w = 0; w < 4; w++) for (let b = 0; b < 4; b++) paBytes[i * PA_STRIDE + w * 4 + b] = a.words[w] >>> (24 - 8 * b)
    paMap.add([a.family, ...a.words], i)
  })

  // Customer routes, sorted; per-domain prefix tables (equal prefixes: lowest metric first).
  routesIn.sort((a, b) =>
    domainOfRdid.get(a.rdid)! - domainOfRdid.get(b.rdid)! || a.prefix.family - b.prefix.family || compareWords(a.prefix.words, b.prefix.words) ||
    a.length - b.length || a.metric - b.metric || a.vsid - b.vsid || compareAddress(a.nextHop, b.nextHop) || a.origin - b.origin,
  )
  const entries4: Ipv4PrefixEntry[][] = Array.from({length: domainCount}, () => [])
  const entries6: Ipv6PrefixEntry[][] = Array.from({length: domainCount}, () => [])
  routesIn.forEach((r, i) => {
    const d = domainOfRdid.get(r.rdid)!
    if (r.prefix.family === 4) entries4[d].push({address: r.prefix.words[0], length: r.length, value: i})
    else entries6[d].push({address: addressBytes(r.prefix), length: r.length, value: i})
  })
  const routes4 = entries4.map((e) => Ipv4PrefixTable.build(e))
  const routes6 = entries6.map((e) => Ipv6PrefixTable.build(e))

  // Gateways: the lowest host address of each on-link route, per VSID.
  const gatewaysIn: GatewayIn[] = []
  const gatewaySeen = new Set<string>()
  routesIn.forEach((r, i) => {
    if (!r.onLink) return
    const address = lowestHost(r.prefix, r.length)
    if (address === null) return
    const key = r.vsid + ' ' + address.text
    if (gatewaySeen.has(key)) return
    gatewaySeen.add(key)
    gatewaysIn.push({vsid: r.vsid, address, route: i})
  })
  gatewaysIn.sort((a, b) => a.vsid - b.vsid || compareAddress(a.address, b.address))

  // Lookup records, sorted; CA maps per domain.
  const domainOfVsid = (vsid: number): number => vsidDomain[vsidIndex.get(vsid)!]
  recordsIn.sort((a, b) =>
    domainOfVsid(a.vsid) - domainOfVsid(b.vsid) || compareAddress(a.ca, b.ca) || a.vsid - b.vsid || a.macHi - b.macHi || a.macLo - b.macLo || a.origin - b.origin,
  )
  const byCa4 = new WordMapBuilder(2)
  const byCa6 = new WordMapBuilder(5)
  const wildcardByMac = new WordMapBuilder(3)
  recordsIn.forEach((r, i) => {
    const vsid = vsidIndex.get(r.vsid)!
    if (r.type === RecordType.L2_ONLY || r.type === RecordType.GATEWAY_WILDCARD) {
      wildcardByMac.add([vsid, r.macHi, r.macLo], i)
      return
    }
    const domain = vsidDomain[vsid]
    const previous = r.ca.family === 4 ? byCa4.add([domain, r.ca.words[0]], i) : byCa6.add([domain, ...r.ca.words], i)
    if (previous !== NONE) {
      const other = recordsIn[previous]
      const where = domainRdid[domain] === null ? `VirtualSubnetID ${r.vsid}` : `routing domain ${domainRdid[domain]}`
      throw new PolicyError(`LookupRecords[${r.origin}]: CustomerAddress ${r.ca.text} (VirtualSubnetID ${r.vsid}, MACAddress ${r.mac}) is already LookupRecords[${other.origin}]'s (VirtualSubnetID ${other.vsid}, MACAddress ${other.mac}) in ${where}; a CA must be unique within a routing domain`)
    }
  })
  const byCa4Map = byCa4.build()
  const byCa6Map = byCa6.build()

  // Gateway MACs: the record of the gateway address when there is one, else generated.
  const gwCount = gatewaysIn.length
  const gwVsid = new Int32Array(gwCount)
  const gwFamily = new Uint8Array(gwCount)
  const gwAddress = new Uint32Array(gwCount * 4)
  const gwMacHi = new Uint32Array(gwCount)
  const gwMacLo = new Uint32Array(gwCount)
  const gwRecord = new Int32Array(gwCount).fill(NONE)
  const gwRoute = new Int32Array(gwCount)
  const recordGateway = new Int32Array(recordsIn.length).fill(NONE)
  const gwByAddress4 = new WordMapBuilder(2)
  const gwByAddress6 = new WordMapBuilder(5)
  const gwByMac = new WordMapBuilder(3)
  gatewaysIn.forEach((g, i) => {
    const v = vsidIndex.get(g.vsid)!
    const domain = vsidDomain[v]
    gwVsid[i] = v
    gwFamily[i] = g.address.family
    gwAddress.set(g.address.words, i * 4)
    gwRoute[i] = g.route
    const record = g.address.family === 4 ? byCa4Map.get2(domain, g.address.words[0]) : byCa6Map.get([domain, ...g.address.words])
    if (record !== NONE) {
      gwRecord[i] = record
      recordGateway[record] = i
      gwMacHi[i] = recordsIn[record].macHi
      gwMacLo[i] = recordsIn[record].macLo
    } else {
      gwMacHi[i] = GENERATED_MAC_HI
      gwMacLo[i] = generatedMacLo(g.vsid)
    }
    if (g.address.family === 4) gwByAddress4.add([v, g.address.words[0]], i)
    else gwByAddress6.add([v, ...g.address.words], i)
    gwByMac.add([v, gwMacHi[i], gwMacLo[i]], i)
  })

  // Per-VSID router MAC and first gateway per family.
  const vsidCount = vsidValues.length
  const vsidGateway4 = new Int32Array(vsidCount).fill(NONE)
  const vsidGateway6 = new Int32Array(vsidCount).fill(NONE)
  const routerMacHi = new Uint32Array(vsidCount * 2)
  const routerMacLo = new Uint32Array(vsidCount * 2)
  const vsidByValue = new WordMapBuilder(1)
  vsidValues.forEach((value, v) => {
    vsidByValue.add([value], v)
    for (let f = 0; f < 2; f++) {
      routerMacHi[v * 2 + f] = GENERATED_MAC_HI
      routerMacLo[v * 2 + f] = generatedMacLo(value)
    }
  })
  // Gateways are sorted by VSID then address: the first of each family is the lowest.
  for (let g = gwCount - 1; g >= 0; g--) {
    const v = gwVsid[g]
    const f = gwFamily[g] === 4 ? 0 : 1
    ;(f === 0 ? vsidGateway4 : vsidGateway6)[v] = g
    routerMacHi[v * 2 + f] = gwMacHi[g]
    routerMacLo[v * 2 + f] = gwMacLo[g]
  }

  // Ports.
  portsIn.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.origin - b.origin))
  const portByName = new Map<string, number>()
  const portByMac = new WordMapBuilder(3)
  const portVsid = new Int32Array(portsIn.length).fill(NONE)
  portsIn.forEach((p, i) => {
    const named = portByName.get(p.name)
    if (named !== undefined) {
      throw new PolicyError(`VMNetworkAdapters[${p.origin}]: InterfaceName ${p.name} is already VMNetworkAdapters[${portsIn[named].origin}]'s (VM ${portsIn[named].vmName}); each adapter needs its own interface`)
    }
    portByName.set(p.name, i)
    if (p.vsid === 0) return
    const v = vsidIndex.get(p.vsid)!
    portVsid[i] = v
    const previous = portByMac.add([v, p.macHi, p.macLo], i)
    if (previous !== NONE) {
      throw new PolicyError(`VMNetworkAdapters[${p.origin}]: MacAddress ${p.mac} in VirtualSubnetId ${p.vsid} is already adapter ${portsIn[previous].name}'s; frames could not be delivered to one port`)
    }
  })

  const recordCount = recordsIn.length
  const routeCount = routesIn.length
  return new ForwardingTable({
    revision,
    domains: {count: domainCount, rdid: domainRdid, routes4, routes6},
    vsids: {
      count: vsidCount,
      value: Uint32Array.from(vsidValues),
      domain: vsidDomain,
      gateway4: vsidGateway4,
      gateway6: vsidGateway6,
      routerMacHi,
      routerMacLo,
      byValue: vsidByValue.build(),
    },
    routes: {
      count: routeCount,
      domain: Int32Array.from(routesIn, (r) => domainOfRdid.get(r.rdid)!),
      vsid: Int32Array.from(routesIn, (r) => vsidIndex.get(r.vsid)!),
      family: Uint8Array.from(routesIn, (r) => r.prefix.family),
      prefix: routesIn.map((r) => r.prefixText),
      onLink: Uint8Array.from(routesIn, (r) => (r.onLink ? 1 : 0)),
      nextHop: Uint32Array.from(routesIn.flatMap((r) => r.nextHop.words)),
      nextHopText: routesIn.map((r) => r.nextHop.text),
      metric: Uint32Array.from(routesIn, (r) => r.metric),
      origin: Int32Array.from(routesIn, (r) => r.origin),
    },
    records: {
      count: recordCount,
      vsid: Int32Array.from(recordsIn, (r) => vsidIndex.get(r.vsid)!),
      domain: Int32Array.from(recordsIn, (r) => domainOfVsid(r.vsid)),
      family: Uint8Array.from(recordsIn, (r) => r.ca.family),
      ca: wordColumn(recordsIn.map((r) => r.ca)),
      caText: recordsIn.map((r) => r.ca.text),
      macHi: Uint32Array.from(recordsIn, (r) => r.macHi),
      macLo: Uint32Array.from(recordsIn, (r) => r.macLo),
      pa: Int32Array.from(recordsIn, (r) => paIndex.get(r.pa)!),
      type: Uint8Array.from(recordsIn, (r) => r.type),
      rule: Uint8Array.from(recordsIn, (r) => r.rule),
      gateway: recordGateway,
      vmName: recordsIn.map((r) => r.vmName),
      origin: Int32Array.from(recordsIn, (r) => r.origin),
      byCa4: byCa4Map,
      byCa6: byCa6Map,
      wildcardByMac: wildcardByMac.build(),
    },
    gateways: {
      count: gwCount,
      vsid: gwVsid,
      family: gwFamily,
      address: gwAddress,
      addressText: gatewaysIn.map((g) => g.address.text),
      macHi: gwMacHi,
      macLo: gwMacLo,
      record: gwRecord,
      route: gwRoute,
      byAddress4: gwByAddress4.build(),
      byAddress6: gwByAddress6.build(),
      byMac: gwByMac.build(),
    },
    pas: {
      count: paTexts.length,
      family: Uint8Array.from(paTexts, (a) => a.family),
      bytes: paBytes,
      local: Uint8Array.from(paTexts, (a) => (localSet.has(a.text) ? 1 : 0)),
      text: paTexts.map((a) => a.text),
      byAddress: paMap.build(),
    },
    ports: {
      count: portsIn.length,
      name: portsIn.map((p) => p.name),
      vmName: portsIn.map((p) => p.vmName),
      adapter: portsIn.map((p) => p.adapter),
      macText: portsIn.map((p) => p.mac),
      macHi: Uint32Array.from(portsIn, (p) => p.macHi),
      macLo: Uint32Array.from(portsIn, (p) => p.macLo),
      vsidValue: Uint32Array.from(portsIn, (p) => p.vsid),
      vsid: portVsid,
      origin: Int32Array.from(portsIn, (p) => p.origin),
      byName: portByName,
      byMac: portByMac.build(),
    },
    sources,
  })
}

/** The locally administered MAC of a VSID's gateway when no lookup record names one (low 32 bits). */
export function generatedMacLo(vsid: number): number {
  return ((GENERATED_MAC_LO_TOP << 24) | (vsid & 0xffffff)) >>> 0
}

// ---- reading the document ----

function section(policy: PolicyDocument, name: OriginSection): readonly Row[] {
  const rows = policy[name]
  if (rows === undefined || rows === null) return []
  if (!Array.isArray(rows)) throw new PolicyError(`${name} must be a list of objects`)
  rows.forEach((row, i) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new PolicyError(`${name}[${i}] is not an object`)
  })
  return rows as Row[]
}

/** Reads one property through `parse`, turning any failure into "Section[i]: Property 'value' ...". */
function field<T>(row: Row, name: OriginSection, index: number, property: string, parse: (text: string) => T, fallback?: T): T {
  const raw = row[property]
  if (raw === undefined || raw === null || raw === '') {
    if (fallback !== undefined) return fallback
    throw new PolicyError(`${name}[${index}]: ${property} is missing`)
  }
  try {
    return parse(String(raw).trim())
  } catch (error) {
    throw new PolicyError(`${name}[${index}]: ${property} '${String(raw)}' is not valid: ${(error as Error).message}`)
  }
}

function uint(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`use a whole number from ${min} to ${max}`)
    return Number(text)
  }
}

function oneOf(names: readonly string[]): (text: string) => number {
  return (text) => {
    const i = names.indexOf(text)
    if (i < 0) throw new Error(`use one of ${names.join(', ')}`)
    return i
  }
}

function parseRoute(row: Row, i: number): RouteIn {
  const s = 'CustomerRoutes'
  const prefix = field(row, s, i, 'DestinationPrefix', parsePrefix)
  const nextHop = field(row, s, i, 'NextHop', parseAddress)
  if (nextHop.family !== prefix.family) {
    throw new PolicyError(`${s}[${i}]: NextHop ${nextHop.text} is IPv${nextHop.family} but DestinationPrefix ${prefix.text} is IPv${prefix.family}`)
  }
  return {
    origin: i,
    rdid: field(row, s, i, 'RoutingDomainID', parseGuid),
    vsid: field(row, s, i, 'VirtualSubnetID', uint(VSID_MIN, VSID_MAX)),
    prefix: parseAddress(prefix.address),
    length: prefix.length,
    prefixText: prefix.text,
    nextHop,
    onLink: nextHop.words.every((w) => w === 0),
    metric: field(row, s, i, 'Metric', uint(0, UINT32_MAX), DEFAULT_METRIC),
  }
}

function parseRecord(row: Row, i: number): RecordIn {
  const s = 'LookupRecords'
  const ca = field(row, s, i, 'CustomerAddress', parseAddress)
  const wildcard = ca.words.every((w) => w === 0)
  const type = field(row, s, i, 'Type', oneOf(RECORD_TYPE_NAMES), wildcard ? RecordType.GATEWAY_WILDCARD : RecordType.STATIC)
  const typeName = RECORD_TYPE_NAMES[type]
  if (wildcard !== (type === RecordType.L2_ONLY || type === RecordType.GATEWAY_WILDCARD)) {
    throw new PolicyError(wildcard
      ? `${s}[${i}]: CustomerAddress ${ca.text} is only valid with Type L2Only or GatewayWildcard, not ${typeName}`
      : `${s}[${i}]: Type ${typeName} needs CustomerAddress 0.0.0.0 or ::, not ${ca.text}`)
  }
  const mac = field(row, s, i, 'MACAddress', parseMac)
  const vmName = row.VMName
  return {
    origin: i,
    ca,
    vsid: field(row, s, i, 'VirtualSubnetID', uint(VSID_MIN, VSID_MAX)),
    mac,
    macHi: parseInt(mac.slice(0, 4), 16),
    macLo: parseInt(mac.slice(4), 16),
    pa: field(row, s, i, 'ProviderAddress', (t) => parseAddress(t).text),
    type,
    rule: field(row, s, i, 'Rule', oneOf(TRANSLATION_NAMES)),
    vmName: typeof vmName === 'string' && vmName !== '' ? vmName : null,
  }
}

function parsePort(row: Row, i: number): PortIn {
  const s = 'VMNetworkAdapters'
  const mac = field(row, s, i, 'MacAddress', parseMac)
  const vsid = field(row, s, i, 'VirtualSubnetId', uint(0, VSID_MAX), 0)
  if (vsid !== 0 && vsid < VSID_MIN) throw new PolicyError(`${s}[${i}]: VirtualSubnetId ${vsid} is reserved for VLANs; use 0 or ${VSID_MIN}..${VSID_MAX}`)
  return {
    origin: i,
    name: field(row, s, i, 'InterfaceName', (t) => t),
    vmName: field(row, s, i, 'VMName', (t) => t),
    adapter: field(row, s, i, 'Name', (t) => t, 'Network Adapter'),
    mac,
    macHi: parseInt(mac.slice(0, 4), 16),
    macLo: parseInt(mac.slice(4), 16),
    vsid,
  }
}

// ---- addresses as words ----

const addressCache = new Map<string, Address>()

function parseAddress(text: string): Address {
  const cached = addressCache.get(text)
  if (cached !== undefined) return cached
  const ip = parseIp(text)
  const b = ip.bytes
  const words: [number, number, number, number] = [0, 0, 0, 0]
  for (let w = 0; w < b.length / 4; w++) words[w] = ((b[w * 4] << 24) | (b[w * 4 + 1] << 16) | (b[w * 4 + 2] << 8) | b[w * 4 + 3]) >>> 0
  const address: Address = {family: ip.family, text: ip.text, words}
  if (addressCache.size > 100_000) addressCache.clear()
  addressCache.set(text, address)
  return address
}

function compareWords(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

function compareAddress(a: Address, b: Address): number {
  return a.family - b.family || compareWords(a.words, b.words)
}

function addressBytes(a: Address): Uint8Array {
  const out = new Uint8Array(IPV6_ADDR_LEN)
  for (let i = 0; i < IPV6_ADDR_LEN; i++) out[i] = a.words[i >> 2] >>> (24 - 8 * (i & 3))
  return out
}

function wordColumn(addresses: Address[]): Uint32Array {
  const out = new Uint32Array(addresses.length * 4)
  addresses.forEach((a, i) => out.set(a.words, i * 4))
  return out
}

/** network + 1, or null when the prefix has no host addresses beside it (IPv4 /31, /32; IPv6 /127, /128). */
function lowestHost(network: Address, length: number): Address | null {
  const bits = network.family === 4 ? 32 : 128
  if (length > bits - 2) return null
  const words: [number, number, number, number] = [...network.words]
  // The host part is at least 2 bits wide, so the last word's low bit is free.
  const last = network.family === 4 ? 0 : 3
  words[last] = (words[last] + 1) >>> 0
  const text = network.family === 4 ? wordsToV4(words[0]) : wordsToV6(words)
  return {family: network.family, text, words}
}

function wordsToV4(w: number): string {
  return (w >>> 24) + '.' + ((w >>> 16) & 255) + '.' + ((w >>> 8) & 255) + '.' + (w & 255)
}

function wordsToV6(words: readonly number[]): string {
  const groups: string[] = []
  for (const w of words) groups.push((w >>> 16).toString(16), (w & 0xffff).toString(16))
  return parseIp(groups.join(':')).text
}
