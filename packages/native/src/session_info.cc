// What a session negotiated and what it can hand out afterwards: the info
// record, the peer's certificates, exported keying material, the session to
// resume later, and the server's post-handshake certificate request. The
// queries themselves are ssl_queries.cc's, shared with the native transport.
#include <openssl/err.h>

#include <string>

#include "session.h"
#include "session_der.h"
#include "ssl_queries.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {

Napi::Value Session::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  // Busy while building results: a setter on Object.prototype runs JS.
  auto busy = Busy();
  return SslInfo(env, ssl, is_server_, handshake_done_);
}

Napi::Value Session::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  return SslPeerCertificate(env, ssl);
}

// peerCertificateChain(verified): the peer's certificates, leaf first. As
// sent (false), or as verified up to the trust anchor (true; empty when
// nothing was verified).
Napi::Value Session::PeerCertificateChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  bool verified = !IsMissing(Arg(info, 0)) && BoolArg(info, 0, "verified");
  return SslPeerCertificateChain(env, ssl, verified);
}

// exportKeyingMaterial(length, label, context?): RFC 5705 / RFC 8446 §7.5.
Napi::Value Session::ExportKeyingMaterial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  int64_t length = IntArg(info, 0, "length", 1, 1 << 16);
  std::string label = StringArg(info, 1, "label");
  Bytes context;
  bool has_context = !IsMissing(Arg(info, 2));
  if (has_context) context = BytesArg(info, 2, "context");
  if (!handshake_done_ || dead_) ThrowError(env, kErrState, "keying material exists only after a successful handshake");
  return SslExportKeyingMaterial(env, ssl, static_cast<size_t>(length), label, has_context ? &context : nullptr);
}

// getSession(): the session to resume later (DER of SSL_SESSION), or null
// while there is none that can be resumed (before the handshake; in TLS 1.3
// until the server's ticket arrived after it).
Napi::Value Session::GetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  return ResumableSessionDer(env, ssl);
}

// verifyClientPostHandshake(): a TLS 1.3 server asks the client for its
// certificate now. The request leaves in out[1]; the answer is checked as it
// arrives, and cycle() reports kFlagPeerCertificate when it is complete.
Napi::Value Session::VerifyClientPostHandshake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = GetIdle(env, "verifyClientPostHandshake");
  auto busy = Busy();
  if (!is_server_) ThrowError(env, kErrState, "only a server asks for a certificate after the handshake");
  if (!handshake_done_) ThrowError(env, kErrState, "post-handshake authentication needs a completed handshake");
  if (pha_pending_) ThrowError(env, kErrState, "a post-handshake authentication is already running");
  // The request is only sent in SSL_VERIFY_PEER mode; POST_HANDSHAKE keeps the
  // flags meaning "do not ask during the handshake" for contexts set that way.
  int mode = SSL_get_verify_mode(ssl);
  if ((mode & SSL_VERIFY_PEER) == 0) SSL_set_verify(ssl, mode | SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE, nullptr);
  ClearErrorQueue();
  if (SSL_verify_client_post_handshake(ssl) != 1)
    ThrowOpenSSLError(env, kErrState, "cannot request a client certificate (TLS 1.3 and a client that offered post-handshake auth are needed)");
  int r = SSL_do_handshake(ssl);
  if (r != 1) {
    int err = SSL_get_error(ssl, r);
    // The state machine is in an unknown state after this: the session is dead.
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) throw Napi::Error(env, FatalError(env, err, "post-handshake authentication"));
  }
  ClearErrorQueue();
  pha_pending_ = true;
  int flags = 0;
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

}  // namespace rxtls
