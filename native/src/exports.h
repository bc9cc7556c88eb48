// The functions the addon exports; see src/lib/engine/io/native.ts for their typed contract.
#pragma once

#include <napi.h>

namespace hnv {

// tap.cc
Napi::Value TapOpen(const Napi::CallbackInfo& info);
Napi::Value TapSetOffload(const Napi::CallbackInfo& info);
Napi::Value TapSetVnetHdrSize(const Napi::CallbackInfo& info);
Napi::Value TapSetPersist(const Napi::CallbackInfo& info);

// link.cc
Napi::Value LinkSetUp(const Napi::CallbackInfo& info);
Napi::Value LinkSetMtu(const Napi::CallbackInfo& info);
Napi::Value LinkSetMac(const Napi::CallbackInfo& info);

// sockets.cc
Napi::Value RawOpen(const Napi::CallbackInfo& info);
Napi::Value RawBind(const Napi::CallbackInfo& info);
Napi::Value SetsockoptInt(const Napi::CallbackInfo& info);
Napi::Value WriteBatch(const Napi::CallbackInfo& info);
Napi::Value SendBatch(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);

// bpf.cc
Napi::Value BpfTcxAttach(const Napi::CallbackInfo& info);
Napi::Value BpfArrayCreate(const Napi::CallbackInfo& info);
Napi::Value BpfArrayRead(const Napi::CallbackInfo& info);

// copy.cc (raw N-API: called per segment)
napi_value Copy(napi_env env, napi_callback_info info);
napi_value Sum16(napi_env env, napi_callback_info info);
// physical.cc
Napi::Value IpRawOpen(const Napi::CallbackInfo& info);
Napi::Value PacketOpen(const Napi::CallbackInfo& info);
Napi::Value PacketSend(const Napi::CallbackInfo& info);

// reader.cc
// Installs the reader registry and adds the READER_* constants.
void InitReaders(Napi::Env env, Napi::Object constants);
Napi::Value StartReader(const Napi::CallbackInfo& info);
Napi::Value StopReader(const Napi::CallbackInfo& info);

}  // namespace hnv
