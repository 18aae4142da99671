#include "handshake_step.h"

#include <openssl/err.h>

#include "util/err_queue.h"

namespace rxtls {

void PoolStep::Run(SSL* ssl) {
  errors_.clear();
  err_ = SSL_ERROR_NONE;
  ClearErrorQueue();
  ret_ = SSL_do_handshake(ssl);
  if (ret_ != 1) {
    err_ = SSL_get_error(ssl, ret_);
    const char* data = nullptr;
    int flags = 0;
    while (unsigned long e = ERR_get_error_all(nullptr, nullptr, nullptr, &data, &flags)) {
      std::string text = (flags & ERR_TXT_STRING) && data != nullptr ? data : "";
      errors_.push_back({e, std::move(text)});
    }
  }
  ClearErrorQueue();
}

void PoolStep::RestoreErrors() const {
  ClearErrorQueue();
  for (const QueuedError& e : errors_) {
    ERR_new();
    ERR_set_debug(nullptr, 0, nullptr);
    if (e.data.empty()) ERR_set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), nullptr);
    else ERR_set_error(ERR_GET_LIB(e.code), ERR_GET_REASON(e.code), "%s", e.data.c_str());
  }
}

}  // namespace rxtls
