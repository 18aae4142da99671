// FdWaiter: a readiness wait on a socket descriptor with libuv's uv_poll_t on
// Node's own loop. Wait() returns a Promise that resolves with the events that
// fired (1 readable, 2 writable), or rejects on a poll error, when its
// deadline passes (ERR_TLS_TIMEOUT), or when the owner closes the waiter. No
// thread waits; an idle waiter keeps nothing alive.
//
// Each wait is one request in one list, settled exactly once: it leaves the
// list before its promise is settled, whichever of poll event, deadline or
// Close() comes first (a wait for both events resolves on the first).
//
// It polls its own dup() of the descriptor, never the original: Node's own
// net.Socket may hold a libuv handle on that fd number, and libuv keeps one
// watcher per fd number (a second uv_poll_t on it would trip libuv's
// assertions or steal the other handle's events).
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstdint>
#include <string>
#include <vector>

namespace rxtls {

// What Wait() accepts and resolves with. Mirrored in lib/native.ts (WaitFor).
enum WaitEvents : int {
  kWaitReadable = 1,
  kWaitWritable = 2,
};

class FdWaiter {
 public:
  FdWaiter() = default;
  FdWaiter(const FdWaiter&) = delete;
  FdWaiter& operator=(const FdWaiter&) = delete;
  // Stops polling and lets libuv free the handles; pending promises are dropped.
  ~FdWaiter();

  // A promise for `events` (kWaitReadable | kWaitWritable) on `fd`, rejected
  // with ERR_TLS_TIMEOUT after `timeout_ms` (0: no deadline). `owner` is held
  // strongly while any wait is pending so it cannot be collected under a
  // running poll. Throws ERR_TLS_SOCKET when the fd cannot be polled.
  Napi::Promise Wait(Napi::Env env, Napi::Object owner, int fd, int events, uint32_t timeout_ms);

  // Rejects every pending wait with (code, message) and closes the handle.
  void Close(Napi::Env env, const char* code, const std::string& message);

  bool pending() const { return !requests_.empty(); }

 private:
  struct Handle {
    uv_poll_t poll;
    FdWaiter* owner;  // null once the waiter let go of the handle
    int dup_fd;
  };
  struct Timer {
    uv_timer_t timer;
    FdWaiter* owner;  // null once its request is settled
    uint64_t id;
  };
  struct Request {
    uint64_t id;
    int events;
    uint32_t timeout_ms;
    Napi::Promise::Deferred deferred;
    Timer* timer;  // null without a deadline
  };
  // How a batch of requests ends.
  struct Outcome {
    int events = 0;            // resolve with these, unless code is set
    const char* code = nullptr;
    std::string message;
    const char* syscall = nullptr;  // libuv's error name, if any
  };

  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnTimer(uv_timer_t* timer);
  static void OnClose(uv_handle_t* handle);
  static void OnTimerClose(uv_handle_t* handle);

  // Ensures h_ polls a dup of `fd` (the same socket as before, or a new one).
  void Attach(Napi::Env env, int fd);
  void Detach();
  int Restart();  // 0 or a libuv error
  // Takes the requests `pick` selects out of the list (their timers stopped).
  template <typename Pick>
  std::vector<Request> Take(Pick pick);
  // Settles `taken` (already out of the list) with `how`.
  static void Settle(Napi::Env env, std::vector<Request>& taken, const Outcome& how);
  // From libuv: settles inside a callback scope, so awaiting code resumes at once.
  void Deliver(std::vector<Request> taken, const Outcome& how);
  void OnEvents(int status, int events);
  void OnDeadline(uint64_t id);
  static void StopTimer(Timer* t);

  napi_env env_ = nullptr;
  uv_loop_t* loop_ = nullptr;
  Handle* h_ = nullptr;
  dev_t dev_ = 0;  // identity of the socket the dup refers to: a reused fd
  ino_t ino_ = 0;  // number may name another socket later
  std::vector<Request> requests_;
  uint64_t next_id_ = 1;
  Napi::ObjectReference keep_;
};

}  // namespace rxtls
