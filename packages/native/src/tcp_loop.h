// Per-environment state of the native transport: Node's libuv loop, the JS
// functions connections and servers report to, the plaintext slab (one per
// loop, not per connection: plaintext_slab.h), and the list of live handles that the
// environment's cleanup hook closes at process or worker exit.
#pragma once

#include <napi.h>
#include <uv.h>

#include <string>
#include <vector>

#include "plaintext_slab.h"

namespace rxtls {

class Context;

// A server or connection with libuv handles, tracked so teardown can close it.
class TcpHandle {
 public:
  virtual ~TcpHandle() = default;
  // The environment is going away: close every libuv handle, call no JS.
  virtual void Teardown() = 0;
  // The server that accepted this handle (a connection), else null.
  virtual const void* accepted_by() const { return nullptr; }

 private:
  friend class TcpLoop;
  TcpHandle* prev_ = nullptr;
  TcpHandle* next_ = nullptr;
};

class TcpLoop {
 public:
  // The loop of `env`, made on first use. Throws ERR_TLS_STATE when core has
  // not installed the callbacks (setTransportCallbacks) yet.
  static TcpLoop* Get(Napi::Env env);
  // setTransportCallbacks({ secure, data, drain, end, close, session, finish, serverError, serverClose,
  // sessionLookup, peerCertificate }).
  static Napi::Value SetCallbacks(const Napi::CallbackInfo& info);

  napi_env env() const { return env_; }
  uv_loop_t* loop() const { return loop_; }
  // Teardown started: no JS may be called any more.
  bool tearing_down() const { return tearing_down_; }
  PlaintextSlab& slab() { return slab_; }

  void Track(TcpHandle* h);
  // The live handles, copied (the caller may close any of them while walking).
  std::vector<TcpHandle*> Handles() const;
  // Called when a handle's memory is about to be freed (its close callbacks ran).
  void Untrack(TcpHandle* h);

  // The JS side: each is called with `this` = the owner object (see native-transport.ts).
  Napi::FunctionReference on_secure, on_data, on_drain, on_end, on_close, on_session, on_finish, on_server_error,
      on_server_close;
  // Server owner: (connection, id) a handshake waits for the session store; connection owner: a PHA answer came.
  Napi::FunctionReference on_session_lookup, on_peer_certificate;
  Napi::FunctionReference connection_ctor;  // TcpConnection, to wrap accepted connections
  Napi::FunctionReference server_ctor;      // TcpServer

 private:
  TcpLoop(napi_env env, uv_loop_t* loop);
  static void OnCleanup(napi_async_cleanup_hook_handle handle, void* arg);
  void FinishTeardown();

  napi_env env_;
  uv_loop_t* loop_;
  napi_async_cleanup_hook_handle hook_ = nullptr;
  bool tearing_down_ = false;
  bool callbacks_set_ = false;
  TcpHandle* head_ = nullptr;
  PlaintextSlab slab_;
};

// Runs the body of a libuv callback: nothing may unwind into libuv. A
// Napi::Error here means JS cannot run any more (a worker being terminated)
// or a value could not be made; the connection's own teardown follows.
// Returns false when the body threw.
template <typename F>
bool FromLoop(F&& body) noexcept {
  try {
    body();
    return true;
  } catch (...) {
    return false;
  }
}

// A JS callback threw inside a libuv callback: it becomes the process's
// uncaught exception, as a throwing 'data' listener of a net.Socket does.
void ReportUncaught(Napi::Env env, const Napi::Error& e);

// Fills `address`/`port`/`family` from a sockaddr; false when it is neither IPv4 nor IPv6.
bool SockaddrToJs(const sockaddr_storage& ss, std::string* address, int* port, int* family);
// Parses an IP literal and port; false when `ip` is not an IP address.
bool ParseSockaddr(const std::string& ip, int port, sockaddr_storage* out);
// The message of a libuv failure of `what` ("connect", "read"): "read ECONNRESET: …".
std::string UvMessage(int status, const std::string& what);
// A SocketError for a libuv failure of `what` ("connect", "read"), with `syscallCode` set.
Napi::Error UvError(Napi::Env env, int status, const std::string& what, bool in_loop_callback = false);
// Throws ERR_TLS_STATE unless `context` may serve the role (a server, or a client).
void CheckTransportRole(Napi::Env env, const Context& context, bool server);

}  // namespace rxtls
