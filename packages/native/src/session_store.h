// The asynchronous session store of a server (TLS 1.2 session IDs, TLS 1.3
// stateful tickets): OpenSSL's own cache is bypassed, new sessions leave
// serialised for JS to store, and a lookup pauses the handshake at the
// ClientHello until JS answers. Nothing here calls JS, so every callback is
// safe on the offload threads too.
#pragma once

#include <napi.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

namespace rxtls {

// A new session to store: its ID, its DER form and its lifetime.
struct StoredSession {
  std::string id;
  std::string der;
  long ttl_seconds = 0;
};

// Per-Session state of the store (a member of Session).
struct SessionStoreState {
  enum class Phase : unsigned char {
    kIdle,      // no lookup yet
    kPending,   // the ClientHello asked to resume `id`: the handshake waits for JS
    kAnswered,  // JS answered (`found`, if any, goes to OpenSSL's lookup)
  };
  Phase phase = Phase::kIdle;
  std::string id;
  SSL_SESSION* found = nullptr;  // owned until the get-session callback hands it to OpenSSL
  std::vector<StoredSession> fresh;  // new sessions since JS last took them

  SessionStoreState() = default;
  SessionStoreState(const SessionStoreState&) = delete;
  SessionStoreState& operator=(const SessionStoreState&) = delete;
  ~SessionStoreState() { Clear(); }
  void Clear() {
    SSL_SESSION_free(found);
    found = nullptr;
    fresh.clear();
  }
};

// setSessionStore(context, enabled): on a server (or generic) context,
// resumption goes through the store only: OpenSSL's internal cache neither
// stores nor looks up (SSL_SESS_CACHE_NO_INTERNAL), the client-hello
// callback pauses handshakes that ask to resume, and new sessions are kept
// for takeStoreSessions(). False restores OpenSSL's internal cache.
Napi::Value SetSessionStore(const Napi::CallbackInfo& info);

// From Session::OnNewSession: keeps `session` for the store when the
// session's context has the store on and the session can be looked up by ID.
void KeepForStore(SSL* ssl, SSL_CTX* session_ctx, SSL_SESSION* session, SessionStoreState* state);

// Takes the store's answer to a pending lookup (`der` empty: none) and marks
// the lookup answered. True when it decodes to the asked ID's session, which
// OpenSSL's lookup then finds; anything else means a full handshake.
// The caller has checked that a lookup is pending.
bool AnswerStoreLookup(SessionStoreState* state, const unsigned char* der, size_t size);

// takeStoreSessions()'s result for both owners: [{ id, session, ttl }].
Napi::Array StoredSessionsToJs(Napi::Env env, const std::vector<StoredSession>& sessions);

}  // namespace rxtls
