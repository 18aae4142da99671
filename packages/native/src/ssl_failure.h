// One reading of a failed SSL operation for every kind of SSL object (memory
// session, descriptor SSL, SSL BIO): which stable code it is and what to say.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>

namespace rxtls {

struct SslFailure {
  const char* code;  // kErrCertVerify, kErrHandshake, kErrProtocol or kErrTruncated
  std::string what;  // the message before OpenSSL's reason is appended
};

// True once both Finished messages have passed, also after a later fatal error.
bool HandshakeCompleted(const SSL* ssl);

// True when OpenSSL's packed error says the transport ended mid-record.
bool IsUnexpectedEof(unsigned long err);

// Classifies a failure of `during` ("handshake", "read", …) on `ssl`. `eof`
// says the transport ended without close_notify (the caller knows how its
// transport reports that). A failed certificate check sets verifyCode and
// verifyMessage on `extra`.
SslFailure DescribeSslFailure(Napi::Env env, SSL* ssl, const char* during, bool eof, Napi::Object extra);

}  // namespace rxtls
