#include "ssl_owner.h"

#include "context_data.h"
#include "util/errors.h"

namespace rxtls {
namespace {

int OwnerIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace

SslOwner* SslOwner::FromSSL(const SSL* ssl) { return static_cast<SslOwner*>(SSL_get_ex_data(ssl, OwnerIndex())); }

bool SslOwner::AttachTo(SSL* ssl) {
  initial_ctx_ = SSL_get_SSL_CTX(ssl);
  return OwnerIndex() >= 0 && SSL_set_ex_data(ssl, OwnerIndex(), this) == 1;
}

void SslOwner::DetachFrom(SSL* ssl) {
  if (ssl != nullptr && FromSSL(ssl) == this) SSL_set_ex_data(ssl, OwnerIndex(), nullptr);
}

int SslOwner::OnNewSession(SSL* ssl, SSL_SESSION* session) {
  if (SslOwner* owner = FromSSL(ssl)) owner->NewSession(ssl, session);
  return 0;  // OpenSSL keeps its reference; getSession() serialises on demand
}

void SslOwner::OnInfo(const SSL* ssl, int where, int /*ret*/) {
  if ((where & (SSL_CB_HANDSHAKE_START | SSL_CB_HANDSHAKE_DONE)) == 0 || SSL_is_server(ssl)) return;
  SslOwner* owner = FromSSL(ssl);
  if (owner == nullptr) return;
  SSL_SESSION* now = SSL_get0_session(ssl);
  if ((where & SSL_CB_HANDSHAKE_START) != 0) {
    owner->offered_session_ = now;
    return;
  }
  bool renewed = now != nullptr && now != owner->offered_session_ && SSL_session_reused(ssl) == 1 &&
                 SSL_version(ssl) < TLS1_3_VERSION && SSL_SESSION_is_resumable(now) == 1;
  owner->offered_session_ = nullptr;
  // OnInfo receives a const SSL; NewSession only reads it (KeepForStore is server-side).
  if (renewed) owner->NewSession(const_cast<SSL*>(ssl), now);
}

void SslOwner::RecordCallbackError(Napi::Env env, Napi::Value error, const char* what) {
  // The first failure is the cause; later ones are consequences of it.
  if (!callback_error_.IsEmpty()) return;
  callback_error_ = Napi::Reference<Napi::Value>::New(error.IsEmpty() ? env.Undefined() : error, 1);
  callback_what_ = what;
}

Napi::Error SslOwner::TakeCallbackFailure(Napi::Env env, bool handshake_done) {
  Napi::Value cause = callback_error_.IsEmpty() ? env.Undefined() : callback_error_.Value();
  callback_error_.Reset();
  Napi::Object extra = Napi::Object::New(env);
  if (!cause.IsUndefined()) extra.Set("cause", cause);
  return MakeOpenSSLError(env, handshake_done ? kErrProtocol : kErrHandshake,
                          "TLS handshake aborted: the " + callback_what_ + " threw", extra);
}

bool SslOwner::HandshakeMayCallJs(const SSL* ssl) const {
  auto has = [](SSL_CTX* ctx) {
    ContextData* d = ctx != nullptr ? GetContextData(ctx) : nullptr;
    return d != nullptr && (!d->sni_callback.IsEmpty() || !d->keylog_callback.IsEmpty());
  };
  if (has(initial_ctx_) || has(SSL_get_SSL_CTX(ssl))) return true;
  // SNI may switch to a context whose keylog callback then runs.
  if (ContextData* d = GetContextData(initial_ctx_))
    for (const auto& entry : d->sni)
      if (has(entry.second)) return true;
  return false;
}

}  // namespace rxtls
