#include "ssl_failure.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "util/errors.h"

namespace rxtls {

bool IsUnexpectedEof(unsigned long err) {
  return ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == SSL_R_UNEXPECTED_EOF_WHILE_READING;
}

bool HandshakeCompleted(const SSL* ssl) {
  // Not SSL_is_init_finished: a fatal error resets OpenSSL's state machine,
  // so after a failed record it reads "in init" even on an established
  // connection. Both Finished messages having passed is what "done" means.
  unsigned char buf[EVP_MAX_MD_SIZE];
  return SSL_get_finished(ssl, buf, sizeof buf) > 0 && SSL_get_peer_finished(ssl, buf, sizeof buf) > 0;
}

SslFailure DescribeSslFailure(Napi::Env env, SSL* ssl, const char* during, bool eof, Napi::Object extra) {
  bool in_handshake = !HandshakeCompleted(ssl);
  long verify = SSL_get_verify_result(ssl);
  if (in_handshake && verify != X509_V_OK) {
    const char* msg = X509_verify_cert_error_string(verify);
    extra.Set("verifyCode", Napi::Number::New(env, static_cast<double>(verify)));
    extra.Set("verifyMessage", Napi::String::New(env, msg));
    return {kErrCertVerify, std::string("certificate verification failed (") + msg + ")"};
  }
  if (eof) {
    if (in_handshake)
      return {kErrHandshake, std::string("TLS ") + during + " failed: the peer closed the connection during the handshake"};
    return {kErrTruncated, "connection closed without close_notify: the data may be truncated"};
  }
  return {in_handshake ? kErrHandshake : kErrProtocol, std::string("TLS ") + during + " failed"};
}

}  // namespace rxtls
