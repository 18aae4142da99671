#include "context.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cstdint>
#include <memory>
#include <string>

#include "default_trust.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// SSL_FILETYPE_PEM and SSL_FILETYPE_ASN1 as the documented API passes them.
constexpr int64_t kFileTypePem = SSL_FILETYPE_PEM;
constexpr int64_t kFileTypeAsn1 = SSL_FILETYPE_ASN1;

// TLS 1.2 suites offered when nobody sets a list: forward-secret AEAD only
// (Mozilla's "intermediate" set). No CBC suite: their MAC-then-encrypt is
// what LUCKY13 and its kin attack. The DHE suites stay unused while no DH
// parameters are set (rxtls sets none). set_cipher_list replaces this list;
// TLS 1.3 suites are separate.
constexpr const char* kDefaultCipherList =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

uintptr_t AddressOf(const SSL_METHOD* m) { return reinterpret_cast<uintptr_t>(m); }

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;

BioPtr MemBio(const Bytes& b) {
  return BioPtr(BIO_new_mem_buf(b.data, static_cast<int>(b.size)));
}

}  // namespace

Napi::Object Context::Methods(Napi::Env env) {
  Napi::Object m = Napi::Object::New(env);
  m.Set("TLS_method", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(TLS_method()))));
  m.Set("TLS_client_method", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(TLS_client_method()))));
  m.Set("TLS_server_method", Napi::BigInt::New(env, static_cast<uint64_t>(AddressOf(TLS_server_method()))));
  return m;
}

Napi::Function Context::Init(Napi::Env env) {
  return DefineClass(env, "Context",
                     {
                         InstanceMethod("setVerify", &Context::SetVerify),
                         InstanceMethod("getVerifyMode", &Context::GetVerifyMode),
                         InstanceMethod("loadVerifyLocations", &Context::LoadVerifyLocations),
                         InstanceMethod("setDefaultVerifyPaths", &Context::SetDefaultVerifyPaths),
                         InstanceMethod("addCACertificates", &Context::AddCACertificates),
                         InstanceMethod("useCertificateChain", &Context::UseCertificateChain),
                         InstanceMethod("usePrivateKey", &Context::UsePrivateKey),
                         InstanceMethod("setCipherList", &Context::SetCipherList),
                         InstanceMethod("setCiphersuites", &Context::SetCiphersuites),
                         InstanceMethod("setProtocolVersions", &Context::SetProtocolVersions),
                         InstanceMethod("getProtocolVersions", &Context::GetProtocolVersions),
                         InstanceMethod("setAlpnProtocols", &Context::SetAlpnProtocols),
                         InstanceMethod("addServerNameContext", &Context::AddServerNameContext),
                         InstanceMethod("setServernameCallback", &Context::SetServernameCallback),
                         InstanceMethod("setKeylogCallback", &Context::SetKeylogCallback),
                         InstanceMethod("setSessionOptions", &Context::SetSessionOptions),
                         InstanceMethod("setTicketKeys", &Context::SetTicketKeys),
                         InstanceMethod("getTicketKeys", &Context::GetTicketKeys),
                         InstanceMethod("free", &Context::Free),
                         InstanceMethod("isFreed", &Context::IsFreed),
                         InstanceMethod("pointer", &Context::Pointer),
                     });
}

Context::Context(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Context>(info) {
  Napi::Env env = info.Env();
  Napi::Value arg = Arg(info, 0);
  if (!arg.IsBigInt()) ThrowExpected(env, "method", "an SSL method handle (TLS_method, TLS_client_method or TLS_server_method)");
  bool lossless = false;
  uint64_t addr = arg.As<Napi::BigInt>().Uint64Value(&lossless);
  const SSL_METHOD* method = nullptr;
  if (lossless && addr == AddressOf(TLS_method())) {
    method = TLS_method();
  } else if (lossless && addr == AddressOf(TLS_client_method())) {
    method = TLS_client_method();
    role_ = Role::kClient;
  } else if (lossless && addr == AddressOf(TLS_server_method())) {
    method = TLS_server_method();
    role_ = Role::kServer;
  } else {
    ThrowExpected(env, "method", "a valid SSL method pointer (TLS_method, TLS_client_method or TLS_server_method)");
  }
  ClearErrorQueue();
  ctx_ = SSL_CTX_new(method);
  if (ctx_ == nullptr) ThrowOpenSSLError(env, kErrConfig, "SSL_CTX_new failed");
  // Secure defaults: TLS 1.2 floor, no renegotiation, no compression, buffers
  // released while a connection is idle (most of the memory of an idle SSL).
  if (SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION) != 1 ||
      SSL_CTX_set_cipher_list(ctx_, kDefaultCipherList) != 1) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    ThrowOpenSSLError(env, kErrConfig, "could not apply the default protocol floor and cipher list");
  }
  SSL_CTX_set_options(ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
                                SSL_OP_CIPHER_SERVER_PREFERENCE);
  // NO_AUTO_CHAIN: a server sends the chain it was given (the PEM after the
  // leaf) instead of searching the trust store for issuers on every
  // handshake, which cost a stat() of the CA directory per connection.
  // NO_AUTO_CHAIN: a server sends the chain it was given (the PEM after the
  // leaf) instead of searching the trust store for issuers on every
  // handshake, which cost a stat() of the CA directory per connection.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
  // Key exchange: the post-quantum hybrid first, with key shares for it and
  // X25519 (no extra round trip to a classical server), set explicitly so an
  // openssl.cnf cannot take it away. OpenSSL before 3.5 (Node 20) rejects the
  // whole list for the unknown group and its `*` syntax: then the classical one.
  ClearErrorQueue();
  if (SSL_CTX_set1_groups_list(ctx_, "*X25519MLKEM768:*X25519:P-256:X448:P-384:P-521:ffdhe2048:ffdhe3072") != 1) {
    ClearErrorQueue();
    if (SSL_CTX_set1_groups_list(ctx_, "X25519:P-256:X448:P-384:P-521:ffdhe2048:ffdhe3072") != 1) {
      SSL_CTX_free(ctx_);
      ctx_ = nullptr;
      ThrowOpenSSLError(env, kErrConfig, "could not set the default key exchange groups");
    }
  }
  try {
    ApplyFeatureDefaults(env);
  } catch (...) {
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
    throw;
  }
  CounterAdd("Context", 1);  // last: a constructor that throws has no destructor run
}

Context::~Context() {
  CounterAdd("Context", -1);
  if (ctx_ != nullptr) SSL_CTX_free(ctx_);
}

SSL_CTX* Context::Get(Napi::Env env) const {
  if (ctx_ == nullptr || depth_.free_deferred()) ThrowError(env, kErrClosed, "SSLContext has been freed");
  return ctx_;
}

void Context::Release() {
  if (ctx_ == nullptr) return;
  SSL_CTX_free(ctx_);
  ctx_ = nullptr;
}

Napi::Value Context::SetVerify(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  auto busy = Busy();
  constexpr int64_t kAll = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT | SSL_VERIFY_CLIENT_ONCE |
                           SSL_VERIFY_POST_HANDSHAKE;
  int64_t mode = IntArg(info, 0, "mode", 0, kAll);
  // OpenSSL ignores the modifier flags without SSL_VERIFY_PEER; a caller who
  // sets them alone has made a mistake, so say so instead of ignoring it.
  if (mode != 0 && (mode & SSL_VERIFY_PEER) == 0)
    ThrowError(info.Env(), kErrInvalidArgument,
               "SSL_VERIFY_FAIL_IF_NO_PEER_CERT, SSL_VERIFY_CLIENT_ONCE and SSL_VERIFY_POST_HANDSHAKE "
               "must be combined with SSL_VERIFY_PEER");
  SSL_CTX_set_verify(ctx, static_cast<int>(mode), nullptr);
  verify_explicit_ = true;
  return info.Env().Undefined();
}

Napi::Value Context::GetVerifyMode(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  auto busy = Busy();
  return Napi::Number::New(info.Env(), SSL_CTX_get_verify_mode(ctx));
}

Napi::Value Context::LoadVerifyLocations(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  std::string file = IsMissing(Arg(info, 0)) ? std::string() : StringArg(info, 0, "file");
  std::string dir = IsMissing(Arg(info, 1)) ? std::string() : StringArg(info, 1, "directory");
  if (file.empty() && dir.empty()) ThrowExpected(env, "file", "a CA file or directory path");
  ClearErrorQueue();
  if (SSL_CTX_load_verify_locations(ctx, file.empty() ? nullptr : file.c_str(),
                                    dir.empty() ? nullptr : dir.c_str()) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not load verify locations '" + (file.empty() ? dir : file) + "'");
  // As for in-memory CAs: a server names the file's CAs in its CertificateRequest.
  if (!file.empty() && role_ != Role::kClient) {
    STACK_OF(X509_NAME)* names = SSL_CTX_get_client_CA_list(ctx);
    if (names == nullptr) {
      names = sk_X509_NAME_new_null();
      if (names == nullptr) ThrowOpenSSLError(env, kErrCrypto, "out of memory");
      SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    }
    if (SSL_add_file_cert_subjects_to_stack(names, file.c_str()) != 1)
      ThrowOpenSSLError(env, kErrConfig, "could not read CA names from '" + file + "'");
  }
  return env.Undefined();
}

Napi::Value Context::SetDefaultVerifyPaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  ClearErrorQueue();
  if (!AddDefaultTrust(ctx)) ThrowOpenSSLError(env, kErrConfig, "could not load the default CA store");
  return env.Undefined();
}

Napi::Value Context::AddCACertificates(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  Bytes pem = BytesArg(info, 0, "ca");
  ClearErrorQueue();
  BioPtr bio = MemBio(pem);
  if (!bio) ThrowOpenSSLError(env, kErrCrypto, "out of memory");
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  int added = 0;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    int ok = X509_STORE_add_cert(store, cert);
    // A server also names its CAs in the CertificateRequest, so clients with
    // several certificates (browsers, curl) pick one these CAs issued.
    if (ok == 1 && role_ != Role::kClient) ok = SSL_CTX_add_client_CA(ctx, cert);
    X509_free(cert);
    if (ok != 1) ThrowOpenSSLError(env, kErrConfig, "could not add CA certificate");
    ++added;
  }
  // The loop ends on "no start line" at the end of the input: expected once
  // something was read, a real error otherwise.
  if (added == 0) ThrowOpenSSLError(env, kErrConfig, "no CA certificate found in PEM input");
  ClearErrorQueue();
  return Napi::Number::New(env, added);
}

// useCertificateChain(source, isFile, fileType)
Napi::Value Context::UseCertificateChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  bool is_file = BoolArg(info, 1, "isFile");
  int64_t type = IntArg(info, 2, "fileType", kFileTypePem, kFileTypeAsn1);
  ClearErrorQueue();
  if (is_file) {
    std::string path = StringArg(info, 0, "cert_file");
    int ok = type == kFileTypePem ? SSL_CTX_use_certificate_chain_file(ctx, path.c_str())
                                  : SSL_CTX_use_certificate_file(ctx, path.c_str(), SSL_FILETYPE_ASN1);
    if (ok != 1) ThrowOpenSSLError(env, kErrConfig, "could not load certificate from '" + path + "'");
    return env.Undefined();
  }
  Bytes data = BytesArg(info, 0, "cert");
  if (type == kFileTypeAsn1) {
    if (SSL_CTX_use_certificate_ASN1(ctx, static_cast<int>(data.size), data.data) != 1)
      ThrowOpenSSLError(env, kErrConfig, "could not load DER certificate");
    return env.Undefined();
  }
  BioPtr bio = MemBio(data);
  if (!bio) ThrowOpenSSLError(env, kErrCrypto, "out of memory");
  X509* leaf = PEM_read_bio_X509_AUX(bio.get(), nullptr, nullptr, nullptr);
  if (leaf == nullptr) ThrowOpenSSLError(env, kErrConfig, "could not read PEM certificate");
  int ok = SSL_CTX_use_certificate(ctx, leaf);
  X509_free(leaf);
  if (ok != 1) ThrowOpenSSLError(env, kErrConfig, "could not use certificate");
  // The rest of the PEM is the chain sent after the leaf.
  if (SSL_CTX_clear_chain_certs(ctx) != 1) ThrowOpenSSLError(env, kErrConfig, "could not reset chain");
  while (X509* ca = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    if (SSL_CTX_add0_chain_cert(ctx, ca) != 1) {
      X509_free(ca);
      ThrowOpenSSLError(env, kErrConfig, "could not add chain certificate");
    }
  }
  ClearErrorQueue();  // the end-of-input "no start line"
  return env.Undefined();
}

// usePrivateKey(source, isFile, fileType): also checks that it matches the certificate.
Napi::Value Context::UsePrivateKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  bool is_file = BoolArg(info, 1, "isFile");
  int64_t type = IntArg(info, 2, "fileType", kFileTypePem, kFileTypeAsn1);
  ClearErrorQueue();
  if (is_file) {
    std::string path = StringArg(info, 0, "private_key_file");
    if (SSL_CTX_use_PrivateKey_file(ctx, path.c_str(), static_cast<int>(type)) != 1)
      ThrowOpenSSLError(env, kErrConfig, "could not load private key from '" + path + "'");
  } else {
    Bytes data = BytesArg(info, 0, "key");
    EVP_PKEY* key = nullptr;
    if (type == kFileTypeAsn1) {
      const unsigned char* p = data.data;
      key = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size));
    } else {
      BioPtr bio = MemBio(data);
      if (bio) key = PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr);
    }
    if (key == nullptr) ThrowOpenSSLError(env, kErrConfig, "could not read private key");
    int ok = SSL_CTX_use_PrivateKey(ctx, key);
    EVP_PKEY_free(key);
    if (ok != 1) ThrowOpenSSLError(env, kErrConfig, "could not use private key");
  }
  if (SSL_CTX_get0_certificate(ctx) != nullptr && SSL_CTX_check_private_key(ctx) != 1)
    ThrowOpenSSLError(env, kErrConfig, "private key does not match the certificate");
  return env.Undefined();
}

Napi::Value Context::SetCipherList(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  std::string list = StringArg(info, 0, "ciphers");
  ClearErrorQueue();
  if (SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not set cipher list '" + list + "'");
  return env.Undefined();
}

Napi::Value Context::SetCiphersuites(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  std::string list = StringArg(info, 0, "ciphersuites");
  ClearErrorQueue();
  if (SSL_CTX_set_ciphersuites(ctx, list.c_str()) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not set TLS 1.3 ciphersuites '" + list + "'");
  return env.Undefined();
}

// setProtocolVersions(min, max): TLS1_2_VERSION (0x0303) / TLS1_3_VERSION (0x0304); 0 keeps OpenSSL's bound.
Napi::Value Context::SetProtocolVersions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  int64_t min = IntArg(info, 0, "min", 0, TLS1_3_VERSION);
  int64_t max = IntArg(info, 1, "max", 0, TLS1_3_VERSION);
  // TLS 1.0 and 1.1 stay refused whatever the caller asks: 0 or 1.2+ only.
  if ((min != 0 && min < TLS1_2_VERSION) || (max != 0 && max < TLS1_2_VERSION))
    ThrowError(env, kErrInvalidArgument, "Expected protocol versions to be 0, TLS1_2_VERSION or TLS1_3_VERSION");
  if (min != 0 && max != 0 && min > max) ThrowError(env, kErrInvalidArgument, "min version is above max version");
  ClearErrorQueue();
  if (SSL_CTX_set_min_proto_version(ctx, static_cast<int>(min)) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, static_cast<int>(max)) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not set protocol versions");
  return env.Undefined();
}

Napi::Value Context::GetProtocolVersions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL_CTX* ctx = Get(env);
  auto busy = Busy();
  Napi::Array out = Napi::Array::New(env, 2);
  out.Set(0u, Napi::Number::New(env, SSL_CTX_get_min_proto_version(ctx)));
  out.Set(1u, Napi::Number::New(env, SSL_CTX_get_max_proto_version(ctx)));
  return out;
}

// free(): drops this object's reference at once, or at the end of the
// outermost call of this context still running (deferred). Sessions hold
// their own reference (SSL_new up-refs the SSL_CTX), so a context freed under
// live sessions, even from one of their handshake callbacks, stays valid for
// them until the last one ends.
Napi::Value Context::Free(const Napi::CallbackInfo& info) {
  if (ctx_ == nullptr || depth_.free_deferred()) ThrowError(info.Env(), kErrClosed, "SSLContext has already been freed");
  if (depth_.inside()) depth_.DeferFree();
  else Release();
  return info.Env().Undefined();
}

Napi::Value Context::IsFreed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), ctx_ == nullptr || depth_.free_deferred());
}

Napi::Value Context::Pointer(const Napi::CallbackInfo& info) {
  SSL_CTX* ctx = Get(info.Env());
  auto busy = Busy();
  return Napi::BigInt::New(info.Env(), static_cast<uint64_t>(reinterpret_cast<uintptr_t>(ctx)));
}

}  // namespace rxtls
