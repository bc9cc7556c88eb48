// TranslationMethodNat's physical link (src/lib/engine/io/physical-link.ts): plain IP packets to and from
// the physical network for provider addresses the host's stack does not hold.
//  - ipRawOpen(4|6): an IPPROTO_RAW socket (IP_HDRINCL implied; for IPv6 IPV6_HDRINCL): we send whole IP
//    packets whose source is a NAT PA, the kernel routes them and resolves the next hop's MAC. It receives
//    nothing. Sent with sendBatch (one destination per packet).
//  - packetOpen(ifindex): an AF_PACKET SOCK_DGRAM socket of every protocol bound to the interface: the
//    network-layer payload of each frame (IPv4, IPv6, ARP), read by the batch reader in read() mode;
//    outgoing frames are ignored where the kernel can (PACKET_IGNORE_OUTGOING, Linux 4.20).
//  - packetSend(fd, ifindex, ethertype, mac, buffer, off, len) -> bytes or -errno: one frame with that
//    destination MAC (the engine's ARP replies for its NAT PAs).
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "exports.h"

#ifndef PACKET_IGNORE_OUTGOING
#define PACKET_IGNORE_OUTGOING 23
#endif

namespace hnv {

Napi::Value IpRawOpen(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t family = 0;
  if (!args.Int(0, &family)) return Napi::Value();
  if (family != 4 && family != 6) {
    args.Fail(0, "address family 4 or 6");
    return Napi::Value();
  }
  int fd = socket(family == 4 ? AF_INET : AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_RAW);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PacketOpen(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t ifindex = 0;
  if (!args.Int(0, &ifindex)) return Napi::Value();
  int fd = socket(AF_PACKET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket");
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof(sll));
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(ETH_P_ALL);
  sll.sll_ifindex = ifindex;
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sll), sizeof(sll)) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(info.Env(), err, "bind");
  }
  int one = 1;
  setsockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, &one, sizeof(one));  // best effort
  return Napi::Number::New(info.Env(), fd);
}

Napi::Value PacketSend(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1, ifindex = 0, ethertype = 0, off = 0, len = 0;
  uint8_t* mac = nullptr;
  size_t macLen = 0;
  uint8_t* buf = nullptr;
  size_t bufLen = 0;
  if (!args.Int(0, &fd) || !args.Int(1, &ifindex) || !args.Int(2, &ethertype) || !args.Bytes(3, &mac, &macLen) ||
      !args.Bytes(4, &buf, &bufLen) || !args.Int(5, &off) || !args.Int(6, &len)) {
    return Napi::Value();
  }
  if (macLen < 6) {
    args.Fail(3, "6 MAC address bytes");
    return Napi::Value();
  }
  if (off < 0 || len < 0 || static_cast<size_t>(off) + static_cast<size_t>(len) > bufLen) {
    args.Fail(5, "an offset and length inside the buffer");
    return Napi::Value();
  }
  struct sockaddr_ll sll;
  memset(&sll, 0, sizeof(sll));
  sll.sll_family = AF_PACKET;
  sll.sll_protocol = htons(static_cast<uint16_t>(ethertype));
  sll.sll_ifindex = ifindex;
  sll.sll_halen = 6;
  memcpy(sll.sll_addr, mac, 6);
  ssize_t sent;
  do {
    sent = sendto(fd, buf + off, len, MSG_DONTWAIT, reinterpret_cast<struct sockaddr*>(&sll), sizeof(sll));
  } while (sent < 0 && errno == EINTR);
  return Napi::Number::New(info.Env(), sent < 0 ? -errno : static_cast<double>(sent));
}

}  // namespace hnv
