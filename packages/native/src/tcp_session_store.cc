// The session store on the native transport (session_store.h): an accepted
// connection whose ClientHello asks to resume pauses in OpenSSL's
// client-hello callback; the server's owner is asked once (sessionLookup,
// with the connection's wrapper and the ID), reading stops (the peer's bytes
// wait in the kernel) and the handshake timer keeps running. JS answers
// through sessionStoreAnswer(), from any callback or none; the handshake goes
// on from the loop. New sessions are kept per connection for JS to store
// (takeStoreSessions(), on the `session` callback).
#include <openssl/ssl.h>

#include "session_store.h"
#include "tcp_connection.h"
#include "util/args.h"
#include "util/errors.h"

namespace rxtls {

using Phase = SessionStoreState::Phase;

void TcpConn::NewSession(SSL* ssl, SSL_SESSION* session) {
  new_session_ = true;
  if (is_server_) KeepForStore(ssl, initial_ctx_, session, &store_);
}

bool TcpConn::StoreLookup(Napi::Env env, int err) {
  if (err != SSL_ERROR_WANT_CLIENT_HELLO_CB || store_.phase != Phase::kPending) return false;
  if (store_waiting_) return true;  // cycled again (resume()) before the answer: still waiting
  store_waiting_ = true;
  StopReading();
  if (server_ == nullptr || loop_->tearing_down()) {
    // Nobody to ask: a full handshake, from the loop.
    AnswerStoreLookup(&store_, nullptr, 0);
    store_waiting_ = false;
    StartReading();
    deferred_ = true;
    ArmTimer();
    return true;
  }
  // The wrapper is made now (OnSecure reuses it): JS answers through it.
  Napi::Object wrapper = MakeWrapper(env);
  Napi::Value id = Napi::Buffer<char>::Copy(env, store_.id.data(), store_.id.size());
  try {
    // In the server's async context: the connection has none of its own yet.
    loop_->on_session_lookup.MakeCallback(server_->owner(), {wrapper, id}, server_->async_context());
  } catch (const Napi::Error& e) {
    // The lookup was never started: the handshake timeout ends the wait.
    ReportUncaught(env, e);
  }
  return true;
}

// sessionStoreAnswer(session | null): the store's answer to the lookup
// `sessionLookup` asked for (DER from takeStoreSessions()), or null. True
// when it decodes to that ID's session (OpenSSL still checks that it may
// resume it); anything else means a full handshake. The handshake and
// reading go on from the loop, not inside this call.
Napi::Value TcpConnection::SessionStoreAnswer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = Arg(info, 0);
  Bytes der;
  // A type check only: no JS runs, so the view stays valid below.
  if (!IsMissing(v) && (!v.IsTypedArray() || !ToBytes(v, &der)))
    ThrowExpected(env, "session", "a Buffer or Uint8Array, or null");
  TcpConn* c = GetOpen(env);
  if (!c->store_waiting_ || c->store_.phase != Phase::kPending)
    ThrowError(env, kErrState, "no session store lookup is pending");
  bool usable = AnswerStoreLookup(&c->store_, der.data, der.size);
  c->store_waiting_ = false;
  c->StartReading();
  c->deferred_ = true;
  c->ArmTimer();
  return Napi::Boolean::New(env, usable);
}

// takeStoreSessions(): the new sessions since the last call (the `session`
// callback says when), as [{ id, session, ttl }] for the store.
Napi::Value TcpConnection::TakeStoreSessions(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcpConn* c = Get(env);
  // Taken out first: nothing below can reach this connection's list again.
  std::vector<StoredSession> fresh;
  fresh.swap(c->store_.fresh);
  return StoredSessionsToJs(env, fresh);
}

}  // namespace rxtls
