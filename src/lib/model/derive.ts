// Derivation: the low-level policy the model implies (reference/hnv.md §2 conventions), and its
// reconciliation with the store's derived rows (origin NOT NULL). Full recompute, then the difference:
// rows that should go are deleted, rows that changed are updated, new ones inserted — each through the
// change log, so a running engine reloads just those rows. Hand-made rows (origin NULL) are never touched;
// a derived row colliding with one is a PolicyError naming both.
//
// What is derived (for the local host chosen with --host; see README.md):
// - per subnet prefix: the on-link customer route (NextHop 0.0.0.0 or ::, Metric 255) and the lookup record
//   of the .1 gateway (GATEWAY_MAC, GATEWAY_RECORD_PA, src/lib/policy/gateway.ts, as the demo and the examples do);
// - per VM address: its lookup record, naming the first provider address of its host;
// - with a local host: only the VM networks that have a VM on it, its provider addresses, and one VM
//   network adapter (the engine's TAP) per VM it runs; without one: every VM network, no PA, no adapter.
import type Database from 'better-sqlite3'
import {PolicyError} from '../cli/errors.js'
import {gatewayOf, GATEWAY_MAC, GATEWAY_RECORD_PA} from '../policy/gateway.js'
import {parsePrefix} from '../net/ip.js'
import {allocateInterfaceName, customerRoute, lookupRecord, providerAddress, vmNetworkAdapter} from '../policy/kinds.js'
import {statement} from '../policy/sql.js'
import type {PolicyStore} from '../policy/store.js'
import type {KindSpec, PolicyObject, Value} from '../policy/types.js'
import {splitList} from './addresses.js'
import {parseProviderAddresses} from './kinds.js'
import {getLocalHost} from './rules.js'
import type {DerivedChange, DerivedTable} from './types.js'

/** The metric of the on-link route of each subnet, as published scripts give it. */
export const ON_LINK_METRIC = 255
/** The name of the one adapter a model VM gets. */
export const ADAPTER_NAME = 'Network Adapter'

export interface DerivedRow {
  table: DerivedTable
  /** `VM Blue1`, `VMSubnet Blue-Subnet`, `Host host1`. */
  origin: string
  /** Every property of the low-level kind, by property name. */
  object: PolicyObject
}

interface TableSpec {
  kind: KindSpec
  /** The natural key: derived rows are matched to stored ones by it. */
  key(object: PolicyObject): string
  /** Hand-made rows the object would collide with (unique keys of the table). */
  collisions: {sql: string; params(object: PolicyObject): Value[]}[]
}

const TABLES: Record<DerivedTable, TableSpec> = {
  ProviderAddresses: {
    kind: providerAddress,
    key: (o) => String(o.ProviderAddress),
    collisions: [{sql: 'provider_address = ?', params: (o) => [o.ProviderAddress]}],
  },
  CustomerRoutes: {
    kind: customerRoute,
    key: (o) => `${o.RoutingDomainID}|${o.VirtualSubnetID}|${o.DestinationPrefix}|${o.NextHop}`,
    collisions: [{sql: 'routing_domain_id = ? AND virtual_subnet_id = ? AND destination_prefix = ? AND next_hop = ?', params: (o) => [o.RoutingDomainID, o.VirtualSubnetID, o.DestinationPrefix, o.NextHop]}],
  },
  LookupRecords: {
    kind: lookupRecord,
    key: (o) => `${o.VirtualSubnetID}|${o.CustomerAddress}|${o.MACAddress}`,
    collisions: [
      {sql: 'virtual_subnet_id = ? AND customer_address = ? AND mac_address = ?', params: (o) => [o.VirtualSubnetID, o.CustomerAddress, o.MACAddress]},
      {sql: "virtual_subnet_id = ? AND customer_address = ? AND type IN ('Static', 'Dynamic')", params: (o) => [o.VirtualSubnetID, o.CustomerAddress]},
    ],
  },
  VMNetworkAdapters: {
    kind: vmNetworkAdapter,
    key: (o) => String(o.MacAddress),
    collisions: [
      {sql: 'mac_address = ?', params: (o) => [o.MacAddress]},
      {sql: 'vm_name = ? COLLATE NOCASE AND name = ? COLLATE NOCASE', params: (o) => [o.VMName, o.Name]},
      {sql: 'interface_name = ?', params: (o) => [o.InterfaceName]},
    ],
  },
}

/** Insert order: a record's rules read its VSID's routes, so routes first; deletes go in reverse. */
const ORDER: DerivedTable[] = ['ProviderAddresses', 'CustomerRoutes', 'LookupRecords', 'VMNetworkAdapters']

interface ModelRows {
  hosts: {name: string; pas: string; ifindex: number}[]
  networks: {name: string; rdid: string}[]
  subnets: {name: string; network: string; prefix: string; vsid: number}[]
  vms: {name: string; subnet: string; host: string; v4: string | null; v6: string | null; mac: string}[]
}

function readModel(db: Database.Database): ModelRows {
  return {
    hosts: statement(db, 'SELECT name, provider_addresses AS pas, interface_index AS ifindex FROM model_hosts ORDER BY id').all() as ModelRows['hosts'],
    networks: statement(db, 'SELECT name, routing_domain_id AS rdid FROM model_vm_networks ORDER BY id').all() as ModelRows['networks'],
    subnets: statement(db, 'SELECT name, vm_network AS network, prefix, virtual_subnet_id AS vsid FROM model_vm_subnets ORDER BY id').all() as ModelRows['subnets'],
    vms: statement(db, 'SELECT name, vm_subnet AS subnet, vm_host AS host, ipv4_address AS v4, ipv6_address AS v6, mac_address AS mac FROM model_vms ORDER BY id').all() as ModelRows['vms'],
  }
}

const lower = (s: string) => s.toLowerCase()

function record(ca: string, vsid: number, mac: string, pa: string, vmName: string | null): PolicyObject {
  return {CustomerAddress: ca, VirtualSubnetID: vsid, MACAddress: mac, ProviderAddress: pa, CustomerID: null, Context: null, Rule: 'TranslationMethodEncap', VMName: vmName, UseVmMACAddress: false, Type: 'Static'}
}

/**
 * Every low-level row the model implies now (validated model assumed), in a stable order. Allocates the
 * TAP name of a new adapter (hnv-<vm>, as Add-VMNetworkAdapter does); throws nothing of its own.
 */
export function deriveAll(db: Database.Database): DerivedRow[] {
  const model = readModel(db)
  const local = getLocalHost(db)
  const hostByName = new Map(model.hosts.map((h) => [lower(h.name), h]))
  const networkByName = new Map(model.networks.map((n) => [lower(n.name), n]))
  const subnetByName = new Map(model.subnets.map((s) => [lower(s.name), s]))
  const isLocal = (hostName: string) => local !== null && lower(hostName) === lower(local)
  const needed = new Set<string>()
  for (const vm of model.vms) {
    const subnet = subnetByName.get(lower(vm.subnet))
    if (subnet && (local === null || isLocal(vm.host))) needed.add(lower(subnet.network))
  }
  if (local === null) for (const network of model.networks) needed.add(lower(network.name))

  const rows: DerivedRow[] = []
  const localHost = local === null ? undefined : hostByName.get(lower(local))
  if (localHost) {
    for (const pa of parseProviderAddresses(localHost.pas)) {
      rows.push({table: 'ProviderAddresses', origin: `Host ${localHost.name}`, object: {ProviderAddress: pa.address, InterfaceIndex: localHost.ifindex, PrefixLength: pa.length, VlanID: 0, AddressState: 'Preferred', MACAddress: null, ManagedByCluster: false}})
    }
  }
  for (const subnet of model.subnets) {
    const network = networkByName.get(lower(subnet.network))
    if (!network || !needed.has(lower(network.name))) continue
    const origin = `VMSubnet ${subnet.name}`
    for (const prefix of splitList(subnet.prefix)) {
      const family = parsePrefix(prefix).family
      rows.push({table: 'CustomerRoutes', origin, object: {RoutingDomainID: network.rdid, VirtualSubnetID: subnet.vsid, DestinationPrefix: prefix, NextHop: family === 4 ? '0.0.0.0' : '::', Metric: ON_LINK_METRIC}})
      rows.push({table: 'LookupRecords', origin, object: record(gatewayOf(prefix), subnet.vsid, GATEWAY_MAC, GATEWAY_RECORD_PA, null)})
    }
  }
  // A VM keeps its TAP's name while it exists, whatever else of it changes (MAC, subnet).
  const existingTaps = new Map((statement(db, 'SELECT origin, interface_name AS tap FROM vm_network_adapters WHERE origin IS NOT NULL').all() as {origin: string; tap: string}[]).map((r) => [r.origin, r.tap]))
  const newTaps = new Set<string>()
  for (const vm of model.vms) {
    const subnet = subnetByName.get(lower(vm.subnet))
    const host = hostByName.get(lower(vm.host))
    if (!subnet || !host || !needed.has(lower(subnet.network))) continue
    const origin = `VM ${vm.name}`
    const pa = parseProviderAddresses(host.pas)[0].address
    for (const address of [vm.v4, vm.v6]) if (address !== null) rows.push({table: 'LookupRecords', origin, object: record(address, subnet.vsid, vm.mac, pa, vm.name)})
    if (isLocal(vm.host)) {
      let tap = existingTaps.get(origin)
      if (tap === undefined) {
        tap = allocateInterfaceName({db}, vm.name)
        // Two new adapters in one derivation must not get the same name: number the later ones.
        for (let n = 1; newTaps.has(tap); n++) tap = `${tap.slice(0, 15 - String(n).length - 1)}-${n}`
      }
      newTaps.add(tap)
      rows.push({table: 'VMNetworkAdapters', origin, object: {VMName: vm.name, Name: ADAPTER_NAME, MacAddress: vm.mac, VirtualSubnetId: subnet.vsid, SwitchName: null, InterfaceName: tap}})
    }
  }
  return rows
}

function toColumn(value: Value): unknown {
  return typeof value === 'boolean' ? Number(value) : value
}

function same(a: Value, b: Value): boolean {
  return toColumn(a) === toColumn(b)
}

/**
 * Makes the store's derived rows exactly `desired`: deletes, updates, inserts, each logged in the change
 * log. Call inside a write. Returns what changed. Throws PolicyError when a derived row collides with a
 * hand-made one (naming both) or breaks a rule of its kind; the caller's transaction then rolls back.
 */
export function reconcile(store: PolicyStore, desired: DerivedRow[]): DerivedChange[] {
  const db = store.db
  const ctx = {db}
  const changes: DerivedChange[] = []
  const plans = ORDER.map((table) => {
    const spec = TABLES[table]
    const kind = spec.kind
    const columns = kind.properties.map((p) => `${p.column} AS "${p.name}"`).join(', ')
    const existing = new Map<string, {id: number; origin: string; object: PolicyObject}>()
    for (const row of statement(db, `SELECT id, origin AS "@origin", ${columns} FROM ${kind.table} WHERE origin IS NOT NULL ORDER BY id`).all() as ({id: number; '@origin': string} & PolicyObject)[]) {
      const {id, '@origin': origin, ...object} = row
      for (const p of kind.properties) if (p.type.kind === 'bool') object[p.name] = object[p.name] === 1
      existing.set(spec.key(object), {id, origin, object})
    }
    const wanted = new Map<string, DerivedRow>()
    for (const row of desired.filter((r) => r.table === table)) {
      // What the model does not decide (an adapter's Dhcp, say) takes the kind's default.
      for (const p of kind.properties) if (row.object[p.name] === undefined) row.object[p.name] = p.default ?? null
      const key = spec.key(row.object)
      const twin = wanted.get(key)
      if (twin) throw new PolicyError(`${kind.label[0]} ${kind.describe(row.object)} would be derived twice, from ${twin.origin} and from ${row.origin}`)
      wanted.set(key, row)
    }
    return {table, spec, kind, existing, wanted}
  })
  // Deletes first (in reverse order), so that updates and inserts never meet a row that is going away.
  for (const {table, kind, existing, wanted} of [...plans].reverse()) {
    for (const [key, row] of existing) {
      if (wanted.has(key)) continue
      statement(db, `DELETE FROM ${kind.table} WHERE id = ?`).run(row.id)
      store.logChange(kind.table, row.id)
      changes.push({operation: 'Remove', table, origin: row.origin, object: row.object})
    }
  }
  for (const {table, spec, kind, existing, wanted} of plans) {
    const columns = kind.properties.map((p) => p.column)
    for (const [key, row] of wanted) {
      const current = existing.get(key)
      if (current && current.origin === row.origin && kind.properties.every((p) => same(current.object[p.name], row.object[p.name]))) continue
      for (const collision of spec.collisions) {
        const handMade = statement(db, `SELECT ${kind.properties.map((p) => `${p.column} AS "${p.name}"`).join(', ')} FROM ${kind.table} WHERE origin IS NULL AND ${collision.sql} LIMIT 1`).get(...collision.params(row.object)) as PolicyObject | undefined
        if (handMade) {
          throw new PolicyError(`the ${kind.label[0]} derived from ${row.origin} (${kind.describe(row.object)}) collides with the hand-made ${kind.label[0]} ${kind.describe(handMade)}; remove the hand-made one (Remove-${kind.noun}) or change ${row.origin}`)
        }
      }
      try {
        kind.check?.(row.object, ctx, current?.id ?? null)
      } catch (error) {
        if (error instanceof PolicyError) throw new PolicyError(`the ${kind.label[0]} derived from ${row.origin} (${kind.describe(row.object)}) breaks a rule: ${error.message}`)
        throw error
      }
      const values = kind.properties.map((p) => toColumn(row.object[p.name]))
      let id: number
      if (current) {
        statement(db, `UPDATE ${kind.table} SET ${columns.map((c) => `${c} = ?`).join(', ')}, origin = ? WHERE id = ?`).run(...values, row.origin, current.id)
        id = current.id
      } else {
        id = Number(statement(db, `INSERT INTO ${kind.table} (${columns.join(', ')}, origin) VALUES (${columns.map(() => '?').join(', ')}, ?)`).run(...values, row.origin).lastInsertRowid)
      }
      store.logChange(kind.table, id)
      changes.push({operation: current ? 'Set' : 'New', table, origin: row.origin, object: row.object})
    }
  }
  return changes
}
