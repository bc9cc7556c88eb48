// What happened to a packet, in terms of the declared objects (OVN's ovn-trace + ovn-detrace): the
// pipeline's verdicts (pipeline.ts), one per host the packet crossed, turned into steps that name the
// adapter, the lookup records, the customer route (and why it beat the others), the PA, the rewrite and
// the delivery port, or, for a drop, the stage, the DropReason and the policy that would let it through.
//
// Nothing here decides anything: the verdicts come from the pipeline's own functions, either run over a
// synthesized frame (`hnv trace`, trace.ts) or recorded by a running engine for a marked packet
// (`hnv trace --live`). Both are rendered by the same functions below, so the two can be compared.
import {parseIp, parsePrefix, prefixContains} from '../net/ip.js'
import {Action, ACTION_NAMES, type Verdict} from './pipeline.js'
import {DROP_REASON_DESCRIPTIONS, DropReason, Reply, STAGE_DESCRIPTIONS, Stage, dropReasonName, replyName, stageName} from './stages.js'
import {NONE, RECORD_TYPE_NAMES, RecordType, macText, type ForwardingTable, type OriginSection} from './table.js'

/** A Verdict's fields as a plain, serializable value (what a live engine sends back for a marked packet). */
export interface VerdictRecord {
  action: number
  stage: number
  reason: number
  wireError: number
  reply: number
  family: number
  protocol: number
  inPort: number
  vsid: number
  srcRecord: number
  route: number
  dstRecord: number
  gateway: number
  outPort: number
  outVsid: number
  pa: number
  srcPa: number
  routed: boolean
  dstMacHi: number
  dstMacLo: number
  srcMacHi: number
  srcMacLo: number
  greVsid: number
  flowId: number
}

/** Copies a verdict (control path only: it allocates). */
export function recordVerdict(v: Verdict): VerdictRecord {
  return {
    action: v.action,
    stage: v.stage,
    reason: v.reason,
    wireError: v.wireError,
    reply: v.reply,
    family: v.family,
    protocol: v.protocol,
    inPort: v.inPort,
    vsid: v.vsid,
    srcRecord: v.srcRecord,
    route: v.route,
    dstRecord: v.dstRecord,
    gateway: v.gateway,
    outPort: v.outPort,
    outVsid: v.outVsid,
    pa: v.pa,
    srcPa: v.srcPa,
    routed: v.routed,
    dstMacHi: v.dstMacHi,
    dstMacLo: v.dstMacLo,
    srcMacHi: v.srcMacHi,
    srcMacLo: v.srcMacLo,
    greVsid: v.greVsid,
    flowId: v.flowId,
  }
}

/** One host's decision about the packet. */
export interface Hop {
  /** The host, as people know it: its provider addresses. */
  host: string
  table: ForwardingTable
  direction: 'from-port' | 'from-underlay' | 'from-physical'
  /** The packet as that host's pipeline saw it (describeFrame). */
  packet: string
  /** Source and destination IP of the inner packet (text), and its TTL / hop limit; null for ARP/ND. */
  source: string | null
  destination: string | null
  ttl: number | null
  /** What the VM asked for when this hop is its ARP / neighbor solicitation. */
  neighbor?: string
  verdict: VerdictRecord
}

/** A policy row an entry of the compiled table came from (OVN's stage-hint). */
export interface PolicyRef {
  Kind: string
  /** Index of the row in `hnv policy export`'s section. */
  Index: number
  Text: string
  Object: Readonly<Record<string, unknown>>
}

export interface RouteCandidate {
  DestinationPrefix: string
  NextHop: string
  Metric: number
  Chosen: boolean
  Why: string
  Route: PolicyRef
}

export interface TraceDrop {
  Reason: string
  Description: string
  /** What policy would let the packet through. */
  Fix: string
}

export interface TraceStep {
  Host: string
  Stage: string
  /** continue, or the hop's final action (drop, deliver, encap, reply). */
  Action: string
  Text: string
  Policy: PolicyRef[]
  Candidates?: RouteCandidate[]
  Drop?: TraceDrop
}

export interface Trace {
  /** simulated (the pipeline over the compiled tables) or live (verdicts a running engine recorded). */
  Mode: 'simulated' | 'live'
  Packet: string
  Steps: TraceStep[]
  /** One line: where the packet ended. */
  Result: string
  /** The same as data: the last hop's action, where, and why. */
  Outcome: TraceOutcome
}

export interface TraceOutcome {
  /** drop, deliver, encap (to a host the trace did not follow) or reply. */
  Action: string
  Host: string | null
  Stage: string | null
  /** The DropReason when dropped (also TTL expiry answered with time exceeded). */
  Reason: string | null
  /** deliver: the TAP (InterfaceName) of the adapter. */
  InterfaceName: string | null
  /** encap: the PA it was sent to. */
  ProviderAddress: string | null
}

export function outcomeOf(hops: readonly Hop[]): TraceOutcome {
  const hop = hops[hops.length - 1]
  if (hop === undefined) return {Action: 'drop', Host: null, Stage: null, Reason: null, InterfaceName: null, ProviderAddress: null}
  const t = hop.table
  const v = hop.verdict
  return {
    Action: ACTION_NAMES[v.action] ?? 'drop',
    Host: hop.host,
    Stage: stageName(v.stage),
    Reason: v.reason === DropReason.NONE ? null : dropReasonName(v.reason),
    InterfaceName: v.action === Action.DELIVER && v.outPort !== NONE ? t.ports.name[v.outPort] : null,
    ProviderAddress: (v.action === Action.ENCAP || v.action === Action.REWRITE) && v.pa !== NONE ? t.pas.text[v.pa] : null,
  }
}

const SECTION_KIND: Record<OriginSection, string> = {
  LookupRecords: 'LookupRecord',
  CustomerRoutes: 'CustomerRoute',
  VMNetworkAdapters: 'VMNetworkAdapter',
  ProviderAddresses: 'ProviderAddress',
}

function ref(t: ForwardingTable, section: OriginSection, origin: number): PolicyRef {
  return {Kind: SECTION_KIND[section], Index: origin, Text: t.explainOrigin(section, origin), Object: t.sources[section][origin] ?? {}}
}

function recordRef(t: ForwardingTable, record: number): PolicyRef {
  return ref(t, 'LookupRecords', t.records.origin[record])
}

function routeRef(t: ForwardingTable, route: number): PolicyRef {
  return ref(t, 'CustomerRoutes', t.routes.origin[route])
}

function portRef(t: ForwardingTable, port: number): PolicyRef {
  return ref(t, 'VMNetworkAdapters', t.ports.origin[port])
}

/** 12 hex digits, as the policy writes MACs. */
function mac(hi: number, lo: number): string {
  return macText(hi, lo)
}

export function adapterText(t: ForwardingTable, port: number): string {
  return `adapter '${t.ports.adapter[port]}' of VM ${t.ports.vmName[port]} (TAP ${t.ports.name[port]})`
}

function vsidText(t: ForwardingTable, vsid: number): string {
  return vsid === NONE ? '?' : String(t.vsids.value[vsid])
}

function rdidOf(t: ForwardingTable, vsid: number): string | null {
  return vsid === NONE ? null : t.domains.rdid[t.vsids.domain[vsid]]
}

/** The customer routes of the routing domain that contain `destination`, best first, with why. */
export function routeCandidates(t: ForwardingTable, vsid: number, destination: string, chosen: number): RouteCandidate[] {
  const domain = t.vsids.domain[vsid]
  const address = parseIp(destination)
  const routes = t.routes
  const matching: {route: number; length: number}[] = []
  for (let r = 0; r < routes.count; r++) {
    if (routes.domain[r] !== domain || routes.family[r] !== address.family) continue
    const prefix = parsePrefix(routes.prefix[r])
    if (prefixContains(prefix, address)) matching.push({route: r, length: prefix.length})
  }
  matching.sort((a, b) => b.length - a.length || routes.metric[a.route] - routes.metric[b.route] || a.route - b.route)
  const best = matching.find((m) => m.route === chosen) ?? matching[0]
  return matching.map(({route, length}) => {
    const isChosen = route === chosen
    let why: string
    if (isChosen) {
      const rivals = matching.filter((m) => m.route !== route && m.length === length)
      why = rivals.length === 0 ? `longest matching prefix (/${length})` : `longest matching prefix (/${length}), lowest metric among them (${routes.metric[route]})`
    } else if (best !== undefined && length < best.length) {
      why = `shorter prefix (/${length} < /${best.length})`
    } else {
      why = best === undefined ? 'not chosen' : `same prefix length, higher metric (${routes.metric[route]} > ${routes.metric[best.route]})`
    }
    return {
      DestinationPrefix: routes.prefix[route],
      NextHop: routes.onLink[route] === 1 ? 'on-link' : routes.nextHopText[route],
      Metric: routes.metric[route],
      Chosen: isChosen,
      Why: why,
      Route: routeRef(t, route),
    }
  })
}

/** The address the route sends to: the destination itself on-link, else the route's next hop. */
export function nextHopAddress(t: ForwardingTable, route: number, destination: string): string {
  return route === NONE || t.routes.onLink[route] === 1 ? destination : t.routes.nextHopText[route]
}

function unspecified(family: number): string {
  return family === 6 ? '::' : '0.0.0.0'
}

/** What policy would let a packet dropped for `reason` through (PowerShell commands an operator can paste). */
export function fixFor(hop: Hop): string {
  const t = hop.table
  const v = hop.verdict
  const vsid = vsidText(t, v.vsid)
  const rdid = rdidOf(t, v.vsid)
  const src = hop.source ?? '?'
  const dst = hop.destination ?? hop.neighbor ?? '?'
  const inMac = v.inPort === NONE ? '<MAC>' : t.ports.macText[v.inPort]
  const localPa = t.localProviderAddresses()[0] ?? '<PA>'
  switch (v.reason) {
    case DropReason.PORT_UNKNOWN:
      return 'add the adapter: Add-VMNetworkAdapter -VMName <VM> -Name <adapter> (its InterfaceName is the TAP)'
    case DropReason.PORT_NOT_VIRTUALIZED:
      return v.inPort === NONE
        ? 'Set-VMNetworkAdapter -VirtualSubnetID <VSID>'
        : `Set-VMNetworkAdapter -VMName ${t.ports.vmName[v.inPort]} -Name '${t.ports.adapter[v.inPort]}' -VirtualSubnetID <VSID>`
    case DropReason.SRC_MAC_SPOOFED:
      return `the VM must send with its adapter's MAC ${inMac}`
    case DropReason.SRC_IP_SPOOFED:
      return (
        `no lookup record for ${src} in VSID ${vsid} with MAC ${inMac}: New-NetVirtualizationLookupRecord -CustomerAddress ${src} -VirtualSubnetID ${vsid} ` +
        `-MACAddress ${inMac} -ProviderAddress ${localPa} -Rule TranslationMethodEncap, or a GatewayWildcard record for the MAC ` +
        `(-CustomerAddress ${unspecified(v.family)} -Type GatewayWildcard) if the VM routes for others`
      )
    case DropReason.NEIGHBOR_UNKNOWN:
      return (
        `no lookup record for ${dst} in VSID ${vsid}: New-NetVirtualizationLookupRecord -CustomerAddress ${dst} -VirtualSubnetID ${vsid} ` +
        '-MACAddress <its MAC> -ProviderAddress <PA of its host> -Rule TranslationMethodEncap'
      )
    case DropReason.NO_ROUTE:
      return (
        `no customer route of routing domain ${rdid ?? '(none: VSID ' + vsid + ' has no customer route)'} covers ${dst}: New-NetVirtualizationCustomerRoute ` +
        `-RoutingDomainID '${rdid ?? '{<RDID>}'}' -VirtualSubnetID <VSID of ${dst}> -DestinationPrefix <prefix of ${dst}> -NextHop ${unspecified(v.family)} -Metric 255`
      )
    case DropReason.NO_RECORD: {
      const hopAddress = nextHopAddress(t, v.route, dst)
      const routeVsid = v.route === NONE ? vsid : vsidText(t, t.routes.vsid[v.route])
      return (
        `no lookup record for ${hopAddress} in routing domain ${rdid ?? 'of VSID ' + vsid}: New-NetVirtualizationLookupRecord -CustomerAddress ${hopAddress} ` +
        `-VirtualSubnetID ${routeVsid} -MACAddress <its MAC> -ProviderAddress <PA of its host> -Rule TranslationMethodEncap`
      )
    }
    case DropReason.DST_MAC_MISMATCH:
      return v.dstRecord === NONE
        ? 'send to the MAC the host answers ARP/ND with'
        : `send to ${mac(t.records.macHi[v.dstRecord], t.records.macLo[v.dstRecord])}, the MAC of ${recordRef(t, v.dstRecord).Text} (the one ARP/ND answers)`
    case DropReason.TO_GATEWAY:
      return 'the gateway address answers echo requests only; send other traffic through it, to addresses beyond it'
    case DropReason.TTL_EXPIRED:
      return 'raise the TTL / hop limit of the sender'
    case DropReason.TOO_BIG:
      return (
        `the packet does not fit the underlay after NVGRE (${v.family === 6 ? 'IPv6' : 'DF set'}): the VM should take the MTU the ${replyName(Reply.PACKET_TOO_BIG)} ` +
        'message carries (path MTU discovery), or set the VM MTU to the physical MTU minus 42 (IPv4 PAs) / 62 (IPv6 PAs), or raise the physical MTU (jumbo frames); ' +
        'hnv mtu check works out the right value'
      )
    case DropReason.TRANSLATION_UNSUPPORTED:
      return v.dstRecord === NONE
        ? 'use -Rule TranslationMethodEncap'
        : `Set-NetVirtualizationLookupRecord -CustomerAddress ${t.records.caText[v.dstRecord]} -VirtualSubnetID ${vsidText(t, t.records.vsid[v.dstRecord])} -Rule TranslationMethodEncap`
    case DropReason.NAT_RULE_MISMATCH:
      return v.srcRecord === NONE
        ? 'give the sender a TranslationMethodNat lookup record with a PA of its own'
        : `Set-NetVirtualizationLookupRecord -CustomerAddress ${t.records.caText[v.srcRecord]} -VirtualSubnetID ${vsidText(t, t.records.vsid[v.srcRecord])} -Rule TranslationMethodNat -ProviderAddress <a PA of its own>, ` +
            (v.dstRecord === NONE ? 'or make the destination TranslationMethodEncap' : `or Set-NetVirtualizationLookupRecord -CustomerAddress ${t.records.caText[v.dstRecord]} -VirtualSubnetID ${vsidText(t, t.records.vsid[v.dstRecord])} -Rule TranslationMethodEncap -ProviderAddress <PA of its host>`)
    case DropReason.NAT_FAMILY_MISMATCH:
      return `give both TranslationMethodNat records a ProviderAddress of the packet's family (IPv${v.family})`
    case DropReason.NO_PHYSICAL_LINK:
      return 'restart the engine so it opens the physical link for the TranslationMethodNat provider addresses of the store'
    case DropReason.NO_LOCAL_PORT:
      return v.dstRecord === NONE
        ? 'add the adapter of the destination VM on this host'
        : `the record puts ${t.records.caText[v.dstRecord]} on this host (PA ${t.pas.text[t.records.pa[v.dstRecord]]}) but no adapter has MAC ` +
            `${mac(t.records.macHi[v.dstRecord], t.records.macLo[v.dstRecord])} in VSID ${vsidText(t, t.records.vsid[v.dstRecord])}: Add-VMNetworkAdapter ` +
            `-VMName <VM> -StaticMacAddress ${mac(t.records.macHi[v.dstRecord], t.records.macLo[v.dstRecord])}, then Set-VMNetworkAdapter -VirtualSubnetID ` +
            vsidText(t, t.records.vsid[v.dstRecord]) +
            ', or correct the record\'s -ProviderAddress'
    case DropReason.PORT_NOT_ATTACHED:
      return 'start the engine (hnv engine start) or check hnv engine status for the TAP'
    case DropReason.NO_UNDERLAY:
      return `this host has no provider address of the PA's family: New-NetVirtualizationProviderAddress -ProviderAddress <address> -InterfaceIndex <index> -PrefixLength <length>`
    case DropReason.NOT_LOCAL_PA:
      return 'the outer destination is not one of this host\'s provider addresses: New-NetVirtualizationProviderAddress for it, or correct the sender\'s record'
    case DropReason.UNKNOWN_VSID:
      return `this host has no lookup record or route for VSID ${v.greVsid || vsid}: copy the tenant's policy to it`
    case DropReason.NO_PORT_FOR_MAC:
      return 'no adapter of this host has the inner destination MAC in that VSID: check the sender\'s lookup record (MAC, PA)'
    case DropReason.UNKNOWN_SOURCE_CA:
      return `this host has no lookup record for the source ${src} in VSID ${vsid}: add the sender's record here too (New-NetVirtualizationLookupRecord -CustomerAddress ${src} -VirtualSubnetID ${vsid} ...)`
    case DropReason.SOURCE_PA_MISMATCH:
      return v.srcRecord === NONE
        ? 'the sender\'s record names another PA'
        : `this host's record for ${src} names PA ${t.pas.text[t.records.pa[v.srcRecord]]}, but the packet came from ${v.srcPa === NONE ? 'another address' : t.pas.text[v.srcPa]}: ` +
            `Set-NetVirtualizationLookupRecord -CustomerAddress ${src} -VirtualSubnetID ${vsid} -ProviderAddress <sender's PA>`
    default:
      return DROP_REASON_DESCRIPTIONS[v.reason] ?? 'no policy lets it through'
  }
}

function step(hop: Hop, stage: number, action: string, text: string, policy: PolicyRef[] = []): TraceStep {
  return {Host: hop.host, Stage: stageName(stage), Action: action, Text: text, Policy: policy}
}

/** The last step of a hop: its action, and for a drop the reason and the fix. */
function finalStep(hop: Hop, s: TraceStep): TraceStep {
  const v = hop.verdict
  s.Action = ACTION_NAMES[v.action] ?? 'drop'
  if (v.action === Action.DROP || v.reason !== DropReason.NONE) {
    s.Drop = {Reason: dropReasonName(v.reason), Description: DROP_REASON_DESCRIPTIONS[v.reason] ?? '', Fix: fixFor(hop)}
  }
  return s
}

/** The steps of one hop, stage by stage up to the one that decided. */
export function explainHop(hop: Hop): TraceStep[] {
  const t = hop.table
  const v = hop.verdict
  const steps: TraceStep[] = []
  const last = (stage: number, text: string, policy: PolicyRef[] = []): TraceStep[] => {
    steps.push(finalStep(hop, step(hop, stage, '', text, policy)))
    return steps
  }
  const go = (stage: number, text: string, policy: PolicyRef[] = []): void => {
    steps.push(step(hop, stage, 'continue', text, policy))
  }
  const dropped = (stage: number): boolean => v.stage === stage && v.action === Action.DROP

  if (hop.direction === 'from-underlay') return explainUnderlay(hop, steps, go, last)
  if (hop.direction === 'from-physical') return explainPhysical(hop, go, last)

  // port-ingress
  if (v.inPort === NONE) return last(Stage.PORT_INGRESS, 'the TAP is not a VM network adapter of the policy')
  const adapter = adapterText(t, v.inPort)
  const portPolicy = [portRef(t, v.inPort)]
  if (v.vsid === NONE) return last(Stage.PORT_INGRESS, `${adapter} has VirtualSubnetId 0 (not virtualized)`, portPolicy)
  const inVsid = vsidText(t, v.vsid)
  if (dropped(Stage.PORT_INGRESS)) return last(Stage.PORT_INGRESS, `${adapter}, VSID ${inVsid}: the frame is not accepted`, portPolicy)
  go(Stage.PORT_INGRESS, `${adapter}, VSID ${inVsid}, MAC ${t.ports.macText[v.inPort]}`, portPolicy)

  // port-security
  if (dropped(Stage.PORT_SECURITY)) {
    const what = v.reason === DropReason.SRC_IP_SPOOFED ? `source ${hop.source ?? '?'} is not a CA of the adapter's lookup records in VSID ${inVsid}` : DROP_REASON_DESCRIPTIONS[v.reason]
    return last(Stage.PORT_SECURITY, what ?? '', portPolicy)
  }
  if (v.srcRecord !== NONE) {
    const wildcard = t.records.type[v.srcRecord] === RecordType.GATEWAY_WILDCARD || t.records.type[v.srcRecord] === RecordType.L2_ONLY
    const who = hop.source ?? hop.neighbor ?? ''
    go(
      Stage.PORT_SECURITY,
      wildcard
        ? `source ${who} allowed by the ${RECORD_TYPE_NAMES[t.records.type[v.srcRecord]]} record of MAC ${mac(t.records.macHi[v.srcRecord], t.records.macLo[v.srcRecord])} (any source address)`
        : `source ${who} is the adapter's own CA`,
      [recordRef(t, v.srcRecord)],
    )
  } else if (v.stage > Stage.PORT_SECURITY) {
    go(Stage.PORT_SECURITY, `source MAC is the adapter's${hop.neighbor ? ' (an address probe: no source address)' : ''}`)
  }

  // arp-nd-proxy
  if (v.stage === Stage.ARP_ND_PROXY) {
    const asked = hop.neighbor ?? '?'
    if (v.action === Action.REPLY) {
      const answer = mac(v.srcMacHi, v.srcMacLo)
      if (v.gateway !== NONE) {
        return last(Stage.ARP_ND_PROXY, `the VM asks for ${asked}: ${replyName(v.reply)}, ${asked} (the gateway of VSID ${vsidText(t, t.gateways.vsid[v.gateway])}) is at ${answer}`, gatewayPolicy(t, v.gateway))
      }
      return last(Stage.ARP_ND_PROXY, `the VM asks for ${asked}: ${replyName(v.reply)}, ${asked} is at ${answer}`, v.dstRecord === NONE ? [] : [recordRef(t, v.dstRecord)])
    }
    return last(Stage.ARP_ND_PROXY, `the VM asks for ${asked}: no answer`)
  }

  // gateway
  if (v.stage === Stage.GATEWAY && v.gateway !== NONE) {
    const g = v.gateway
    const text = `${hop.destination ?? '?'} is the gateway of VSID ${vsidText(t, t.gateways.vsid[g])}`
    if (v.action === Action.REPLY) return last(Stage.GATEWAY, `${text}: ${replyName(v.reply)} from ${t.gateways.addressText[g]}`, gatewayPolicy(t, g))
    return last(Stage.GATEWAY, text, gatewayPolicy(t, g))
  }

  // A stage off the unicast path (DHCP, flood, learning) before any route.
  if (!WALKED.has(v.stage) && v.route === NONE && v.dstRecord === NONE) return last(v.stage, declaredStageText(hop))

  // route
  const candidates = v.route === NONE || hop.destination === null ? [] : routeCandidates(t, v.vsid, hop.destination, v.route)
  if (v.route === NONE) {
    if (v.stage === Stage.ROUTE) return last(Stage.ROUTE, `no customer route of routing domain ${rdidOf(t, v.vsid) ?? '(implicit, VSID ' + inVsid + ')'} covers ${hop.destination ?? '?'}`)
  } else {
    const r = v.route
    const via = t.routes.onLink[r] === 1 ? 'on-link' : `via ${t.routes.nextHopText[r]}`
    const routeStep = step(hop, Stage.ROUTE, 'continue', `${hop.destination} matches ${t.routes.prefix[r]} ${via}, metric ${t.routes.metric[r]}, VSID ${vsidText(t, t.routes.vsid[r])}`, [routeRef(t, r)])
    routeStep.Candidates = candidates
    steps.push(routeStep)
    if (v.stage === Stage.GATEWAY && v.gateway !== NONE) return steps
    if (v.stage === Stage.ROUTE) {
      // An expiring TTL while routing: time exceeded from the gateway.
      steps.pop()
      routeStep.Text += v.reason === DropReason.TTL_EXPIRED ? `; TTL ${hop.ttl ?? '?'} expires here` : ''
      if (v.action === Action.REPLY) routeStep.Text += `: ${replyName(v.reply)} sent from ${t.gateways.addressText[v.gateway]}`
      steps.push(finalStep(hop, routeStep))
      return steps
    }
  }

  // resolve
  if (v.dstRecord === NONE) {
    return last(Stage.RESOLVE, `no lookup record for next hop ${nextHopAddress(t, v.route, hop.destination ?? '?')} in the routing domain`)
  }
  const rec = v.dstRecord
  const recMac = mac(t.records.macHi[rec], t.records.macLo[rec])
  let resolveText = `next hop ${t.records.caText[rec]} is MAC ${recMac} in VSID ${vsidText(t, t.records.vsid[rec])}, PA ${t.pas.text[t.records.pa[rec]]}`
  if (v.routed) {
    const across = v.outVsid === v.vsid ? `routed within VSID ${inVsid} (sent to the router's MAC)` : `routed VSID ${inVsid} -> ${vsidText(t, v.outVsid)}`
    resolveText +=
      `; ${across}: destination MAC -> ${mac(v.dstMacHi, v.dstMacLo)}, source MAC -> ${mac(v.srcMacHi, v.srcMacLo)} (the router), ` +
      `TTL ${hop.ttl ?? '?'} -> ${hop.ttl === null ? '?' : hop.ttl - 1}`
  } else {
    resolveText += '; same subnet: bridged, no rewrite'
  }
  if (v.stage === Stage.RESOLVE) return last(Stage.RESOLVE, resolveText, [recordRef(t, rec)])
  go(Stage.RESOLVE, resolveText, [recordRef(t, rec)])
  // After resolve: a stage this file does not word (the MTU check, IP rewrite ...).
  if (!WALKED.has(v.stage)) return last(v.stage, declaredStageText(hop))

  if (v.stage === Stage.LOCAL_DELIVERY) {
    if (v.outPort === NONE) return last(Stage.LOCAL_DELIVERY, `PA ${t.pas.text[v.pa]} is this host's, but no adapter has MAC ${recMac} in VSID ${vsidText(t, v.outVsid)}`)
    return last(Stage.LOCAL_DELIVERY, `PA ${t.pas.text[v.pa]} is this host's: to ${adapterText(t, v.outPort)}`, [portRef(t, v.outPort)])
  }
  if (v.stage === Stage.ENCAP || v.action === Action.ENCAP) {
    return last(Stage.ENCAP, `NVGRE to PA ${t.pas.text[v.pa]}, key VSID ${v.greVsid} FlowID 0x${v.flowId.toString(16).padStart(2, '0')}`)
  }
  return last(v.stage, DROP_REASON_DESCRIPTIONS[v.reason] ?? '')
}

/** The stages this file walks by name; any other (MTU, DHCP, flood, learning ...) is explained by its declaration. */
const WALKED: ReadonlySet<number> = new Set([
  Stage.PORT_INGRESS,
  Stage.PORT_SECURITY,
  Stage.ARP_ND_PROXY,
  Stage.GATEWAY,
  Stage.ROUTE,
  Stage.RESOLVE,
  Stage.LOCAL_DELIVERY,
  Stage.ENCAP,
  Stage.DECAP_CHECK,
])

/** A stage without its own wording: what stages.ts says it does, and what it did. */
function declaredStageText(hop: Hop): string {
  const v = hop.verdict
  const t = hop.table
  let text = STAGE_DESCRIPTIONS[v.stage] ?? stageName(v.stage)
  if (v.action === Action.REPLY) text += `; ${replyName(v.reply)} sent back`
  else if (ACTION_NAMES[v.action] === 'flood') text += '; copied by source replication'
  else if (v.action === Action.ENCAP && v.pa !== NONE) text += `; NVGRE to PA ${t.pas.text[v.pa]}`
  else if (v.action === Action.REWRITE) text += `: source ${hop.source ?? '?'} -> PA ${t.pas.text[v.srcPa]}, destination ${hop.destination ?? '?'} -> PA ${t.pas.text[v.pa]}, sent as plain IP (no NVGRE)`
  else if (v.action === Action.DELIVER && v.outPort !== NONE) text += `; to ${adapterText(t, v.outPort)}`
  return text
}

function gatewayPolicy(t: ForwardingTable, gateway: number): PolicyRef[] {
  const out: PolicyRef[] = []
  const record = t.gateways.record[gateway]
  if (record !== NONE) out.push(recordRef(t, record))
  const route = t.gateways.route[gateway]
  if (route !== NONE) out.push(routeRef(t, route))
  return out
}

function explainUnderlay(
  hop: Hop,
  steps: TraceStep[],
  go: (stage: number, text: string, policy?: PolicyRef[]) => void,
  last: (stage: number, text: string, policy?: PolicyRef[]) => TraceStep[],
): TraceStep[] {
  const t = hop.table
  const v = hop.verdict
  if (v.pa === NONE) return last(Stage.DECAP_CHECK, 'the outer destination is not a provider address of this host')
  const from = v.srcPa === NONE ? 'an address this host does not know' : t.pas.text[v.srcPa]
  const head = `NVGRE to local PA ${t.pas.text[v.pa]} from ${from}`
  if (v.vsid === NONE) return last(Stage.DECAP_CHECK, v.reason === DropReason.UNKNOWN_VSID ? `${head}: VSID not in this host's policy` : `${head}: ${DROP_REASON_DESCRIPTIONS[v.reason]}`)
  const vsid = vsidText(t, v.vsid)
  if (v.outPort === NONE) return last(Stage.DECAP_CHECK, `${head}, VSID ${vsid}: ${DROP_REASON_DESCRIPTIONS[v.reason]}`)
  if (v.srcRecord === NONE || v.action === Action.DROP) {
    return last(Stage.DECAP_CHECK, `${head}, VSID ${vsid}, inner source ${hop.source ?? '?'}: ${DROP_REASON_DESCRIPTIONS[v.reason]}`, v.srcRecord === NONE ? [] : [recordRef(t, v.srcRecord)])
  }
  if (!WALKED.has(v.stage)) return last(v.stage, `${head}, VSID ${vsid}: ${declaredStageText(hop)}`)
  go(Stage.DECAP_CHECK, `${head}, VSID ${vsid}: inner source ${hop.source ?? '?'} is vouched for by its record (PA ${t.pas.text[t.records.pa[v.srcRecord]]})`, [recordRef(t, v.srcRecord)])
  return last(Stage.LOCAL_DELIVERY, `to ${adapterText(t, v.outPort)}`, [portRef(t, v.outPort)])
}

/** TranslationMethodNat on the receiving host: plain IP to a NAT PA, its CAs restored, to the adapter. */
function explainPhysical(
  hop: Hop,
  go: (stage: number, text: string, policy?: PolicyRef[]) => void,
  last: (stage: number, text: string, policy?: PolicyRef[]) => TraceStep[],
): TraceStep[] {
  const t = hop.table
  const v = hop.verdict
  const from = v.srcPa === NONE ? 'an address this host does not know' : t.pas.text[v.srcPa]
  const head = `plain IP to ${v.pa === NONE ? 'an address that is not a PA of this host' : 'NAT PA ' + t.pas.text[v.pa]} from ${from}`
  if (v.dstRecord === NONE || v.srcRecord === NONE) return last(Stage.IP_REWRITE, `${head}: ${DROP_REASON_DESCRIPTIONS[v.reason]}`, v.dstRecord === NONE ? [] : [recordRef(t, v.dstRecord)])
  go(
    Stage.IP_REWRITE,
    `${head}: destination -> CA ${t.records.caText[v.dstRecord]}, source -> CA ${t.records.caText[v.srcRecord]} (their TranslationMethodNat records)`,
    [recordRef(t, v.dstRecord), recordRef(t, v.srcRecord)],
  )
  if (v.action !== Action.DELIVER) return last(Stage.LOCAL_DELIVERY, DROP_REASON_DESCRIPTIONS[v.reason])
  return last(Stage.LOCAL_DELIVERY, `to ${adapterText(t, v.outPort)}`, [portRef(t, v.outPort)])
}

/** One line for where the packet ended, from the last hop. */
export function resultOf(hops: readonly Hop[], unfollowed: string | null = null): string {
  const hop = hops[hops.length - 1]
  if (hop === undefined) return 'nothing traced'
  const t = hop.table
  const v = hop.verdict
  switch (v.action) {
    case Action.DELIVER:
      return `delivered to ${adapterText(t, v.outPort)} on host ${hop.host}`
    case Action.ENCAP:
      return `sent as NVGRE to PA ${t.pas.text[v.pa]}` + (unfollowed === null ? '' : ` (${unfollowed})`)
    case Action.REWRITE:
      return `sent as plain IP to PA ${t.pas.text[v.pa]} from PA ${t.pas.text[v.srcPa]} (TranslationMethodNat)` + (unfollowed === null ? '' : ` (${unfollowed})`)
    case Action.REPLY:
      return v.reason !== DropReason.NONE
        ? `dropped (${dropReasonName(v.reason)}) on host ${hop.host}; ${replyName(v.reply)} sent back to the VM`
        : v.reply === Reply.TIME_EXCEEDED
        ? `dropped (${dropReasonName(v.reason)}) on host ${hop.host}; ${replyName(v.reply)} sent back to the VM`
        : `answered by host ${hop.host} itself (${replyName(v.reply)})`
    default:
      if (ACTION_NAMES[v.action] === 'flood') return `flooded on host ${hop.host} (${stageName(v.stage)})`
      return `dropped on host ${hop.host} at ${stageName(v.stage)}: ${dropReasonName(v.reason)}`
  }
}

/** The steps of every hop; the VM's ARP / ND for its next hop shows only its answer unless dropped before it. */
export function explainTrace(mode: Trace['Mode'], packet: string, hops: readonly Hop[], unfollowed: string | null = null): Trace {
  const steps = hops.flatMap((hop) => {
    const all = explainHop(hop)
    const answer = all[all.length - 1]
    return hop.neighbor !== undefined && answer.Stage === stageName(Stage.ARP_ND_PROXY) ? [answer] : all
  })
  return {Mode: mode, Packet: packet, Steps: steps, Result: resultOf(hops, unfollowed), Outcome: outcomeOf(hops)}
}

/** The trace for people: one block per host, a line per step, candidates and the fix indented. */
export function renderTrace(trace: Trace): string {
  const lines: string[] = [`${trace.Mode === 'live' ? 'Live trace' : 'Trace'}: ${trace.Packet}`]
  let host: string | null = null
  const width = Math.max(...trace.Steps.map((s) => s.Stage.length), 8)
  for (const s of trace.Steps) {
    if (s.Host !== host) {
      host = s.Host
      lines.push(`host ${host}`)
    }
    const mark = s.Action === 'continue' ? '' : `  => ${s.Action.toUpperCase()}`
    lines.push(`  ${s.Stage.padEnd(width)}  ${s.Text}${mark}`)
    for (const p of s.Policy) lines.push(`  ${''.padEnd(width)}    <${p.Kind}s[${p.Index}]> ${p.Text}`)
    for (const c of s.Candidates ?? []) {
      lines.push(`  ${''.padEnd(width)}    ${c.Chosen ? '*' : ' '} ${c.DestinationPrefix} ${c.NextHop} metric ${c.Metric}: ${c.Why}`)
    }
    if (s.Drop) {
      lines.push(`  ${''.padEnd(width)}    drop reason: ${s.Drop.Reason} (${s.Drop.Description})`)
      lines.push(`  ${''.padEnd(width)}    to let it through: ${s.Drop.Fix}`)
    }
  }
  lines.push(`Result: ${trace.Result}`)
  return lines.map((line) => line.trimEnd()).join('\n') + '\n'
}
