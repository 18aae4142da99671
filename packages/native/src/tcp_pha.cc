// Post-handshake client authentication (TLS 1.3) on the native transport.
// Server: verifyClientPostHandshake() sends a CertificateRequest; the
// client's answer is read with the records that follow, and once OpenSSL
// has taken it the owner's peerCertificate callback runs. Writes and end()
// are refused meanwhile (core queues them, as TlsEngine does). A client
// answers by itself inside its reads (postHandshakeAuth offers it).
#include <openssl/err.h>

#include "tcp_connection.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

void NoRelease() {}

// SSL_set_msg_callback while a request runs: OpenSSL is back in its finished
// state as soon as the CertificateRequest is out, so the answer is told by
// the client's Finished arriving, not by SSL_is_init_finished alone.
void OnPhaMessage(int write_p, int version, int content_type, const void* buf, size_t len, SSL* ssl, void* arg) {
  if (write_p != 0 || content_type != SSL3_RT_HANDSHAKE || len < 1) return;
  if (static_cast<const unsigned char*>(buf)[0] == SSL3_MT_FINISHED) *static_cast<bool*>(arg) = true;
}

}  // namespace

bool TcpConn::PhaCheck(Napi::Env env) {
  if (!pha_answered_ || !SSL_is_init_finished(ssl_)) return true;
  pha_pending_ = false;
  pha_answered_ = false;
  SSL_set_msg_callback(ssl_, nullptr);
  SSL_set_msg_callback_arg(ssl_, nullptr);
  return Call(env, owner_.Value(), loop_->on_peer_certificate, {});
}

// verifyClientPostHandshake(): asks the client for its certificate now.
Napi::Value TcpConnection::VerifyClientPostHandshake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcpConn* c = GetOpen(env);
  if (!c->is_server_) ThrowError(env, kErrState, "only a server asks for a certificate after the handshake");
  if (!c->secure_ || c->failed_) ThrowError(env, kErrState, "post-handshake authentication needs a completed handshake");
  if (c->pha_pending_) ThrowError(env, kErrState, "a post-handshake authentication is already running");
  if (c->ended_ || c->end_pending_) ThrowError(env, kErrState, "cannot ask for a certificate after end()");
  SSL* ssl = c->ssl_;
  // The request is only sent in SSL_VERIFY_PEER mode; POST_HANDSHAKE keeps the
  // flags meaning "do not ask during the handshake" for contexts set that way.
  int mode = SSL_get_verify_mode(ssl);
  if ((mode & SSL_VERIFY_PEER) == 0) SSL_set_verify(ssl, mode | SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE, nullptr);
  bool requested = false;
  int r = 1, err = SSL_ERROR_NONE;
  c->pha_answered_ = false;
  SSL_set_msg_callback(ssl, OnPhaMessage);
  SSL_set_msg_callback_arg(ssl, &c->pha_answered_);
  {
    CallScope<void (*)()> scope(c->depth_, NoRelease);
    ClearErrorQueue();
    requested = SSL_verify_client_post_handshake(ssl) == 1;
    if (requested) {
      r = SSL_do_handshake(ssl);
      if (r != 1) err = SSL_get_error(ssl, r);
    }
  }
  if (!requested) {
    SSL_set_msg_callback(ssl, nullptr);
    SSL_set_msg_callback_arg(ssl, nullptr);
  }
  if (!requested)
    ThrowOpenSSLError(env, kErrState, "cannot request a client certificate (TLS 1.3 and a client that offered post-handshake auth are needed)");
  if (c->closing_) ThrowError(env, kErrClosed, "connection is closed");  // a keylog callback destroyed it
  if (r != 1 && err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
    // The state machine is in an unknown state after this: the connection fails.
    Napi::Error error = c->SslError(env, err, "post-handshake authentication");
    c->Flush(env);
    c->Fail(env, error);
    throw error;
  }
  ClearErrorQueue();
  c->pha_pending_ = true;
  c->last_activity_ = uv_now(c->loop_->loop());
  c->Flush(env);
  return env.Undefined();
}

}  // namespace rxtls
