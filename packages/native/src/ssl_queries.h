// The queries every SSL owner answers alike (memory Session, native-transport
// connection): the info record, the peer's certificates, keying material.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>

#include "util/args.h"

namespace rxtls {

// { isServer, handshakeComplete, protocol, cipher, …, sentShutdown, receivedShutdown }
// (SessionInfo in lib/native.ts). `handshake_done` is the owner's own record:
// SSL_is_init_finished is false again during a post-handshake authentication.
Napi::Object SslInfo(Napi::Env env, SSL* ssl, bool is_server, bool handshake_done);
// The negotiated ALPN protocol, or null.
Napi::Value SslAlpnProtocol(Napi::Env env, SSL* ssl);
// The peer's certificate summary, or null when it sent none.
Napi::Value SslPeerCertificate(Napi::Env env, SSL* ssl);
// Leaf first: as sent, or (`verified`) as verified up to the trust anchor.
Napi::Array SslPeerCertificateChain(Napi::Env env, SSL* ssl, bool verified);
// RFC 5705 / RFC 8446 §7.5 keying material. Throws on failure.
Napi::Buffer<unsigned char> SslExportKeyingMaterial(Napi::Env env, SSL* ssl, size_t length, const std::string& label,
                                                    const Bytes* context);

}  // namespace rxtls
