// The SCVMM layer's kinds, declared like the policy kinds (src/lib/policy/kinds.ts) so New/Get/Set/Remove,
// filters, flags, output and JSON schemas come from the same machinery. Allocation is each kind's
// complete(); every rule of an object is its check(), which validateModel() (rules.ts) runs again over the
// whole model at the end of each transaction, so a Set or Remove can never leave it inconsistent.
//
// Allocation is deterministic: lowest free value, in a fixed order, from what the store holds — the same
// objects created in the same order on an empty store get the same VSIDs, RDIDs, addresses and MACs.
import {createHash} from 'node:crypto'
import {PolicyError} from '../cli/errors.js'
import {AddressError, isUnspecified, maxPrefixLength, parseIp, parsePrefix, parsePrefixLength, type Family} from '../net/ip.js'
import {isMulticastMac} from '../net/mac.js'
import {VSID_MAX, VSID_MIN} from '../policy/kinds.js'
import {statement} from '../policy/sql.js'
import type {KindSpec, PolicyObject, PropertySpec, RuleContext} from '../policy/types.js'
import {GATEWAY_MAC} from '../policy/gateway.js'
import {addressText, addressValue, contains, gatewayValue, hostSpan, overlaps, parseSpan, prefixSpan, rangeSpan, spanText, splitList, type Span} from './addresses.js'
import {ADDRESS_FAMILIES, DEFAULT_MAC_POOL} from './types.js'

export type ModelKind = KindSpec

function prop(name: string, column: string, type: PropertySpec['type'], description: string, extra: Partial<PropertySpec> = {}): PropertySpec {
  return {name, column, type, description, create: 'optional', filter: true, ...extra}
}

function conflict(message: string): never {
  throw new PolicyError(message)
}

/** Runs a parser, turning its AddressError into a PolicyError naming the parameter. */
function parsing<T>(param: string, fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    if (error instanceof AddressError) conflict(`-${param}: ${error.message}`)
    throw error
  }
}

const nameProp = (what: string) => prop('Name', 'name', {kind: 'string'}, `Name of the ${what} (unique, case-insensitive)`, {create: 'mandatory', select: true, key: true})
const descriptionProp = prop('Description', 'description', {kind: 'string'}, 'Free text', {settable: true})

/** Names are unique per kind (case-insensitive) and must not hold a comma (lists are comma-separated). */
function checkName(kind: KindSpec, object: PolicyObject, ctx: RuleContext, id: number | null): string {
  const name = String(object.Name)
  if (name.includes(',')) conflict(`-Name '${name}' is not valid: a ${kind.label[0]} name cannot contain a comma`)
  if (statement(ctx.db, `SELECT 1 FROM ${kind.table} WHERE name = ? COLLATE NOCASE AND id != ?`).get(name, id ?? -1)) {
    conflict(`a ${kind.label[0]} named '${name}' already exists; pick another -Name or change it with Set-${kind.noun}`)
  }
  return name
}

/** The stored spelling of a referenced object's name, or a PolicyError naming what exists. */
function reference(ctx: RuleContext, table: string, label: string, param: string, value: unknown, owner: string): string {
  const row = statement(ctx.db, `SELECT name FROM ${table} WHERE name = ? COLLATE NOCASE`).get(String(value)) as {name: string} | undefined
  if (row) return row.name
  const names = (statement(ctx.db, `SELECT name FROM ${table} ORDER BY id`).all() as {name: string}[]).map((r) => r.name)
  return conflict(`${owner} refers to ${label} '${value}', which does not exist (${names.length > 0 ? `there are: ${names.join(', ')}` : `there is none`}); create it first, or give another -${param}`)
}

// ---- hosts ----

/** `address[/length]` items -> canonical `address/length` (default /24 for IPv4, /64 for IPv6). */
export function parseProviderAddresses(text: string): {address: string; family: Family; length: number}[] {
  const items = splitList(text)
  if (items.length === 0) conflict(`-ProviderAddresses '${text}' is not valid: give at least one provider address, e.g. 198.51.100.11/24`)
  return items.map((item) =>
    parsing('ProviderAddresses', () => {
      const slash = item.indexOf('/')
      const address = parseIp(slash < 0 ? item : item.slice(0, slash))
      if (isUnspecified(address)) conflict(`-ProviderAddresses: ${address.text} cannot be a provider address`)
      const length = slash < 0 ? (address.family === 4 ? 24 : 64) : parsePrefixLength(item.slice(slash + 1), address.family)
      return {address: address.text, family: address.family, length}
    }),
  )
}

export const host: KindSpec = {
  name: 'Host',
  noun: 'SCVMHost',
  cimClass: 'SCVMHost',
  label: ['host', 'hosts'],
  topic: 'host',
  exportName: 'Hosts',
  table: 'model_hosts',
  properties: [
    nameProp('host'),
    prop('ProviderAddresses', 'provider_addresses', {kind: 'string'}, 'Its provider addresses as address/length, comma-separated; lookup records name the first', {create: 'mandatory', settable: true}),
    prop('InterfaceName', 'interface_name', {kind: 'string'}, 'The physical interface holding the provider addresses (informative)', {settable: true}),
    prop('InterfaceIndex', 'interface_index', {kind: 'uint', min: 1, max: 2_147_483_647}, 'InterfaceIndex given to its derived provider addresses (default 2)', {settable: true, default: 2}),
    descriptionProp,
  ],
  check(object, ctx, id) {
    const name = checkName(host, object, ctx, id)
    const pas = parseProviderAddresses(String(object.ProviderAddresses))
    const seen = new Set<string>()
    for (const pa of pas) {
      if (seen.has(pa.address)) conflict(`-ProviderAddresses lists ${pa.address} twice`)
      seen.add(pa.address)
      for (const other of statement(ctx.db, 'SELECT name, provider_addresses AS pas FROM model_hosts WHERE id != ?').all(id ?? -1) as {name: string; pas: string}[]) {
        if (parseProviderAddresses(other.pas).some((o) => o.address === pa.address)) conflict(`provider address ${pa.address} of host '${name}' already belongs to host '${other.name}'`)
      }
    }
    object.ProviderAddresses = pas.map((pa) => `${pa.address}/${pa.length}`).join(',')
  },
  describe: (o) => `Host ${o.Name} (${o.ProviderAddresses})`,
}

// ---- VM networks ----

/** RFC 4122 URL namespace: the RDID of a VM network is the UUID v5 of `hnv:vm-network:<lower-case name>` in it. */
const RDID_NAMESPACE = Buffer.from('6ba7b8119dad11d180b400c04fd430c8', 'hex')

/** The RDID a VM network gets when none is given: `{…}` lower-case, as the store writes GUIDs. */
export function routingDomainIdFor(name: string): string {
  const hash = createHash('sha1').update(RDID_NAMESPACE).update(`hnv:vm-network:${name.toLowerCase()}`, 'utf8').digest()
  hash[6] = (hash[6] & 0x0f) | 0x50
  hash[8] = (hash[8] & 0x3f) | 0x80
  const hex = hash.subarray(0, 16).toString('hex')
  return `{${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}}`
}

function allowedFamilies(addressFamily: string): Family[] {
  return addressFamily === 'IPv4' ? [4] : addressFamily === 'IPv6' ? [6] : [4, 6]
}

export const vmNetwork: KindSpec = {
  name: 'VMNetwork',
  noun: 'SCVMNetwork',
  cimClass: 'SCVMNetwork',
  label: ['VM network', 'VM networks'],
  topic: 'vm-network',
  exportName: 'VMNetworks',
  table: 'model_vm_networks',
  properties: [
    nameProp('VM network'),
    prop('RoutingDomainID', 'routing_domain_id', {kind: 'guid'}, 'Its routing domain GUID (default: a UUID v5 of the name, the same on every machine)', {allocated: true}),
    prop('AddressFamily', 'address_family', {kind: 'enum', values: ADDRESS_FAMILIES}, `Address families its subnets use: ${ADDRESS_FAMILIES.join(', ')} (default IPv4)`, {settable: true, default: 'IPv4'}),
    descriptionProp,
  ],
  complete(object) {
    if (object.RoutingDomainID === null) object.RoutingDomainID = routingDomainIdFor(String(object.Name))
  },
  check(object, ctx, id) {
    const name = checkName(vmNetwork, object, ctx, id)
    const other = statement(ctx.db, 'SELECT name FROM model_vm_networks WHERE routing_domain_id = ? AND id != ?').get(object.RoutingDomainID, id ?? -1) as {name: string} | undefined
    if (other) conflict(`RoutingDomainID ${object.RoutingDomainID} already belongs to VM network '${other.name}'; give VM network '${name}' another one`)
    const families = allowedFamilies(String(object.AddressFamily))
    for (const subnet of statement(ctx.db, 'SELECT name, prefix FROM model_vm_subnets WHERE vm_network = ? COLLATE NOCASE').all(name) as {name: string; prefix: string}[]) {
      for (const prefix of splitList(subnet.prefix)) {
        if (!families.includes(parsePrefix(prefix).family)) conflict(`-AddressFamily ${object.AddressFamily} does not allow prefix ${prefix} of VMSubnet '${subnet.name}'; use ${families.length === 1 && families[0] === 4 ? 'IPv6 or ' : 'IPv4 or '}DualStack`)
      }
    }
  },
  describe: (o) => `VMNetwork ${o.Name} (${o.RoutingDomainID})`,
}

// ---- VM subnets ----

interface SubnetRow {
  name: string
  network: string
  prefixes: string[]
  vsid: number
}

function subnetRow(ctx: RuleContext, name: unknown): SubnetRow | undefined {
  const row = statement(ctx.db, 'SELECT name, vm_network AS network, prefix, virtual_subnet_id AS vsid FROM model_vm_subnets WHERE name = ? COLLATE NOCASE').get(String(name)) as {name: string; network: string; prefix: string; vsid: number} | undefined
  return row && {name: row.name, network: row.network, prefixes: splitList(row.prefix), vsid: row.vsid}
}

function prefixOf(subnet: SubnetRow, family: Family): string | undefined {
  return subnet.prefixes.find((p) => parsePrefix(p).family === family)
}

/** The lowest VSID from 4096 that no subnet and no low-level row uses. */
function allocateVsid(ctx: RuleContext): number {
  const used = new Set(
    (statement(ctx.db, `SELECT virtual_subnet_id AS v FROM model_vm_subnets UNION SELECT virtual_subnet_id FROM customer_routes
      UNION SELECT virtual_subnet_id FROM lookup_records UNION SELECT virtual_subnet_id FROM vm_network_adapters`).all() as {v: number}[]).map((r) => r.v),
  )
  for (let vsid = VSID_MIN; vsid <= VSID_MAX; vsid++) if (!used.has(vsid)) return vsid
  return conflict(`no free VirtualSubnetID left in ${VSID_MIN}..${VSID_MAX}; give -VirtualSubnetID`)
}

export const vmSubnet: KindSpec = {
  name: 'VMSubnet',
  noun: 'SCVMSubnet',
  cimClass: 'SCVMSubnet',
  label: ['VM subnet', 'VM subnets'],
  topic: 'vm-subnet',
  exportName: 'VMSubnets',
  table: 'model_vm_subnets',
  properties: [
    nameProp('VM subnet'),
    prop('VMNetwork', 'vm_network', {kind: 'string'}, 'Name of its VM network', {create: 'mandatory'}),
    prop('Prefix', 'prefix', {kind: 'string'}, 'Its prefix, e.g. 10.0.0.0/24; one per address family, comma-separated; the .1 is the gateway', {create: 'mandatory', settable: true}),
    prop('VirtualSubnetID', 'virtual_subnet_id', {kind: 'uint', min: VSID_MIN, max: VSID_MAX}, `Its VSID, ${VSID_MIN}..${VSID_MAX} (default: the lowest free from ${VSID_MIN})`, {allocated: true}),
    descriptionProp,
  ],
  complete(object, _given, ctx) {
    if (object.VirtualSubnetID === null) object.VirtualSubnetID = allocateVsid(ctx)
  },
  check(object, ctx, id) {
    const name = checkName(vmSubnet, object, ctx, id)
    const owner = `VMSubnet '${name}'`
    object.VMNetwork = reference(ctx, 'model_vm_networks', 'VM network', 'VMNetwork', object.VMNetwork, owner)
    const network = statement(ctx.db, 'SELECT address_family AS family FROM model_vm_networks WHERE name = ?').get(object.VMNetwork) as {family: string}
    const families = allowedFamilies(network.family)
    const prefixes = splitList(String(object.Prefix)).map((text) => parsing('Prefix', () => parsePrefix(text)))
    if (prefixes.length === 0) conflict(`-Prefix '${object.Prefix}' is not valid: give the subnet's prefix, e.g. 10.0.0.0/24`)
    for (const prefix of prefixes) {
      if (!families.includes(prefix.family)) conflict(`-Prefix ${prefix.text} is IPv${prefix.family}, but VM network '${object.VMNetwork}' has AddressFamily ${network.family}`)
      if (prefixes.filter((p) => p.family === prefix.family).length > 1) conflict(`-Prefix '${object.Prefix}' gives two IPv${prefix.family} prefixes; a VM subnet has one per address family`)
      if (prefix.length > maxPrefixLength(prefix.family) - 2) conflict(`-Prefix ${prefix.text} is too small: a subnet needs its .1 gateway and VM addresses (IPv${prefix.family}: /${maxPrefixLength(prefix.family) - 2} at most)`)
      const span = prefixSpan(prefix.text)
      for (const other of statement(ctx.db, 'SELECT name, prefix FROM model_vm_subnets WHERE vm_network = ? COLLATE NOCASE AND id != ?').all(object.VMNetwork, id ?? -1) as {name: string; prefix: string}[]) {
        const clash = splitList(other.prefix).find((p) => overlaps(prefixSpan(p), span))
        if (clash) conflict(`-Prefix ${prefix.text} overlaps ${clash} of VMSubnet '${other.name}' in the same VM network '${object.VMNetwork}'; subnets of one VM network route to each other and must not overlap`)
      }
    }
    object.Prefix = prefixes.map((p) => p.text).join(',')
    const twin = statement(ctx.db, 'SELECT name FROM model_vm_subnets WHERE virtual_subnet_id = ? AND id != ?').get(object.VirtualSubnetID, id ?? -1) as {name: string} | undefined
    if (twin) conflict(`VirtualSubnetID ${object.VirtualSubnetID} already belongs to VMSubnet '${twin.name}'; a VSID is unique`)
  },
  describe: (o) => `VMSubnet ${o.Name} (${o.Prefix}, VirtualSubnetID ${o.VirtualSubnetID})`,
}

// ---- IP pools ----

export const ipPool: KindSpec = {
  name: 'StaticIPAddressPool',
  noun: 'SCStaticIPAddressPool',
  cimClass: 'SCStaticIPAddressPool',
  label: ['static IP address pool', 'static IP address pools'],
  topic: 'ip-pool',
  exportName: 'StaticIPAddressPools',
  table: 'model_ip_pools',
  properties: [
    nameProp('pool'),
    prop('VMSubnet', 'vm_subnet', {kind: 'string'}, 'Name of the VM subnet it hands out addresses in', {create: 'mandatory'}),
    prop('IPAddressRangeStart', 'range_start', {kind: 'ip'}, 'First address of the range (default: the first after the subnet\'s .1)', {settable: true, allocated: true}),
    prop('IPAddressRangeEnd', 'range_end', {kind: 'ip'}, 'Last address of the range (default: the subnet\'s last usable address)', {settable: true, allocated: true}),
    prop('IPAddressReservedSet', 'reserved', {kind: 'string'}, 'Addresses or ranges (a-b) never handed out, comma-separated', {settable: true}),
    descriptionProp,
  ],
  complete(object, _given, ctx) {
    if (object.IPAddressRangeStart !== null && object.IPAddressRangeEnd !== null) return
    const subnet = subnetRow(ctx, object.VMSubnet)
    if (!subnet) return // check() names the missing subnet
    const bound = object.IPAddressRangeStart ?? object.IPAddressRangeEnd
    let prefix: string | undefined
    if (bound !== null) prefix = prefixOf(subnet, parseIp(String(bound)).family)
    else if (subnet.prefixes.length === 1) prefix = subnet.prefixes[0]
    else conflict(`VMSubnet '${subnet.name}' has prefixes ${subnet.prefixes.join(' and ')}: give -IPAddressRangeStart and -IPAddressRangeEnd to say which the pool is in`)
    if (prefix === undefined) return // check() names the family mismatch
    const usable = hostSpan(prefixSpan(prefix))
    object.IPAddressRangeStart ??= addressText(usable.family, usable.first)
    object.IPAddressRangeEnd ??= addressText(usable.family, usable.last)
  },
  check(object, ctx, id) {
    const name = checkName(ipPool, object, ctx, id)
    const owner = `static IP address pool '${name}'`
    object.VMSubnet = reference(ctx, 'model_vm_subnets', 'VM subnet', 'VMSubnet', object.VMSubnet, owner)
    const subnet = subnetRow(ctx, object.VMSubnet)!
    const range = poolRange(object)
    const prefix = prefixOf(subnet, range.family)
    if (prefix === undefined) conflict(`${owner} is IPv${range.family} but VMSubnet '${subnet.name}' has no IPv${range.family} prefix (${subnet.prefixes.join(', ')})`)
    if (range.first > range.last) conflict(`-IPAddressRangeStart ${object.IPAddressRangeStart} comes after -IPAddressRangeEnd ${object.IPAddressRangeEnd}`)
    if (!contains(prefixSpan(prefix), range)) conflict(`${owner}: range ${spanText(range)} is not inside VMSubnet '${subnet.name}' (${prefix})`)
    const reserved = splitList(object.IPAddressReservedSet === null ? null : String(object.IPAddressReservedSet)).map((item) => parsing('IPAddressReservedSet', () => parseSpan(item)))
    for (const span of reserved) {
      if (span.family !== range.family || span.first > span.last || !contains(prefixSpan(prefix), span)) conflict(`-IPAddressReservedSet: ${spanText(span)} is not an address or range inside VMSubnet '${subnet.name}' (${prefix})`)
    }
    if (object.IPAddressReservedSet !== null) object.IPAddressReservedSet = reserved.length > 0 ? reserved.map(spanText).join(',') : null
    for (const other of statement(ctx.db, 'SELECT name, range_start AS start, range_end AS end FROM model_ip_pools WHERE vm_subnet = ? COLLATE NOCASE AND id != ?').all(subnet.name, id ?? -1) as {name: string; start: string; end: string}[]) {
      const span = rangeSpan(other.start, other.end)
      if (overlaps(span, range)) conflict(`${owner}: range ${spanText(range)} overlaps ${spanText(span)} of pool '${other.name}' in the same VMSubnet '${subnet.name}'`)
    }
  },
  describe: (o) => `StaticIPAddressPool ${o.Name} (${o.IPAddressRangeStart}-${o.IPAddressRangeEnd} in ${o.VMSubnet})`,
}

function poolRange(object: PolicyObject): Span {
  const start = addressValue(String(object.IPAddressRangeStart))
  const end = addressValue(String(object.IPAddressRangeEnd))
  if (start.family !== end.family) conflict(`-IPAddressRangeStart ${object.IPAddressRangeStart} and -IPAddressRangeEnd ${object.IPAddressRangeEnd} are of different address families`)
  return {family: start.family, first: start.value, last: end.value}
}

// ---- MAC pools ----

const MAC_MAX = 0xffffffffffffn

function macValue(mac: string): bigint {
  return BigInt(`0x${mac}`)
}

function macText(value: bigint): string {
  return value.toString(16).toUpperCase().padStart(12, '0')
}

export const macPool: KindSpec = {
  name: 'MACAddressPool',
  noun: 'SCMACAddressPool',
  cimClass: 'SCMACAddressPool',
  label: ['MAC address pool', 'MAC address pools'],
  topic: 'mac-pool',
  exportName: 'MACAddressPools',
  table: 'model_mac_pools',
  properties: [
    nameProp('MAC address pool'),
    prop('MACAddressRangeStart', 'range_start', {kind: 'mac'}, 'First MAC of the range, 12 hex digits', {create: 'mandatory', settable: true}),
    prop('MACAddressRangeEnd', 'range_end', {kind: 'mac'}, 'Last MAC of the range', {create: 'mandatory', settable: true}),
    descriptionProp,
  ],
  check(object, ctx, id) {
    const name = checkName(macPool, object, ctx, id)
    const first = macValue(String(object.MACAddressRangeStart))
    const last = macValue(String(object.MACAddressRangeEnd))
    if (first > last) conflict(`-MACAddressRangeStart ${object.MACAddressRangeStart} comes after -MACAddressRangeEnd ${object.MACAddressRangeEnd}`)
    if (first >> 40n !== last >> 40n || isMulticastMac(String(object.MACAddressRangeStart))) {
      conflict(`MAC address pool '${name}': ${object.MACAddressRangeStart}-${object.MACAddressRangeEnd} must be unicast MACs sharing their first octet (e.g. the locally administered ${DEFAULT_MAC_POOL.MACAddressRangeStart}-${DEFAULT_MAC_POOL.MACAddressRangeEnd})`)
    }
    for (const other of statement(ctx.db, 'SELECT name, range_start AS start, range_end AS end FROM model_mac_pools WHERE id != ?').all(id ?? -1) as {name: string; start: string; end: string}[]) {
      if (first <= macValue(other.end) && macValue(other.start) <= last) conflict(`MAC address pool '${name}' (${object.MACAddressRangeStart}-${object.MACAddressRangeEnd}) overlaps pool '${other.name}' (${other.start}-${other.end})`)
    }
  },
  describe: (o) => `MACAddressPool ${o.Name} (${o.MACAddressRangeStart}-${o.MACAddressRangeEnd})`,
}

// ---- VMs ----

const ADDRESS_PROPS: Record<Family, 'IPv4Address' | 'IPv6Address'> = {4: 'IPv4Address', 6: 'IPv6Address'}
const ADDRESS_COLUMNS: Record<Family, string> = {4: 'ipv4_address', 6: 'ipv6_address'}

/** The CAs a VM may not take in its VM network: other VMs' and hand-made records' of the network's subnets. */
function usedAddresses(ctx: RuleContext, network: string, family: Family): Set<bigint> {
  const used = new Set<bigint>()
  const column = ADDRESS_COLUMNS[family]
  for (const row of statement(ctx.db, `SELECT ${column} AS address FROM model_vms
      WHERE vm_subnet IN (SELECT name FROM model_vm_subnets WHERE vm_network = ?) AND ${column} IS NOT NULL`).all(network) as {address: string}[]) {
    used.add(addressValue(row.address).value)
  }
  for (const row of statement(ctx.db, `SELECT customer_address AS address FROM lookup_records
      WHERE origin IS NULL AND type IN ('Static', 'Dynamic') AND virtual_subnet_id IN (SELECT virtual_subnet_id FROM model_vm_subnets WHERE vm_network = ?)`).all(network) as {address: string}[]) {
    const value = addressValue(row.address)
    if (value.family === family) used.add(value.value)
  }
  return used
}

/** Who else holds a CA in the VM network: another VM or a hand-made lookup record of one of its subnets. */
function addressHolder(ctx: RuleContext, network: string, family: Family, address: string, exceptVm: number): string | undefined {
  const column = ADDRESS_COLUMNS[family]
  const other = statement(ctx.db, `SELECT name FROM model_vms WHERE ${column} = ? AND id != ?
      AND vm_subnet IN (SELECT name FROM model_vm_subnets WHERE vm_network = ?) LIMIT 1`).get(address, exceptVm, network) as {name: string} | undefined
  if (other) return `VM '${other.name}'`
  const record = statement(ctx.db, `SELECT virtual_subnet_id AS vsid FROM lookup_records WHERE origin IS NULL AND customer_address = ? AND type IN ('Static', 'Dynamic')
      AND virtual_subnet_id IN (SELECT virtual_subnet_id FROM model_vm_subnets WHERE vm_network = ?) LIMIT 1`).get(address, network) as {vsid: number} | undefined
  return record && `a hand-made lookup record in VirtualSubnetID ${record.vsid}`
}

/** The lowest address of the subnet's pools of that family (or of the whole subnet when it has none) that is free. */
function allocateAddress(ctx: RuleContext, subnet: SubnetRow, prefix: string, vmName: string): string {
  const span = prefixSpan(prefix)
  const family = span.family
  const usable = hostSpan(span)
  const gateway = gatewayValue(span)
  const used = usedAddresses(ctx, subnet.network, family)
  const pools = (statement(ctx.db, 'SELECT name, range_start AS start, range_end AS end, reserved FROM model_ip_pools WHERE vm_subnet = ? COLLATE NOCASE ORDER BY id').all(subnet.name) as {name: string; start: string; end: string; reserved: string | null}[])
    .map((pool) => ({...pool, range: rangeSpan(pool.start, pool.end), reserved: splitList(pool.reserved).map(parseSpan)}))
    .filter((pool) => pool.range.family === family)
    .sort((a, b) => (a.range.first < b.range.first ? -1 : a.range.first > b.range.first ? 1 : 0))
  const ranges = pools.length > 0 ? pools : [{name: '', range: usable, reserved: [] as Span[]}]
  for (const {range, reserved} of ranges) {
    let value = range.first < usable.first ? usable.first : range.first
    const last = range.last > usable.last ? usable.last : range.last
    while (value <= last) {
      const skip = reserved.find((r) => r.first <= value && value <= r.last)
      if (skip) value = skip.last + 1n
      else if (value === gateway || used.has(value)) value++
      else return addressText(family, value)
    }
  }
  const where = pools.length === 0
    ? `VMSubnet '${subnet.name}' (${prefix}) has no free IPv${family} address`
    : `${pools.length === 1 ? 'static IP address pool' : 'static IP address pools'} ${pools.map((p) => `'${p.name}' (${spanText(p.range)})`).join(', ')} of VMSubnet '${subnet.name}' ${pools.length === 1 ? 'has' : 'have'} no free IPv${family} address`
  return conflict(`${where} for VM '${vmName}'; widen the range, add a pool (New-SCStaticIPAddressPool) or give -${ADDRESS_PROPS[family]}`)
}

/** The lowest MAC of the MAC pools (DEFAULT_MAC_POOL when none is defined) that no VM, adapter or record uses. */
function allocateMac(ctx: RuleContext, vmName: string): string {
  const used = new Set<bigint>([macValue(GATEWAY_MAC)])
  for (const table of ['model_vms', 'vm_network_adapters', 'lookup_records']) {
    for (const mac of statement(ctx.db, `SELECT DISTINCT mac_address FROM ${table}`).pluck().all() as string[]) used.add(macValue(mac))
  }
  let pools = statement(ctx.db, 'SELECT name, range_start AS start, range_end AS end FROM model_mac_pools ORDER BY id').all() as {name: string; start: string; end: string}[]
  if (pools.length === 0) pools = [{name: DEFAULT_MAC_POOL.Name, start: DEFAULT_MAC_POOL.MACAddressRangeStart, end: DEFAULT_MAC_POOL.MACAddressRangeEnd}]
  for (const pool of pools) {
    for (let value = macValue(pool.start), last = macValue(pool.end); value <= last && value <= MAC_MAX; value++) {
      if (!used.has(value)) return macText(value)
    }
  }
  return conflict(`${pools.length === 1 ? 'MAC address pool' : 'MAC address pools'} ${pools.map((p) => `'${p.name}' (${p.start}-${p.end})`).join(', ')} ${pools.length === 1 ? 'has' : 'have'} no free MAC address for VM '${vmName}'; add a pool (New-SCMACAddressPool) or give -MACAddress`)
}

export const vm: KindSpec = {
  name: 'VM',
  noun: 'SCVirtualMachine',
  cimClass: 'SCVirtualMachine',
  label: ['VM', 'VMs'],
  topic: 'vm',
  exportName: 'VMs',
  table: 'model_vms',
  properties: [
    nameProp('VM'),
    prop('VMSubnet', 'vm_subnet', {kind: 'string'}, 'Name of the VM subnet its network adapter is in', {create: 'mandatory'}),
    prop('VMHost', 'vm_host', {kind: 'string'}, 'Name of the host that runs it (Set moves it)', {create: 'mandatory', settable: true}),
    prop('IPv4Address', 'ipv4_address', {kind: 'ip'}, 'Its IPv4 CA (default: the lowest free in the subnet\'s pools; never the .1)', {settable: true}),
    prop('IPv6Address', 'ipv6_address', {kind: 'ip'}, 'Its IPv6 CA (default: the lowest free in the subnet\'s pools; never the ::1 gateway)', {settable: true}),
    prop('MACAddress', 'mac_address', {kind: 'mac'}, 'Its MAC (default: the lowest free in the MAC address pools)', {settable: true, allocated: true}),
    descriptionProp,
  ],
  complete(object, _given, ctx) {
    const subnet = subnetRow(ctx, object.VMSubnet)
    if (!subnet) return // check() names the missing subnet
    for (const prefix of subnet.prefixes) {
      const property = ADDRESS_PROPS[parsePrefix(prefix).family]
      if (object[property] === null) object[property] = allocateAddress(ctx, subnet, prefix, String(object.Name))
    }
    if (object.MACAddress === null) object.MACAddress = allocateMac(ctx, String(object.Name))
  },
  check(object, ctx, id) {
    const name = checkName(vm, object, ctx, id)
    const owner = `VM '${name}'`
    object.VMSubnet = reference(ctx, 'model_vm_subnets', 'VM subnet', 'VMSubnet', object.VMSubnet, owner)
    object.VMHost = reference(ctx, 'model_hosts', 'host', 'VMHost', object.VMHost, owner)
    const subnet = subnetRow(ctx, object.VMSubnet)!
    for (const family of [4, 6] as const) {
      const property = ADDRESS_PROPS[family]
      const value = object[property]
      if (value === null) continue
      const address = parseIp(String(value))
      if (address.family !== family) conflict(`-${property} ${value} is not an IPv${family} address`)
      const prefix = prefixOf(subnet, family)
      if (prefix === undefined) conflict(`-${property} ${value}: VMSubnet '${subnet.name}' has no IPv${family} prefix (${subnet.prefixes.join(', ')})`)
      const span = prefixSpan(prefix)
      const v = addressValue(address.text).value
      if (v === gatewayValue(span)) conflict(`-${property} ${value} is the gateway (.1) of VMSubnet '${subnet.name}' (${prefix}); no VM may use it`)
      const usable = hostSpan(span)
      if (v < usable.first || v > usable.last) conflict(`-${property} ${value} of ${owner} is not a VM address of VMSubnet '${subnet.name}' (${prefix}: ${spanText(usable)})`)
      const holder = addressHolder(ctx, subnet.network, family, address.text, id ?? -1)
      if (holder) conflict(`-${property} ${value} of ${owner} is already used by ${holder} in VM network '${subnet.network}'; a CA is unique within a VM network`)
    }
    if (object.IPv4Address === null && object.IPv6Address === null) conflict(`${owner} has no address: VMSubnet '${subnet.name}' (${subnet.prefixes.join(', ')})`)
    const mac = String(object.MACAddress)
    if (isMulticastMac(mac) || /^0+$/.test(mac) || mac === GATEWAY_MAC) conflict(`-MACAddress ${mac} of ${owner} is not a unicast MAC a VM may use (not multicast, zero or the gateway MAC ${GATEWAY_MAC})`)
    const twin = statement(ctx.db, 'SELECT name FROM model_vms WHERE mac_address = ? AND id != ?').get(mac, id ?? -1) as {name: string} | undefined
    if (twin) conflict(`-MACAddress ${mac} of ${owner} is already used by VM '${twin.name}'`)
  },
  describe: (o) => `VM ${o.Name} (${[o.IPv4Address, o.IPv6Address].filter((a) => a !== null).join(', ')}, ${o.MACAddress}, on ${o.VMHost})`,
}

/** In dependency order: what a kind refers to comes before it. */
export const MODEL_KINDS: readonly KindSpec[] = [host, macPool, vmNetwork, vmSubnet, ipPool, vm]
