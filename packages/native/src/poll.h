// FdWaiter: a readiness wait on a socket descriptor with libuv's uv_poll_t on
// Node's own loop. Wait() returns a Promise that resolves with the events that
// fired (1 readable, 2 writable) or rejects on a poll error or when the owner
// closes the waiter. No thread waits; an idle waiter keeps nothing alive.
//
// It polls its own dup() of the descriptor, never the original: Node's own
// net.Socket may hold a libuv handle on that fd number, and libuv keeps one
// watcher per fd number (a second uv_poll_t on it would trip libuv's
// assertions or steal the other handle's events).
#pragma once

#include <napi.h>
#include <uv.h>

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
  // Stops polling and lets libuv free the handle; pending promises are dropped.
  ~FdWaiter();

  // A promise for `events` (kWaitReadable | kWaitWritable) on `fd`. `owner`
  // is held strongly while any wait is pending so it cannot be collected
  // under a running poll. Throws ERR_TLS_SOCKET when the fd cannot be polled.
  Napi::Promise Wait(Napi::Env env, Napi::Object owner, int fd, int events);

  // Rejects every pending wait with (code, message) and closes the handle.
  void Close(Napi::Env env, const char* code, const std::string& message);

  bool pending() const { return !readers_.empty() || !writers_.empty(); }

 private:
  struct Handle {
    uv_poll_t poll;
    FdWaiter* owner;  // null once the waiter let go of the handle
    int dup_fd;
  };
  static void OnPoll(uv_poll_t* poll, int status, int events);
  static void OnClose(uv_handle_t* handle);

  // Ensures h_ polls a dup of `fd` (the same socket as before, or a new one).
  void Attach(Napi::Env env, int fd);
  void Detach();
  int Restart();  // 0 or a libuv error
  void Settle(int status, int events);

  napi_env env_ = nullptr;
  Handle* h_ = nullptr;
  dev_t dev_ = 0;  // identity of the socket the dup refers to: a reused fd
  ino_t ino_ = 0;  // number may name another socket later
  std::vector<Napi::Promise::Deferred> readers_;
  std::vector<Napi::Promise::Deferred> writers_;
  Napi::ObjectReference keep_;
};

}  // namespace rxtls
