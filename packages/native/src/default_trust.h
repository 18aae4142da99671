// The system trust store, loaded once per thread and shared by every context.
#pragma once

#include <openssl/ssl.h>

namespace rxtls {

// Adds the system CA certificates (OpenSSL's default file, honouring
// SSL_CERT_FILE) and the default hashed directory (SSL_CERT_DIR) to ctx's
// store. The file is parsed once per thread, not once per context: parsing
// it costs tens of milliseconds, which a server or load generator making
// many contexts cannot pay each time. Returns false with OpenSSL's error
// queue set when the store cannot be built.
bool AddDefaultTrust(SSL_CTX* ctx);

}  // namespace rxtls
