// node:tls-style context options that context.cc has no setter for:
// a PKCS#12 (PFX) bundle, the key exchange groups and the signature
// algorithms. Free functions taking a Context, so context.cc stays as it is.
#pragma once

#include <napi.h>

namespace rxtls {

// usePkcs12(context, der, passphrase?): the bundle's key, certificate and
// extra certificates (sent as the chain) become the context's.
Napi::Value UsePkcs12(const Napi::CallbackInfo& info);
// setGroups(context, "X25519:P-256"): key exchange groups, most preferred first.
Napi::Value SetGroups(const Napi::CallbackInfo& info);
// setSigalgs(context, "ECDSA+SHA256:rsa_pss_rsae_sha256"): signature algorithms.
Napi::Value SetSigalgs(const Napi::CallbackInfo& info);

}  // namespace rxtls
