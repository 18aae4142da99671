// PROXY protocol header parsing and the trusted-balancer check (see
// tcp_proxy_header.h). The messages are proxy-protocol.ts's, so a refused
// connection reads the same on both transports.
#include "tcp_proxy_header.h"

#include <arpa/inet.h>

#include <cstring>

#include "util/args.h"
#include "util/errors.h"

namespace rxtls {
namespace {

const unsigned char kV1Prefix[] = {'P', 'R', 'O', 'X', 'Y', ' '};
const unsigned char kV2Signature[] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};
constexpr size_t kV2Fixed = 16;

// True while `data` could still be the start of `sig` (or holds all of it).
bool StartsLike(const unsigned char* data, size_t size, const unsigned char* sig, size_t sig_size) {
  size_t n = size < sig_size ? size : sig_size;
  return std::memcmp(data, sig, n) == 0;
}

unsigned ReadU16(const unsigned char* p) { return static_cast<unsigned>(p[0]) << 8 | p[1]; }

// Header bytes in a message, as latin1 (what proxy-protocol.ts prints), in UTF-8.
std::string Latin1(const unsigned char* p, size_t n) {
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    unsigned char c = p[i];
    if (c < 0x80) {
      s += static_cast<char>(c);
    } else {
      s += static_cast<char>(0xc0 | (c >> 6));
      s += static_cast<char>(0x80 | (c & 0x3f));
    }
  }
  return s;
}

ProxyParse Fail(std::string* error, std::string why) {
  *error = std::move(why);
  return ProxyParse::kError;
}

// Decimal, no sign and no leading zero, at most 65535.
bool V1Port(const std::string& text, int* port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  long v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > 65535) return false;
  *port = static_cast<int>(v);
  return true;
}

ProxyParse ParseV1(const unsigned char* data, size_t size, ProxyHeader* out, std::string* error) {
  size_t end = 0;
  bool found = false;
  for (size_t i = 0; i + 1 < size; ++i) {
    if (data[i] == '\r' && data[i + 1] == '\n') {
      end = i;
      found = true;
      break;
    }
  }
  if (!found || end + 2 > kProxyV1MaxLength) {
    if (found || size >= kProxyV1MaxLength)
      return Fail(error, "v1 line longer than " + std::to_string(kProxyV1MaxLength) + " bytes");
    // Waits for the rest of a line only while it could still be one
    // (printable ASCII, a CR only as the last byte so far).
    for (size_t i = 0; i < size; ++i) {
      unsigned char b = data[i];
      if ((b < 0x20 || b > 0x7e) && !(b == '\r' && i == size - 1))
        return Fail(error, "v1 line with a byte that is not printable ASCII");
    }
    return ProxyParse::kNeedMore;
  }
  out->length = end + 2;
  out->version = 1;
  std::string line(reinterpret_cast<const char*>(data), end);
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t sp = line.find(' ', start);
    parts.push_back(line.substr(start, sp == std::string::npos ? std::string::npos : sp - start));
    if (sp == std::string::npos) break;
    start = sp + 1;
  }
  if (parts.size() > 1 && parts[1] == "UNKNOWN") return ProxyParse::kDone;
  std::string shown = Latin1(data, end);
  if (parts.size() != 6) return Fail(error, "malformed v1 line \"" + shown + "\"");
  const std::string& proto = parts[1];
  if (proto != "TCP4" && proto != "TCP6") return Fail(error, "unknown v1 protocol \"" + Latin1(reinterpret_cast<const unsigned char*>(proto.data()), proto.size()) + "\"");
  int af = proto == "TCP4" ? AF_INET : AF_INET6;
  unsigned char buf[16];
  if (inet_pton(af, parts[2].c_str(), buf) != 1 || inet_pton(af, parts[3].c_str(), buf) != 1)
    return Fail(error, "malformed " + proto + " address in \"" + shown + "\"");
  int sport = 0, dport = 0;
  if (!V1Port(parts[4], &sport)) return Fail(error, "malformed v1 port \"" + Latin1(reinterpret_cast<const unsigned char*>(parts[4].data()), parts[4].size()) + "\"");
  if (!V1Port(parts[5], &dport)) return Fail(error, "malformed v1 port \"" + Latin1(reinterpret_cast<const unsigned char*>(parts[5].data()), parts[5].size()) + "\"");
  out->has_source = true;
  out->address = parts[2];
  out->port = sport;
  out->family = af == AF_INET ? 4 : 6;
  out->dst_address = parts[3];
  out->dst_port = dport;
  return ProxyParse::kDone;
}

std::string Ipv4(const unsigned char* p) {
  return std::to_string(p[0]) + "." + std::to_string(p[1]) + "." + std::to_string(p[2]) + "." + std::to_string(p[3]);
}

// An IPv6 address in the form node:net reports (`::1`, `2001:db8::5`, `::ffff:10.0.0.1`).
std::string Ipv6(const unsigned char* p) {
  unsigned groups[8];
  for (int i = 0; i < 8; ++i) groups[i] = ReadU16(p + 2 * i);
  if (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[4] == 0 && groups[5] == 0xffff)
    return "::ffff:" + Ipv4(p + 12);
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  int best = -1, best_len = 1;
  for (int i = 0; i < 8;) {
    if (groups[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < 8 && groups[j] == 0) ++j;
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  auto hex = [](unsigned g) {
    char b[8];
    snprintf(b, sizeof(b), "%x", g);
    return std::string(b);
  };
  std::string s;
  for (int i = 0; i < 8; ++i) {
    if (i == best) {
      s += "::";
      i += best_len - 1;
      continue;
    }
    if (!s.empty() && s.back() != ':') s += ':';
    s += hex(groups[i]);
  }
  return s;
}

ProxyParse ParseV2(const unsigned char* data, size_t size, size_t max_length, ProxyHeader* out, std::string* error) {
  if (size < kV2Fixed) return ProxyParse::kNeedMore;
  unsigned ver_cmd = data[12];
  if (ver_cmd >> 4 != 2) return Fail(error, "unknown v2 version " + std::to_string(ver_cmd >> 4));
  unsigned cmd = ver_cmd & 0x0f;
  if (cmd > 1) return Fail(error, "unknown v2 command " + std::to_string(cmd));
  size_t length = kV2Fixed + ReadU16(data + 14);
  if (length > max_length)
    return Fail(error, "v2 header of " + std::to_string(length) + " bytes is over the limit of " + std::to_string(max_length));
  out->length = length;
  if (size < length) return ProxyParse::kNeedMore;
  out->version = 2;
  if (cmd == 0) return ProxyParse::kDone;  // LOCAL: the balancer's own connection
  unsigned fam = data[13] >> 4;
  unsigned transport = data[13] & 0x0f;
  // UNSPEC: the balancer relays something it cannot name; use the real endpoints.
  if (fam == 0) return ProxyParse::kDone;
  if (fam != 1 && fam != 2) return Fail(error, "v2 address family " + std::to_string(fam) + " is not TCP over IPv4 or IPv6");
  if (transport != 1) return Fail(error, "v2 transport " + std::to_string(transport) + " is not a stream");
  size_t addr = fam == 1 ? 4 : 16;
  if (length - kV2Fixed < 2 * addr + 4) return Fail(error, "v2 address block shorter than its family needs");
  // What follows the addresses (TLVs) is skipped.
  const unsigned char* at = data + kV2Fixed;
  out->has_source = true;
  out->address = fam == 1 ? Ipv4(at) : Ipv6(at);
  out->port = static_cast<int>(ReadU16(at + 2 * addr));
  out->family = fam == 1 ? 4 : 6;
  out->dst_address = fam == 1 ? Ipv4(at + addr) : Ipv6(at + addr);
  out->dst_port = static_cast<int>(ReadU16(at + 2 * addr + 2));
  return ProxyParse::kDone;
}

bool PrefixMatches(const unsigned char* a, const unsigned char* b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a, b, static_cast<size_t>(whole)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

ProxyParse ParseProxyHeader(const unsigned char* data, size_t size, size_t max_length, ProxyHeader* out,
                            std::string* error) {
  if (size == 0) return ProxyParse::kNeedMore;
  if (StartsLike(data, size, kV1Prefix, sizeof(kV1Prefix))) return ParseV1(data, size, out, error);
  if (StartsLike(data, size, kV2Signature, sizeof(kV2Signature))) return ParseV2(data, size, max_length, out, error);
  return Fail(error, "no PROXY header (the connection did not come through the proxy)");
}

bool ProxyTrusted(const ProxySettings& settings, const sockaddr_storage& peer) {
  int family = 0;
  const unsigned char* addr = nullptr;
  if (peer.ss_family == AF_INET) {
    family = 4;
    addr = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr);
  } else if (peer.ss_family == AF_INET6) {
    const unsigned char* a6 = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr);
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a6, kMapped, 12) == 0) {
      family = 4;
      addr = a6 + 12;
    } else {
      family = 6;
      addr = a6;
    }
  } else {
    return false;
  }
  for (const ProxyTrust& t : settings.trusted)
    if (t.family == family && PrefixMatches(addr, t.addr, t.bits)) return true;
  return false;
}

ProxySettings ReadProxySettings(Napi::Env env, Napi::Value settings) {
  ProxySettings s;
  if (IsMissing(settings) || !settings.IsObject()) return s;
  Napi::Value v = settings.As<Napi::Object>().Get("proxyProtocol");
  if (IsMissing(v)) return s;
  if (!v.IsObject()) ThrowExpected(env, "proxyProtocol", "an object");
  Napi::Object o = v.As<Napi::Object>();
  Napi::Value list_v = o.Get("trusted");
  if (!list_v.IsArray()) ThrowExpected(env, "proxyProtocol.trusted", "an array of { address, bits }");
  Napi::Array list = list_v.As<Napi::Array>();
  uint32_t n = list.Length();
  if (n == 0 || n > 65536) ThrowExpected(env, "proxyProtocol.trusted", "a non-empty array of { address, bits }");
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value e = list.Get(i);
    if (!e.IsObject()) ThrowExpected(env, "proxyProtocol.trusted", "an array of { address, bits }");
    Napi::Value a = e.As<Napi::Object>().Get("address");
    Napi::Value b = e.As<Napi::Object>().Get("bits");
    if (!a.IsString() || !b.IsNumber()) ThrowExpected(env, "proxyProtocol.trusted", "an array of { address, bits }");
    ProxyTrust t;
    std::string text = a.As<Napi::String>().Utf8Value();
    double bits = b.As<Napi::Number>().DoubleValue();
    if (inet_pton(AF_INET, text.c_str(), t.addr) == 1) t.family = 4;
    else if (inet_pton(AF_INET6, text.c_str(), t.addr) == 1) t.family = 6;
    int max_bits = t.family == 4 ? 32 : 128;
    if (t.family == 0 || !(bits >= 0 && bits <= max_bits) || bits != static_cast<int>(bits))
      ThrowExpected(env, "proxyProtocol.trusted", "IP addresses with a prefix length that fits their family");
    t.bits = static_cast<int>(bits);
    s.trusted.push_back(t);
  }
  Napi::Value timeout = o.Get("timeout");
  double ms = timeout.IsNumber() ? timeout.As<Napi::Number>().DoubleValue() : -1;
  if (!(ms > 0 && ms <= 2147483647.0)) ThrowExpected(env, "proxyProtocol.timeout", "a number of milliseconds above 0");
  s.timeout_ms = static_cast<uint64_t>(ms < 1 ? 1 : ms);
  Napi::Value max = o.Get("maxHeaderLength");
  double len = max.IsNumber() ? max.As<Napi::Number>().DoubleValue() : -1;
  if (!(len >= 232 && len <= 65551) || len != static_cast<double>(static_cast<size_t>(len)))
    ThrowExpected(env, "proxyProtocol.maxHeaderLength", "an integer from 232 to 65551");
  s.max_length = static_cast<size_t>(len);
  s.enabled = true;
  return s;
}

Napi::Value ParseProxyHeaderJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes buf = BytesArg(info, 0, "buffer");
  int64_t max = IsMissing(Arg(info, 1)) ? 4096 : IntArg(info, 1, "maxLength", 1, 1 << 20);
  // Copied before anything else runs: the view belongs to JS.
  std::vector<unsigned char> data(buf.data, buf.data + buf.size);
  ProxyHeader h;
  std::string why;
  ProxyParse r = ParseProxyHeader(data.data(), data.size(), static_cast<size_t>(max), &h, &why);
  if (r == ProxyParse::kNeedMore) return env.Null();
  if (r == ProxyParse::kError) {
    Napi::Error e = MakeError(env, kErrHandshake, "PROXY protocol: " + why);
    e.Value().Set("proxyProtocol", Napi::Boolean::New(env, true));
    throw e;
  }
  const char* family = h.family == 4 ? "IPv4" : "IPv6";
  auto address = [&](const std::string& a, int port) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("address", a);
    o.Set("port", port);
    o.Set("family", family);
    return o;
  };
  Napi::Object header = Napi::Object::New(env);
  header.Set("version", h.version);
  header.Set("command", h.has_source ? "proxy" : "local");
  if (h.has_source) {
    header.Set("source", address(h.address, h.port));
    header.Set("destination", address(h.dst_address, h.dst_port));
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("header", header);
  out.Set("length", static_cast<double>(h.length));
  return out;
}

}  // namespace rxtls
