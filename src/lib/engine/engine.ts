// The Engine wires ports and underlays (ports.ts) to the pipeline over the loaded ForwardingTable: per
// received batch it asks the pipeline what to do with each packet (pipeline.ts), applies the verdict to
// the bytes in place (actions.ts), groups the output per port and per underlay, and sends each group once
// (wireguard-go's RoutineReadFromTUN: a batch in, one write per destination out). Nothing is copied: a
// frame leaves from the buffer it arrived in, its GRE header written in the headroom in front.
//
// Offloads (wireguard-go's handleVirtioRead / handleGRO): a TCP super-frame from a TSO port is cut by the
// Segmenter (offload.ts) into an arena of MTU-sized segments, each with headroom, and each segment then goes
// through the pipeline like any frame; the arena is sent with the rest of the batch. Frames bound for a
// TSO port are queued behind a zero virtio header as before and, when a flush holds two or more, the
// Coalescer merges the TCP runs (and, for a port with USO, the UDP runs) into super-frames (one copy)
// before the single write; if its output area is too small the frames go out as they are. A transmit
// batch holds frames of one buffer (ring or arena): a frame from another buffer, or a full batch, first
// sends what is queued.
//
// load() swaps the table between two batches; ports stay open. A port whose name the table does not
// know is kept and its frames dropped (port-unknown) until a table names it. Counters are typed arrays;
// status() builds objects only when asked.
import {
  ADDR_STRIDE,
  DEST_STRIDE,
  IO_STAT_NAMES,
  type PacketBatch,
  type Port,
  type PortFeatures,
  type RxBatch,
  type Underlay,
  type UnderlayRxBatch,
  type UnderlayTxBatch,
  type PhysicalLink,
} from './ports.js'
import {physicalArpReply, restoreToCa, rewriteToPa} from './nat.js'
import {ipv4ToString, ipv6ToString} from '../wire/address.js'
import {clampMss, pushNvgre, rewriteRouted, writeReply} from './actions.js'
import {CounterTable, namedCounts, PORT_COUNTER_NAMES, PortCounter, VSID_COUNTER_NAMES, VsidCounter} from './counters.js'
import {Action, FloodKind, Pipeline, Verdict} from './pipeline.js'
import {FLOW_CACHE_STAT_NAMES, FlowCache} from './flow-cache.js'
import './inlining.js'
import {LearnQueue, takeDynamicHits, type LearnedRecord} from './learning.js'
import {DROP_REASON_COUNT, DROP_REASON_NAMES, DropReason, REPLY_COUNT, REPLY_NAMES, Reply} from './stages.js'
import {NONE, PA_STRIDE, macText, type ForwardingTable} from './table.js'
import {COALESCE_STAT_NAMES, Coalescer, GSO_MAX_IP_LEN, OffloadBatch, SEGMENT_STAT_NAMES, Segmenter, innerMtu, type Checksum, type Memcpy} from './offload.js'
import {VNET_HEADER_LEN, vnetIngress, writeVnetNone} from './vnet.js'
import {GSO_STAT_NAMES, GsoPlan, GsoStat, PROGRAM_DROP_NAMES, RX_OFFLOAD_STAT_NAMES, RxKind, RxOffload, gsoEncapRoom, gsoPlan, writeGsoEncap, type GsoSink} from './kernel-gso.js'
import type {EngineTap, TapHost} from './tap.js'

export interface EngineOptions {
  /** One per local PA family/address the runtime opened; may be empty. */
  underlays: Underlay[]
  /** Hears receive errors of ports and underlays (they are counted in their io stats either way). */
  onError?: (source: string, error: Error) => void
  /** An allocation-free memcpy for segmenting and coalescing (the addon's); default: offload.ts's own copies. */
  memcpy?: Memcpy
  /** An allocation-free RFC 1071 sum for the same (the addon's); default: offload.ts's own. */
  checksum?: Checksum
  /** TranslationMethodNat: plain IP to and from the physical interface (nat.ts); none: such packets drop. */
  physical?: PhysicalLink
  /**
   * Kernel GSO (kernel-gso.ts), per underlay in the same order: where that underlay's TCP super-frames
   * go whole; null: segmented here. Omitted: none.
   */
  kernelGso?: (GsoSink | null)[]
  /**
   * The per-flow decision cache in front of the pipeline (flow-cache.ts): entries per direction (a power
   * of two), or false for none (every frame through the whole pipeline). Default: on, 8192 entries.
   */
  flowCache?: number | false
}

export interface PortStatus {
  name: string
  /** forwarding: an adapter of the table; not-virtualized: VirtualSubnetId 0; unknown: not in the table. */
  state: 'forwarding' | 'not-virtualized' | 'unknown'
  vmName: string | null
  adapter: string | null
  /** 12 upper-case hex digits, as the policy writes it. */
  mac: string | null
  vsid: number | null
  rxPackets: number
  rxBytes: number
  txPackets: number
  txBytes: number
  drops: number
  replies: number
  /** The port's own counters (IO_STAT_NAMES). */
  io: Record<string, number>
  features: PortFeatures
}

export interface UnderlayStatus {
  family: 4 | 6
  local: string | null
  mtu: number
  io: Record<string, number>
}

export interface VsidStatus {
  vsid: number
  packets: number
  bytes: number
  drops: number
}

/** Traffic that resolved to one lookup record (sent to its CA: delivered locally or encapsulated to its PA). */
export interface RecordStatus {
  CustomerAddress: string
  VirtualSubnetID: number
  MACAddress: string
  ProviderAddress: string
  packets: number
  bytes: number
}

export interface EngineStatus {
  /** Revision of the table applied; null before the first load. */
  revision: number | null
  ports: PortStatus[]
  /** This host's PAs in the table. */
  providerAddresses: string[]
  vsids: VsidStatus[]
  /** Every drop reason by printable name (stages.ts), zero included. */
  drops: Record<string, number>
  /** Frames the engine answered itself, by kind (arp-reply, neighbor-advert, echo-reply, time-exceeded). */
  replies: Record<string, number>
  /** Broadcast, multicast and L2Only ARP copied by source replication (FLOOD_COUNTER_NAMES). */
  flood: Record<string, number>
  /** Lookup records that traffic resolved to, with their counts (records never used are left out). */
  records: RecordStatus[]
  underlays: UnderlayStatus[]
  /** Segmentation (TAP super-frames -> MTU-sized frames) and coalescing (GRO) counters. */
  offload: {segment: Record<string, number>; coalesce: Record<string, number>; kernelGso: Record<string, number>; receive: Record<string, number>}
  /** The per-flow decision cache's counters (FLOW_CACHE_STAT_NAMES); null when it is off. */
  flowCache: Record<string, number> | null
}

/** A transmit batch over whatever buffer the current receive batch lives in. */
class TxBatch implements PacketBatch {
  buffer: Buffer = EMPTY
  offsets: Uint32Array
  lengths: Uint32Array
  count = 0
  constructor(capacity: number) {
    this.offsets = new Uint32Array(capacity)
    this.lengths = new Uint32Array(capacity)
  }
  grow(capacity: number): void {
    if (capacity <= this.offsets.length) return
    this.offsets = new Uint32Array(capacity)
    this.lengths = new Uint32Array(capacity)
  }
}

/** Most packets one batch can carry (the addon's limit). */
const MAX_BATCH = 1024

/** Int32 words per destination address (DEST_STRIDE bytes, as PA_STRIDE): a PA is copied in four moves. */
const ADDRESS_WORDS = DEST_STRIDE / 4

class UnderlayTx extends TxBatch implements UnderlayTxBatch {
  destinations!: Uint8Array
  /** `destinations` as int32 words (ADDRESS_WORDS per packet). */
  private words!: Int32Array

  constructor(capacity: number) {
    super(capacity)
    this.allocate(capacity)
  }

  override grow(capacity: number): void {
    if (capacity <= this.offsets.length) return
    super.grow(capacity)
    this.allocate(capacity)
  }

  private allocate(capacity: number): void {
    this.words = new Int32Array(capacity * ADDRESS_WORDS)
    this.destinations = new Uint8Array(this.words.buffer)
  }

  /** Packet `n`'s destination := PA row `pa`'s address (`paWords`: the table's PA bytes as words, Loaded.paWords). */
  setDestination(n: number, paWords: Int32Array, pa: number): void {
    const w = this.words
    const at = n * ADDRESS_WORDS
    const from = pa * ADDRESS_WORDS
    w[at] = paWords[from]
    w[at + 1] = paWords[from + 1]
    w[at + 2] = paWords[from + 2]
    w[at + 3] = paWords[from + 3]
  }
}

const EMPTY = Buffer.alloc(0)
/** Room in front of an injected frame: NVGRE and the replies the engine writes fit in it. */
const INJECT_HEADROOM = 128

interface PortSlot {
  index: number
  port: Port | null
  /** Row of the port in the loaded table, or NONE. */
  tablePort: number
  /** virtio_net_hdr bytes in front of each frame, 0 without IFF_VNET_HDR. */
  vnetLen: number
  /** The port takes TCP super-frames (TSO): what is queued for it is coalesced. */
  gro: boolean
  /** With gro, the port also takes UDP super-frames (USO, Linux 6.2 on): UDP datagrams are coalesced too. */
  uso: boolean
  /** In `touched` for the current batch. */
  queued: boolean
  tx: TxBatch
}

/** Free bytes in front of each segment in the arena: the NVGRE header goes there (and a virtio header). */
const SEGMENT_HEADROOM = 64
/** Segments the arena holds; a super-frame is segmented only when room for a whole one is left. */
const ARENA_PACKETS = 1024
/** The largest segment: an inner Ethernet frame with a VLAN tag of a jumbo-less physical network. */
const ARENA_SLOT = SEGMENT_HEADROOM + 1536
/** Room kept free before segmenting one more super-frame (up to 64 KB of payload, in small segments). */
const ARENA_RESERVE_PACKETS = 256
const ARENA_RESERVE_BYTES = 2 * GSO_MAX_IP_LEN + ARENA_RESERVE_PACKETS * SEGMENT_HEADROOM
/**
 * Coalescing output: a flush's frames with their headers. A recvmmsg batch of MTU-sized segments needs
 * about 100 KB, an arena's worth of local segments 1.6 MB; a flush that does not fit is sent uncoalesced.
 */
const GRO_OUT_BYTES = 2 << 20
/** Inner IPv4 MTU when the engine has no underlay (local delivery only): a 1500-byte physical network's. */
const DEFAULT_INNER_MTU = innerMtu(1500, false)

interface UnderlaySlot {
  underlay: Underlay
  tx: UnderlayTx
}

/** A table and the engine's mappings onto it, swapped in as one reference and read once per batch. */
interface Loaded {
  table: ForwardingTable
  /** Table port row -> port slot (NONE when not attached). */
  portSlot: Int32Array
  /** Table VSID index -> counter row (rows outlive tables: counters survive a reload). */
  vsidRow: Int32Array
  /** Table PA row -> the underlay slot bound to that local PA (NONE: the family's default). */
  paUnderlay: Int32Array
  /** underlayFor's answers: [PA row * 2 + (destination IPv6 ? 1 : 0)] -> underlay slot (NONE: none of that family). */
  sourceUnderlay: Int32Array
  /** Per table record: packets, bytes resolved to it (two columns; carried over a reload by VSID and CA). */
  recordCounts: Float64Array
  /** Table record row -> 1 once a packet used it (source or destination) since the last takeLearning(). */
  hits: Uint8Array
  /** The table's PA bytes (PA_STRIDE per row) as int32 words, copied per packet into transmit batches. */
  paWords: Int32Array
}

/** Columns of the flood counters: frames flooded, the copies to ports and to PAs they made. */
export const FloodCounter = {FRAMES: 0, PORT_COPIES: 1, UNDERLAY_COPIES: 2} as const
export const FLOOD_COUNTER_NAMES: readonly string[] = ['frames', 'portCopies', 'underlayCopies']

/** What the control path takes from the engine each learning tick (learning.ts). */
export interface LearningHarvest {
  /** Addresses L2Only VMs' ARP replies taught since the last harvest. */
  learned: LearnedRecord[]
  /** Dynamic records packets used since the last harvest (learning.ts recordKey). */
  used: string[]
  /** The table in force (its Dynamic records are the ones to age), or null before the first load. */
  table: ForwardingTable | null
}

export class Engine implements TapHost {
  /** Capture and live trace (tap.ts): null unless armed, looked at once per batch. */
  tap: EngineTap | null = null
  private loaded: Loaded | null = null
  private readonly pipeline = new Pipeline()
  private readonly verdict = new Verdict()
  /** The decisions of recent flows (null: disabled); its stats say how often it answered. */
  readonly flowCache: FlowCache | null
  private readonly slots: PortSlot[] = []
  private readonly slotByName = new Map<string, PortSlot>()
  private readonly underlays: UnderlaySlot[]
  private readonly onError: EngineOptions['onError']
  /** Largest batch any endpoint hands us: every transmit batch can hold that many. */
  private capacity = 1
  /** VSID number -> counter row. */
  private readonly vsidRows = new Map<number, number>()
  private defaultUnderlay4 = NONE as number
  private defaultUnderlay6 = NONE as number
  /** Port slots with something to send in the current batch. */
  private touched = new Int32Array(8)
  private touchedCount = 0
  private readonly drops = new Float64Array(DROP_REASON_COUNT)
  private readonly replies = new Float64Array(REPLY_COUNT)
  private readonly floods = new Float64Array(FLOOD_COUNTER_NAMES.length)
  private readonly learnQueue = new LearnQueue()
  /** Dynamic records used under tables swapped out since the last harvest. */
  private usedBeforeSwap: string[] = []
  private readonly portCounters = new CounterTable(PORT_COUNTER_NAMES)
  private readonly vsidCounters = new CounterTable(VSID_COUNTER_NAMES)
  private closed = false
  private readonly segmenter: Segmenter
  private readonly coalescer: Coalescer
  /** Segments of super-frames read in the current batch; made when the first TSO port attaches. */
  private arena: OffloadBatch | null = null
  private groOut: OffloadBatch | null = null
  /** Largest inner IP packet a segment may carry: the tightest underlay's, after GRE and Ethernet. */
  private readonly maxInnerIp: number
  /** TranslationMethodNat (nat.ts): the physical link, its transmit batch, and the MAC an ARP reply goes to. */
  private readonly physical: PhysicalLink | null
  private readonly physicalTx: UnderlayTx
  private readonly arpMac = new Uint8Array(6)
  /** Kernel GSO per underlay (null: none), its transmit batches, and its per-frame scratch. */
  private readonly gso: (GsoSink | null)[]
  private readonly gsoTx: UnderlayTx[]
  private readonly gsoPlan = new GsoPlan()
  private readonly gsoStats = new Float64Array(GSO_STAT_NAMES.length)
  private gsoId = 0
  private readonly rxOffload: RxOffload

  constructor(options: EngineOptions) {
    this.onError = options.onError
    this.flowCache = options.flowCache === false ? null : new FlowCache(options.flowCache)
    this.segmenter = new Segmenter({memcpy: options.memcpy, checksum: options.checksum})
    this.coalescer = new Coalescer({maxFrames: MAX_BATCH, memcpy: options.memcpy, checksum: options.checksum})
    for (const u of options.underlays) {
      if (u.batchSize > MAX_BATCH) throw new RangeError(`underlay batch size ${u.batchSize} is above ${MAX_BATCH}`)
      this.capacity = Math.max(this.capacity, u.batchSize)
    }
    this.physical = options.physical ?? null
    if (this.physical !== null) this.capacity = Math.max(this.capacity, Math.min(MAX_BATCH, this.physical.batchSize))
    this.physicalTx = new UnderlayTx(this.capacity)
    if (this.physical !== null) {
      const label = `physical link ${this.physical.interfaceName}`
      this.physical.start(
        (batch) => {
          this.physicalBatch(batch)
          return this.tap !== null
        },
        (error) => this.onError?.(label, error),
      )
    }
    this.underlays = options.underlays.map((underlay) => ({underlay, tx: new UnderlayTx(this.capacity)}))
    this.gso = options.underlays.map((_, i) => options.kernelGso?.[i] ?? null)
    // No kernel path at all: super-frames go straight to segmentFrame (superFrame is not even tried).
    this.gsoTx = this.gso.some((g) => g !== null) ? this.gso.map(() => new UnderlayTx(this.capacity)) : []
    this.rxOffload = new RxOffload(options.checksum)
    // underlay.mtu is the largest GRE packet: minus the GRE header with key (8) and the inner Ethernet (14).
    this.maxInnerIp = options.underlays.length === 0 ? DEFAULT_INNER_MTU : Math.min(...options.underlays.map((u) => u.mtu - 22))
    // The MTU stage holds frames to the tightest underlay of their PA's family.
    for (const family of [4, 6] as const) {
      const mtus = options.underlays.filter((u) => u.family === family).map((u) => u.mtu)
      if (mtus.length > 0) this.pipeline.underlayMtu[family === 4 ? 0 : 1] = Math.min(...mtus)
    }
    this.underlays.forEach((slot, i) => {
      if (slot.underlay.family === 4 && this.defaultUnderlay4 === NONE) this.defaultUnderlay4 = i
      if (slot.underlay.family === 6 && this.defaultUnderlay6 === NONE) this.defaultUnderlay6 = i
    })
    // An unbound underlay (no local PA) is the better default: the kernel picks the source by route.
    this.underlays.forEach((slot, i) => {
      if (slot.underlay.local !== null) return
      if (slot.underlay.family === 4) this.defaultUnderlay4 = i
      else this.defaultUnderlay6 = i
    })
    this.underlays.forEach((slot) => {
      const label = `GRE/IPv${slot.underlay.family} underlay`
      slot.underlay.start(
        (batch) => {
          this.underlayBatch(slot, batch)
          return this.tap !== null
        },
        (error) => this.onError?.(label, error),
      )
    })
  }

  /** Swaps in a new table between two batches; ports and underlays stay as they are. */
  load(table: ForwardingTable): void {
    const portSlot = new Int32Array(table.ports.count).fill(NONE)
    for (const slot of this.slots) {
      if (slot.port === null) continue
      slot.tablePort = table.portIndex(slot.port.name)
      if (slot.tablePort !== NONE) portSlot[slot.tablePort] = slot.index
    }
    const vsidRow = new Int32Array(table.vsids.count)
    for (let v = 0; v < table.vsids.count; v++) vsidRow[v] = this.vsidCounterRow(table.vsids.value[v])
    const paUnderlay = new Int32Array(table.pas.count).fill(NONE)
    // Per source PA row and destination family: the bound underlay when it serves both, else the default.
    const sourceUnderlay = new Int32Array(table.pas.count * 2)
    for (let p = 0; p < table.pas.count; p++) {
      if (table.pas.local[p] === 1) {
        paUnderlay[p] = this.underlays.findIndex(({underlay}) => underlay.family === table.pas.family[p] && sameAddress(underlay.local, table.pas.bytes, p * PA_STRIDE))
      }
      const bound = paUnderlay[p] === NONE ? NONE : table.pas.family[p]
      sourceUnderlay[p * 2] = bound === 4 ? paUnderlay[p] : this.defaultUnderlay4
      sourceUnderlay[p * 2 + 1] = bound === 6 ? paUnderlay[p] : this.defaultUnderlay6
    }
    if (this.loaded !== null) this.usedBeforeSwap.push(...takeDynamicHits(this.loaded.table, this.loaded.hits))
    const paWords = new Int32Array(table.pas.count * ADDRESS_WORDS)
    new Uint8Array(paWords.buffer).set(table.pas.bytes.subarray(0, paWords.length * 4))
    this.loaded = {table, portSlot, vsidRow, paUnderlay, sourceUnderlay, recordCounts: carryRecordCounts(this.loaded, table), hits: new Uint8Array(table.records.count), paWords}
  }

  /** Starts a VM port; its frames are forwarded once the table names it (port.name = InterfaceName). */
  attach(port: Port): void {
    if (this.closed) throw new Error('the engine is closed')
    if (this.slotByName.has(port.name)) throw new Error(`port ${port.name} is already attached`)
    const tso = port.features.vnetHdr && (port.features.tso || port.features.uso)
    // A TSO port's batch can become a thousand segments: every transmit batch must hold an arena's worth.
    this.growCapacity(tso ? ARENA_PACKETS : port.batchSize)
    if (tso && this.arena === null) {
      this.arena = new OffloadBatch(ARENA_PACKETS * ARENA_SLOT + ARENA_RESERVE_BYTES, ARENA_PACKETS)
      this.groOut = new OffloadBatch(GRO_OUT_BYTES, MAX_BATCH)
    }
    let slot = this.slots.find((s) => s.port === null)
    if (slot === undefined) {
      slot = {index: this.slots.length, port: null, tablePort: NONE, vnetLen: 0, gro: false, uso: false, queued: false, tx: new TxBatch(this.capacity)}
      this.slots.push(slot)
      this.portCounters.ensureRows(this.slots.length)
    }
    this.portCounters.clearRow(slot.index)
    slot.port = port
    slot.vnetLen = port.features.vnetHdr ? port.features.vnetHdrLen : 0
    slot.gro = tso && port.features.tso
    slot.uso = slot.gro && port.features.uso
    const loaded = this.loaded
    slot.tablePort = loaded?.table.portIndex(port.name) ?? NONE
    if (loaded !== null && slot.tablePort !== NONE) loaded.portSlot[slot.tablePort] = slot.index
    this.slotByName.set(port.name, slot)
    const s = slot
    try {
      port.start(
        (batch) => {
          this.portBatch(s, batch)
          return this.tap !== null
        },
        (error) => this.onError?.(`port ${port.name}`, error),
      )
    } catch (error) {
      // Leave no half-attached port behind (the caller still owns, and closes, what failed to start).
      this.slotByName.delete(port.name)
      if (loaded !== null && s.tablePort !== NONE && loaded.portSlot[s.tablePort] === s.index) loaded.portSlot[s.tablePort] = NONE
      s.port = null
      s.tablePort = NONE
      throw error
    }
  }

  /** Stops and closes the port of that name (nothing if none). */
  detach(name: string): void {
    const slot = this.slotByName.get(name)
    if (slot === undefined) return
    this.slotByName.delete(name)
    const portSlot = this.loaded?.portSlot
    if (portSlot !== undefined && slot.tablePort !== NONE && portSlot[slot.tablePort] === slot.index) portSlot[slot.tablePort] = NONE
    const port = slot.port
    slot.port = null
    slot.tablePort = NONE
    slot.tx.count = 0
    port?.close()
  }

  status(): EngineStatus {
    const t = this.loaded?.table ?? null
    const ports: PortStatus[] = []
    for (const slot of this.slots) {
      const port = slot.port
      if (port === null) continue
      const p = slot.tablePort
      const known = t !== null && p !== NONE
      const counters = this.portCounters.row(slot.index)
      ports.push({
        name: port.name,
        state: !known ? 'unknown' : t.ports.vsid[p] === NONE ? 'not-virtualized' : 'forwarding',
        vmName: known ? t.ports.vmName[p] : null,
        adapter: known ? t.ports.adapter[p] : null,
        mac: known ? t.ports.macText[p] : null,
        vsid: known ? t.ports.vsidValue[p] : null,
        rxPackets: counters.rxPackets,
        rxBytes: counters.rxBytes,
        txPackets: counters.txPackets,
        txBytes: counters.txBytes,
        drops: counters.drops,
        replies: counters.replies,
        io: namedCounts(IO_STAT_NAMES, port.stats),
        features: {...port.features},
      })
    }
    ports.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    const vsids: VsidStatus[] = [...this.vsidRows]
      .sort(([a], [b]) => a - b)
      .map(([vsid, row]) => ({vsid, ...(this.vsidCounters.row(row) as Omit<VsidStatus, 'vsid'>)}))
    return {
      revision: t?.revision ?? null,
      ports,
      providerAddresses: t?.localProviderAddresses() ?? [],
      vsids,
      drops: namedCounts(DROP_REASON_NAMES, this.drops),
      replies: namedCounts(REPLY_NAMES, this.replies),
      flood: namedCounts(FLOOD_COUNTER_NAMES, this.floods),
      records: this.loaded === null ? [] : recordStatus(this.loaded),
      underlays: this.underlays.map(({underlay}) => ({
        family: underlay.family,
        local: underlay.local === null ? null : addressText(underlay.local),
        mtu: underlay.mtu,
        io: namedCounts(IO_STAT_NAMES, underlay.stats),
      })),
      offload: {
        segment: namedCounts(SEGMENT_STAT_NAMES, this.segmenter.stats),
        coalesce: namedCounts(COALESCE_STAT_NAMES, this.coalescer.stats),
        kernelGso: {...namedCounts(GSO_STAT_NAMES, this.gsoStats), ...this.programDrops()},
        receive: namedCounts(RX_OFFLOAD_STAT_NAMES, this.rxOffload.stats),
      },
      flowCache: this.flowCache === null ? null : namedCounts(FLOW_CACHE_STAT_NAMES, this.flowCache.stats),
    }
  }

  /** The kernel GSO programs' drop counters, summed over the underlays that have one (none: empty). */
  private programDrops(): Record<string, number> {
    if (this.gsoTx.length === 0) return {}
    const drops = new Float64Array(PROGRAM_DROP_NAMES.length)
    for (const sink of this.gso) sink?.readProgramDrops?.(drops)
    return namedCounts(PROGRAM_DROP_NAMES, drops)
  }

  /** Closes every port and underlay. */
  close(): void {
    if (this.closed) return
    this.closed = true
    for (const name of [...this.slotByName.keys()]) this.detach(name)
    for (const {underlay} of this.underlays) underlay.close()
    this.physical?.close()
  }

  // ---- per batch ----
  // Each reader callback returns whether it may have queued asynchronous work (ports.ts start): only an
  // armed tap does (capture and live trace write to streams); otherwise the wakeup skips the event loop's
  // tick and microtask queues. Every batch is sent before its callback returns (flush).

  private portBatch(slot: PortSlot, batch: RxBatch): void {
    const loaded = this.loaded
    const v = this.verdict
    const buf = batch.buffer
    const headroom = batch.headroom
    const vnetLen = slot.vnetLen
    const tablePort = loaded === null ? NONE : slot.tablePort
    const pc = this.portCounters.values
    const row = slot.index * this.portCounters.width
    if (this.tap !== null && slot.port !== null) this.tap.portIn(this, slot.port.name, tablePort, batch, vnetLen)
    let bytes = 0
    for (let i = 0; i < batch.count; i++) {
      const base = batch.offsets[i]
      const len = batch.lengths[i]
      const end = base + len
      bytes += len
      if (loaded === null) {
        this.drop(loaded, DropReason.PORT_UNKNOWN, slot.index, NONE)
        continue
      }
      if (vnetLen !== 0) {
        let refused = len < vnetLen ? DropReason.MALFORMED : vnetIngress(buf, base, base + vnetLen, end)
        // A GSO super-frame: cut into segments in the arena, each forwarded as a frame of its own.
        if (refused === DropReason.OFFLOAD_UNSUPPORTED && this.arena !== null) refused = this.superFrame(loaded, slot, buf, base, base + vnetLen, end, base - headroom)
        else if (refused === DropReason.NONE) this.forward(loaded, slot, buf, base + vnetLen, end, base - headroom, len)
        if (refused !== DropReason.NONE) this.drop(loaded, refused, slot.index, NONE)
        continue
      }
      this.forward(loaded, slot, buf, base, end, base - headroom, len)
    }
    pc[row + PortCounter.RX_PACKETS] += batch.count
    pc[row + PortCounter.RX_BYTES] += bytes
    this.flush()
  }

  /** One frame `buf[off, end)` from a port through the pipeline and its verdict; `floor` starts its slot. */
  private forward(loaded: Loaded, slot: PortSlot, buf: Buffer, off: number, end: number, floor: number, len: number): void {
    const v = this.verdict
    if (this.flowCache !== null) this.flowCache.fromPort(this.pipeline, loaded.table, slot.tablePort, buf, off, end, v)
    else this.pipeline.fromPort(loaded.table, slot.tablePort, buf, off, end, v)
    this.countVsid(loaded, v.vsid, len)
    if (v.srcRecord !== NONE) loaded.hits[v.srcRecord] = 1
    if (v.dstRecord !== NONE) loaded.hits[v.dstRecord] = 1
    if (v.action === Action.ENCAP) this.encap(loaded, v, buf, floor, slot.index)
    else this.apply(loaded, v, buf, floor, slot.index)
  }

  /**
   * Segments the super-frame `buf[frame, end)` (virtio header at `hdr`) into the arena and forwards each
   * segment; returns DropReason.NONE, or why the super-frame was dropped.
   */
  private segmentFrame(loaded: Loaded, slot: PortSlot, buf: Buffer, hdr: number, frame: number, end: number): number {
    const arena = this.arena!
    if (arena.capacity - arena.count < ARENA_RESERVE_PACKETS || arena.buffer.length - arena.used < ARENA_RESERVE_BYTES) this.flush()
    const first = arena.count
    const n = this.segmenter.segment(buf, hdr, frame, end, this.maxInnerIp, arena, SEGMENT_HEADROOM)
    if (n < 0) return -n
    const out = arena.buffer
    for (let k = first; k < first + n; k++) {
      const off = arena.offsets[k]
      const len = arena.lengths[k]
      this.forward(loaded, slot, out, off, off + len, off - SEGMENT_HEADROOM, len)
    }
    return DropReason.NONE
  }

  /**
   * A super-frame: to the kernel whole when it is TCP GSO that the pipeline encapsulates to an underlay
   * with kernel GSO (one verdict for all its segments, the MTU stage judging the largest segment);
   * otherwise segmented here (segmentFrame), which decides each segment again.
   */
  private superFrame(loaded: Loaded, slot: PortSlot, buf: Buffer, hdr: number, frame: number, end: number, floor: number): number {
    const plan = this.gsoPlan
    if (this.gsoTx.length === 0 || !gsoPlan(buf, hdr, frame, end, this.maxInnerIp, plan)) return this.segmentFrame(loaded, slot, buf, hdr, frame, end)
    const v = this.verdict
    this.pipeline.segmentLength = plan.segmentFrameLen
    this.pipeline.fromPort(loaded.table, slot.tablePort, buf, frame, end, v)
    this.pipeline.segmentLength = 0
    const u = v.action === Action.ENCAP && v.mss === 0 ? this.underlayFor(loaded, v) : NONE
    const sink = u === NONE ? null : this.gso[u]
    if (sink === null) {
      this.gsoStats[GsoStat.NOT_ENCAPSULATED]++
      return this.segmentFrame(loaded, slot, buf, hdr, frame, end)
    }
    // Outer IP + outer Ethernet + the virtio header go in front of the GRE header (8 bytes); an IPv4
    // total length counts its own header, an IPv6 payload length does not.
    const v6 = sink.local.length === 16
    if (v.frameEnd - v.frameOff + (v6 ? 8 : 28) > 0xffff || v.frameOff - 8 - gsoEncapRoom(v6, sink.vnetLen) < floor) {
      this.gsoStats[GsoStat.TOO_LONG]++
      return this.segmentFrame(loaded, slot, buf, hdr, frame, end)
    }
    this.countVsid(loaded, v.vsid, end - frame)
    if (v.srcRecord !== NONE) loaded.hits[v.srcRecord] = 1
    if (v.dstRecord !== NONE) loaded.hits[v.dstRecord] = 1
    if (v.routed) rewriteRouted(buf, v)
    const start = pushNvgre(buf, v, floor)
    const at = writeGsoEncap(buf, start, v.frameEnd, sink.local, loaded.table.pas.bytes, v.pa * PA_STRIDE, this.gsoId++ & 0xffff, plan, sink.vnetLen)
    this.countRecord(loaded, v.dstRecord, v.frameEnd - v.frameOff)
    // Order within a flow: what the raw socket holds for this underlay leaves first.
    if (this.underlays[u].tx.count !== 0) this.sendUnderlay(u)
    const tx = this.gsoTx[u]
    if (tx.count !== 0 && (tx.buffer !== buf || tx.count === tx.offsets.length)) this.sendGso(u)
    if (tx.count === 0) tx.buffer = buf
    const n = tx.count
    tx.offsets[n] = at
    tx.lengths[n] = v.frameEnd - at
    const from = loaded.table.pas.bytes
    for (let b = 0; b < DEST_STRIDE; b++) tx.destinations[n * DEST_STRIDE + b] = from[v.pa * PA_STRIDE + b]
    tx.count = n + 1
    return DropReason.NONE
  }

  private sendGso(u: number): void {
    const tx = this.gsoTx[u]
    const n = tx.count
    if (n === 0) return
    tx.count = 0
    const sink = this.gso[u]!
    if (this.tap !== null) {
      // Captures see the NVGRE packet (from the GRE header), not the virtio and outer headers in front.
      const skip = gsoEncapRoom(sink.local.length === 16, sink.vnetLen)
      for (let k = 0; k < n; k++) {
        tx.offsets[k] += skip
        tx.lengths[k] -= skip
      }
      this.tap.underlayOut(this, sink.local.length === 16 ? 6 : 4, sink.local, tx, n)
      for (let k = 0; k < n; k++) {
        tx.offsets[k] -= skip
        tx.lengths[k] += skip
      }
    }
    const sent = sink.send(tx, 0, n)
    this.gsoStats[GsoStat.SUPER_PACKETS] += sent
    if (sent < n) {
      this.gsoStats[GsoStat.TX_DROPPED] += n - sent
      this.drops[DropReason.TX_DROPPED] += n - sent
    }
  }

  /** From the underlay to a port: super-packets get a GSO header, partial checksums are completed (kernel-gso.ts). */
  private underlayToPort(loaded: Loaded, out: number, buf: Buffer, frame: number, end: number, floor: number, vsid: number): void {
    const slot = this.slots[out]
    if (slot.port === null) return this.toPort(loaded, out, buf, frame, end, floor, vsid)
    // The GSO header goes where the port's virtio header goes; for a port without TSO, where the
    // Segmenter reads it (the outer headers in front of the frame leave room for it).
    const hdrLen = slot.gro ? slot.vnetLen : VNET_HEADER_LEN
    const off = frame - hdrLen
    if (off < floor) return this.drop(loaded, DropReason.NO_HEADROOM, NONE, vsid)
    const kind = this.rxOffload.prepare(buf, frame, end, slot.port.mtu, hdrLen)
    if (kind !== RxKind.SUPER) return this.toPort(loaded, out, buf, frame, end, floor, vsid)
    if (!slot.gro) return this.segmentToPort(loaded, out, buf, off, frame, end, slot.port.mtu, vsid)
    // Alone, behind its own header: never through the coalescer.
    const tx = slot.tx
    if (tx.count !== 0) this.sendPort(slot)
    tx.buffer = buf
    tx.offsets[0] = off
    tx.lengths[0] = end - off
    tx.count = 1
    this.sendPort(slot)
  }

  /** A super-packet for a port without TSO: cut to its MTU in the arena, each segment queued for it. */
  private segmentToPort(loaded: Loaded, out: number, buf: Buffer, hdr: number, frame: number, end: number, mtu: number, vsid: number): void {
    if (this.arena === null) this.arena = new OffloadBatch(ARENA_PACKETS * ARENA_SLOT + ARENA_RESERVE_BYTES, ARENA_PACKETS)
    const arena = this.arena
    if (arena.capacity - arena.count < ARENA_RESERVE_PACKETS || arena.buffer.length - arena.used < ARENA_RESERVE_BYTES) this.flush()
    const first = arena.count
    const n = this.segmenter.segment(buf, hdr, frame, end, mtu, arena, SEGMENT_HEADROOM)
    if (n < 0) return this.drop(loaded, -n, NONE, vsid)
    for (let k = first; k < first + n; k++) {
      const off = arena.offsets[k]
      this.toPort(loaded, out, arena.buffer, off, off + arena.lengths[k], off - SEGMENT_HEADROOM, vsid)
    }
  }

  private underlayBatch(slot: UnderlaySlot, batch: UnderlayRxBatch): void {
    const loaded = this.loaded
    if (loaded === null) {
      this.drops[DropReason.NOT_LOCAL_PA] += batch.count
      return
    }
    const t = loaded.table
    const v = this.verdict
    const buf = batch.buffer
    const family = slot.underlay.family
    if (this.tap !== null) this.tap.underlayIn(this, family, batch)
    for (let i = 0; i < batch.count; i++) {
      const base = batch.offsets[i]
      const end = base + batch.lengths[i]
      if (this.flowCache !== null) this.flowCache.fromUnderlay(this.pipeline, t, family, buf, base, end, batch.addrs, i * ADDR_STRIDE, v)
      else this.pipeline.fromUnderlay(t, family, buf, base, end, batch.addrs, i * ADDR_STRIDE, v)
      this.countVsid(loaded, v.vsid, end - v.outOff)
      if (v.srcRecord !== NONE) loaded.hits[v.srcRecord] = 1
      if (v.action === Action.FLOOD) {
        this.floodToPorts(loaded, v, buf, base - batch.headroom, NONE)
        continue
      }
      if (v.action !== Action.DELIVER) {
        this.drop(loaded, v.reason, NONE, v.vsid)
        continue
      }
      if (v.learn) this.learned(t, v)
      const out = loaded.portSlot[v.outPort]
      if (out === NONE) this.drop(loaded, DropReason.PORT_NOT_ATTACHED, NONE, v.vsid)
      else {
        if (v.mss !== 0) clampMss(buf, v)
        this.underlayToPort(loaded, out, buf, v.outOff, end, base - batch.headroom, v.vsid)
      }
    }
    this.flush()
  }

  /**
   * Acts on a verdict other than ENCAP (forward() sends those to encap() itself) for a frame from port
   * slot `inSlot`; `floor` is the first byte of its slot.
   */
  private apply(loaded: Loaded, v: Verdict, buf: Buffer, floor: number, inSlot: number): void {
    switch (v.action) {
      case Action.DELIVER: {
        const out = loaded.portSlot[v.outPort]
        if (out === NONE) return this.drop(loaded, DropReason.PORT_NOT_ATTACHED, inSlot, v.vsid)
        if (v.routed) rewriteRouted(buf, v)
        this.countRecord(loaded, v.dstRecord, v.frameEnd - v.frameOff)
        if (v.learn) this.learned(loaded.table, v)
        return this.toPort(loaded, out, buf, v.frameOff, v.frameEnd, floor, v.vsid)
      }
      case Action.FLOOD:
        return this.floodFromPort(loaded, v, buf, floor, inSlot)
      case Action.REPLY: {
        // TTL_EXPIRED: the frame itself is dropped, the time exceeded replaces it.
        if (v.reason !== DropReason.NONE) this.drop(loaded, v.reason, inSlot, v.vsid)
        if (!writeReply(loaded.table, v, buf, floor + this.slots[inSlot].vnetLen)) return this.drop(loaded, DropReason.NO_HEADROOM, inSlot, v.vsid)
        this.replies[v.reply]++
        this.portCounters.values[inSlot * this.portCounters.width + PortCounter.REPLIES]++
        return this.toPort(loaded, inSlot, buf, v.outOff, v.outEnd, floor, v.vsid)
      }
      case Action.REWRITE: {
        // TranslationMethodNat: the IP packet alone, its CAs replaced by the PAs, to the physical network.
        if (this.physical === null) return this.drop(loaded, DropReason.NO_PHYSICAL_LINK, inSlot, v.vsid)
        if (v.routed) rewriteRouted(buf, v)
        rewriteToPa(loaded.table, buf, v)
        this.countRecord(loaded, v.dstRecord, v.outEnd - v.outOff)
        return this.toPhysical(buf, v.outOff, v.outEnd, loaded.paWords, v.pa)
      }
      default:
        return this.drop(loaded, v.reason, inSlot, v.vsid)
    }
  }

  /** ENCAP: the NVGRE header in front of the frame, queued for the underlay of the destination PA. */
  private encap(loaded: Loaded, v: Verdict, buf: Buffer, floor: number, inSlot: number): void {
    const u = this.underlayFor(loaded, v)
    if (u === NONE) return this.drop(loaded, DropReason.NO_UNDERLAY, inSlot, v.vsid)
    if (v.routed) rewriteRouted(buf, v)
    if (v.mss !== 0) clampMss(buf, v)
    const start = pushNvgre(buf, v, floor)
    if (start < 0) return this.drop(loaded, DropReason.NO_HEADROOM, inSlot, v.vsid)
    this.countRecord(loaded, v.dstRecord, v.frameEnd - v.frameOff)
    this.toUnderlay(u, buf, start, v.frameEnd, loaded.paWords, v.pa)
  }

  /** LEARN: queues the Dynamic record the verdict names (written by the control path's tick). */
  private learned(t: ForwardingTable, v: Verdict): void {
    this.learnQueue.push(t, t.vsids.value[v.vsid], v.learnFamily, v.learnCa, v.learnCa1, v.learnCa2, v.learnCa3, v.learnMacHi, v.learnMacLo, v.learnPa)
  }

  /**
   * FLOOD from a port: a copy to each other local port of the kind's list, then the frame encapsulated
   * once and sent to each PA of the list (source replication: the same bytes, one destination each).
   */
  private floodFromPort(loaded: Loaded, v: Verdict, buf: Buffer, floor: number, inSlot: number): void {
    const vnet = this.floodToPorts(loaded, v, buf, floor, inSlot)
    const f = loaded.table.flood
    const l2 = v.flood === FloodKind.L2_ONLY
    const start = l2 ? f.l2PaStart : f.paStart
    const pas = l2 ? f.l2Pas : f.pas
    const first = start[v.vsid]
    const last = start[v.vsid + 1]
    if (first === last) return
    // The ports' virtio headers sit where the GRE header goes: send those copies before writing it.
    if (vnet) this.sendQueued()
    const at = pushNvgre(buf, v, floor)
    if (at < 0) return this.drop(loaded, DropReason.NO_HEADROOM, inSlot, v.vsid)
    for (let i = first; i < last; i++) {
      v.pa = pas[i]
      const u = this.underlayFor(loaded, v)
      if (u === NONE) {
        this.drop(loaded, DropReason.NO_UNDERLAY, inSlot, v.vsid)
        continue
      }
      this.toUnderlay(u, buf, at, v.frameEnd, loaded.paWords, v.pa)
      this.floods[FloodCounter.UNDERLAY_COPIES]++
    }
  }

  /**
   * FLOOD's local copies: the frame to each port of the kind's list but the ingress one (`inSlot`, NONE
   * from the underlay). Returns whether any of them has a virtio header.
   */
  private floodToPorts(loaded: Loaded, v: Verdict, buf: Buffer, floor: number, inSlot: number): boolean {
    const f = loaded.table.flood
    const l2 = v.flood === FloodKind.L2_ONLY
    const start = l2 ? f.l2PortStart : f.portStart
    const ports = l2 ? f.l2Ports : f.ports
    this.floods[FloodCounter.FRAMES]++
    let vnet = false
    for (let i = start[v.vsid]; i < start[v.vsid + 1]; i++) {
      const out = loaded.portSlot[ports[i]]
      if (out === NONE || out === inSlot) continue
      this.toPort(loaded, out, buf, v.frameOff, v.frameEnd, floor, v.vsid)
      this.floods[FloodCounter.PORT_COPIES]++
      if (this.slots[out].vnetLen !== 0) vnet = true
    }
    return vnet
  }

  /** Queues `buf[off, end)` for port slot `out` (behind a zero virtio header when the port has one). */
  private toPort(loaded: Loaded, out: number, buf: Buffer, off: number, end: number, floor: number, vsid: number): void {
    const slot = this.slots[out]
    if (slot.vnetLen !== 0) {
      off -= slot.vnetLen
      if (off < floor) return this.drop(loaded, DropReason.NO_HEADROOM, NONE, vsid)
      writeVnetNone(buf, off, slot.vnetLen)
    }
    const tx = slot.tx
    if (tx.count !== 0 && (tx.buffer !== buf || tx.count === tx.offsets.length)) this.sendPort(slot)
    if (tx.count === 0) tx.buffer = buf
    if (!slot.queued) {
      slot.queued = true
      this.touched[this.touchedCount++] = out
    }
    tx.offsets[tx.count] = off
    tx.lengths[tx.count] = end - off
    tx.count++
  }

  /** Queues `buf[off, end)` for underlay slot `u`, to PA row `pa` (`paWords`: Loaded.paWords). */
  private toUnderlay(u: number, buf: Buffer, off: number, end: number, paWords: Int32Array, pa: number): void {
    const tx = this.underlays[u].tx
    if (this.gsoTx.length !== 0 && this.gsoTx[u].count !== 0) this.sendGso(u)
    if (tx.count !== 0 && (tx.buffer !== buf || tx.count === tx.offsets.length)) this.sendUnderlay(u)
    const n = tx.count
    if (n === 0) tx.buffer = buf
    tx.offsets[n] = off
    tx.lengths[n] = end - off
    tx.setDestination(n, paWords, pa)
    tx.count = n + 1
  }

  private toPhysical(buf: Buffer, off: number, end: number, paWords: Int32Array, pa: number): void {
    const tx = this.physicalTx
    // One buffer per batch: a segment from the arena after a frame from the receive buffer sends early.
    if (tx.count !== 0 && (tx.buffer !== buf || tx.count === tx.offsets.length)) this.sendPhysical()
    const n = tx.count
    if (n === 0) tx.buffer = buf
    tx.offsets[n] = off
    tx.lengths[n] = end - off
    tx.setDestination(n, paWords, pa)
    tx.count = n + 1
  }

  /**
   * From the physical link: IP packets to a NAT PA of this host, delivered to the VM with the CAs
   * restored; ARP requests for a NAT PA answered. Everything else on the interface is the host's own
   * traffic (not-local-pa, nat-unknown-pa): left to the kernel, not counted as drops.
   */
  private physicalBatch(batch: RxBatch): void {
    const loaded = this.loaded
    if (loaded === null) return
    const t = loaded.table
    const v = this.verdict
    const buf = batch.buffer
    for (let i = 0; i < batch.count; i++) {
      const base = batch.offsets[i]
      const end = base + batch.lengths[i]
      const version = buf[base] >> 4
      if (version === 4 || version === 6) this.pipeline.fromPhysical(t, version, buf, base, end, v)
      else this.pipeline.arpFromPhysical(t, buf, base, end, v)
      if (v.reason === DropReason.NOT_LOCAL_PA || v.reason === DropReason.NAT_UNKNOWN_PA) continue
      this.countVsid(loaded, v.vsid, end - base)
      if (v.srcRecord !== NONE) loaded.hits[v.srcRecord] = 1
      if (v.dstRecord !== NONE) loaded.hits[v.dstRecord] = 1
      if (v.action === Action.REPLY) {
        this.physicalReply(t, v, buf, base - batch.headroom)
        continue
      }
      if (v.action !== Action.DELIVER) {
        this.drop(loaded, v.reason, NONE, v.vsid)
        continue
      }
      const out = loaded.portSlot[v.outPort]
      if (out === NONE) {
        this.drop(loaded, DropReason.PORT_NOT_ATTACHED, NONE, v.vsid)
        continue
      }
      if (restoreToCa(t, buf, v, base - batch.headroom) < 0) {
        this.drop(loaded, DropReason.NO_HEADROOM, NONE, v.vsid)
        continue
      }
      this.countRecord(loaded, v.dstRecord, v.outEnd - v.outOff)
      this.toPort(loaded, out, buf, v.outOff, v.outEnd, base - batch.headroom, v.vsid)
    }
    this.flush()
  }

  /** ARP reply or neighbor advertisement for a NAT PA, from the physical interface's MAC, to the asker's. */
  private physicalReply(t: ForwardingTable, v: Verdict, buf: Buffer, floor: number): void {
    const link = this.physical!
    const m = this.arpMac
    let off: number
    let etherType: number
    if (v.reply === Reply.ARP) {
      physicalArpReply(buf, v, link.mac)
      off = v.outOff
      etherType = 0x0806
    } else {
      v.srcMacHi = (link.mac[0] << 8) | link.mac[1]
      v.srcMacLo = ((link.mac[2] << 24) | (link.mac[3] << 16) | (link.mac[4] << 8) | link.mac[5]) >>> 0
      if (!writeReply(t, v, buf, floor)) return this.drop(this.loaded, DropReason.NO_HEADROOM, NONE, NONE)
      off = v.outOff + 14
      etherType = 0x86dd
    }
    m[0] = (v.dstMacHi >>> 8) & 0xff
    m[1] = v.dstMacHi & 0xff
    m[2] = (v.dstMacLo >>> 24) & 0xff
    m[3] = (v.dstMacLo >>> 16) & 0xff
    m[4] = (v.dstMacLo >>> 8) & 0xff
    m[5] = v.dstMacLo & 0xff
    if (link.sendFrame(etherType, m, buf, off, v.outEnd - off) >= 0) this.replies[v.reply]++
    else this.drops[DropReason.TX_DROPPED]++
  }

  /** The underlay of the destination PA's family; of the sender's own PA when one serves it. */
  private underlayFor(loaded: Loaded, v: Verdict): number {
    const t = loaded.table
    const six = t.pas.family[v.pa] === 6
    if (v.srcRecord !== NONE) return loaded.sourceUnderlay[t.records.pa[v.srcRecord] * 2 + (six ? 1 : 0)]
    return six ? this.defaultUnderlay6 : this.defaultUnderlay4
  }

  /** One send per port and per underlay touched by the batch; the arena is free again afterwards. */
  private flush(): void {
    this.sendQueued()
    this.arena?.reset()
  }

  /** Sends everything queued; the arena keeps its segments (a flood mid-segmentation sends early). */
  private sendQueued(): void {
    for (let i = 0; i < this.touchedCount; i++) {
      const slot = this.slots[this.touched[i]]
      slot.queued = false
      this.sendPort(slot)
    }
    this.touchedCount = 0
    for (let u = 0; u < this.underlays.length; u++) {
      this.sendUnderlay(u)
      if (this.gso[u] !== null) this.sendGso(u)
    }
    this.sendPhysical()
  }

  private sendPhysical(): void {
    const tx = this.physicalTx
    const n = tx.count
    if (n === 0) return
    tx.count = 0
    const sent = this.physical === null ? 0 : this.physical.send(tx, 0, n)
    if (sent < n) this.drops[DropReason.TX_DROPPED] += n - sent
  }

  /** Sends what is queued for a port: coalesced into super-frames when it takes them and there are two or more. */
  private sendPort(slot: PortSlot): void {
    const tx = slot.tx
    const n = tx.count
    if (n === 0) return
    tx.count = 0
    if (slot.port === null) {
      this.drops[DropReason.TX_DROPPED] += n
      return
    }
    let batch: PacketBatch = tx
    let count = n
    if (slot.gro && n > 1) {
      // The frames sit behind zero virtio headers (toPort); the coalescer reads the bare frames and writes
      // its own headers. Too little room: they are sent as they are.
      const out = this.groOut!
      const h = slot.vnetLen
      for (let k = 0; k < n; k++) {
        tx.offsets[k] += h
        tx.lengths[k] -= h
      }
      out.reset()
      const made = this.coalescer.coalesce(tx.buffer, tx.offsets, tx.lengths, n, out, h, slot.uso)
      for (let k = 0; k < n; k++) {
        tx.offsets[k] -= h
        tx.lengths[k] += h
      }
      if (made > 0) {
        batch = out
        count = made
      }
    }
    if (this.tap !== null) this.tap.portOut(this, slot.port.name, slot.tablePort, batch, count, slot.vnetLen)
    const sent = slot.port.send(batch, 0, count)
    let bytes = 0
    for (let k = 0; k < sent; k++) bytes += batch.lengths[k]
    const at = slot.index * this.portCounters.width
    this.portCounters.values[at + PortCounter.TX_PACKETS] += sent
    this.portCounters.values[at + PortCounter.TX_BYTES] += bytes
    if (sent < count) this.drops[DropReason.TX_DROPPED] += count - sent
  }

  private sendUnderlay(u: number): void {
    const {underlay, tx} = this.underlays[u]
    const n = tx.count
    if (n === 0) return
    tx.count = 0
    if (this.tap !== null) this.tap.underlayOut(this, underlay.family, underlay.local, tx, n)
    const sent = underlay.send(tx, 0, n)
    if (sent < n) this.drops[DropReason.TX_DROPPED] += n - sent
  }

  private drop(loaded: Loaded | null, reason: number, inSlot: number, vsid: number): void {
    this.drops[reason]++
    if (inSlot !== NONE) this.portCounters.values[inSlot * this.portCounters.width + PortCounter.DROPS]++
    if (vsid !== NONE && loaded !== null) this.vsidCounters.values[loaded.vsidRow[vsid] * this.vsidCounters.width + VsidCounter.DROPS]++
  }

  private countRecord(loaded: Loaded, record: number, bytes: number): void {
    if (record === NONE) return
    const counts = loaded.recordCounts
    counts[record * 2]++
    counts[record * 2 + 1] += bytes
  }

  private countVsid(loaded: Loaded, vsid: number, bytes: number): void {
    if (vsid === NONE) return
    const at = loaded.vsidRow[vsid] * this.vsidCounters.width
    const values = this.vsidCounters.values
    values[at + VsidCounter.PACKETS]++
    values[at + VsidCounter.BYTES] += bytes
  }

  // ---- control path ----

  /** The table in force (TapHost). */
  table(): ForwardingTable | null {
    return this.loaded?.table ?? null
  }

  /** The engine's own pipeline, for a tap's copy of a frame about to be processed (TapHost). */
  decidePort(port: number, buf: Buffer, off: number, end: number, v: Verdict): void {
    if (this.loaded !== null) this.pipeline.fromPort(this.loaded.table, port, buf, off, end, v)
  }

  decideUnderlay(family: number, buf: Buffer, off: number, end: number, addrs: Uint8Array, addrOff: number, v: Verdict): void {
    if (this.loaded !== null) this.pipeline.fromUnderlay(this.loaded.table, family, buf, off, end, addrs, addrOff, v)
  }

  /**
   * Processes `frame` as if the port named `name` had just read it (live trace's probe): the same path,
   * counters included. False when no such port is attached.
   */
  inject(name: string, frame: Uint8Array): boolean {
    const slot = this.slotByName.get(name)
    if (slot === undefined || slot.port === null) return false
    const headroom = INJECT_HEADROOM
    const buffer = Buffer.alloc(headroom + slot.vnetLen + frame.length)
    if (slot.vnetLen !== 0) writeVnetNone(buffer, headroom, slot.vnetLen)
    buffer.set(frame, headroom + slot.vnetLen)
    const batch: RxBatch = {buffer, offsets: Uint32Array.of(headroom), lengths: Uint32Array.of(slot.vnetLen + frame.length), count: 1, headroom}
    this.growCapacity(1)
    this.portBatch(slot, batch)
    return true
  }

  /** What learning.ts's tick needs: the learned addresses and the Dynamic records used, since last time. */
  takeLearning(): LearningHarvest {
    const loaded = this.loaded
    const used = this.usedBeforeSwap
    this.usedBeforeSwap = []
    if (loaded !== null) used.push(...takeDynamicHits(loaded.table, loaded.hits))
    return {learned: this.learnQueue.drain(), used, table: loaded?.table ?? null}
  }

  private vsidCounterRow(vsid: number): number {
    let row = this.vsidRows.get(vsid)
    if (row === undefined) {
      row = this.vsidRows.size
      this.vsidRows.set(vsid, row)
      this.vsidCounters.ensureRows(row + 1)
    }
    return row
  }

  private growCapacity(batchSize: number): void {
    if (batchSize > MAX_BATCH) throw new RangeError(`batch size ${batchSize} is above ${MAX_BATCH}`)
    if (batchSize > this.capacity) {
      this.capacity = batchSize
      for (const slot of this.slots) slot.tx.grow(batchSize)
      for (const u of this.underlays) u.tx.grow(batchSize)
      this.physicalTx.grow(batchSize)
    }
    if (this.touched.length < this.slots.length + 1) {
      const grown = new Int32Array((this.slots.length + 1) * 2)
      grown.set(this.touched)
      this.touched = grown
    }
  }
}

/** The record counters of a new table, keeping the counts of records the previous table had (same VSID and CA). */
function carryRecordCounts(previous: Loaded | null, table: ForwardingTable): Float64Array {
  const counts = new Float64Array(table.records.count * 2)
  if (previous === null) return counts
  const old = previous.table.records
  const before = new Map<string, number>()
  for (let r = 0; r < old.count; r++) {
    if (previous.recordCounts[r * 2] > 0) before.set(previous.table.vsids.value[old.vsid[r]] + ' ' + old.caText[r], r)
  }
  if (before.size === 0) return counts
  const records = table.records
  for (let r = 0; r < records.count; r++) {
    const was = before.get(table.vsids.value[records.vsid[r]] + ' ' + records.caText[r])
    if (was === undefined) continue
    counts[r * 2] = previous.recordCounts[was * 2]
    counts[r * 2 + 1] = previous.recordCounts[was * 2 + 1]
  }
  return counts
}

function recordStatus(loaded: Loaded): RecordStatus[] {
  const t = loaded.table
  const records = t.records
  const out: RecordStatus[] = []
  for (let r = 0; r < records.count; r++) {
    const packets = loaded.recordCounts[r * 2]
    if (packets === 0) continue
    out.push({
      CustomerAddress: records.caText[r],
      VirtualSubnetID: t.vsids.value[records.vsid[r]],
      MACAddress: macText(records.macHi[r], records.macLo[r]),
      ProviderAddress: t.pas.text[records.pa[r]],
      packets,
      bytes: loaded.recordCounts[r * 2 + 1],
    })
  }
  return out
}

function sameAddress(local: Uint8Array | null, bytes: Uint8Array, at: number): boolean {
  if (local === null) return false
  for (let i = 0; i < local.length; i++) if (local[i] !== bytes[at + i]) return false
  return true
}

function addressText(local: Uint8Array): string {
  return local.length === 4 ? ipv4ToString(((local[0] << 24) | (local[1] << 16) | (local[2] << 8) | local[3]) >>> 0) : ipv6ToString(local, 0)
}
