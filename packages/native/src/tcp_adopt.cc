// tcpAdopt: the native transport takes over a TCP connection that JS already
// holds (the documented TLSSocket over a Socket, whose net.Socket made the
// connection). The descriptor is duplicated (util/socket_fd.h, as FdSsl's
// and Bio's are), so the two handles close independently: the caller keeps
// its net.Socket (addresses, options) but must not read from or write to
// it, and closes it once this connection closed, because the kernel ends
// the TCP connection only when both are.
#include <unistd.h>

#include <climits>

#include "buffer_bio.h"
#include "context.h"
#include "ssl_client_options.h"
#include "tcp_connection.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/errors.h"
#include "util/socket_fd.h"

namespace rxtls {

// tcpAdopt(context, fd, isServer, options, owner): options are the client
// session options (clients only), the connection settings, and `initial`:
// ciphertext the caller already read from the descriptor, processed first.
Napi::Value TcpConnection::Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  int fd = static_cast<int>(IntArg(info, 1, "fd", 0, INT_MAX));
  bool server = BoolArg(info, 2, "isServer");
  Napi::Value opts_v = Arg(info, 3);
  if (!opts_v.IsObject()) ThrowExpected(env, "options", "an object");
  Napi::Object opts = opts_v.As<Napi::Object>();
  ClientSslOptions client;
  if (!server) client = ReadClientSslOptions(env, opts, false);
  ConnectionSettings settings = ReadConnectionSettings(env, opts);
  Bytes initial;
  Napi::Value initial_v = opts.Get("initial");
  if (!IsMissing(initial_v) && (!initial_v.IsTypedArray() || !ToBytes(initial_v, &initial)))
    ThrowExpected(env, "initial", "a Buffer or Uint8Array");
  std::string head(reinterpret_cast<const char*>(initial.data), initial.size);  // copied: getters ran
  if (!Arg(info, 4).IsObject()) ThrowExpected(env, "owner", "an object");
  Napi::Object owner = info[4].As<Napi::Object>();
  // Every argument is read: now the context (a getter could have freed it).
  SSL_CTX* ctx = context->Get(env);
  CheckTransportRole(env, *context, server);
  if (uv_guess_handle(fd) != UV_TCP) ThrowError(env, kErrInvalidArgument, "Expected \"fd\" to be a TCP socket descriptor");
  TcpLoop* loop = TcpLoop::Get(env);

  int own = DupNonBlockingSocket(env, fd);
  TcpConn* c;
  try {
    c = TcpConn::Create(env, loop, settings, ctx, server, context->verify_explicit(), server ? nullptr : &client);
  } catch (...) {
    close(own);
    throw;
  }
  int r = uv_tcp_open(&c->tcp_, own);
  if (r != 0) {
    close(own);  // uv_tcp_open did not take it
    c->Close();
    throw UvError(env, r, "adopt");
  }
  if (!head.empty()) c->in_->Append(head.data(), head.size());
  Napi::Object wrapper = c->Own(env, owner);
  // The first handshake step runs from the loop, not inside this call.
  c->Start(true);
  return wrapper;
}

}  // namespace rxtls
