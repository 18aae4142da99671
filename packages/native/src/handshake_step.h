// One handshake step (SSL_do_handshake) run on a libuv pool thread, and what
// it leaves for the loop thread: the return value, SSL_get_error's answer and
// the OpenSSL error queue, which is per thread and so is carried over. Used
// by the memory Session (session_async.cc) and the native transport
// (tcp_connection_offload.cc).
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace rxtls {

class PoolStep {
 public:
  // Pool thread: one SSL_do_handshake. Touches nothing but `ssl` (and what
  // its callbacks reach, which must be safe off the JS thread).
  void Run(SSL* ssl);
  // Loop thread: puts Run's errors on this thread's queue (cleared first), so
  // an error built from it reads as on the synchronous path.
  void RestoreErrors() const;

  int ret() const { return ret_; }
  int err() const { return err_; }

 private:
  struct QueuedError {
    unsigned long code;
    std::string data;
  };
  int ret_ = 0;
  int err_ = SSL_ERROR_NONE;
  std::vector<QueuedError> errors_;
};

}  // namespace rxtls
