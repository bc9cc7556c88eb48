// The batch reader: a uv_poll on a non-blocking fd that, per wakeup, drains up to slotCount packets
// into a buffer JS preallocated and calls JS once with the count.
//
// Slot i starts at i * slotSize; the packet lands at i * slotSize + headroom so the engine can write
// an encapsulation header in front of it in place. Per packet the reader writes offsets[i],
// lengths[i] (and, for sockets, the addresses): no allocation in C++, and JS only reads numbers.
// A length larger than slotSize - headroom means the packet was truncated to fit (read() on a TAP
// and recvmmsg with MSG_TRUNC both report the full size).
//
// The call into JS is a plain napi_call_function in a HandleScope, not MakeCallback: MakeCallback's
// bookkeeping (async context, then the nextTick and microtask queues) cost 7-10 us per wakeup on a CPU
// whose caches went cold while the engine slept (1.5 us hot), four times per ping round trip. The
// callback returns false when it did only synchronous work; anything else (undefined included) means
// it may have queued promises, nextTicks or stream writes, and the reader then runs those queues at
// once through a MakeCallback of an empty function in the reader's async context, as before.
//
// Lifetime: stopReader() stops the poll and uv_close()s it at once, releasing the callback and
// the buffers, so a process whose readers are stopped has nothing left keeping its loop alive.
// Readers still running when the environment is torn down (process exit, Worker end) are closed
// the same way by the instance-data finalizer.
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <memory>
#include <unordered_map>
#include <vector>

#include "common.h"
#include "exports.h"

namespace hnv {

namespace {

enum Mode : int32_t {
  kRead = 0,      // read() per packet: a TAP, one frame per read
  kRecvmmsg = 1,  // one recvmmsg() per wakeup: a datagram/raw socket, with addresses
};

// Per-slot address block for sockets: the source address at +0, the destination (from
// IP_PKTINFO / IPV6_PKTINFO, when the socket enabled it; else zeros) at +16. IPv4 uses 4 bytes.
constexpr size_t kAddrStride = 32;
constexpr size_t kCtrlSpace = CMSG_SPACE(sizeof(struct in6_pktinfo));  // >= in_pktinfo's

struct Reader {
  explicit Reader(Napi::Env e) : env(e) {}

  uv_poll_t poll{};
  Napi::Env env;
  uint32_t id = 0;
  int fd = -1;
  Mode mode = kRead;
  uint8_t* base = nullptr;
  uint32_t slotSize = 0;
  uint32_t slotCount = 0;
  uint32_t headroom = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  uint8_t* addrs = nullptr;

  // recvmmsg vectors, built once.
  std::vector<struct mmsghdr> msgs;
  std::vector<struct iovec> iovs;
  std::vector<struct sockaddr_in6> names;
  std::vector<uint8_t> ctrl;

  // Keep JS's arrays alive while C++ writes into them, and the callback; `settle` (an empty
  // function) with the async context runs the tick and microtask queues when the callback asks.
  Napi::ObjectReference keep[4];
  Napi::FunctionReference callback;
  Napi::FunctionReference settle;
  std::unique_ptr<Napi::AsyncContext> context;
  bool delivering = false;
  bool stopped = false;

  void Release() {
    for (auto& ref : keep) ref.Reset();
    callback.Reset();
    settle.Reset();
    context.reset();
  }
};

struct Registry {
  std::unordered_map<uint32_t, Reader*> readers;
  uint32_t nextId = 1;
  ~Registry();
};

void Stop(Registry* registry, Reader* r) {
  registry->readers.erase(r->id);
  r->stopped = true;
  uv_poll_stop(&r->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&r->poll),
           [](uv_handle_t* handle) { delete static_cast<Reader*>(handle->data); });
  // Called from inside its own callback: Deliver releases once the callback has returned.
  if (!r->delivering) r->Release();
}

Registry::~Registry() {
  while (!readers.empty()) Stop(this, readers.begin()->second);
}

// read() until EAGAIN or the slots are full. Stores a hard error in *err (-errno).
uint32_t DrainRead(Reader* r, int* err) {
  const size_t capacity = r->slotSize - r->headroom;
  uint32_t n = 0;
  while (n < r->slotCount) {
    const uint32_t off = n * r->slotSize + r->headroom;
    ssize_t got = read(r->fd, r->base + off, capacity);
    if (got >= 0) {
      r->offsets[n] = off;
      r->lengths[n] = static_cast<uint32_t>(got);
      n++;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
    break;
  }
  return n;
}

void CopyAddress(const struct sockaddr_in6* sa, uint8_t* out) {
  if (sa->sin6_family == AF_INET) {
    memcpy(out, &reinterpret_cast<const struct sockaddr_in*>(sa)->sin_addr, 4);
  } else if (sa->sin6_family == AF_INET6) {
    memcpy(out, &sa->sin6_addr, 16);
  }
}

void CopyPktinfo(struct msghdr* msg, uint8_t* out) {
  for (struct cmsghdr* c = CMSG_FIRSTHDR(msg); c != nullptr; c = CMSG_NXTHDR(msg, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      struct in_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(out, &info.ipi_addr, 4);  // the header's destination, not the route's spec_dst
    } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      struct in6_pktinfo info;
      memcpy(&info, CMSG_DATA(c), sizeof(info));
      memcpy(out, &info.ipi6_addr, 16);
    }
  }
}

// One recvmmsg for up to slotCount datagrams. MSG_TRUNC makes msg_len the datagram's real size.
uint32_t DrainRecvmmsg(Reader* r, int* err) {
  for (uint32_t i = 0; i < r->slotCount; i++) {
    struct msghdr& h = r->msgs[i].msg_hdr;
    h.msg_namelen = sizeof(struct sockaddr_in6);  // the kernel shrinks these; restore each time
    h.msg_controllen = kCtrlSpace;
    h.msg_flags = 0;
  }
  int got;
  do {
    got = recvmmsg(r->fd, r->msgs.data(), r->slotCount, MSG_DONTWAIT | MSG_TRUNC, nullptr);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK) *err = -errno;
    return 0;
  }
  for (uint32_t i = 0; i < static_cast<uint32_t>(got); i++) {
    r->offsets[i] = i * r->slotSize + r->headroom;
    r->lengths[i] = r->msgs[i].msg_len;
    uint8_t* addr = r->addrs + size_t{i} * kAddrStride;
    memset(addr, 0, kAddrStride);
    CopyAddress(&r->names[i], addr);
    CopyPktinfo(&r->msgs[i].msg_hdr, addr + 16);
  }
  return static_cast<uint32_t>(got);
}

void Deliver(Reader* r, uint32_t count, int err) {
  napi_env env = r->env;
  Napi::HandleScope scope(r->env);
  r->delivering = true;
  // Small integers: no allocation.
  napi_value argv[2];
  napi_create_uint32(env, count, &argv[0]);
  napi_create_int32(env, err, &argv[1]);
  napi_value recv;
  napi_get_undefined(env, &recv);
  napi_value result = nullptr;
  bool settled = false;
  if (napi_call_function(env, recv, r->callback.Value(), 2, argv, &result) == napi_ok) {
    napi_valuetype type = napi_undefined;
    bool value = true;
    if (napi_typeof(env, result, &type) == napi_ok && type == napi_boolean) napi_get_value_bool(env, result, &value);
    settled = type == napi_boolean && !value;
  }
  r->delivering = false;
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  // Not settled (or it threw): run the tick and microtask queues now, as an event-loop callback would.
  if (!pending && !settled) r->settle.MakeCallback(r->env.Global(), {}, *r->context);
  if (r->stopped) r->Release();
  // No JavaScript is on the stack to catch a throw from the callback: report it like any other
  // uncaught exception.
  napi_is_exception_pending(env, &pending);
  if (pending) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
}

void OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  Reader* r = static_cast<Reader*>(handle->data);
  int err = 0;
  uint32_t count = 0;
  if (status < 0) {
    err = status;  // libuv's UV_E* are -errno on Linux; e.g. UV_EBADF after POLLERR (poll stopped)
  } else if (r->mode == kRead) {
    count = DrainRead(r, &err);
  } else {
    count = DrainRecvmmsg(r, &err);
  }
  if (count == 0 && err == 0) return;  // spurious wakeup
  Deliver(r, count, err);
}

Registry* GetRegistry(Napi::Env env) { return env.GetInstanceData<Registry>(); }

}  // namespace

void InitReaders(Napi::Env env, Napi::Object constants) {
  env.SetInstanceData<Registry>(new Registry());
  constants.Set("READER_READ", static_cast<double>(kRead));
  constants.Set("READER_RECVMMSG", static_cast<double>(kRecvmmsg));
  constants.Set("READER_ADDR_STRIDE", static_cast<double>(kAddrStride));
}

// startReader(fd, mode, buffer, slotSize, slotCount, headroom, offsets, lengths, addrs|null,
//             callback(count, err) -> false | anything) -> reader id
Napi::Value StartReader(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Args args(info);
  int32_t fd = -1;
  int32_t mode = 0;
  uint8_t* base = nullptr;
  size_t size = 0;
  uint32_t slotSize = 0, slotCount = 0, headroom = 0;
  uint32_t* offsets = nullptr;
  uint32_t* lengths = nullptr;
  size_t offsetCount = 0, lengthCount = 0;
  uint8_t* addrs = nullptr;
  size_t addrsLen = 0;
  Napi::Function callback;
  if (!args.Int(0, &fd) || !args.Int(1, &mode) || !args.Bytes(2, &base, &size) ||
      !args.Uint(3, &slotSize) || !args.Uint(4, &slotCount) || !args.Uint(5, &headroom) ||
      !args.Words(6, &offsets, &offsetCount) || !args.Words(7, &lengths, &lengthCount) ||
      !args.Function(9, &callback)) {
    return Napi::Value();
  }
  if (mode != kRead && mode != kRecvmmsg) {
    args.Fail(1, "mode 0 (read) or 1 (recvmmsg)");
    return Napi::Value();
  }
  if (mode == kRecvmmsg && !args.Bytes(8, &addrs, &addrsLen)) return Napi::Value();
  const char* problem = nullptr;
  if (slotCount == 0 || slotCount > IOV_MAX) {
    problem = "slotCount must be 1..IOV_MAX (1024), recvmmsg's limit";
  } else if (headroom >= slotSize) {
    problem = "headroom must be smaller than slotSize";
  } else if (uint64_t{slotSize} * slotCount > size || uint64_t{slotSize} * slotCount > UINT32_MAX) {
    problem = "slotSize * slotCount exceeds the buffer";
  } else if (offsetCount < slotCount || lengthCount < slotCount) {
    problem = "offsets and lengths need slotCount entries";
  } else if (mode == kRecvmmsg && addrsLen < kAddrStride * slotCount) {
    problem = "addrs needs 32 bytes per slot";
  }
  if (problem != nullptr) {
    Napi::RangeError::New(env, std::string("startReader: ") + problem).ThrowAsJavaScriptException();
    return Napi::Value();
  }

  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Napi::Error::New(env, "startReader: no event loop").ThrowAsJavaScriptException();
    return Napi::Value();
  }

  auto r = std::make_unique<Reader>(env);
  r->fd = fd;
  r->mode = static_cast<Mode>(mode);
  r->base = base;
  r->slotSize = slotSize;
  r->slotCount = slotCount;
  r->headroom = headroom;
  r->offsets = offsets;
  r->lengths = lengths;
  r->addrs = addrs;
  if (mode == kRecvmmsg) {
    r->msgs.assign(slotCount, {});
    r->iovs.resize(slotCount);
    r->names.resize(slotCount);
    r->ctrl.assign(kCtrlSpace * slotCount, 0);
    for (uint32_t i = 0; i < slotCount; i++) {
      r->iovs[i].iov_base = base + size_t{i} * slotSize + headroom;
      r->iovs[i].iov_len = slotSize - headroom;
      struct msghdr& h = r->msgs[i].msg_hdr;
      h.msg_name = &r->names[i];
      h.msg_iov = &r->iovs[i];
      h.msg_iovlen = 1;
      h.msg_control = r->ctrl.data() + kCtrlSpace * i;
    }
  }

  int rc = uv_poll_init(loop, &r->poll, fd);
  if (rc < 0) return ThrowErrno(env, -rc, "uv_poll_init");
  r->poll.data = r.get();
  rc = uv_poll_start(&r->poll, UV_READABLE, OnPoll);
  if (rc < 0) {
    // An initialised handle must go through uv_close before its memory is freed.
    Reader* raw = r.release();
    uv_close(reinterpret_cast<uv_handle_t*>(&raw->poll),
             [](uv_handle_t* handle) { delete static_cast<Reader*>(handle->data); });
    return ThrowErrno(env, -rc, "uv_poll_start");
  }

  r->keep[0] = Napi::Persistent(args.At(2).As<Napi::Object>());
  r->keep[1] = Napi::Persistent(args.At(6).As<Napi::Object>());
  r->keep[2] = Napi::Persistent(args.At(7).As<Napi::Object>());
  if (mode == kRecvmmsg) r->keep[3] = Napi::Persistent(args.At(8).As<Napi::Object>());
  r->callback = Napi::Persistent(callback);
  r->settle = Napi::Persistent(Napi::Function::New(env, [](const Napi::CallbackInfo&) {}, "settle"));
  r->context = std::make_unique<Napi::AsyncContext>(env, "hnv:reader");

  Registry* registry = GetRegistry(env);
  r->id = registry->nextId++;
  registry->readers[r->id] = r.get();
  return Napi::Number::New(env, r.release()->id);
}

// stopReader(id) -> true if it was running. Safe to call from inside the reader's own callback.
Napi::Value StopReader(const Napi::CallbackInfo& info) {
  Args args(info);
  uint32_t id = 0;
  if (!args.Uint(0, &id)) return Napi::Value();
  Registry* registry = GetRegistry(info.Env());
  auto it = registry->readers.find(id);
  if (it == registry->readers.end()) return Napi::Boolean::New(info.Env(), false);
  Stop(registry, it->second);
  return Napi::Boolean::New(info.Env(), true);
}

}  // namespace hnv
