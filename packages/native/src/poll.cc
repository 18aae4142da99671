#include "poll.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "util/counters.h"
#include "util/errors.h"

namespace rxtls {

FdWaiter::~FdWaiter() {
  // Pending deferreds are simply dropped: their promises never settle, which
  // is only possible when the owner itself is being collected.
  for (Request& r : requests_) StopTimer(r.timer);
  requests_.clear();
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

void FdWaiter::StopTimer(Timer* t) {
  if (t == nullptr) return;
  uv_timer_stop(&t->timer);
  t->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&t->timer), OnTimerClose);
}

void FdWaiter::OnTimerClose(uv_handle_t* handle) { delete reinterpret_cast<Timer*>(handle); }

void FdWaiter::Attach(Napi::Env env, int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0)
    ThrowError(env, kErrSocket, std::string("cannot wait on descriptor ") + std::to_string(fd) + ": " + strerror(errno));
  if (h_ != nullptr && st.st_dev == dev_ && st.st_ino == ino_) return;
  if (pending()) ThrowError(env, kErrState, "the descriptor changed while a wait was pending");
  Detach();
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowError(env, kErrState, "no event loop");
  int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (dup_fd < 0) ThrowError(env, kErrSocket, std::string("dup() failed: ") + strerror(errno));
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
  loop_ = loop;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
}

Napi::Promise FdWaiter::Wait(Napi::Env env, Napi::Object owner, int fd, int events, uint32_t timeout_ms) {
  if (fd < 0) ThrowError(env, kErrState, "no socket descriptor to wait on");
  if (events < 1 || events > 3) ThrowError(env, kErrInvalidArgument, "Expected \"events\" to be 1 (readable), 2 (writable) or 3");
  Attach(env, fd);
  Napi::Promise::Deferred d = Napi::Promise::Deferred::New(env);
  Napi::Promise p = d.Promise();
  Timer* timer = nullptr;
  uint64_t id = next_id_++;
  if (timeout_ms > 0) {
    timer = new Timer();
    timer->owner = this;
    timer->id = id;
    int r = uv_timer_init(loop_, &timer->timer);
    if (r != 0) {
      delete timer;
      ThrowError(env, kErrState, std::string("cannot make the wait's timer: ") + uv_strerror(r));
    }
    r = uv_timer_start(&timer->timer, OnTimer, timeout_ms, 0);
    if (r != 0) {
      StopTimer(timer);  // an initialised handle is closed, never deleted
      ThrowError(env, kErrState, std::string("cannot start the wait's timer: ") + uv_strerror(r));
    }
  }
  requests_.push_back(Request{id, events, timeout_ms, d, timer});
  if (keep_.IsEmpty()) keep_ = Napi::Persistent(owner);
  int r = Restart();
  if (r != 0) Close(env, kErrSocket, std::string("cannot poll descriptor: ") + uv_strerror(r));
  return p;
}

int FdWaiter::Restart() {
  int want = 0;
  for (const Request& r : requests_) want |= r.events;  // kWait* bits are UV_READABLE/UV_WRITABLE
  if (want == 0) {
    // A stopped handle is inactive: it does not keep the process alive.
    uv_poll_stop(&h_->poll);
    if (!keep_.IsEmpty()) keep_.Reset();
    return 0;
  }
  return uv_poll_start(&h_->poll, want, OnPoll);
}

template <typename Pick>
std::vector<FdWaiter::Request> FdWaiter::Take(Pick pick) {
  std::vector<Request> taken, kept;
  for (Request& r : requests_) {
    if (pick(r)) {
      StopTimer(r.timer);
      r.timer = nullptr;
      taken.push_back(std::move(r));
    } else {
      kept.push_back(std::move(r));
    }
  }
  requests_.swap(kept);
  return taken;
}

void FdWaiter::Settle(Napi::Env env, std::vector<Request>& taken, const Outcome& how) {
  if (taken.empty()) return;
  if (how.code == nullptr) {
    for (Request& r : taken) r.deferred.Resolve(Napi::Number::New(env, how.events));
    return;
  }
  // Building the error may run JS (the error factory): the requests are out
  // of the list already, so nothing that runs can settle them again.
  Napi::Error err = MakeError(env, how.code, how.message);
  if (how.syscall != nullptr) err.Value().Set("syscallCode", Napi::String::New(env, how.syscall));
  for (Request& r : taken) r.deferred.Reject(err.Value());
}

void FdWaiter::Deliver(std::vector<Request> taken, const Outcome& how) {
  Napi::Env env(env_);
  Napi::HandleScope scope(env);
  // The owner stays alive until its promises are settled, even when the
  // last request leaving lets go of keep_.
  Napi::Value owner = keep_.IsEmpty() ? env.Undefined() : Napi::Value(keep_.Value());
  if (h_ != nullptr) {
    int r = Restart();
    if (r != 0) {
      // The handle cannot poll: every wait ends now, and its retry (a
      // resolved wait means "try again") meets the real state.
      std::vector<Request> rest = Take([](const Request&) { return true; });
      for (Request& x : rest) taken.push_back(std::move(x));
      Detach();
      if (!keep_.IsEmpty()) keep_.Reset();
    }
  }
  if (taken.empty()) return;
  napi_async_context ctx = nullptr;
  Napi::Object resource = Napi::Object::New(env);
  napi_async_init(env, resource, Napi::String::New(env, "rxtls.FdWait"), &ctx);
  {
    Napi::CallbackScope cb(env, ctx);
    Settle(env, taken, how);
  }
  napi_async_destroy(env, ctx);
  (void)owner;
}

void FdWaiter::OnPoll(uv_poll_t* poll, int status, int events) {
  Handle* h = reinterpret_cast<Handle*>(poll);
  if (h->owner == nullptr) return;
  // Nothing may unwind into libuv: an error here can only be a failure to
  // build a JS value, and the process should not die of it.
  try {
    h->owner->OnEvents(status, events);
  } catch (const Napi::Error&) {
  }
}

void FdWaiter::OnTimer(uv_timer_t* timer) {
  Timer* t = reinterpret_cast<Timer*>(timer);
  if (t->owner == nullptr) return;
  try {
    t->owner->OnDeadline(t->id);
  } catch (const Napi::Error&) {
  }
}

void FdWaiter::OnEvents(int status, int events) {
  // libuv reports POLLERR on a poll handle as UV_EBADF (and stops the
  // handle). Our dup cannot have been closed under us, so it is an error
  // condition on the socket (a refused connect, a reset): the retried call
  // reads the real error (SO_ERROR) and reports it with its reason.
  if (status == UV_EBADF) {
    status = 0;
    events = UV_READABLE | UV_WRITABLE;
  }
  Outcome how;
  std::vector<Request> taken;
  if (status < 0) {
    taken = Take([](const Request&) { return true; });
    how.code = kErrSocket;
    how.message = std::string("waiting on the socket failed: ") + uv_strerror(status);
    how.syscall = uv_err_name(status);
  } else {
    // Error and hang-up conditions are reported as readable/writable by
    // libuv: the retried operation then learns the real outcome.
    how.events = events & (UV_READABLE | UV_WRITABLE);
    taken = Take([&how](const Request& r) { return (r.events & how.events) != 0; });
  }
  Deliver(std::move(taken), how);
}

void FdWaiter::OnDeadline(uint64_t id) {
  uint32_t ms = 0;
  std::vector<Request> taken = Take([id, &ms](const Request& r) {
    if (r.id != id) return false;
    ms = r.timeout_ms;
    return true;
  });
  Outcome how;
  how.code = kErrTimeout;
  how.message = "the socket was not ready within " + std::to_string(ms) + " ms";
  Deliver(std::move(taken), how);
}

void FdWaiter::Close(Napi::Env env, const char* code, const std::string& message) {
  std::vector<Request> taken = Take([](const Request&) { return true; });
  Detach();
  if (!keep_.IsEmpty()) keep_.Reset();
  Outcome how;
  how.code = code;
  how.message = message;
  Settle(env, taken, how);
}

}  // namespace rxtls
