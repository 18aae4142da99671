// Bio's address, port and family setters and getters (the connect and
// accept parameters of the documented BIO family). Lifecycle, chains and I/O
// are in bio.cc.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>

#include <climits>
#include <string>

#include "bio.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

bool IsIpv6Literal(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool IsIpLiteral(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || IsIpv6Literal(s);
}

// OpenSSL parses names as host:port; a bare IPv6 literal needs brackets.
std::string Bracketed(const std::string& host) { return IsIpv6Literal(host) ? "[" + host + "]" : host; }

// The documented families are AF_* values; OpenSSL's BIO_FAMILY_* are taken too.
int ToBioFamily(Napi::Env env, int64_t f) {
  switch (f) {
    case AF_UNSPEC:
    case BIO_FAMILY_IPANY:
      return BIO_FAMILY_IPANY;
    case AF_INET:
    case BIO_FAMILY_IPV4:
      return BIO_FAMILY_IPV4;
    case AF_INET6:
    case BIO_FAMILY_IPV6:
      return BIO_FAMILY_IPV6;
    default:
      ThrowExpected(env, "family", "AF_INET, AF_INET6 or AF_UNSPEC");
  }
}

int ToAfFamily(long bio_family) {
  switch (bio_family) {
    case BIO_FAMILY_IPV4:
      return AF_INET;
    case BIO_FAMILY_IPV6:
      return AF_INET6;
    default:
      return AF_UNSPEC;
  }
}

// The family of a bound socket, or -1.
int SocketFamily(int fd) {
  if (fd < 0) return -1;
  sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return -1;
  return ss.ss_family;
}

}  // namespace

Napi::Value Bio::SetConnHostname(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = FindToSet(env, BIO_TYPE_CONNECT, "set_conn_hostname");
  std::string name = StringArg(info, 0, "name");
  if (name.empty()) ThrowExpected(env, "name", "a non-empty host name");
  ClearErrorQueue();
  if (BIO_set_conn_hostname(c, Bracketed(name).c_str()) != 1)
    ThrowOpenSSLError(env, kErrInvalidArgument, "could not set host name '" + name + "'");
  return env.Undefined();
}

Napi::Value Bio::SetConnAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = FindToSet(env, BIO_TYPE_CONNECT, "set_conn_address");
  std::string addr = StringArg(info, 0, "address");
  if (!IsIpLiteral(addr)) ThrowExpected(env, "address", "an IPv4 or IPv6 address");
  ClearErrorQueue();
  if (BIO_set_conn_hostname(c, Bracketed(addr).c_str()) != 1)
    ThrowOpenSSLError(env, kErrInvalidArgument, "could not set address '" + addr + "'");
  return env.Undefined();
}

Napi::Value Bio::SetConnPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = FindToSet(env, BIO_TYPE_CONNECT, "set_conn_port");
  std::string port = StringArg(info, 0, "port");
  if (port.empty()) ThrowExpected(env, "port", "a port number or service name");
  ClearErrorQueue();
  if (BIO_set_conn_port(c, port.c_str()) != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set port '" + port + "'");
  return env.Undefined();
}

Napi::Value Bio::SetConnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = FindToSet(env, BIO_TYPE_CONNECT, "set_conn_family");
  int fam = ToBioFamily(env, IntArg(info, 0, "family", 0, INT_MAX));
  if (BIO_set_conn_ip_family(c, fam) <= 0) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set the family");
  return env.Undefined();
}

Napi::Value Bio::SetAcceptName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* a = FindToSet(env, BIO_TYPE_ACCEPT, "set_accept_name");
  std::string name = StringArg(info, 0, "name");
  if (name.empty()) ThrowExpected(env, "name", "a non-empty host name or address");
  // OpenSSL reads a bare word as a port here (and "host:" drops the port
  // set before): give it host:port with the port asked for so far.
  bool has_port = (name[0] == '[' && name.find("]:") != std::string::npos) ||
                  (!IsIpv6Literal(name) && name[0] != '[' && name.find(':') != std::string::npos);
  std::string spec = has_port ? name : Bracketed(name) + ":" + (accept_port_.empty() ? "0" : accept_port_);
  ClearErrorQueue();
  if (BIO_set_accept_name(a, spec.c_str()) != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set accept name '" + name + "'");
  if (has_port) {
    size_t colon = name.rfind(':');
    accept_name_ = name.substr(0, colon);
    if (!accept_name_.empty() && accept_name_[0] == '[') accept_name_ = accept_name_.substr(1, accept_name_.size() - 2);
    accept_port_ = name.substr(colon + 1);
  } else {
    accept_name_ = name;
    if (accept_port_.empty()) accept_port_ = "0";
  }
  return env.Undefined();
}

Napi::Value Bio::SetAcceptPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* a = FindToSet(env, BIO_TYPE_ACCEPT, "set_accept_port");
  std::string port = StringArg(info, 0, "port");
  if (port.empty()) ThrowExpected(env, "port", "a port number or service name");
  ClearErrorQueue();
  if (BIO_set_accept_port(a, port.c_str()) != 1) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set accept port '" + port + "'");
  accept_port_ = port;
  return env.Undefined();
}

Napi::Value Bio::SetAcceptFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* a = FindToSet(env, BIO_TYPE_ACCEPT, "set_accept_family");
  int64_t af = IntArg(info, 0, "family", 0, INT_MAX);
  int fam = ToBioFamily(env, af);
  if (BIO_set_accept_ip_family(a, fam) <= 0) ThrowOpenSSLError(env, kErrInvalidArgument, "could not set the family");
  accept_family_ = ToAfFamily(fam);
  return env.Undefined();
}

Napi::Value Bio::GetConnHostname(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* h = BIO_get_conn_hostname(Find(env, BIO_TYPE_CONNECT, "get_conn_hostname"));
  return Napi::String::New(env, h ? h : "");
}

Napi::Value Bio::GetConnAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = Find(env, BIO_TYPE_CONNECT, "get_conn_address");
  const BIO_ADDR* addr = BIO_get_conn_address(c);
  if (addr != nullptr) {
    char* s = BIO_ADDR_hostname_string(addr, 1);
    if (s != nullptr) {
      std::string out(s);
      OPENSSL_free(s);
      return Napi::String::New(env, out);
    }
  }
  // Not resolved yet: the address asked for, if it is one.
  const char* h = BIO_get_conn_hostname(c);
  return Napi::String::New(env, h != nullptr && IsIpLiteral(h) ? h : "");
}

Napi::Value Bio::GetConnPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* p = BIO_get_conn_port(Find(env, BIO_TYPE_CONNECT, "get_conn_port"));
  return Napi::String::New(env, p ? p : "");
}

Napi::Value Bio::GetConnFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* c = Find(env, BIO_TYPE_CONNECT, "get_conn_family");
  int fd = -1;
  BIO_get_fd(c, &fd);
  int actual = SocketFamily(fd);
  if (actual == AF_INET || actual == AF_INET6) return Napi::Number::New(env, actual);
  // BIO_get_conn_ip_family passes a null pointer, for which OpenSSL 3.0's
  // connect BIO answers 0 whatever was set: ask with a pointer.
  const char* unused = nullptr;
  return Napi::Number::New(env, ToAfFamily(BIO_ctrl(c, BIO_C_GET_CONNECT, 3, &unused)));
}

Napi::Value Bio::GetAcceptName(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* n = BIO_get_accept_name(Find(env, BIO_TYPE_ACCEPT, "get_accept_name"));
  return Napi::String::New(env, n ? n : accept_name_);
}

Napi::Value Bio::GetAcceptPort(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const char* p = BIO_get_accept_port(Find(env, BIO_TYPE_ACCEPT, "get_accept_port"));
  return Napi::String::New(env, p ? p : accept_port_);
}

Napi::Value Bio::GetAcceptFamily(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  BIO* a = Find(env, BIO_TYPE_ACCEPT, "get_accept_family");
  int fd = -1;
  BIO_get_fd(a, &fd);
  int actual = SocketFamily(fd);
  if (actual == AF_INET || actual == AF_INET6) return Napi::Number::New(env, actual);
  return Napi::Number::New(env, accept_family_);
}

}  // namespace rxtls
