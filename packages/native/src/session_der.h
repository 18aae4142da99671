// A resumable session in and out of JS as DER bytes (i2d/d2i_SSL_SESSION):
// what a client keeps between connections to resume. Shared by the memory
// session (Session) and the descriptor one (FdSsl).
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include "util/args.h"

namespace rxtls {

// The session of `ssl` as DER, or null while none is resumable (before the
// handshake; in TLS 1.3 until the server's ticket arrived). Throws on an
// encoding failure.
Napi::Value ResumableSessionDer(Napi::Env env, SSL* ssl);

// Decodes `der` and offers it on `ssl` for resumption (SSL_set_session).
// Throws ERR_TLS_INVALID_ARGUMENT when it does not decode or cannot be offered.
void OfferSessionDer(Napi::Env env, SSL* ssl, const Bytes& der, const char* name);

}  // namespace rxtls
