#include "ssl_queries.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include "util/err_queue.h"
#include "util/errors.h"
#include "util/property_keys.h"
#include "x509.h"

namespace rxtls {
namespace {

Napi::Value StringOrNull(Napi::Env env, const char* s) {
  return s != nullptr ? Napi::Value(Napi::String::New(env, s)) : env.Null();
}

// The TLS SignatureScheme name (RFC 8446 §4.2.3) of the peer's handshake
// signature. OpenSSL 3.0 reports only the key type and hash, so the name is
// put together from them; the curve of ECDSA follows the hash, as TLS 1.3 binds them.
std::string SignatureScheme(SSL* ssl) {
  int type = NID_undef, hash = NID_undef;
  if (SSL_get_peer_signature_type_nid(ssl, &type) != 1) return std::string();
  SSL_get_peer_signature_nid(ssl, &hash);
  std::string h = hash == NID_sha256 ? "sha256" : hash == NID_sha384 ? "sha384" : hash == NID_sha512 ? "sha512"
                : hash == NID_sha1 ? "sha1" : "";
  switch (type) {
    case EVP_PKEY_ED25519: return "ed25519";
    case EVP_PKEY_ED448: return "ed448";
    case EVP_PKEY_RSA: return "rsa_pkcs1_" + h;
    case EVP_PKEY_RSA_PSS: {
      // rsae: an ordinary RSA key signing with PSS; pss: an RSA-PSS key.
      X509* peer = SSL_get0_peer_certificate(ssl);
      EVP_PKEY* key = peer != nullptr ? X509_get0_pubkey(peer) : nullptr;
      bool pss_key = key != nullptr && EVP_PKEY_get_base_id(key) == EVP_PKEY_RSA_PSS;
      return std::string(pss_key ? "rsa_pss_pss_" : "rsa_pss_rsae_") + h;
    }
    case EVP_PKEY_EC:
      if (hash == NID_sha256) return "ecdsa_secp256r1_sha256";
      if (hash == NID_sha384) return "ecdsa_secp384r1_sha384";
      if (hash == NID_sha512) return "ecdsa_secp521r1_sha512";
      return "ecdsa_" + h;
    default: {
      const char* sn = OBJ_nid2sn(type);
      return std::string(sn != nullptr ? sn : "unknown") + (h.empty() ? "" : "_" + h);
    }
  }
}

}  // namespace

Napi::Object SslInfo(Napi::Env env, SSL* ssl, bool is_server, bool done) {
  Napi::Object o = Napi::Object::New(env);
  SetKey(o, Key::kIsServer, Napi::Boolean::New(env, is_server));
  SetKey(o, Key::kHandshakeComplete, Napi::Boolean::New(env, done));
  SetKey(o, Key::kProtocol, done ? Napi::Value(Napi::String::New(env, SSL_get_version(ssl))) : env.Null());
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  SetKey(o, Key::kCipher, cipher ? Napi::Value(Napi::String::New(env, SSL_CIPHER_get_name(cipher))) : env.Null());
  SetKey(o, Key::kCipherStandardName, cipher ? StringOrNull(env, SSL_CIPHER_standard_name(cipher)) : env.Null());
  long verify = SSL_get_verify_result(ssl);
  SetKey(o, Key::kVerifyResult, Napi::Number::New(env, static_cast<double>(verify)));
  SetKey(o, Key::kVerifyMessage, Napi::String::New(env, X509_verify_cert_error_string(verify)));
  SetKey(o, Key::kServername, StringOrNull(env, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)));
  SetKey(o, Key::kResumed, Napi::Boolean::New(env, SSL_session_reused(ssl) == 1));
  int group = done ? SSL_get_negotiated_group(ssl) : 0;
  SetKey(o, Key::kGroup, StringOrNull(env, group != 0 ? SSL_group_to_name(ssl, group) : nullptr));
  SetKey(o, Key::kAlpnProtocol, SslAlpnProtocol(env, ssl));
  std::string scheme = done ? SignatureScheme(ssl) : std::string();
  SetKey(o, Key::kSignatureScheme, scheme.empty() ? env.Null() : Napi::Value(Napi::String::New(env, scheme)));
  int shut = SSL_get_shutdown(ssl);
  SetKey(o, Key::kSentShutdown, Napi::Boolean::New(env, (shut & SSL_SENT_SHUTDOWN) != 0));
  SetKey(o, Key::kReceivedShutdown, Napi::Boolean::New(env, (shut & SSL_RECEIVED_SHUTDOWN) != 0));
  return o;
}

Napi::Value SslAlpnProtocol(Napi::Env env, SSL* ssl) {
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  return alpn_len > 0 ? Napi::Value(Napi::String::New(env, reinterpret_cast<const char*>(alpn), alpn_len)) : env.Null();
}

Napi::Value SslPeerCertificate(Napi::Env env, SSL* ssl) {
  // get0: the SSL keeps it alive while the summary is built.
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return env.Null();
  return CertificateSummary(env, cert);
}

Napi::Array SslPeerCertificateChain(Napi::Env env, SSL* ssl, bool verified) {
  Napi::Array out = Napi::Array::New(env);
  uint32_t n = 0;
  STACK_OF(X509)* chain = verified ? SSL_get0_verified_chain(ssl) : SSL_get_peer_cert_chain(ssl);
  // A server's view of the client chain leaves the leaf out; a client's keeps it.
  X509* leaf = SSL_get0_peer_certificate(ssl);
  bool leaf_in_chain = chain != nullptr && sk_X509_num(chain) > 0 && X509_cmp(sk_X509_value(chain, 0), leaf) == 0;
  if (leaf != nullptr && !leaf_in_chain && !verified) out.Set(n++, CertificateSummary(env, leaf));
  for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) out.Set(n++, CertificateSummary(env, sk_X509_value(chain, i)));
  return out;
}

Napi::Buffer<unsigned char> SslExportKeyingMaterial(Napi::Env env, SSL* ssl, size_t length, const std::string& label,
                                                    const Bytes* context) {
  Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::New(env, length);
  ClearErrorQueue();
  if (SSL_export_keying_material(ssl, out.Data(), out.Length(), label.data(), label.size(),
                                 context != nullptr ? context->data : nullptr, context != nullptr ? context->size : 0,
                                 context != nullptr ? 1 : 0) != 1)
    ThrowOpenSSLError(env, kErrCrypto, "could not export keying material");
  return out;
}

}  // namespace rxtls
