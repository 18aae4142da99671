// TcpConn setup and teardown, and its JS wrapper TcpConnection. The loop
// side (reads, writes, timers, the SSL driving) is tcp_connection_io.cc.
#include "tcp_connection.h"

#include <openssl/err.h>

#include <new>

#include "buffer_bio.h"
#include "context.h"
#include "session_der.h"
#include "ssl_client_options.h"
#include "ssl_queries.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/err_queue.h"
#include "util/errors.h"
#include "util/property_keys.h"

namespace rxtls {

TcpConn::TcpConn(TcpLoop* loop, const ConnectionSettings& settings) : loop_(loop), settings_(settings) {
  tcp_.data = this;
  timer_.data = this;
  connect_req_.data = this;
  write_req_.data = this;
  shutdown_req_.data = this;
  loop_->Track(this);
  CounterAdd("TcpConnection", 1);
}

TcpConn::~TcpConn() {
  CounterAdd("TcpConnection", -1);
  if (wrap_ != nullptr) wrap_->Detach();
  if (ssl_ != nullptr) SSL_free(ssl_);  // and both buffer BIOs with it
  if (async_ != nullptr) napi_async_destroy(loop_->env(), async_);
  wrapper_.Reset();
  owner_.Reset();
  error_.Reset();
  if (server_ != nullptr) server_->Unref();
  loop_->Untrack(this);  // last: may end the loop's teardown
}

bool TcpConn::InitHandles() {
  if (uv_tcp_init(loop_->loop(), &tcp_) != 0) return false;
  ++open_handles_;
  if (uv_timer_init(loop_->loop(), &timer_) != 0) return false;
  ++open_handles_;
  // Timers never keep the process alive; the socket does (until unref()).
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  return true;
}

bool TcpConn::InitSsl(SSL_CTX* ctx, bool server) {
  is_server_ = server;
  ClearErrorQueue();
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return false;
  BIO* rbio = NewBufferBio();
  BIO* wbio = NewBufferBio();
  if (rbio == nullptr || wbio == nullptr) {
    BIO_free(rbio);
    BIO_free(wbio);
    return false;
  }
  SSL_set_bio(ssl_, rbio, wbio);  // ssl_ owns both from here
  in_ = BufferBioChain(rbio);
  out_ = BufferBioChain(wbio);
  if (!AttachTo(ssl_)) return false;
  if (server) SSL_set_accept_state(ssl_);
  return true;
}

void TcpConn::Accept(TcpServerCore* server) {
  auto* c = new (std::nothrow) TcpConn(server->loop(), server->settings());
  if (c == nullptr) return;
  c->server_ = server;
  server->Ref();
  if (!c->InitHandles() ||
      uv_accept(reinterpret_cast<uv_stream_t*>(server->handle()), reinterpret_cast<uv_stream_t*>(&c->tcp_)) != 0 ||
      !c->InitSsl(server->ctx(), true)) {
    ClearErrorQueue();
    c->failed_ = true;
    c->Close();
    return;
  }
  if (!c->ProxyAccept()) return;  // tcp_proxy.cc
  c->Start();
}

void TcpConn::Start(bool defer) {
  if (settings_.no_delay) uv_tcp_nodelay(&tcp_, 1);
  if (settings_.keep_alive) uv_tcp_keepalive(&tcp_, 1, settings_.keep_alive_delay_s);
  uint64_t now = uv_now(loop_->loop());
  last_activity_ = now;
  if (settings_.handshake_timeout_ms > 0 && handshake_deadline_ == 0)
    handshake_deadline_ = now + settings_.handshake_timeout_ms;
  if (defer) deferred_ = true;
  ArmTimer();
  StartReading();
  if (!is_server_ && !defer) {
    // A client speaks first.
    Napi::Env env(loop_->env());
    Napi::HandleScope scope(env);
    Process(env);
  }
}

void TcpConn::StartReading() {
  if (reading_ || closing_ || tcp_eof_ || paused_ || auto_paused_ || connecting_ || store_waiting_ || step_in_flight()) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
}

void TcpConn::StopReading() {
  if (!reading_) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp_));
  reading_ = false;
}

void TcpConn::Teardown() {
  // No JS from here on: the owner's close callback is skipped.
  Close();
}

void TcpConn::Close() {
  if (closing_) return;
  closing_ = true;
  StopReading();
  CancelStep();
  // Best effort for what is still queued (the alert that says why, a
  // close_notify): one non-blocking attempt, then the socket closes.
  if (writing_ == 0 && !step_in_flight() && out_ != nullptr && out_->size() > 0 && open_handles_ == 2) {
    uv_buf_t bufs[16];
    size_t n = out_->Peek(bufs, 16);
    uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, static_cast<unsigned int>(n));
  }
  int handles = open_handles_;
  if (handles == 0) {
    Finish();
    return;
  }
  // Closed in reverse order of initialisation; Finish() runs after the last.
  if (handles == 2) uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
}

void TcpConn::OnClosed(uv_handle_t* handle) {
  auto* c = static_cast<TcpConn*>(handle->data);
  if (--c->open_handles_ == 0) c->Finish();
}

void TcpConn::Finish() {
  if (step_in_flight()) {
    // The pool thread still has the SSL: OnStepDone finishes.
    offload_.finish_pending = true;
    return;
  }
  if (!loop_->tearing_down() && !owner_.IsEmpty()) {
    FromLoop([&] {
      Napi::Env env(loop_->env());
      Napi::HandleScope scope(env);
      if (uv_failure_ != 0) {
        // close(undefined, message, syscallCode): JS makes the SocketError (FailUv set no error_).
        Call(env, owner_.Value(), loop_->on_close,
             {env.Undefined(), Napi::String::New(env, UvMessage(uv_failure_, uv_failure_what_)),
              Napi::String::New(env, uv_err_name(uv_failure_))});
      } else {
        Call(env, owner_.Value(), loop_->on_close, {error_.IsEmpty() ? env.Undefined() : error_.Value()});
      }
    });
  }
  delete this;
}

bool TcpConn::Call(Napi::Env env, Napi::Value recv, const Napi::FunctionReference& fn,
                   std::initializer_list<napi_value> args, Napi::Value* result) {
  if (loop_->tearing_down() || fn.IsEmpty()) return false;
  try {
    Napi::Value r = fn.MakeCallback(recv, args, async_);
    if (result != nullptr) *result = r;
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e);
  }
  return !closing_;
}

void TcpConn::Destroy(Napi::Env env) {
  if (closing_) return;
  if (!secure_ && error_.IsEmpty())
    error_ = Napi::Reference<Napi::Value>::New(MakeError(env, kErrHandshake, "connection closed before the TLS handshake completed").Value(), 1);
  Close();
}

void TcpConn::Pause() {
  paused_ = true;
  StopReading();
}

void TcpConn::Resume() {
  if (!paused_ || closing_) return;
  paused_ = false;
  StartReading();
  // Input read before the pause is processed from the loop, not inside this call.
  if (!step_in_flight() && (in_->size() > 0 || (ssl_ != nullptr && SSL_has_pending(ssl_) == 1) || (tcp_eof_ && !eof_handled_))) {
    deferred_ = true;
    ArmTimer();
  }
}

size_t TcpConn::Buffered() const {
  size_t n = out_ != nullptr && !step_in_flight() ? out_->size() : 0;
  for (const auto& s : early_) n += s.size();
  return n;
}

// --- TcpConnection: the JS face ---------------------------------------------

Napi::Function TcpConnection::Init(Napi::Env env) {
  return DefineClass(env, "TcpConnection",
                     {
                         InstanceMethod("write", &TcpConnection::Write),
                         InstanceMethod("end", &TcpConnection::End),
                         InstanceMethod("destroy", &TcpConnection::Destroy),
                         InstanceMethod("pause", &TcpConnection::Pause),
                         InstanceMethod("resume", &TcpConnection::Resume),
                         InstanceMethod("bufferedAmount", &TcpConnection::Buffered),
                         InstanceMethod("info", &TcpConnection::Info),
                         InstanceMethod("peerCertificate", &TcpConnection::PeerCertificate),
                         InstanceMethod("peerCertificateChain", &TcpConnection::PeerCertificateChain),
                         InstanceMethod("alpnProtocol", &TcpConnection::AlpnProtocol),
                         InstanceMethod("isResumed", &TcpConnection::IsResumed),
                         InstanceMethod("getSession", &TcpConnection::GetSession),
                         InstanceMethod("exportKeyingMaterial", &TcpConnection::ExportKeyingMaterial),
                         InstanceMethod("address", &TcpConnection::Address),
                         InstanceMethod("setNoDelay", &TcpConnection::SetNoDelay),
                         InstanceMethod("setKeepAlive", &TcpConnection::SetKeepAlive),
                         InstanceMethod("ref", &TcpConnection::Ref),
                         InstanceMethod("unref", &TcpConnection::Unref),
                         InstanceMethod("isClosed", &TcpConnection::IsClosed),
                         InstanceMethod("watchFinish", &TcpConnection::WatchFinish),
                         InstanceMethod("isFinished", &TcpConnection::IsFinished),
                         InstanceMethod("sessionStoreAnswer", &TcpConnection::SessionStoreAnswer),
                         InstanceMethod("takeStoreSessions", &TcpConnection::TakeStoreSessions),
                         InstanceMethod("verifyClientPostHandshake", &TcpConnection::VerifyClientPostHandshake),
                     });
}

TcpConnection::TcpConnection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpConnection>(info) {
  // Made only by the transport: JS cannot make the External that carries the core.
  if (!Arg(info, 0).IsExternal()) ThrowError(info.Env(), kErrState, "a TcpConnection is made by tcpConnect() or a server");
  core_ = info[0].As<Napi::External<TcpConn>>().Data();
  CounterAdd("TcpConnectionWrap", 1);
}

TcpConnection::~TcpConnection() {
  CounterAdd("TcpConnectionWrap", -1);
  if (core_ != nullptr) core_->wrap_ = nullptr;
}

Napi::Object TcpConn::MakeWrapper(Napi::Env env) {
  // Made early for a session store lookup: the same wrapper when secure.
  if (!wrapper_.IsEmpty()) return wrapper_.Value();
  Napi::Object wrapper = loop_->connection_ctor.New({Napi::External<TcpConn>::New(env, this)});
  wrap_ = Napi::ObjectWrap<TcpConnection>::Unwrap(wrapper);
  wrapper_ = Napi::Persistent(wrapper);
  return wrapper;
}

TcpConn* TcpConn::Create(Napi::Env env, TcpLoop* loop, const ConnectionSettings& settings, SSL_CTX* ctx, bool server,
                         bool verify_explicit, const ClientSslOptions* client) {
  auto* c = new TcpConn(loop, settings);
  c->failed_ = true;  // until Own(): a close reports nothing
  if (!c->InitHandles() || !c->InitSsl(ctx, server)) {
    c->Close();
    ThrowOpenSSLError(env, kErrCrypto, "could not create the connection");
  }
  if (client == nullptr) return c;
  try {
    ApplyClientSslOptions(env, c->ssl_, verify_explicit, *client);
  } catch (...) {
    c->Close();
    throw;
  }
  return c;
}

Napi::Object TcpConn::Own(Napi::Env env, Napi::Object owner) {
  failed_ = false;
  if (napi_async_init(env, owner, Napi::String::New(env, "rxtls.TlsConnection"), &async_) != napi_ok) async_ = nullptr;
  owner_ = Napi::Persistent(owner);
  return MakeWrapper(env);
}

// tcpConnect(context, ip, port, options, owner): options are the client
// session options (servername, verifyHost, verifyPeer, alpnProtocols,
// session, postHandshakeAuth), the connection settings (handshakeTimeout, …)
// and localAddress.
Napi::Value TcpConnection::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  std::string ip = StringArg(info, 1, "ip");
  int port = static_cast<int>(IntArg(info, 2, "port", 1, 65535));
  Napi::Value opts_v = Arg(info, 3);
  if (!opts_v.IsObject()) ThrowExpected(env, "options", "an object");
  Napi::Object opts = opts_v.As<Napi::Object>();
  ClientSslOptions client = ReadClientSslOptions(env, opts, false);
  ConnectionSettings settings = ReadConnectionSettings(env, opts);
  std::string local;
  Napi::Value local_v = opts.Get("localAddress");
  if (!IsMissing(local_v)) {
    if (!local_v.IsString()) ThrowExpected(env, "localAddress", "an IP address");
    local = local_v.As<Napi::String>().Utf8Value();
  }
  if (!Arg(info, 4).IsObject()) ThrowExpected(env, "owner", "an object");
  Napi::Object owner = info[4].As<Napi::Object>();
  sockaddr_storage addr, local_addr;
  if (!ParseSockaddr(ip, port, &addr)) ThrowExpected(env, "ip", "an IP address");
  if (!local.empty() && !ParseSockaddr(local, 0, &local_addr)) ThrowExpected(env, "localAddress", "an IP address");
  // Every argument is read: now the context (a getter could have freed it).
  SSL_CTX* ctx = context->Get(env);
  CheckTransportRole(env, *context, false);
  TcpLoop* loop = TcpLoop::Get(env);

  TcpConn* c = TcpConn::Create(env, loop, settings, ctx, false, context->verify_explicit(), &client);
  int r = local.empty() ? 0 : uv_tcp_bind(&c->tcp_, reinterpret_cast<const sockaddr*>(&local_addr), 0);
  if (r == 0) r = uv_tcp_connect(&c->connect_req_, &c->tcp_, reinterpret_cast<const sockaddr*>(&addr), TcpConn::OnConnect);
  if (r != 0) {
    c->Close();
    throw UvError(env, r, "connect " + ip + ":" + std::to_string(port));
  }
  c->connecting_ = true;
  Napi::Object wrapper = c->Own(env, owner);
  if (settings.handshake_timeout_ms > 0) {
    c->handshake_deadline_ = uv_now(loop->loop()) + settings.handshake_timeout_ms;
    c->ArmTimer();
  }
  return wrapper;
}

TcpConn* TcpConnection::Get(Napi::Env env) const {
  if (core_ == nullptr) ThrowError(env, kErrClosed, "connection is closed");
  return core_;
}

TcpConn* TcpConnection::GetOpen(Napi::Env env) const {
  TcpConn* c = Get(env);
  if (c->closing_) ThrowError(env, kErrClosed, "connection is closed");
  if (c->depth_.inside()) ThrowError(env, kErrState, "cannot drive the connection from inside an OpenSSL callback");
  return c;
}

// write(data | data[]): true while the unsent ciphertext is under the high-water mark.
Napi::Value TcpConnection::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // Every chunk is read (array getters may run anything) before the state is checked.
  std::vector<Bytes> chunks;
  Napi::Value data = Arg(info, 0);
  auto take = [&](const Napi::Value& v) {
    Bytes b;
    if (!ToBytes(v, &b)) ThrowExpected(env, "data", "a Buffer, Uint8Array, string or an array of them");
    if (b.size > 0) chunks.push_back(std::move(b));
  };
  if (data.IsArray()) {
    Napi::Array arr = data.As<Napi::Array>();
    for (uint32_t i = 0, n = arr.Length(); i < n; ++i) take(arr.Get(i));
  } else {
    take(data);
  }
  TcpConn* c = GetOpen(env);
  if (c->failed_) ThrowError(env, kErrClosed, "connection has failed");
  if (c->ended_ || c->end_pending_) ThrowError(env, kErrState, "cannot write after end()");
  if (c->pha_pending_) ThrowError(env, kErrState, "cannot write while a post-handshake authentication is running");
  return Napi::Boolean::New(env, c->Write(env, chunks));
}

Napi::Value TcpConnection::End(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcpConn* c = Get(env);
  if (c->closing_ || c->failed_) return env.Undefined();  // idempotent, as TlsEngine.end()
  if (c->depth_.inside()) ThrowError(env, kErrState, "cannot drive the connection from inside an OpenSSL callback");
  if (c->pha_pending_) ThrowError(env, kErrState, "cannot end while a post-handshake authentication is running");
  c->End(env);
  return env.Undefined();
}

Napi::Value TcpConnection::Destroy(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) core_->Destroy(info.Env());
  return info.Env().Undefined();
}

Napi::Value TcpConnection::Pause(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) core_->Pause();
  return info.Env().Undefined();
}

Napi::Value TcpConnection::Resume(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) core_->Resume();
  return info.Env().Undefined();
}

Napi::Value TcpConnection::Buffered(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), core_ != nullptr ? static_cast<double>(core_->Buffered()) : 0);
}

Napi::Value TcpConnection::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcpConn* c = GetSsl(env);
  return SslInfo(env, c->ssl_, c->is_server_, c->secure_);
}

Napi::Value TcpConnection::PeerCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return SslPeerCertificate(env, GetSsl(env)->ssl_);
}

Napi::Value TcpConnection::PeerCertificateChain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool verified = !IsMissing(Arg(info, 0)) && BoolArg(info, 0, "verified");
  return SslPeerCertificateChain(env, GetSsl(env)->ssl_, verified);
}

Napi::Value TcpConnection::AlpnProtocol(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return SslAlpnProtocol(env, GetSsl(env)->ssl_);
}

Napi::Value TcpConnection::IsResumed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  // One flag, without building info()'s object: servers count resumptions per connection.
  return Napi::Boolean::New(env, SSL_session_reused(Get(env)->ssl_) == 1);
}

Napi::Value TcpConnection::GetSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return ResumableSessionDer(env, GetSsl(env)->ssl_);
}

Napi::Value TcpConnection::ExportKeyingMaterial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int64_t length = IntArg(info, 0, "length", 1, 1 << 16);
  std::string label = StringArg(info, 1, "label");
  Bytes context;
  bool has_context = !IsMissing(Arg(info, 2));
  if (has_context) context = BytesArg(info, 2, "context");
  TcpConn* c = Get(env);
  if (!c->secure_ || c->failed_) ThrowError(env, kErrState, "keying material exists only after a successful handshake");
  return SslExportKeyingMaterial(env, c->ssl_, static_cast<size_t>(length), label, has_context ? &context : nullptr);
}

// address(): { localAddress, localPort, remoteAddress, remotePort, remoteFamily }; fields
// the socket cannot tell (closed, not connected yet) are left out.
Napi::Value TcpConnection::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  TcpConn* c = core_;
  if (c == nullptr || c->closing_ || c->open_handles_ < 1) return o;
  sockaddr_storage ss;
  int len = sizeof(ss);
  std::string address;
  int port = 0, family = 0;
  if (uv_tcp_getsockname(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && SockaddrToJs(ss, &address, &port, &family)) {
    SetKey(o, Key::kLocalAddress, Napi::String::New(env, address));
    SetKey(o, Key::kLocalPort, Napi::Number::New(env, port));
  }
  len = sizeof(ss);
  if (uv_tcp_getpeername(&c->tcp_, reinterpret_cast<sockaddr*>(&ss), &len) == 0 && SockaddrToJs(ss, &address, &port, &family)) {
    SetKey(o, Key::kRemoteAddress, Napi::String::New(env, address));
    SetKey(o, Key::kRemotePort, Napi::Number::New(env, port));
    SetKey(o, Key::kRemoteFamily, Napi::String::New(env, family == 4 ? "IPv4" : "IPv6"));
  }
  if (c->proxy_family_ != 0) {
    // proxyProtocol: the client the balancer's header named (tcp_proxy.cc).
    SetKey(o, Key::kRemoteAddress, Napi::String::New(env, c->proxy_address_));
    SetKey(o, Key::kRemotePort, Napi::Number::New(env, c->proxy_port_));
    SetKey(o, Key::kRemoteFamily, Napi::String::New(env, c->proxy_family_ == 4 ? "IPv4" : "IPv6"));
  }
  return o;
}

Napi::Value TcpConnection::SetNoDelay(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on = IsMissing(Arg(info, 0)) || BoolArg(info, 0, "noDelay");
  TcpConn* c = Get(env);
  if (!c->closing_ && !c->connecting_) uv_tcp_nodelay(&c->tcp_, on ? 1 : 0);
  c->settings_.no_delay = on;
  return env.Undefined();
}

Napi::Value TcpConnection::SetKeepAlive(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool on = BoolArg(info, 0, "enable");
  int64_t delay_ms = IsMissing(Arg(info, 1)) ? 60000 : IntArg(info, 1, "initialDelay", 0, 2147483647);
  TcpConn* c = Get(env);
  c->settings_.keep_alive = on;
  c->settings_.keep_alive_delay_s = static_cast<unsigned int>(delay_ms < 1000 ? 1 : delay_ms / 1000);
  if (!c->closing_ && !c->connecting_) uv_tcp_keepalive(&c->tcp_, on ? 1 : 0, c->settings_.keep_alive_delay_s);
  return env.Undefined();
}

Napi::Value TcpConnection::Ref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr && !core_->closing_) uv_ref(reinterpret_cast<uv_handle_t*>(&core_->tcp_));
  return info.Env().Undefined();
}

Napi::Value TcpConnection::Unref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr && !core_->closing_) uv_unref(reinterpret_cast<uv_handle_t*>(&core_->tcp_));
  return info.Env().Undefined();
}

Napi::Value TcpConnection::WatchFinish(const Napi::CallbackInfo& info) {
  // Asked for, not by default: the call would cost every connection's close a JS call.
  if (core_ != nullptr) core_->want_finish_ = true;
  return info.Env().Undefined();
}

Napi::Value TcpConnection::IsFinished(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core_ != nullptr && core_->fin_sent_);
}

Napi::Value TcpConnection::IsClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), core_ == nullptr || core_->closing_);
}

}  // namespace rxtls
