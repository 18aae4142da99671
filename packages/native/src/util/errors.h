// Errors that cross into JS: a stable `code` (the table lives in
// packages/core/src/errors.ts and must match), OpenSSL's reason, and for
// certificate failures the verify result.
#pragma once

#include <napi.h>

#include <string>

namespace rxtls {

// Stable error codes. Keep in step with ErrorCode in packages/core/src/errors.ts.
inline constexpr const char* kErrInvalidArgument = "ERR_TLS_INVALID_ARGUMENT";
inline constexpr const char* kErrClosed = "ERR_TLS_CLOSED";
inline constexpr const char* kErrState = "ERR_TLS_STATE";
inline constexpr const char* kErrConfig = "ERR_TLS_CONFIG";
inline constexpr const char* kErrHandshake = "ERR_TLS_HANDSHAKE";
inline constexpr const char* kErrCertVerify = "ERR_TLS_CERT_VERIFY";
inline constexpr const char* kErrProtocol = "ERR_TLS_PROTOCOL";
inline constexpr const char* kErrCrypto = "ERR_TLS_CRYPTO";
inline constexpr const char* kErrSocket = "ERR_TLS_SOCKET";
inline constexpr const char* kErrTruncated = "ERR_TLS_TRUNCATED";
inline constexpr const char* kErrTimeout = "ERR_TLS_TIMEOUT";

// Stores the JS factory `(code, message, props, bare) => Error` that builds
// the project's error classes; called once from JS at load. `bare`: no stack
// trace (an error made in a libuv callback has no JS frames worth keeping).
void SetErrorFactory(Napi::Env env, Napi::Function factory);

// An error with no OpenSSL cause (misuse, bad arguments, wrong state).
Napi::Error MakeError(Napi::Env env, const char* code, const std::string& message);
// Same, made in a loop callback: without a stack trace (the factory's `bare`).
Napi::Error MakeLoopError(Napi::Env env, const char* code, const std::string& message);

// An error from OpenSSL: drains the thread's error queue into `reason`,
// `library`, `opensslCode` and `opensslStack`, so the queue is empty after.
// `what` names the operation that failed ("load certificate chain").
Napi::Error MakeOpenSSLError(Napi::Env env, const char* code, const std::string& what);

// Same, with extra properties (verify result, …) merged in.
Napi::Error MakeOpenSSLError(Napi::Env env, const char* code, const std::string& what,
                             Napi::Object extra);

[[noreturn]] inline void ThrowError(Napi::Env env, const char* code, const std::string& message) {
  throw MakeError(env, code, message);
}

[[noreturn]] inline void ThrowOpenSSLError(Napi::Env env, const char* code, const std::string& what) {
  throw MakeOpenSSLError(env, code, what);
}

}  // namespace rxtls
