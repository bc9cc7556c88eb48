// The SCVMM layer's objects as plain values, with SCVMM/PowerShell property names (the JSON keys of
// `hnv host get --json` etc.). Lists (provider addresses, prefixes, exclusions) are comma-separated text,
// as the output kit prints scalar values: `198.51.100.11/24,2001:db8::11/64`.
//
// References between objects are by Name (case-insensitive); names are unique per kind and never change
// (Set cannot rename: remove and re-create).

/** A Hyper-V host running the engine: the provider-address side of the logical network (Add-SCVMHost). */
export interface Host {
  Name: string
  /** `address/length`, comma-separated, e.g. `198.51.100.11/24`; the first one is what lookup records name. */
  ProviderAddresses: string
  /** The physical interface holding the PAs (informative: the engine finds it by address). */
  InterfaceName: string | null
  /** InterfaceIndex of the derived provider addresses (default 2; the engine finds the interface by address). */
  InterfaceIndex: number
  Description: string | null
}

export const ADDRESS_FAMILIES = ['IPv4', 'IPv6', 'DualStack'] as const
export type AddressFamily = (typeof ADDRESS_FAMILIES)[number]

/** A VM network = a routing domain (New-SCVMNetwork). */
export interface VMNetwork {
  Name: string
  /** `{guid}` lower-case with braces, as customer routes store it; generated from Name (UUID v5) unless given. */
  RoutingDomainID: string
  /** Which families its subnets may use (default IPv4). */
  AddressFamily: AddressFamily
  Description: string | null
}

/** A virtual subnet of a VM network (New-SCVMSubnet). */
export interface VMSubnet {
  Name: string
  /** Name of its VM network. */
  VMNetwork: string
  /** Its prefix(es): one per address family at most, comma-separated (`10.0.0.0/24` or `10.0.0.0/24,2001:db8:1::/64`). */
  Prefix: string
  /** VSID, 4096..16777214, unique; the lowest free from 4096 unless given. */
  VirtualSubnetID: number
  Description: string | null
}

/** A static IP address pool of one subnet and one family (New-SCStaticIPAddressPool). */
export interface StaticIPAddressPool {
  Name: string
  /** Name of its VM subnet. */
  VMSubnet: string
  /** First and last address of the range, inside one of the subnet's prefixes (default: the whole prefix after the .1). */
  IPAddressRangeStart: string
  IPAddressRangeEnd: string
  /** Addresses or ranges (`a-b`) never handed out, comma-separated (SCVMM's IPAddressReservedSet). */
  IPAddressReservedSet: string | null
  Description: string | null
}

/** A MAC address pool (New-SCMACAddressPool). With none defined, DEFAULT_MAC_POOL is used. */
export interface MACAddressPool {
  Name: string
  /** 12 upper-case hex digits, like every MAC in the store. */
  MACAddressRangeStart: string
  MACAddressRangeEnd: string
  Description: string | null
}

/** A VM with one network adapter in one subnet, on one host (New-SCVirtualMachine). */
export interface VM {
  Name: string
  /** Name of its VM subnet. */
  VMSubnet: string
  /** Name of the host that runs it. */
  VMHost: string
  /** Its CAs: allocated from the subnet's pools (lowest free, never the .1 or an exclusion) unless given; null when the subnet has no prefix of that family. */
  IPv4Address: string | null
  IPv6Address: string | null
  /** Allocated from the MAC pools (lowest free) unless given. */
  MACAddress: string
  Description: string | null
}

/** The locally administered range used when no MAC pool is defined (02-48-4E-56 = 'HNV'). */
export const DEFAULT_MAC_POOL: MACAddressPool = {
  Name: 'Default MAC Address Pool',
  MACAddressRangeStart: '02484E560000',
  MACAddressRangeEnd: '02484E56FFFF',
  Description: 'Locally administered range used while no MAC address pool is defined',
}

/** The low-level kinds derivation writes, by the export name of policy documents. */
export type DerivedTable = 'LookupRecords' | 'CustomerRoutes' | 'ProviderAddresses' | 'VMNetworkAdapters'

/** One low-level row derivation created, changed or removed (for plans and reports). */
export interface DerivedChange {
  operation: 'New' | 'Set' | 'Remove'
  table: DerivedTable
  /** The model object it comes from: `VM Blue1`, `VMSubnet Blue-Subnet`, `Host host1`. */
  origin: string
  /** The row, with the low-level kind's property names. */
  object: Record<string, string | number | boolean | null>
}
