#include "tcp_server.h"

#include <cerrno>
#ifndef _WIN32
#include <sys/socket.h>
#endif

#include "context.h"
#include "tcp_connection.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/errors.h"

namespace rxtls {
namespace {

uint64_t MillisOption(Napi::Env env, Napi::Object o, const char* name, uint64_t fallback) {
  Napi::Value v = o.Get(name);
  if (IsMissing(v)) return fallback;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 2147483647.0)) ThrowExpected(env, name, "a number of milliseconds from 0 to 2147483647");
  return static_cast<uint64_t>(d);
}

bool BoolOption(Napi::Env env, Napi::Object o, const char* name, bool fallback) {
  Napi::Value v = o.Get(name);
  if (IsMissing(v)) return fallback;
  if (!v.IsBoolean()) ThrowExpected(env, name, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

// SO_REUSEPORT on a socket made for `family` (uv_tcp_init_ex) before bind:
// every process bound so to one address gets its own accept queue, and the
// kernel spreads new connections over them by a hash of the 4-tuple.
int SetReusePort(uv_tcp_t* tcp) {
#if defined(SO_REUSEPORT) && !defined(_WIN32)
  uv_os_fd_t fd;
  int r = uv_fileno(reinterpret_cast<uv_handle_t*>(tcp), &fd);
  if (r != 0) return r;
  int on = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) return uv_translate_sys_error(errno);
  return 0;
#else
  (void)tcp;
  return UV_ENOTSUP;
#endif
}

}  // namespace

ConnectionSettings ReadConnectionSettings(Napi::Env env, Napi::Value options) {
  ConnectionSettings s;
  if (IsMissing(options)) return s;
  if (!options.IsObject()) ThrowExpected(env, "options", "an object");
  Napi::Object o = options.As<Napi::Object>();
  s.handshake_timeout_ms = MillisOption(env, o, "handshakeTimeout", s.handshake_timeout_ms);
  s.idle_timeout_ms = MillisOption(env, o, "idleTimeout", s.idle_timeout_ms);
  s.allow_half_open = BoolOption(env, o, "allowHalfOpen", s.allow_half_open);
  s.no_delay = BoolOption(env, o, "noDelay", s.no_delay);
  s.keep_alive = BoolOption(env, o, "keepAlive", s.keep_alive);
  uint64_t delay = MillisOption(env, o, "keepAliveInitialDelay", 60000);
  s.keep_alive_delay_s = static_cast<unsigned int>(delay < 1000 ? 1 : delay / 1000);
  uint64_t hw = MillisOption(env, o, "highWaterMark", s.high_water);  // bytes; same range check
  if (hw == 0) ThrowExpected(env, "highWaterMark", "a number of bytes from 1 to 2147483647");
  s.high_water = static_cast<size_t>(hw);
  s.handshake_offload = BoolOption(env, o, "handshakeOffload", s.handshake_offload);
  return s;
}

TcpServerCore::TcpServerCore(TcpLoop* loop, SSL_CTX* ctx, const ConnectionSettings& settings)
    : loop_(loop), ctx_(ctx), settings_(settings) {
  SSL_CTX_up_ref(ctx_);
  tcp_.data = this;
  loop_->Track(this);
  CounterAdd("TcpServer", 1);
}

TcpServerCore::~TcpServerCore() {
  CounterAdd("TcpServer", -1);
  if (wrap_ != nullptr) wrap_->Detach();
  SSL_CTX_free(ctx_);
  if (async_ != nullptr) napi_async_destroy(loop_->env(), async_);
  owner_.Reset();
  wrapper_.Reset();
  loop_->Untrack(this);  // last: may end the loop's teardown
}

void TcpServerCore::Close() {
  if (closing_) return;
  closing_ = true;
  if (!initialised_) {
    Unref();
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
}

void TcpServerCore::Teardown() { Close(); }

void TcpServerCore::OnClosed(uv_handle_t* handle) { static_cast<TcpServerCore*>(handle->data)->Unref(); }

void TcpServerCore::Unref() {
  if (--refs_ > 0) return;
  // Closed and no connection left: the server's 'close', as net.Server's.
  if (!loop_->tearing_down() && !owner_.IsEmpty()) {
    FromLoop([&] {
      Napi::Env env(loop_->env());
      Napi::HandleScope scope(env);
      try {
        loop_->on_server_close.MakeCallback(owner_.Value(), {}, async_);
      } catch (const Napi::Error& e) {
        ReportUncaught(env, e);
      }
    });
  }
  delete this;
}

void TcpServerCore::ReportError(Napi::Env env, Napi::Value error) {
  if (loop_->tearing_down() || owner_.IsEmpty()) return;
  Ref();  // the handler may close the server: stay until it returns
  try {
    loop_->on_server_error.MakeCallback(owner_.Value(), {error}, async_);
  } catch (const Napi::Error& e) {
    ReportUncaught(env, e);
  }
  Unref();
}

void TcpServerCore::OnConnection(uv_stream_t* stream, int status) {
  auto* server = static_cast<TcpServerCore*>(stream->data);
  if (server->closing_) return;
  // A failed accept (EMFILE, …) drops that one connection; the server goes on.
  if (status < 0) return;
  FromLoop([&] { TcpConn::Accept(server); });
}

Napi::Function TcpServer::Init(Napi::Env env) {
  return DefineClass(env, "TcpServer",
                     {
                         InstanceMethod("address", &TcpServer::Address),
                         InstanceMethod("close", &TcpServer::Close),
                         InstanceMethod("ref", &TcpServer::Ref),
                         InstanceMethod("unref", &TcpServer::Unref),
                         InstanceMethod("connections", &TcpServer::Connections),
                         InstanceMethod("destroyConnections", &TcpServer::DestroyConnections),
                     });
}

TcpServer::TcpServer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TcpServer>(info) {
  // Made only by listen(): JS cannot make the External that carries the core.
  if (!Arg(info, 0).IsExternal()) ThrowError(info.Env(), kErrState, "a TcpServer is made by tcpListen()");
  core_ = info[0].As<Napi::External<TcpServerCore>>().Data();
}

TcpServer::~TcpServer() {
  if (core_ != nullptr) core_->wrap_ = nullptr;
}

// tcpListen(context, host, port, backlog, ipv6Only, options, owner)
Napi::Value TcpServer::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  std::string host = StringArg(info, 1, "host");
  int port = static_cast<int>(IntArg(info, 2, "port", 0, 65535));
  int backlog = static_cast<int>(IntArg(info, 3, "backlog", 1, 65535));
  bool ipv6_only = BoolArg(info, 4, "ipv6Only");
  ConnectionSettings settings = ReadConnectionSettings(env, Arg(info, 5));
  bool reuse_port = IsMissing(Arg(info, 5)) ? false : BoolOption(env, info[5].As<Napi::Object>(), "reusePort", false);
  ProxySettings proxy = ReadProxySettings(env, Arg(info, 5));
  if (!Arg(info, 6).IsObject()) ThrowExpected(env, "owner", "an object");
  Napi::Object owner = info[6].As<Napi::Object>();
  sockaddr_storage addr;
  if (!ParseSockaddr(host, port, &addr)) ThrowExpected(env, "host", "an IP address");
  // Every argument is read: now the context (a getter could have freed it).
  SSL_CTX* ctx = context->Get(env);
  CheckTransportRole(env, *context, true);
  TcpLoop* loop = TcpLoop::Get(env);

  auto* core = new TcpServerCore(loop, ctx, settings);
  core->proxy_ = std::move(proxy);
  // reusePort needs the socket before bind: made now, for the address's family.
  int r = reuse_port ? uv_tcp_init_ex(loop->loop(), &core->tcp_, addr.ss_family) : uv_tcp_init(loop->loop(), &core->tcp_);
  if (r != 0) {
    core->Close();  // not initialised: frees at once
    throw UvError(env, r, "listen");
  }
  core->initialised_ = true;
  if (reuse_port) {
    r = SetReusePort(&core->tcp_);
    if (r != 0) {
      core->Close();
      throw UvError(env, r, r == UV_ENOTSUP ? "reusePort (SO_REUSEPORT is not available on this platform)" : "reusePort (setsockopt SO_REUSEPORT)");
    }
  }
  r = uv_tcp_bind(&core->tcp_, reinterpret_cast<const sockaddr*>(&addr), ipv6_only ? UV_TCP_IPV6ONLY : 0);
  if (r == 0) r = uv_listen(reinterpret_cast<uv_stream_t*>(&core->tcp_), backlog, TcpServerCore::OnConnection);
  if (r != 0) {
    core->Close();
    throw UvError(env, r, "listen " + host + ":" + std::to_string(port));
  }
  // The server's async context is made here, inside the JS call to listen:
  // AsyncLocalStorage set around listen() reaches every connection's callbacks.
  if (napi_async_init(env, owner, Napi::String::New(env, "rxtls.TlsServer"), &core->async_) != napi_ok) {
    core->Close();
    ThrowError(env, kErrState, "could not create the server's async context");
  }
  Napi::Object wrapper = loop->server_ctor.New({Napi::External<TcpServerCore>::New(env, core)});
  core->wrap_ = Napi::ObjectWrap<TcpServer>::Unwrap(wrapper);
  core->wrapper_ = Napi::Persistent(wrapper);
  core->owner_ = Napi::Persistent(owner);
  return wrapper;
}

TcpServerCore* TcpServer::Get(Napi::Env env) const {
  if (core_ == nullptr || core_->closing()) ThrowError(env, kErrClosed, "server is closed");
  return core_;
}

Napi::Value TcpServer::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TcpServerCore* core = Get(env);
  sockaddr_storage ss;
  int len = sizeof(ss);
  int r = uv_tcp_getsockname(core->handle(), reinterpret_cast<sockaddr*>(&ss), &len);
  if (r != 0) throw UvError(env, r, "getsockname");
  std::string address;
  int port = 0, family = 0;
  if (!SockaddrToJs(ss, &address, &port, &family)) ThrowError(env, kErrSocket, "unknown address family");
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", address);
  o.Set("family", family == 4 ? "IPv4" : "IPv6");
  o.Set("port", port);
  return o;
}

// close(): stops accepting. Idempotent; serverClose follows once every
// connection is gone too.
Napi::Value TcpServer::Close(const Napi::CallbackInfo& info) {
  if (core_ != nullptr) core_->Close();
  return info.Env().Undefined();
}

Napi::Value TcpServer::Ref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr && !core_->closing()) uv_ref(reinterpret_cast<uv_handle_t*>(core_->handle()));
  return info.Env().Undefined();
}

Napi::Value TcpServer::Unref(const Napi::CallbackInfo& info) {
  if (core_ != nullptr && !core_->closing()) uv_unref(reinterpret_cast<uv_handle_t*>(core_->handle()));
  return info.Env().Undefined();
}

Napi::Value TcpServer::Connections(const Napi::CallbackInfo& info) {
  // refs_: one per live connection, plus the listening handle's own until closed.
  int n = core_ == nullptr ? 0 : core_->refs_ - (core_->closing() ? 0 : 1);
  return Napi::Number::New(info.Env(), n < 0 ? 0 : n);
}

// destroyConnections(): closes every connection of this server at once,
// handshaking or open, without close_notify (the end of a graceful shutdown's
// deadline). Each one's close callback runs from the loop, as destroy()'s.
// Returns how many it closed.
Napi::Value TcpServer::DestroyConnections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int n = 0;
  if (core_ != nullptr) {
    // A copy: Destroy closes handles but frees nothing until the loop runs their callbacks.
    for (TcpHandle* h : core_->loop()->Handles()) {
      if (h->accepted_by() != core_) continue;
      static_cast<TcpConn*>(h)->Destroy(env);
      ++n;
    }
  }
  return Napi::Number::New(env, n);
}

}  // namespace rxtls
