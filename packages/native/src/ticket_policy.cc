// Session tickets on a server: which key seals and opens them, and when a
// resumed connection gets a new one.
//
// Every server context has a ticket key callback, with a random key of its
// own until setTicketKeys gives it shared ones. Without it OpenSSL would use
// its built-in keys, and on TLS 1.3 those re-issue a ticket on every
// resumption: the ticket's sealing, its random bytes and one more record on
// each resumed handshake (about a tenth of its server CPU, measured with
// `openssl s_time -reuse`). Here a resumed connection gets a new ticket when
// its ticket needs one: sealed with an older key (rotation), or past half
// its lifetime, so that a client that keeps resuming never runs out. The
// `always` session option restores a new ticket per resumption (tickets used
// once: RFC 8446, appendix C.4).
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <cstring>
#include <ctime>
#include <mutex>

#include "context_data.h"
#include "ssl_owner.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// Tickets are sealed and opened with the keys of the context the connection
// started on (OpenSSL's session context), whatever SNI chose later.
ContextData* TicketData(SSL* ssl) {
  SslOwner* owner = SslOwner::FromSSL(ssl);
  return GetContextData(owner != nullptr ? owner->initial_ctx() : SSL_get_SSL_CTX(ssl));
}

// AES-256-CBC fetched once: passing OpenSSL's legacy EVP_aes_256_cbc() makes
// every EVP_*Init_ex look the cipher up again by name.
const EVP_CIPHER* TicketCipher() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  return cipher;
}

bool PastHalfLife(const SSL_SESSION* session) {
  long lifetime = SSL_SESSION_get_timeout(session);
  long age = static_cast<long>(std::time(nullptr)) - SSL_SESSION_get_time(session);
  return age >= lifetime / 2;
}

}  // namespace

void InstallTicketPolicy(Napi::Env env, SSL_CTX* ctx) {
  ContextData* data = EnsureContextData(env, ctx);
  TicketKey& key = data->own_ticket_key;
  if (RAND_bytes(key.name.data(), key.name.size()) != 1 || RAND_bytes(key.hmac.data(), key.hmac.size()) != 1 ||
      RAND_bytes(key.aes.data(), key.aes.size()) != 1)
    ThrowOpenSSLError(env, kErrCrypto, "could not make a session ticket key");
  if (TicketCipher() == nullptr) ThrowOpenSSLError(env, kErrCrypto, "AES-256-CBC, which seals tickets, is unavailable");
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, TicketKeyCallback) != 1 ||
      SSL_CTX_set_session_ticket_cb(ctx, nullptr, DecryptTicketCallback, nullptr) != 1)
    ThrowOpenSSLError(env, kErrConfig, "could not install the session ticket callbacks");
}

// Returns 1 (sealed, or opened with the current key), 2 (opened with an
// older key: re-issue), 0 (no such key: a full handshake) or -1 (failure).
int TicketKeyCallback(SSL* ssl, unsigned char key_name[16], unsigned char* iv, EVP_CIPHER_CTX* cctx,
                      EVP_MAC_CTX* hctx, int enc) {
  ContextData* data = TicketData(ssl);
  if (data == nullptr) return enc ? -1 : 0;
  // Held to the end: an offloaded handshake runs this on a pool thread while
  // the loop thread may rotate the keys (setTicketKeys swaps the list).
  std::lock_guard<std::mutex> lock(data->ticket_keys_mutex);
  const std::vector<TicketKey>& keys = data->ticket_keys;
  const TicketKey* key = nullptr;
  bool current = false;
  if (enc) {
    key = keys.empty() ? &data->own_ticket_key : &keys.front();
    current = true;
    std::memcpy(key_name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(TicketCipher())) != 1) return -1;
  } else if (keys.empty()) {
    if (std::memcmp(key_name, data->own_ticket_key.name.data(), 16) != 0) return 0;
    key = &data->own_ticket_key;
    current = true;
  } else {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (std::memcmp(key_name, keys[i].name.data(), 16) == 0) {
        key = &keys[i];
        current = i == 0;
        break;
      }
    }
    if (key == nullptr) return 0;  // unknown (rotated out): a full handshake, then a fresh ticket
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac.data()), key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_MAC_CTX_set_params(hctx, params) != 1) return -1;
  int ok = enc ? EVP_EncryptInit_ex(cctx, TicketCipher(), nullptr, key->aes.data(), iv)
               : EVP_DecryptInit_ex(cctx, TicketCipher(), nullptr, key->aes.data(), iv);
  if (ok != 1) return -1;
  return current ? 1 : 2;
}

// Called once a ticket was opened (or was not): whether to resume with it,
// and whether to send a new one.
SSL_TICKET_RETURN DecryptTicketCallback(SSL* ssl, SSL_SESSION* session, const unsigned char* key_name,
                                        size_t key_name_length, SSL_TICKET_STATUS status, void* arg) {
  switch (status) {
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW: {
      ContextData* data = TicketData(ssl);
      bool renew = status == SSL_TICKET_SUCCESS_RENEW || data == nullptr || data->renew_tickets_always.load() ||
                   PastHalfLife(session);
      return renew ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
    }
    default:  // no ticket, or one this server cannot open: a full handshake and a new ticket
      return SSL_TICKET_RETURN_IGNORE_RENEW;
  }
}

}  // namespace rxtls
