// The policy's rows parsed into typed-array columns, in document order (a row's position is its origin):
// what compile.ts's rules run on (compileColumns). compile() fills them from a policy document; the
// store reader (policy-source.ts) fills them from SQLite's text and, when the revision moves, makes the
// next revision's columns from the last ones: `without` copies them minus the rows that went away, and
// the rows that changed or came are parsed into the copy. Columns are not changed once a table has been
// compiled from them (its texts are made from them on first use).
//
// Texts the hot path never reads are not kept as strings per row: an IPv4 address's canonical text is
// its dotted quad, made again from the number; VM names stay spans of the one string SQLite gave.
import type {Family} from '../net/ip.js'
import {WordMapBuilder, MISSING} from './word-map.js'

export interface Address {
  family: Family
  text: string
  /** Four words; IPv4 in the first. */
  words: [number, number, number, number]
}

export interface PortIn {
  origin: number
  name: string
  vmName: string
  adapter: string
  mac: string
  macHi: number
  macLo: number
  vsid: number
  /** Set-VMNetworkAdapter -Dhcp: the engine answers the adapter's DHCP. */
  dhcp: boolean
  /** Set-VMNetworkAdapter -MssClamp: the engine clamps the MSS of the adapter's TCP SYNs. */
  mssClamp: boolean
}

/** Distinct addresses (the PAs), in the order first added; only ever grows, so columns can share it. */
export class AddressList {
  count = 0
  readonly family: number[] = []
  /** Four per address; IPv4 in the first. */
  readonly words: number[] = []
  readonly text: string[] = []
  /** Whether the last add4() added the address: its caller then sets `text[index]`. */
  added = false
  private readonly index = new WordMapBuilder(5, 256)

  add(a: Address): number {
    const i = this.insert(a.family, a.words[0], a.words[1], a.words[2], a.words[3])
    if (this.added) this.text[i] = a.text
    return i
  }

  /** The index of an IPv4 address; when it is new (`added`), its text is '' until the caller sets it. */
  add4(address: number): number {
    return this.insert(4, address, 0, 0, 0)
  }

  private insert(family: number, w0: number, w1: number, w2: number, w3: number): number {
    const known = this.index.add5(family, w0, w1, w2, w3, this.count)
    this.added = known === MISSING
    if (!this.added) return known
    this.family.push(family)
    this.words.push(w0, w1, w2, w3)
    this.text.push('')
    return this.count++
  }
}

/** Distinct names (the RDIDs), in the order first seen; only ever grows. */
export class NameList {
  readonly names: string[] = []
  private readonly index = new Map<string, number>()

  add(name: string): number {
    let i = this.index.get(name)
    if (i === undefined) {
      i = this.names.length
      this.names.push(name)
      this.index.set(name, i)
    }
    return i
  }
}

/** A column of optional texts (null: none) whose strings are made only when asked for. */
export interface TextColumn {
  text(i: number): string | null
  set(i: number, text: string | null): void
  /** A copy without the rows at `removed` (ascending) and with `added` rows (null) at the end. */
  without(removed: readonly number[], added: number): TextColumn
}

/** Texts as a list. */
export class TextList implements TextColumn {
  constructor(private readonly list: (string | null)[] = []) {}

  text(i: number): string | null {
    return this.list[i] ?? null
  }

  set(i: number, text: string | null): void {
    this.list[i] = text
  }

  without(removed: readonly number[], added: number): TextList {
    const gone = new Set(removed)
    const list = this.list.filter((_, i) => !gone.has(i))
    for (let i = 0; i < added; i++) list.push(null)
    return new TextList(list)
  }
}

/** Texts as spans of one joined string (an empty span: null), with rows set since then on top. */
export class TextSpans implements TextColumn {
  readonly start: Int32Array
  readonly end: Int32Array
  private readonly own: Map<number, string | null>

  constructor(
    private readonly joined: string,
    count: number,
    start?: Int32Array,
    end?: Int32Array,
    own?: Map<number, string | null>,
  ) {
    this.start = start ?? new Int32Array(count)
    this.end = end ?? new Int32Array(count)
    this.own = own ?? new Map()
  }

  text(i: number): string | null {
    const own = this.own.get(i)
    if (own !== undefined) return own
    return this.start[i] === this.end[i] ? null : this.joined.slice(this.start[i], this.end[i])
  }

  set(i: number, text: string | null): void {
    this.own.set(i, text)
  }

  without(removed: readonly number[], added: number): TextSpans {
    const count = this.start.length - removed.length + added
    const start = withoutRows(this.start, 1, removed, count)
    const end = withoutRows(this.end, 1, removed, count)
    // Rows added at the end have empty spans until set.
    return new TextSpans(this.joined, count, start, end, shiftKeys(this.own, removed))
  }
}

/**
 * LookupRecords in columns. An IPv4 CA's canonical text is its dotted quad, made again from the number
 * when asked for; other CAs keep theirs in `caText`.
 */
export class RecordColumns {
  readonly family: Uint8Array
  /** Four words per record; IPv4 in the first. */
  readonly ca: Uint32Array
  /** The canonical text of each CA that is not IPv4. */
  readonly caText: Map<number, string>
  /** VirtualSubnetID. */
  readonly vsid: Uint32Array
  readonly macHi: Uint32Array
  readonly macLo: Uint32Array
  /** Index into PolicyColumns.pas. */
  readonly pa: Int32Array
  readonly type: Uint8Array
  readonly rule: Uint8Array

  constructor(
    readonly count: number,
    /** VMName (null for none). */
    readonly vmName: TextColumn,
    from?: {records: RecordColumns; removed: readonly number[]},
  ) {
    if (from === undefined) {
      this.family = new Uint8Array(count)
      this.ca = new Uint32Array(count * 4)
      this.caText = new Map()
      this.vsid = new Uint32Array(count)
      this.macHi = new Uint32Array(count)
      this.macLo = new Uint32Array(count)
      this.pa = new Int32Array(count)
      this.type = new Uint8Array(count)
      this.rule = new Uint8Array(count)
      return
    }
    const {records: r, removed} = from
    this.family = withoutRows(r.family, 1, removed, count)
    this.ca = withoutRows(r.ca, 4, removed, count)
    this.caText = shiftKeys(r.caText, removed)
    this.vsid = withoutRows(r.vsid, 1, removed, count)
    this.macHi = withoutRows(r.macHi, 1, removed, count)
    this.macLo = withoutRows(r.macLo, 1, removed, count)
    this.pa = withoutRows(r.pa, 1, removed, count)
    this.type = withoutRows(r.type, 1, removed, count)
    this.rule = withoutRows(r.rule, 1, removed, count)
  }

  /** A copy without the rows at `removed` (ascending) and with `added` rows at the end, to be set. */
  without(removed: readonly number[], added: number): RecordColumns {
    const count = this.count - removed.length + added
    return new RecordColumns(count, this.vmName.without(removed, added), {records: this, removed})
  }

  /** The canonical text of record i's CA. */
  caTextOf(i: number): string {
    return this.family[i] === 4 ? ipv4Text(this.ca[i * 4]) : this.caText.get(i)!
  }

  /** Record i; `type` as recordType() returned it; `caText` is only read for a CA that is not IPv4. */
  set(i: number, family: number, w0: number, w1: number, w2: number, w3: number, caText: string, type: number,
    vsid: number, macHi: number, macLo: number, pa: number, rule: number): void {
    this.family[i] = family
    const k = i * 4
    this.ca[k] = w0
    this.ca[k + 1] = w1
    this.ca[k + 2] = w2
    this.ca[k + 3] = w3
    if (family !== 4) this.caText.set(i, caText)
    else if (this.caText.size !== 0) this.caText.delete(i)
    this.type[i] = type
    this.vsid[i] = vsid
    this.macHi[i] = macHi
    this.macLo[i] = macLo
    this.pa[i] = pa
    this.rule[i] = rule
  }
}

/** CustomerRoutes in columns; like CA texts, IPv4 prefix and next hop texts are made again when asked for. */
export class RouteColumns {
  /** Index into `rdids`. */
  readonly rdid: Int32Array
  readonly vsid: Uint32Array
  readonly family: Uint8Array
  /** Four words per route. */
  readonly prefix: Uint32Array
  readonly length: Uint8Array
  /** Canonical DestinationPrefix and NextHop texts of each route that is not IPv4. */
  readonly prefixText: Map<number, string>
  readonly nextHop: Uint32Array
  readonly nextHopText: Map<number, string>
  readonly metric: Uint32Array

  constructor(
    readonly count: number,
    /** RoutingDomainIDs (braced, lower case); may hold some no route names any more. */
    readonly rdids: NameList = new NameList(),
    from?: {routes: RouteColumns; removed: readonly number[]},
  ) {
    if (from === undefined) {
      this.rdid = new Int32Array(count)
      this.vsid = new Uint32Array(count)
      this.family = new Uint8Array(count)
      this.prefix = new Uint32Array(count * 4)
      this.length = new Uint8Array(count)
      this.prefixText = new Map()
      this.nextHop = new Uint32Array(count * 4)
      this.nextHopText = new Map()
      this.metric = new Uint32Array(count)
      return
    }
    const {routes: r, removed} = from
    this.rdid = withoutRows(r.rdid, 1, removed, count)
    this.vsid = withoutRows(r.vsid, 1, removed, count)
    this.family = withoutRows(r.family, 1, removed, count)
    this.prefix = withoutRows(r.prefix, 4, removed, count)
    this.length = withoutRows(r.length, 1, removed, count)
    this.prefixText = shiftKeys(r.prefixText, removed)
    this.nextHop = withoutRows(r.nextHop, 4, removed, count)
    this.nextHopText = shiftKeys(r.nextHopText, removed)
    this.metric = withoutRows(r.metric, 1, removed, count)
  }

  without(removed: readonly number[], added: number): RouteColumns {
    return new RouteColumns(this.count - removed.length + added, this.rdids, {routes: this, removed})
  }

  /** The canonical DestinationPrefix text of route i. */
  prefixTextOf(i: number): string {
    return this.family[i] === 4 ? ipv4Text(this.prefix[i * 4]) + '/' + this.length[i] : this.prefixText.get(i)!
  }

  /** The canonical NextHop text of route i. */
  nextHopTextOf(i: number): string {
    return this.family[i] === 4 ? ipv4Text(this.nextHop[i * 4]) : this.nextHopText.get(i)!
  }

  /** Route i; the next hop's words follow the prefix's; texts are only read when the route is not IPv4. */
  set(i: number, rdid: string, vsid: number, family: number, p0: number, p1: number, p2: number, p3: number, length: number, prefixText: string,
    n0: number, n1: number, n2: number, n3: number, nextHopText: string, metric: number): void {
    this.rdid[i] = this.rdids.add(rdid)
    this.vsid[i] = vsid
    this.family[i] = family
    const k = i * 4
    this.prefix[k] = p0
    this.prefix[k + 1] = p1
    this.prefix[k + 2] = p2
    this.prefix[k + 3] = p3
    this.length[i] = length
    this.nextHop[k] = n0
    this.nextHop[k + 1] = n1
    this.nextHop[k + 2] = n2
    this.nextHop[k + 3] = n3
    this.metric[i] = metric
    if (family !== 4) {
      this.prefixText.set(i, prefixText)
      this.nextHopText.set(i, nextHopText)
    } else if (this.prefixText.size !== 0) {
      this.prefixText.delete(i)
      this.nextHopText.delete(i)
    }
  }
}

/** A policy's rows in columns, ready for compileColumns(). */
export class PolicyColumns {
  /** This host's ProviderAddresses, as indices into `pas`. */
  readonly localPas: number[] = []
  readonly ports: PortIn[] = []
  /** Set-NetVirtualizationGlobal -UseExternalRouter. */
  useExternalRouter = false

  constructor(
    readonly records: RecordColumns,
    readonly routes: RouteColumns,
    /** Every PA added so far (some may be no record's any more: compile keeps those in use). */
    readonly pas: AddressList = new AddressList(),
  ) {}
}

/** The dotted quad of an IPv4 address (what parseIp returns as its canonical text). */
export function ipv4Text(w: number): string {
  return (w >>> 24) + '.' + ((w >>> 16) & 255) + '.' + ((w >>> 8) & 255) + '.' + (w & 255)
}

type RowArray = Uint8Array | Int32Array | Uint32Array | Float64Array

/** A copy of `from` (`stride` elements a row) without the rows at `removed` (ascending), `count` rows long. */
export function withoutRows<A extends RowArray>(from: A, stride: number, removed: readonly number[], count: number): A {
  const to = new (from.constructor as new (length: number) => A)(count * stride)
  let read = 0
  let write = 0
  for (const row of removed) {
    to.set(from.subarray(read * stride, row * stride), write * stride)
    write += row - read
    read = row + 1
  }
  const rows = Math.min(from.length / stride - read, count - write)
  to.set(from.subarray(read * stride, (read + rows) * stride), write * stride)
  return to
}

/** Row-keyed entries renumbered for the rows at `removed` (ascending) going away. */
function shiftKeys<T>(map: ReadonlyMap<number, T>, removed: readonly number[]): Map<number, T> {
  const out = new Map<number, T>()
  for (const [row, value] of map) {
    // How many removed rows are below this one (binary search); skip the row if it is one of them.
    let lo = 0
    let hi = removed.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (removed[mid] < row) lo = mid + 1
      else hi = mid
    }
    if (removed[lo] === row) continue
    out.set(row - lo, value)
  }
  return out
}
