// requestCert: 'unverified' (as node:tls's requestCert with
// rejectUnauthorized false, nginx's ssl_verify_client optional_no_ca).
#include "verify_unverified.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "context.h"
#include "util/addon_data.h"
#include "util/args.h"
#include "util/errors.h"

namespace rxtls {
namespace {

// OpenSSL still builds and checks the chain and records the result in the
// session; returning 1 only keeps a failure from aborting the handshake.
// An SSL keeps its callback when SNI switches it to another context (a null
// callback never replaces one), so the context it runs on now decides: one
// whose policy is stricter fails as OpenSSL would have. Calls no JS, so it is
// safe on the offload threads too.
int AcceptAnyCertificate(int preverify_ok, X509_STORE_CTX* store) {
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  if (ssl == nullptr) return preverify_ok;
  return SSL_CTX_get_verify_callback(SSL_get_SSL_CTX(ssl)) == AcceptAnyCertificate ? 1 : preverify_ok;
}

}  // namespace

Napi::Value SetVerifyUnverified(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Context* context = UnwrapChecked<Context>(env, GetAddonData(env)->context_ctor, Arg(info, 0));
  if (context == nullptr) ThrowExpected(env, "context", "a Context");
  SSL_CTX* ctx = context->Get(env);
  if (context->role() == Role::kClient)
    ThrowError(env, kErrState, "the 'unverified' client-certificate mode is for server contexts");
  // SSL_VERIFY_PEER without FAIL_IF_NO_PEER_CERT: a client with no
  // certificate is served too. Cannot fail (returns void).
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, AcceptAnyCertificate);
  return env.Undefined();
}

}  // namespace rxtls
