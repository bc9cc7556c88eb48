// Two tenants on two hosts (reference/hnv.md §6) as a tenant file, for the apply tests.
export const TENANTS = `Version: 1
Hosts:
  - Name: host1
    ProviderAddresses: 198.51.100.11/24
  - Name: host2
    ProviderAddresses: [198.51.100.22/24]
VMNetworks:
  - Name: Blue
  - Name: Red
VMSubnets:
  - Name: Blue-A
    VMNetwork: Blue
    Prefix: 10.0.0.0/24
  - Name: Red-A
    VMNetwork: Red
    Prefix: 10.0.0.0/24
StaticIPAddressPools:
  - Name: Blue-A-pool
    VMSubnet: Blue-A
    IPAddressRangeStart: 10.0.0.5
    IPAddressRangeEnd: 10.0.0.99
VMs:
  - {Name: Blue1, VMSubnet: Blue-A, VMHost: host1}
  - {Name: Blue2, VMSubnet: Blue-A, VMHost: host2}
  - {Name: Red1, VMSubnet: Red-A, VMHost: host1}
  - {Name: Red2, VMSubnet: Red-A, VMHost: host2}
`
