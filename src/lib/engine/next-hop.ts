// Select-NetVirtualizationNextHop (reference/hnv.md §2): the next hop of a destination CA from a VSID,
// answered by the pipeline's own ROUTE and RESOLVE (Pipeline.route4 / route6) over the compiled table,
// so it agrees with what the engine does and needs no engine running.
import {ipv4FromString, ipv6FromString} from '../wire/address.js'
import {parseIp} from '../net/ip.js'
import {PolicyError} from '../cli/errors.js'
import {fixFor, nextHopAddress, recordVerdict} from './explain.js'
import {Action, Pipeline, Verdict} from './pipeline.js'
import {DROP_REASON_DESCRIPTIONS, DropReason, dropReasonName} from './stages.js'
import {NONE, macText, type ForwardingTable} from './table.js'
import {findRecord} from './trace.js'

/** MSFT_NetVirtualizationNextHopLookup, in its property order. */
export interface NextHopLookup {
  SourceCustomerAddress: string | null
  DestinationCustomerAddress: string
  SourceVirtualSubnetID: number
  NextHopAddress: string
  SourceMACAddress: string | null
  NextHopMACAddress: string
}

export const NEXT_HOP_PROPERTIES = ['SourceCustomerAddress', 'DestinationCustomerAddress', 'SourceVirtualSubnetID', 'NextHopAddress', 'SourceMACAddress', 'NextHopMACAddress'] as const

function address(text: string, parameter: string) {
  try {
    return parseIp(text)
  } catch (error) {
    throw new PolicyError(`-${parameter} ${(error as Error).message}`)
  }
}

/** Throws a PolicyError (what is missing and the policy that would fix it) when there is no next hop. */
export function selectNextHop(t: ForwardingTable, sourceText: string | null, destinationText: string, vsidValue: number): NextHopLookup {
  const destination = address(destinationText, 'DestinationCustomerAddress')
  const vsid = t.vsidIndex(vsidValue)
  if (vsid === NONE) {
    throw new PolicyError(`-SourceVirtualSubnetID ${vsidValue} has no lookup record or customer route in the policy (VSIDs: ${Array.from(t.vsids.value).join(', ') || 'none'})`)
  }
  let sourceMac: string | null = null
  let source: string | null = null
  if (sourceText !== null) {
    const parsed = address(sourceText, 'SourceCustomerAddress')
    if (parsed.family !== destination.family) throw new PolicyError(`-SourceCustomerAddress ${parsed.text} and -DestinationCustomerAddress ${destination.text} are of different address families`)
    source = parsed.text
    const record = findRecord(t, vsid, source)
    if (record === NONE || t.records.vsid[record] !== vsid) {
      throw new PolicyError(`-SourceCustomerAddress ${source} has no lookup record in VSID ${vsidValue}: New-NetVirtualizationLookupRecord -CustomerAddress ${source} -VirtualSubnetID ${vsidValue} ...`)
    }
    sourceMac = macText(t.records.macHi[record], t.records.macLo[record])
  }
  const pipeline = new Pipeline()
  const v = new Verdict()
  const route = (macHi: number, macLo: number): number => {
    v.reset(0, 0)
    if (destination.family === 4) return pipeline.route4(t, vsid, ipv4FromString(destination.text), macHi, macLo, 255, v)
    return pipeline.route6(t, vsid, ipv6FromString(destination.text), 0, macHi, macLo, 255, v)
  }
  // Asked as a VM would send: to its router's MAC; within the subnet, to the record's MAC (what ARP gave it).
  const f = vsid * 2 + (destination.family === 6 ? 1 : 0)
  const action = route(t.vsids.routerMacHi[f], t.vsids.routerMacLo[f])
  if (action === Action.DROP && v.reason === DropReason.DST_MAC_MISMATCH && v.dstRecord !== NONE) {
    route(t.records.macHi[v.dstRecord], t.records.macLo[v.dstRecord])
  }
  const answer = (hop: string, macHi: number, macLo: number): NextHopLookup => ({
    SourceCustomerAddress: source,
    DestinationCustomerAddress: destination.text,
    SourceVirtualSubnetID: vsidValue,
    NextHopAddress: hop,
    SourceMACAddress: sourceMac,
    NextHopMACAddress: macText(macHi, macLo),
  })
  // A gateway address (ours or another subnet's of the domain): the distributed router answers for it.
  if (v.gateway !== NONE) return answer(t.gateways.addressText[v.gateway], t.gateways.macHi[v.gateway], t.gateways.macLo[v.gateway])
  // The record is found: the next hop is known (what happens after it, local port or NVGRE, is trace's).
  if (v.dstRecord !== NONE && v.reason !== DropReason.DST_MAC_MISMATCH) {
    const r = v.dstRecord
    return answer(nextHopAddress(t, v.route, destination.text), t.records.macHi[r], t.records.macLo[r])
  }
  const hop = {host: 'this host', table: t, direction: 'from-port' as const, packet: '', source, destination: destination.text, ttl: null, verdict: recordVerdict(v)}
  throw new PolicyError(`no next hop for ${destination.text} from VSID ${vsidValue}: ${dropReasonName(v.reason)} (${DROP_REASON_DESCRIPTIONS[v.reason]}); to fix: ${fixFor(hop)}`)
}
