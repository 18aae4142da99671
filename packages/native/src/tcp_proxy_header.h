// The PROXY protocol (HAProxy's proxy-protocol.txt, v1 and v2) on the native
// transport: a balancer's header before the TLS bytes says who the client
// is. The parser is strict and bounded: it looks at no more than the
// listener's maxHeaderLength, accepts exactly what packages/core's
// proxy-protocol.ts accepts, and says "need more" only while the bytes so
// far can still begin a valid header.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace rxtls {

// v1's longest line, CRLF included (the spec's limit).
constexpr size_t kProxyV1MaxLength = 107;

// One trusted balancer address or subnet.
struct ProxyTrust {
  int family = 0;  // 4 or 6
  unsigned char addr[16] = {};
  int bits = 0;
};

// A listener's `proxyProtocol` settings; `enabled` false: no header expected.
struct ProxySettings {
  bool enabled = false;
  std::vector<ProxyTrust> trusted;
  uint64_t timeout_ms = 5000;
  size_t max_length = 4096;
};

// Reads settings.proxyProtocol = { trusted: [{ address, bits }], timeout,
// maxHeaderLength } (core resolved and checked the user's option; checked
// again here, as every entry point does). Absent: disabled.
ProxySettings ReadProxySettings(Napi::Env env, Napi::Value settings);

// True when `peer` (a dual-stack listener's ::ffff:a.b.c.d counts as
// a.b.c.d) is one of the trusted addresses or subnets.
bool ProxyTrusted(const ProxySettings& settings, const sockaddr_storage& peer);

enum class ProxyParse { kNeedMore, kDone, kError };

struct ProxyHeader {
  // Bytes of the header; what follows is the client's. With kNeedMore: the
  // bytes needed before parsing again can succeed (0 when unknown).
  size_t length = 0;
  int version = 0;          // 1 or 2
  bool has_source = false;  // false: LOCAL, UNKNOWN or UNSPEC (use the real endpoints)
  std::string address;      // the client, as node:net would print it
  int port = 0;
  int family = 0;           // 4 or 6
  std::string dst_address;  // the address the client connected to
  int dst_port = 0;
};

// Parses the header at the start of `data`. kError sets `error` (the
// message after "PROXY protocol: ").
ProxyParse ParseProxyHeader(const unsigned char* data, size_t size, size_t max_length, ProxyHeader* out,
                            std::string* error);

// parseProxyHeader(buffer, maxLength): the native parser for tests, in the
// shape of proxy-protocol.ts's parseProxyHeader ({ header, length } or null);
// a refused header throws an ERR_TLS_HANDSHAKE error marked `proxyProtocol`.
Napi::Value ParseProxyHeaderJs(const Napi::CallbackInfo& info);

}  // namespace rxtls
