// The loop side of TcpConn: libuv callbacks, the SSL driving, and the few
// JS calls a connection makes (secure, data, drain, end, close).
#include <openssl/err.h>

#include <algorithm>
#include <new>

#include "buffer_bio.h"
#include "ssl_failure.h"
#include "tcp_connection.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

constexpr size_t kMaxWriteBufs = 32;
// A record's worth of room is kept free in the slab for each SSL_read.
constexpr size_t kReadRoom = 16384;
// Reading stops while this many high-water marks of ciphertext wait for the
// kernel and the handler kept writing after write() said false: memory stays
// bounded. Not for a writer that waits for drain, however large its chunks:
// both ends of a full-duplex transfer would stop reading, and each wait for
// the other's drain forever.
constexpr size_t kReadStopFactor = 4;

void NoRelease() {}

}  // namespace

void TcpConn::OnConnect(uv_connect_t* req, int status) {
  auto* c = static_cast<TcpConn*>(req->data);
  bool ok = FromLoop([&] {
    c->connecting_ = false;
    if (status == UV_ECANCELED || c->closing_) return;
    Napi::Env env(c->loop_->env());
    Napi::HandleScope scope(env);
    if (status < 0) {
      c->FailUv(env, status, "connect");
      return;
    }
    c->Start();
  });
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

void TcpConn::OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf) {
  auto* c = static_cast<TcpConn*>(handle->data);
  try {
    // Straight into the SSL's input chain: no copy between kernel and OpenSSL.
    *buf = c->in_->Reserve();
  } catch (const std::bad_alloc&) {
    *buf = uv_buf_init(nullptr, 0);  // libuv reports UV_ENOBUFS
  }
}

void TcpConn::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* c = static_cast<TcpConn*>(stream->data);
  bool ok = FromLoop([&] {
    c->in_->Commit(nread > 0 ? static_cast<size_t>(nread) : 0);
    if (nread == 0 || c->closing_) return;
    Napi::Env env(c->loop_->env());
    Napi::HandleScope scope(env);
    if (nread == UV_EOF) {
      c->tcp_eof_ = true;
      c->StopReading();
    } else if (nread < 0) {
      c->FailUv(env, static_cast<int>(nread), "read");
      return;
    } else {
      c->last_activity_ = uv_now(c->loop_->loop());
    }
    c->Process(env);
    if (!c->closing_ && c->reading_ && c->overrun_ && c->Buffered() >= kReadStopFactor * c->settings_.high_water) {
      c->auto_paused_ = true;
      c->StopReading();
    }
  });
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

bool TcpConn::CallJsDuringHandshake() const { return HandshakeMayCallJs(ssl_); }

bool TcpConn::Handshake(Napi::Env env) {
  int r, err = SSL_ERROR_NONE;
  if (TakeStep(&r, &err)) {
    // The step ran on the pool (tcp_connection_offload.cc); its errors are on this thread's queue again.
  } else if (QueueStep()) {
    return false;
  } else {
    CallScope<void (*)()> scope(depth_, NoRelease);
    ClearErrorQueue();
    if (CallJsDuringHandshake()) {
      // SNI/keylog callbacks run JS: inside a callback scope, in the async
      // context JS expects (the server's, or this client's).
      napi_async_context ctx = server_ != nullptr ? server_->async_context() : async_;
      Napi::CallbackScope cb(env, ctx);
      r = SSL_do_handshake(ssl_);
    } else {
      r = SSL_do_handshake(ssl_);
    }
    if (r != 1) err = SSL_get_error(ssl_, r);
  }
  if (closing_) return false;  // destroyed from a callback
  if (r != 1 && StoreLookup(env, err)) return false;  // waits for the session store (tcp_session_store.cc)
  bool want = r != 1 && (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE);
  if ((r == 1 || want) && !has_callback_error()) {
    if (r == 1) secure_ = true;
    return true;
  }
  Napi::Error error = SslError(env, r == 1 ? SSL_ERROR_SSL : err, "handshake");
  Flush(env);  // the alert that tells the peer why
  Fail(env, error);
  return false;
}

Napi::Error TcpConn::SslError(Napi::Env env, int err, const char* during) {
  if (has_callback_error()) return TakeCallbackFailure(env, secure_);
  Napi::Object extra = Napi::Object::New(env);
  // The buffer BIO never reports EOF; a syscall error with an empty queue is the nearest thing.
  bool eof = (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) || IsUnexpectedEof(ERR_peek_last_error());
  SslFailure failure = DescribeSslFailure(env, ssl_, during, eof, extra);
  return MakeOpenSSLError(env, failure.code, failure.what, extra);
}

size_t TcpConn::Decrypt(Napi::Env env, Napi::Error* error, bool* more) {
  *more = false;
  if (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) {
    peer_ended_ = true;
    return 0;
  }
  PlaintextSlab& slab = loop_->slab();
  slab.Begin(env, kReadRoom);
  CallScope<void (*)()> scope(depth_, NoRelease);
  ClearErrorQueue();
  for (;;) {
    // A record's plaintext must fit; the rest waits for the next batch.
    if (slab.room() < kReadRoom) {
      *more = in_->size() > 0 || SSL_has_pending(ssl_) == 1;
      break;
    }
    size_t n = 0;
    if (SSL_read_ex(ssl_, slab.cursor(), slab.room(), &n) == 1) {
      slab.Advance(n);
      continue;
    }
    int err = SSL_get_error(ssl_, 0);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) break;
    if (err == SSL_ERROR_ZERO_RETURN) {
      peer_ended_ = true;
      break;
    }
    *error = SslError(env, err, "read");
    break;
  }
  return slab.batch_length();
}

void TcpConn::Process(Napi::Env env) {
  if (closing_ || processing_ || ssl_ == nullptr || step_in_flight()) return;
  processing_ = true;
  struct Done {
    bool& flag;
    ~Done() { flag = false; }
  } done{processing_};
  if (proxy_pending_ && !ProxyHeaderRead(env)) return;  // the PROXY header first (tcp_proxy.cc)
  if (!secure_) {
    if (!Handshake(env)) return;
    Flush(env);
    if (closing_) return;
    if (secure_) OnSecure(env);
    if (closing_) return;
  }
  if (secure_ && !paused_) {
    Napi::Error error;
    for (bool more = true; more && !paused_;) {
      size_t n = Decrypt(env, &error, &more);
      Flush(env);  // what reading produced: a key update answer, an alert
      if (closing_) return;
      if (n > 0 && !DeliverData(env)) return;
      if (!error.IsEmpty()) break;
    }
    if (new_session_) {
      new_session_ = false;
      if (!Call(env, owner_.Value(), loop_->on_session, {})) return;
    }
    if (!error.IsEmpty()) {
      Fail(env, error);
      return;
    }
    if (pha_pending_ && !PhaCheck(env)) return;  // tcp_pha.cc
    if (peer_ended_ && !end_delivered_) {
      end_delivered_ = true;
      if (!Call(env, owner_.Value(), loop_->on_end, {})) return;
      if (!settings_.allow_half_open) End(env);
      if (closing_) return;
    }
  }
  // The TCP end is acted on once what came before it was processed (also
  // during the handshake: a peer that leaves mid-handshake fails at once).
  if (tcp_eof_ && !eof_handled_ && (in_->size() == 0 || peer_ended_ || !secure_)) {
    eof_handled_ = true;
    OnEof(env);
  }
}

bool TcpConn::DeliverData(Napi::Env env) {
  const PlaintextSlab& slab = loop_->slab();
  // What the handler writes (and a close_notify from end()) goes out in one
  // syscall once it returns: an answer and its end are one segment, not two.
  batching_ = true;
  bool open = Call(env, owner_.Value(), loop_->on_data,
                    {slab.buffer(), Napi::Number::New(env, static_cast<double>(slab.batch_offset())),
                     Napi::Number::New(env, static_cast<double>(slab.batch_length()))});
  batching_ = false;
  if (!open) return false;
  Flush(env);
  if (closing_) return false;
  // write() said false while batching, but the kernel took it all at once: no OnWrite will say so.
  if (need_drain_ && writing_ == 0 && Buffered() < settings_.high_water) {
    need_drain_ = false;
    overrun_ = false;
    if (!Call(env, owner_.Value(), loop_->on_drain, {})) return false;
  }
  return true;
}

void TcpConn::OnSecure(Napi::Env env) {
  handshake_deadline_ = 0;
  last_activity_ = uv_now(loop_->loop());
  ArmTimer();
  SendEarly(env);
  if (closing_) return;
  if (server_ != nullptr) {
    // The first JS call of an accepted connection: its async context is made
    // inside the server's, so AsyncLocalStorage set around listen() carries over.
    Napi::Object wrapper = MakeWrapper(env);
    {
      Napi::CallbackScope cb(env, server_->async_context());
      if (napi_async_init(env, wrapper, Napi::String::New(env, "rxtls.TlsConnection"), &async_) != napi_ok)
        async_ = nullptr;
    }
    if (closing_) return;
    Napi::Value owner;
    Call(env, server_->owner(), loop_->on_secure, {wrapper}, &owner);
    // Kept even when the handler closed the connection: its onclose is still due.
    if (owner.IsObject()) owner_ = Napi::Persistent(owner.As<Napi::Object>());
    // No owner: the server's handler threw (reported as uncaught); drop the connection.
    else Close();
    if (closing_) return;
  } else {
    if (!Call(env, owner_.Value(), loop_->on_secure, {})) return;
  }
  if (end_pending_) {
    end_pending_ = false;
    End(env);
  }
  // Early writes that filled the buffer may all have gone at once: no OnWrite will say so.
  if (need_drain_ && !closing_ && writing_ == 0 && Buffered() < settings_.high_water) {
    need_drain_ = false;
    overrun_ = false;
    Call(env, owner_.Value(), loop_->on_drain, {});
  }
}

void TcpConn::SendEarly(Napi::Env env) {
  if (early_.empty()) return;
  std::vector<std::string> early;
  early.swap(early_);
  for (const std::string& s : early)
    if (!SslWrite(env, reinterpret_cast<const uint8_t*>(s.data()), s.size())) return;
  Flush(env);
}

bool TcpConn::SslWrite(Napi::Env env, const uint8_t* data, size_t size) {
  int err = SSL_ERROR_NONE;
  {
    CallScope<void (*)()> scope(depth_, NoRelease);
    ClearErrorQueue();
    size_t written = 0;
    // The buffer BIO takes everything, so one call writes the whole chunk.
    if (SSL_write_ex(ssl_, data, size, &written) == 1 && written == size) return true;
    err = SSL_get_error(ssl_, 0);
  }
  Fail(env, SslError(env, err, "write"));
  return false;
}

bool TcpConn::Write(Napi::Env env, const std::vector<Bytes>& chunks) {
  if (!secure_) {
    // A client before its handshake: kept (copied) and sent once secure.
    for (const Bytes& b : chunks) early_.emplace_back(reinterpret_cast<const char*>(b.data), b.size);
    bool ok = Buffered() < settings_.high_water;
    if (!ok) need_drain_ = true;
    return ok;
  }
  // Written past a false without waiting for drain: reading may stop (OnRead).
  if (need_drain_) overrun_ = true;
  for (const Bytes& b : chunks)
    if (!SslWrite(env, b.data, b.size)) return false;
  last_activity_ = uv_now(loop_->loop());
  if (!batching_) Flush(env);
  bool ok = Buffered() < settings_.high_water;
  if (!ok) need_drain_ = true;
  return ok;
}

void TcpConn::End(Napi::Env env) {
  if (closing_ || ended_) return;
  if (!secure_) {
    end_pending_ = true;
    return;
  }
  ended_ = true;
  {
    CallScope<void (*)()> scope(depth_, NoRelease);
    ClearErrorQueue();
    // 0 (sent, the peer's not yet in) and 1 are both fine; a failure leaves
    // nothing to say, and the TCP end follows anyway.
    SSL_shutdown(ssl_);
    ClearErrorQueue();
  }
  if (!batching_) Flush(env);
}

void TcpConn::Flush(Napi::Env env) {
  if (closing_ || writing_ > 0) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(&tcp_);
  if (out_->size() > 0) {
    uv_buf_t bufs[kMaxWriteBufs];
    size_t n = out_->Peek(bufs, kMaxWriteBufs);
    int r = uv_try_write(stream, bufs, static_cast<unsigned int>(n));
    if (r > 0) {
      out_->Consume(static_cast<size_t>(r));
    } else if (r != UV_EAGAIN) {
      FailUv(env, r, "write");
      return;
    }
    if (out_->size() > 0) {
      // The rest from the same blocks: they stay put until OnWrite consumes them.
      n = out_->Peek(bufs, kMaxWriteBufs);
      size_t total = 0;
      for (size_t i = 0; i < n; ++i) total += bufs[i].len;
      r = uv_write(&write_req_, stream, bufs, static_cast<unsigned int>(n), OnWrite);
      if (r != 0) {
        FailUv(env, r, "write");
        return;
      }
      writing_ = total;
      return;
    }
  }
  MaybeShutdown();
}

void TcpConn::OnWrite(uv_write_t* req, int status) {
  auto* c = static_cast<TcpConn*>(req->data);
  bool ok = FromLoop([&] {
    size_t n = c->writing_;
    c->writing_ = 0;
    if (status == UV_ECANCELED || c->closing_) return;
    Napi::Env env(c->loop_->env());
    Napi::HandleScope scope(env);
    if (status < 0) {
      c->FailUv(env, status, "write");
      return;
    }
    c->out_->Consume(n);
    c->last_activity_ = uv_now(c->loop_->loop());
    c->Flush(env);
    if (c->closing_) return;
    size_t buffered = c->Buffered();
    if (buffered >= c->settings_.high_water) return;
    if (c->auto_paused_) {
      c->auto_paused_ = false;
      c->StartReading();
    }
    if (c->need_drain_) {
      c->need_drain_ = false;
      c->overrun_ = false;
      c->Call(env, c->owner_.Value(), c->loop_->on_drain, {});
    }
  });
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

void TcpConn::MaybeShutdown() {
  if (!ended_ || shutting_ || fin_sent_ || closing_ || writing_ > 0 || out_->size() > 0) return;
  shutting_ = true;
  if (uv_shutdown(&shutdown_req_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    shutting_ = false;
    Close();
  }
}

void TcpConn::OnShutdown(uv_shutdown_t* req, int status) {
  auto* c = static_cast<TcpConn*>(req->data);
  bool ok = FromLoop([&] {
    c->shutting_ = false;
    if (status == UV_ECANCELED || c->closing_) return;
    c->fin_sent_ = true;
    if (status >= 0 && c->want_finish_ && !c->owner_.IsEmpty()) {
      // Everything written, close_notify and FIN included, is the kernel's (net.Socket's 'finish').
      Napi::Env env(c->loop_->env());
      Napi::HandleScope scope(env);
      c->Call(env, c->owner_.Value(), c->loop_->on_finish, {});
      if (c->closing_) return;
    }
    // Both directions are done: the peer's FIN came first.
    if (c->tcp_eof_ || status < 0) c->Close();
  });
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

void TcpConn::OnEof(Napi::Env env) {
  if (peer_ended_) {
    // A clean end: close once our side is done too (half-open: when JS ends).
    if (fin_sent_) Close();
    else if (!settings_.allow_half_open) End(env);
    return;
  }
  if (!secure_) Fail(env, MakeError(env, kErrHandshake, "peer closed the connection during the TLS handshake"));
  else Fail(env, MakeError(env, kErrTruncated, "connection closed without close_notify: the data may be truncated"));
}

void TcpConn::ArmTimer() {
  if (closing_ || open_handles_ < 2) return;
  uint64_t now = uv_now(loop_->loop());
  uint64_t due;
  if (deferred_) due = now;
  else if (!secure_ && handshake_deadline_ > 0) due = handshake_deadline_;
  else if (secure_ && settings_.idle_timeout_ms > 0) due = last_activity_ + settings_.idle_timeout_ms;
  else {
    uv_timer_stop(&timer_);
    return;
  }
  uv_timer_start(&timer_, OnTimer, due > now ? due - now : 0, 0);
}

// One timer per connection serves the handshake deadline, the idle timeout
// (checked against the last activity when it fires, so reads and writes
// never touch it) and input left to process after resume().
void TcpConn::OnTimer(uv_timer_t* timer) {
  auto* c = static_cast<TcpConn*>(timer->data);
  bool ok = FromLoop([&] {
    if (c->closing_) return;
    Napi::Env env(c->loop_->env());
    Napi::HandleScope scope(env);
    if (c->deferred_) {
      c->deferred_ = false;
      c->Process(env);
      c->ArmTimer();
      return;
    }
    uint64_t now = uv_now(c->loop_->loop());
    if (!c->secure_ && c->handshake_deadline_ > 0 && now >= c->handshake_deadline_) {
      c->Fail(env, c->HandshakeTimeout(env));
      return;
    }
    if (c->secure_ && c->settings_.idle_timeout_ms > 0 && now - c->last_activity_ >= c->settings_.idle_timeout_ms) {
      c->Fail(env, MakeError(env, kErrTimeout, "connection idle for more than " +
                                                   std::to_string(c->settings_.idle_timeout_ms) + " ms"));
      return;
    }
    c->ArmTimer();
  });
  // A failure that could not even be reported: the connection closes.
  if (!ok) c->Close();
}

void TcpConn::FailUv(Napi::Env env, int status, const char* what) {
  if (closing_ || failed_) return;
  if (!secure_ && server_ != nullptr) {
    // A handshake that failed: the server's error handler hears of it now.
    Fail(env, UvError(env, status, what, true));
    return;
  }
  // onclose reports it, building the error from these parts (Finish). A
  // secure connection JS has not been given yet (a client that resets right
  // after its Finished, as openssl s_time does) has no onclose: nothing is built.
  failed_ = true;
  uv_failure_ = status;
  uv_failure_what_ = what;
  Close();
}

void TcpConn::Fail(Napi::Env env, Napi::Error error) {
  if (closing_ || failed_) return;
  failed_ = true;
  if (!secure_ && server_ != nullptr) {
    // Before the handshake completed a server's connection has no JS face:
    // the server's error handler hears of it.
    server_->ReportError(env, error.Value());
  } else {
    error_ = Napi::Reference<Napi::Value>::New(error.Value(), 1);
  }
  Close();
}

}  // namespace rxtls
