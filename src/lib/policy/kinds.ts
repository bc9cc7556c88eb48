// The policy kinds of reference/hnv.md §2 (and the VM network adapters of Add-VMNetworkAdapter), each
// declared once. Rules here are the only place a policy invariant is written down.
import {parseIp, parsePrefix, isUnspecified, maxPrefixLength} from '../net/ip.js'
import {isMulticastMac} from '../net/mac.js'
import {PolicyError} from '../cli/errors.js'
import {statement} from './sql.js'
import type {KindSpec, PolicyObject, PropertySpec, RuleContext} from './types.js'

export const VSID_MIN = 4096
export const VSID_MAX = 16_777_214
const UINT32_MAX = 4_294_967_295

export const RULES = ['TranslationMethodEncap', 'TranslationMethodNat', 'TranslationMethodNone'] as const
export const RECORD_TYPES = ['Static', 'Dynamic', 'L2Only', 'GatewayWildcard'] as const
export const ADDRESS_STATES = ['Invalid', 'Tentative', 'Duplicate', 'Deprecated', 'Preferred'] as const
/** The default a customer or provider route gets without -Metric (Windows' default route metric). */
export const DEFAULT_METRIC = 256

const vsid = {kind: 'uint', min: VSID_MIN, max: VSID_MAX} as const
const metric = {kind: 'uint', min: 0, max: UINT32_MAX} as const
const interfaceIndex = {kind: 'uint', min: 1, max: 2_147_483_647} as const

function prop(name: string, column: string, type: PropertySpec['type'], description: string, extra: Partial<PropertySpec> = {}): PropertySpec {
  return {name, column, type, description, create: 'optional', filter: true, ...extra}
}

function conflict(message: string): never {
  throw new PolicyError(message)
}

function sameFamilyNextHop(object: PolicyObject): void {
  const prefix = parsePrefix(String(object.DestinationPrefix))
  const nextHop = parseIp(String(object.NextHop))
  if (prefix.family !== nextHop.family) {
    conflict(`-NextHop ${object.NextHop} is IPv${nextHop.family} but -DestinationPrefix ${object.DestinationPrefix} is IPv${prefix.family}; use an IPv${prefix.family} next hop (${prefix.family === 4 ? '0.0.0.0' : '::'} for on-link)`)
  }
}

/** The routing domain a virtual subnet belongs to: its customer routes say so. */
function routingDomainOf(ctx: RuleContext, virtualSubnetId: number): string | undefined {
  const row = statement(ctx.db, 'SELECT routing_domain_id AS rdid FROM customer_routes WHERE virtual_subnet_id = ? LIMIT 1').get(virtualSubnetId) as {rdid: string} | undefined
  return row?.rdid
}

export const lookupRecord: KindSpec = {
  name: 'LookupRecord',
  noun: 'NetVirtualizationLookupRecord',
  cimClass: 'MSFT_NetVirtualizationLookupRecordSettingData',
  label: ['lookup record', 'lookup records'],
  topic: 'lookup-record',
  exportName: 'LookupRecords',
  table: 'lookup_records',
  properties: [
    prop('CustomerAddress', 'customer_address', {kind: 'ip'}, 'The VM\'s IP address in its virtual network (CA); 0.0.0.0 or :: for wildcard records', {create: 'mandatory', select: true, key: true}),
    prop('VirtualSubnetID', 'virtual_subnet_id', vsid, `Virtual subnet ID (VSID), ${VSID_MIN}..${VSID_MAX}`, {create: 'mandatory', select: true, key: true}),
    prop('MACAddress', 'mac_address', {kind: 'mac'}, 'The VM\'s MAC address for this CA, 12 hex digits', {create: 'mandatory', select: true, key: true}),
    prop('ProviderAddress', 'provider_address', {kind: 'ip'}, 'The provider address (PA) of the host that runs the VM', {create: 'mandatory', settable: true}),
    prop('CustomerID', 'customer_id', {kind: 'guid'}, 'A GUID identifying the tenant', {settable: true}),
    prop('Context', 'context', {kind: 'string'}, 'Free text kept with the record', {settable: true}),
    prop('Rule', 'rule', {kind: 'enum', values: RULES}, `How packets are translated: ${RULES.join(', ')}`, {create: 'mandatory', settable: true}),
    prop('VMName', 'vm_name', {kind: 'string'}, 'Name of the VM that owns the address', {settable: true}),
    prop('UseVmMACAddress', 'use_vm_mac_address', {kind: 'bool'}, 'Keep the VM\'s MAC on the wire (TranslationMethodNat only)', {settable: true, default: false}),
    prop('Type', 'type', {kind: 'enum', values: RECORD_TYPES}, `Record type: ${RECORD_TYPES.join(', ')} (default Static; a 0.0.0.0/:: CA without -Type is GatewayWildcard)`, {default: 'Static'}),
  ],
  complete(object, given) {
    if (!given.has('Type')) object.Type = isUnspecified(parseIp(String(object.CustomerAddress))) ? 'GatewayWildcard' : 'Static'
  },
  check(object, ctx, id) {
    const ca = String(object.CustomerAddress)
    const wildcard = isUnspecified(parseIp(ca))
    const type = String(object.Type)
    if (wildcard && (type === 'Static' || type === 'Dynamic')) {
      conflict(`-CustomerAddress ${ca} is only valid with -Type L2Only or GatewayWildcard; a ${type} record needs the VM's own address`)
    }
    if (!wildcard && (type === 'L2Only' || type === 'GatewayWildcard')) {
      conflict(`-Type ${type} needs -CustomerAddress 0.0.0.0 or ::, not ${ca}`)
    }
    if (object.UseVmMACAddress === true && object.Rule !== 'TranslationMethodNat') {
      conflict(`-UseVmMACAddress $true is only valid with -Rule TranslationMethodNat, not ${object.Rule}`)
    }
    const self = id ?? -1
    const vsidValue = Number(object.VirtualSubnetID)
    if (wildcard) {
      const twin = statement(ctx.db, 'SELECT 1 FROM lookup_records WHERE virtual_subnet_id = ? AND customer_address = ? AND mac_address = ? AND id != ?').get(vsidValue, ca, object.MACAddress, self)
      if (twin) conflict(`a ${type} lookup record for MACAddress ${object.MACAddress} in VirtualSubnetID ${vsidValue} already exists`)
      return
    }
    const existing = statement(ctx.db, "SELECT mac_address AS mac, provider_address AS pa FROM lookup_records WHERE virtual_subnet_id = ? AND customer_address = ? AND type IN ('Static', 'Dynamic') AND id != ?").get(vsidValue, ca, self) as {mac: string; pa: string} | undefined
    if (existing) {
      conflict(`a lookup record for CustomerAddress ${ca} in VirtualSubnetID ${vsidValue} already exists (MACAddress ${existing.mac}, ProviderAddress ${existing.pa}); change it with Set-NetVirtualizationLookupRecord or remove it first`)
    }
    const rdid = routingDomainOf(ctx, vsidValue)
    if (rdid) {
      const clash = statement(ctx.db, `SELECT virtual_subnet_id AS vsid FROM lookup_records
        WHERE customer_address = ? AND virtual_subnet_id != ? AND id != ?
          AND virtual_subnet_id IN (SELECT virtual_subnet_id FROM customer_routes WHERE routing_domain_id = ?) LIMIT 1`).get(ca, vsidValue, self, rdid) as {vsid: number} | undefined
      if (clash) {
        conflict(`CustomerAddress ${ca} is already used in VirtualSubnetID ${clash.vsid}, which shares routing domain ${rdid} with ${vsidValue}; a CA must be unique within a routing domain`)
      }
    }
    if (object.Rule === 'TranslationMethodNat') {
      const sharing = statement(ctx.db, `SELECT customer_address AS ca, virtual_subnet_id AS vsid FROM lookup_records
        WHERE rule = 'TranslationMethodNat' AND provider_address = ? AND id != ? AND NOT (customer_address = ? AND virtual_subnet_id = ?) LIMIT 1`).get(object.ProviderAddress, self, ca, vsidValue) as {ca: string; vsid: number} | undefined
      if (sharing) {
        conflict(`TranslationMethodNat needs one ProviderAddress per CA: ${object.ProviderAddress} already rewrites CustomerAddress ${sharing.ca} (VirtualSubnetID ${sharing.vsid})`)
      }
    }
    // A NAT PA is the VM's own address on the physical network: no encapsulating record may use it too.
    // Two queries, each answered by an index (a PA shared by 100k encap records must not be scanned per insert).
    const mixed = statement(ctx.db, object.Rule === 'TranslationMethodNat'
      ? `SELECT customer_address AS ca, virtual_subnet_id AS vsid, rule FROM lookup_records
          WHERE provider_address = ? AND id != ? AND rule != 'TranslationMethodNat' LIMIT 1`
      : `SELECT customer_address AS ca, virtual_subnet_id AS vsid, rule FROM lookup_records
          WHERE rule = 'TranslationMethodNat' AND provider_address = ? AND id != ? LIMIT 1`).get(object.ProviderAddress, self) as {ca: string; vsid: number; rule: string} | undefined
    if (mixed) {
      conflict(`ProviderAddress ${object.ProviderAddress} of a ${object.Rule} record is already used by the ${mixed.rule} record of CustomerAddress ${mixed.ca} (VirtualSubnetID ${mixed.vsid}); a TranslationMethodNat PA belongs to its CA alone`)
    }
  },
  describe: (o) => `CustomerAddress ${o.CustomerAddress}, VirtualSubnetID ${o.VirtualSubnetID}, MACAddress ${o.MACAddress}, ProviderAddress ${o.ProviderAddress}`,
}

export const customerRoute: KindSpec = {
  name: 'CustomerRoute',
  noun: 'NetVirtualizationCustomerRoute',
  cimClass: 'MSFT_NetVirtualizationCustomerRouteSettingData',
  label: ['customer route', 'customer routes'],
  topic: 'customer-route',
  exportName: 'CustomerRoutes',
  table: 'customer_routes',
  properties: [
    prop('RoutingDomainID', 'routing_domain_id', {kind: 'guid'}, 'The routing domain (VM network) GUID, braces optional', {create: 'mandatory', select: true, key: true}),
    prop('VirtualSubnetID', 'virtual_subnet_id', vsid, `Virtual subnet ID (VSID), ${VSID_MIN}..${VSID_MAX}`, {create: 'mandatory', select: true, key: true}),
    prop('DestinationPrefix', 'destination_prefix', {kind: 'prefix'}, 'Destination prefix in the virtual network, e.g. 10.0.0.0/24', {create: 'mandatory', select: true, key: true}),
    prop('NextHop', 'next_hop', {kind: 'ip'}, 'Next hop CA; 0.0.0.0 or :: means on-link', {create: 'mandatory', select: true, key: true}),
    prop('Metric', 'metric', metric, `Route metric: among equal prefixes the lowest wins (default ${DEFAULT_METRIC})`, {settable: true, default: DEFAULT_METRIC}),
  ],
  check(object, ctx, id) {
    sameFamilyNextHop(object)
    const vsidValue = Number(object.VirtualSubnetID)
    const rdid = String(object.RoutingDomainID)
    const self = id ?? -1
    const other = statement(ctx.db, 'SELECT routing_domain_id AS rdid FROM customer_routes WHERE virtual_subnet_id = ? AND routing_domain_id != ? LIMIT 1').get(vsidValue, rdid) as {rdid: string} | undefined
    if (other) conflict(`VirtualSubnetID ${vsidValue} already belongs to routing domain ${other.rdid}; a virtual subnet belongs to exactly one RoutingDomainID, not also ${rdid}`)
    const twin = statement(ctx.db, 'SELECT 1 FROM customer_routes WHERE routing_domain_id = ? AND virtual_subnet_id = ? AND destination_prefix = ? AND next_hop = ? AND id != ?').get(rdid, vsidValue, object.DestinationPrefix, object.NextHop, self)
    if (twin) conflict(`a customer route ${object.DestinationPrefix} via ${object.NextHop} already exists for VirtualSubnetID ${vsidValue} in ${rdid}; change its metric with Set-NetVirtualizationCustomerRoute`)
    // Joining a subnet to a routing domain must not make two of its VMs share a CA.
    const clash = statement(ctx.db, `SELECT a.customer_address AS ca, b.virtual_subnet_id AS vsid FROM lookup_records a
      JOIN lookup_records b ON b.customer_address = a.customer_address AND b.virtual_subnet_id != a.virtual_subnet_id
      WHERE a.virtual_subnet_id = ? AND a.type IN ('Static', 'Dynamic')
        AND b.virtual_subnet_id IN (SELECT virtual_subnet_id FROM customer_routes WHERE routing_domain_id = ?) LIMIT 1`).get(vsidValue, rdid) as {ca: string; vsid: number} | undefined
    if (clash) conflict(`VirtualSubnetID ${vsidValue} and ${clash.vsid} both hold CustomerAddress ${clash.ca}; they cannot share routing domain ${rdid}`)
  },
  describe: (o) => `RoutingDomainID ${o.RoutingDomainID}, VirtualSubnetID ${o.VirtualSubnetID}, DestinationPrefix ${o.DestinationPrefix}, NextHop ${o.NextHop}`,
}

export const providerAddress: KindSpec = {
  name: 'ProviderAddress',
  noun: 'NetVirtualizationProviderAddress',
  cimClass: 'MSFT_NetVirtualizationProviderAddressSettingData',
  label: ['provider address', 'provider addresses'],
  topic: 'provider-address',
  exportName: 'ProviderAddresses',
  table: 'provider_addresses',
  properties: [
    prop('ProviderAddress', 'provider_address', {kind: 'ip'}, 'This host\'s address on the physical network (PA)', {create: 'mandatory', select: true, key: true}),
    prop('InterfaceIndex', 'interface_index', interfaceIndex, 'Index of the physical interface that holds the PA (ip -o link)', {create: 'mandatory', select: true}),
    prop('PrefixLength', 'prefix_length', {kind: 'uint', min: 0, max: 128}, 'Prefix length of the PA\'s subnet', {create: 'mandatory', settable: true}),
    prop('VlanID', 'vlan_id', {kind: 'uint', min: 0, max: 4094}, 'VLAN of the PA, 0 for none', {settable: true, default: 0}),
    prop('AddressState', 'address_state', {kind: 'enum', values: ADDRESS_STATES}, 'State of the address', {create: 'no', select: true, default: 'Preferred'}),
    prop('MACAddress', 'mac_address', {kind: 'mac'}, 'MAC address used with the PA', {settable: true}),
    prop('ManagedByCluster', 'managed_by_cluster', {kind: 'bool'}, 'Whether a failover cluster manages the PA', {create: 'no', default: false}),
  ],
  check(object, ctx, id) {
    const family = parseIp(String(object.ProviderAddress)).family
    if (Number(object.PrefixLength) > maxPrefixLength(family)) {
      conflict(`-PrefixLength ${object.PrefixLength} is too long for IPv${family} ProviderAddress ${object.ProviderAddress}; use 0 to ${maxPrefixLength(family)}`)
    }
    if (statement(ctx.db, 'SELECT 1 FROM provider_addresses WHERE provider_address = ? AND id != ?').get(object.ProviderAddress, id ?? -1)) {
      conflict(`ProviderAddress ${object.ProviderAddress} already exists`)
    }
  },
  describe: (o) => `ProviderAddress ${o.ProviderAddress}, InterfaceIndex ${o.InterfaceIndex}`,
}

export const providerRoute: KindSpec = {
  name: 'ProviderRoute',
  noun: 'NetVirtualizationProviderRoute',
  cimClass: 'MSFT_NetVirtualizationProviderRouteSettingData',
  label: ['provider route', 'provider routes'],
  topic: 'provider-route',
  exportName: 'ProviderRoutes',
  table: 'provider_routes',
  properties: [
    prop('InterfaceIndex', 'interface_index', interfaceIndex, 'Index of the physical interface', {create: 'mandatory', select: true, key: true}),
    prop('DestinationPrefix', 'destination_prefix', {kind: 'prefix'}, 'Destination prefix on the physical network', {create: 'mandatory', select: true, key: true}),
    prop('NextHop', 'next_hop', {kind: 'ip'}, 'Next hop on the physical network; 0.0.0.0 or :: means on-link', {create: 'mandatory', select: true, key: true}),
    prop('Metric', 'metric', metric, `Route metric (default ${DEFAULT_METRIC})`, {settable: true, default: DEFAULT_METRIC}),
  ],
  check(object, ctx, id) {
    sameFamilyNextHop(object)
    const twin = statement(ctx.db, 'SELECT 1 FROM provider_routes WHERE interface_index = ? AND destination_prefix = ? AND next_hop = ? AND id != ?').get(object.InterfaceIndex, object.DestinationPrefix, object.NextHop, id ?? -1)
    if (twin) conflict(`a provider route ${object.DestinationPrefix} via ${object.NextHop} on InterfaceIndex ${object.InterfaceIndex} already exists; change its metric with Set-NetVirtualizationProviderRoute`)
  },
  describe: (o) => `InterfaceIndex ${o.InterfaceIndex}, DestinationPrefix ${o.DestinationPrefix}, NextHop ${o.NextHop}`,
}

/** Linux interface names: 1..15 bytes, no '/', ':' or white space (dev_valid_name in the kernel). */
const IFNAME = /^(?!\.{1,2}$)[^/:\s]{1,15}$/

/** Hyper-V's own OUI, as Add-VMNetworkAdapter's dynamic MACs use: the first one no adapter holds. */
function allocateMac(ctx: RuleContext): string {
  const used = new Set((statement(ctx.db, "SELECT mac_address AS mac FROM vm_network_adapters WHERE mac_address LIKE '00155D%'").all() as {mac: string}[]).map((r) => r.mac))
  for (let n = 1; n < 0xffffff; n++) {
    const mac = `00155D${n.toString(16).toUpperCase().padStart(6, '0')}`
    if (!used.has(mac)) return mac
  }
  return conflict('no free MAC address left in 00155D000001..00155DFFFFFE; give -StaticMacAddress')
}

/** hnv-<vm>, readable in `ip link`, with -N added when the VM has more than one adapter. */
export function allocateInterfaceName(ctx: RuleContext, vmName: string): string {
  const base = `hnv-${vmName.toLowerCase().replace(/[^a-z0-9-]/g, '')}`.slice(0, 15)
  const taken = (name: string) => statement(ctx.db, 'SELECT 1 FROM vm_network_adapters WHERE interface_name = ?').get(name)
  if (!taken(base)) return base
  for (let n = 1; ; n++) {
    const suffix = `-${n}`
    const name = base.slice(0, 15 - suffix.length) + suffix
    if (!taken(name)) return name
  }
}

export const vmNetworkAdapter: KindSpec = {
  name: 'VMNetworkAdapter',
  noun: 'VMNetworkAdapter',
  cimClass: 'VMNetworkAdapter',
  label: ['VM network adapter', 'VM network adapters'],
  topic: 'vm-network-adapter',
  exportName: 'VMNetworkAdapters',
  table: 'vm_network_adapters',
  properties: [
    prop('VMName', 'vm_name', {kind: 'string'}, 'Name of the VM', {create: 'mandatory', select: true, key: true}),
    prop('Name', 'name', {kind: 'string'}, 'Name of the adapter within the VM', {select: true, key: true, default: 'Network Adapter'}),
    prop('MacAddress', 'mac_address', {kind: 'mac'}, 'The adapter\'s MAC (allocated from 00155D000001 upward when not given)', {param: 'StaticMacAddress', settable: true, allocated: true}),
    prop('VirtualSubnetId', 'virtual_subnet_id', {kind: 'uint', min: 0, max: VSID_MAX}, `Virtual subnet of the port: ${VSID_MIN}..${VSID_MAX}, or 0 for not virtualized`, {settable: true, default: 0}),
    prop('SwitchName', 'switch_name', {kind: 'string'}, 'Name of the virtual switch', {settable: true}),
    prop('InterfaceName', 'interface_name', {kind: 'string'}, 'The Linux TAP interface the engine creates for the adapter (default hnv-<vm name>)', {settable: true, allocated: true}),
    prop('Dhcp', 'dhcp', {kind: 'bool'}, "The engine answers the adapter's DHCP with its lookup record's CA, the subnet's prefix and the .1 gateway", {settable: true, default: false, switch: true}),
    prop('MssClamp', 'mss_clamp', {kind: 'bool'}, "The engine lowers the MSS of the adapter's TCP SYN and SYN-ACK, both ways, to what fits the underlay after encapsulation", {settable: true, default: false, switch: true}),
  ],
  complete(object, _given, ctx) {
    if (object.MacAddress === null) object.MacAddress = allocateMac(ctx)
    if (object.InterfaceName === null) object.InterfaceName = allocateInterfaceName(ctx, String(object.VMName))
  },
  check(object, ctx, id) {
    const self = id ?? -1
    const vsidValue = Number(object.VirtualSubnetId)
    if (vsidValue !== 0 && vsidValue < VSID_MIN) {
      conflict(`-VirtualSubnetId ${vsidValue} is reserved for VLANs; use 0 (not virtualized) or ${VSID_MIN}..${VSID_MAX}`)
    }
    if (object.MacAddress !== null && (isMulticastMac(String(object.MacAddress)) || /^0+$/.test(String(object.MacAddress)))) {
      conflict(`-StaticMacAddress ${object.MacAddress} is not a unicast MAC address`)
    }
    if (object.InterfaceName !== null && !IFNAME.test(String(object.InterfaceName))) {
      conflict(`-InterfaceName '${object.InterfaceName}' is not a Linux interface name: 1 to 15 characters without '/', ':' or spaces`)
    }
    if (statement(ctx.db, 'SELECT 1 FROM vm_network_adapters WHERE vm_name = ? COLLATE NOCASE AND name = ? COLLATE NOCASE AND id != ?').get(object.VMName, object.Name, self)) {
      conflict(`VM '${object.VMName}' already has a network adapter named '${object.Name}'; use -Name to add another`)
    }
    const macOwner = statement(ctx.db, 'SELECT vm_name AS vm, name FROM vm_network_adapters WHERE mac_address = ? AND id != ?').get(object.MacAddress, self) as {vm: string; name: string} | undefined
    if (macOwner) conflict(`MAC address ${object.MacAddress} is already used by adapter '${macOwner.name}' of VM '${macOwner.vm}'`)
    const nameOwner = statement(ctx.db, 'SELECT vm_name AS vm, name FROM vm_network_adapters WHERE interface_name = ? AND id != ?').get(object.InterfaceName, self) as {vm: string; name: string} | undefined
    if (nameOwner) conflict(`interface name ${object.InterfaceName} is already used by adapter '${nameOwner.name}' of VM '${nameOwner.vm}'`)
  },
  describe: (o) => `VMName ${o.VMName}, Name ${o.Name}`,
}

export const KINDS: readonly KindSpec[] = [lookupRecord, customerRoute, providerAddress, providerRoute, vmNetworkAdapter]

export function propertyOf(kind: KindSpec, name: string): PropertySpec {
  const found = kind.properties.find((p) => p.name === name)
  if (!found) throw new Error(`${kind.name} has no property ${name}`)
  return found
}
