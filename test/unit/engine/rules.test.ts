// GatewayWildcard (reference/hnv.md §3.6, §5): a customer route whose next hop is a gateway VM's CA sends
// off-network traffic to the gateway's PA, and the gateway's packets may carry any source address: on its
// own host by its MAC (port security), on the receiving host by its PA (the routed frame carries the
// router's MAC, not the gateway's).
import {describe, expect, it} from 'vitest'
import {compile} from '../../../src/lib/engine/compile.js'
import {ACTION_NAMES, Pipeline, Verdict} from '../../../src/lib/engine/pipeline.js'
import {dropReasonName, stageName} from '../../../src/lib/engine/stages.js'
import {NONE, type ForwardingTable} from '../../../src/lib/engine/table.js'
import type {PolicyDocument} from '../../../src/lib/policy/service.js'
import {lastLoadKind, loadForwardingTable} from '../../../src/lib/engine/policy-source.js'
import {PolicyService} from '../../../src/lib/policy/service.js'
import {PolicyStore} from '../../../src/lib/policy/store.js'
import {addressBlock} from '../../support/memory-underlay.js'
import {BLUE_GATEWAY_MAC, BLUE_RDID, HOST1_PA, HOST2_PA, HOST3_PA, ipv4Frame, nvgre, record, route, topology, VMS} from './support.js'

const {blue1, blue2} = VMS
const GW_MAC = '0606000900AA'
const OUTSIDE = '203.0.113.50'

/** topology(host) plus Blue's gateway VM on host2 (VSID 5009, CA 10.0.9.2) and Blue's default route to it. */
function withGateway(host: 1 | 2): PolicyDocument {
  const doc = topology(host)
  doc.LookupRecords = [
    ...(doc.LookupRecords as object[]),
    record('10.0.9.2', 5009, GW_MAC, HOST2_PA, 'GwVM'),
    record('0.0.0.0', 5009, GW_MAC, HOST2_PA, 'GwVM', 'GatewayWildcard'),
  ]
  doc.CustomerRoutes = [...(doc.CustomerRoutes as object[]), route(BLUE_RDID, 5009, '10.0.9.0/24', '0.0.0.0'), route(BLUE_RDID, 5001, '0.0.0.0/0', '10.0.9.2')]
  if (host === 2) {
    doc.VMNetworkAdapters = [
      ...(doc.VMNetworkAdapters as object[]),
      {VMName: 'GwVM', Name: 'Network Adapter', MacAddress: GW_MAC, VirtualSubnetId: 5009, SwitchName: null, InterfaceName: 'hnv-gwvm'},
    ]
  }
  return doc
}

const t1 = compile(withGateway(1), 1)
const t2 = compile(withGateway(2), 1)
const pipeline = new Pipeline()
const v = new Verdict()

function summary(t: ForwardingTable) {
  return {
    action: ACTION_NAMES[v.action],
    stage: stageName(v.stage),
    reason: dropReasonName(v.reason),
    outPort: v.outPort === NONE ? null : t.ports.name[v.outPort],
    pa: v.pa === NONE ? null : t.pas.text[v.pa],
    nextHop: v.dstRecord === NONE ? null : t.records.caText[v.dstRecord],
    srcRecord: v.srcRecord === NONE ? null : t.records.caText[v.srcRecord],
  }
}

function fromPort(t: ForwardingTable, iface: string, frame: Buffer) {
  pipeline.fromPort(t, t.portIndex(iface), frame, 0, frame.length, v)
  return summary(t)
}

function fromUnderlay(t: ForwardingTable, source: string, packet: Buffer) {
  const addrs = new Uint8Array(32)
  addrs.set(addressBlock(source), 0)
  addrs.set(addressBlock(HOST1_PA), 16)
  pipeline.fromUnderlay(t, 4, packet, 0, packet.length, addrs, 0, v)
  return summary(t)
}

describe('GatewayWildcard', () => {
  it("sends off-network traffic to the gateway VM's PA, by the route whose next hop is its CA", () => {
    const frame = ipv4Frame(BLUE_GATEWAY_MAC, blue1.mac, {src: blue1.ca4!, dst: OUTSIDE})
    expect(fromPort(t1, blue1.iface, frame)).toMatchObject({action: 'encap', pa: HOST2_PA, nextHop: '10.0.9.2'})
    expect(t1.routes.prefix[v.route]).toBe('0.0.0.0/0')
  })

  it("lets the gateway VM send any source address from its port (its MAC's GatewayWildcard record)", () => {
    const reply = ipv4Frame('026E7600138D', GW_MAC, {src: OUTSIDE, dst: blue1.ca4!})
    expect(fromPort(t2, 'hnv-gwvm', reply)).toMatchObject({action: 'encap', pa: HOST1_PA, srcRecord: '0.0.0.0'})
    const spoofed = ipv4Frame(blue1.mac, blue2.mac, {src: OUTSIDE, dst: blue1.ca4!})
    expect(fromPort(t2, blue2.iface, spoofed)).toMatchObject({action: 'drop', reason: 'src-ip-spoofed'})
  })

  it("accepts the gateway's routed packets on the receiving host by their outer source: the gateway's PA", () => {
    // What host2 sends for the reply above: routed into 5001, the router's MAC as source.
    const inner = ipv4Frame(blue1.mac, BLUE_GATEWAY_MAC, {src: OUTSIDE, dst: blue1.ca4!, ttl: 63})
    expect(fromUnderlay(t1, HOST2_PA, nvgre(5001, 0, inner))).toMatchObject({action: 'deliver', outPort: blue1.iface, srcRecord: '0.0.0.0'})
    // Another PA holds no gateway: the foreign source is refused as before.
    expect(fromUnderlay(t1, HOST3_PA, nvgre(5001, 0, inner))).toMatchObject({action: 'drop', stage: 'decap-check', reason: 'unknown-source-ca'})
    // The gateway serves Blue only: the same packet in Red's VSID is refused.
    const red = ipv4Frame(VMS.red1.mac, BLUE_GATEWAY_MAC, {src: OUTSIDE, dst: VMS.red1.ca4!, ttl: 63})
    expect(fromUnderlay(t1, HOST2_PA, nvgre(6001, 0, red))).toMatchObject({action: 'drop', reason: 'unknown-source-ca'})
  })
})

/** withGateway(host) with UseExternalRouter on and Blue's subnets routed through the gateway VM. */
function external(host: 1 | 2, on = true, viaRouter = true): PolicyDocument {
  const doc = withGateway(host)
  doc.Global = {UseExternalRouter: on}
  if (viaRouter) doc.CustomerRoutes = [...(doc.CustomerRoutes as object[]), route(BLUE_RDID, 5001, '10.0.0.0/16', '10.0.9.2')]
  else doc.CustomerRoutes = (doc.CustomerRoutes as {NextHop: string}[]).filter((r) => r.NextHop === '0.0.0.0' || r.NextHop === '::')
  return doc
}

describe('UseExternalRouter', () => {
  const toBlue3 = () => ipv4Frame(BLUE_GATEWAY_MAC, blue1.mac, {src: blue1.ca4!, dst: VMS.blue3.ca4!})

  it('sends traffic for another subnet to the external router named by the customer routes', () => {
    const t = compile(external(1), 1)
    expect(t.useExternalRouter).toBe(true)
    expect(fromPort(t, blue1.iface, toBlue3())).toMatchObject({action: 'encap', pa: HOST2_PA, nextHop: '10.0.9.2'})
    expect(t.routes.prefix[v.route]).toBe('10.0.0.0/16')
    // Off, the distributed router routes it straight to Blue3.
    expect(fromPort(compile(external(1, false), 1), blue1.iface, toBlue3())).toMatchObject({action: 'encap', pa: HOST2_PA, nextHop: VMS.blue3.ca4})
  })

  it('leaves traffic within the subnet alone', () => {
    const frame = ipv4Frame(blue2.mac, blue1.mac, {src: blue1.ca4!, dst: blue2.ca4!})
    expect(fromPort(compile(external(1), 1), blue1.iface, frame)).toMatchObject({action: 'encap', pa: HOST2_PA, nextHop: blue2.ca4})
  })

  it('lets the router VM itself reach every subnet directly', () => {
    const t = compile(external(2), 1)
    const forwarded = ipv4Frame('026E7600138D', GW_MAC, {src: blue1.ca4!, dst: VMS.blue3.ca4!})
    expect(fromPort(t, 'hnv-gwvm', forwarded)).toMatchObject({action: 'deliver', outPort: VMS.blue3.iface, nextHop: VMS.blue3.ca4})
  })

  it('drops (no-external-route) when no route with a next hop covers the destination', () => {
    expect(fromPort(compile(external(1, true, false), 1), blue1.iface, toBlue3())).toMatchObject({action: 'drop', stage: 'route', reason: 'no-external-route'})
  })

  it('follows Set-NetVirtualizationGlobal in the store, through the incremental load', () => {
    const store = PolicyStore.open(':memory:')
    try {
      const service = new PolicyService(store)
      service.importPolicy(external(1, false), true)
      expect(loadForwardingTable(store).useExternalRouter).toBe(false)
      service.setGlobal({UseExternalRouter: true})
      const t = loadForwardingTable(store)
      expect([t.useExternalRouter, lastLoadKind(store)]).toEqual([true, 'changes'])
      expect(fromPort(t, blue1.iface, toBlue3())).toMatchObject({action: 'encap', nextHop: '10.0.9.2'})
      service.setGlobal({UseExternalRouter: false})
      expect(loadForwardingTable(store).useExternalRouter).toBe(false)
    } finally {
      store.close()
    }
  })
})
