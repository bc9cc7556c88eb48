// Where copies of a broadcast or multicast frame go (reference/hnv.md §3.4: "by unicast copies to each PA of
// the VSID (source replication)"), and where ARP for an unknown address goes in a VSID with L2Only records
// (§3.2): compiled once per table into per-VSID lists, so the engine expands a FLOOD verdict by walking
// numbers. Lists are CSR-style: the entries of VSID index v are list[start[v] .. start[v + 1]).
import {NONE, RecordType, Translation} from './table.js'
import {WordMapBuilder, type WordMap} from './word-map.js'

export interface FloodLists {
  /** Remote PA rows of the VSID's records (distinct, ascending): every other host with a VM in it. */
  paStart: Int32Array
  pas: Int32Array
  /** Remote PA rows of the VSID's L2Only records: where ARP for an unknown address is sent. */
  l2PaStart: Int32Array
  l2Pas: Int32Array
  /** Local port rows of the VSID, ascending. */
  portStart: Int32Array
  ports: Int32Array
  /** Local port rows of the VSID whose MAC has an L2Only record: they get ARP for unknown addresses. */
  l2PortStart: Int32Array
  l2Ports: Int32Array
  /**
   * [vsid, macHi, macLo] -> the first Static/Dynamic record of that MAC in the VSID: where an L2Only VM's
   * neighbor advertisement goes (its destination may be the asker's link-local address, no record's CA).
   */
  recordByMac: WordMap
}

/** The columns buildFloodLists reads (sorted table rows, as compile builds them). */
export interface FloodInput {
  vsidCount: number
  recordVsid: Int32Array
  recordPa: Int32Array
  recordType: Uint8Array
  recordRule: Uint8Array
  /** The gateway a record's CA is (its PA, e.g. 169.254.254.254, is never sent to), or NONE. */
  recordGateway: Int32Array
  recordMacHi: Uint32Array
  recordMacLo: Uint32Array
  paLocal: Uint8Array
  portVsid: Int32Array
  portMacHi: Uint32Array
  portMacLo: Uint32Array
}

export function buildFloodLists(input: FloodInput): FloodLists {
  const {vsidCount, recordVsid, recordPa, recordType, recordRule, recordGateway, paLocal, portVsid} = input
  const pas: Set<number>[] = Array.from({length: vsidCount}, () => new Set<number>())
  const l2Pas: Set<number>[] = Array.from({length: vsidCount}, () => new Set<number>())
  const l2Macs: Set<string>[] = Array.from({length: vsidCount}, () => new Set<string>())
  for (let r = 0; r < recordVsid.length; r++) {
    const v = recordVsid[r]
    if (recordType[r] === RecordType.L2_ONLY) l2Macs[v].add(input.recordMacHi[r] + ':' + input.recordMacLo[r])
    if (recordGateway[r] !== NONE || recordRule[r] !== Translation.ENCAP || paLocal[recordPa[r]] === 1) continue
    pas[v].add(recordPa[r])
    if (recordType[r] === RecordType.L2_ONLY) l2Pas[v].add(recordPa[r])
  }
  const byMac = new WordMapBuilder(3, recordVsid.length)
  for (let r = 0; r < recordVsid.length; r++) {
    if (recordType[r] !== RecordType.STATIC && recordType[r] !== RecordType.DYNAMIC) continue
    if (recordGateway[r] !== NONE) continue
    // Rows are sorted (IPv4 CAs first): the first add of a key stays.
    byMac.add3(recordVsid[r], input.recordMacHi[r] | 0, input.recordMacLo[r] | 0, r)
  }
  const ports: number[][] = Array.from({length: vsidCount}, () => [])
  const l2Ports: number[][] = Array.from({length: vsidCount}, () => [])
  for (let p = 0; p < portVsid.length; p++) {
    const v = portVsid[p]
    if (v === NONE) continue
    ports[v].push(p)
    if (l2Macs[v].has(input.portMacHi[p] + ':' + input.portMacLo[p])) l2Ports[v].push(p)
  }
  const [paStart, paList] = csr(pas.map((s) => [...s].sort((a, b) => a - b)))
  const [l2PaStart, l2PaList] = csr(l2Pas.map((s) => [...s].sort((a, b) => a - b)))
  const [portStart, portList] = csr(ports)
  const [l2PortStart, l2PortList] = csr(l2Ports)
  return {paStart, pas: paList, l2PaStart, l2Pas: l2PaList, portStart, ports: portList, l2PortStart, l2Ports: l2PortList, recordByMac: byMac.build()}
}

function csr(lists: number[][]): [Int32Array, Int32Array] {
  const start = new Int32Array(lists.length + 1)
  for (let i = 0; i < lists.length; i++) start[i + 1] = start[i] + lists[i].length
  const out = new Int32Array(start[lists.length])
  for (let i = 0; i < lists.length; i++) out.set(lists[i], start[i])
  return [start, out]
}
