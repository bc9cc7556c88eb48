// TAP devices through /dev/net/tun (Documentation/networking/tuntap.rst).
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"
#include "exports.h"

namespace hnv {

// tapOpen(name, vnetHdr, multiQueue) -> {fd, name}
// Creates the TAP (or, with IFF_MULTI_QUEUE, attaches one more queue to an existing one). The fd
// is non-blocking from the start (the reader drains until EAGAIN) and close-on-exec so that
// `ip` and other children never inherit it and keep the device alive. IFF_NO_PI: frames start at
// the Ethernet header (or at the virtio_net_hdr with IFF_VNET_HDR), no 4-byte packet info.
// An empty name lets the kernel pick tapN; the name it chose is returned.
Napi::Value TapOpen(const Napi::CallbackInfo& info) {
  Args args(info);
  std::string name;
  bool vnetHdr = false;
  bool multiQueue = false;
  if (!args.String(0, &name) || !args.Bool(1, &vnetHdr) || !args.Bool(2, &multiQueue)) {
    return Napi::Value();
  }
  if (name.size() >= IFNAMSIZ) {
    Napi::RangeError::New(info.Env(), "interface name longer than 15 bytes")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }

  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "open /dev/net/tun");

  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (vnetHdr) ifr.ifr_flags |= IFF_VNET_HDR;
  if (multiQueue) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    return ThrowErrno(info.Env(), err, "TUNSETIFF");
  }

  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("fd", Napi::Number::New(info.Env(), fd));
  result.Set("name", Napi::String::New(info.Env(), ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ)));
  return result;
}

// Runs one int-argument TUN ioctl, throwing on failure. TUNSETOFFLOAD takes its argument by value,
// TUNSETVNETHDRSZ by pointer; `byPointer` says which.
static Napi::Value TunIoctl(const Napi::CallbackInfo& info, unsigned long request, bool byPointer,
                            const char* syscall) {
  Args args(info);
  int32_t fd = -1;
  int32_t value = 0;
  if (!args.Int(0, &fd) || !args.Int(1, &value)) return Napi::Value();
  int rc = byPointer ? ioctl(fd, request, &value) : ioctl(fd, request, static_cast<unsigned long>(value));
  if (rc < 0) return ThrowErrno(info.Env(), errno, syscall);
  return info.Env().Undefined();
}

// tapSetOffload(fd, TUN_F_* flags): the offloads this reader can handle. Frames the kernel cannot
// hand over unsegmented/unsummed are finished by the kernel first. Needs IFF_VNET_HDR.
Napi::Value TapSetOffload(const Napi::CallbackInfo& info) {
  return TunIoctl(info, TUNSETOFFLOAD, false, "TUNSETOFFLOAD");
}

// tapSetVnetHdrSize(fd, bytes): 10 (virtio_net_hdr, the default) or 12 (virtio_net_hdr_mrg_rxbuf).
Napi::Value TapSetVnetHdrSize(const Napi::CallbackInfo& info) {
  return TunIoctl(info, TUNSETVNETHDRSZ, true, "TUNSETVNETHDRSZ");
}

// tapSetPersist(fd, 0|1): a persistent TAP outlives its fds (the VM side keeps its interface while
// the engine restarts); the default deletes the device when the last fd closes.
Napi::Value TapSetPersist(const Napi::CallbackInfo& info) {
  return TunIoctl(info, TUNSETPERSIST, false, "TUNSETPERSIST");
}

}  // namespace hnv
