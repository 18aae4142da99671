// What a session negotiated and what it can hand out afterwards: the info
// record, the peer's certificates, exported keying material, the session to
// resume later, and the server's post-handshake certificate request.
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>

#include <string>

#include "session.h"
#include "session_der.h"
#include "util/args.h"
#include "util/errors.h"
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

Napi::Value Session::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  // Busy while building results: a setter on Object.prototype runs JS.
  auto busy = Busy();
  Napi::Object o = Napi::Object::New(env);
  bool done = handshake_done_;
  o.Set("isServer", Napi::Boolean::New(env, is_server_));
  o.Set("handshakeComplete", Napi::Boolean::New(env, done));
  o.Set("protocol", done ? Napi::Value(Napi::String::New(env, SSL_get_version(ssl))) : env.Null());
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  o.Set("cipher", cipher ? Napi::Value(Napi::String::New(env, SSL_CIPHER_get_name(cipher))) : env.Null());
  o.Set("cipherStandardName", cipher ? StringOrNull(env, SSL_CIPHER_standard_name(cipher)) : env.Null());
  long verify = SSL_get_verify_result(ssl);
  o.Set("verifyResult", Napi::Number::New(env, static_cast<double>(verify)));
  o.Set("verifyMessage", Napi::String::New(env, X509_verify_cert_error_string(verify)));
  o.Set("servername", StringOrNull(env, SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)));
  o.Set("resumed", Napi::Boolean::New(env, SSL_session_reused(ssl) == 1));
  int group = done ? SSL_get_negotiated_group(ssl) : 0;
  o.Set("group", StringOrNull(env, group != 0 ? SSL_group_to_name(ssl, group) : nullptr));
  const unsigned char* alpn = nullptr;
  unsigned int alpn_len = 0;
  SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
  o.Set("alpnProtocol", alpn_len > 0 ? Napi::Value(Napi::String::New(env, reinterpret_cast<const char*>(alpn), alpn_len))
                                     : env.Null());
  std::string scheme = done ? SignatureScheme(ssl) : std::string();
  o.Set("signatureScheme", scheme.empty() ? env.Null() : Napi::Value(Napi::String::New(env, scheme)));
  int shut = SSL_get_shutdown(ssl);
  o.Set("sentShutdown", Napi::Boolean::New(env, (shut & SSL_SENT_SHUTDOWN) != 0));
  o.Set("receivedShutdown", Napi::Boolean::New(env, (shut & SSL_RECEIVED_SHUTDOWN) != 0));
  return o;
}

Napi::Value Session::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  // get0: the SSL keeps it alive while the summary is built.
  X509* cert = SSL_get0_peer_certificate(ssl);
  if (cert == nullptr) return env.Null();
  return CertificateSummary(env, cert);
}

// peerCertificateChain(verified): the peer's certificates, leaf first. As
// sent (false), or as verified up to the trust anchor (true; empty when
// nothing was verified).
Napi::Value Session::PeerCertificateChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  bool verified = !IsMissing(Arg(info, 0)) && BoolArg(info, 0, "verified");
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

// exportKeyingMaterial(length, label, context?): RFC 5705 / RFC 8446 §7.5.
Napi::Value Session::ExportKeyingMaterial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  int64_t length = IntArg(info, 0, "length", 1, 1 << 16);
  std::string label = StringArg(info, 1, "label");
  Bytes context;
  bool has_context = !IsMissing(Arg(info, 2));
  if (has_context) context = BytesArg(info, 2, "context");
  if (!handshake_done_ || dead_) ThrowError(env, kErrState, "keying material exists only after a successful handshake");
  Napi::Buffer<unsigned char> out = Napi::Buffer<unsigned char>::New(env, static_cast<size_t>(length));
  ERR_clear_error();
  if (SSL_export_keying_material(ssl, out.Data(), out.Length(), label.data(), label.size(),
                                 has_context ? context.data : nullptr, has_context ? context.size : 0,
                                 has_context ? 1 : 0) != 1)
    ThrowOpenSSLError(env, kErrCrypto, "could not export keying material");
  return out;
}

// getSession(): the session to resume later (DER of SSL_SESSION), or null
// while there is none that can be resumed (before the handshake; in TLS 1.3
// until the server's ticket arrived after it).
Napi::Value Session::GetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = Get(env);
  auto busy = Busy();
  return ResumableSessionDer(env, ssl);
}

// verifyClientPostHandshake(): a TLS 1.3 server asks the client for its
// certificate now. The request leaves in out[1]; the answer is checked as it
// arrives, and cycle() reports kFlagPeerCertificate when it is complete.
Napi::Value Session::VerifyClientPostHandshake(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SSL* ssl = GetIdle(env, "verifyClientPostHandshake");
  auto busy = Busy();
  if (!is_server_) ThrowError(env, kErrState, "only a server asks for a certificate after the handshake");
  if (!handshake_done_) ThrowError(env, kErrState, "post-handshake authentication needs a completed handshake");
  if (pha_pending_) ThrowError(env, kErrState, "a post-handshake authentication is already running");
  // The request is only sent in SSL_VERIFY_PEER mode; POST_HANDSHAKE keeps the
  // flags meaning "do not ask during the handshake" for contexts set that way.
  int mode = SSL_get_verify_mode(ssl);
  if ((mode & SSL_VERIFY_PEER) == 0) SSL_set_verify(ssl, mode | SSL_VERIFY_PEER | SSL_VERIFY_POST_HANDSHAKE, nullptr);
  ERR_clear_error();
  if (SSL_verify_client_post_handshake(ssl) != 1)
    ThrowOpenSSLError(env, kErrState, "cannot request a client certificate (TLS 1.3 and a client that offered post-handshake auth are needed)");
  int r = SSL_do_handshake(ssl);
  if (r != 1) {
    int err = SSL_get_error(ssl, r);
    // The state machine is in an unknown state after this: the session is dead.
    if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) throw Napi::Error(env, FatalError(env, err, "post-handshake authentication"));
  }
  ERR_clear_error();
  pha_pending_ = true;
  int flags = 0;
  DrainEncOut(env, &flags);
  return Napi::Number::New(env, flags);
}

}  // namespace rxtls
