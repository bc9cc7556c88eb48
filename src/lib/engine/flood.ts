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
  // Typed arrays and one sort instead of a Set per VSID: this runs on every load of a 100k-record table.
  const paKeys: number[] = []
  const l2PaKeys: number[] = []
  /** "vsid:macHi:macLo" of L2Only records; empty (and cheap) in the usual table without any. */
  const l2Macs = new Set<string>()
  let paSpan = 1
  for (let r = 0; r < recordVsid.length; r++) if (recordPa[r] >= paSpan) paSpan = recordPa[r] + 1
  for (let r = 0; r < recordVsid.length; r++) {
    const v = recordVsid[r]
    const l2Only = recordType[r] === RecordType.L2_ONLY
    if (l2Only) l2Macs.add(v + ':' + input.recordMacHi[r] + ':' + input.recordMacLo[r])
    if (recordGateway[r] !== NONE || recordRule[r] !== Translation.ENCAP || paLocal[recordPa[r]] === 1) continue
    paKeys.push(v * paSpan + recordPa[r])
    if (l2Only) l2PaKeys.push(v * paSpan + recordPa[r])
  }
  const byMac = new WordMapBuilder(3, recordVsid.length)
  for (let r = 0; r < recordVsid.length; r++) {
    if (recordType[r] !== RecordType.STATIC && recordType[r] !== RecordType.DYNAMIC) continue
    if (recordGateway[r] !== NONE) continue
    // Rows are sorted (IPv4 CAs first): the first add of a key stays.
    byMac.add3(recordVsid[r], input.recordMacHi[r] | 0, input.recordMacLo[r] | 0, r)
  }
  const [paStart, paList] = pairLists(paKeys, paSpan, vsidCount)
  const [l2PaStart, l2PaList] = pairLists(l2PaKeys, paSpan, vsidCount)
  const portKeys: number[] = []
  const l2PortKeys: number[] = []
  for (let p = 0; p < portVsid.length; p++) {
    const v = portVsid[p]
    if (v === NONE) continue
    portKeys.push(v * portVsid.length + p)
    if (l2Macs.size > 0 && l2Macs.has(v + ':' + input.portMacHi[p] + ':' + input.portMacLo[p])) l2PortKeys.push(v * portVsid.length + p)
  }
  const [portStart, portList] = pairLists(portKeys, portVsid.length, vsidCount)
  const [l2PortStart, l2PortList] = pairLists(l2PortKeys, portVsid.length, vsidCount)
  return {paStart, pas: paList, l2PaStart, l2Pas: l2PaList, portStart, ports: portList, l2PortStart, l2Ports: l2PortList, recordByMac: byMac.build()}
}

/**
 * CSR lists from keys `vsid * span + value`: the distinct values of VSID v, ascending, are
 * list[start[v] .. start[v + 1]).
 */
function pairLists(keys: number[], span: number, vsidCount: number): [Int32Array, Int32Array] {
  const sorted = Float64Array.from(keys).sort()
  const start = new Int32Array(vsidCount + 1)
  const values: number[] = []
  for (let i = 0; i < sorted.length; i++) {
    if (i > 0 && sorted[i] === sorted[i - 1]) continue
    const v = Math.floor(sorted[i] / span)
    start[v + 1]++
    values.push(sorted[i] - v * span)
  }
  for (let v = 0; v < vsidCount; v++) start[v + 1] += start[v]
  return [start, Int32Array.from(values)]
}
