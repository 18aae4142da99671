// Context: one SSL_CTX. Holds the configuration every session made from it
// shares: verification, trust, certificate and key, ciphers, versions.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include "util/call_depth.h"

namespace rxtls {

enum class Role { kAny, kClient, kServer };

class Context : public Napi::ObjectWrap<Context> {
 public:
  static Napi::Function Init(Napi::Env env);
  // The three method handles `new Context(handle)` accepts, as BigInt addresses.
  static Napi::Object Methods(Napi::Env env);

  explicit Context(const Napi::CallbackInfo& info);
  ~Context() override;

  // The live SSL_CTX, or throws ERR_TLS_CLOSED after free() (also one
  // deferred while the context is busy).
  SSL_CTX* Get(Napi::Env env) const;
  // The SSL_CTX or nullptr after free(); for OpenSSL callbacks, which must not throw.
  SSL_CTX* Peek() const { return depth_.free_deferred() ? nullptr : ctx_; }
  Role role() const { return role_; }
  // True once set_verify was called: sessions then keep the context's mode
  // instead of the client default (verify the server).
  bool verify_explicit() const { return verify_explicit_; }

 private:
  Napi::Value SetVerify(const Napi::CallbackInfo& info);
  Napi::Value GetVerifyMode(const Napi::CallbackInfo& info);
  Napi::Value LoadVerifyLocations(const Napi::CallbackInfo& info);
  Napi::Value SetDefaultVerifyPaths(const Napi::CallbackInfo& info);
  Napi::Value AddCACertificates(const Napi::CallbackInfo& info);
  Napi::Value UseCertificateChain(const Napi::CallbackInfo& info);
  Napi::Value UsePrivateKey(const Napi::CallbackInfo& info);
  Napi::Value SetCipherList(const Napi::CallbackInfo& info);
  Napi::Value SetCiphersuites(const Napi::CallbackInfo& info);
  Napi::Value SetProtocolVersions(const Napi::CallbackInfo& info);
  Napi::Value GetProtocolVersions(const Napi::CallbackInfo& info);
  // TLS features (context_features.cc, ticket_keys.cc).
  Napi::Value SetAlpnProtocols(const Napi::CallbackInfo& info);
  Napi::Value AddServerNameContext(const Napi::CallbackInfo& info);
  Napi::Value SetServernameCallback(const Napi::CallbackInfo& info);
  Napi::Value SetKeylogCallback(const Napi::CallbackInfo& info);
  Napi::Value SetSessionOptions(const Napi::CallbackInfo& info);
  Napi::Value SetTicketKeys(const Napi::CallbackInfo& info);
  Napi::Value GetTicketKeys(const Napi::CallbackInfo& info);
  // Constructor defaults for resumption and SSLKEYLOGFILE.
  void ApplyFeatureDefaults(Napi::Env env);

  Napi::Value Free(const Napi::CallbackInfo& info);
  Napi::Value IsFreed(const Napi::CallbackInfo& info);
  Napi::Value Pointer(const Napi::CallbackInfo& info);

  // Marks the context busy for one entry point (util/call_depth.h): a getter,
  // a setter on a prototype or the error factory may call free() meanwhile,
  // which then waits for the end of the outermost call.
  auto Busy() {
    return CallScope(depth_, [this] { Release(); });
  }
  // Drops this object's reference; sessions made from it hold their own.
  void Release();

  SSL_CTX* ctx_ = nullptr;
  CallDepth depth_;
  Role role_ = Role::kAny;
  bool verify_explicit_ = false;
};

}  // namespace rxtls
