// The object model's vocabulary: every policy kind (lookup records, routes, ...) is declared once as a
// KindSpec, and everything else — SQL, CLI flags, validation, output columns, JSON schemas — is derived
// from it, so the five NetWNV tables and the VM adapters share one implementation of new/get/set/remove.
import type Database from 'better-sqlite3'

export type Value = string | number | boolean | null
/** An object as PowerShell shows it: property name -> value, keys in display order. */
export type PolicyObject = Record<string, Value>

export type ValueType =
  | {kind: 'ip'}
  | {kind: 'prefix'}
  | {kind: 'mac'}
  | {kind: 'guid'}
  | {kind: 'bool'}
  | {kind: 'string'}
  | {kind: 'uint'; min: number; max: number}
  | {kind: 'enum'; values: readonly string[]}

export interface PropertySpec {
  /** The PowerShell property name: JSON key, list label, table header. */
  name: string
  /** The parameter that sets it, when it differs from the property (Hyper-V's -StaticMacAddress -> MacAddress). */
  param?: string
  column: string
  type: ValueType
  description: string
  /** How New treats it: mandatory, optional (with default), or not a New parameter (computed). */
  create: 'mandatory' | 'optional' | 'no'
  default?: Value
  /** Filled by the kind's complete() when not given (allocated MACs, interface names): never null. */
  allocated?: boolean
  /** A Get/Remove filter (array, wildcards on text). */
  filter?: boolean
  /** Set selects objects by it. */
  select?: boolean
  /** Set may change it. */
  settable?: boolean
  /** Part of the object's identity: -InputObject finds objects by these. */
  key?: boolean
  /** A bool New and Set take as a switch (`--dhcp`, `--no-dhcp`, `-Dhcp`, `-Dhcp:$false`); Get filters take values. */
  switch?: boolean
}

/** What a rule may look at: the store, read inside the command's transaction. */
export interface RuleContext {
  db: Database.Database
}

export interface KindSpec {
  /** Short name: LookupRecord. */
  name: string
  /** The noun of the cmdlets: NetVirtualizationLookupRecord. */
  noun: string
  /** The CIM class, named by PowerShell's not-found message. */
  cimClass: string
  /** What people call one and several of them: ['lookup record', 'lookup records']. */
  label: [string, string]
  /** The topic of the topic form: lookup-record. */
  topic: string
  /** The key of this kind in `hnv policy export` documents. */
  exportName: string
  table: string
  properties: PropertySpec[]
  /** Defaults that depend on other values (a 0.0.0.0 CA with no Type is a GatewayWildcard record). */
  complete?(object: PolicyObject, given: ReadonlySet<string>, ctx: RuleContext): void
  /** Cross-field and cross-object rules, run on every object New, Set or import would write. */
  check?(object: PolicyObject, ctx: RuleContext, id: number | null): void
  /** One line naming the object, for -WhatIf and errors. */
  describe(object: PolicyObject): string
}
