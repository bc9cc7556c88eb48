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
//
// In two steps, so that the engine can feed the second one straight from the store (policy-source.ts)
// without building 100k objects first:
//  1. rows -> PolicyColumns: each row's values parsed into typed-array columns, in document order (a row's
//     index is its origin). `compile` does it from a document with the parsers below; the store reader
//     does it from SQLite's text with fast parsers for the canonical forms, and these for the rest.
//  2. compileColumns(): every rule between rows (routing domains, sorting, duplicates, gateways, maps),
//     once, on numbers: no per-row objects, closures or strings beyond the texts the table keeps.
import {PolicyError} from '../cli/errors.js'
import {parseGuid} from '../net/guid.js'
import {parseIp, parsePrefix} from '../net/ip.js'
import {parseMac} from '../net/mac.js'
import {IPV6_ADDR_LEN} from '../wire/address.js'
import {Ipv4PrefixTable, Ipv6PrefixTable, type Ipv4PrefixEntry, type Ipv6PrefixEntry} from '../net/prefix-table.js'
import type {PolicyDocument} from '../policy/service.js'
import {
  ForwardingTable,
  macText,
  NONE,
  PA_STRIDE,
  RECORD_TYPE_NAMES,
  RecordType,
  TRANSLATION_NAMES,
  type OriginSection,
  type TableParts,
} from './table.js'
import {ipv4Text, PolicyColumns, RecordColumns, RouteColumns, TextList, type Address, type AddressList, type PortIn} from './columns.js'
import {WordMapBuilder} from './word-map.js'
import {buildFloodLists} from './flood.js'

/** reference/hnv.md §1: VSIDs 4096..16777214; 0 on an adapter means not virtualized. */
export const VSID_MIN = 4096
export const VSID_MAX = 16_777_214
export const UINT32_MAX = 4_294_967_295
/** Windows' default route metric (the policy store's default too). */
const DEFAULT_METRIC = 256
/** Generated gateway MACs: locally administered 02:6E:76 ('nv'), then the 24-bit VSID. */
const GENERATED_MAC_HI = 0x026e
const GENERATED_MAC_LO_TOP = 0x76
/** The Type of a record that does not give one: decided by its CA (recordType). */
const TYPE_NOT_GIVEN = -1

export type Row = Readonly<Record<string, unknown>>
export type Sources = TableParts['sources']

export function compile(policy: PolicyDocument, revision: number): ForwardingTable {
  if (typeof policy !== 'object' || policy === null) throw new PolicyError('the policy to compile is not an object')
  const sources = {
    LookupRecords: section(policy, 'LookupRecords'),
    CustomerRoutes: section(policy, 'CustomerRoutes'),
    VMNetworkAdapters: section(policy, 'VMNetworkAdapters'),
    ProviderAddresses: section(policy, 'ProviderAddresses'),
  }
  const vmNames = new TextList()
  const columns = new PolicyColumns(new RecordColumns(sources.LookupRecords.length, vmNames), new RouteColumns(sources.CustomerRoutes.length))
  sources.CustomerRoutes.forEach((row, i) => parseRoute(row, i, columns.routes))
  sources.LookupRecords.forEach((row, i) => vmNames.set(i, parseRecord(row, i, columns.records, columns.pas)))
  parsePortsAndProviderAddresses(sources.VMNetworkAdapters, sources.ProviderAddresses, columns)
  columns.useExternalRouter = (policy.Global as {UseExternalRouter?: unknown} | undefined)?.UseExternalRouter === true
  return compileColumns(columns, revision, sources)
}

// ---- step 1 for documents (and the rows the store reader parses one by one: changed rows, IPv6 values) ----

function section(policy: PolicyDocument, name: OriginSection): readonly Row[] {
  const rows = policy[name]
  if (rows === undefined || rows === null) return []
  if (!Array.isArray(rows)) throw new PolicyError(`${name} must be a list of objects`)
  rows.forEach((row, i) => {
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw new PolicyError(`${name}[${i}] is not an object`)
  })
  return rows as Row[]
}

/** Reads one value through `parse`, turning any failure into "Section[i]: Property 'value' ...". */
export function fieldValue<T>(raw: unknown, name: OriginSection, index: number, property: string, parse: (text: string) => T, fallback?: T): T {
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

function field<T>(row: Row, name: OriginSection, index: number, property: string, parse: (text: string) => T, fallback?: T): T {
  return fieldValue(row[property], name, index, property, parse, fallback)
}

function uint(min: number, max: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new Error(`use a whole number from ${min} to ${max}`)
    return Number(text)
  }
}

const parseVsid = uint(VSID_MIN, VSID_MAX)
const parseMetric = uint(0, UINT32_MAX)
const parsePortVsid = uint(0, VSID_MAX)

function oneOf(names: readonly string[]): (text: string) => number {
  return (text) => {
    const i = names.indexOf(text)
    if (i < 0) throw new Error(`use one of ${names.join(', ')}`)
    return i
  }
}

const parseType = oneOf(RECORD_TYPE_NAMES)
const parseRule = oneOf(TRANSLATION_NAMES)

/** A MAC's upper 16 bits from its canonical text (parseMac's). */
function macHiOf(mac: string): number {
  return parseInt(mac.slice(0, 4), 16)
}

/** A MAC's lower 32 bits from its canonical text. */
function macLoOf(mac: string): number {
  return parseInt(mac.slice(4), 16)
}

/**
 * The Type of a record: as given (TYPE_NOT_GIVEN: GatewayWildcard for a wildcard CA 0.0.0.0 / ::, else
 * Static); a wildcard CA must be L2Only or GatewayWildcard and only it may be: NONE when it is not so.
 */
export function recordType(wildcard: boolean, given: number): number {
  const type = given !== TYPE_NOT_GIVEN ? given : wildcard ? RecordType.GATEWAY_WILDCARD : RecordType.STATIC
  return wildcard === (type === RecordType.L2_ONLY || type === RecordType.GATEWAY_WILDCARD) ? type : NONE
}

/** Why recordType() said NONE for LookupRecords[index]. */
function recordTypeError(index: number, wildcard: boolean, given: number, caText: string): PolicyError {
  const s = 'LookupRecords'
  const name = RECORD_TYPE_NAMES[given !== TYPE_NOT_GIVEN ? given : wildcard ? RecordType.GATEWAY_WILDCARD : RecordType.STATIC]
  return new PolicyError(wildcard
    ? `${s}[${index}]: CustomerAddress ${caText} is only valid with Type L2Only or GatewayWildcard, not ${name}`
    : `${s}[${index}]: Type ${name} needs CustomerAddress 0.0.0.0 or ::, not ${caText}`)
}

/** A route's NextHop must be of its DestinationPrefix's family. */
export function checkNextHopFamily(index: number, prefixFamily: number, prefixText: string, nextHop: Address): void {
  if (nextHop.family !== prefixFamily) {
    throw new PolicyError(`CustomerRoutes[${index}]: NextHop ${nextHop.text} is IPv${nextHop.family} but DestinationPrefix ${prefixText} is IPv${prefixFamily}`)
  }
}

/** The VMName a record keeps: null for none. */
function recordVmName(raw: unknown): string | null {
  return typeof raw === 'string' && raw !== '' ? raw : null
}

/** CustomerRoutes[i] (a document's object) into route i of the columns. */
export function parseRoute(row: Row, i: number, routes: RouteColumns): void {
  const s = 'CustomerRoutes'
  const prefix = field(row, s, i, 'DestinationPrefix', parsePrefix)
  const nextHop = field(row, s, i, 'NextHop', parseAddress)
  checkNextHopFamily(i, prefix.family, prefix.text, nextHop)
  const rdid = field(row, s, i, 'RoutingDomainID', parseGuid)
  const vsid = field(row, s, i, 'VirtualSubnetID', parseVsid)
  const p = parseAddress(prefix.address).words
  const n = nextHop.words
  const metric = field(row, s, i, 'Metric', parseMetric, DEFAULT_METRIC)
  routes.set(i, rdid, vsid, prefix.family, p[0], p[1], p[2], p[3], prefix.length, prefix.text, n[0], n[1], n[2], n[3], nextHop.text, metric)
}

/** LookupRecords[i] (a document's object) into record i of the columns; returns its VMName (null: none). */
export function parseRecord(row: Row, i: number, records: RecordColumns, pas: AddressList): string | null {
  const s = 'LookupRecords'
  const ca = field(row, s, i, 'CustomerAddress', parseAddress)
  const w = ca.words
  const given = field(row, s, i, 'Type', parseType, TYPE_NOT_GIVEN)
  const type = recordType(isZero(w), given)
  if (type === NONE) throw recordTypeError(i, isZero(w), given, ca.text)
  const mac = field(row, s, i, 'MACAddress', parseMac)
  const vsid = field(row, s, i, 'VirtualSubnetID', parseVsid)
  const pa = pas.add(field(row, s, i, 'ProviderAddress', parseAddress))
  const rule = field(row, s, i, 'Rule', parseRule)
  records.set(i, ca.family, w[0], w[1], w[2], w[3], ca.text, type, vsid, macHiOf(mac), macLoOf(mac), pa, rule)
  return recordVmName(row.VMName)
}

export function parsePortsAndProviderAddresses(adapters: readonly Row[], providerAddresses: readonly Row[], columns: PolicyColumns): void {
  adapters.forEach((row, i) => columns.ports.push(parsePort(row, i)))
  providerAddresses.forEach((row, i) => columns.localPas.push(columns.pas.add(field(row, 'ProviderAddresses', i, 'ProviderAddress', parseAddress))))
}

function parsePort(row: Row, i: number): PortIn {
  const s = 'VMNetworkAdapters'
  const mac = field(row, s, i, 'MacAddress', parseMac)
  const vsid = field(row, s, i, 'VirtualSubnetId', parsePortVsid, 0)
  if (vsid !== 0 && vsid < VSID_MIN) throw new PolicyError(`${s}[${i}]: VirtualSubnetId ${vsid} is reserved for VLANs; use 0 or ${VSID_MIN}..${VSID_MAX}`)
  return {
    origin: i,
    name: field(row, s, i, 'InterfaceName', (t) => t),
    vmName: field(row, s, i, 'VMName', (t) => t),
    adapter: field(row, s, i, 'Name', (t) => t, 'Network Adapter'),
    mac,
    macHi: macHiOf(mac),
    macLo: macLoOf(mac),
    vsid,
    dhcp: row.Dhcp === true || row.Dhcp === 1 || row.Dhcp === 'true' || row.Dhcp === 'True',
    mssClamp: row.MssClamp === true || row.MssClamp === 1 || row.MssClamp === 'true' || row.MssClamp === 'True',
  }
}

// ---- step 2: the rules between rows ----

const EMPTY_ROUTES4 = Ipv4PrefixTable.build([])
const EMPTY_ROUTES6 = Ipv6PrefixTable.build([])

/**
 * UseExternalRouter: per routing domain, the prefix tables of the routes that name a next hop (no on-link
 * route), where traffic for another subnet looks for its router. Built only when the setting is on.
 */
function externalRouteTables(columns: PolicyColumns, domainCount: number, routeDomain: Int32Array, routeOrder: ArrayLike<number>, routeOnLink: Uint8Array): {routes4: Ipv4PrefixTable[]; routes6: Ipv6PrefixTable[]} {
  const routes4: Ipv4PrefixTable[] = new Array<Ipv4PrefixTable>(domainCount).fill(EMPTY_ROUTES4)
  const routes6: Ipv6PrefixTable[] = new Array<Ipv6PrefixTable>(domainCount).fill(EMPTY_ROUTES6)
  if (!columns.useExternalRouter) return {routes4, routes6}
  const rt = columns.routes
  const entries4: Ipv4PrefixEntry[][] = Array.from({length: domainCount}, () => [])
  const entries6: Ipv6PrefixEntry[][] = Array.from({length: domainCount}, () => [])
  for (let i = 0; i < rt.count; i++) {
    if (routeOnLink[i] === 1) continue
    const from = routeOrder[i]
    const k = from * 4
    if (rt.family[from] === 4) entries4[routeDomain[i]].push({address: rt.prefix[k], length: rt.length[from], value: i})
    else entries6[routeDomain[i]].push({address: wordBytes(rt.prefix, k), length: rt.length[from], value: i})
  }
  for (let d = 0; d < domainCount; d++) {
    if (entries4[d].length > 0) routes4[d] = Ipv4PrefixTable.build(entries4[d])
    if (entries6[d].length > 0) routes6[d] = Ipv6PrefixTable.build(entries6[d])
  }
  return {routes4, routes6}
}

/** What compileColumns may take from the last compile: its table was compiled from `routes`. */
export interface PreviousCompile {
  routes: RouteColumns
  table: ForwardingTable
}

/**
 * The table of a policy in columns; `sources` are the rows the origins point into (table.ts). With
 * `previous`, parts that depend only on columns that are the very same objects are taken from its table.
 */
export function compileColumns(columns: PolicyColumns, revision: number, sources: Sources, previous?: PreviousCompile): ForwardingTable {
  const {records: rec, routes: rt, pas: paList} = columns
  const recordCount = rec.count
  const routeCount = rt.count

  // VSIDs and routing domains: a VSID's domain is the RDID of its first customer route.
  const firstRouteOfVsid = new Map<number, number>()
  for (let i = 0; i < routeCount; i++) {
    const vsid = rt.vsid[i]
    const known = firstRouteOfVsid.get(vsid)
    if (known === undefined) firstRouteOfVsid.set(vsid, i)
    else if (rt.rdid[known] !== rt.rdid[i]) {
      throw new PolicyError(`CustomerRoutes[${i}]: VirtualSubnetID ${vsid} is in routing domain ${rt.rdids.names[rt.rdid[i]]}, but CustomerRoutes[${known}] puts it in ${rt.rdids.names[rt.rdid[known]]}; a virtual subnet belongs to exactly one RoutingDomainID`)
    }
  }
  const vsidIndex = new Map<number, number>(firstRouteOfVsid)
  for (let i = 0, last = -1; i < recordCount; i++) {
    const vsid = rec.vsid[i]
    if (vsid !== last) vsidIndex.set((last = vsid), 0)
  }
  for (const p of columns.ports) if (p.vsid !== 0) vsidIndex.set(p.vsid, 0)
  const vsidValues = Uint32Array.from(vsidIndex.keys()).sort()
  const vsidCount = vsidValues.length
  for (let v = 0; v < vsidCount; v++) vsidIndex.set(vsidValues[v], v)

  // Routing domains: the RDIDs routes name, sorted (rt.rdids may hold some no route names any more).
  const rdidNames = rt.rdids.names
  const rdidUsed = new Uint8Array(rdidNames.length)
  for (let i = 0; i < routeCount; i++) rdidUsed[rt.rdid[i]] = 1
  const rdids = rdidNames.filter((_, i) => rdidUsed[i] === 1).sort()
  const domainRdid: (string | null)[] = [...rdids]
  /** rt.rdids index -> domain. */
  const domainOfRdid = new Int32Array(rdidNames.length).fill(NONE)
  const rdidPosition = new Map(rdidNames.map((rdid, i) => [rdid, i]))
  rdids.forEach((rdid, d) => (domainOfRdid[rdidPosition.get(rdid)!] = d))
  const vsidDomain = new Int32Array(vsidCount)
  for (let v = 0; v < vsidCount; v++) {
    const route = firstRouteOfVsid.get(vsidValues[v])
    if (route !== undefined) vsidDomain[v] = domainOfRdid[rt.rdid[route]]
    else {
      vsidDomain[v] = domainRdid.length
      domainRdid.push(null)
    }
  }
  const domainCount = domainRdid.length

  // Provider addresses, sorted: this host's and every record's (paList may hold some no longer in use).
  const paUsed = new Uint8Array(paList.count)
  for (let i = 0; i < recordCount; i++) paUsed[rec.pa[i]] = 1
  for (const local of columns.localPas) paUsed[local] = 1
  const paOrder = sortedIndices(paList.count, (a, b) => paList.family[a] - paList.family[b] || compareWordsAt(paList.words, a, paList.words, b))
    .filter((i) => paUsed[i] === 1)
  const paCount = paOrder.length
  const paSorted = new Int32Array(paList.count).fill(NONE)
  paOrder.forEach((from, to) => (paSorted[from] = to))
  const paBytes = new Uint8Array(paCount * PA_STRIDE)
  const paFamily = new Uint8Array(paCount)
  const paLocal = new Uint8Array(paCount)
  const paText: string[] = []
  const paMap = new WordMapBuilder(5, paCount)
  for (let i = 0; i < paCount; i++) {
    const from = paOrder[i]
    const k = from * 4
    for (let w = 0; w < 4; w++) for (let b = 0; b < 4; b++) paBytes[i * PA_STRIDE + w * 4 + b] = paList.words[k + w] >>> (24 - 8 * b)
    paFamily[i] = paList.family[from]
    paText.push(paList.text[from])
    paMap.add5(paList.family[from], paList.words[k], paList.words[k + 1], paList.words[k + 2], paList.words[k + 3], i)
  }
  for (const local of columns.localPas) paLocal[paSorted[local]] = 1

  // Customer routes, sorted; per-domain prefix tables (equal prefixes: lowest metric first).
  const routeDomainIn = new Int32Array(routeCount)
  for (let i = 0; i < routeCount; i++) routeDomainIn[i] = domainOfRdid[rt.rdid[i]]
  const routeOrder = sortedIndices(routeCount, (a, b) =>
    routeDomainIn[a] - routeDomainIn[b] || rt.family[a] - rt.family[b] || compareWordsAt(rt.prefix, a, rt.prefix, b) || rt.length[a] - rt.length[b] ||
    rt.metric[a] - rt.metric[b] || rt.vsid[a] - rt.vsid[b] || compareWordsAt(rt.nextHop, a, rt.nextHop, b) || a - b,
  )
  const routeDomain = new Int32Array(routeCount)
  const routeVsid = new Int32Array(routeCount)
  const routeFamily = new Uint8Array(routeCount)
  const routeOnLink = new Uint8Array(routeCount)
  const routeNextHop = new Uint32Array(routeCount * 4)
  const routeMetric = new Uint32Array(routeCount)
  const routeLength = new Uint8Array(routeCount)
  const routeOrigin = new Int32Array(routeCount)
  for (let i = 0; i < routeCount; i++) {
    const from = routeOrder[i]
    const k = from * 4
    routeDomain[i] = routeDomainIn[from]
    routeVsid[i] = vsidIndex.get(rt.vsid[from])!
    routeFamily[i] = rt.family[from]
    for (let w = 0; w < 4; w++) routeNextHop[i * 4 + w] = rt.nextHop[k + w]
    routeOnLink[i] = isZeroAt(rt.nextHop, from) ? 1 : 0
    routeMetric[i] = rt.metric[from]
    routeLength[i] = rt.length[from]
    routeOrigin[i] = from
  }
  // Tables are immutable: domains without routes of a family share one empty table, and a table of the
  // same routes (same rows, so the same domains and sorted indices) is the one compiled last time.
  const routes4: Ipv4PrefixTable[] = new Array<Ipv4PrefixTable>(domainCount).fill(EMPTY_ROUTES4)
  const routes6: Ipv6PrefixTable[] = new Array<Ipv6PrefixTable>(domainCount).fill(EMPTY_ROUTES6)
  if (previous !== undefined && previous.routes === rt) {
    for (let d = 0; d < rdids.length; d++) {
      routes4[d] = previous.table.domains.routes4[d]
      routes6[d] = previous.table.domains.routes6[d]
    }
  } else {
    for (let start = 0; start < routeCount; ) {
      const d = routeDomain[start]
      const entries4: Ipv4PrefixEntry[] = []
      const entries6: Ipv6PrefixEntry[] = []
      let i = start
      for (; i < routeCount && routeDomain[i] === d; i++) {
        const from = routeOrder[i]
        const k = from * 4
        if (rt.family[from] === 4) entries4.push({address: rt.prefix[k], length: rt.length[from], value: i})
        else entries6.push({address: wordBytes(rt.prefix, k), length: rt.length[from], value: i})
      }
      if (entries4.length > 0) routes4[d] = Ipv4PrefixTable.build(entries4)
      if (entries6.length > 0) routes6[d] = Ipv6PrefixTable.build(entries6)
      start = i
    }
  }
  const external = externalRouteTables(columns, domainCount, routeDomain, routeOrder, routeOnLink)

  // Gateways: the lowest host address of each on-link route, once per VSID (the first route's), sorted.
  const candidates: number[] = []
  const candidateWords: number[] = []
  for (let i = 0; i < routeCount; i++) {
    if (routeOnLink[i] === 0) continue
    const from = routeOrder[i]
    const family = rt.family[from]
    // The host part must be at least 2 bits wide (no gateway for IPv4 /31, /32; IPv6 /127, /128); then
    // network + 1 only touches the last word's low bit.
    if (rt.length[from] > (family === 4 ? 30 : 126)) continue
    const k = from * 4
    candidates.push(i)
    if (family === 4) candidateWords.push((rt.prefix[k] + 1) >>> 0, 0, 0, 0)
    else candidateWords.push(rt.prefix[k], rt.prefix[k + 1], rt.prefix[k + 2], (rt.prefix[k + 3] + 1) >>> 0)
  }
  const candidateOrder = sortedIndices(candidates.length, (a, b) => {
    const ra = candidates[a]
    const rb = candidates[b]
    return vsidValues[routeVsid[ra]] - vsidValues[routeVsid[rb]] || routeFamily[ra] - routeFamily[rb] || compareWordsAt(candidateWords, a, candidateWords, b) || ra - rb
  })
  const gateways: number[] = []
  for (const c of candidateOrder) {
    const last = gateways.length === 0 ? -1 : gateways[gateways.length - 1]
    if (last >= 0 && routeVsid[candidates[last]] === routeVsid[candidates[c]] && routeFamily[candidates[last]] === routeFamily[candidates[c]] &&
      compareWordsAt(candidateWords, last, candidateWords, c) === 0) continue
    gateways.push(c)
  }

  // Lookup records, sorted; CA maps per domain.
  const recordVsidIn = new Int32Array(recordCount)
  for (let i = 0, last = -1, index = 0; i < recordCount; i++) {
    const vsid = rec.vsid[i]
    if (vsid !== last) index = vsidIndex.get((last = vsid))!
    recordVsidIn[i] = index
  }
  const recordOrder = sortRecords(rec, recordVsidIn, vsidDomain)
  const recordVsid = new Int32Array(recordCount)
  const recordDomain = new Int32Array(recordCount)
  const recordFamily = new Uint8Array(recordCount)
  const recordCa = new Uint32Array(recordCount * 4)
  const recordMacHi = new Uint32Array(recordCount)
  const recordMacLo = new Uint32Array(recordCount)
  const recordPa = new Int32Array(recordCount)
  const recordTypes = new Uint8Array(recordCount)
  const recordRule = new Uint8Array(recordCount)
  const recordOrigin = new Int32Array(recordCount)
  let count4 = 0
  let count6 = 0
  let countWildcard = 0
  for (let i = 0; i < recordCount; i++) {
    if (rec.type[i] === RecordType.L2_ONLY || rec.type[i] === RecordType.GATEWAY_WILDCARD) countWildcard++
    else if (rec.family[i] === 4) count4++
    else count6++
  }
  const byCa4 = new WordMapBuilder(2, count4)
  const byCa6 = new WordMapBuilder(5, count6)
  const wildcardByMac = new WordMapBuilder(3, countWildcard)
  const gatewayByPa = new WordMapBuilder(2, countWildcard)
  for (let i = 0; i < recordCount; i++) {
    const from = recordOrder[i]
    const v = recordVsidIn[from]
    const domain = vsidDomain[v]
    const k = from * 4
    const ca = rec.ca
    recordVsid[i] = v
    recordDomain[i] = domain
    recordFamily[i] = rec.family[from]
    recordCa[i * 4] = ca[k]
    recordCa[i * 4 + 1] = ca[k + 1]
    recordCa[i * 4 + 2] = ca[k + 2]
    recordCa[i * 4 + 3] = ca[k + 3]
    recordMacHi[i] = rec.macHi[from]
    recordMacLo[i] = rec.macLo[from]
    recordPa[i] = paSorted[rec.pa[from]]
    recordTypes[i] = rec.type[from]
    recordRule[i] = rec.rule[from]
    recordOrigin[i] = from
    if (rec.type[from] === RecordType.L2_ONLY || rec.type[from] === RecordType.GATEWAY_WILDCARD) {
      wildcardByMac.add3(v, rec.macHi[from], rec.macLo[from], i)
      if (rec.type[from] === RecordType.GATEWAY_WILDCARD) gatewayByPa.add2(domain, recordPa[i], i)
      continue
    }
    const previous = rec.family[from] === 4 ? byCa4.add2(domain, ca[k], i) : byCa6.add5(domain, ca[k], ca[k + 1], ca[k + 2], ca[k + 3], i)
    if (previous !== NONE) {
      const other = recordOrigin[previous]
      const where = domainRdid[domain] === null ? `VirtualSubnetID ${rec.vsid[from]}` : `routing domain ${domainRdid[domain]}`
      throw new PolicyError(`LookupRecords[${from}]: CustomerAddress ${rec.caTextOf(from)} (VirtualSubnetID ${rec.vsid[from]}, MACAddress ${macText(rec.macHi[from], rec.macLo[from])}) is already LookupRecords[${other}]'s (VirtualSubnetID ${rec.vsid[other]}, MACAddress ${macText(rec.macHi[other], rec.macLo[other])}) in ${where}; a CA must be unique within a routing domain`)
    }
  }
  const byCa4Map = byCa4.build()
  const byCa6Map = byCa6.build()

  // Gateway MACs: the record of the gateway address when there is one, else generated.
  const gwCount = gateways.length
  const gwVsid = new Int32Array(gwCount)
  const gwFamily = new Uint8Array(gwCount)
  const gwAddress = new Uint32Array(gwCount * 4)
  const gwMacHi = new Uint32Array(gwCount)
  const gwMacLo = new Uint32Array(gwCount)
  const gwRecord = new Int32Array(gwCount).fill(NONE)
  const gwRoute = new Int32Array(gwCount)
  const recordGateway = new Int32Array(recordCount).fill(NONE)
  const gwByAddress4 = new WordMapBuilder(2, gwCount)
  const gwByAddress6 = new WordMapBuilder(5, 0)
  const gwByMac = new WordMapBuilder(3, gwCount)
  for (let i = 0; i < gwCount; i++) {
    const c = gateways[i]
    const route = candidates[c]
    const v = routeVsid[route]
    const domain = vsidDomain[v]
    const family = routeFamily[route]
    const k = c * 4
    const w = candidateWords
    gwVsid[i] = v
    gwFamily[i] = family
    gwAddress[i * 4] = w[k]
    gwAddress[i * 4 + 1] = w[k + 1]
    gwAddress[i * 4 + 2] = w[k + 2]
    gwAddress[i * 4 + 3] = w[k + 3]
    gwRoute[i] = route
    const record = family === 4 ? byCa4Map.get2(domain, w[k]) : byCa6Map.get5(domain, w[k], w[k + 1], w[k + 2], w[k + 3])
    if (record !== NONE) {
      gwRecord[i] = record
      recordGateway[record] = i
      gwMacHi[i] = recordMacHi[record]
      gwMacLo[i] = recordMacLo[record]
    } else {
      gwMacHi[i] = GENERATED_MAC_HI
      gwMacLo[i] = generatedMacLo(vsidValues[v])
    }
    if (family === 4) gwByAddress4.add2(v, w[k], i)
    else gwByAddress6.add5(v, w[k], w[k + 1], w[k + 2], w[k + 3], i)
    gwByMac.add3(v, gwMacHi[i], gwMacLo[i], i)
  }

  // Per-VSID router MAC and first gateway per family.
  const vsidGateway4 = new Int32Array(vsidCount).fill(NONE)
  const vsidGateway6 = new Int32Array(vsidCount).fill(NONE)
  const routerMacHi = new Uint32Array(vsidCount * 2)
  const routerMacLo = new Uint32Array(vsidCount * 2)
  const vsidByValue = new WordMapBuilder(1, vsidCount)
  for (let v = 0; v < vsidCount; v++) {
    vsidByValue.add1(vsidValues[v], v)
    const lo = generatedMacLo(vsidValues[v])
    for (let f = 0; f < 2; f++) {
      routerMacHi[v * 2 + f] = GENERATED_MAC_HI
      routerMacLo[v * 2 + f] = lo
    }
  }
  // Gateways are sorted by VSID then address: the first of each family is the lowest.
  for (let g = gwCount - 1; g >= 0; g--) {
    const v = gwVsid[g]
    const f = gwFamily[g] === 4 ? 0 : 1
    ;(f === 0 ? vsidGateway4 : vsidGateway6)[v] = g
    routerMacHi[v * 2 + f] = gwMacHi[g]
    routerMacLo[v * 2 + f] = gwMacLo[g]
  }

  // Ports; a -Dhcp adapter's address is the IPv4 record of its MAC in its VSID (the first, in table order).
  const portsIn = [...columns.ports].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.origin - b.origin))
  const portDhcpRecord = new Int32Array(portsIn.length).fill(NONE)
  if (portsIn.some((p) => p.dhcp)) {
    const byMac = new Map<string, number>()
    for (let r = recordCount - 1; r >= 0; r--) {
      if (recordFamily[r] === 4 && (recordTypes[r] === RecordType.STATIC || recordTypes[r] === RecordType.DYNAMIC)) {
        byMac.set(recordVsid[r] + ':' + recordMacHi[r] + ':' + recordMacLo[r], r)
      }
    }
    portsIn.forEach((p, i) => {
      if (!p.dhcp || p.vsid === 0) return
      portDhcpRecord[i] = byMac.get(vsidIndex.get(p.vsid)! + ':' + p.macHi + ':' + p.macLo) ?? NONE
    })
  }
  const portByName = new Map<string, number>()
  const portByMac = new WordMapBuilder(3, portsIn.length)
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
    const previous = portByMac.add3(v, p.macHi, p.macLo, i)
    if (previous !== NONE) {
      throw new PolicyError(`VMNetworkAdapters[${p.origin}]: MacAddress ${p.mac} in VirtualSubnetId ${p.vsid} is already adapter ${portsIn[previous].name}'s; frames could not be delivered to one port`)
    }
  })

  const portMacHi = Uint32Array.from(portsIn, (p) => p.macHi)
  const portMacLo = Uint32Array.from(portsIn, (p) => p.macLo)
  const flood = buildFloodLists({
    vsidCount,
    recordVsid,
    recordPa,
    recordType: recordTypes,
    recordRule,
    recordGateway,
    recordMacHi,
    recordMacLo,
    paLocal,
    portVsid,
    portMacHi,
    portMacLo,
  })

  // Texts the hot path never reads are made on first use (dump, explanations): 100k strings made and
  // kept per reload would cost more than the rest of the compile.
  let routeTexts: {prefix: string[]; nextHop: string[]} | undefined
  let caTexts: string[] | undefined
  let vmNames: (string | null)[] | undefined
  let gwTexts: string[] | undefined
  return new ForwardingTable({
    revision,
    domains: {count: domainCount, rdid: domainRdid, routes4, routes6, external4: external.routes4, external6: external.routes6},
    useExternalRouter: columns.useExternalRouter,
    vsids: {
      count: vsidCount,
      value: vsidValues,
      domain: vsidDomain,
      gateway4: vsidGateway4,
      gateway6: vsidGateway6,
      routerMacHi,
      routerMacLo,
      byValue: vsidByValue.build(),
    },
    routes: withLazyColumns(
      {count: routeCount, domain: routeDomain, vsid: routeVsid, family: routeFamily, onLink: routeOnLink, nextHop: routeNextHop, metric: routeMetric, length: routeLength, origin: routeOrigin},
      {
        prefix: () => (routeTexts ??= routeTextsOf(rt, routeOrigin)).prefix,
        nextHopText: () => (routeTexts ??= routeTextsOf(rt, routeOrigin)).nextHop,
      },
    ),
    records: withLazyColumns(
      {
        count: recordCount,
        vsid: recordVsid,
        domain: recordDomain,
        family: recordFamily,
        ca: recordCa,
        macHi: recordMacHi,
        macLo: recordMacLo,
        pa: recordPa,
        type: recordTypes,
        rule: recordRule,
        gateway: recordGateway,
        origin: recordOrigin,
        byCa4: byCa4Map,
        byCa6: byCa6Map,
        wildcardByMac: wildcardByMac.build(),
        gatewayByPa: gatewayByPa.build(),
      },
      {
        caText: () => (caTexts ??= texts(recordCount, (i) => rec.caTextOf(recordOrigin[i]))),
        vmName: () => (vmNames ??= texts(recordCount, (i) => rec.vmName.text(recordOrigin[i]))),
      },
    ),
    gateways: withLazyColumns(
      {
        count: gwCount,
        vsid: gwVsid,
        family: gwFamily,
        address: gwAddress,
        macHi: gwMacHi,
        macLo: gwMacLo,
        record: gwRecord,
        route: gwRoute,
        byAddress4: gwByAddress4.build(),
        byAddress6: gwByAddress6.build(),
        byMac: gwByMac.build(),
      },
      {addressText: () => (gwTexts ??= texts(gwCount, (i) => (gwFamily[i] === 4 ? ipv4Text(gwAddress[i * 4]) : wordsToV6(gwAddress, i * 4))))},
    ),
    pas: {
      count: paCount,
      family: paFamily,
      bytes: paBytes,
      local: paLocal,
      text: paText,
      byAddress: paMap.build(),
    },
    ports: {
      count: portsIn.length,
      name: portsIn.map((p) => p.name),
      vmName: portsIn.map((p) => p.vmName),
      adapter: portsIn.map((p) => p.adapter),
      macText: portsIn.map((p) => p.mac),
      macHi: portMacHi,
      macLo: portMacLo,
      vsidValue: Uint32Array.from(portsIn, (p) => p.vsid),
      vsid: portVsid,
      origin: Int32Array.from(portsIn, (p) => p.origin),
      dhcp: Uint8Array.from(portsIn, (p) => (p.dhcp ? 1 : 0)),
      mssClamp: Uint8Array.from(portsIn, (p) => (p.mssClamp ? 1 : 0)),
      dhcpRecord: portDhcpRecord,
      byName: portByName,
      byMac: portByMac.build(),
    },
    flood,
    sources,
  })
}

/** The locally administered MAC of a VSID's gateway when no lookup record names one (low 32 bits). */
export function generatedMacLo(vsid: number): number {
  return ((GENERATED_MAC_LO_TOP << 24) | (vsid & 0xffffff)) >>> 0
}

function texts<T>(count: number, text: (i: number) => T): T[] {
  const out: T[] = []
  for (let i = 0; i < count; i++) out.push(text(i))
  return out
}

/** DestinationPrefix and NextHop texts of the sorted routes (`origin`: their rows). */
function routeTextsOf(rt: RouteColumns, origin: Int32Array): {prefix: string[]; nextHop: string[]} {
  const prefix: string[] = []
  const nextHop: string[] = []
  for (const i of origin) {
    prefix.push(rt.prefixTextOf(i))
    nextHop.push(rt.nextHopTextOf(i))
  }
  return {prefix, nextHop}
}

// ---- sorting ----

/** 0..count-1 ordered by `compare` (stable). */
function sortedIndices(count: number, compare: (a: number, b: number) => number): number[] {
  const order: number[] = []
  for (let i = 0; i < count; i++) order.push(i)
  return order.sort(compare)
}

const LAZY = Symbol('lazy columns')
type LazyColumns = Record<string, () => unknown>
/** One getter per lazy column name, the same function for every table (see withLazyColumns). */
const lazyGetters = new Map<string, (this: {[LAZY]: LazyColumns}) => unknown>()

/**
 * `columns` with the `lazy` ones added as getters (each computed on first read, for status and trace).
 * Added afterwards, and as the same functions for every table, because V8 puts in dictionary mode both an
 * object literal with accessors and an object given an accessor that the earlier objects of its shape
 * do not share; then every read of a column in the forwarding path (t.records.pa, ...) is a generic
 * lookup.
 */
function withLazyColumns<C extends object, L extends object>(columns: C, lazy: {[K in keyof L]: () => L[K]}): C & Readonly<L> {
  Object.defineProperty(columns, LAZY, {value: lazy})
  for (const key of Object.keys(lazy)) {
    let get = lazyGetters.get(key)
    if (get === undefined) {
      get = function (this: {[LAZY]: LazyColumns}) {
        return this[LAZY][key]()
      }
      lazyGetters.set(key, get)
    }
    Object.defineProperty(columns, key, {get, enumerable: true})
  }
  return columns as C & Readonly<L>
}

/**
 * The order of the lookup records: by routing domain, CA (IPv4 before IPv6, then by value), VSID, MAC,
 * then document order (`compareRecords`). A stable radix sort on [domain, family] and the IPv4 CA does
 * most of it in three linear passes; runs it leaves tied (IPv6 CAs, wildcard CAs shared by several
 * records) are finished with compareRecords.
 */
function sortRecords(rec: RecordColumns, vsidOf: Int32Array, vsidDomain: Int32Array): Int32Array {
  const n = rec.count
  const group = new Int32Array(n)
  let groups = 1
  const low = new Uint16Array(n)
  const high = new Uint16Array(n)
  for (let i = 0; i < n; i++) {
    const g = vsidDomain[vsidOf[i]] * 2 + (rec.family[i] === 4 ? 0 : 1)
    group[i] = g
    if (g >= groups) groups = g + 1
    if (rec.family[i] === 4) {
      low[i] = rec.ca[i * 4] & 0xffff
      high[i] = rec.ca[i * 4] >>> 16
    }
  }
  let order = new Int32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  let spare = new Int32Array(n)
  for (const [keys, range] of [[low, 0x10000], [high, 0x10000], [group, groups]] as const) {
    countingSort(order, spare, keys, range)
    ;[order, spare] = [spare, order]
  }
  const compare = (a: number, b: number): number => compareRecords(rec, a, b)
  for (let start = 0; start < n; ) {
    let end = start + 1
    const first = order[start]
    if (rec.family[first] === 4) {
      while (end < n && group[order[end]] === group[first] && rec.ca[order[end] * 4] === rec.ca[first * 4]) end++
    } else {
      while (end < n && group[order[end]] === group[first]) end++
    }
    if (end - start > 1) order.set(Array.from(order.subarray(start, end)).sort(compare), start)
    start = end
  }
  return order
}

/** Stable: `to` gets `from` ordered by keys[element] (0 <= key < range). */
function countingSort(from: Int32Array, to: Int32Array, keys: ArrayLike<number>, range: number): void {
  const starts = new Int32Array(range + 1)
  for (let i = 0; i < from.length; i++) starts[keys[from[i]] + 1]++
  for (let k = 0; k < range; k++) starts[k + 1] += starts[k]
  for (let i = 0; i < from.length; i++) to[starts[keys[from[i]]]++] = from[i]
}

/** Records of one domain and family: by CA, VSID, MAC, then document order. */
function compareRecords(rec: RecordColumns, a: number, b: number): number {
  return compareWordsAt(rec.ca, a, rec.ca, b) || rec.vsid[a] - rec.vsid[b] || rec.macHi[a] - rec.macHi[b] || rec.macLo[a] - rec.macLo[b] || a - b
}

// ---- addresses as words ----

export function parseAddress(text: string): Address {
  const ip = parseIp(text)
  const b = ip.bytes
  const words: [number, number, number, number] = [0, 0, 0, 0]
  for (let w = 0; w < b.length / 4; w++) words[w] = ((b[w * 4] << 24) | (b[w * 4 + 1] << 16) | (b[w * 4 + 2] << 8) | b[w * 4 + 3]) >>> 0
  return {family: ip.family, text: ip.text, words}
}

/** Compares the four words of entry a in `x` with those of entry b in `y`. */
function compareWordsAt(x: ArrayLike<number>, a: number, y: ArrayLike<number>, b: number): number {
  const i = a * 4
  const j = b * 4
  for (let w = 0; w < 4; w++) if (x[i + w] !== y[j + w]) return x[i + w] - y[j + w]
  return 0
}

function isZero(words: readonly number[]): boolean {
  return words[0] === 0 && words[1] === 0 && words[2] === 0 && words[3] === 0
}

function isZeroAt(words: ArrayLike<number>, entry: number): boolean {
  const k = entry * 4
  return words[k] === 0 && words[k + 1] === 0 && words[k + 2] === 0 && words[k + 3] === 0
}

/** The 16 bytes of the four words at words[k]. */
function wordBytes(words: ArrayLike<number>, k: number): Uint8Array {
  const out = new Uint8Array(IPV6_ADDR_LEN)
  for (let i = 0; i < IPV6_ADDR_LEN; i++) out[i] = words[k + (i >> 2)] >>> (24 - 8 * (i & 3))
  return out
}

function wordsToV6(words: ArrayLike<number>, k: number): string {
  const groups: string[] = []
  for (let i = 0; i < 4; i++) groups.push((words[k + i] >>> 16).toString(16), (words[k + i] & 0xffff).toString(16))
  return parseIp(groups.join(':')).text
}
