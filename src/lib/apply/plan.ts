// Declarative apply: make the store's model hold what a tenant file names. One pass does the work — in a
// ModelService transaction that is rolled back for a plan and committed for an apply — so a plan shows
// exactly what the apply will do, allocations included (the model allocates the lowest free VSID, address
// and MAC in file order, so the same file on an empty store gives the same IDs everywhere).
//
// Objects are matched by Name (case-insensitive). A missing one is created with what the file gives; an
// existing one has the settable values the file gives set when they differ (values the file leaves out,
// allocated ones included, are kept: that is what makes a second apply a no-op); with prune, model objects
// the file does not name are removed first (VMs before subnets before networks). Raw low-level records of
// the file's Policy section are created when missing and updated when they differ, never pruned.
import {PolicyError, UsageError} from '../cli/errors.js'
import type {Progress} from '../cli/progress.js'
import {parseSpan, spanText, splitList} from '../model/addresses.js'
import {parseProviderAddresses} from '../model/kinds.js'
import type {ModelService} from '../model/service.js'
import {parsePrefix} from '../net/ip.js'
import type {DerivedChange} from '../model/types.js'
import {KINDS} from '../policy/kinds.js'
import type {RawFilters, RawInput} from '../policy/service.js'
import type {KindSpec, PolicyObject, PropertySpec, Value} from '../policy/types.js'
import {displayValue, paramName, parseValue} from '../policy/values.js'
import type {FileObject, TenantFile} from './file.js'
import {LIST_FIELDS, sectionKinds} from './schema.js'
import {problemAt} from './source.js'

export type Operation = 'New' | 'Set' | 'Remove'

/** One line of a plan: a model object (or raw record) created, changed or removed. */
export interface PlanChange {
  Operation: Operation
  /** VMNetwork, VMSubnet, VM, ..., LookupRecord for raw records, LocalHost for --host. */
  Kind: string
  Name: string
  /** New: every value, allocated ones included; Set: `Field old -> new`; Remove: what it was. */
  Details: string
}

export interface PlanResult {
  changes: PlanChange[]
  /** Low-level rows derivation created, changed or removed. */
  derived: DerivedChange[]
  /** False for a plan (everything rolled back). */
  applied: boolean
}

export interface PlanOptions {
  /** Keep nothing: a plan, -WhatIf. */
  dryRun: boolean
  /** Remove model objects the file does not name. */
  prune?: boolean
  /** The host this store is deployed on (its PAs and adapters are derived). */
  host?: string
  progress?: Progress
}

/** How many steps run() takes, for a progress bar. */
export function planSteps(file: TenantFile): number {
  let n = 1
  for (const list of file.sections.values()) n += list.length
  for (const list of file.policy.values()) n += list.length
  return n
}

/** Plans (dryRun) or applies a file in one transaction. Throws PolicyError naming the file line of the object at fault. */
export function runPlan(service: ModelService, file: TenantFile, options: PlanOptions): PlanResult {
  const changes: PlanChange[] = []
  const tick = () => options.progress?.tick()
  service.transaction(() => {
    if (options.host !== undefined) {
      const current = service.localHost()
      if (current === null || current.toLowerCase() !== options.host.toLowerCase()) {
        service.setLocalHost(options.host)
        changes.push({Operation: 'Set', Kind: 'LocalHost', Name: options.host, Details: `this store is host ${options.host} (was ${current ?? 'none'})`})
      }
    }
    if (options.prune) for (const kind of [...sectionKinds()].reverse()) prune(service, kind, file, changes)
    for (const kind of sectionKinds()) {
      const byName = new Map(service.get(kind).objects.map((o) => [nameOf(o).toLowerCase(), o]))
      for (const object of file.sections.get(kind.exportName) ?? []) {
        at(file, object, () => converge(service, kind, object.input, byName, changes))
        tick()
      }
    }
    for (const kind of RAW_ORDER) {
      for (const object of file.policy.get(kind.exportName) ?? []) {
        at(file, object, () => convergeRecord(service, kind, object.input, changes))
        tick()
      }
    }
    if (file.global) convergeGlobal(service, file.global, changes)
  }, {dryRun: options.dryRun})
  tick()
  return {changes, derived: service.lastDerivedChanges, applied: !options.dryRun}
}

/** Raw records in the order their rules need (routes before the records that look up their domain). */
const RAW_ORDER = ['ProviderAddresses', 'ProviderRoutes', 'CustomerRoutes', 'LookupRecords', 'VMNetworkAdapters'].map((name) => KINDS.find((k) => k.exportName === name)!)

/**
 * Runs fn, reporting its PolicyError or UsageError at the object's place in the file: at the field the
 * message names (`-VMSubnet`) when the file gives it, else at the object.
 */
function at(file: TenantFile, object: FileObject, fn: () => void): void {
  try {
    fn()
  } catch (error) {
    if (!(error instanceof PolicyError || error instanceof UsageError)) throw error
    const field = [...error.message.matchAll(/(?:^|[\s(,'])-([A-Z][A-Za-z0-9]*)/g)].map((m) => m[1]).find((name) => name in object.input)
    throw new PolicyError(problemAt(file.document, field ? [...object.path, field] : object.path, error.message))
  }
}

const nameOf = (object: PolicyObject) => String(object.Name)

function prune(service: ModelService, kind: KindSpec, file: TenantFile, changes: PlanChange[]): void {
  const named = new Set((file.sections.get(kind.exportName) ?? []).map((o) => String(o.input.Name).toLowerCase()))
  for (const object of service.get(kind).objects) {
    if (named.has(nameOf(object).toLowerCase())) continue
    service.remove(kind, {inputObjects: [object]})
    changes.push({Operation: 'Remove', Kind: kind.name, Name: nameOf(object), Details: describeValues(kind, object)})
  }
}

function converge(service: ModelService, kind: KindSpec, input: RawInput, byName: Map<string, PolicyObject>, changes: PlanChange[]): void {
  const name = String(input.Name)
  const existing = byName.get(name.toLowerCase())
  if (!existing) {
    const created = service.create(kind, input).objects[0]
    byName.set(name.toLowerCase(), created)
    changes.push({Operation: 'New', Kind: kind.name, Name: nameOf(created), Details: describeValues(kind, created)})
    return
  }
  const settable: RawInput = {}
  for (const property of kind.properties) {
    const param = paramName(property)
    if (!(param in input) || property.name === 'Name' || sameValue(property, input[param], existing[property.name])) continue
    if (property.settable) settable[param] = input[param]
    else throw new PolicyError(`-${param} is ${displayValue(existing[property.name])} for ${kind.name} ${nameOf(existing)} in the store and cannot be changed in place; remove the ${kind.label[0]} first (hnv ${kind.topic} remove), or rename it in the file and apply with --prune`)
  }
  const changed = setChanged(() => service.set(kind, {inputObjects: [existing]}, settable).objects[0], kind, existing, settable)
  if (changed) {
    byName.set(name.toLowerCase(), changed)
    changes.push({Operation: 'Set', Kind: kind.name, Name: nameOf(existing), Details: describeDifference(kind, existing, changed)})
  }
}

/**
 * Sets the values that differ (given holds only those: an UPDATE that changes nothing would still move
 * the revision); returns the changed object, or null when the kind's normalisation made it the same.
 */
function setChanged(set: () => PolicyObject, kind: KindSpec, existing: PolicyObject, given: RawInput): PolicyObject | null {
  if (Object.keys(given).length === 0) return null
  const after = set()
  return kind.properties.every((p) => after[p.name] === existing[p.name]) ? null : after
}

function convergeRecord(service: ModelService, kind: KindSpec, item: RawInput, changes: PlanChange[]): void {
  const params = toParams(kind, item)
  const keys = kind.properties.filter((p) => p.key)
  const filters: RawFilters = Object.fromEntries(keys.map((p) => [paramName(p), [params[paramName(p)] ?? p.default ?? null]]))
  const existing = service.policy.get(kind, filters).objects[0]
  if (!existing) {
    const created = service.policy.create(kind, params).objects[0]
    changes.push({Operation: 'New', Kind: kind.name, Name: kind.describe(created), Details: ''})
    return
  }
  const settable: RawInput = Object.fromEntries(
    kind.properties.filter((p) => p.settable && paramName(p) in params && !sameValue(p, params[paramName(p)], existing[p.name])).map((p) => [paramName(p), params[paramName(p)]]),
  )
  const changed = setChanged(() => service.policy.set(kind, {inputObjects: [existing]}, settable).objects[0], kind, existing, settable)
  if (changed) changes.push({Operation: 'Set', Kind: kind.name, Name: kind.describe(existing), Details: describeDifference(kind, existing, changed)})
}

function convergeGlobal(service: ModelService, global: RawInput, changes: PlanChange[]): void {
  const before = service.policy.getGlobal()
  if (global.UseExternalRouter === undefined || global.UseExternalRouter === before.UseExternalRouter) return
  const after = service.policy.setGlobal(global)
  changes.push({Operation: 'Set', Kind: 'Global', Name: 'Global', Details: `UseExternalRouter ${displayValue(before.UseExternalRouter)} -> ${displayValue(after.UseExternalRouter)}`})
}

/** A raw record may use property names (export) or parameter names (New); computed properties are dropped. */
function toParams(kind: KindSpec, item: RawInput): RawInput {
  const params: RawInput = {}
  for (const [key, value] of Object.entries(item)) {
    const property = kind.properties.find((p) => p.name === key || paramName(p) === key)
    if (property && property.create !== 'no') params[paramName(property)] = value
  }
  return params
}

function sameValue(property: PropertySpec, given: unknown, current: Value | undefined): boolean {
  if (LIST_FIELDS.has(property.name)) return normalList(property.name, given) === normalList(property.name, current)
  try {
    const parsed = parseValue(property, given)
    return typeof parsed === 'string' && typeof current === 'string' ? parsed.toLowerCase() === current.toLowerCase() : parsed === current
  } catch {
    return false
  }
}

/** A list field in the model's canonical form (so `198.51.100.11` equals the stored `198.51.100.11/24`). */
function normalList(name: string, value: unknown): string {
  const items = splitList(value === null || value === undefined ? null : String(value))
  try {
    if (name === 'ProviderAddresses') return parseProviderAddresses(items.join(',')).map((pa) => `${pa.address}/${pa.length}`).join(',')
    if (name === 'Prefix') return items.map((item) => parsePrefix(item).text).join(',')
    if (name === 'IPAddressReservedSet') return items.map((item) => spanText(parseSpan(item))).join(',')
  } catch {
    // Not valid: certainly different; the model's own check names the problem.
  }
  return items.join(',').toLowerCase()
}

/** `VMSubnet Blue-A, VMHost host1, IPv4Address 10.0.0.2, MACAddress 02484E560000`: every value but the name. */
export function describeValues(kind: KindSpec, object: PolicyObject): string {
  return kind.properties
    .filter((p) => p.name !== 'Name' && object[p.name] !== null && object[p.name] !== undefined && object[p.name] !== '')
    .map((p) => `${p.name} ${displayValue(object[p.name])}`)
    .join(', ')
}

function describeDifference(kind: KindSpec, before: PolicyObject, after: PolicyObject): string {
  return kind.properties
    .filter((p) => before[p.name] !== after[p.name])
    .map((p) => `${p.name} ${shown(before[p.name])} -> ${shown(after[p.name])}`)
    .join(', ')
}

/** A value in a change line: `(none)` for null, so `Description (none) -> moved` reads. */
function shown(value: Value | undefined): string {
  return value === null || value === undefined || value === '' ? '(none)' : displayValue(value)
}

export function summary(result: PlanResult): string {
  const count = (op: Operation) => result.changes.filter((c) => c.Operation === op).length
  const derived = (op: Operation) => result.derived.filter((c) => c.operation === op).length
  if (result.changes.length === 0 && result.derived.length === 0) return 'no changes: the store already holds what the file describes'
  const verb = result.applied ? ['created', 'changed', 'removed'] : ['to create', 'to change', 'to remove']
  return `${result.applied ? 'applied' : 'plan'}: ${count('New')} ${verb[0]}, ${count('Set')} ${verb[1]}, ${count('Remove')} ${verb[2]}; ` +
    `low-level rows derived: ${derived('New')} ${verb[0]}, ${derived('Set')} ${verb[1]}, ${derived('Remove')} ${verb[2]}`
}

export const PLAN_COLUMNS = ['Operation', 'Kind', 'Name', 'Details']

/** The plan's rows for the output kit; with derived, the low-level rows too (Name is the model object they come from). */
export function planRows(result: PlanResult, derived: boolean): PolicyObject[] {
  const rows: PolicyObject[] = result.changes.map((c) => ({...c}))
  if (derived) {
    for (const change of result.derived) {
      const kind = KINDS.find((k) => k.exportName === change.table)!
      rows.push({Operation: change.operation, Kind: kind.name, Name: change.origin, Details: kind.describe(change.object)})
    }
  }
  return rows
}
