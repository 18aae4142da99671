// Re-entrancy: every native object that calls into OpenSSL (which may call
// JS back: SNI, keylog, verify, session callbacks) or reads JS values (a
// getter may run anything) marks itself busy for the duration of that call.
// A free() that arrives while busy is deferred: the outermost call releases
// the object on its way out. A call that would re-drive the object while it
// is busy (cycle, write, handshake) is refused with ERR_TLS_STATE.
//
//   CallDepth depth_;                              // a member of the object
//   CallScope scope(depth_, [this] { Release(); });  // in each entry point
//   if (depth_.inside()) { depth_.DeferFree(); return; }  // in free()
#pragma once

#include <utility>

namespace rxtls {

class CallDepth {
 public:
  bool inside() const { return depth_ > 0; }
  // free() came while inside a call: the outermost CallScope releases.
  void DeferFree() { free_deferred_ = true; }
  bool free_deferred() const { return free_deferred_; }

 private:
  template <typename Release>
  friend class CallScope;
  int depth_ = 0;
  bool free_deferred_ = false;
};

// Marks `depth` busy for one call. On the outermost exit (normal return or a
// thrown Napi::Error alike), runs `release` once if a free() was deferred.
// `release` must not throw.
template <typename Release>
class CallScope {
 public:
  CallScope(CallDepth& depth, Release release) : depth_(depth), release_(std::move(release)) { ++depth_.depth_; }
  ~CallScope() {
    if (--depth_.depth_ == 0 && depth_.free_deferred_) {
      depth_.free_deferred_ = false;
      release_();
    }
  }
  CallScope(const CallScope&) = delete;
  CallScope& operator=(const CallScope&) = delete;

 private:
  CallDepth& depth_;
  Release release_;
};

}  // namespace rxtls
