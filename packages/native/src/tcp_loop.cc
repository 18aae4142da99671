#include "tcp_loop.h"

#include <arpa/inet.h>

#include "context.h"
#include "tcp_connection.h"
#include "tcp_server.h"
#include "util/args.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// One per thread: Node runs one environment per thread (main or worker).
thread_local TcpLoop* current = nullptr;

}  // namespace

TcpLoop::TcpLoop(napi_env env, uv_loop_t* loop) : env_(env), loop_(loop) {}

TcpLoop* TcpLoop::Get(Napi::Env env) {
  if (current != nullptr && current->env_ == env && !current->tearing_down_ && current->callbacks_set_) return current;
  if (current == nullptr || current->env_ != env || !current->callbacks_set_)
    ThrowError(env, kErrState, "the native transport is not initialised (import @rxtls/core)");
  ThrowError(env, kErrState, "the environment is shutting down");
}

Napi::Value TcpLoop::SetCallbacks(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value v = Arg(info, 0);
  if (!v.IsObject()) ThrowExpected(env, "callbacks", "an object of functions");
  Napi::Object o = v.As<Napi::Object>();
  const char* names[] = {"secure", "data", "drain", "end", "close", "session", "finish", "serverError", "serverClose",
                         "sessionLookup", "peerCertificate"};
  constexpr int kCount = sizeof(names) / sizeof(names[0]);
  Napi::Function fns[kCount];
  for (int i = 0; i < kCount; ++i) {
    Napi::Value f = o.Get(names[i]);
    if (!f.IsFunction()) ThrowExpected(env, names[i], "a function");
    fns[i] = f.As<Napi::Function>();
  }
  if (current != nullptr && current->env_ != env) {
    // A previous environment on this thread is gone without teardown (embedders only).
    current = nullptr;
  }
  if (current == nullptr) {
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) ThrowError(env, kErrState, "no event loop");
    auto* l = new TcpLoop(env, loop);
    if (napi_add_async_cleanup_hook(env, OnCleanup, l, &l->hook_) != napi_ok) {
      delete l;
      ThrowError(env, kErrState, "could not register the transport's cleanup hook");
    }
    current = l;
  }
  TcpLoop* l = current;
  Napi::FunctionReference* refs[] = {&l->on_secure,       &l->on_data,         &l->on_drain,
                                     &l->on_end,          &l->on_close,        &l->on_session,
                                     &l->on_finish,       &l->on_server_error, &l->on_server_close,
                                     &l->on_session_lookup, &l->on_peer_certificate};
  static_assert(sizeof(refs) / sizeof(refs[0]) == kCount, "one reference per callback");
  for (int i = 0; i < kCount; ++i) *refs[i] = Napi::Persistent(fns[i]);
  if (l->connection_ctor.IsEmpty()) l->connection_ctor = Napi::Persistent(TcpConnection::Init(env));
  if (l->server_ctor.IsEmpty()) l->server_ctor = Napi::Persistent(TcpServer::Init(env));
  l->callbacks_set_ = true;
  return env.Undefined();
}

void TcpLoop::Track(TcpHandle* h) {
  h->prev_ = nullptr;
  h->next_ = head_;
  if (head_ != nullptr) head_->prev_ = h;
  head_ = h;
}

std::vector<TcpHandle*> TcpLoop::Handles() const {
  std::vector<TcpHandle*> live;
  for (TcpHandle* h = head_; h != nullptr; h = h->next_) live.push_back(h);
  return live;
}

void TcpLoop::Untrack(TcpHandle* h) {
  if (h->prev_ != nullptr) h->prev_->next_ = h->next_;
  else if (head_ == h) head_ = h->next_;
  if (h->next_ != nullptr) h->next_->prev_ = h->prev_;
  h->prev_ = h->next_ = nullptr;
  if (tearing_down_ && head_ == nullptr) FinishTeardown();
}

// Node runs the loop until the hook is removed, so the close callbacks of
// every handle run before the environment (and a worker's loop) is gone.
void TcpLoop::OnCleanup(napi_async_cleanup_hook_handle handle, void* arg) {
  TcpLoop* l = static_cast<TcpLoop*>(arg);
  l->tearing_down_ = true;
  std::vector<TcpHandle*> live;
  for (TcpHandle* h = l->head_; h != nullptr; h = h->next_) live.push_back(h);
  for (TcpHandle* h : live) h->Teardown();
  if (l->head_ == nullptr) l->FinishTeardown();
}

void TcpLoop::FinishTeardown() {
  napi_async_cleanup_hook_handle hook = hook_;
  hook_ = nullptr;
  if (current == this) current = nullptr;
  on_secure.Reset();
  on_data.Reset();
  on_drain.Reset();
  on_end.Reset();
  on_close.Reset();
  on_session.Reset();
  on_finish.Reset();
  on_server_error.Reset();
  on_server_close.Reset();
  on_session_lookup.Reset();
  on_peer_certificate.Reset();
  connection_ctor.Reset();
  server_ctor.Reset();
  delete this;
  if (hook != nullptr) napi_remove_async_cleanup_hook(hook);
}

void ReportUncaught(Napi::Env env, const Napi::Error& e) { napi_fatal_exception(env, e.Value()); }

bool SockaddrToJs(const sockaddr_storage& ss, std::string* address, int* port, int* family) {
  char buf[INET6_ADDRSTRLEN] = {0};
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    uv_ip4_name(a, buf, sizeof(buf));
    *port = ntohs(a->sin_port);
    *family = 4;
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    uv_ip6_name(a, buf, sizeof(buf));
    *port = ntohs(a->sin6_port);
    *family = 6;
  } else {
    return false;
  }
  *address = buf;
  return true;
}

bool ParseSockaddr(const std::string& ip, int port, sockaddr_storage* out) {
  *out = sockaddr_storage();
  if (uv_ip4_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0) return true;
  return uv_ip6_addr(ip.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

void CheckTransportRole(Napi::Env env, const Context& context, bool server) {
  if (server && context.role() == Role::kClient)
    ThrowError(env, kErrState, "a server needs a server or generic context, not a client context");
  if (!server && context.role() == Role::kServer)
    ThrowError(env, kErrState, "a client needs a client or generic context, not a server context");
}

std::string UvMessage(int status, const std::string& what) {
  return what + " " + uv_err_name(status) + ": " + uv_strerror(status);
}

Napi::Error UvError(Napi::Env env, int status, const std::string& what, bool in_loop_callback) {
  std::string message = UvMessage(status, what);
  Napi::Error err = in_loop_callback ? MakeLoopError(env, kErrSocket, message) : MakeError(env, kErrSocket, message);
  err.Value().Set("syscallCode", Napi::String::New(env, uv_err_name(status)));
  return err;
}

}  // namespace rxtls
