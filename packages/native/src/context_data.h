// Per-SSL_CTX state of the optional TLS features (SNI, ALPN, keylog, ticket
// keys). It hangs off the SSL_CTX's ex_data and is freed by OpenSSL when the
// SSL_CTX's last reference goes (the Context or the last session made from
// it), so an OpenSSL callback never sees it dangle. JS callbacks are held
// weakly: the TS SSLContext keeps them alive, and a reference cycle through
// a strong native handle would keep a dropped context alive forever.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <array>
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace rxtls {

// One session ticket key: 16-byte name, 32-byte HMAC-SHA256 key, 32-byte AES-256 key.
struct TicketKey {
  static constexpr size_t kSize = 80;
  std::array<unsigned char, 16> name;
  std::array<unsigned char, 32> hmac;
  std::array<unsigned char, 32> aes;
};

struct ContextData {
  napi_env env = nullptr;
  // The thread of `env` (JS runs only there). An offloaded handshake step
  // runs OpenSSL on a pool thread; a callback set after the step was queued
  // must not call JS from there.
  std::thread::id js_thread = std::this_thread::get_id();
  // Server ALPN preference list in wire format (length-prefixed names).
  std::string alpn;
  // Refuse a client whose ALPN offer shares nothing with `alpn` (alert 120).
  bool alpn_reject = true;
  // Server name (lower case; "*.x" matches one label) -> context; holds a reference.
  std::vector<std::pair<std::string, SSL_CTX*>> sni;
  // (servername) => NativeContext | undefined. Weak.
  Napi::FunctionReference sni_callback;
  // (line) => void. Weak.
  Napi::FunctionReference keylog_callback;
  // SSLKEYLOGFILE, read when the context was made: lines are appended to it.
  std::string keylog_file;
  // First key encrypts new tickets; all of them decrypt. Empty: `own_ticket_key`.
  std::vector<TicketKey> ticket_keys;
  // A random key made with a server context, used until setTicketKeys: this
  // process alone opens its tickets (ticket_policy.cc).
  TicketKey own_ticket_key{};
  // Every resumed connection gets a new ticket, not only those whose ticket
  // is stale (setSessionOptions). Read on pool threads (handshakeOffload).
  std::atomic<bool> renew_tickets_always{false};
  // Guards ticket_keys between setTicketKeys (a rotation timer may call it
  // while serving) and TicketKeyCallback on a pool thread (handshakeOffload).
  std::mutex ticket_keys_mutex;
  // setSessionStore: resumption goes through the JS session store. Read by
  // OpenSSL callbacks, which may run on a pool thread (handshakeOffload).
  std::atomic<bool> session_store{false};

  ~ContextData();
};

// True for a non-empty ALPN list in wire format (names of 1..255 bytes, each length-prefixed).
bool ValidAlpnWire(const unsigned char* data, size_t size);

// The data of `ctx`, or nullptr when no feature was configured.
ContextData* GetContextData(SSL_CTX* ctx);
// The data of `ctx`, created on first use. Throws on failure.
ContextData* EnsureContextData(Napi::Env env, SSL_CTX* ctx);

// OpenSSL callbacks, installed on a context when a feature needs them.
int ServernameCallback(SSL* ssl, int* alert, void* arg);
int AlpnSelectCallback(SSL* ssl, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                       unsigned int inlen, void* arg);
void KeylogCallback(const SSL* ssl, const char* line);
// Session tickets (ticket_policy.cc): gives a server context its own key and
// the two callbacks below. Throws on failure.
void InstallTicketPolicy(Napi::Env env, SSL_CTX* ctx);
int TicketKeyCallback(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                      EVP_MAC_CTX* hctx, int enc);
SSL_TICKET_RETURN DecryptTicketCallback(SSL* ssl, SSL_SESSION* session, const unsigned char* key_name,
                                        size_t key_name_length, SSL_TICKET_STATUS status, void* arg);

}  // namespace rxtls
