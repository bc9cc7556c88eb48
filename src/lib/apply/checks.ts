// `hnv policy test`: consistency checks over a policy that change nothing. They read plain data — the
// low-level tables as `policy export` writes them, and the model objects when there are any — so a store,
// a tenant file and a bare policy document are checked by the same rules. Each finding names the objects.
import {isUnspecified, parseIp} from '../net/ip.js'
import type {Host, StaticIPAddressPool, VM, VMSubnet} from '../model/types.js'
import {PolicyError} from '../cli/errors.js'
import {GATEWAY_RECORD_PA} from '../policy/gateway.js'
import type {ModelService} from '../model/service.js'
import {KINDS} from '../policy/kinds.js'
import type {KindSpec, PolicyObject} from '../policy/types.js'
import {paramName, parseValue} from '../policy/values.js'
import {tenantFile} from './file.js'
import {problemAt, type Path, type SourceDocument} from './source.js'
import {addressText, addressValue, gatewayValue, overlaps, prefixSpan, rangeSpan, splitList, type Span} from '../model/addresses.js'

export const CHECKS = {
  'prefix-overlap': 'overlapping prefixes inside one routing domain',
  'ca-outside-prefix': "a customer address outside its subnet's prefix",
  'pa-not-owned': 'a lookup record whose provider address no host owns',
  'next-hop-unresolved': 'a customer route whose next hop has no lookup record',
  'vsid-in-two-domains': 'a virtual subnet in two routing domains',
  'vm-on-gateway': "a VM on its subnet's .1 (the gateway's address)",
  'pool-overlap': 'IP pools that overlap',
} as const

export type CheckName = keyof typeof CHECKS

export interface Finding {
  Check: CheckName
  /** The objects involved, each as `Kind name-or-description`. */
  Objects: string[]
  Problem: string
}

/** The low-level tables (a `policy export` document's sections). */
export interface LowLevelPolicy {
  LookupRecords: PolicyObject[]
  CustomerRoutes: PolicyObject[]
  ProviderAddresses: PolicyObject[]
  VMNetworkAdapters: PolicyObject[]
}

/**
 * The model objects the checks read (src/lib/model/types.ts, by name); a file's objects may lack what is
 * allocated later, and those fields are then not checked.
 */
export interface CheckModel {
  hosts: Pick<Host, 'Name' | 'ProviderAddresses'>[]
  subnets: (Pick<VMSubnet, 'Name' | 'VMNetwork' | 'Prefix'> & {VirtualSubnetID?: number | null})[]
  pools: (Pick<StaticIPAddressPool, 'Name' | 'VMSubnet'> & {IPAddressRangeStart?: string | null; IPAddressRangeEnd?: string | null})[]
  vms: (Pick<VM, 'Name' | 'VMSubnet'> & {IPv4Address?: string | null; IPv6Address?: string | null})[]
}

export interface CheckInput {
  policy: LowLevelPolicy
  model?: CheckModel
  /**
   * Which rules read the model and which the low-level tables: 'derived' when the tables hold what the model
   * derived (a store), so each problem is reported once; 'separate' when they are independent (a file's
   * model objects beside its raw records).
   */
  tables?: 'derived' | 'separate'
  /** Provider addresses whose records are not VMs' (the derived gateway records), never reported as unowned. */
  gatewayProviderAddresses?: readonly string[]
}

export interface CheckReport {
  findings: Finding[]
  /** Rules that could not run, and why (a store without hosts cannot say who owns a PA). */
  skipped: {Check: CheckName; Reason: string}[]
}

/** The subnet's gateway (.1) as text. */
const gatewayAddress = (prefix: string): string => {
  const span = prefixSpan(prefix)
  return addressText(span.family, gatewayValue(span))
}
const spanContains = (span: Span, address: string): boolean => {
  const a = addressValue(address)
  return a.family === span.family && a.value >= span.first && a.value <= span.last
}

const route = (r: PolicyObject) => `CustomerRoute ${r.DestinationPrefix} via ${r.NextHop} (VSID ${r.VirtualSubnetID}, RDID ${r.RoutingDomainID})`
const record = (r: PolicyObject) => `LookupRecord ${r.CustomerAddress} (VSID ${r.VirtualSubnetID}, MAC ${r.MACAddress}, PA ${r.ProviderAddress}${r.VMName ? `, VM ${r.VMName}` : ''})`
const onLink = (r: PolicyObject) => isUnspecified(parseIp(String(r.NextHop)))
const isWildcard = (r: PolicyObject) => r.Type === 'L2Only' || r.Type === 'GatewayWildcard'

export function runChecks(input: CheckInput): CheckReport {
  const findings: Finding[] = []
  const skipped: CheckReport['skipped'] = []
  const add = (Check: CheckName, Objects: string[], Problem: string) => findings.push({Check, Objects, Problem})
  const {policy, model} = input
  const routes = policy.CustomerRoutes
  const records = policy.LookupRecords

  // A virtual subnet in two routing domains (the routes say which domain a VSID is in).
  const domainsOf = new Map<number, PolicyObject[]>()
  for (const r of routes) {
    const list = domainsOf.get(Number(r.VirtualSubnetID)) ?? []
    if (!list.some((o) => o.RoutingDomainID === r.RoutingDomainID)) list.push(r)
    domainsOf.set(Number(r.VirtualSubnetID), list)
  }
  for (const [vsid, list] of domainsOf) {
    if (list.length > 1) add('vsid-in-two-domains', list.map(route), `VirtualSubnetID ${vsid} is in routing domains ${list.map((r) => r.RoutingDomainID).join(' and ')}; a VSID belongs to exactly one`)
  }

  // Overlapping on-link prefixes of different subnets in one routing domain.
  const links = routes.filter(onLink).map((r) => ({r, span: prefixSpan(String(r.DestinationPrefix))}))
  for (let i = 0; i < links.length; i++) {
    for (let j = i + 1; j < links.length; j++) {
      const [a, b] = [links[i], links[j]]
      if (a.r.RoutingDomainID === b.r.RoutingDomainID && a.r.VirtualSubnetID !== b.r.VirtualSubnetID && overlaps(a.span, b.span)) {
        add('prefix-overlap', [route(a.r), route(b.r)], `${a.r.DestinationPrefix} (VSID ${a.r.VirtualSubnetID}) and ${b.r.DestinationPrefix} (VSID ${b.r.VirtualSubnetID}) overlap in routing domain ${a.r.RoutingDomainID}`)
      }
    }
  }

  // Lookup records against their subnet's on-link prefixes: outside it, or a VM on the .1.
  const adapterMacs = new Set(policy.VMNetworkAdapters.map((a) => String(a.MacAddress)))
  for (const r of records) {
    if (isWildcard(r)) continue
    const ca = String(r.CustomerAddress)
    const family = parseIp(ca).family
    const prefixes = links.filter((l) => Number(l.r.VirtualSubnetID) === Number(r.VirtualSubnetID) && l.span.family === family)
    if (prefixes.length === 0) continue
    if (!prefixes.some((l) => spanContains(l.span, ca))) {
      add('ca-outside-prefix', [record(r), ...prefixes.map((l) => route(l.r))], `CustomerAddress ${ca} is outside ${prefixes.map((l) => l.r.DestinationPrefix).join(', ')}, the prefix of VirtualSubnetID ${r.VirtualSubnetID}`)
      continue
    }
    const isVm = (r.VMName !== null && r.VMName !== undefined && r.VMName !== '') || adapterMacs.has(String(r.MACAddress))
    const gateway = prefixes.find((l) => gatewayAddress(String(l.r.DestinationPrefix)) === ca)
    if (isVm && gateway) add('vm-on-gateway', [record(r), route(gateway.r)], `CustomerAddress ${ca} is the gateway (.1) of ${gateway.r.DestinationPrefix}; no VM may use it`)
  }

  // Customer routes through a next hop that no lookup record of the routing domain resolves.
  for (const r of routes) {
    if (onLink(r)) continue
    const vsids = new Set(routes.filter((o) => o.RoutingDomainID === r.RoutingDomainID).map((o) => Number(o.VirtualSubnetID)))
    const resolved = records.some((rec) => rec.CustomerAddress === r.NextHop && vsids.has(Number(rec.VirtualSubnetID)))
    if (!resolved) add('next-hop-unresolved', [route(r)], `next hop ${r.NextHop} has no lookup record in routing domain ${r.RoutingDomainID}; traffic to ${r.DestinationPrefix} is dropped`)
  }

  // Provider addresses nobody owns: this store's own PAs plus every host the model knows.
  const hosts = model?.hosts ?? []
  if (hosts.length === 0 && policy.ProviderAddresses.length === 0) {
    skipped.push({Check: 'pa-not-owned', Reason: 'no hosts in the model and no provider addresses: nothing says which PAs exist'})
  } else if (hosts.length === 0) {
    skipped.push({Check: 'pa-not-owned', Reason: 'no hosts in the model: the store knows only its own provider addresses, so records of other hosts cannot be told from strays'})
  } else {
    const owners = new Map<string, string>()
    for (const pa of policy.ProviderAddresses) owners.set(parseIp(String(pa.ProviderAddress)).text, 'this host')
    for (const host of hosts) for (const pa of hostAddresses(host)) owners.set(pa, host.Name)
    const gateways = new Set((input.gatewayProviderAddresses ?? []).map((pa) => parseIp(pa).text))
    for (const r of records) {
      const pa = parseIp(String(r.ProviderAddress)).text
      if (!owners.has(pa) && !gateways.has(pa)) add('pa-not-owned', [record(r)], `ProviderAddress ${pa} belongs to no host (hosts: ${hosts.map((h) => `${h.Name} ${hostAddresses(h).join(', ')}`).join('; ')})`)
    }
  }

  if (model) checkModel(model, input.tables ?? 'derived', add)
  return {findings, skipped}
}

/** A host's PAs without their lengths: `198.51.100.11/24,2001:db8::11/64` -> two addresses. */
function hostAddresses(host: Pick<Host, 'ProviderAddresses'>): string[] {
  return splitList(host.ProviderAddresses).map((pa) => parseIp(pa.split('/')[0]).text)
}

function checkModel(model: CheckModel, tables: 'derived' | 'separate', add: (check: CheckName, objects: string[], problem: string) => void): void {
  const subnetNamed = new Map(model.subnets.map((s) => [s.Name.toLowerCase(), s]))
  const subnetOf = (name: string) => subnetNamed.get(name.toLowerCase())
  const spansOf = (subnet: {Prefix: string}) => splitList(subnet.Prefix).map((prefix) => ({prefix, span: prefixSpan(prefix)}))

  // Pools that could hand out one address twice: in one subnet, or in subnets of one routing domain.
  const pools = model.pools
    .filter((p) => p.IPAddressRangeStart && p.IPAddressRangeEnd)
    .map((p) => ({p, range: `${p.IPAddressRangeStart}-${p.IPAddressRangeEnd}`, span: rangeSpan(p.IPAddressRangeStart!, p.IPAddressRangeEnd!), subnet: subnetOf(p.VMSubnet)}))
  for (let i = 0; i < pools.length; i++) {
    for (let j = i + 1; j < pools.length; j++) {
      const [a, b] = [pools[i], pools[j]]
      if (a.subnet && b.subnet && a.subnet.VMNetwork.toLowerCase() === b.subnet.VMNetwork.toLowerCase() && overlaps(a.span, b.span)) {
        add('pool-overlap', [`StaticIPAddressPool ${a.p.Name} (${a.range}, subnet ${a.p.VMSubnet})`, `StaticIPAddressPool ${b.p.Name} (${b.range}, subnet ${b.p.VMSubnet})`], `pools ${a.p.Name} and ${b.p.Name} of VM network ${a.subnet.VMNetwork} overlap`)
      }
    }
  }
  for (const {p, range, span, subnet} of pools) {
    if (subnet && !spansOf(subnet).some((s) => s.span.family === span.family && s.span.first <= span.first && span.last <= s.span.last)) {
      add('ca-outside-prefix', [`StaticIPAddressPool ${p.Name} (${range})`, `VMSubnet ${subnet.Name} (${subnet.Prefix})`], `pool ${p.Name} hands out addresses outside ${subnet.Prefix}, the prefix of subnet ${subnet.Name}`)
    }
  }
  if (tables === 'derived') return

  // A file's model objects: the rules the derived tables would otherwise show.
  for (let i = 0; i < model.subnets.length; i++) {
    for (let j = i + 1; j < model.subnets.length; j++) {
      const [a, b] = [model.subnets[i], model.subnets[j]]
      const sameNetwork = a.VMNetwork.toLowerCase() === b.VMNetwork.toLowerCase()
      if (sameNetwork && spansOf(a).some((x) => spansOf(b).some((y) => overlaps(x.span, y.span)))) {
        add('prefix-overlap', [`VMSubnet ${a.Name} (${a.Prefix})`, `VMSubnet ${b.Name} (${b.Prefix})`], `${a.Prefix} and ${b.Prefix} overlap in VM network ${a.VMNetwork}`)
      }
      if (!sameNetwork && a.VirtualSubnetID != null && a.VirtualSubnetID === b.VirtualSubnetID) {
        add('vsid-in-two-domains', [`VMSubnet ${a.Name} (VM network ${a.VMNetwork})`, `VMSubnet ${b.Name} (VM network ${b.VMNetwork})`], `VirtualSubnetID ${a.VirtualSubnetID} is in VM networks ${a.VMNetwork} and ${b.VMNetwork}; a VSID belongs to exactly one`)
      }
    }
  }
  for (const vm of model.vms) {
    const subnet = subnetOf(vm.VMSubnet)
    if (!subnet) continue
    for (const address of [vm.IPv4Address, vm.IPv6Address]) {
      if (!address) continue
      const ca = parseIp(address)
      const objects = [`VM ${vm.Name} (${ca.text})`, `VMSubnet ${subnet.Name} (${subnet.Prefix})`]
      const home = spansOf(subnet).find((s) => s.span.family === ca.family && spanContains(s.span, ca.text))
      if (!home) add('ca-outside-prefix', objects, `VM ${vm.Name}'s address ${ca.text} is outside ${subnet.Prefix}, the prefix of subnet ${subnet.Name}`)
      else if (ca.text === gatewayAddress(home.prefix)) add('vm-on-gateway', objects, `VM ${vm.Name} has ${ca.text}, the gateway (.1) of ${home.prefix}; no VM may use it`)
    }
  }
}

/** The checks of a store: its low-level tables hold what its model derived. */
export function storeCheckInput(service: ModelService): CheckInput {
  const exported = service.policy.exportPolicy() as unknown as LowLevelPolicy
  return {
    policy: {LookupRecords: exported.LookupRecords, CustomerRoutes: exported.CustomerRoutes, ProviderAddresses: exported.ProviderAddresses, VMNetworkAdapters: exported.VMNetworkAdapters},
    model: {hosts: service.hosts(), subnets: service.vmSubnets(), pools: service.ipPools(), vms: service.vms()},
    tables: 'derived',
    gatewayProviderAddresses: [GATEWAY_RECORD_PA],
  }
}

/**
 * The checks of a file: a tenant file (its model objects, beside its raw Policy records), or a policy
 * document as `policy export` writes it (low-level only). Values are parsed as New would, so problems in
 * them are reported at their line.
 */
export function fileCheckInput(document: SourceDocument): CheckInput {
  const data = (document.data ?? {}) as Record<string, unknown>
  const lowLevel = KINDS.some((kind) => kind.exportName in data)
  const policy: LowLevelPolicy = {LookupRecords: [], CustomerRoutes: [], ProviderAddresses: [], VMNetworkAdapters: []}
  const read = (kind: KindSpec, items: {input: Record<string, unknown>; path: Path}[]) => {
    if (!(kind.exportName in policy)) return
    policy[kind.exportName as keyof LowLevelPolicy] = items.map(({input, path}) => {
      const object: PolicyObject = {}
      for (const [key, raw] of Object.entries(input)) {
        const property = kind.properties.find((p) => p.name.toLowerCase() === key.toLowerCase() || paramName(p).toLowerCase() === key.toLowerCase())
        if (!property) throw new PolicyError(problemAt(document, [...path, key], `${kind.name} has no property '${key}'; allowed: ${kind.properties.map((p) => p.name).join(', ')}`))
        try {
          object[property.name] = parseValue(property, raw)
        } catch (error) {
          if (error instanceof PolicyError) throw new PolicyError(problemAt(document, [...path, key], error.message))
          throw error
        }
      }
      for (const property of kind.properties) if (!(property.name in object)) object[property.name] = property.default ?? null
      return object
    })
  }
  if (lowLevel) {
    for (const kind of KINDS) {
      const items = data[kind.exportName]
      if (!Array.isArray(items)) continue
      read(kind, items.map((input, index) => ({input: input as Record<string, unknown>, path: [kind.exportName, index]})))
    }
    return {policy}
  }
  const file = tenantFile(document)
  for (const kind of KINDS) read(kind, file.policy.get(kind.exportName) ?? [])
  const section = <T>(name: string) => (file.sections.get(name) ?? []).map((o) => o.input as unknown as T)
  return {
    policy,
    model: {hosts: section('Hosts'), subnets: section('VMSubnets'), pools: section('StaticIPAddressPools'), vms: section('VMs')},
    tables: 'separate',
    gatewayProviderAddresses: [GATEWAY_RECORD_PA],
  }
}

export const FINDING_COLUMNS = ['Check', 'Objects', 'Problem']

export function findingRows(report: CheckReport): PolicyObject[] {
  return report.findings.map((f) => ({Check: f.Check, Objects: f.Objects.join('; '), Problem: f.Problem}))
}
