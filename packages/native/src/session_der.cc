#include "session_der.h"

#include <openssl/err.h>

#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {

Napi::Value ResumableSessionDer(Napi::Env env, SSL* ssl) {
  SSL_SESSION* sess = SSL_get1_session(ssl);
  if (sess == nullptr) return env.Null();
  if (SSL_SESSION_is_resumable(sess) != 1) {
    SSL_SESSION_free(sess);
    return env.Null();
  }
  ClearErrorQueue();
  int len = i2d_SSL_SESSION(sess, nullptr);
  if (len <= 0) {
    SSL_SESSION_free(sess);
    ThrowOpenSSLError(env, kErrCrypto, "could not encode the session");
  }
  Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::New(env, static_cast<size_t>(len));
  unsigned char* p = out.Data();
  int written = i2d_SSL_SESSION(sess, &p);
  SSL_SESSION_free(sess);
  if (written != len) ThrowOpenSSLError(env, kErrCrypto, "could not encode the session");
  return out;
}

void OfferSessionDer(Napi::Env env, SSL* ssl, const Bytes& der, const char* name) {
  if (der.size == 0) ThrowExpected(env, name, "a session Buffer from get_session()/getSession()");
  ClearErrorQueue();
  const unsigned char* p = der.data;
  SSL_SESSION* sess = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(der.size));
  if (sess == nullptr) ThrowOpenSSLError(env, kErrInvalidArgument, "could not decode the saved session");
  int ok = SSL_set_session(ssl, sess);
  SSL_SESSION_free(sess);  // SSL_set_session took its own reference
  if (ok != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not offer the saved session");
}

}  // namespace rxtls
