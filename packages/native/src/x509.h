// Certificates: the peer summary sessions report, and key/certificate
// generation so examples and tests need no files and no openssl CLI.
#pragma once

#include <napi.h>
#include <openssl/x509.h>

namespace rxtls {

// { subject, issuer, subjectAltNames, validFrom, validTo, serialNumber,
//   fingerprint256, raw } for one certificate. Does not take ownership.
Napi::Object CertificateSummary(Napi::Env env, X509* cert);

// generateCertificate(options) -> { cert, key } as PEM. See lib/native.ts
// (GenerateCertificateOptions) for the options.
Napi::Value GenerateCertificate(const Napi::CallbackInfo& info);

// parseCertificate(pem | der) -> the summary of the first certificate.
Napi::Value ParseCertificate(const Napi::CallbackInfo& info);

}  // namespace rxtls
