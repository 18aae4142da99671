#include "sockopt.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "util/args.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// The options the documented set_option/get_option accept that need the OS;
// anything else could change a descriptor Node's own handle relies on.
bool Allowed(int level, int name) {
  if (level == SOL_SOCKET)
    return name == SO_SNDBUF || name == SO_RCVBUF || name == SO_KEEPALIVE || name == SO_REUSEADDR;
  if (level == IPPROTO_TCP) return name == TCP_NODELAY;
  return false;
}

struct Target {
  int fd;
  int level;
  int name;
};

Target TargetArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Target t{static_cast<int>(IntArg(info, 0, "fd", 0, INT_MAX)), static_cast<int>(IntArg(info, 1, "level", 0, INT_MAX)),
           static_cast<int>(IntArg(info, 2, "name", 0, INT_MAX))};
  struct stat st;
  if (fstat(t.fd, &st) != 0 || !S_ISSOCK(st.st_mode)) ThrowExpected(env, "fd", "an open socket descriptor");
  if (!Allowed(t.level, t.name))
    ThrowError(env, kErrInvalidArgument,
               "unsupported socket option (level " + std::to_string(t.level) + ", name " + std::to_string(t.name) + ")");
  return t;
}

[[noreturn]] void ThrowErrno(Napi::Env env, const char* call, int err) {
  Napi::Error e = MakeError(env, kErrSocket, std::string(call) + " failed: " + std::strerror(err));
  e.Value().Set("errno", Napi::Number::New(env, err));
  throw e;
}

}  // namespace

Napi::Value SetSockopt(const Napi::CallbackInfo& info) {
  Target t = TargetArgs(info);
  int value = static_cast<int>(IntArg(info, 3, "value", 0, INT_MAX));
  if (setsockopt(t.fd, t.level, t.name, &value, sizeof value) != 0) ThrowErrno(info.Env(), "setsockopt", errno);
  return info.Env().Undefined();
}

Napi::Value GetSockopt(const Napi::CallbackInfo& info) {
  Target t = TargetArgs(info);
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(t.fd, t.level, t.name, &value, &len) != 0) ThrowErrno(info.Env(), "getsockopt", errno);
  return Napi::Number::New(info.Env(), value);
}

}  // namespace rxtls
