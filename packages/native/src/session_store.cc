// The asynchronous session store (see session_store.h). The handshake of a
// ClientHello that asks to resume a session ID pauses in OpenSSL's
// client-hello callback (SSL_CLIENT_HELLO_RETRY: SSL_do_handshake returns
// SSL_ERROR_WANT_CLIENT_HELLO_CB and keeps the ClientHello); cycle() reports
// kFlagSessionLookup, JS asks the store and gives the answer back through
// sessionStoreAnswer(), and the next cycle() lets OpenSSL go on: its session
// lookup (the get-session callback, OpenSSL's own cache being off) then finds
// the answer for exactly that ID.
#include "session_store.h"

#include <openssl/err.h>
#include <openssl/tls1.h>

#include <climits>
#include <cstring>

#include "context.h"
#include "context_data.h"
#include "session.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

using Phase = SessionStoreState::Phase;

// New sessions kept per connection until JS takes them (TLS 1.3 sends two
// tickets by default): a bound, not a limit anyone should reach.
constexpr size_t kMaxFresh = 8;

unsigned ReadU16(const unsigned char* p) { return static_cast<unsigned>(p[0]) << 8 | p[1]; }

bool TicketsOn(const SSL* ssl) { return (SSL_get_options(ssl) & SSL_OP_NO_TICKET) == 0; }

// The client offers TLS 1.3 and this server may choose it.
bool WillNegotiateTls13(SSL* ssl) {
  if (SSL_get_options(ssl) & SSL_OP_NO_TLSv1_3) return false;
  long max = SSL_get_max_proto_version(ssl);
  if (max != 0 && max < TLS1_3_VERSION) return false;
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_supported_versions, &p, &len) != 1 || len < 1) return false;
  size_t list = p[0];
  if (list + 1 > len) return false;
  for (size_t i = 1; i + 1 < list + 1; i += 2)
    if (ReadU16(p + i) == TLS1_3_VERSION) return true;
  return false;
}

// The ID a ClientHello asks to resume, or empty. TLS 1.3 with tickets off:
// OpenSSL's stateful tickets carry the session ID as the PSK identity (32
// bytes; a stateless ticket is longer), and only the first identity is
// looked up. TLS 1.2: the legacy session ID, unless a ticket is offered to a
// server that takes tickets (then the ID is the client's random choice).
std::string ResumptionId(SSL* ssl) {
  const unsigned char* p = nullptr;
  size_t len = 0;
  if (WillNegotiateTls13(ssl)) {
    // With tickets on, TLS 1.3 resumes statelessly; the legacy session ID is
    // only middlebox compatibility padding.
    if (TicketsOn(ssl) || SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &p, &len) != 1) return {};
    // PreSharedKeyExtension: identities<7..2^16-1> of { identity<1..2^16-1>, obfuscated_ticket_age(4) }.
    if (len < 4) return {};
    size_t list = ReadU16(p);
    size_t id_len = ReadU16(p + 2);
    if (list + 2 > len || id_len + 2 > list || id_len != SSL_MAX_SSL_SESSION_ID_LENGTH) return {};
    return std::string(reinterpret_cast<const char*>(p + 4), id_len);
  }
  if (TicketsOn(ssl) && SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_session_ticket, &p, &len) == 1 && len > 0) return {};
  len = SSL_client_hello_get0_session_id(ssl, &p);
  if (len == 0 || len > SSL_MAX_SSL_SESSION_ID_LENGTH) return {};
  return std::string(reinterpret_cast<const char*>(p), len);
}

bool StoreOn(SSL_CTX* ctx) {
  ContextData* d = ctx != nullptr ? GetContextData(ctx) : nullptr;
  return d != nullptr && d->session_store.load(std::memory_order_relaxed);
}

// SSL_CTX_set_client_hello_cb: pauses the first ClientHello that asks to
// resume until JS answered. A second ClientHello (after a HelloRetryRequest)
// goes on with the same answer.
int OnClientHello(SSL* ssl, int* alert, void* arg) {
  // A memory Session or a native-transport connection; a descriptor SSL (set_fd) has no store.
  SslOwner* s = SslOwner::FromSSL(ssl);
  SessionStoreState* state = s != nullptr ? s->store_state() : nullptr;
  if (state == nullptr) return SSL_CLIENT_HELLO_SUCCESS;
  SessionStoreState& st = *state;
  if (st.phase == Phase::kPending) return SSL_CLIENT_HELLO_RETRY;  // cycled again before the answer
  if (st.phase == Phase::kAnswered || !StoreOn(s->initial_ctx())) return SSL_CLIENT_HELLO_SUCCESS;
  std::string id = ResumptionId(ssl);
  if (id.empty()) return SSL_CLIENT_HELLO_SUCCESS;
  st.id = std::move(id);
  st.phase = Phase::kPending;
  return SSL_CLIENT_HELLO_RETRY;
}

// SSL_CTX_sess_set_get_cb: OpenSSL's lookup of a session ID (its internal
// cache is off): the store's answer, if it is that ID's session. OpenSSL
// takes its own reference (`copy`); ours stays for a second lookup.
SSL_SESSION* OnGetSession(SSL* ssl, const unsigned char* id, int len, int* copy) {
  *copy = 1;
  SslOwner* s = SslOwner::FromSSL(ssl);
  SessionStoreState* state = s != nullptr ? s->store_state() : nullptr;
  SSL_SESSION* found = state != nullptr ? state->found : nullptr;
  if (found == nullptr || len <= 0) return nullptr;
  unsigned int found_len = 0;
  const unsigned char* found_id = SSL_SESSION_get_id(found, &found_len);
  if (found_len != static_cast<unsigned int>(len) || std::memcmp(found_id, id, found_len) != 0) return nullptr;
  return found;
}

}  // namespace

void KeepForStore(SSL* ssl, SSL_CTX* session_ctx, SSL_SESSION* session, SessionStoreState* state) {
  if (!StoreOn(session_ctx) || state->fresh.size() >= kMaxFresh) return;
  unsigned int id_len = 0;
  const unsigned char* id = SSL_SESSION_get_id(session, &id_len);
  // No ID (a TLS 1.2 ticket), or a stateless TLS 1.3 ticket's placeholder ID: nothing to look up later.
  if (id_len == 0 || (SSL_version(ssl) >= TLS1_3_VERSION && TicketsOn(ssl))) return;
  int n = i2d_SSL_SESSION(session, nullptr);
  if (n <= 0) {
    ClearErrorQueue();
    return;
  }
  StoredSession kept;
  kept.der.resize(static_cast<size_t>(n));
  unsigned char* p = reinterpret_cast<unsigned char*>(&kept.der[0]);
  if (i2d_SSL_SESSION(session, &p) != n) {
    ClearErrorQueue();
    return;
  }
  kept.id.assign(reinterpret_cast<const char*>(id), id_len);
  kept.ttl_seconds = static_cast<long>(SSL_SESSION_get_timeout(session));
  state->fresh.push_back(std::move(kept));
}

bool AnswerStoreLookup(SessionStoreState* state, const unsigned char* der, size_t size) {
  state->phase = Phase::kAnswered;
  if (size == 0 || size > static_cast<size_t>(LONG_MAX)) return false;
  const unsigned char* p = der;
  SSL_SESSION* sess = d2i_SSL_SESSION(nullptr, &p, static_cast<long>(size));
  if (sess == nullptr) {
    ClearErrorQueue();  // a store holding garbage is a miss, not an error
    return false;
  }
  unsigned int len = 0;
  const unsigned char* id = SSL_SESSION_get_id(sess, &len);
  if (len != state->id.size() || std::memcmp(id, state->id.data(), len) != 0) {
    SSL_SESSION_free(sess);
    return false;
  }
  SSL_SESSION_free(state->found);
  state->found = sess;
  return true;
}

Napi::Value SetSessionStore(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  bool on = BoolArg(info, 1, "enabled");
  SSL_CTX* ctx = context->Get(env);
  if (context->role() == Role::kClient) ThrowError(env, kErrState, "the session store is for server contexts");
  ContextData* d = EnsureContextData(env, ctx);
  long client = SSL_CTX_get_session_cache_mode(ctx) & SSL_SESS_CACHE_CLIENT;
  if (on) {
    SSL_CTX_set_session_cache_mode(ctx, client | SSL_SESS_CACHE_SERVER | SSL_SESS_CACHE_NO_INTERNAL);
    SSL_CTX_sess_set_new_cb(ctx, Session::OnNewSession);
    SSL_CTX_sess_set_get_cb(ctx, OnGetSession);
    SSL_CTX_set_client_hello_cb(ctx, OnClientHello, nullptr);
  } else {
    SSL_CTX_set_client_hello_cb(ctx, nullptr, nullptr);
    SSL_CTX_sess_set_get_cb(ctx, nullptr);
    SSL_CTX_set_session_cache_mode(ctx, client | SSL_SESS_CACHE_SERVER);
  }
  d->session_store.store(on, std::memory_order_relaxed);
  return env.Undefined();
}

// sessionStoreRequest(): the session ID the paused handshake asks the store
// for (after cycle() reported kFlagSessionLookup), else null.
Napi::Value Session::SessionStoreRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  if (store_.phase != Phase::kPending) return env.Null();
  return Napi::Buffer<char>::Copy(env, store_.id.data(), store_.id.size());
}

// sessionStoreAnswer(session | null): what the store holds for that ID (DER
// from takeStoreSessions()), or null. Returns true when it decodes to that
// ID's session (OpenSSL still checks that it may resume it: lifetime,
// session id context, version, cipher); anything else means a full
// handshake. The next cycle() goes on with the handshake.
Napi::Value Session::SessionStoreAnswer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  GetIdle(env, "sessionStoreAnswer");
  Napi::Value v = Arg(info, 0);
  Bytes der;
  // A type check only: no JS runs, so the view stays valid below.
  if (!IsMissing(v) && (!v.IsTypedArray() || !ToBytes(v, &der)))
    ThrowExpected(env, "session", "a Buffer or Uint8Array, or null");
  if (store_.phase != Phase::kPending) ThrowError(env, kErrState, "no session store lookup is pending");
  return Napi::Boolean::New(env, AnswerStoreLookup(&store_, der.data, der.size));
}

// takeStoreSessions(): the new sessions since the last call (cycle() reports
// kFlagSession), as [{ id, session, ttl }] for the store.
Napi::Value Session::TakeStoreSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Get(env);
  // Taken out first: building the result may run JS (a prototype setter) that frees this session.
  std::vector<StoredSession> fresh;
  fresh.swap(store_.fresh);
  auto busy = Busy();
  return StoredSessionsToJs(env, fresh);
}

Napi::Array StoredSessionsToJs(Napi::Env env, const std::vector<StoredSession>& sessions) {
  Napi::Array out = Napi::Array::New(env, sessions.size());
  for (size_t i = 0; i < sessions.size(); ++i) {
    const StoredSession& s = sessions[i];
    Napi::Object entry = Napi::Object::New(env);
    // Defined, not set: a setter on Object.prototype must not run here.
    entry.DefineProperties({
        Napi::PropertyDescriptor::Value("id", Napi::Buffer<char>::Copy(env, s.id.data(), s.id.size()), napi_enumerable),
        Napi::PropertyDescriptor::Value("session", Napi::Buffer<char>::Copy(env, s.der.data(), s.der.size()),
                                        napi_enumerable),
        Napi::PropertyDescriptor::Value("ttl", Napi::Number::New(env, static_cast<double>(s.ttl_seconds)),
                                        napi_enumerable),
    });
    out.Set(static_cast<uint32_t>(i), entry);
  }
  return out;
}

}  // namespace rxtls
