// Shared helpers for the hnv addon: argument checks and errno reporting.
//
// The addon is the syscall line and nothing more. Two error conventions:
//  - setup calls (open, bind, ioctl, setsockopt) throw a plain Error whose message is the errno
//    name ("EPERM"), with .code, .errno (negative, like Node's own) and .syscall set;
//  - hot-path calls (batched writes, the reader callback) return a negative errno instead, so a
//    failing packet costs no allocation.
// Bad arguments are programming errors and throw TypeError/RangeError.
#pragma once

#include <napi.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace hnv {

// Throws Error(<errno name>) with code/errno/syscall; returns undefined for `return` convenience.
Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall);

// Positional argument readers. Each returns false after throwing a TypeError, so call sites read
// `if (!args.Int(0, &fd)) return Napi::Value();`.
class Args {
 public:
  explicit Args(const Napi::CallbackInfo& info) : info_(info) {}

  bool Int(size_t i, int32_t* out) const;
  bool Uint(size_t i, uint32_t* out) const;
  bool Bool(size_t i, bool* out) const;
  bool String(size_t i, std::string* out) const;
  // Any Uint8Array (Buffer included): pointer to its first byte and its length in bytes.
  bool Bytes(size_t i, uint8_t** data, size_t* len) const;
  // A Uint32Array: pointer and element count.
  bool Words(size_t i, uint32_t** data, size_t* len) const;
  bool Function(size_t i, Napi::Function* out) const;

  Napi::Value At(size_t i) const { return info_[i]; }
  Napi::Env Env() const { return info_.Env(); }
  bool Fail(size_t i, const char* expected) const;

 private:
  const Napi::CallbackInfo& info_;
};

// A batch of packets described by JS: packet i is buffer[offsets[i], offsets[i] + lengths[i]).
// Check() verifies once per call that the typed arrays cover [first, first + count) and that every
// packet lies inside the buffer, so the syscall loops can index freely.
struct BatchArgs {
  uint8_t* base = nullptr;
  size_t size = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint32_t first = 0;
  uint32_t count = 0;

  // Reads (buffer, offsets, lengths) at argument positions i, i+1, i+2 and (first, count) at
  // positions j, j+1.
  bool Read(const Args& args, size_t i, size_t j);
};

// Builds a sockaddr_in (family AF_INET, 4 bytes at addr) or sockaddr_in6 (16 bytes) in `out`,
// which is large enough for either; returns its length. Port and scope are zero.
socklen_t ToSockaddr(int family, const uint8_t* addr, struct sockaddr_in6* out);

}  // namespace hnv
