// PKCS#12 bundles (PKCS12_parse), key exchange groups and signature
// algorithms on a Context. Every JS value is read before OpenSSL is touched.
#include "context_options.h"

#include <openssl/err.h>
#include <openssl/pkcs12.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "context.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

struct Pkcs12Parts {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* extra = nullptr;
  ~Pkcs12Parts() {
    EVP_PKEY_free(key);
    X509_free(cert);
    sk_X509_pop_free(extra, X509_free);
  }
};

Context* ContextArg(Napi::Env env, const Napi::CallbackInfo& info) {
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  return context;
}

// A colon-separated list, non-empty and without NUL bytes.
std::string ListArg(const Napi::CallbackInfo& info, const char* name) {
  std::string list = StringArg(info, 1, name);
  if (list.empty()) ThrowExpected(info.Env(), name, "a non-empty string");
  return list;
}

}  // namespace

Napi::Value UsePkcs12(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = ContextArg(env, info);
  Napi::Value der_value = Arg(info, 1);
  if (!der_value.IsTypedArray() || der_value.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    ThrowExpected(env, "pfx", "a Buffer or Uint8Array");
  // A copy: the passphrase read below may run a getter that changes the buffer.
  Napi::Uint8Array u8 = der_value.As<Napi::Uint8Array>();
  std::string der(reinterpret_cast<const char*>(u8.Data()), u8.ByteLength());
  bool has_pass = !IsMissing(Arg(info, 2));
  std::string pass = has_pass ? StringArg(info, 2, "passphrase") : std::string();
  if (der.empty()) ThrowExpected(env, "pfx", "a non-empty PKCS#12 bundle");
  SSL_CTX* ctx = context->Get(env);

  ClearErrorQueue();
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &p, static_cast<long>(der.size()));
  if (p12 == nullptr) ThrowOpenSSLError(env, kErrConfig, "could not read PKCS#12 bundle");
  Pkcs12Parts parts;
  int ok = PKCS12_parse(p12, has_pass ? pass.c_str() : nullptr, &parts.key, &parts.cert, &parts.extra);
  PKCS12_free(p12);
  if (ok != 1) ThrowOpenSSLError(env, kErrConfig, "could not decrypt PKCS#12 bundle (wrong passphrase?)");
  if (parts.cert == nullptr || parts.key == nullptr)
    ThrowError(env, kErrConfig, "PKCS#12 bundle holds no certificate with its private key");
  if (SSL_CTX_use_certificate(ctx, parts.cert) != 1) ThrowOpenSSLError(env, kErrConfig, "could not use certificate");
  if (SSL_CTX_use_PrivateKey(ctx, parts.key) != 1) ThrowOpenSSLError(env, kErrConfig, "could not use private key");
  if (SSL_CTX_check_private_key(ctx) != 1)
    ThrowOpenSSLError(env, kErrConfig, "private key does not match the certificate");
  if (SSL_CTX_clear_chain_certs(ctx) != 1) ThrowOpenSSLError(env, kErrConfig, "could not reset chain");
  for (int i = 0; parts.extra != nullptr && i < sk_X509_num(parts.extra); ++i) {
    if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(parts.extra, i)) != 1)
      ThrowOpenSSLError(env, kErrConfig, "could not add chain certificate");
  }
  return env.Undefined();
}

Napi::Value SetGroups(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = ContextArg(env, info);
  std::string list = ListArg(info, "ecdhCurve");
  SSL_CTX* ctx = context->Get(env);
  ClearErrorQueue();
  if (SSL_CTX_set1_groups_list(ctx, list.c_str()) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not set key exchange groups '" + list + "'");
  return env.Undefined();
}

Napi::Value SetSigalgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = ContextArg(env, info);
  std::string list = ListArg(info, "sigalgs");
  SSL_CTX* ctx = context->Get(env);
  ClearErrorQueue();
  if (SSL_CTX_set1_sigalgs_list(ctx, list.c_str()) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not set signature algorithms '" + list + "'");
  return env.Undefined();
}

}  // namespace rxtls
