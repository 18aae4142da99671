#include "ssl_client_options.h"

#include <openssl/x509v3.h>

#include "context_data.h"
#include "session_der.h"
#include "util/args.h"
#include "util/errors.h"
#include "util/host_name.h"

namespace rxtls {
namespace {

std::string OptionalHostName(Napi::Env env, Napi::Object opts, const char* name) {
  Napi::Value v = opts.Get(name);
  return IsMissing(v) ? std::string() : HostNameValue(env, v, name);
}

int OptionalBool(Napi::Env env, Napi::Object opts, const char* name) {
  Napi::Value v = opts.Get(name);
  if (IsMissing(v)) return -1;
  if (!v.IsBoolean()) ThrowExpected(env, name, "a boolean");
  return v.As<Napi::Boolean>().Value() ? 1 : 0;
}

}  // namespace

ClientSslOptions ReadClientSslOptions(Napi::Env env, Napi::Object opts, bool is_server) {
  ClientSslOptions o;
  o.servername = OptionalHostName(env, opts, "servername");
  o.verify_host = OptionalHostName(env, opts, "verifyHost");
  o.verify_peer = OptionalBool(env, opts, "verifyPeer");
  if (is_server) return o;  // the rest are client options
  Napi::Value alpn = opts.Get("alpnProtocols");
  if (!IsMissing(alpn)) {
    Bytes wire;
    if (!alpn.IsTypedArray() || !ToBytes(alpn, &wire) || (wire.size > 0 && !ValidAlpnWire(wire.data, wire.size)))
      ThrowExpected(env, "alpnProtocols", "a Buffer in ALPN wire format");
    o.alpn.assign(reinterpret_cast<const char*>(wire.data), wire.size);
  }
  Napi::Value saved = opts.Get("session");
  if (!IsMissing(saved)) {
    Bytes der;
    if (!saved.IsTypedArray() || !ToBytes(saved, &der) || der.size == 0)
      ThrowExpected(env, "session", "a Buffer from getSession()");
    o.session.assign(reinterpret_cast<const char*>(der.data), der.size);
  }
  o.post_handshake_auth = OptionalBool(env, opts, "postHandshakeAuth");
  return o;
}

void ApplyClientSslOptions(Napi::Env env, SSL* ssl, bool verify_explicit, const ClientSslOptions& o) {
  SSL_set_connect_state(ssl);
  bool verify = o.verify_peer >= 0 ? o.verify_peer == 1 : !verify_explicit;
  if (o.verify_peer >= 0 || !verify_explicit) SSL_set_verify(ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (!o.servername.empty() && !IsIpAddress(o.servername) && SSL_set_tlsext_host_name(ssl, o.servername.c_str()) != 1)
    ThrowOpenSSLError(env, kErrInvalidArgument, "could not set server name '" + o.servername + "'");
  if (!o.verify_host.empty()) {
    int ok = IsIpAddress(o.verify_host) ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), o.verify_host.c_str())
                                        : SSL_set1_host(ssl, o.verify_host.c_str());
    if (ok != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set host to verify '" + o.verify_host + "'");
  }
  // SSL_set_alpn_protos returns 0 on success.
  if (!o.alpn.empty() && SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(o.alpn.data()),
                                             static_cast<unsigned int>(o.alpn.size())) != 0)
    ThrowOpenSSLError(env, kErrInvalidArgument, "could not set ALPN protocols");
  if (!o.session.empty()) {
    Bytes der;
    der.data = reinterpret_cast<const uint8_t*>(o.session.data());
    der.size = o.session.size();
    OfferSessionDer(env, ssl, der, "session");
  }
  bool offer = o.post_handshake_auth >= 0 ? o.post_handshake_auth == 1 : SSL_get_certificate(ssl) != nullptr;
  SSL_set_post_handshake_auth(ssl, offer ? 1 : 0);
}

}  // namespace rxtls
