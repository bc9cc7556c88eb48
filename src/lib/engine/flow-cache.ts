// A per-flow cache of the pipeline's decisions (OVS's megaflow cache, in miniature): the engine's fast
// path in front of Pipeline.fromPort and Pipeline.fromUnderlay, for the common case, unicast IPv4.
//
// What a decision depends on is split in two. The flow's part (which record the source is, which route,
// which record and PA or port the destination resolves to, routed or bridged, the MACs to write) depends
// only on the table and on fields every packet of the flow shares, which make the key:
//  - from a port: the port row, destination and source MAC, source and destination IPv4 address;
//  - from the IPv4 underlay: the outer destination and source address, the NVGRE VSID, the inner
//    destination and source MAC, the inner source IPv4 address.
// The packet's part is computed for every packet, on a hit too, by the pipeline's own code
// (Pipeline.cachedPort4 / encap4 / cachedUnderlay4 / cachedDeliver): header checks, DHCP to the
// engine, a routed TTL expiring, MTU with DF, MSS clamping of a SYN, the FlowID. Whenever the packet's part
// decides otherwise than for the flow, the frame goes through the full pipeline instead, which also
// answers it (time exceeded, packet too big, DHCP). Only DELIVER and ENCAP of IPv4 are stored: replies,
// drops, floods, ARP/ND, learning, DHCP, NAT and IPv6 always take the full pipeline. So a hit leaves in the
// Verdict exactly what the full pipeline would (test/unit/engine/flow-cache.test.ts checks it on random
// policies and frames), and the engine acts and counts on it unchanged. `hnv trace` and the tap's
// decisions never come here: they call the pipeline itself.
//
// Thrashing (more new flows than the cache holds, a scan, every frame another flow): storing every miss
// costs more than the lookups it saves (a cold cache line per store). At the first storable miss once
// THRASH_WINDOW hits and storable misses have passed, the cache compares the two since the last look; with fewer
// hits it stores only one miss in THRASH_STORE_EVERY until the next look (as OVS's EMC insertion
// probability), so a flow that lasts still gets in, and a working set that fits is soon back to hitting
// and to storing every miss.
//
// Storage: numeric, preallocated, no allocation per packet. Int32Array entries, 4 per bucket (set
// associative; a full bucket replaces its entries in turn), each the key words and the decision's fields;
// beside them a tag array holds each entry's table generation and key hash, the 4 tags of a bucket in 32
// bytes, so that a miss reads one cache line instead of four entries. A new table (another
// ForwardingTable object) bumps the generation: every entry is stale at once, nothing is cleared.
import {Eth} from '../wire/ethernet.js'
import {Action, FloodKind, routedMacs, type Pipeline, type Verdict} from './pipeline.js'
import {Stage} from './stages.js'
import {NONE, type ForwardingTable} from './table.js'
import {ADDR_DST, ADDR_SRC} from './ports.js'

/**
 * Counters of a FlowCache (stats[i]); `misses` includes the frames the cache cannot hold, `bypassed` does
 * not; `unstored`: misses it could have stored but did not, while thrashing.
 */
export const FlowCacheStat = {HITS: 0, MISSES: 1, STORES: 2, EVICTIONS: 3, BYPASSED: 4, UNSTORED: 5} as const
export const FLOW_CACHE_STAT_NAMES: readonly string[] = ['hits', 'misses', 'stores', 'evictions', 'bypassed', 'unstored']

/** Entries per bucket. */
const WAYS = 4
/** Hits and storable misses between two looks at the hit ratio. */
const THRASH_WINDOW = 1024
/** While thrashing, one storable miss in this many is stored. */
const THRASH_STORE_EVERY = 32
/** Entries of each direction's cache by default (a power of two): 8192 flows, about 1.1 MB in all. */
export const DEFAULT_FLOW_CACHE_ENTRIES = 8192

// Tags: per entry, the generation it was stored under and its key's hash.
const T_GEN = 0
const T_HASH = 1
const T_STRIDE = 2

// Entry layout from a port: key, then the flow's decision; 16 words, one 64-byte cache line (the arrays
// are large enough for V8 to place them on page boundaries). A routed flow's MACs are not kept: they
// are the destination record's and the router's (routedMacs), read again from the table on a hit.
const P_PORT = 0
/** Destination MAC's high 16 bits << 16 | the source MAC's. */
const P_MAC_HIS = 1
const P_DST_LO = 2
const P_SRC_LO = 3
const P_IP_SRC = 4
const P_IP_DST = 5
/** action | stage << 8 | the F_ bits below */
const P_FLAGS = 6
const P_VSID = 7
const P_SRC_RECORD = 8
const P_ROUTE = 9
const P_DST_RECORD = 10
const P_OUT_VSID = 11
const P_GRE_VSID = 12
const P_PA = 13
const P_OUT_PORT = 14
const P_STRIDE = 16

// P_FLAGS bits: what the flow's packets need checked, known when the entry is stored (the table's port
// and the decision): routed (TTL, MACs), the port a DHCP client (a packet may be DHCP to the engine), the
// port MSS-clamped (a SYN gets its MSS lowered).
const F_ROUTED = 1 << 16
const F_DHCP = 1 << 17
const F_MSS = 1 << 18

// Entry layout from the underlay (16 words, one cache line).
const U_OUTER_DST = 0
const U_OUTER_SRC = 1
const U_VSID = 2
const U_DST_HI = 3
const U_DST_LO = 4
const U_SRC_HI = 5
const U_SRC_LO = 6
const U_IP_SRC = 7
const U_PA = 8
const U_SRC_PA = 9
const U_VSID_INDEX = 10
const U_OUT_PORT = 11
const U_SRC_RECORD = 12
/** 1 when the destination port is MSS-clamped (a SYN's MSS is lowered), else 0. */
const U_MSS = 13
const U_STRIDE = 16

/** Bytes from a port frame's start to the end of its IPv4 addresses (an untagged IPv4 header). */
const PORT_KEY_LEN = Eth.HEADER_LEN + 20
/** The same for an NVGRE packet: GRE header with key, inner Ethernet, IPv4 header. */
const GRE_HEADER_LEN = 8
const UNDERLAY_KEY_LEN = GRE_HEADER_LEN + PORT_KEY_LEN
/** RFC 7637 §3.2: the GRE key is VSID << 8 | FlowID, at byte 4. */
const GRE_KEY = 4
const IPV4_SRC = 12
const IPV4_DST = 16

function word(b: Uint8Array, o: number): number {
  return (b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]
}

function mix(h: number, w: number): number {
  h = Math.imul(h ^ w, 0x9e3779b1)
  return h ^ (h >>> 15)
}

/** MurmurHash3's last steps, so that the bucket bits depend on every key bit. */
function finish(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  return h ^ (h >>> 13)
}

export class FlowCache {
  /** FlowCacheStat counters. */
  readonly stats = new Float64Array(FLOW_CACHE_STAT_NAMES.length)
  private readonly port: Int32Array
  private readonly portTags: Int32Array
  private readonly underlay: Int32Array
  private readonly underlayTags: Int32Array
  /** Buckets - 1 (the same for both directions). */
  private readonly mask: number
  private table: ForwardingTable | null = null
  /** Entries whose generation is not this one are empty. */
  private gen = 1
  /** The way a full bucket gives up next. */
  private victim = 0
  /** Storable misses since the last look at the hit ratio, and stats[HITS] at that look. */
  private windowMisses = 0
  private windowHits = 0
  /** Fewer hits than storable misses in the last window: only every THRASH_STORE_EVERY-th is stored. */
  private thrashing = false
  private sinceStore = 0
  /**
   * A DataView of the last buffer keys were read from: one big-endian load per key word instead of four
   * byte loads (about 10 ns a frame). Made again only when frames come in another buffer (a port's ring,
   * the segment arena: the same ones batch after batch).
   */
  private viewOf: Buffer | null = null
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0))

  constructor(entries = DEFAULT_FLOW_CACHE_ENTRIES) {
    if (!Number.isInteger(entries) || entries < WAYS || (entries & (entries - 1)) !== 0) throw new RangeError(`flow cache entries ${entries} is not a power of two of at least ${WAYS}`)
    this.mask = entries / WAYS - 1
    this.port = new Int32Array(entries * P_STRIDE)
    this.portTags = new Int32Array(entries * T_STRIDE)
    this.underlay = new Int32Array(entries * U_STRIDE)
    this.underlayTags = new Int32Array(entries * T_STRIDE)
  }

  /** Forgets every entry (the next table would do it anyway). */
  clear(): void {
    this.table = null
    this.gen = (this.gen + 1) | 0 || 1
  }

  /** Pipeline.fromPort, through the cache. */
  fromPort(p: Pipeline, t: ForwardingTable, port: number, buf: Buffer, off: number, end: number, v: Verdict): number {
    // Only untagged IPv4 frames of known ports are held; their key lies in the first 34 bytes.
    if (port === NONE || end - off < PORT_KEY_LEN || buf[off + Eth.TYPE] !== 0x08 || buf[off + Eth.TYPE + 1] !== 0x00) {
      this.stats[FlowCacheStat.BYPASSED]++
      return p.fromPort(t, port, buf, off, end, v)
    }
    if (t !== this.table) this.swap(t)
    const d = buf === this.viewOf ? this.view : this.viewFor(buf)
    const macHis = (d.getUint16(off) << 16) | d.getUint16(off + 6)
    const dstLo = d.getInt32(off + 2)
    const srcLo = d.getInt32(off + 8)
    const ipSrc = d.getInt32(off + Eth.HEADER_LEN + IPV4_SRC)
    const ipDst = d.getInt32(off + Eth.HEADER_LEN + IPV4_DST)
    let h = mix(mix(mix(mix(0x2545f491, port), dstLo), ipSrc), ipDst)
    h = finish(mix(h, srcLo))
    const c = this.port
    const tags = this.portTags
    const gen = this.gen
    const first = (h & this.mask) * WAYS
    for (let i = first; i < first + WAYS; i++) {
      if (tags[i * T_STRIDE + T_HASH] !== h || tags[i * T_STRIDE + T_GEN] !== gen) continue
      const e = i * P_STRIDE
      if (c[e + P_PORT] !== port || c[e + P_IP_DST] !== ipDst || c[e + P_IP_SRC] !== ipSrc || c[e + P_DST_LO] !== dstLo || c[e + P_SRC_LO] !== srcLo || c[e + P_MAC_HIS] !== macHis) {
        continue
      }
      if (this.portHit(p, t, port, buf, off, end, v, c, e)) {
        this.stats[FlowCacheStat.HITS]++
        return v.action
      }
      break
    }
    return this.portMiss(p, t, port, buf, off, end, v, first, h, macHis, dstLo, srcLo, ipSrc, ipDst)
  }

  /** A frame fromPort did not find (or whose packet's part differs): the full pipeline, its decision stored when it can be. */
  private portMiss(p: Pipeline, t: ForwardingTable, port: number, buf: Buffer, off: number, end: number, v: Verdict, first: number, h: number, macHis: number, dstLo: number, srcLo: number, ipSrc: number, ipDst: number): number {
    this.stats[FlowCacheStat.MISSES]++
    const action = p.fromPort(t, port, buf, off, end, v)
    if ((action === Action.ENCAP || action === Action.DELIVER) && v.family === 4 && !v.learn && this.storing()) {
      const c = this.port
      const e = this.slot(this.portTags, first, h) * P_STRIDE
      c[e + P_PORT] = port
      c[e + P_MAC_HIS] = macHis
      c[e + P_DST_LO] = dstLo
      c[e + P_SRC_LO] = srcLo
      c[e + P_IP_SRC] = ipSrc
      c[e + P_IP_DST] = ipDst
      c[e + P_FLAGS] = action | (v.stage << 8) | (v.routed ? F_ROUTED : 0) | (t.ports.dhcp[port] === 1 ? F_DHCP : 0) | (t.ports.mssClamp[port] === 1 ? F_MSS : 0)
      c[e + P_VSID] = v.vsid
      c[e + P_SRC_RECORD] = v.srcRecord
      c[e + P_ROUTE] = v.route
      c[e + P_DST_RECORD] = v.dstRecord
      c[e + P_OUT_VSID] = v.outVsid
      c[e + P_GRE_VSID] = v.greVsid
      c[e + P_PA] = v.pa
      c[e + P_OUT_PORT] = v.outPort
    }
    return action
  }

  /**
   * Pipeline.fromUnderlay, through the cache: `family` is the outer one; only IPv4 underlays' packets
   * carrying untagged IPv4 frames are held.
   */
  fromUnderlay(p: Pipeline, t: ForwardingTable, family: number, buf: Buffer, off: number, end: number, addrs: Uint8Array, addrOff: number, v: Verdict): number {
    const inner = off + GRE_HEADER_LEN
    if (family !== 4 || end - off < UNDERLAY_KEY_LEN || buf[inner + Eth.TYPE] !== 0x08 || buf[inner + Eth.TYPE + 1] !== 0x00) {
      this.stats[FlowCacheStat.BYPASSED]++
      return p.fromUnderlay(t, family, buf, off, end, addrs, addrOff, v)
    }
    if (t !== this.table) this.swap(t)
    const outerDst = word(addrs, addrOff + ADDR_DST)
    const outerSrc = word(addrs, addrOff + ADDR_SRC)
    const d = buf === this.viewOf ? this.view : this.viewFor(buf)
    const vsid = d.getInt32(off + GRE_KEY) >>> 8
    const dstHi = d.getUint16(inner)
    const dstLo = d.getInt32(inner + 2)
    const srcHi = d.getUint16(inner + 6)
    const srcLo = d.getInt32(inner + 8)
    const ipSrc = d.getInt32(inner + Eth.HEADER_LEN + IPV4_SRC)
    let h = mix(mix(mix(mix(0x2545f491, outerSrc), vsid), dstLo), srcLo)
    h = finish(mix(h, ipSrc))
    const c = this.underlay
    const tags = this.underlayTags
    const gen = this.gen
    const first = (h & this.mask) * WAYS
    for (let i = first; i < first + WAYS; i++) {
      if (tags[i * T_STRIDE + T_HASH] !== h || tags[i * T_STRIDE + T_GEN] !== gen) continue
      const e = i * U_STRIDE
      if (c[e + U_IP_SRC] !== ipSrc || c[e + U_OUTER_SRC] !== outerSrc || c[e + U_OUTER_DST] !== outerDst ||
        c[e + U_VSID] !== vsid || c[e + U_DST_LO] !== dstLo || c[e + U_DST_HI] !== dstHi || c[e + U_SRC_LO] !== srcLo || c[e + U_SRC_HI] !== srcHi) {
        continue
      }
      if (p.cachedUnderlay4(buf, off, end, v)) {
        v.stage = Stage.LOCAL_DELIVERY
        v.pa = c[e + U_PA]
        v.srcPa = c[e + U_SRC_PA]
        v.vsid = c[e + U_VSID_INDEX]
        v.outVsid = v.vsid
        v.outPort = c[e + U_OUT_PORT]
        v.srcRecord = c[e + U_SRC_RECORD]
        if (c[e + U_MSS] !== 0) p.cachedDeliver(t, family, v)
        v.action = Action.DELIVER
        this.stats[FlowCacheStat.HITS]++
        return Action.DELIVER
      }
      break
    }
    return this.underlayMiss(p, t, family, buf, off, end, addrs, addrOff, v, first, h, outerDst, outerSrc, vsid, dstHi, dstLo, srcHi, srcLo, ipSrc)
  }

  /** A packet fromUnderlay did not find (or whose packet's part differs): the full pipeline, its decision stored when it can be. */
  private underlayMiss(p: Pipeline, t: ForwardingTable, family: number, buf: Buffer, off: number, end: number, addrs: Uint8Array, addrOff: number, v: Verdict,
    first: number, h: number, outerDst: number, outerSrc: number, vsid: number, dstHi: number, dstLo: number, srcHi: number, srcLo: number, ipSrc: number): number {
    this.stats[FlowCacheStat.MISSES]++
    const action = p.fromUnderlay(t, family, buf, off, end, addrs, addrOff, v)
    if (action === Action.DELIVER && v.family === 4 && v.flood === FloodKind.NONE && !v.learn && this.storing()) {
      const c = this.underlay
      const e = this.slot(this.underlayTags, first, h) * U_STRIDE
      c[e + U_OUTER_DST] = outerDst
      c[e + U_OUTER_SRC] = outerSrc
      c[e + U_VSID] = vsid
      c[e + U_DST_HI] = dstHi
      c[e + U_DST_LO] = dstLo
      c[e + U_SRC_HI] = srcHi
      c[e + U_SRC_LO] = srcLo
      c[e + U_IP_SRC] = ipSrc
      c[e + U_PA] = v.pa
      c[e + U_SRC_PA] = v.srcPa
      c[e + U_VSID_INDEX] = v.vsid
      c[e + U_OUT_PORT] = v.outPort
      c[e + U_SRC_RECORD] = v.srcRecord
      c[e + U_MSS] = t.ports.mssClamp[v.outPort]
    }
    return action
  }

  /** The packet's part, then the flow's part from entry `e`; false when the frame needs the full pipeline. */
  private portHit(p: Pipeline, t: ForwardingTable, port: number, buf: Buffer, off: number, end: number, v: Verdict, c: Int32Array, e: number): boolean {
    const flags = c[e + P_FLAGS]
    const routed = (flags & F_ROUTED) !== 0
    if (!p.cachedPort4(port, buf, off, end, routed, (flags & F_DHCP) !== 0, v)) return false
    v.stage = (flags >>> 8) & 0xff
    v.vsid = c[e + P_VSID]
    v.srcRecord = c[e + P_SRC_RECORD]
    v.route = c[e + P_ROUTE]
    v.dstRecord = c[e + P_DST_RECORD]
    v.outVsid = c[e + P_OUT_VSID]
    v.greVsid = c[e + P_GRE_VSID]
    v.pa = c[e + P_PA]
    v.outPort = c[e + P_OUT_PORT]
    if (routed) {
      v.routed = true
      routedMacs(t, v, v.dstRecord, v.outVsid)
    }
    const action = flags & 0xff
    v.action = action
    return action !== Action.ENCAP || p.cachedEncap4(t, buf, (flags & F_MSS) !== 0, v)
  }

  /** Whether to store this storable miss (see "Thrashing" at the top); counts the ones it does not. */
  private storing(): boolean {
    const store = !this.thrashing || ++this.sinceStore === THRASH_STORE_EVERY
    if (store) this.sinceStore = 0
    else this.stats[FlowCacheStat.UNSTORED]++
    const misses = ++this.windowMisses
    const hits = this.stats[FlowCacheStat.HITS] - this.windowHits
    if (hits + misses >= THRASH_WINDOW) {
      this.thrashing = hits < misses
      this.windowHits += hits
      this.windowMisses = 0
    }
    return store
  }

  /**
   * The entry of bucket `first` to (over)write for hash `h`: a stale one, else the next victim. Returns
   * its index with its tag set.
   */
  private slot(tags: Int32Array, first: number, h: number): number {
    const gen = this.gen
    let e = -1
    for (let i = first; i < first + WAYS; i++) {
      if (tags[i * T_STRIDE + T_GEN] !== gen) {
        e = i
        break
      }
    }
    if (e < 0) {
      e = first + this.victim
      this.victim = (this.victim + 1) & (WAYS - 1)
      this.stats[FlowCacheStat.EVICTIONS]++
    }
    tags[e * T_STRIDE + T_GEN] = gen
    tags[e * T_STRIDE + T_HASH] = h
    this.stats[FlowCacheStat.STORES]++
    return e
  }

  private viewFor(buf: Buffer): DataView<ArrayBufferLike> {
    this.viewOf = buf
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
    return this.view
  }

  private swap(t: ForwardingTable): void {
    this.table = t
    this.gen = (this.gen + 1) | 0 || 1
    // The misses that follow refill the cache: the last window says nothing about them.
    this.thrashing = false
    this.windowMisses = 0
    this.windowHits = this.stats[FlowCacheStat.HITS]
  }
}
