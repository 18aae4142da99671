// The 'unverified' client-certificate mode of a server context.
#pragma once

#include <napi.h>

namespace rxtls {

// setVerifyUnverified(context): the server asks every client for a
// certificate and completes the handshake whether it sends none, one that
// verifies, or one that does not; the session's verify result
// (SSL_get_verify_result) and peer certificate tell the application which.
// A later setVerify replaces the mode (and drops the callback).
Napi::Value SetVerifyUnverified(const Napi::CallbackInfo& info);

}  // namespace rxtls
