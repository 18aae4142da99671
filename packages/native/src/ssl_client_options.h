// The per-connection client settings (SNI, host to verify, verify mode, ALPN
// offer, session to resume, post-handshake auth), read from JS once, copied,
// before any OpenSSL state is touched, then applied to a client SSL. Shared
// by the memory Session and the native-transport connection.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>

namespace rxtls {

struct ClientSslOptions {
  std::string servername;    // SNI; empty or an IP literal sends none
  std::string verify_host;   // host name or IP the certificate must match; empty: none
  int verify_peer = -1;      // 1/0 overrides; -1: verify unless the context's set_verify was called
  std::string alpn;          // ALPN offer, wire format; empty: the context's
  std::string session;       // DER from getSession(); empty: none
  int post_handshake_auth = -1;  // 1/0; -1: offer when the context has a certificate
};

// Reads { servername, verifyHost, verifyPeer, alpnProtocols, session,
// postHandshakeAuth } (each optional; a server reads only the first three).
// Throws ERR_TLS_INVALID_ARGUMENT.
ClientSslOptions ReadClientSslOptions(Napi::Env env, Napi::Object opts, bool is_server = false);

// Puts `ssl` in connect state with `o` applied. `verify_explicit`: the
// context's set_verify was called. Throws on an OpenSSL failure.
void ApplyClientSslOptions(Napi::Env env, SSL* ssl, bool verify_explicit, const ClientSslOptions& o);

}  // namespace rxtls
