// The PROXY protocol on a native listener (proxyProtocol): an accepted
// connection from a trusted balancer reads the header off its input before
// OpenSSL sees a byte (tcp_proxy_header.h parses it), within the header's
// own deadline; the handshake deadline starts once it is read. A connection
// from any other address, or with a bad, oversized, truncated or late
// header, fails before its handshake: the server's tlsClientError hears of
// it (a ProxyProtocolError, or a TimeoutError). address() then reports the
// client the header named.
#include "tcp_connection.h"

#include <openssl/err.h>

#include <cstring>

#include "buffer_bio.h"
#include "tcp_proxy_header.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// Core turns an error so marked into its ProxyProtocolError (a HandshakeError).
Napi::Error ProxyError(Napi::Env env, const std::string& why) {
  Napi::Error e = MakeError(env, kErrHandshake, "PROXY protocol: " + why);
  e.Value().Set("proxyProtocol", Napi::Boolean::New(env, true));
  return e;
}

}  // namespace

bool TcpConn::ProxyAccept() {
  const ProxySettings& proxy = server_->proxy();
  if (!proxy.enabled) return true;
  sockaddr_storage ss;
  int len = sizeof(ss);
  bool known = uv_tcp_getpeername(&tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0;
  if (known && ProxyTrusted(proxy, ss)) {
    proxy_pending_ = true;
    // Start() keeps this deadline: the header's own, then the handshake's.
    handshake_deadline_ = uv_now(loop_->loop()) + proxy.timeout_ms;
    return true;
  }
  std::string address = "undefined";
  int port = 0, family = 0;
  if (known) SockaddrToJs(ss, &address, &port, &family);
  bool ok = FromLoop([&] {
    Napi::Env env(loop_->env());
    Napi::HandleScope scope(env);
    Fail(env, ProxyError(env, "connection from untrusted address " + address + " refused"));
  });
  if (!ok) {
    failed_ = true;
    Close();
  }
  return false;
}

bool TcpConn::ProxyHeaderRead(Napi::Env env) {
  const ProxySettings& proxy = server_->proxy();
  // A peer trickling a long v2 header: nothing is parsed (or copied) again
  // until the bytes it announced are in.
  if (in_->size() < proxy_need_ && !tcp_eof_) return false;
  // At most max_length bytes, contiguous: in place when the first block
  // holds them (the usual case), else copied together.
  size_t look = in_->size() < proxy.max_length ? in_->size() : proxy.max_length;
  uv_buf_t bufs[8];
  size_t n = in_->Peek(bufs, 8), got = 0;
  const unsigned char* data = nullptr;
  std::vector<unsigned char> copy;
  if (n > 0 && bufs[0].len >= look) {
    data = reinterpret_cast<const unsigned char*>(bufs[0].base);
    got = look;
  } else {
    copy.resize(look);
    for (size_t i = 0; i < n && got < look; ++i) {
      size_t take = bufs[i].len < look - got ? bufs[i].len : look - got;
      std::memcpy(copy.data() + got, bufs[i].base, take);
      got += take;
    }
    data = copy.data();
  }
  ProxyHeader header;
  std::string why;
  ProxyParse r = ParseProxyHeader(data, got, proxy.max_length, &header, &why);
  if (r == ProxyParse::kNeedMore) {
    if (got >= proxy.max_length) why = "no complete header in " + std::to_string(proxy.max_length) + " bytes";
    else if (tcp_eof_) why = "the peer closed before sending a complete header";
    else {
      proxy_need_ = header.length > got ? header.length : got + 1;
      return false;  // waits for more
    }
    r = ProxyParse::kError;
  }
  if (r == ProxyParse::kError) {
    Fail(env, ProxyError(env, why));
    return false;
  }
  in_->Consume(header.length);
  proxy_pending_ = false;
  if (header.has_source) {
    proxy_address_ = header.address;
    proxy_port_ = header.port;
    proxy_family_ = header.family;
  }
  // The handshake gets its whole time from here, as on the JS transport.
  handshake_deadline_ = settings_.handshake_timeout_ms > 0 ? uv_now(loop_->loop()) + settings_.handshake_timeout_ms : 0;
  ArmTimer();
  return true;
}

Napi::Error TcpConn::HandshakeTimeout(Napi::Env env) const {
  if (proxy_pending_)
    return MakeError(env, kErrTimeout,
                     "PROXY protocol header not received within " + std::to_string(server_->proxy().timeout_ms) + " ms");
  return MakeError(env, kErrTimeout, "TLS handshake timed out after " + std::to_string(settings_.handshake_timeout_ms) + " ms");
}

}  // namespace rxtls
