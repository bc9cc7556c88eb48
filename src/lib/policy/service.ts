// New/Get/Set/Remove semantics shared by every policy kind (reference/hnv.md §2), over the store. Services
// validate and write inside one transaction and return objects; they never print.
import {PolicyError, UsageError} from '../cli/errors.js'
import {KINDS} from './kinds.js'
import {statement} from './sql.js'
import {PolicyStore} from './store.js'
import type {KindSpec, PolicyObject, PropertySpec, Value} from './types.js'
import {hasWildcard, isTextType, paramName, parseValue, wildcardToLike} from './values.js'

/** Raw values per parameter name, as the command line or a document gave them. */
export type RawInput = Record<string, unknown>
/** Raw filter values per parameter name: alternatives within a parameter, AND across parameters. */
export type RawFilters = Record<string, unknown[] | undefined>

/** Which objects Set and Remove act on: filters, or objects piped in (-InputObject). */
export type Selection = {filters: RawFilters} | {inputObjects: unknown[]}

export interface Change {
  operation: 'New' | 'Set' | 'Remove'
  kind: KindSpec
  object: PolicyObject
}

export interface Outcome {
  objects: PolicyObject[]
  /** PowerShell's non-terminating errors: filter values that matched nothing. */
  notFound: string[]
  /** What was (or, with -WhatIf, would be) changed. */
  changes: Change[]
}

interface Row extends PolicyObject {
  id: number
}

interface CompiledFilter {
  where: string
  params: unknown[]
  exact: {property: PropertySpec; value: Value}[]
}

export class PolicyService {
  constructor(readonly store: PolicyStore) {}

  get(kind: KindSpec, filters: RawFilters): Outcome {
    const filter = compileFilters(kind, filters)
    const rows = this.query(kind, filter)
    return {objects: rows.map(stripId), notFound: notFound(kind, filter, rows), changes: []}
  }

  create(kind: KindSpec, input: RawInput, whatIf = false): Outcome {
    return this.transaction(whatIf, () => {
      const object = this.insert(kind, input)
      return {objects: [object], notFound: [], changes: [{operation: 'New', kind, object}]}
    })
  }

  set(kind: KindSpec, selection: Selection, input: RawInput, whatIf = false): Outcome {
    const changes = parseChanges(kind, input)
    return this.transaction(whatIf, () => {
      const {rows, notFound} = this.select(kind, selection)
      const objects = rows.map((row) => {
        const {id, ...current} = row
        const updated: PolicyObject = {...current, ...changes}
        kind.check?.(updated, {db: this.store.db}, id)
        const settable = kind.properties.filter((p) => p.settable)
        statement(this.store.db, `UPDATE ${kind.table} SET ${settable.map((p) => `${p.column} = ?`).join(', ')} WHERE id = ?`)
          .run(...settable.map((p) => toColumn(updated[p.name])), id)
        this.store.logChange(kind.table, id)
        return updated
      })
      return {objects, notFound, changes: objects.map((object) => ({operation: 'Set' as const, kind, object}))}
    })
  }

  remove(kind: KindSpec, selection: Selection, whatIf = false): Outcome {
    return this.transaction(whatIf, () => {
      const {rows, notFound} = this.select(kind, selection)
      const remove = statement(this.store.db, `DELETE FROM ${kind.table} WHERE id = ?`)
      for (const row of rows) {
        remove.run(row.id)
        this.store.logChange(kind.table, row.id)
      }
      const objects = rows.map(stripId)
      return {objects, notFound, changes: objects.map((object) => ({operation: 'Remove' as const, kind, object}))}
    })
  }

  getGlobal(): PolicyObject {
    const row = statement(this.store.db, 'SELECT use_external_router AS u FROM global_settings WHERE id = 1').get() as {u: number}
    return {UseExternalRouter: row.u === 1}
  }

  setGlobal(input: RawInput, whatIf = false): PolicyObject {
    const value = parseValue(GLOBAL_PROPERTY, input.UseExternalRouter)
    return this.transaction(whatIf, () => {
      if (value !== null) {
        statement(this.store.db, 'UPDATE global_settings SET use_external_router = ? WHERE id = 1').run(value ? 1 : 0)
        this.store.logChange('global_settings', 1)
      }
      return this.getGlobal()
    })
  }

  /** Every object of every kind, in the shape `policy import` reads back. */
  exportPolicy(): PolicyDocument {
    const document: PolicyDocument = {Version: 1, Global: this.getGlobal()}
    for (const kind of KINDS) document[kind.exportName] = this.query(kind, compileFilters(kind, {})).map(stripId)
    return document
  }

  /**
   * Creates every object of a document in one transaction, through the same rules as New. With replace,
   * the store's policy is emptied first, so the result is exactly the document.
   */
  importPolicy(document: unknown, replace: boolean, progress?: {tick(): void}): Record<string, number> {
    const doc = asDocument(document)
    return this.store.write(() => {
      this.store.logFullChange()
      if (replace) for (const kind of KINDS) this.store.db.exec(`DELETE FROM ${kind.table}`)
      if (doc.Global !== undefined) this.setGlobal(doc.Global as RawInput)
      const counts: Record<string, number> = {}
      // Routes before records: a record's rules look up the routing domain of its VSID.
      for (const kind of IMPORT_ORDER) {
        const items = doc[kind.exportName] ?? []
        if (!Array.isArray(items)) throw new PolicyError(`${kind.exportName} must be a list of objects`)
        items.forEach((item, index) => {
          try {
            this.insert(kind, propertiesToParams(kind, item))
            progress?.tick()
          } catch (error) {
            if (error instanceof PolicyError || error instanceof UsageError) throw new PolicyError(`${kind.exportName}[${index}]: ${error.message}`)
            throw error
          }
        })
        counts[kind.exportName] = items.length
      }
      return counts
    })
  }

  private transaction<T>(whatIf: boolean, fn: () => T): T {
    return whatIf ? this.store.dryRun(fn) : this.store.write(fn)
  }

  private insert(kind: KindSpec, input: RawInput): PolicyObject {
    const missing = kind.properties.filter((p) => p.create === 'mandatory' && isAbsent(input[paramName(p)]))
    if (missing.length > 0) {
      throw new UsageError(`missing mandatory ${missing.map((p) => `-${paramName(p)}`).join(', ')} (${missing.map((p) => p.description).join('; ')})`)
    }
    const given = new Set<string>()
    const object: PolicyObject = {}
    for (const property of kind.properties) {
      const raw = property.create === 'no' ? undefined : input[paramName(property)]
      if (!isAbsent(raw)) given.add(property.name)
      object[property.name] = isAbsent(raw) ? property.default ?? null : parseValue(property, raw)
    }
    const ctx = {db: this.store.db}
    kind.complete?.(object, given, ctx)
    kind.check?.(object, ctx, null)
    const {lastInsertRowid} = statement(this.store.db, insertSql(kind)).run(...kind.properties.map((p) => toColumn(object[p.name])))
    this.store.logChange(kind.table, Number(lastInsertRowid))
    return object
  }

  private query(kind: KindSpec, filter: CompiledFilter): Row[] {
    const columns = kind.properties.map((p) => `${p.column} AS "${p.name}"`).join(', ')
    const rows = statement(this.store.db, `SELECT id, ${columns} FROM ${kind.table}${filter.where} ORDER BY id`).all(...filter.params) as Row[]
    const bools = kind.properties.filter((p) => p.type.kind === 'bool')
    for (const row of rows) for (const p of bools) row[p.name] = row[p.name] === 1
    return rows
  }

  private select(kind: KindSpec, selection: Selection): {rows: Row[]; notFound: string[]} {
    if ('filters' in selection) {
      const filter = compileFilters(kind, selection.filters)
      const rows = this.query(kind, filter)
      return {rows, notFound: notFound(kind, filter, rows)}
    }
    const rows: Row[] = []
    const missing: string[] = []
    const keys = kind.properties.filter((p) => p.key)
    for (const item of selection.inputObjects) {
      const params = propertiesToParams(kind, item)
      const filter = compileFilters(kind, Object.fromEntries(keys.map((p) => [paramName(p), [params[paramName(p)] ?? p.default]])))
      const found = this.query(kind, filter)
      if (found.length === 0) missing.push(`No ${kind.cimClass} object found with ${keys.map((p) => `${p.name} '${params[paramName(p)] ?? p.default}'`).join(', ')}.`)
      for (const row of found) if (!rows.some((r) => r.id === row.id)) rows.push(row)
    }
    return {rows, notFound: missing}
  }
}

export interface PolicyDocument {
  Version: number
  Global?: PolicyObject
  [exportName: string]: unknown
}

const GLOBAL_PROPERTY: PropertySpec = {name: 'UseExternalRouter', column: 'use_external_router', type: {kind: 'bool'}, description: 'Route between virtual subnets through an external router instead of the distributed router', create: 'optional'}

const IMPORT_ORDER = ['ProviderAddresses', 'ProviderRoutes', 'CustomerRoutes', 'LookupRecords', 'VMNetworkAdapters'].map((name) => KINDS.find((k) => k.exportName === name)!)

function asDocument(document: unknown): PolicyDocument {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw new PolicyError(`a policy document is an object with ${KINDS.map((k) => k.exportName).join(', ')} and Global`)
  }
  const known = new Set(['Version', 'Global', ...KINDS.map((k) => k.exportName)])
  const unknown = Object.keys(document).filter((key) => !known.has(key))
  if (unknown.length > 0) throw new PolicyError(`unknown section ${unknown.join(', ')} in the policy document; allowed: ${[...known].join(', ')}`)
  const version = (document as PolicyDocument).Version
  if (version !== undefined && version !== 1) throw new PolicyError(`policy document Version ${version} is not supported; this hnv reads Version 1`)
  return document as PolicyDocument
}

const insertSqls = new WeakMap<KindSpec, string>()

function insertSql(kind: KindSpec): string {
  let sql = insertSqls.get(kind)
  if (!sql) insertSqls.set(kind, (sql = `INSERT INTO ${kind.table} (${kind.properties.map((p) => p.column).join(', ')}) VALUES (${kind.properties.map(() => '?').join(', ')})`))
  return sql
}

const propertyIndexes = new WeakMap<KindSpec, Map<string, PropertySpec>>()

/** A kind's properties by lowercase property or parameter name (JSON keys are matched case-insensitively). */
function propertyIndex(kind: KindSpec): Map<string, PropertySpec> {
  let index = propertyIndexes.get(kind)
  if (!index) {
    index = new Map(kind.properties.flatMap((p) => [[p.name.toLowerCase(), p], [paramName(p).toLowerCase(), p]]))
    propertyIndexes.set(kind, index)
  }
  return index
}

/** Objects read back (JSON from Get, export files) carry property names; New and Set take parameter names. */
function propertiesToParams(kind: KindSpec, item: unknown): RawInput {
  if (typeof item !== 'object' || item === null || Array.isArray(item)) throw new PolicyError(`expected a ${kind.name} object, got ${JSON.stringify(item)}`)
  const params: RawInput = {}
  const index = propertyIndex(kind)
  for (const [key, value] of Object.entries(item)) {
    const property = index.get(key.toLowerCase())
    if (!property) throw new PolicyError(`${kind.name} has no property '${key}'; allowed: ${kind.properties.map((p) => p.name).join(', ')}`)
    // Computed properties (AddressState, ManagedByCluster) are shown but not set by New.
    if (property.create !== 'no') params[paramName(property)] = value
  }
  return params
}

function parseChanges(kind: KindSpec, input: RawInput): PolicyObject {
  const changes: PolicyObject = {}
  for (const property of kind.properties.filter((p) => p.settable)) {
    const raw = input[paramName(property)]
    if (!isAbsent(raw)) changes[property.name] = parseValue(property, raw)
  }
  return changes
}

function compileFilters(kind: KindSpec, filters: RawFilters): CompiledFilter {
  const clauses: string[] = []
  const params: unknown[] = []
  const exact: CompiledFilter['exact'] = []
  for (const property of kind.properties) {
    const values = (filters[paramName(property)] ?? []).filter((v) => !isAbsent(v))
    if (values.length === 0) continue
    const alternatives: string[] = []
    for (const raw of values) {
      const text = String(raw).trim()
      if (property.type.kind === 'enum' && hasWildcard(text)) {
        const pattern = new RegExp(`^${text.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i')
        for (const name of property.type.values.filter((v) => pattern.test(v))) {
          alternatives.push(`${property.column} = ?`)
          params.push(name)
        }
      } else if (isTextType(property) && hasWildcard(text)) {
        alternatives.push(`${property.column} LIKE ? ESCAPE '\\'`)
        params.push(wildcardToLike(property.type.kind === 'mac' ? text.replace(/[-:]/g, '').toUpperCase() : text))
      } else {
        const value = parseValue(property, raw)
        exact.push({property, value})
        alternatives.push(property.type.kind === 'string' ? `${property.column} = ? COLLATE NOCASE` : `${property.column} = ?`)
        params.push(toColumn(value))
      }
    }
    clauses.push(alternatives.length > 0 ? `(${alternatives.join(' OR ')})` : '0')
  }
  return {where: clauses.length > 0 ? ` WHERE ${clauses.join(' AND ')}` : '', params, exact}
}

function notFound(kind: KindSpec, filter: CompiledFilter, rows: Row[]): string[] {
  const same = (a: Value, b: Value) => (typeof a === 'string' && typeof b === 'string' ? a.toLowerCase() === b.toLowerCase() : a === b)
  return filter.exact
    .filter(({property, value}) => !rows.some((row) => same(row[property.name], value)))
    .map(({property, value}) => `No ${kind.cimClass} objects found with property '${property.name}' equal to '${value}'. Verify the value of the property and retry.`)
}

function stripId({id: _id, ...object}: Row): PolicyObject {
  return object
}

function toColumn(value: Value): unknown {
  return typeof value === 'boolean' ? Number(value) : value
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || (typeof value === 'string' && value.trim() === '')
}
