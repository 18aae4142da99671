// One TLS connection on a native TCP handle: an SSL over two buffer-chain
// BIOs (buffer_bio.h), fed by uv_read_start and drained by uv_try_write /
// uv_write. The handshake, alerts, tickets and close_notify run here without
// a JS call; JS is called (MakeCallback, in the connection's async context)
// when the connection is secure, once per batch of plaintext, on drain, on
// the peer's close_notify and on close.
//
// Lifetime: TcpConn (this state) is freed in the close callback of its last
// libuv handle, never while any of its code is on the stack (libuv runs close
// callbacks from the loop). The JS wrapper (TcpConnection) and the TS owner
// are held strongly while the connection is open and let go when it closes;
// a wrapper that outlives its TcpConn answers ERR_TLS_CLOSED.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>
#include <uv.h>

#include <string>
#include <vector>

#include "session_store.h"
#include "handshake_step.h"
#include "ssl_owner.h"
#include "tcp_loop.h"
#include "tcp_server.h"
#include "util/args.h"
#include "util/call_depth.h"

namespace rxtls {

class BufferChain;
class TcpConnection;
struct ClientSslOptions;

class TcpConn final : public TcpHandle, public SslOwner {
 public:
  // An accepted connection of `server` (takes a server reference).
  static void Accept(TcpServerCore* server);
  // A client: creates the SSL (throws on bad options), starts connecting.
  TcpConn(TcpLoop* loop, const ConnectionSettings& settings);
  void Teardown() override;
  const void* accepted_by() const override { return server_; }

  // JS-facing operations (TcpConnection forwards; each validates first).
  bool Write(Napi::Env env, const std::vector<Bytes>& chunks);
  void End(Napi::Env env);
  void Destroy(Napi::Env env);
  void Pause();
  void Resume();
  size_t Buffered() const;

  // --- Server fleet features (each in its own file) -------------------------
  // tcp_session_store.cc: the server's session store (session_store.h).
  SessionStoreState* store_state() override { return is_server_ ? &store_ : nullptr; }
  void NewSession(SSL* ssl, SSL_SESSION* session) override;

 private:
  // After SSL_do_handshake failed with `err`: true when the handshake waits
  // for the session store (JS was asked once; reading stops until it answers).
  bool StoreLookup(Napi::Env env, int err);
  // tcp_proxy.cc: an accepted connection of a proxyProtocol listener. False
  // when the peer is no trusted balancer (the connection was refused).
  bool ProxyAccept();
  // Takes the PROXY header off the input: true once it is read (the TLS
  // bytes follow), false while incomplete or when the connection failed.
  bool ProxyHeaderRead(Napi::Env env);
  // The handshake deadline passed: a TimeoutError for what was awaited.
  Napi::Error HandshakeTimeout(Napi::Env env) const;
  // tcp_pha.cc: after records were read during a post-handshake
  // authentication; false when the connection closed.
  bool PhaCheck(Napi::Env env);

  SessionStoreState store_;
  std::string proxy_address_;  // the client the PROXY header named
  int proxy_port_ = 0;
  int proxy_family_ = 0;  // 4 or 6; 0: no header address (the socket's peer is reported)
  size_t proxy_need_ = 0;       // input the header needs before it is parsed again
  bool proxy_pending_ = false;  // the header has not been read yet
  bool store_waiting_ = false;  // JS was asked for a session: reading waits for the answer
  bool pha_pending_ = false;    // CertificateRequest sent, the client's answer not yet in
  bool pha_answered_ = false;   // the client's Finished of that answer was read
  // --------------------------------------------------------------------------

 private:
  friend class TcpConnection;
  friend class TcpServerCore;
  ~TcpConn() override;

  bool InitHandles();
  bool InitSsl(SSL_CTX* ctx, bool server);
  // tcpConnect/tcpAdopt: a connection with its handles and SSL (a client's
  // with `client` applied), marked failed so that a close reports nothing;
  // closes it and throws when OpenSSL cannot make it.
  static TcpConn* Create(Napi::Env env, TcpLoop* loop, const ConnectionSettings& settings, SSL_CTX* ctx, bool server,
                         bool verify_explicit, const ClientSslOptions* client);
  // The JS side of a connection Create made, inside the JS call that made it
  // (so AsyncLocalStorage around it reaches every callback): no longer
  // failed, its async context, `owner`; returns the wrapper.
  Napi::Object Own(Napi::Env env, Napi::Object owner);
  // Connected or accepted: read, and (client) speak first; `defer`: the
  // first step runs from the loop (the caller is a JS call).
  void Start(bool defer = false);
  void StartReading();
  void StopReading();

  // tcp_connection_io.cc: the loop side.
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnClosed(uv_handle_t* handle);
  // Runs the SSL over what arrived and delivers the results to JS.
  void Process(Napi::Env env);
  // One handshake step; false when Process must stop: the connection failed,
  // or the step went to the thread pool (OnStepDone runs Process again).
  bool Handshake(Napi::Env env);
  // Decrypts complete records into the loop's slab as one batch; returns its
  // bytes. `more`: the slab filled up first, records are left for another batch.
  size_t Decrypt(Napi::Env env, Napi::Error* error, bool* more);
  // Calls ondata with the slab's batch, the handler's writes flushed once; false when closed.
  bool DeliverData(Napi::Env env);
  void OnSecure(Napi::Env env);
  void OnEof(Napi::Env env);
  void Flush(Napi::Env env);
  void MaybeShutdown();
  void ArmTimer();
  // A fatal failure: report it (to the connection, or to the server before the
  // handshake completed) and close.
  void Fail(Napi::Env env, Napi::Error error);
  // Fail with a libuv error: a failed handshake goes to the server at once; a
  // connection's onclose gets the parts and JS builds the error.
  void FailUv(Napi::Env env, int status, const char* what);
  // An OpenSSL failure of `during` as a JS error.
  Napi::Error SslError(Napi::Env env, int err, const char* during);
  void Close();
  void Finish();
  // Calls `fn` with `this` = owner in the connection's async context; false
  // when the connection closed during the call (the caller must stop).
  bool Call(Napi::Env env, Napi::Value recv, const Napi::FunctionReference& fn, std::initializer_list<napi_value> args,
            Napi::Value* result = nullptr);
  // The JS wrapper of this connection, made on first need and held while open.
  Napi::Object MakeWrapper(Napi::Env env);
  bool CallJsDuringHandshake() const;
  void SendEarly(Napi::Env env);
  bool SslWrite(Napi::Env env, const uint8_t* data, size_t size);

  // tcp_connection_offload.cc: handshakeOffload. While a step is in flight
  // the pool thread owns ssl_, in_ and out_: the loop thread reads no socket
  // input, sends nothing, answers no SSL query, and frees after the step.
  bool step_in_flight() const { return offload_.in_flight; }
  // Queues this step on the pool when offloading applies; true when it did.
  bool QueueStep();
  // The result of the step OnStepDone brought back (once); false when none.
  bool TakeStep(int* ret, int* err);
  // Close(): a step not started yet is dropped.
  void CancelStep();
  // A step queued while a uv_write sends from out_ writes to a BIO of its
  // own instead; its output joins out_ after the step. False: no memory.
  bool DivertOutput();
  bool RestoreOutput();
  static void OnStepWork(uv_work_t* req);
  static void OnStepDone(uv_work_t* req, int status);

  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connect_req_;
  uv_write_t write_req_;
  uv_shutdown_t shutdown_req_;
  TcpLoop* loop_;
  TcpServerCore* server_ = nullptr;  // referenced; null for a client
  ConnectionSettings settings_;
  SSL* ssl_ = nullptr;
  BufferChain* in_ = nullptr;   // ciphertext from the socket (owned by ssl_'s read BIO)
  BufferChain* out_ = nullptr;  // ciphertext for the socket (owned by ssl_'s write BIO)
  TcpConnection* wrap_ = nullptr;
  Napi::ObjectReference wrapper_;  // strong while open
  Napi::ObjectReference owner_;    // the TS connection object, strong while open
  Napi::Reference<Napi::Value> error_;  // the failure onclose reports
  // A socket failure of a connection JS holds: onclose builds its error in
  // JS from these (status 0: none), one call into JS fewer than error_.
  int uv_failure_ = 0;
  const char* uv_failure_what_ = nullptr;  // a string literal ("read", "write")
  napi_async_context async_ = nullptr;
  CallDepth depth_;  // inside OpenSSL: a JS callback of it may not re-drive the SSL
  std::vector<std::string> early_;  // client writes before the handshake completed
  uint64_t handshake_deadline_ = 0;
  uint64_t last_activity_ = 0;
  size_t writing_ = 0;  // bytes of out_ in the uv_write in flight
  int open_handles_ = 0;
  bool is_server_ = false;
  bool connecting_ = false;
  bool secure_ = false;
  bool reading_ = false;
  bool paused_ = false;       // JS paused
  bool auto_paused_ = false;  // too much unsent ciphertext: reading waits for drain
  bool need_drain_ = false;
  bool overrun_ = false;      // written to after write() said false, before the drain
  bool peer_ended_ = false;   // close_notify arrived
  bool tcp_eof_ = false;
  bool ended_ = false;        // our close_notify is queued
  bool end_pending_ = false;  // end() before the handshake completed
  bool fin_sent_ = false;
  bool want_finish_ = false;  // JS set onfinish: call it once the FIN is out
  bool shutting_ = false;     // uv_shutdown in flight
  bool closing_ = false;
  bool failed_ = false;
  bool deferred_ = false;     // resume() left input to process: the timer runs it
  bool processing_ = false;
  bool batching_ = false;     // inside ondata: writes are flushed once it returns
  bool eof_handled_ = false;
  bool end_delivered_ = false;
  struct {
    uv_work_t req;
    PoolStep step;
    bool in_flight = false;       // queued or running on the pool
    bool ready = false;           // back on the loop: Handshake takes `step`
    bool finish_pending = false;  // closed meanwhile: OnStepDone runs Finish()
    BIO* held_wbio = nullptr;     // DivertOutput: out_'s BIO, one reference
  } offload_;
};

// The JS face of a TcpConn: write, end, destroy, pause, queries.
class TcpConnection : public Napi::ObjectWrap<TcpConnection> {
 public:
  static Napi::Function Init(Napi::Env env);
  // connect(context, ip, port, options, owner): a client connection (TcpConnection).
  static Napi::Value Connect(const Napi::CallbackInfo& info);
  // adopt(context, fd, isServer, options, owner): a connection JS holds (tcp_adopt.cc).
  static Napi::Value Adopt(const Napi::CallbackInfo& info);
  explicit TcpConnection(const Napi::CallbackInfo& info);
  ~TcpConnection() override;
  void Detach() { core_ = nullptr; }

 private:
  TcpConn* Get(Napi::Env env) const;
  TcpConn* GetOpen(Napi::Env env) const;
  // Get, for a query of the SSL: refused while a handshake step has it on the pool.
  TcpConn* GetSsl(Napi::Env env) const;
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);
  Napi::Value Buffered(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificateChain(const Napi::CallbackInfo& info);
  Napi::Value AlpnProtocol(const Napi::CallbackInfo& info);
  Napi::Value IsResumed(const Napi::CallbackInfo& info);
  Napi::Value GetSession(const Napi::CallbackInfo& info);
  Napi::Value ExportKeyingMaterial(const Napi::CallbackInfo& info);
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value SetNoDelay(const Napi::CallbackInfo& info);
  Napi::Value SetKeepAlive(const Napi::CallbackInfo& info);
  Napi::Value Ref(const Napi::CallbackInfo& info);
  Napi::Value Unref(const Napi::CallbackInfo& info);
  Napi::Value IsClosed(const Napi::CallbackInfo& info);
  Napi::Value WatchFinish(const Napi::CallbackInfo& info);
  Napi::Value IsFinished(const Napi::CallbackInfo& info);
  // tcp_session_store.cc, tcp_pha.cc.
  Napi::Value SessionStoreAnswer(const Napi::CallbackInfo& info);
  Napi::Value TakeStoreSessions(const Napi::CallbackInfo& info);
  Napi::Value VerifyClientPostHandshake(const Napi::CallbackInfo& info);

  TcpConn* core_ = nullptr;
};

}  // namespace rxtls
