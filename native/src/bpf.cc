// eBPF through the bpf() syscall (no libbpf, no compiler): load a program the engine assembled
// (src/lib/engine/kernel-gso.ts) and attach it to an interface's tcx ingress hook (Linux >= 6.6); an
// array map for the counters it keeps.
// The link lives as long as its fd: closing it (or the process exiting) detaches the program.
#include <errno.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <string>

#include "common.h"
#include "exports.h"

namespace hnv {

// Not in older uapi headers (enum bpf_attach_type, Linux 6.6).
static const uint32_t kTcxIngress = 46;

static long Bpf(int cmd, union bpf_attr* attr) {
  return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

// bpfTcxAttach(insns: Uint8Array, ifname: string) -> {progFd, linkFd}
// insns: struct bpf_insn[] (8 bytes each, little-endian); the program type is SCHED_CLS. A refused
// program throws an Error whose message carries the verifier's log (last 2000 bytes).
Napi::Value BpfTcxAttach(const Napi::CallbackInfo& info) {
  Args args(info);
  uint8_t* insns = nullptr;
  size_t len = 0;
  std::string name;
  if (!args.Bytes(0, &insns, &len) || !args.String(1, &name)) return Napi::Value();
  if (len == 0 || len % sizeof(struct bpf_insn) != 0) {
    Napi::RangeError::New(info.Env(), "instructions must be a non-empty multiple of 8 bytes").ThrowAsJavaScriptException();
    return Napi::Value();
  }
  unsigned ifindex = if_nametoindex(name.c_str());
  if (ifindex == 0) return ThrowErrno(info.Env(), errno, "if_nametoindex");

  static char log[16384];
  log[0] = 0;
  static const char license[] = "GPL";
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.prog_type = BPF_PROG_TYPE_SCHED_CLS;
  attr.insns = reinterpret_cast<uint64_t>(insns);
  attr.insn_cnt = static_cast<uint32_t>(len / sizeof(struct bpf_insn));
  attr.license = reinterpret_cast<uint64_t>(license);
  attr.log_buf = reinterpret_cast<uint64_t>(log);
  attr.log_size = sizeof(log);
  attr.log_level = 1;
  attr.expected_attach_type = kTcxIngress;
  int prog = static_cast<int>(Bpf(BPF_PROG_LOAD, &attr));
  if (prog < 0) {
    int err = errno;
    std::string text(log);
    if (text.size() > 2000) text = text.substr(text.size() - 2000);
    std::string message = std::string("BPF_PROG_LOAD: ") + strerror(err) + (text.empty() ? "" : ": " + text);
    Napi::Error error = Napi::Error::New(info.Env(), message);
    error.Set("errno", Napi::Number::New(info.Env(), -err));
    error.Set("syscall", Napi::String::New(info.Env(), "bpf"));
    error.ThrowAsJavaScriptException();
    return Napi::Value();
  }
  memset(&attr, 0, sizeof(attr));
  attr.link_create.prog_fd = static_cast<uint32_t>(prog);
  attr.link_create.target_ifindex = ifindex;
  attr.link_create.attach_type = kTcxIngress;
  int link = static_cast<int>(Bpf(BPF_LINK_CREATE, &attr));
  if (link < 0) {
    int err = errno;
    close(prog);
    return ThrowErrno(info.Env(), err, "bpf(BPF_LINK_CREATE tcx ingress)");
  }
  Napi::Object result = Napi::Object::New(info.Env());
  result.Set("progFd", Napi::Number::New(info.Env(), prog));
  result.Set("linkFd", Napi::Number::New(info.Env(), link));
  result.Set("ifindex", Napi::Number::New(info.Env(), ifindex));
  return result;
}

// bpfArrayCreate(valueSize, entries) -> fd: a BPF_MAP_TYPE_ARRAY (u32 keys), zero-filled, for counters
// a program increments and the engine reads.
Napi::Value BpfArrayCreate(const Napi::CallbackInfo& info) {
  Args args(info);
  uint32_t valueSize = 0;
  uint32_t entries = 0;
  if (!args.Uint(0, &valueSize) || !args.Uint(1, &entries)) return Napi::Value();
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = valueSize;
  attr.max_entries = entries;
  int fd = static_cast<int>(Bpf(BPF_MAP_CREATE, &attr));
  if (fd < 0) return ThrowErrno(info.Env(), errno, "bpf(BPF_MAP_CREATE)");
  return Napi::Number::New(info.Env(), fd);
}

// bpfArrayRead(fd, index, out) -> 0 | -errno: the value at `index` into `out` (value-size bytes).
Napi::Value BpfArrayRead(const Napi::CallbackInfo& info) {
  Args args(info);
  int32_t fd = -1;
  uint32_t index = 0;
  uint8_t* out = nullptr;
  size_t len = 0;
  if (!args.Int(0, &fd) || !args.Uint(1, &index) || !args.Bytes(2, &out, &len)) return Napi::Value();
  union bpf_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.map_fd = static_cast<uint32_t>(fd);
  attr.key = reinterpret_cast<uint64_t>(&index);
  attr.value = reinterpret_cast<uint64_t>(out);
  int rc = static_cast<int>(Bpf(BPF_MAP_LOOKUP_ELEM, &attr));
  return Napi::Number::New(info.Env(), rc < 0 ? -errno : 0);
}

}  // namespace hnv
