// setsockopt/getsockopt on a socket descriptor, for the options node:net
// cannot reach (SO_SNDBUF, SO_RCVBUF) and to read back the ones it sets.
// Only an allow-list of (level, name) pairs with int values is accepted.
#pragma once

#include <napi.h>

namespace rxtls {

// setsockopt(fd, level, name, value): undefined; throws ERR_TLS_INVALID_ARGUMENT
// for a bad fd/option and ERR_TLS_SOCKET (with syscallCode) when the call fails.
Napi::Value SetSockopt(const Napi::CallbackInfo& info);

// getsockopt(fd, level, name): the int value.
Napi::Value GetSockopt(const Napi::CallbackInfo& info);

}  // namespace rxtls
