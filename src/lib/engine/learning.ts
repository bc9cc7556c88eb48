// Dynamic lookup records (reference/hnv.md §2 Type Dynamic, §3.2): what an L2Only VM's ARP reply teaches
// the host of the VM that asked. The data path only queues what it learned (LearnQueue: typed arrays, no
// allocation) and marks the records packets used (Engine's per-record hit flags); the control path
// (DynamicRecords.tick, once per tick of the runtime) writes the learned records to the store in one
// transaction, keeps a last-used time per Dynamic record, and removes those unused for longer than the
// age. The engine reloads the store's new revision like any other change, so the learned record is then
// in the table: Get-NetVirtualizationLookupRecord -Type Dynamic shows it, and it is forwarded to.
import {ipv4ToString, ipv6ToString} from '../wire/address.js'
import {lookupRecord} from '../policy/kinds.js'
import {PolicyService} from '../policy/service.js'
import type {PolicyStore} from '../policy/store.js'
import {macText, PA_STRIDE, RecordType, type ForwardingTable} from './table.js'

/** How long a Dynamic record stays unused before it is removed, by default (seconds). */
export const DEFAULT_DYNAMIC_AGE_SECONDS = 300
/** Entries one tick can take; more are counted (overflow) and learned again from the next ARP reply. */
const QUEUE_CAPACITY = 256

/** A learned address, as the store writes it. */
export interface LearnedRecord {
  VirtualSubnetID: number
  CustomerAddress: string
  MACAddress: string
  ProviderAddress: string
}

/** Learned entries between two ticks, as numbers. */
export class LearnQueue {
  count = 0
  /** Entries that did not fit (learned again later). */
  overflow = 0
  private readonly vsid = new Uint32Array(QUEUE_CAPACITY)
  private readonly caFamily = new Uint8Array(QUEUE_CAPACITY)
  /** Four words per entry; IPv4 in the first. */
  private readonly ca = new Uint32Array(QUEUE_CAPACITY * 4)
  private readonly macHi = new Uint32Array(QUEUE_CAPACITY)
  private readonly macLo = new Uint32Array(QUEUE_CAPACITY)
  private readonly paFamily = new Uint8Array(QUEUE_CAPACITY)
  private readonly pa = new Uint8Array(QUEUE_CAPACITY * PA_STRIDE)

  /**
   * Queues the CA of `family` in words ca0..ca3 (IPv4 in ca0) on MAC hi/lo in VSID number `vsid`, at PA
   * row `paRow` of table `t`.
   */
  push(t: ForwardingTable, vsid: number, family: number, ca0: number, ca1: number, ca2: number, ca3: number, macHi: number, macLo: number, paRow: number): void {
    const n = this.count
    if (n === QUEUE_CAPACITY) {
      this.overflow++
      return
    }
    this.vsid[n] = vsid
    this.caFamily[n] = family
    this.ca[n * 4] = ca0
    this.ca[n * 4 + 1] = ca1
    this.ca[n * 4 + 2] = ca2
    this.ca[n * 4 + 3] = ca3
    this.macHi[n] = macHi
    this.macLo[n] = macLo
    this.paFamily[n] = t.pas.family[paRow]
    const from = t.pas.bytes
    for (let b = 0; b < PA_STRIDE; b++) this.pa[n * PA_STRIDE + b] = from[paRow * PA_STRIDE + b]
    this.count = n + 1
  }

  /** The queued entries (the last one for each VSID and CA), and an empty queue. Control path. */
  drain(): LearnedRecord[] {
    const byKey = new Map<string, LearnedRecord>()
    for (let i = 0; i < this.count; i++) {
      const record: LearnedRecord = {
        VirtualSubnetID: this.vsid[i],
        CustomerAddress: this.caFamily[i] === 4 ? ipv4ToString(this.ca[i * 4]) : ipv6ToString(wordBytes(this.ca, i * 4), 0),
        MACAddress: macText(this.macHi[i], this.macLo[i]),
        ProviderAddress: this.paFamily[i] === 4 ? ipv4ToString(u32(this.pa, i * PA_STRIDE)) : ipv6ToString(this.pa, i * PA_STRIDE),
      }
      byKey.set(recordKey(record.VirtualSubnetID, record.CustomerAddress), record)
    }
    this.count = 0
    return [...byKey.values()]
  }
}

function wordBytes(words: Uint32Array, at: number): Uint8Array {
  const out = new Uint8Array(16)
  for (let i = 0; i < 16; i++) out[i] = words[at + (i >> 2)] >>> (24 - 8 * (i & 3))
  return out
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
}

export function recordKey(vsid: number, ca: string): string {
  return vsid + ' ' + ca
}

/** The Dynamic records of a table whose hit flag is set, as keys; clears the flags. Control path. */
export function takeDynamicHits(t: ForwardingTable, hits: Uint8Array): string[] {
  const out: string[] = []
  const {records} = t
  for (let r = 0; r < records.count; r++) {
    if (hits[r] === 0) continue
    hits[r] = 0
    if (records.type[r] === RecordType.DYNAMIC) out.push(recordKey(t.vsids.value[records.vsid[r]], records.caText[r]))
  }
  return out
}

/** What one tick did. */
export interface LearningTick {
  learned: LearnedRecord[]
  aged: LearnedRecord[]
  /** Learned records the store refused (e.g. the CA is another VSID's in the routing domain), as messages. */
  refused: string[]
}

/**
 * The control-path half: writes learned records and removes aged ones, through the policy service (its
 * rules, the change log and the revision), in one transaction per tick that changes anything.
 */
export class DynamicRecords {
  private readonly service: PolicyService
  /** recordKey -> last time (ms) a packet used the record, or it was learned or first seen. */
  private readonly lastUsed = new Map<string, number>()

  constructor(store: PolicyStore, readonly ageMs: number) {
    this.service = new PolicyService(store)
  }

  /**
   * `learned`: drained from the queue; `used`: keys of Dynamic records packets used since the last tick;
   * `table`: the one in force, whose Dynamic records are aged. Returns what changed in the store.
   */
  tick(now: number, learned: LearnedRecord[], used: string[], table: ForwardingTable): LearningTick {
    for (const key of used) this.lastUsed.set(key, now)
    const present = new Set<string>()
    const {records} = table
    for (let r = 0; r < records.count; r++) {
      if (records.type[r] !== RecordType.DYNAMIC) continue
      const key = recordKey(table.vsids.value[records.vsid[r]], records.caText[r])
      present.add(key)
      if (!this.lastUsed.has(key)) this.lastUsed.set(key, now)
    }
    for (const key of this.lastUsed.keys()) if (!present.has(key)) this.lastUsed.delete(key)
    const expired = [...this.lastUsed].filter(([, at]) => now - at >= this.ageMs).map(([key]) => key)
    const done: LearningTick = {learned: [], aged: [], refused: []}
    if (learned.length === 0 && expired.length === 0) return done
    const store = this.service.store
    store.write(() => {
      for (const record of learned) {
        try {
          // A savepoint each: a record the store refuses leaves the others in.
          if (store.write(() => this.write(record))) done.learned.push(record)
        } catch (error) {
          done.refused.push(`VirtualSubnetID ${record.VirtualSubnetID} CustomerAddress ${record.CustomerAddress}: ${(error as Error).message}`)
        }
        this.lastUsed.set(recordKey(record.VirtualSubnetID, record.CustomerAddress), now)
      }
      for (const key of expired) {
        if (done.learned.some((r) => recordKey(r.VirtualSubnetID, r.CustomerAddress) === key)) continue
        const [vsid, ca] = key.split(' ')
        const removed = this.service.remove(lookupRecord, {filters: {VirtualSubnetID: [vsid], CustomerAddress: [ca], Type: ['Dynamic']}}).objects
        for (const object of removed) done.aged.push(learnedOf(object))
        this.lastUsed.delete(key)
      }
    })
    return done
  }

  /** Inserts a Dynamic record, or moves one to a new MAC or PA; a Static record of the CA stays. */
  private write(record: LearnedRecord): boolean {
    const selection = {filters: {VirtualSubnetID: [String(record.VirtualSubnetID)], CustomerAddress: [record.CustomerAddress]}}
    const existing = this.service.get(lookupRecord, selection.filters).objects
    if (existing.some((o) => o.Type !== 'Dynamic')) return false
    if (existing.some((o) => o.MACAddress === record.MACAddress && o.ProviderAddress === record.ProviderAddress)) return false
    if (existing.length > 0) this.service.remove(lookupRecord, selection)
    this.service.create(lookupRecord, {...record, Rule: 'TranslationMethodEncap', Type: 'Dynamic'})
    return true
  }
}

function learnedOf(object: Record<string, unknown>): LearnedRecord {
  return {
    VirtualSubnetID: Number(object.VirtualSubnetID),
    CustomerAddress: String(object.CustomerAddress),
    MACAddress: String(object.MACAddress),
    ProviderAddress: String(object.ProviderAddress),
  }
}
