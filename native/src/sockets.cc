// Raw IP sockets for protocol 47 (GRE), batched writes and close.
//
// We never set IP_HDRINCL: the kernel builds the outer IPv4/IPv6 header (protocol/next header 47,
// source from the bound address or the route, TTL/hop limit, DF per IP_MTU_DISCOVER), so what we
// send is the GRE header and the inner frame. On receive the kernel is asymmetric (raw(7), ipv6(7)):
// an AF_INET raw socket hands over the packet WITH its IPv4 header, an AF_INET6 one WITHOUT the IPv6
// header. The TypeScript underlay evens that out.
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "common.h"
#include "exports.h"

namespace hnv {

static bool ReadFamily(const Args& args, size_t i, int* family) {
  int32_t value = 0;
  if (!args.Int(i, &value)) return false;
  if (value != 4 && value != 6) return args.Fail(i, "address family 4 or 6");
  *family = value == 4 ? AF_INET : AF_INET6;
  return true;
}

socklen_t ToSockaddr(int family, const uint8_t* addr, struct sockaddr_in6* out) {
  memset(out, 0, sizeof(*out));
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<struct sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    memcpy(&sin->sin_addr, addr, 4);
    return sizeof(struct sockaddr_in);
  }
  out->sin6_family = AF_INET6;
  memcpy(&out->sin6_addr, addr, 16);
  return sizeof(struct sockaddr_in6);
}

// rawOpen(4|6) -> fd. Non-blocking and close-on-exec like the TAP. Holding this socket open is
// also what stops the kernel (which has no GRE module here) from answering arriving GRE with
// ICMP protocol-unreachable.
Napi::Value RawOpen(const Napi::CallbackInfo& info) {
  Args args(info);
  int family = 0;
  if (!ReadFamily(args, 0, &family)) return Napi::Value();
  int fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_GRE);
  if (fd < 0) return ThrowErrno(info.Env(), errno, "socket");
  return Napi::Number::New(info.Env(), fd);
}

// rawBind(fd, 4|6, address bytes): fixes the outer source address and makes the kernel deliver
// only packets addressed to it.
Napi::Value RawBind(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1;
  int family = 0;
  uint8_t* addr = nullptr;
  size_t len = 0;
  if (!args.Int(0, &fd) || !ReadFamily(args, 1, &family) || !args.Bytes(2, &addr, &len)) {
    return Napi::Value();
  }
  if (len < (family == AF_INET ? 4u : 16u)) {
    args.Fail(2, "4 (IPv4) or 16 (IPv6) address bytes");
    return Napi::Value();
  }
  struct sockaddr_in6 sa;
  socklen_t salen = ToSockaddr(family, addr, &sa);
  if (bind(fd, reinterpret_cast<struct sockaddr*>(&sa), salen) < 0) {
    return ThrowErrno(info.Env(), errno, "bind");
  }
  return info.Env().Undefined();
}

// setsockoptInt(fd, level, name, value): the int-valued options (buffer sizes, PMTU discovery,
// pktinfo, TTL). Levels and names come from `constants`.
Napi::Value SetsockoptInt(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1, level = 0, name = 0, value = 0;
  if (!args.Int(0, &fd) || !args.Int(1, &level) || !args.Int(2, &name) || !args.Int(3, &value)) {
    return Napi::Value();
  }
  if (setsockopt(fd, level, name, &value, sizeof(value)) < 0) {
    return ThrowErrno(info.Env(), errno, "setsockopt");
  }
  return info.Env().Undefined();
}

// writeBatch(fd, buffer, offsets, lengths, first, count) -> n
// One write() per frame (a TAP takes exactly one frame per write). Returns how many frames from
// `first` were accepted: fewer than `count` when the fd would block; -errno when the frame at
// `first` itself failed (the caller counts it, skips it and calls again). Same contract as sendmmsg.
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1;
  BatchArgs batch;
  if (!args.Int(0, &fd) || !batch.Read(args, 1, 4)) return Napi::Value();
  uint32_t done = 0;
  while (done < batch.count) {
    const uint32_t k = batch.first + done;
    if (write(fd, batch.base + batch.offsets[k], batch.lengths[k]) >= 0) {
      done++;
      continue;
    }
    if (errno == EINTR) continue;
    if (done == 0 && errno != EAGAIN) return Napi::Number::New(info.Env(), -errno);
    break;
  }
  return Napi::Number::New(info.Env(), done);
}

// sendBatch(fd, 4|6, buffer, offsets, lengths, destinations, first, count) -> n
// sendmmsg with one destination per packet: destinations holds 16 bytes per packet index (IPv4 in
// the first 4). Returns like writeBatch. The message vectors live on the stack, in chunks, so a
// send allocates nothing.
Napi::Value SendBatch(const Napi::CallbackInfo& info) {
  constexpr uint32_t kChunk = 64;
  Args args(info);
  int32_t fd = -1;
  int family = 0;
  BatchArgs batch;
  uint8_t* dsts = nullptr;
  size_t dstsLen = 0;
  if (!args.Int(0, &fd) || !ReadFamily(args, 1, &family) || !batch.Read(args, 2, 6) ||
      !args.Bytes(5, &dsts, &dstsLen)) {
    return Napi::Value();
  }
  if ((uint64_t{batch.first} + batch.count) * 16 > dstsLen) {
    Napi::RangeError::New(info.Env(), "sendBatch: destinations shorter than 16 bytes per packet")
        .ThrowAsJavaScriptException();
    return Napi::Value();
  }

  struct mmsghdr msgs[kChunk];
  struct iovec iovs[kChunk];
  struct sockaddr_in6 names[kChunk];
  uint32_t done = 0;
  while (done < batch.count) {
    const uint32_t n = std::min(kChunk, batch.count - done);
    for (uint32_t j = 0; j < n; j++) {
      const uint32_t k = batch.first + done + j;
      iovs[j].iov_base = batch.base + batch.offsets[k];
      iovs[j].iov_len = batch.lengths[k];
      memset(&msgs[j], 0, sizeof(msgs[j]));
      msgs[j].msg_hdr.msg_name = &names[j];
      msgs[j].msg_hdr.msg_namelen = ToSockaddr(family, dsts + size_t{k} * 16, &names[j]);
      msgs[j].msg_hdr.msg_iov = &iovs[j];
      msgs[j].msg_hdr.msg_iovlen = 1;
    }
    int sent = sendmmsg(fd, msgs, n, 0);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (done == 0 && errno != EAGAIN) return Napi::Number::New(info.Env(), -errno);
      break;
    }
    done += static_cast<uint32_t>(sent);
    if (static_cast<uint32_t>(sent) < n) break;
  }
  return Napi::Number::New(info.Env(), done);
}

// close(fd) -> 0 | -errno. Stop any reader on the fd first: libuv must not poll a closed fd.
Napi::Value Close(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1;
  if (!args.Int(0, &fd)) return Napi::Value();
  return Napi::Number::New(info.Env(), close(fd) < 0 ? -errno : 0);
}

}  // namespace hnv
