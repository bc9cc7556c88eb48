// Module entry: the argument/errno helpers and the export table.
#include <errno.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include <string>

#include "common.h"
#include "exports.h"
#include "virtio.h"

// UDP segmentation offload arrived in Linux 6.2 (include/uapi/linux/if_tun.h); older userspace
// headers, such as Debian 12's 6.1, lack the names the running kernel understands.
#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20
#define TUN_F_USO6 0x40
#endif

namespace hnv {

Napi::Value ThrowErrno(Napi::Env env, int err, const char* syscall) {
  const char* name = strerrorname_np(err);  // glibc >= 2.32: "EPERM", not the localized text
  Napi::Error error = Napi::Error::New(env, name != nullptr ? name : "EUNKNOWN");
  error.Set("code", Napi::String::New(env, name != nullptr ? name : "EUNKNOWN"));
  error.Set("errno", Napi::Number::New(env, -err));
  error.Set("syscall", Napi::String::New(env, syscall));
  error.ThrowAsJavaScriptException();
  return env.Undefined();
}

bool Args::Fail(size_t i, const char* expected) const {
  std::string message = "argument " + std::to_string(i) + ": expected " + expected;
  Napi::TypeError::New(info_.Env(), message).ThrowAsJavaScriptException();
  return false;
}

bool Args::Int(size_t i, int32_t* out) const {
  if (!info_[i].IsNumber()) return Fail(i, "a number");
  *out = info_[i].As<Napi::Number>().Int32Value();
  return true;
}

bool Args::Uint(size_t i, uint32_t* out) const {
  if (!info_[i].IsNumber()) return Fail(i, "a number");
  double value = info_[i].As<Napi::Number>().DoubleValue();
  if (!(value >= 0 && value <= 4294967295.0)) return Fail(i, "an unsigned 32-bit integer");
  *out = static_cast<uint32_t>(value);
  return true;
}

bool Args::Bool(size_t i, bool* out) const {
  if (!info_[i].IsBoolean()) return Fail(i, "a boolean");
  *out = info_[i].As<Napi::Boolean>().Value();
  return true;
}

bool Args::String(size_t i, std::string* out) const {
  if (!info_[i].IsString()) return Fail(i, "a string");
  *out = info_[i].As<Napi::String>().Utf8Value();
  return true;
}

bool Args::Bytes(size_t i, uint8_t** data, size_t* len) const {
  if (!info_[i].IsTypedArray() ||
      info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    return Fail(i, "a Uint8Array or Buffer");
  }
  Napi::Uint8Array array = info_[i].As<Napi::Uint8Array>();
  *data = array.Data();
  *len = array.ByteLength();
  return true;
}

bool Args::Words(size_t i, uint32_t** data, size_t* len) const {
  if (!info_[i].IsTypedArray() ||
      info_[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array) {
    return Fail(i, "a Uint32Array");
  }
  Napi::Uint32Array array = info_[i].As<Napi::Uint32Array>();
  *data = array.Data();
  *len = array.ElementLength();
  return true;
}

bool Args::Function(size_t i, Napi::Function* out) const {
  if (!info_[i].IsFunction()) return Fail(i, "a function");
  *out = info_[i].As<Napi::Function>();
  return true;
}

bool BatchArgs::Read(const Args& args, size_t i, size_t j) {
  size_t offsetCount = 0;
  size_t lengthCount = 0;
  if (!args.Bytes(i, &base, &size) || !args.Words(i + 1, &offsets, &offsetCount) ||
      !args.Words(i + 2, &lengths, &lengthCount) || !args.Uint(j, &first) ||
      !args.Uint(j + 1, &count)) {
    return false;
  }
  const uint64_t end = uint64_t{first} + count;
  if (end > offsetCount || end > lengthCount) {
    Napi::RangeError::New(args.Env(), "batch: first + count exceeds the offsets/lengths arrays")
        .ThrowAsJavaScriptException();
    return false;
  }
  for (uint64_t k = first; k < end; k++) {
    if (uint64_t{offsets[k]} + lengths[k] > size) {
      Napi::RangeError::New(args.Env(), "batch: packet " + std::to_string(k) +
                                            " lies outside the buffer")
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  return true;
}

// Kernel ABI numbers the TypeScript side needs, taken from the headers this addon is built
// against rather than retyped by hand.
static Napi::Object Constants(Napi::Env env) {
  Napi::Object c = Napi::Object::New(env);
  auto set = [&](const char* name, int64_t value) {
    c.Set(name, Napi::Number::New(env, static_cast<double>(value)));
  };
  // TUNSETOFFLOAD flags: what the kernel may hand us / accept from us unsegmented or unsummed.
  set("TUN_F_CSUM", TUN_F_CSUM);
  set("TUN_F_TSO4", TUN_F_TSO4);
  set("TUN_F_TSO6", TUN_F_TSO6);
  set("TUN_F_TSO_ECN", TUN_F_TSO_ECN);
  set("TUN_F_UFO", TUN_F_UFO);
  set("TUN_F_USO4", TUN_F_USO4);
  set("TUN_F_USO6", TUN_F_USO6);
  hnv_virtio_constants(
      [](void* ctx, const char* name, long value) {
        static_cast<Napi::Object*>(ctx)->Set(name, static_cast<double>(value));
      },
      &c);
  // setsockopt levels and names used by the GRE underlay.
  set("SOL_SOCKET", SOL_SOCKET);
  set("SO_RCVBUF", SO_RCVBUF);
  set("SO_SNDBUF", SO_SNDBUF);
  set("SO_RCVBUFFORCE", SO_RCVBUFFORCE);
  set("SO_SNDBUFFORCE", SO_SNDBUFFORCE);
  set("IPPROTO_IP", IPPROTO_IP);
  set("IPPROTO_IPV6", IPPROTO_IPV6);
  set("IPPROTO_GRE", IPPROTO_GRE);
  set("IP_PKTINFO", IP_PKTINFO);
  set("IP_TTL", IP_TTL);
  set("IP_TOS", IP_TOS);
  set("IP_MTU_DISCOVER", IP_MTU_DISCOVER);
  set("IP_PMTUDISC_DONT", IP_PMTUDISC_DONT);
  set("IP_PMTUDISC_WANT", IP_PMTUDISC_WANT);
  set("IP_PMTUDISC_DO", IP_PMTUDISC_DO);
  set("IPV6_RECVPKTINFO", IPV6_RECVPKTINFO);
  set("IPV6_UNICAST_HOPS", IPV6_UNICAST_HOPS);
  set("IPV6_TCLASS", IPV6_TCLASS);
  set("IPV6_MTU_DISCOVER", IPV6_MTU_DISCOVER);
  set("IPV6_PMTUDISC_DONT", IPV6_PMTUDISC_DONT);
  set("IPV6_PMTUDISC_WANT", IPV6_PMTUDISC_WANT);
  set("IPV6_PMTUDISC_DO", IPV6_PMTUDISC_DO);
  return c;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto fn = [&](const char* name, Napi::Function::Callback callback) {
    exports.Set(name, Napi::Function::New(env, callback, name));
  };
  fn("tapOpen", TapOpen);
  fn("tapSetOffload", TapSetOffload);
  fn("tapSetVnetHdrSize", TapSetVnetHdrSize);
  fn("tapSetPersist", TapSetPersist);
  fn("linkSetUp", LinkSetUp);
  fn("linkSetMtu", LinkSetMtu);
  fn("linkSetMac", LinkSetMac);
  fn("rawOpen", RawOpen);
  fn("rawBind", RawBind);
  fn("setsockoptInt", SetsockoptInt);
  fn("writeBatch", WriteBatch);
  fn("sendBatch", SendBatch);
  fn("close", Close);
  fn("startReader", StartReader);
  fn("stopReader", StopReader);
  {
    napi_value copy;
    napi_create_function(env, "copy", NAPI_AUTO_LENGTH, Copy, nullptr, &copy);
    exports.Set("copy", Napi::Value(env, copy));
    napi_value sum16;
    napi_create_function(env, "sum16", NAPI_AUTO_LENGTH, Sum16, nullptr, &sum16);
    exports.Set("sum16", Napi::Value(env, sum16));
  }
  fn("ipRawOpen", IpRawOpen);
  fn("packetOpen", PacketOpen);
  fn("packetSend", PacketSend);
  fn("bpfTcxAttach", BpfTcxAttach);
  fn("bpfArrayCreate", BpfArrayCreate);
  fn("bpfArrayRead", BpfArrayRead);
  Napi::Object constants = Constants(env);
  InitReaders(env, constants);
  exports.Set("constants", constants);
  return exports;
}

}  // namespace hnv

// NODE_API_MODULE pastes the name into an identifier, so it needs an unqualified one.
static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return hnv::Init(env, exports); }
NODE_API_MODULE(hnv_native, InitModule)
