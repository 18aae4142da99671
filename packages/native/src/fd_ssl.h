// FdSsl: one SSL on a socket descriptor (or, through a BIO_f_ssl, on any BIO
// chain), non-blocking. Each I/O call makes one attempt and reports done,
// or which readiness to wait for; it never blocks. `wait(events)` is the
// readiness wait on Node's loop (poll.h) for the TS side to retry after.
//
// Results of an attempt: a negative number is "retry after waiting for
// -n" (1 readable, 2 writable); anything else is the result.
//
// Re-entrancy (fd_busy.h): OpenSSL may run JS (SNI, keylog callbacks) inside
// a handshake, read or write. free() from there is deferred until that call
// returns, which then throws ERR_TLS_CLOSED; driving calls are refused.
//
// As an SslOwner (ssl_owner.h) it is what the context's callbacks reach: a
// callback that throws becomes the failure of the call that ran it (its
// error as `cause`), and the SSL refuses to go on after; tickets use the
// keys of the context it was made from, whatever SNI chose.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>

#include "poll.h"
#include "ssl_owner.h"

namespace rxtls {

class Context;

class FdSsl : public Napi::ObjectWrap<FdSsl>, public SslOwner {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit FdSsl(const Napi::CallbackInfo& info);
  ~FdSsl() override;

  // A FdSsl made by this addon's constructor, or nullptr.
  static FdSsl* FromValue(Napi::Env env, Napi::Value value);

  // The live SSL, or throws ERR_TLS_CLOSED after free() (also a deferred one).
  SSL* Get(Napi::Env env) const;
  // For a client: verification (unless the context's set_verify was called),
  // SNI and the host to verify, once, before the first handshake step.
  // `host` may be empty: then the peer's IP address is verified.
  void PrepareClient(Napi::Env env, SSL* ssl, const std::string& host);
  bool host_set() const { return !host_.empty(); }
  // 0 before set_connect_state/set_accept_state, 1 client, 2 server.
  int mode() const { return static_cast<int>(mode_); }
  bool client_ready() const { return client_ready_; }
  // A BIO that owned this SSL (BIO_CLOSE) freed it: the wrapper lets go too
  // (deferred while a call of the family runs).
  void ReleasedByBio(Napi::Env env);
  // True after free(), including one deferred until the running call returns.
  bool freed() const { return ssl_ == nullptr || free_pending_; }
  // A BIO drove this SSL: throws the error a callback threw meanwhile, if
  // one did (then the SSL refuses to go on, as after its own calls).
  void AfterBioCall(Napi::Env env);
  // Throws ERR_TLS_STATE after a callback failure ended this SSL.
  void CheckNotFailed(Napi::Env env, const char* op) const;
  bool failed() const { return failed_; }
  // getSession() reads the newest session on demand and there is no session
  // event to raise: nothing to note.
  void NewSession(SSL* ssl, SSL_SESSION* session) override {}

 private:
  Napi::Value SetConnectState(const Napi::CallbackInfo& info);
  Napi::Value SetAcceptState(const Napi::CallbackInfo& info);
  Napi::Value SetFd(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value SetHost(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Accept(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Error(const Napi::CallbackInfo& info);
  Napi::Value Wait(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);
  // Per-connection TLS features (resumption, ALPN, the peer's certificate).
  Napi::Value GetSession(const Napi::CallbackInfo& info);
  Napi::Value SetSession(const Napi::CallbackInfo& info);
  Napi::Value SessionReused(const Napi::CallbackInfo& info);
  Napi::Value SetAlpnProtocols(const Napi::CallbackInfo& info);
  Napi::Value AlpnProtocol(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info);

  enum class Mode { kUnset, kClient, kServer };
  // set_connect_state()/set_accept_state().
  Napi::Value SetRole(Napi::Env env, Mode mode, const char* op);
  // connect()/accept(): one handshake attempt in the role `wanted`.
  Napi::Value Handshake(Napi::Env env, Mode wanted, const char* op);
  // Ensures the SSL has a transport and a role before an I/O attempt.
  void Ready(Napi::Env env, Mode wanted, const char* op);
  // Throws ERR_TLS_STATE unless this SSL may still be set up as a client
  // (no server role, handshake not started).
  void CheckClientSetup(Napi::Env env, SSL* ssl, const char* op) const;
  // After an SSL_* call that may have run JS: throws the error a callback
  // threw (the SSL is failed from then on); else notes a finished handshake.
  void AfterCall(Napi::Env env);
  // Maps a failed SSL_* call: a negative wait mask for want-read/want-write,
  // 0 for a clean close; otherwise throws the error with OpenSSL's reason.
  int Fail(Napi::Env env, int ret, const char* during);
  // After an SSL_* call that may have run JS: throws ERR_TLS_CLOSED when a
  // callback freed this SSL meanwhile (the release follows on the way out).
  void CheckNotFreedDuring(Napi::Env env, const char* op) const;
  // free(): now, or when the running call of the family returns.
  void FreeOrDefer(Napi::Env env, const char* why);
  // Rejects pending waits with `why` and frees the SSL. Never throws.
  void ReleaseNow(const char* why);

  SSL* ssl_ = nullptr;
  Mode mode_ = Mode::kUnset;
  int user_fd_ = -1;          // the descriptor given to set_fd, for get_fd
  bool client_ready_ = false;  // PrepareClient ran
  bool verify_explicit_ = false;
  bool context_client_ = false;
  bool context_server_ = false;
  std::string host_;  // set_host: SNI and the name to verify
  int last_error_ = SSL_ERROR_NONE;
  bool handshake_done_ = false;  // a handshake completed with no callback failure
  bool failed_ = false;          // a callback threw: the SSL goes no further
  bool free_pending_ = false;  // free() came while a call of the family ran
  napi_env env_ = nullptr;
  FdWaiter waiter_;
};

}  // namespace rxtls
