// Host names given to OpenSSL for SNI and for matching the peer's
// certificate, read the way node:tls reads them. Shared by every object that
// takes a host name (the memory Session; FdSsl.set_host can call the same).
#pragma once

#include <arpa/inet.h>
#include <napi.h>

#include <string>

#include "args.h"

namespace rxtls {

// True for an IPv4 or IPv6 literal (verified as an address, never sent as SNI).
inline bool IsIpAddress(const std::string& host) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// Checks and normalises a host name. OpenSSL takes C strings, so
// "good.com\0.evil.com" would be checked as "good.com": NUL bytes are refused.
// OpenSSL reads a leading dot as "any subdomain of" (".example.com" then
// matches "*.example.com"): refused too. One trailing dot, the absolute form
// of the same name that certificates never carry, is stripped. Throws
// ERR_TLS_INVALID_ARGUMENT naming `name`; an empty host stays empty.
inline std::string CheckedHostName(Napi::Env env, std::string host, const char* name) {
  if (host.find('\0') != std::string::npos) ThrowExpected(env, name, "a host name without NUL bytes");
  if (!host.empty() && host[0] == '.') ThrowExpected(env, name, "a host name that does not start with a dot");
  if (!host.empty() && host.back() == '.') host.pop_back();
  return host;
}

// A JS string read as a host name (CheckedHostName); anything else is refused.
inline std::string HostNameValue(Napi::Env env, const Napi::Value& v, const char* name) {
  if (!v.IsString()) ThrowExpected(env, name, "a string");
  return CheckedHostName(env, v.As<Napi::String>().Utf8Value(), name);
}

}  // namespace rxtls
