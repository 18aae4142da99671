// Module init only: registers the classes and free functions.
#include <napi.h>
#include <openssl/crypto.h>

#include "bio.h"
#include "context.h"
#include "context_options.h"
#include "fd_ssl.h"
#include "session.h"
#include "session_store.h"
#include "sockopt.h"
#include "tcp_connection.h"
#include "tcp_loop.h"
#include "tcp_proxy_header.h"
#include "tcp_server.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/counters.h"
#include "util/errors.h"
#include "verify_unverified.h"
#include "x509.h"

namespace rxtls {
namespace {

Napi::Value SetErrorFactoryJs(const Napi::CallbackInfo& info) {
  if (!Arg(info, 0).IsFunction()) ThrowExpected(info.Env(), "factory", "a function");
  SetErrorFactory(info.Env(), info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  AddonData* data = GetAddonData(env);
  Napi::Function context = Context::Init(env);
  data->context_ctor = Napi::Persistent(context);
  exports.Set("Context", context);
  exports.Set("Session", Session::Init(env));
  exports.Set("methods", Context::Methods(env));
  exports.Set("FdSsl", FdSsl::Init(env));
  exports.Set("Bio", Bio::Init(env));
  exports.Set("bioMethods", Bio::Methods(env));
  exports.Set("setErrorFactory", Napi::Function::New(env, SetErrorFactoryJs, "setErrorFactory"));
  exports.Set("generateCertificate", Napi::Function::New(env, GenerateCertificate, "generateCertificate"));
  exports.Set("parseCertificate", Napi::Function::New(env, ParseCertificate, "parseCertificate"));
  exports.Set("debugCounters", Napi::Function::New(env, DebugCounters, "debugCounters"));
  exports.Set("usePkcs12", Napi::Function::New(env, UsePkcs12, "usePkcs12"));
  exports.Set("setGroups", Napi::Function::New(env, SetGroups, "setGroups"));
  exports.Set("setSigalgs", Napi::Function::New(env, SetSigalgs, "setSigalgs"));
  exports.Set("setsockopt", Napi::Function::New(env, SetSockopt, "setsockopt"));
  exports.Set("getsockopt", Napi::Function::New(env, GetSockopt, "getsockopt"));
  exports.Set("setSessionStore", Napi::Function::New(env, SetSessionStore, "setSessionStore"));
  exports.Set("setVerifyUnverified", Napi::Function::New(env, SetVerifyUnverified, "setVerifyUnverified"));
  // The native transport (tcp_*.cc): the wrapper classes are made only by it.
  exports.Set("setTransportCallbacks", Napi::Function::New(env, TcpLoop::SetCallbacks, "setTransportCallbacks"));
  exports.Set("tcpListen", Napi::Function::New(env, TcpServer::Listen, "tcpListen"));
  exports.Set("tcpConnect", Napi::Function::New(env, TcpConnection::Connect, "tcpConnect"));
  exports.Set("tcpAdopt", Napi::Function::New(env, TcpConnection::Adopt, "tcpAdopt"));
  exports.Set("parseProxyHeader", Napi::Function::New(env, ParseProxyHeaderJs, "parseProxyHeader"));
  // The version string of the OpenSSL this addon runs on; it must be Node's own.
  exports.Set("opensslVersion", Napi::String::New(env, OpenSSL_version(OPENSSL_VERSION_STRING)));
  return exports;
}

}  // namespace rxtls

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return rxtls::Init(env, exports); }

NODE_API_MODULE(rxtls, InitAddon)
