// Taking over a caller's socket descriptor without taking it from them.
#pragma once

#include <napi.h>

namespace rxtls {

// Checks that `fd` is an open socket and returns a close-on-exec dup of it,
// set non-blocking (OpenSSL must never block Node's loop; Node's own sockets
// are non-blocking already, and the flag belongs to the shared open file).
// The caller owns the dup. Throws ERR_TLS_INVALID_ARGUMENT for a descriptor
// that is not an open socket, ERR_TLS_SOCKET when the dup or fcntl fails.
int DupNonBlockingSocket(Napi::Env env, int fd);

}  // namespace rxtls
