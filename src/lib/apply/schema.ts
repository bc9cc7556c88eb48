// The tenant file (`hnv plan|apply -f`, `hnv policy test -f`): its JSON Schema, generated from the model
// and policy kind declarations like every other schema, published as schema/TenantFile.json and used to
// validate files before anything else reads them.
//
//   Version: 1
//   Hosts:                [{Name, ProviderAddresses, ...}]        what `hnv host get --json` prints
//   VMNetworks:           [{Name, AddressFamily, ...}]
//   VMSubnets:            [{Name, VMNetwork, Prefix, ...}]
//   StaticIPAddressPools: [{Name, VMSubnet, ...}]
//   MACAddressPools:      [{Name, MACAddressRangeStart, ...}]
//   VMs:                  [{Name, VMSubnet, VMHost, ...}]
//   Policy:               raw low-level records, as `hnv policy export` writes them
import {KINDS} from '../policy/kinds.js'
import type {KindSpec, PropertySpec} from '../policy/types.js'
import {paramName} from '../policy/values.js'
import {MODEL_KINDS} from '../model/kinds.js'

/** Model fields that hold a list: a YAML list, or the comma-separated text the CLI prints. */
export const LIST_FIELDS: ReadonlySet<string> = new Set(['ProviderAddresses', 'Prefix', 'IPAddressReservedSet'])

export const TENANT_FILE_VERSION = 1

/** The model kinds in the order a file is applied (references point backwards). */
export function sectionKinds(): readonly KindSpec[] {
  return MODEL_KINDS
}

function valueSchema(property: PropertySpec, name: string): Record<string, unknown> {
  const t = property.type
  const base: Record<string, unknown> =
    t.kind === 'uint' ? {type: 'integer', minimum: t.min, maximum: t.max}
    : t.kind === 'bool' ? {type: 'boolean'}
    : t.kind === 'enum' ? {type: 'string', enum: [...t.values]}
    : {type: 'string', minLength: 1}
  if (LIST_FIELDS.has(name)) return {description: property.description, anyOf: [base, {type: 'array', items: base, minItems: 1}]}
  // A value given in the file may be null where the property is optional: "not given".
  const nullable = property.create !== 'mandatory' && name !== 'Name'
  return {description: property.description, ...(nullable ? {anyOf: [base, {type: 'null'}]} : base)}
}

/** One object of a kind as a file gives it: the parameters New takes, by parameter name. */
function inputSchema(kind: KindSpec, description: string): Record<string, unknown> {
  const given = kind.properties.filter((p) => p.create !== 'no')
  return {
    description,
    type: 'object',
    additionalProperties: false,
    required: given.filter((p) => p.create === 'mandatory').map(paramName),
    properties: Object.fromEntries(given.map((p) => [paramName(p), valueSchema(p, paramName(p))])),
  }
}

/** A raw record as `policy export` writes it (property names) or New takes it (parameter names). */
function recordSchema(kind: KindSpec): Record<string, unknown> {
  const names = kind.properties.flatMap((p) => [...new Set([p.name, paramName(p)])].map((name) => [name, valueSchema(p, name)] as const))
  return {
    description: `One ${kind.label[0]} (New-${kind.noun})`,
    type: 'object',
    additionalProperties: false,
    required: kind.properties.filter((p) => p.create === 'mandatory' && p.name === paramName(p)).map((p) => p.name),
    properties: Object.fromEntries(names),
  }
}

export function tenantFileSchema(): Record<string, unknown> {
  const sections = Object.fromEntries(
    sectionKinds().map((kind) => [kind.exportName, {type: 'array', description: `${kind.label[1]} (New-${kind.noun})`, items: inputSchema(kind, `One ${kind.label[0]}, as New-${kind.noun} takes it`)}]),
  )
  const policy = {
    type: 'object',
    description: 'Raw low-level policy, as `hnv policy export` writes it; created beside what the model derives and never pruned',
    additionalProperties: false,
    properties: {
      Global: {type: 'object', additionalProperties: false, properties: {UseExternalRouter: {type: 'boolean'}}},
      ...Object.fromEntries(KINDS.map((kind) => [kind.exportName, {type: 'array', items: recordSchema(kind)}])),
    },
  }
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://hnv.dev/schema/TenantFile.json',
    title: 'TenantFile',
    description: 'What `hnv plan -f`, `hnv apply -f` and `hnv policy test -f` read: hosts, VM networks, subnets, pools and VMs (YAML or JSON)',
    type: 'object',
    additionalProperties: false,
    properties: {
      Version: {type: 'integer', enum: [TENANT_FILE_VERSION], description: 'The file format version'},
      ...sections,
      Policy: policy,
    },
  }
}

const output = (title: string, description: string, properties: Record<string, unknown>) => ({
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: `https://hnv.dev/schema/${title}.json`,
  title,
  description,
  type: 'object',
  additionalProperties: false,
  required: Object.keys(properties),
  properties,
})

/** What plan, apply, policy test and tenant onboard print with --json (one object of the list, or the object). */
export function outputSchemas(): Record<string, Record<string, unknown>> {
  const operation = {type: 'string', enum: ['New', 'Set', 'Remove']}
  return {
    'PlanChange.json': output('PlanChange', 'One line of hnv plan / hnv apply --json: a model object (or raw record) created, changed or removed', {
      Operation: operation,
      Kind: {type: 'string', description: 'Host, VMNetwork, VMSubnet, StaticIPAddressPool, MACAddressPool, VM, LocalHost, Global, or a low-level kind (LookupRecord, ...)'},
      Name: {type: 'string', description: 'The object; for derived rows (--derived), the model object they come from'},
      Details: {type: 'string', description: 'New: its values, allocated ones included; Set: Field old -> new; Remove: what it was'},
    }),
    'PolicyTestFinding.json': output('PolicyTestFinding', 'One problem hnv policy test --json found', {
      Check: {type: 'string', enum: ['prefix-overlap', 'ca-outside-prefix', 'pa-not-owned', 'next-hop-unresolved', 'vsid-in-two-domains', 'vm-on-gateway', 'pool-overlap']},
      Objects: {type: 'string', description: 'The objects involved, separated by "; "'},
      Problem: {type: 'string'},
    }),
    'TenantOnboard.json': output('TenantOnboard', 'What hnv tenant onboard --json prints once applied', {
      VMNetwork: {type: 'string'},
      Changes: {type: 'integer', minimum: 0},
      CommandLine: {type: 'string', description: 'The same onboarding without questions'},
      File: {type: 'string', description: 'The same as a tenant file for hnv apply -f (YAML)'},
    }),
  }
}
