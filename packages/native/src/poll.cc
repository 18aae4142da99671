#include "poll.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/counters.h"
#include "util/errors.h"

namespace rxtls {

FdWaiter::~FdWaiter() {
  // Pending deferreds are simply dropped: their promises never settle, which
  // is only possible when the owner itself is being collected.
  readers_.clear();
  writers_.clear();
  Detach();
}

void FdWaiter::Detach() {
  if (h_ == nullptr) return;
  uv_poll_stop(&h_->poll);
  h_->owner = nullptr;
  // The dup is closed in OnClose, after libuv has removed its watcher:
  // closing a descriptor under an active watcher is undefined in libuv.
  uv_close(reinterpret_cast<uv_handle_t*>(&h_->poll), OnClose);
  h_ = nullptr;
}

void FdWaiter::OnClose(uv_handle_t* handle) {
  Handle* h = reinterpret_cast<Handle*>(handle);
  if (h->dup_fd >= 0) close(h->dup_fd);
  CounterAdd("PollHandle", -1);
  delete h;
}

void FdWaiter::Attach(Napi::Env env, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    ThrowError(env, kErrSocket, std::string("cannot wait on descriptor ") + std::to_string(fd) + ": " + strerror(errno));
  if (h_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_) return;
  if (pending()) ThrowError(env, kErrState, "the descriptor changed while a wait was pending");
  Detach();
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) ThrowError(env, kErrSocket, std::string("dup() failed: ") + strerror(errno));
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    close(dup_fd);
    ThrowError(env, kErrState, "no event loop");
  }
  Handle* h = new Handle();
  h->owner = this;
  h->dup_fd = dup_fd;
  int r = uv_poll_init_socket(loop, &h->poll, dup_fd);
  if (r != 0) {
    close(dup_fd);
    delete h;
    ThrowError(env, kErrSocket, std::string("cannot poll descriptor: ") + uv_strerror(r));
  }
  h_ = h;
  CounterAdd("PollHandle", 1);  // a live uv_poll_t (and its dup'd descriptor) until OnClose
  env_ = env;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
}

Napi::Promise FdWaiter::Wait(Napi::Env env, Napi::Object owner, int fd, int events) {
  if (fd < 0) ThrowError(env, kErrState, "no socket descriptor to wait on");
  if (events < 1 || events > 3) ThrowError(env, kErrInvalidArgument, "Expected \"events\" to be 1 (readable), 2 (writable) or 3");
  Attach(env, fd);
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  Napi::Promise p = d.Promise();
  // A wait for both is resolved once, by whichever fires first.
  if (events & kWaitReadable) readers_.push_back(d);
  else writers_.push_back(d);
  if (events == (kWaitReadable | kWaitWritable)) writers_.push_back(d);
  if (keep_.IsEmpty()) keep_ = Napi::Persistent(owner);
  int r = Restart();
  if (r != 0) Close(env, kErrSocket, std::string("cannot poll descriptor: ") + uv_strerror(r));
  return p;
}

int FdWaiter::Restart() {
  int want = (readers_.empty() ? 0 : UV_READABLE) | (writers_.empty() ? 0 : UV_WRITABLE);
  if (want == 0) {
    // A stopped handle is inactive: it does not keep the process alive.
    uv_poll_stop(&h_->poll);
    if (!keep_.IsEmpty()) keep_.Reset();
    return 0;
  }
  return uv_poll_start(&h_->poll, want, OnPoll);
}

void FdWaiter::OnPoll(uv_poll_t* poll, int status, int events) {
  Handle* h = reinterpret_cast<Handle*>(poll);
  if (h->owner == nullptr) return;
  // Nothing may unwind into libuv: an error here can only be a failure to
  // build a JS value, and the process should not die of it.
  try {
    h->owner->Settle(status, events);
  } catch (const Napi::Error&) {
  }
}

// Runs from libuv, outside any JS frame: a callback scope makes Node drain
// the microtask queue afterwards, so awaiting code resumes at once.
void FdWaiter::Settle(int status, int events) {
  // libuv reports POLLERR on a poll handle as UV_EBADF (and stops the
  // handle). Our dup cannot have been closed under us, so it is an error
  // condition on the socket (a refused connect, a reset): the retried call
  // reads the real error (SO_ERROR) and reports it with its reason.
  if (status == UV_EBADF) {
    status = 0;
    events = UV_READABLE | UV_WRITABLE;
  }
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  napi_async_context ctx = nullptr;
  Napi::Object resource = Napi::Object::New(env);
  napi_async_init(env, resource, Napi::String::New(env, "rxtls.FdWait"), &ctx);
  {
    Napi::CallbackScope cb(env, ctx);
    std::vector<Napi::Promise::Deferred> fire_r, fire_w;
    if (status < 0) {
      fire_r.swap(readers_);
      fire_w.swap(writers_);
      Napi::Error err = MakeError(env, kErrSocket, std::string("waiting on the socket failed: ") + uv_strerror(status));
      err.Value().Set("syscallCode", Napi::String::New(env, uv_err_name(status)));
      // A wait for both events sits in both lists; rejecting twice is harmless.
      for (auto& d : fire_r) d.Reject(err.Value());
      for (auto& d : fire_w) d.Reject(err.Value());
    } else {
      // Error and hang-up conditions are reported as readable/writable by
      // libuv: the retried operation then learns the real outcome.
      if (events & UV_READABLE) fire_r.swap(readers_);
      if (events & UV_WRITABLE) fire_w.swap(writers_);
      for (auto& d : fire_r) d.Resolve(Napi::Number::New(env, events & (UV_READABLE | UV_WRITABLE)));
      for (auto& d : fire_w) d.Resolve(Napi::Number::New(env, events & (UV_READABLE | UV_WRITABLE)));
    }
    if (h_ != nullptr) {
      int r = Restart();
      if (r != 0) Close(env, kErrSocket, std::string("cannot poll descriptor: ") + uv_strerror(r));
    }
  }
  napi_async_destroy(env, ctx);
}

void FdWaiter::Close(Napi::Env env, const char* code, const std::string& message) {
  std::vector<Napi::Promise::Deferred> r, w;
  r.swap(readers_);
  w.swap(writers_);
  Detach();
  if (!keep_.IsEmpty()) keep_.Reset();
  if (r.empty() && w.empty()) return;
  Napi::Error err = MakeError(env, code, message);
  for (auto& d : r) d.Reject(err.Value());
  for (auto& d : w) d.Reject(err.Value());
}

}  // namespace rxtls
