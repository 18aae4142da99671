// TcpServer: a listening uv_tcp_t on Node's loop that accepts connections
// and runs a TLS server on each (tcp_connection.h) without calling JS until
// a handshake completes (or fails: serverError). JS holds the thin wrapper;
// the libuv state lives in TcpServerCore, freed once its handle is closed and
// its last connection is gone, whatever happened to the wrapper.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "tcp_loop.h"
#include "tcp_proxy_header.h"

namespace rxtls {

class TcpServer;

// What every connection of a server (or a client) is configured with.
struct ConnectionSettings {
  uint64_t handshake_timeout_ms = 10000;  // 0: none
  uint64_t idle_timeout_ms = 0;           // 0: none
  bool allow_half_open = false;
  bool no_delay = true;
  bool keep_alive = false;
  unsigned int keep_alive_delay_s = 60;
  size_t high_water = 64 * 1024;  // write() returns false at this much unsent ciphertext
  // Handshake steps on libuv's thread pool (tcp_connection_offload.cc).
  bool handshake_offload = false;
};

// Reads { handshakeTimeout, idleTimeout, allowHalfOpen, noDelay, keepAlive,
// keepAliveDelay (ms), highWaterMark, handshakeOffload } (each optional). listen() also reads
// reusePort (SO_REUSEPORT) from the same object.
ConnectionSettings ReadConnectionSettings(Napi::Env env, Napi::Value options);

class TcpServerCore final : public TcpHandle {
 public:
  TcpServerCore(TcpLoop* loop, SSL_CTX* ctx, const ConnectionSettings& settings);
  void Teardown() override;

  // Each live connection holds one reference; the handle holds one until closed.
  void Ref() { ++refs_; }
  void Unref();
  void Close();
  // Reports a connection's handshake failure to the server's owner.
  void ReportError(Napi::Env env, Napi::Value error);

  TcpLoop* loop() const { return loop_; }
  SSL_CTX* ctx() const { return ctx_; }
  const ConnectionSettings& settings() const { return settings_; }
  napi_async_context async_context() const { return async_; }
  Napi::Object owner() const { return owner_.Value(); }
  bool closing() const { return closing_; }
  uv_tcp_t* handle() { return &tcp_; }
  // proxyProtocol: the PROXY header every accepted connection must start with.
  const ProxySettings& proxy() const { return proxy_; }

 private:
  friend class TcpServer;
  ~TcpServerCore() override;
  static void OnConnection(uv_stream_t* server, int status);
  static void OnClosed(uv_handle_t* handle);

  uv_tcp_t tcp_;
  TcpLoop* loop_;
  SSL_CTX* ctx_;  // one reference, released with the core
  ConnectionSettings settings_;
  ProxySettings proxy_;
  Napi::ObjectReference owner_;    // the core's TS server object, strong until the core is gone
  Napi::ObjectReference wrapper_;  // the TcpServer, likewise
  TcpServer* wrap_ = nullptr;
  napi_async_context async_ = nullptr;
  int refs_ = 1;
  bool closing_ = false;
  bool initialised_ = false;
};

class TcpServer : public Napi::ObjectWrap<TcpServer> {
 public:
  static Napi::Function Init(Napi::Env env);
  // listen(context, host, port, backlog, ipv6Only, options, owner): binds and
  // listens at once (throws SocketError EADDRINUSE, …); returns the TcpServer.
  static Napi::Value Listen(const Napi::CallbackInfo& info);
  explicit TcpServer(const Napi::CallbackInfo& info);
  ~TcpServer() override;

  void Detach() { core_ = nullptr; }

 private:
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value Connections(const Napi::CallbackInfo& info);
  Napi::Value DestroyConnections(const Napi::CallbackInfo& info);
  TcpServerCore* Get(Napi::Env env) const;

  TcpServerCore* core_ = nullptr;
};

}  // namespace rxtls
