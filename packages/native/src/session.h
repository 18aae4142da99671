// Session: one SSL over a pair of memory BIOs. The event loop feeds it the
// ciphertext that arrived (EncIn) and takes back ciphertext to send (EncOut);
// plaintext leaves through ClearOut and enters through write(). Nothing here
// touches a socket or waits.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "session_store.h"
#include "ssl_owner.h"
#include "util/call_depth.h"

namespace rxtls {

class HandshakeWorker;

// Bits of the number cycle()/write()/shutdown() return. Mirrored in
// packages/native/lib/native.ts (CycleFlag).
enum CycleFlag : int {
  kFlagSecure = 1,      // the handshake completed during this call
  kFlagClearOut = 2,    // out[0] holds decrypted plaintext
  kFlagEncOut = 4,      // out[1] holds ciphertext to send
  kFlagPeerClosed = 8,  // the peer's close_notify arrived
  kFlagError = 16,      // out[2] holds the fatal error; the session is dead
  kFlagSession = 32,    // a new resumable session (ticket) arrived: getSession() has it
  kFlagPeerCertificate = 64,  // a post-handshake authentication completed
  // Server: the handshake is paused at the ClientHello for a session store
  // lookup (sessionStoreRequest() has the ID; sessionStoreAnswer(), then cycle()).
  kFlagSessionLookup = 128,
};

class Session : public Napi::ObjectWrap<Session>, public SslOwner {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Session(const Napi::CallbackInfo& info);
  ~Session() override;

  // OpenSSL callbacks reach the session through SslOwner (ssl_owner.h):
  // initial_ctx(), RecordCallbackError(), OnNewSession (kFlagSession).
  // The Session that owns `ssl` (the session store's callbacks); nullptr for
  // any other owner (a native-transport connection) or none.
  static Session* FromSSL(const SSL* ssl) {
    SslOwner* owner = SslOwner::FromSSL(ssl);
    return owner != nullptr && owner->is_memory_session() ? static_cast<Session*>(owner) : nullptr;
  }
  bool is_memory_session() const override { return true; }
  // The session store's state of this session (session_store.cc).
  SessionStoreState& store() { return store_; }
  SessionStoreState* store_state() override { return &store_; }
  // A new session (ticket) arrived: kFlagSession, and a server keeps it for its store.
  void NewSession(SSL* ssl, SSL_SESSION* session) override;

 private:
  friend class HandshakeWorker;  // session_async.cc: runs handshake steps on the thread pool
  Napi::Value Cycle(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Shutdown(const Napi::CallbackInfo& info);
  Napi::Value Info(const Napi::CallbackInfo& info);
  Napi::Value PeerCertificate(const Napi::CallbackInfo& info);
  // session_info.cc: what the connection negotiated.
  Napi::Value PeerCertificateChain(const Napi::CallbackInfo& info);
  Napi::Value ExportKeyingMaterial(const Napi::CallbackInfo& info);
  Napi::Value GetSession(const Napi::CallbackInfo& info);
  Napi::Value VerifyClientPostHandshake(const Napi::CallbackInfo& info);
  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);
  // session_store.cc: the paused lookup and the new sessions to store.
  Napi::Value SessionStoreRequest(const Napi::CallbackInfo& info);
  Napi::Value SessionStoreAnswer(const Napi::CallbackInfo& info);
  Napi::Value TakeStoreSessions(const Napi::CallbackInfo& info);
  // session_async.cc: cycleAsync(chunk, length, callback).
  Napi::Value CycleAsync(const Napi::CallbackInfo& info);

  // The SSL, or throws: ERR_TLS_CLOSED once freed (also a free() deferred
  // while busy), ERR_TLS_STATE while a handshake step is on the thread pool.
  SSL* Get(Napi::Env env) const;
  // Get(), and refuses (ERR_TLS_STATE) a call that would re-drive OpenSSL
  // while this session is already inside one of its calls, or after it failed.
  SSL* GetIdle(Napi::Env env, const char* what) const;
  // Marks the session busy for one entry point (util/call_depth.h): a free()
  // meanwhile is deferred to the end of the outermost call.
  auto Busy() {
    return CallScope(depth_, [this] { Release(); });
  }
  // After work that may have run JS (callbacks, getters, the error factory):
  // ERR_TLS_CLOSED when the session was freed meanwhile; its results are void.
  void ThrowIfFreedDuring(Napi::Env env) const;
  // Frees the SSL (and both BIOs) and drops the out array.
  void Release();
  // Handles a failed SSL_do_handshake/SSL_read: false for want-read/write,
  // true after recording a fatal error in out[2].
  bool Fail(Napi::Env env, int ret, int* flags, const char* during);
  // Same, for an SSL_get_error result computed earlier (on a worker thread).
  bool FailWith(Napi::Env env, int err, int* flags, const char* during);
  // BIO_writes cycle's (chunk[, length]) arguments at `index` into EncIn.
  void FeedArgs(const Napi::CallbackInfo& info, size_t index);
  // Acts on one SSL_do_handshake result (`err` is SSL_get_error's answer
  // when r != 1). False when the step failed: the flags are final then.
  bool AfterHandshakeStep(Napi::Env env, int r, int err, int* flags);
  // The rest of a cycle once the handshake step is done: decrypt records,
  // report rare events, move ciphertext to out[1].
  void FinishCycle(Napi::Env env, int* flags);
  // One synchronous cycle over what EncIn holds; returns the flags.
  int Step(Napi::Env env);
  // True when OpenSSL could call into JS during this session's handshake
  // (SNI or keylog callback): such steps must stay on the loop thread.
  bool HasJsCallbacks() const;
  // The recorded callback error as the session's fatal error (marks it dead).
  Napi::Value CallbackError(Napi::Env env);
  // The fatal error of a failed SSL operation (`err` from SSL_get_error);
  // marks the session dead. The recorded callback error wins, if any.
  Napi::Value FatalError(Napi::Env env, int err, const char* during);
  // Moves pending ciphertext into out[1].
  void DrainEncOut(Napi::Env env, int* flags);

  SSL* ssl_ = nullptr;
  BIO* enc_in_ = nullptr;   // owned by ssl_
  BIO* enc_out_ = nullptr;  // owned by ssl_
  Napi::Reference<Napi::Array> out_;
  bool is_server_ = false;
  bool dead_ = false;  // a fatal error happened: only free() and info() remain
  // The first handshake completed. Stays true during a post-handshake
  // authentication, when SSL_is_init_finished is false again.
  bool handshake_done_ = false;
  bool pha_pending_ = false;  // server: CertificateRequest sent, answer not yet in
  // A handshake step runs on the thread pool: nothing but the worker may touch
  // ssl_ (Get() refuses), and free() is deferred to the worker's completion.
  bool in_flight_ = false;
  bool free_pending_ = false;
  // Inside one of this session's calls (OpenSSL, or reading JS values).
  CallDepth depth_;
  SessionStoreState store_;
};

}  // namespace rxtls
