// The forwarding pipeline's stages and the reasons a packet is dropped, each declared once with its
// printable name (OVN's PIPELINE_STAGES in northd.h). The pipeline, the counters, `status()` and trace all
// use these tables; comments elsewhere name stages, never numbers.

/** key -> [printable name, what happens there]. Order gives the numbers; append, never reorder. */
const STAGE_SPEC = {
  PORT_INGRESS: ['port-ingress', 'a frame from a VM port: which adapter and VSID; the Ethernet header'],
  PORT_SECURITY: ['port-security', "source MAC must be the adapter's, source IP a CA of its lookup records"],
  ARP_ND_PROXY: ['arp-nd-proxy', 'ARP requests and neighbor solicitations answered from lookup records'],
  GATEWAY: ['gateway', "traffic to the subnet's gateway address: echo requests answered"],
  ROUTE: ['route', "customer routes of the routing domain: longest prefix, then lowest metric; TTL"],
  RESOLVE: ['resolve', "the next hop's lookup record: MAC, VSID, PA"],
  LOCAL_DELIVERY: ['local-delivery', 'to a port of this host (PA local)'],
  ENCAP: ['encap', 'NVGRE to the PA of the destination record'],
  DECAP_CHECK: ['decap-check', 'NVGRE from the underlay: local PA, GRE flags, VSID, port, source CA and PA'],
  TRANSMIT: ['transmit', 'handing the batch to a port or an underlay'],
  DHCP: ['dhcp', "DHCP from a -Dhcp adapter answered with its lookup record's CA, the subnet's prefix and gateway"],
  FLOOD: ['flood', 'broadcast and multicast (and ARP for L2Only VSIDs): copies to the VSID\'s other ports and PAs'],
  LEARN: ['learn', "an L2Only VM's ARP reply or neighbor advertisement: a Dynamic lookup record for its address"],
  MTU: ['mtu', 'the encapsulated packet must fit the underlay MTU (DF IPv4 and all IPv6: fragmentation-needed / packet-too-big)'],
  IP_REWRITE: ['ip-rewrite', 'TranslationMethodNat: CAs replaced by the records\' PAs (plain IP to the physical network), restored on receive'],
} as const

const DROP_SPEC = {
  NONE: ['none', 'not dropped'],
  PORT_UNKNOWN: ['port-unknown', 'the port is not a VM network adapter of the loaded table'],
  PORT_NOT_VIRTUALIZED: ['port-not-virtualized', 'the adapter has VirtualSubnetId 0'],
  PORT_NOT_ATTACHED: ['port-not-attached', "the destination adapter's port is not attached to the engine"],
  OFFLOAD_UNSUPPORTED: ['offload-unsupported', 'a GSO super-frame or a virtio header this engine does not handle yet'],
  MALFORMED: ['malformed', 'a header is truncated or invalid'],
  VLAN_TAGGED: ['vlan-tagged', 'an 802.1Q-tagged frame'],
  NOT_IP: ['not-ip', 'neither IPv4, IPv6 nor ARP'],
  SRC_MAC_SPOOFED: ['src-mac-spoofed', "source MAC (or ARP sender MAC) is not the adapter's"],
  SRC_IP_SPOOFED: ['src-ip-spoofed', "source IP is not a CA of the adapter's lookup records"],
  BROADCAST_MULTICAST: ['broadcast-multicast', 'broadcast or multicast that is not forwarded'],
  ARP_NOT_REQUEST: ['arp-not-request', 'ARP other than a request: the host answers, VMs do not'],
  ND_NOT_SOLICITATION: ['nd-not-solicitation', 'neighbor discovery other than a solicitation'],
  NEIGHBOR_OWN_ADDRESS: ['neighbor-own-address', "ARP/NS for the asker's own address (gratuitous, probe, DAD): no answer"],
  NEIGHBOR_UNKNOWN: ['neighbor-unknown', 'ARP/NS for an address without a lookup record in the VSID: no answer'],
  TO_GATEWAY: ['to-gateway', 'traffic to the gateway address other than an echo request'],
  NO_ROUTE: ['no-route', 'no customer route for the destination'],
  NO_RECORD: ['no-record', 'no lookup record for the next hop in the routing domain'],
  DST_MAC_MISMATCH: ['dst-mac-mismatch', "within the subnet, the destination MAC is not the record's"],
  TTL_EXPIRED: ['ttl-expired', 'TTL / hop limit expired while routing (time exceeded sent)'],
  TRANSLATION_UNSUPPORTED: ['translation-unsupported', 'the record uses TranslationMethodNone (or TranslationMethodNat where only NVGRE can go)'],
  NO_LOCAL_PORT: ['no-local-port', 'the PA is local but no adapter has that VSID and MAC'],
  NO_UNDERLAY: ['no-underlay', "no underlay of the PA's address family"],
  NO_HEADROOM: ['no-headroom', 'no room in front of the frame for the headers to write'],
  TX_DROPPED: ['tx-dropped', 'the port or underlay did not take the packet (would block, error)'],
  NOT_LOCAL_PA: ['not-local-pa', 'NVGRE to an address that is not a PA of this host'],
  GRE_CHECKSUM_BIT: ['gre-checksum-bit', 'GRE C bit set (RFC 7637: C=0)'],
  GRE_ROUTING_BIT: ['gre-routing-bit', 'GRE R bit set'],
  GRE_NO_KEY: ['gre-no-key', 'GRE K bit clear (RFC 7637: K=1)'],
  GRE_SEQUENCE_BIT: ['gre-sequence-bit', 'GRE S bit set (RFC 7637: S=0)'],
  GRE_RESERVED_BITS: ['gre-reserved-bits', 'GRE reserved bits 4-5 set (RFC 2784: discard)'],
  GRE_VERSION: ['gre-version', 'GRE version not 0'],
  GRE_NOT_TEB: ['gre-not-teb', 'GRE protocol type not 0x6558'],
  UNKNOWN_VSID: ['unknown-vsid', 'the NVGRE VSID is not in the table'],
  NO_PORT_FOR_MAC: ['no-port-for-mac', 'no local adapter of that VSID has the inner destination MAC'],
  ARP_IN_NVGRE: ['arp-in-nvgre', 'ARP inside NVGRE other than a request or a reply'],
  UNKNOWN_SOURCE_CA: ['unknown-source-ca', 'the inner source CA has no lookup record in the routing domain'],
  SOURCE_PA_MISMATCH: ['source-pa-mismatch', "the outer source is not the PA of the inner source's record"],
  OFFLOAD_NO_ROOM: ['offload-no-room', 'segmentation or coalescing output area full for this super-frame'],
  SEGMENT_TOO_BIG: ['segment-too-big', 'a UDP GSO segment or a plain frame larger than the inner MTU (not re-split)'],
  DHCP_NO_ADDRESS: ['dhcp-no-address', 'DHCP from an adapter without an IPv4 lookup record in its VSID'],
  DHCP_NO_SUBNET: ['dhcp-no-subnet', "DHCP: the adapter's CA is in no on-link customer route with a gateway"],
  DHCP_IGNORED: ['dhcp-ignored', 'DHCP release, decline, inform, a request for another server, or not a request'],
  FLOOD_NO_TARGET: ['flood-no-target', 'broadcast or multicast in a VSID with no other port or PA to copy it to'],
  ARP_REPLY_NOT_L2ONLY: ['arp-reply-not-l2only', 'an ARP reply or neighbor advertisement in NVGRE whose sender MAC has no L2Only record of the outer source PA'],
  TOO_BIG: ['too-big', 'too big for the underlay MTU after encapsulation, DF set or IPv6 (fragmentation-needed / packet-too-big sent)'],
  NO_EXTERNAL_ROUTE: ['no-external-route', 'UseExternalRouter: for another subnet, and no customer route with a next hop (the external router) covers it'],
  NAT_RULE_MISMATCH: ['nat-rule-mismatch', 'to a TranslationMethodNat record from a source whose record is not TranslationMethodNat: IP rewrite needs both PAs'],
  NAT_FAMILY_MISMATCH: ['nat-family-mismatch', 'TranslationMethodNat: a PA is not of the packet\'s address family'],
  NAT_UNKNOWN_PA: ['nat-unknown-pa', 'a plain IP packet to a local PA that no TranslationMethodNat record holds'],
  NAT_UNKNOWN_SOURCE: ['nat-unknown-source', 'a plain IP packet to a NAT PA from an address that is no TranslationMethodNat PA of that routing domain'],
  NO_PHYSICAL_LINK: ['no-physical-link', 'TranslationMethodNat: the engine has no physical link to send plain IP packets on'],
} as const

/** What happens to a frame whose reply the host writes itself. */
const REPLY_SPEC = {
  NONE: ['none', 'no reply'],
  ARP: ['arp-reply', 'ARP reply from a lookup record or the gateway'],
  NEIGHBOR_ADVERT: ['neighbor-advert', 'neighbor advertisement from a lookup record or the gateway'],
  ECHO: ['echo-reply', 'echo reply from the gateway address'],
  TIME_EXCEEDED: ['time-exceeded', 'ICMP / ICMPv6 time exceeded from the gateway address'],
  DHCP: ['dhcp', 'DHCP offer, ack or nak from the gateway address'],
  PACKET_TOO_BIG: ['packet-too-big', 'ICMP fragmentation-needed / ICMPv6 packet-too-big with the MTU, from the gateway address'],
} as const

type Spec = Readonly<Record<string, readonly [string, string]>>
type Numbered<S extends Spec> = {readonly [K in keyof S]: number}

/**
 * Built in one go: an object given its properties one keyed store at a time falls into dictionary mode
 * after a few dozen, and then every `DropReason.X` in the hot path is a generic property lookup.
 */
function numbered<S extends Spec>(spec: S): Numbered<S> {
  return Object.freeze(Object.fromEntries(Object.keys(spec).map((key, i) => [key, i]))) as Numbered<S>
}

export const Stage = numbered(STAGE_SPEC)
export const STAGE_NAMES: readonly string[] = Object.values(STAGE_SPEC).map(([name]) => name)
export const STAGE_COUNT = STAGE_NAMES.length

export const DropReason = numbered(DROP_SPEC)
export const DROP_REASON_NAMES: readonly string[] = Object.values(DROP_SPEC).map(([name]) => name)
export const DROP_REASON_DESCRIPTIONS: readonly string[] = Object.values(DROP_SPEC).map(([, text]) => text)
export const DROP_REASON_COUNT = DROP_REASON_NAMES.length

export const Reply = numbered(REPLY_SPEC)
export const REPLY_NAMES: readonly string[] = Object.values(REPLY_SPEC).map(([name]) => name)
export const REPLY_COUNT = REPLY_NAMES.length

export const STAGE_DESCRIPTIONS: readonly string[] = Object.values(STAGE_SPEC).map(([, text]) => text)

export function stageName(stage: number): string {
  return STAGE_NAMES[stage] ?? 'stage-' + stage
}

export function dropReasonName(reason: number): string {
  return DROP_REASON_NAMES[reason] ?? 'reason-' + reason
}

export function replyName(reply: number): string {
  return REPLY_NAMES[reply] ?? 'reply-' + reply
}
