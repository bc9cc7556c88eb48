// The flood lists (flood.ts) against a plain model: for every VSID, the distinct remote PAs of its
// records (and of its L2Only records), its local ports (and those whose MAC has an L2Only record), ascending,
// over random record columns.
import fc from 'fast-check'
import {describe, expect, it} from 'vitest'

import {buildFloodLists, type FloodInput, type FloodLists} from '../../../src/lib/engine/flood.js'
import {NONE, RecordType, Translation} from '../../../src/lib/engine/table.js'

function model(input: FloodInput): Record<string, number[][]> {
  const lists = (): Set<number>[] => Array.from({length: input.vsidCount}, () => new Set<number>())
  const [pas, l2Pas, ports, l2Ports] = [lists(), lists(), lists(), lists()]
  const l2Macs = new Set<string>()
  input.recordVsid.forEach((v, r) => {
    const l2Only = input.recordType[r] === RecordType.L2_ONLY
    if (l2Only) l2Macs.add(`${v}:${input.recordMacHi[r]}:${input.recordMacLo[r]}`)
    if (input.recordGateway[r] !== NONE || input.recordRule[r] !== Translation.ENCAP || input.paLocal[input.recordPa[r]] === 1) return
    pas[v].add(input.recordPa[r])
    if (l2Only) l2Pas[v].add(input.recordPa[r])
  })
  input.portVsid.forEach((v, p) => {
    if (v === NONE) return
    ports[v].add(p)
    if (l2Macs.has(`${v}:${input.portMacHi[p]}:${input.portMacLo[p]}`)) l2Ports[v].add(p)
  })
  const sorted = (sets: Set<number>[]) => sets.map((s) => [...s].sort((a, b) => a - b))
  return {pas: sorted(pas), l2Pas: sorted(l2Pas), ports: sorted(ports), l2Ports: sorted(l2Ports)}
}

function perVsid(lists: FloodLists, vsidCount: number): Record<string, number[][]> {
  const split = (start: Int32Array, list: Int32Array) => Array.from({length: vsidCount}, (_, v) => [...list.subarray(start[v], start[v + 1])])
  return {
    pas: split(lists.paStart, lists.pas),
    l2Pas: split(lists.l2PaStart, lists.l2Pas),
    ports: split(lists.portStart, lists.ports),
    l2Ports: split(lists.l2PortStart, lists.l2Ports),
  }
}

const record = (vsids: number, pas: number) =>
  fc.record({
    vsid: fc.nat(vsids - 1),
    pa: fc.nat(pas - 1),
    type: fc.constantFrom(RecordType.STATIC, RecordType.DYNAMIC, RecordType.L2_ONLY, RecordType.GATEWAY_WILDCARD),
    rule: fc.constantFrom(Translation.ENCAP, Translation.ENCAP, Translation.NAT),
    gateway: fc.constantFrom(NONE, NONE, NONE, 0),
    mac: fc.nat(5),
  })

const input = fc
  .record({vsids: fc.integer({min: 1, max: 6}), pas: fc.integer({min: 1, max: 40})})
  .chain(({vsids, pas}) =>
    fc.record({
      vsidCount: fc.constant(vsids),
      records: fc.array(record(vsids, pas), {maxLength: 120}),
      local: fc.array(fc.boolean(), {minLength: pas, maxLength: pas}),
      ports: fc.array(fc.record({vsid: fc.integer({min: -1, max: vsids - 1}), mac: fc.nat(5)}), {maxLength: 8}),
    }),
  )
  .map(({vsidCount, records, local, ports}): FloodInput => ({
    vsidCount,
    recordVsid: Int32Array.from(records, (r) => r.vsid),
    recordPa: Int32Array.from(records, (r) => r.pa),
    recordType: Uint8Array.from(records, (r) => r.type),
    recordRule: Uint8Array.from(records, (r) => r.rule),
    recordGateway: Int32Array.from(records, (r) => r.gateway),
    recordMacHi: Uint32Array.from(records, () => 0x0606),
    recordMacLo: Uint32Array.from(records, (r) => r.mac),
    paLocal: Uint8Array.from(local, (l) => (l ? 1 : 0)),
    portVsid: Int32Array.from(ports, (p) => p.vsid),
    portMacHi: Uint32Array.from(ports, () => 0x0606),
    portMacLo: Uint32Array.from(ports, (p) => p.mac),
  }))

describe('flood lists', () => {
  it('hold, per VSID, the distinct remote PAs and local ports (and their L2Only subsets), ascending', () => {
    fc.assert(
      fc.property(input, (flood) => {
        expect(perVsid(buildFloodLists(flood), flood.vsidCount)).toEqual(model(flood))
      }),
      {numRuns: 300},
    )
  })

  it('sort a VSID with more PAs than the insertion sort takes', () => {
    const pas = [40, 3, 17, 3, 25, 1, 39, 12, 8, 30, 22, 5, 19, 33, 2, 27, 11, 36, 14, 7, 40]
    const n = pas.length
    const lists = buildFloodLists({
      vsidCount: 1,
      recordVsid: new Int32Array(n),
      recordPa: Int32Array.from(pas),
      recordType: new Uint8Array(n),
      recordRule: new Uint8Array(n),
      recordGateway: new Int32Array(n).fill(NONE),
      recordMacHi: new Uint32Array(n),
      recordMacLo: Uint32Array.from(pas),
      paLocal: new Uint8Array(41),
      portVsid: new Int32Array(0),
      portMacHi: new Uint32Array(0),
      portMacLo: new Uint32Array(0),
    })
    expect([...lists.pas]).toEqual([...new Set(pas)].sort((a, b) => a - b))
  })
})
