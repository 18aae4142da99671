// The one seam between an SSL and the native object that owns it (the memory
// Session, a native-transport connection TcpConn, a descriptor SSL FdSsl):
// stored in the SSL's ex_data, so the context's OpenSSL callbacks (SNI,
// keylog, tickets, new session) reach their owner without knowing which kind
// it is.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>

namespace rxtls {

struct SessionStoreState;

class SslOwner {
 public:
  virtual ~SslOwner() = default;

  // The owner of `ssl`, or nullptr if it has none (its owner let go of it).
  static SslOwner* FromSSL(const SSL* ssl);
  // SSL_CTX_sess_set_new_cb: tells the owner a new resumable session arrived.
  static int OnNewSession(SSL* ssl, SSL_SESSION* session);
  // SSL_CTX_set_info_callback on client contexts: OpenSSL skips the
  // new-session callback on a resumed TLS 1.2 handshake even when the server
  // sent a new ticket in it, so the owner notes the session it offered when
  // the handshake starts and, once it is done, treats a replaced one as new.
  static void OnInfo(const SSL* ssl, int where, int ret);
  // True for the memory Session (no RTTI in the addon: this tells the kinds apart).
  virtual bool is_memory_session() const { return false; }
  // What the owner does with it; by default it marks `new_session_`.
  virtual void NewSession(SSL* ssl, SSL_SESSION* session) { new_session_ = true; }
  // The session store's state of this owner (session_store.h), or nullptr
  // when it takes no part in a store (a client).
  virtual SessionStoreState* store_state() { return nullptr; }

  // The context the SSL was made from (OpenSSL's session context, which
  // keeps the cache and ticket keys even after SNI switched contexts).
  SSL_CTX* initial_ctx() const { return initial_ctx_; }
  // A JS callback run by OpenSSL threw: the owner's next result is this error
  // (as the cause of a handshake error) instead of OpenSSL's own.
  void RecordCallbackError(Napi::Env env, Napi::Value error, const char* what);
  bool has_callback_error() const { return !callback_error_.IsEmpty(); }
  void ClearCallbackError() { callback_error_.Reset(); }
  // Takes the recorded error as the connection's failure (a HandshakeError,
  // or a ProtocolError once `handshake_done`, with the thrown value as
  // `cause`); the slot is empty after.
  Napi::Error TakeCallbackFailure(Napi::Env env, bool handshake_done);
  // True when OpenSSL could call into JS during this SSL's handshake (an SNI
  // or keylog callback on its context or on a context SNI may switch to).
  bool HandshakeMayCallJs(const SSL* ssl) const;

 protected:
  // Links `ssl` to this owner; false when OpenSSL refuses.
  bool AttachTo(SSL* ssl);
  // Unlinks `ssl` from this owner, for an SSL that may outlive it (another
  // holder keeps a reference): its callbacks then find no owner.
  void DetachFrom(SSL* ssl);
  bool new_session_ = false;  // set by OnNewSession during a call into OpenSSL
  SSL_CTX* initial_ctx_ = nullptr;  // not owned: the SSL holds it as its session context
  // The session offered at the handshake's start, compared by address only
  // (OpenSSL allocates the renewed one while this one is still alive).
  const SSL_SESSION* offered_session_ = nullptr;

 private:
  Napi::Reference<Napi::Value> callback_error_;
  std::string callback_what_;
};

}  // namespace rxtls
