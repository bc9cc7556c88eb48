// Link configuration by ioctl (netdevice(7)): up/down, MTU, MAC. These act on the interface of
// that name in the calling process's network namespace, so configure a TAP before moving it
// elsewhere. Kept here rather than spawning `ip`: three ioctls need no child process and no
// iproute2 on the engine's host.
#include <errno.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"
#include "exports.h"

namespace hnv {

// Fills ifr_name from argument 0 and opens the datagram socket the SIOC* ioctls need.
// Returns the socket, or -1 after throwing.
static int OpenLinkSocket(const Args& args, struct ifreq* ifr) {
  std::string name;
  if (!args.String(0, &name)) return -1;
  if (name.empty() || name.size() >= IFNAMSIZ) {
    Napi::RangeError::New(args.Env(), "interface name must be 1 to 15 bytes")
        .ThrowAsJavaScriptException();
    return -1;
  }
  memset(ifr, 0, sizeof(*ifr));
  memcpy(ifr->ifr_name, name.data(), name.size());
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) ThrowErrno(args.Env(), errno, "socket");
  return sock;
}

// Runs the ioctl, closes the socket, throws on failure.
static Napi::Value LinkIoctl(Napi::Env env, int sock, unsigned long request, struct ifreq* ifr,
                             const char* syscall) {
  int rc = ioctl(sock, request, ifr);
  int err = errno;
  close(sock);
  if (rc < 0) return ThrowErrno(env, err, syscall);
  return env.Undefined();
}

// linkSetUp(name, up)
Napi::Value LinkSetUp(const Napi::CallbackInfo& info) {
  Args args(info);
  struct ifreq ifr;
  bool up = false;
  if (!args.Bool(1, &up)) return Napi::Value();
  int sock = OpenLinkSocket(args, &ifr);
  if (sock < 0) return Napi::Value();
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) {
    int err = errno;
    close(sock);
    return ThrowErrno(info.Env(), err, "SIOCGIFFLAGS");
  }
  if (up) {
    ifr.ifr_flags |= IFF_UP;
  } else {
    ifr.ifr_flags &= ~IFF_UP;
  }
  return LinkIoctl(info.Env(), sock, SIOCSIFFLAGS, &ifr, "SIOCSIFFLAGS");
}

// linkSetMtu(name, mtu)
Napi::Value LinkSetMtu(const Napi::CallbackInfo& info) {
  Args args(info);
  struct ifreq ifr;
  int32_t mtu = 0;
  if (!args.Int(1, &mtu)) return Napi::Value();
  int sock = OpenLinkSocket(args, &ifr);
  if (sock < 0) return Napi::Value();
  ifr.ifr_mtu = mtu;
  return LinkIoctl(info.Env(), sock, SIOCSIFMTU, &ifr, "SIOCSIFMTU");
}

// linkSetMac(name, 6 bytes)
Napi::Value LinkSetMac(const Napi::CallbackInfo& info) {
  Args args(info);
  struct ifreq ifr;
  uint8_t* mac = nullptr;
  size_t len = 0;
  if (!args.Bytes(1, &mac, &len)) return Napi::Value();
  if (len != 6) {
    args.Fail(1, "6 bytes of MAC address");
    return Napi::Value();
  }
  int sock = OpenLinkSocket(args, &ifr);
  if (sock < 0) return Napi::Value();
  ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
  memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
  return LinkIoctl(info.Env(), sock, SIOCSIFHWADDR, &ifr, "SIOCSIFHWADDR");
}

}  // namespace hnv
