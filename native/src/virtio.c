/* virtio_net_hdr constants for the addon's `constants` export. This is C on purpose:
 * <linux/virtio_net.h> names a struct member `class` and so cannot be included from C++. */
#include <linux/virtio_net.h>

#include "virtio.h"

/* USO's GSO type, with TUN_F_USO4/6 in Linux 6.2 (include/uapi/linux/virtio_net.h). */
#ifndef VIRTIO_NET_HDR_GSO_UDP_L4
#define VIRTIO_NET_HDR_GSO_UDP_L4 5
#endif

void hnv_virtio_constants(hnv_constant_sink sink, void* ctx) {
  /* The prefix of every frame on an IFF_VNET_HDR TAP (the default TUNSETVNETHDRSZ). */
  sink(ctx, "VIRTIO_NET_HDR_LEN", (long)sizeof(struct virtio_net_hdr));
  sink(ctx, "VIRTIO_NET_HDR_F_NEEDS_CSUM", VIRTIO_NET_HDR_F_NEEDS_CSUM);
  sink(ctx, "VIRTIO_NET_HDR_F_DATA_VALID", VIRTIO_NET_HDR_F_DATA_VALID);
  sink(ctx, "VIRTIO_NET_HDR_GSO_NONE", VIRTIO_NET_HDR_GSO_NONE);
  sink(ctx, "VIRTIO_NET_HDR_GSO_TCPV4", VIRTIO_NET_HDR_GSO_TCPV4);
  sink(ctx, "VIRTIO_NET_HDR_GSO_UDP", VIRTIO_NET_HDR_GSO_UDP);
  sink(ctx, "VIRTIO_NET_HDR_GSO_TCPV6", VIRTIO_NET_HDR_GSO_TCPV6);
  sink(ctx, "VIRTIO_NET_HDR_GSO_UDP_L4", VIRTIO_NET_HDR_GSO_UDP_L4);
  sink(ctx, "VIRTIO_NET_HDR_GSO_ECN", VIRTIO_NET_HDR_GSO_ECN);
}
