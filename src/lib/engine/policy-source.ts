// The engine's reader of the policy store (DESIGN §2: watch revision -> load -> compile -> swap).
// loadForwardingTable(store) returns the table of the store's current revision; the engine calls it
// whenever the revision moves. Whatever it reads for one table it reads in one read transaction (WAL keeps
// the snapshot, so a concurrent writer cannot give it a torn view), and the table it returns is the one
// compile(service.exportPolicy(), revision) would give, dump and origins included.
//
// It compiles with compile.ts's own code (compileColumns; one set of rules), but does not build 100k
// objects to get there (STYLE §2: full recompute first, incremental when measured; bench/reload.ts):
//
//  - A full load asks SQLite for each column the compiler needs joined into one string (group_concat over
//    the table in id order, the order `exportPolicy` gives) and parses those with char-code loops
//    (field-reader.ts): IPv4 addresses to uint32, MACs to two numbers, Rule and Type as SQLite's own index
//    of the name. Values in any other spelling (IPv6 above all) go through compile's general parsers.
//  - It keeps those columns, per store. Next time it reads the store's change log (store.ts logChange: the
//    policy service logs the id of every row a write changes, under the revision it commits as), re-reads
//    just those rows, makes the next columns from the last ones (columns.ts `without`, then the changed rows
//    parsed into place) and compiles them again: a CLI command costs its rows, not the policy's.
//  - It reads everything again when the log says so (an import logs a full change) or cannot be trusted to
//    be complete (a revision missing from it: pruned, or written without it; more than MAX_LOGGED_ROWS
//    rows; a new row id below an old one). When anything at all is unexpected (a value the general parsers
//    refuse or that is not in its canonical spelling, a NULL where the schema forbids one, a separator
//    inside a value) it reads the policy as documents through the policy service and compiles them with
//    compile(), which then also words the error exactly as it would.
//
// The table's `sources` (what explainOrigin prints) are the store's objects for VMNetworkAdapters and
// ProviderAddresses; LookupRecords and CustomerRoutes objects are made from the table on first use, with
// the properties explanations print (all of a route's; a record's without CustomerID, Context and
// UseVmMACAddress, which the table does not hold).
import {PolicyError} from '../cli/errors.js'
import {customerRoute, lookupRecord, propertyOf, providerAddress, vmNetworkAdapter} from '../policy/kinds.js'
import {PolicyService, type PolicyDocument} from '../policy/service.js'
import {statement} from '../policy/sql.js'
import {FULL_CHANGE, type PolicyStore} from '../policy/store.js'
import type {KindSpec, PolicyObject} from '../policy/types.js'
import {parsePrefix} from '../net/ip.js'
import {AddressList, PolicyColumns, RecordColumns, RouteColumns, TextSpans, withoutRows} from './columns.js'
import {
  checkNextHopFamily,
  compile,
  compileColumns,
  fieldValue,
  parseAddress,
  parsePortsAndProviderAddresses,
  parseRecord,
  parseRoute,
  recordType,
  UINT32_MAX,
  VSID_MAX,
  VSID_MIN,
  type PreviousCompile,
  type Row,
  type Sources,
} from './compile.js'
import {FieldReader} from './field-reader.js'
import {ForwardingTable, macText, RECORD_TYPE_NAMES, TRANSLATION_NAMES} from './table.js'

/** ASCII unit separator: joins the values of a column; no value the store writes contains it. */
const SEPARATOR = 0x1f
/** More changed rows than this since the last load: read everything (it is then about as quick). */
export const MAX_LOGGED_ROWS = 5000

/** What a store's last load left: the columns its table was compiled from, with their rows' ids. */
interface Loaded {
  revision: number
  table: ForwardingTable
  records: RecordColumns
  /** The id of each record row, ascending (a row's position is its origin). */
  recordIds: Float64Array
  routes: RouteColumns
  routeIds: Float64Array
  pas: AddressList
}

const loaded = new WeakMap<PolicyStore, Loaded>()

/**
 * How the last load of a store went (for logs, tests and the benchmark): `same` revision as before,
 * only the logged `changes` applied, `all` read, or read as `documents`.
 */
export type LoadKind = 'same' | 'changes' | 'all' | 'documents'

const lastKinds = new WeakMap<PolicyStore, LoadKind>()

export function lastLoadKind(store: PolicyStore): LoadKind | undefined {
  return lastKinds.get(store)
}

/** The policy as of the store's current revision, compiled. Throws a PolicyError when it cannot be compiled. */
export function loadForwardingTable(store: PolicyStore): ForwardingTable {
  const last = loaded.get(store)
  if (last !== undefined) {
    const table = loadChanges(store, last)
    if (table !== null) {
      lastKinds.set(store, table === last.table ? 'same' : 'changes')
      return table
    }
  }
  return loadAll(store)
}

// ---- full loads ----

function loadAll(store: PolicyStore): ForwardingTable {
  loaded.delete(store)
  lastKinds.set(store, 'all')
  const snapshot = store.db.transaction(() => readAll(store))()
  let state: Omit<Loaded, 'revision' | 'table'>
  try {
    state = parseAll(snapshot)
  } catch (error) {
    if (error instanceof Refused || error instanceof PolicyError) return loadDocuments(store)
    throw error
  }
  const columns = new PolicyColumns(state.records, state.routes, state.pas)
  columns.useExternalRouter = snapshot.useExternalRouter
  parsePortsAndProviderAddresses(snapshot.adapters, snapshot.providerAddresses, columns)
  const table = compileFromStore(columns, snapshot.revision, snapshot.providerAddresses, snapshot.adapters)
  loaded.set(store, {...state, revision: snapshot.revision, table})
  return table
}

interface Snapshot {
  revision: number
  providerAddresses: PolicyObject[]
  adapters: PolicyObject[]
  routeCount: number
  /** id, RoutingDomainID, VirtualSubnetID, DestinationPrefix, NextHop, Metric: each column joined. */
  routes: string[]
  recordCount: number
  /** id, CustomerAddress, VirtualSubnetID, MACAddress, ProviderAddress, Rule * 4 + Type, VMName. */
  records: string[]
  useExternalRouter: boolean
}

const VM_NAMES = 6

const column = (kind: KindSpec, property: string): string => propertyOf(kind, property).column
/** The index of a column's value in `names`, by SQLite; NULL (which group_concat leaves out) for any other value. */
const nameIndex = (kind: KindSpec, property: string, names: readonly string[]): string =>
  `CASE ${column(kind, property)} ${names.map((name, i) => `WHEN '${name}' THEN ${i}`).join(' ')} END`

/**
 * One row: the row count, then each column joined by SEPARATOR. `NOT INDEXED` makes it a scan of the table
 * itself, in rowid (= id) order, as `ORDER BY id` would give it without a sort.
 */
function joinedColumnsSql(kind: KindSpec, expressions: string[]): string {
  const sep = String.fromCharCode(SEPARATOR)
  return `SELECT count(*), ${['id', ...expressions].map((e) => `group_concat(${e}, '${sep}')`).join(', ')} FROM ${kind.table} NOT INDEXED`
}

const ROUTES_SQL = joinedColumnsSql(customerRoute, ['RoutingDomainID', 'VirtualSubnetID', 'DestinationPrefix', 'NextHop', 'Metric'].map((p) => column(customerRoute, p)))

const RECORDS_SQL = joinedColumnsSql(lookupRecord, [
  column(lookupRecord, 'CustomerAddress'),
  column(lookupRecord, 'VirtualSubnetID'),
  column(lookupRecord, 'MACAddress'),
  column(lookupRecord, 'ProviderAddress'),
  `${nameIndex(lookupRecord, 'Rule', TRANSLATION_NAMES)} * ${RECORD_TYPE_NAMES.length} + ${nameIndex(lookupRecord, 'Type', RECORD_TYPE_NAMES)}`,
  `ifnull(${column(lookupRecord, 'VMName')}, '')`,
])

function readAll(store: PolicyStore): Snapshot {
  const service = new PolicyService(store)
  const revision = store.revision()
  const providerAddresses = service.get(providerAddress, {}).objects
  const adapters = service.get(vmNetworkAdapter, {}).objects
  const [routeCount, ...routes] = statement(store.db, ROUTES_SQL).raw(true).get() as [number, ...(string | null)[]]
  const [recordCount, ...records] = statement(store.db, RECORDS_SQL).raw(true).get() as [number, ...(string | null)[]]
  const useExternalRouter = service.getGlobal().UseExternalRouter === true
  return {revision, providerAddresses, adapters, routeCount, routes: routes.map((t) => t ?? ''), recordCount, records: records.map((t) => t ?? ''), useExternalRouter}
}

/** Thrown when the store holds something the fast path does not take: the load then reads documents. */
class Refused extends Error {}

function parseAll(snapshot: Snapshot): Omit<Loaded, 'revision' | 'table'> {
  const pas = new AddressList()
  const routes = new RouteColumns(snapshot.routeCount)
  const routeIds = parseRoutes(snapshot, routes)
  const records = new RecordColumns(snapshot.recordCount, new TextSpans(snapshot.records[VM_NAMES], snapshot.recordCount))
  const recordIds = parseRecords(snapshot, records, pas)
  return {records, recordIds, routes, routeIds, pas}
}

/**
 * A value the fast parsers did not take, through compile's general parser: IPv6 above all. The store
 * writes canonical text; anything else (written behind the policy service's back) is read as documents,
 * so that explanations quote it as it is.
 */
function canonical<T extends {text: string}>(raw: string, section: 'LookupRecords' | 'CustomerRoutes', index: number, property: string, parse: (text: string) => T): T {
  const value = fieldValue(raw, section, index, property, parse)
  if (value.text !== raw) throw new Refused(property)
  return value
}

function readers(texts: string[]): FieldReader[] {
  return texts.map((text) => new FieldReader(text, SEPARATOR))
}

function checkAligned(rows: number, columns: FieldReader[]): void {
  for (const c of columns) if (!c.aligned(rows)) throw new Refused('a value holds the separator')
}

function readId(ids: FieldReader, previous: number): number {
  const id = ids.uint()
  if (id <= previous) throw new Refused('ids out of order')
  return id
}

function parseRoutes(snapshot: Snapshot, routes: RouteColumns): Float64Array {
  const s = 'CustomerRoutes'
  const n = snapshot.routeCount
  const all = readers(snapshot.routes)
  const [ids, rdids, vsids, prefixes, nextHops, metrics] = all
  const routeIds = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    routeIds[i] = readId(ids, i === 0 ? 0 : routeIds[i - 1])
    const rdid = rdids.guid()
    if (rdid === null) throw new Refused('RoutingDomainID')
    const vsid = vsids.uint()
    if (vsid < VSID_MIN || vsid > VSID_MAX) throw new Refused('VirtualSubnetID')
    let family = 4
    let p0 = prefixes.prefix4()
    let p1 = 0
    let p2 = 0
    let p3 = 0
    let length = prefixes.length
    let prefixText = ''
    if (p0 < 0) {
      const prefix = canonical(prefixes.next(), s, i, 'DestinationPrefix', parsePrefix)
      ;[p0, p1, p2, p3] = parseAddress(prefix.address).words
      family = prefix.family
      length = prefix.length
      prefixText = prefix.text
    }
    let n0 = nextHops.ipv4()
    let n1 = 0
    let n2 = 0
    let n3 = 0
    let nextHopText = ''
    if (n0 < 0 || family !== 4) {
      const nextHop = n0 >= 0 ? parseAddress(nextHops.lastText()) : canonical(nextHops.next(), s, i, 'NextHop', parseAddress)
      checkNextHopFamily(i, family, prefixText || prefixes.lastText(), nextHop)
      ;[n0, n1, n2, n3] = nextHop.words
      nextHopText = nextHop.text
    }
    const metric = metrics.uint()
    if (metric < 0 || metric > UINT32_MAX) throw new Refused('Metric')
    routes.set(i, rdid, vsid, family, p0, p1, p2, p3, length, prefixText, n0, n1, n2, n3, nextHopText, metric)
  }
  checkAligned(n, all)
  return routeIds
}

function parseRecords(snapshot: Snapshot, records: RecordColumns, paList: AddressList): Float64Array {
  const s = 'LookupRecords'
  const n = snapshot.recordCount
  const all = readers(snapshot.records)
  const [ids, cas, vsids, macs, pas, ruleTypes, vmNames] = all
  const vmNameSpans = records.vmName as TextSpans
  const recordIds = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    recordIds[i] = readId(ids, i === 0 ? 0 : recordIds[i - 1])
    let family = 4
    let w0 = cas.ipv4()
    let w1 = 0
    let w2 = 0
    let w3 = 0
    let caText = ''
    if (w0 < 0) {
      const ca = canonical(cas.next(), s, i, 'CustomerAddress', parseAddress)
      ;[w0, w1, w2, w3] = ca.words
      family = ca.family
      caText = ca.text
    }
    const ruleType = ruleTypes.uint()
    if (ruleType < 0) throw new Refused('Rule, Type')
    const type = recordType(w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0, ruleType % RECORD_TYPE_NAMES.length)
    if (type < 0) throw new Refused('Type')
    if (!macs.mac()) throw new Refused('MACAddress')
    const vsid = vsids.uint()
    if (vsid < VSID_MIN || vsid > VSID_MAX) throw new Refused('VirtualSubnetID')
    let pa: number
    const pa4 = pas.ipv4()
    if (pa4 >= 0) {
      pa = paList.add4(pa4)
      if (paList.added) paList.text[pa] = pas.lastText()
    } else pa = paList.add(canonical(pas.next(), s, i, 'ProviderAddress', parseAddress))
    vmNames.skip()
    vmNameSpans.start[i] = vmNames.lastStart
    vmNameSpans.end[i] = vmNames.lastEnd
    records.set(i, family, w0, w1, w2, w3, caText, type, vsid, macs.hi, macs.lo, pa, Math.floor(ruleType / RECORD_TYPE_NAMES.length))
  }
  checkAligned(n, all)
  return recordIds
}

/** The plain path: the policy service's documents, compiled by compile(), all in one read transaction. */
function loadDocuments(store: PolicyStore): ForwardingTable {
  lastKinds.set(store, 'documents')
  const {revision, policy} = store.db.transaction(() => {
    const service = new PolicyService(store)
    const policy: PolicyDocument = {Version: 1}
    for (const kind of [lookupRecord, customerRoute, vmNetworkAdapter, providerAddress]) policy[kind.exportName] = service.get(kind, {}).objects
    policy.Global = service.getGlobal()
    return {revision: store.revision(), policy}
  })()
  return compile(policy, revision)
}

// ---- loads of what changed ----

/** Tables whose rows the table is compiled from (the log also names provider routes and global settings). */
const COMPILED_TABLES = new Set([lookupRecord.table, customerRoute.table, vmNetworkAdapter.table, providerAddress.table, 'global_settings'])

interface Changes {
  revision: number
  providerAddresses: PolicyObject[]
  adapters: PolicyObject[]
  /** Ids of the records and routes that changed, ascending, and those rows as they are now. */
  recordIds: number[]
  records: Map<number, Row>
  routeIds: number[]
  routes: Map<number, Row>
  /** Whether any row of a compiled table changed. */
  compiled: boolean
  useExternalRouter: boolean
}

const LOG_SUMMARY_SQL = 'SELECT count(*), count(DISTINCT revision), min(revision) FROM change_log WHERE revision > ? AND revision <= ?'
const LOG_SQL = 'SELECT table_name, row_id FROM change_log WHERE revision > ? AND revision <= ?'

/** SELECT of a kind's rows by id (a JSON array), as the policy service's objects, with their ids. */
function rowsByIdSql(kind: KindSpec): string {
  return `SELECT id, ${kind.properties.map((p) => `${p.column} AS "${p.name}"`).join(', ')} FROM ${kind.table} WHERE id IN (SELECT value FROM json_each(?))`
}

const RECORDS_BY_ID_SQL = rowsByIdSql(lookupRecord)
const ROUTES_BY_ID_SQL = rowsByIdSql(customerRoute)

/** The table of the store's revision made from `last` and the change log, or null if everything must be read. */
function loadChanges(store: PolicyStore, last: Loaded): ForwardingTable | null {
  const changes = store.db.transaction(() => readChanges(store, last))()
  if (changes === null) return null
  if (changes.revision === last.revision) return last.table
  if (!changes.compiled) {
    // Provider routes or global settings only: the same table under the new revision.
    const table = new ForwardingTable({...last.table, revision: changes.revision})
    loaded.set(store, {...last, revision: changes.revision, table})
    return table
  }
  try {
    const records = applyRecords(last, changes)
    const routes = applyRoutes(last, changes)
    if (records === null || routes === null) return null
    const columns = new PolicyColumns(records.columns, routes.columns, last.pas)
    columns.useExternalRouter = changes.useExternalRouter
    parsePortsAndProviderAddresses(changes.adapters, changes.providerAddresses, columns)
    const table = compileFromStore(columns, changes.revision, changes.providerAddresses, changes.adapters, {routes: last.routes, table: last.table})
    loaded.set(store, {revision: changes.revision, table, records: records.columns, recordIds: records.ids, routes: routes.columns, routeIds: routes.ids, pas: last.pas})
    return table
  } catch (error) {
    // A full load words the error as compile() would (or finds the policy compiles after all).
    if (error instanceof PolicyError) return null
    throw error
  }
}

function readChanges(store: PolicyStore, last: Loaded): Changes | null {
  const db = store.db
  const revision = store.revision()
  const empty = {revision, providerAddresses: [], adapters: [], recordIds: [], records: new Map(), routeIds: [], routes: new Map(), compiled: false, useExternalRouter: false}
  if (revision === last.revision) return empty
  if (revision < last.revision) return null
  const [rows, revisions, first] = statement(db, LOG_SUMMARY_SQL).raw(true).get(last.revision, revision) as [number, number, number | null]
  // Every revision since the last load must be in the log (none pruned, none written without it).
  if (revisions !== revision - last.revision || first !== last.revision + 1 || rows > MAX_LOGGED_ROWS) return null
  const recordIds = new Set<number>()
  const routeIds = new Set<number>()
  let compiled = false
  for (const [table, id] of statement(db, LOG_SQL).raw(true).all(last.revision, revision) as [string, number][]) {
    if (table === FULL_CHANGE) return null
    if (table === lookupRecord.table) recordIds.add(id)
    else if (table === customerRoute.table) routeIds.add(id)
    if (COMPILED_TABLES.has(table)) compiled = true
  }
  if (!compiled) return empty
  const service = new PolicyService(store)
  return {
    revision,
    providerAddresses: service.get(providerAddress, {}).objects,
    adapters: service.get(vmNetworkAdapter, {}).objects,
    recordIds: [...recordIds].sort((a, b) => a - b),
    records: rowsById(store, RECORDS_BY_ID_SQL, recordIds),
    routeIds: [...routeIds].sort((a, b) => a - b),
    routes: rowsById(store, ROUTES_BY_ID_SQL, routeIds),
    compiled,
    useExternalRouter: service.getGlobal().UseExternalRouter === true,
  }
}

function rowsById(store: PolicyStore, sql: string, ids: Set<number>): Map<number, Row> {
  const rows = new Map<number, Row>()
  if (ids.size === 0) return rows
  for (const row of statement(store.db, sql).all(JSON.stringify([...ids])) as ({id: number} & Row)[]) {
    const {id, ...object} = row
    rows.set(id, object)
  }
  return rows
}

interface Applied<C> {
  columns: C
  ids: Float64Array
}

/**
 * Where the changed ids go: rows that went away (positions in the last columns, ascending), rows that
 * stay and changed (position in the next columns), rows that came (appended: their ids are above every
 * other, since SQLite gives a new row the largest id plus one). Null when that does not hold.
 */
function plan(lastIds: Float64Array, changedIds: number[], now: Map<number, Row>): {removed: number[]; updated: [number, Row][]; added: [number, Row][]} | null {
  const removed: number[] = []
  const kept: [number, Row][] = []
  const added: [number, Row][] = []
  for (const id of changedIds) {
    const at = findId(lastIds, id)
    const row = now.get(id)
    if (at >= 0 && row === undefined) removed.push(at)
    else if (at >= 0) kept.push([at, row!])
    else if (row !== undefined) added.push([id, row])
  }
  const count = lastIds.length - removed.length
  const highest = count === 0 ? 0 : lastIds[lastKept(lastIds.length, removed)]
  if (added.length > 0 && added[0][0] <= highest) return null
  const updated = kept.map(([at, row]): [number, Row] => [at - below(removed, at), row])
  return {removed, updated, added}
}

function applyRecords(last: Loaded, changes: Changes): Applied<RecordColumns> | null {
  return applyRows(last.records, last.recordIds, changes.recordIds, changes.records, (columns, at, row) => {
    columns.vmName.set(at, parseRecord(row, at, columns, last.pas))
    return asStored(row, recordObject(columns, at, last.pas))
  })
}

function applyRoutes(last: Loaded, changes: Changes): Applied<RouteColumns> | null {
  return applyRows(last.routes, last.routeIds, changes.routeIds, changes.routes, (columns, at, row) => {
    parseRoute(row, at, columns)
    return asStored(row, routeObject(columns, at))
  })
}

/**
 * One table's changed rows applied to a copy of its columns: removed rows dropped, changed ones rewritten in
 * place, new ones appended. `put` parses a row into position `at` and says whether it reads back exactly as
 * stored; null (any row that does not, or ids out of order) sends the caller to a full load.
 */
function applyRows<C extends {count: number; without(removed: readonly number[], added: number): C}>(
  lastColumns: C,
  lastIds: Float64Array,
  changedIds: number[],
  changedRows: Map<number, Row>,
  put: (columns: C, at: number, row: Row) => boolean,
): Applied<C> | null {
  if (changedIds.length === 0) return {columns: lastColumns, ids: lastIds}
  const p = plan(lastIds, changedIds, changedRows)
  if (p === null) return null
  const columns = lastColumns.without(p.removed, p.added.length)
  const base = lastIds.length - p.removed.length
  const ids = withoutRows(lastIds, 1, p.removed, columns.count)
  p.added.forEach(([id], k) => (ids[base + k] = id))
  const rows: [number, Row][] = [...p.updated, ...p.added.map(([, row], k): [number, Row] => [base + k, row])]
  for (const [at, row] of rows) if (!put(columns, at, row)) return null
  return {columns, ids}
}

/** The position of `id` in ascending `ids`, or -1. */
function findId(ids: Float64Array, id: number): number {
  let lo = 0
  let hi = ids.length - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (ids[mid] === id) return mid
    if (ids[mid] < id) lo = mid + 1
    else hi = mid - 1
  }
  return -1
}

/** How many of the ascending positions `removed` are below `at`. */
function below(removed: readonly number[], at: number): number {
  let n = 0
  while (n < removed.length && removed[n] < at) n++
  return n
}

/** The last position of `count` rows that is not in `removed` (ascending). */
function lastKept(count: number, removed: readonly number[]): number {
  let at = count - 1
  for (let r = removed.length - 1; r >= 0 && removed[r] === at; r--) at--
  return at
}

/** Whether a row reads as its canonical form does (as explanations print it): else it is read as documents. */
function asStored(row: Row, canonicalRow: Row): boolean {
  for (const key of Object.keys(canonicalRow)) if (String(row[key] ?? '') !== String(canonicalRow[key] ?? '')) return false
  return true
}

function recordObject(columns: RecordColumns, i: number, pas: AddressList): Row {
  return {
    CustomerAddress: columns.caTextOf(i),
    VirtualSubnetID: columns.vsid[i],
    MACAddress: macText(columns.macHi[i], columns.macLo[i]),
    ProviderAddress: pas.text[columns.pa[i]],
    Rule: TRANSLATION_NAMES[columns.rule[i]],
    VMName: columns.vmName.text(i),
    Type: RECORD_TYPE_NAMES[columns.type[i]],
  }
}

function routeObject(columns: RouteColumns, i: number): Row {
  return {
    RoutingDomainID: columns.rdids.names[columns.rdid[i]],
    VirtualSubnetID: columns.vsid[i],
    DestinationPrefix: columns.prefixTextOf(i),
    NextHop: columns.nextHopTextOf(i),
    Metric: columns.metric[i],
  }
}

// ---- the table and its sources ----

function compileFromStore(columns: PolicyColumns, revision: number, providerAddresses: PolicyObject[], adapters: PolicyObject[], previous?: PreviousCompile): ForwardingTable {
  let table: ForwardingTable | undefined
  let records: Row[] | undefined
  let routes: Row[] | undefined
  const sources: Sources = Object.freeze({
    ProviderAddresses: providerAddresses,
    VMNetworkAdapters: adapters,
    get LookupRecords(): Row[] {
      return (records ??= recordObjects(table!))
    },
    get CustomerRoutes(): Row[] {
      return (routes ??= routeObjects(table!))
    },
  })
  table = compileColumns(columns, revision, sources, previous)
  return table
}

function recordObjects(table: ForwardingTable): Row[] {
  const {records: r, vsids, pas} = table
  const rows: Row[] = new Array<Row>(r.count)
  const caText = r.caText
  const vmName = r.vmName
  for (let i = 0; i < r.count; i++) {
    rows[r.origin[i]] = {
      CustomerAddress: caText[i],
      VirtualSubnetID: vsids.value[r.vsid[i]],
      MACAddress: macText(r.macHi[i], r.macLo[i]),
      ProviderAddress: pas.text[r.pa[i]],
      Rule: TRANSLATION_NAMES[r.rule[i]],
      VMName: vmName[i],
      Type: RECORD_TYPE_NAMES[r.type[i]],
    }
  }
  return rows
}

function routeObjects(table: ForwardingTable): Row[] {
  const {routes: r, vsids, domains} = table
  const rows: Row[] = new Array<Row>(r.count)
  const prefix = r.prefix
  const nextHop = r.nextHopText
  for (let i = 0; i < r.count; i++) {
    rows[r.origin[i]] = {
      RoutingDomainID: domains.rdid[r.domain[i]],
      VirtualSubnetID: vsids.value[r.vsid[i]],
      DestinationPrefix: prefix[i],
      NextHop: nextHop[i],
      Metric: r.metric[i],
    }
  }
  return rows
}
