// The re-entrancy marker of the descriptor family (FdSsl, Bio), one per
// thread, built on util/call_depth.h.
//
// Why one for the family, not one per object: an SSL, the SSL BIO holding it
// and the BIOs chained under it share the state OpenSSL is inside of while it
// runs a JS callback (SNI, keylog). A callback freeing any of them (SSL_free,
// BIO_pop -> SSL_set_bio, BIO_free -> SSL_shutdown), or driving any of them,
// would pull that state from under the running call. So while any FdSsl or
// Bio is inside OpenSSL (or reads JS arguments that may run getters):
// - free()/freeAll() of any of them is deferred: the object reads as freed at
//   once, and is released when the outermost call returns (that call then
//   throws ERR_TLS_CLOSED if its own object was freed);
// - calls that would drive or reshape one (handshake, read, write, shutdown,
//   set_fd, set_ssl, push, pop, setters) are refused with ERR_TLS_STATE.
// Read-only calls (info, getters, wait) stay allowed.
#pragma once

#include <napi.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "util/call_depth.h"
#include "util/errors.h"

namespace rxtls {

namespace fd_busy_detail {

struct Deferred {
  Napi::ObjectReference keep;
  std::function<void()> release;
};

struct Family {
  CallDepth depth;
  std::vector<Deferred> deferred;
};

inline Family& TheFamily() {
  thread_local Family family;
  return family;
}

// What the outermost exit runs: the releases deferred meanwhile.
inline void ReleaseDeferred() {
  std::vector<Deferred> todo;
  todo.swap(TheFamily().deferred);
  for (Deferred& d : todo) {
    try {
      d.release();
    } catch (...) {
      // A release rejects pending waits (JS may throw there); nothing may
      // escape: this runs from a destructor, possibly while unwinding.
    }
  }
}

}  // namespace fd_busy_detail

// True while a call of the family is running.
inline bool FdBusy() { return fd_busy_detail::TheFamily().depth.inside(); }

// Throws ERR_TLS_STATE while a call of the family is running: `op` would re-drive it.
inline void FdRefuseWhileBusy(Napi::Env env, const char* op) {
  if (FdBusy())
    ThrowError(env, kErrState, std::string(op) + "() while an SSL or BIO call is running (from inside a callback OpenSSL made)");
}

// Runs `release` (which must not throw) when the outermost call returns;
// `keep` (the object's JS wrapper) is held alive until then.
inline void FdDeferRelease(Napi::Object keep, std::function<void()> release) {
  fd_busy_detail::Family& f = fd_busy_detail::TheFamily();
  f.deferred.push_back(fd_busy_detail::Deferred{Napi::Persistent(keep), std::move(release)});
  f.depth.DeferFree();
}

// Marks the family busy for one call (RAII; nests). On the outermost exit,
// normal or by a thrown error, the deferred releases run.
class FdCall {
 public:
  FdCall() : scope_(fd_busy_detail::TheFamily().depth, &fd_busy_detail::ReleaseDeferred) {}

 private:
  CallScope<void (*)()> scope_;
};

}  // namespace rxtls
