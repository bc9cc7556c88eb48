// copy(src, from, to, dst, at): memcpy of src[from, to) to dst at `at`, for the offload path
// (offload.ts's Memcpy hook). JS has no allocation-free memcpy between two Uint8Arrays in Node 20:
// TypedArray.prototype.set needs a subarray (a new object) and Buffer.prototype.copy makes one inside;
// a DataView loop moves 4 bytes per step. This is the one non-syscall in the addon, kept to raw N-API
// (no wrapper objects) because it runs per segment. Bounds are checked here; bad arguments throw.
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

}  // namespace hnv
