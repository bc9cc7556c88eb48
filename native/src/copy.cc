// copy(src, from, to, dst, at): memcpy of src[from, to) to dst at `at`, for the offload path
// (offload.ts's Memcpy hook). sum16(buf, from, to): the RFC 1071 sum of buf[from, to) (offload.ts's
// Checksum hook), 8 bytes per step. JS has no allocation-free memcpy between two Uint8Arrays in Node 20:
// TypedArray.prototype.set needs a subarray (a new object) and Buffer.prototype.copy makes one inside;
// a DataView loop moves (and sums) 4 bytes per step. These two are the addon's only non-syscalls (DESIGN:
// "syscalls only"; measured worth it: BENCHMARKS.md), kept to raw N-API (no wrapper objects) because they
// run per segment. Bounds are checked here; bad arguments throw.
#include <string.h>

#include "common.h"
#include "exports.h"

namespace hnv {

static bool Span(napi_env env, napi_value value, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  size_t length = 0;
  void* base = nullptr;
  napi_value buffer;
  size_t offset = 0;
  if (napi_get_typedarray_info(env, value, &type, &length, &base, &buffer, &offset) != napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  *data = static_cast<uint8_t*>(base);
  *len = length;
  return true;
}

napi_value Copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint8_t* src = nullptr;
  uint8_t* dst = nullptr;
  size_t srcLen = 0, dstLen = 0;
  uint32_t from = 0, to = 0, at = 0;
  if (argc < 5 || !Span(env, argv[0], &src, &srcLen) || !Span(env, argv[3], &dst, &dstLen) ||
      napi_get_value_uint32(env, argv[1], &from) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &to) != napi_ok ||
      napi_get_value_uint32(env, argv[4], &at) != napi_ok) {
    napi_throw_type_error(env, nullptr, "copy(src: Uint8Array, from, to, dst: Uint8Array, at)");
    return nullptr;
  }
  if (from > to || to > srcLen || uint64_t{at} + (to - from) > dstLen) {
    napi_throw_range_error(env, nullptr, "copy: range outside the source or destination");
    return nullptr;
  }
  memmove(dst + at, src + from, to - from);
  return nullptr;
}

// sum16(buf, from, to) -> the one's-complement sum of the big-endian 16-bit words of buf[from, to)
// (an odd last byte padded with zero), folded to 16 bits, not complemented. Summed in host order and
// swapped at the end (RFC 1071 §2(B): the sum is byte-order independent up to that swap).
napi_value Sum16(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint8_t* buf = nullptr;
  size_t len = 0;
  uint32_t from = 0, to = 0;
  if (argc < 3 || !Span(env, argv[0], &buf, &len) ||
      napi_get_value_uint32(env, argv[1], &from) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &to) != napi_ok) {
    napi_throw_type_error(env, nullptr, "sum16(buf: Uint8Array, from, to)");
    return nullptr;
  }
  if (from > to || to > len) {
    napi_throw_range_error(env, nullptr, "sum16: range outside the array");
    return nullptr;
  }
  const uint8_t* p = buf + from;
  size_t n = to - from;
  uint64_t sum = 0;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    sum += (w & 0xffffffffu) + (w >> 32);
    p += 8;
    n -= 8;
  }
  while (n >= 2) {
    uint16_t w;
    memcpy(&w, p, 2);
    sum += w;
    p += 2;
    n -= 2;
  }
  if (n == 1) {
    // The byte at the lower address, padded with zero, as a host-order word.
    uint8_t bytes[2] = {p[0], 0};
    uint16_t host;
    memcpy(&host, bytes, 2);
    sum += host;
  }
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  uint16_t folded = static_cast<uint16_t>(sum);
  uint8_t out[2];
  memcpy(out, &folded, 2);
  // out[0] is the byte that sat at even addresses: the high byte of a big-endian word.
  const uint32_t be = (uint32_t{out[0]} << 8) | out[1];
  napi_value result;
  napi_create_uint32(env, be, &result);
  return result;
}

}  // namespace hnv
