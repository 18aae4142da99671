#include "x509.h"

#include <arpa/inet.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "util/args.h"
#include "util/err_queue.h"
#include "util/errors.h"

namespace rxtls {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;

[[noreturn]] void Fail(Napi::Env env, const std::string& what) { ThrowOpenSSLError(env, kErrCrypto, what); }

std::string BioToString(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, len > 0 ? static_cast<size_t>(len) : 0);
}

Napi::Object NameToObject(Napi::Env env, const X509_NAME* name) {
  Napi::Object o = Napi::Object::New(env);
  for (int i = 0, n = X509_NAME_entry_count(name); i < n; ++i) {
    const X509_NAME_ENTRY* e = X509_NAME_get_entry(name, i);
    int nid = OBJ_obj2nid(X509_NAME_ENTRY_get_object(e));
    const char* key = nid != NID_undef ? OBJ_nid2sn(nid) : "UNDEF";
    unsigned char* utf8 = nullptr;
    int len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(e));
    if (len < 0) continue;
    std::string value(reinterpret_cast<char*>(utf8), static_cast<size_t>(len));
    OPENSSL_free(utf8);
    // Repeated attributes (two OU) join with a newline, as node:tls reports them.
    if (o.Has(key)) value = o.Get(key).As<Napi::String>().Utf8Value() + "\n" + value;
    o.Set(key, Napi::String::New(env, value));
  }
  return o;
}

std::string NameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253) < 0) return std::string();
  return BioToString(bio.get());
}

std::string TimeToIso(const ASN1_TIME* t) {
  struct tm tm {};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) return std::string();
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
  return buf;
}

Napi::Array AltNames(Napi::Env env, X509* cert) {
  Napi::Array out = Napi::Array::New(env);
  auto* names = static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (names == nullptr) return out;
  uint32_t k = 0;
  for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names, i);
    std::string entry;
    if (gn->type == GEN_DNS || gn->type == GEN_EMAIL || gn->type == GEN_URI) {
      const ASN1_IA5STRING* s = gn->d.ia5;
      std::string v(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)), ASN1_STRING_length(s));
      entry = (gn->type == GEN_DNS ? "DNS:" : gn->type == GEN_EMAIL ? "email:" : "URI:") + v;
    } else if (gn->type == GEN_IPADD) {
      char buf[INET6_ADDRSTRLEN] = {0};
      int len = ASN1_STRING_length(gn->d.ip);
      const unsigned char* p = ASN1_STRING_get0_data(gn->d.ip);
      if (len == 4) inet_ntop(AF_INET, p, buf, sizeof buf);
      else if (len == 16) inet_ntop(AF_INET6, p, buf, sizeof buf);
      entry = std::string("IP:") + buf;
    } else {
      continue;
    }
    out.Set(k++, Napi::String::New(env, entry));
  }
  GENERAL_NAMES_free(names);
  return out;
}

std::string HexColon(const unsigned char* p, size_t n) {
  static const char* kHex = "0123456789ABCDEF";
  std::string s;
  for (size_t i = 0; i < n; ++i) {
    if (i) s += ':';
    s += kHex[p[i] >> 4];
    s += kHex[p[i] & 15];
  }
  return s;
}

bool IsIp(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

PKeyPtr GenerateKey(Napi::Env env, const std::string& type, int64_t bits) {
  EVP_PKEY* key = nullptr;
  if (type == "ec") key = EVP_EC_gen("P-256");
  else if (type == "rsa") key = EVP_RSA_gen(static_cast<unsigned int>(bits));
  else ThrowExpected(env, "keyType", "\"ec\" or \"rsa\"");
  if (key == nullptr) Fail(env, "key generation failed");
  return PKeyPtr(key);
}

void AddExtension(Napi::Env env, X509* cert, X509V3_CTX* v3, int nid, const std::string& value) {
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, v3, nid, value.c_str());
  if (ext == nullptr) Fail(env, "invalid certificate extension '" + value + "'");
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  if (ok != 1) Fail(env, "could not add certificate extension");
}

std::string OptString(Napi::Env env, Napi::Object o, const char* key, const std::string& dflt) {
  Napi::Value v = o.Get(key);
  if (IsMissing(v)) return dflt;
  if (!v.IsString()) ThrowExpected(env, key, "a string");
  return v.As<Napi::String>().Utf8Value();
}

int64_t OptInt(Napi::Env env, Napi::Object o, const char* key, int64_t dflt, int64_t min, int64_t max) {
  Napi::Value v = o.Get(key);
  if (IsMissing(v)) return dflt;
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1e300;
  if (d != static_cast<double>(static_cast<int64_t>(d)) || d < static_cast<double>(min) || d > static_cast<double>(max)) {
    std::string what = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
    ThrowExpected(env, key, what.c_str());
  }
  return static_cast<int64_t>(d);
}

}  // namespace

Napi::Object CertificateSummary(Napi::Env env, X509* cert) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("subject", NameToObject(env, X509_get_subject_name(cert)));
  o.Set("issuer", NameToObject(env, X509_get_issuer_name(cert)));
  o.Set("subjectName", Napi::String::New(env, NameToString(X509_get_subject_name(cert))));
  o.Set("issuerName", Napi::String::New(env, NameToString(X509_get_issuer_name(cert))));
  o.Set("subjectAltNames", AltNames(env, cert));
  o.Set("validFrom", Napi::String::New(env, TimeToIso(X509_get0_notBefore(cert))));
  o.Set("validTo", Napi::String::New(env, TimeToIso(X509_get0_notAfter(cert))));
  BnPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  char* hex = serial ? BN_bn2hex(serial.get()) : nullptr;
  o.Set("serialNumber", Napi::String::New(env, hex ? hex : ""));
  OPENSSL_free(hex);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) != 1) Fail(env, "could not hash certificate");
  o.Set("fingerprint256", Napi::String::New(env, HexColon(md, md_len)));
  int der_len = i2d_X509(cert, nullptr);
  if (der_len <= 0) Fail(env, "could not encode certificate");
  Napi::Buffer<unsigned char> der = Napi::Buffer<unsigned char>::New(env, static_cast<size_t>(der_len));
  unsigned char* p = der.Data();
  i2d_X509(cert, &p);
  o.Set("raw", der);
  return o;
}

Napi::Value ParseCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Bytes in = BytesArg(info, 0, "certificate");
  ClearErrorQueue();
  BioPtr bio(BIO_new_mem_buf(in.data, static_cast<int>(in.size)));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ClearErrorQueue();
    const unsigned char* p = in.data;
    cert.reset(d2i_X509(nullptr, &p, static_cast<long>(in.size)));
  }
  if (!cert) ThrowOpenSSLError(env, kErrInvalidArgument, "could not parse certificate");
  return CertificateSummary(env, cert.get());
}

// generateCertificate({ commonName, altNames, keyType, rsaBits, isCA,
//   notBeforeOffsetSeconds, validSeconds, issuerCert, issuerKey, clientAuth })
Napi::Value GenerateCertificate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Value arg = Arg(info, 0);
  Napi::Object opts = IsMissing(arg) ? Napi::Object::New(env) : arg.As<Napi::Object>();
  if (!IsMissing(arg) && !arg.IsObject()) ThrowExpected(env, "options", "an object");
  std::string cn = OptString(env, opts, "commonName", "localhost");
  std::string key_type = OptString(env, opts, "keyType", "ec");
  int64_t bits = OptInt(env, opts, "rsaBits", 2048, 1024, 8192);
  int64_t not_before = OptInt(env, opts, "notBeforeOffsetSeconds", -3600, -(int64_t{1} << 40), int64_t{1} << 40);
  int64_t valid = OptInt(env, opts, "validSeconds", 365 * 86400, 1, int64_t{1} << 40);
  bool is_ca = !IsMissing(opts.Get("isCA")) && opts.Get("isCA").ToBoolean().Value();
  std::vector<std::string> alt;
  Napi::Value alt_v = opts.Get("altNames");
  if (!IsMissing(alt_v)) {
    if (!alt_v.IsArray()) ThrowExpected(env, "altNames", "an array of strings");
    Napi::Array a = alt_v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); ++i) {
      if (!a.Get(i).IsString()) ThrowExpected(env, "altNames", "an array of strings");
      std::string name = a.Get(i).As<Napi::String>().Utf8Value();
      if (name.empty() || name.find_first_of(",\n\r") != std::string::npos || name.find('\0') != std::string::npos)
        ThrowExpected(env, "altNames", "host names or IP addresses without commas");
      alt.push_back(name);
    }
  }

  ClearErrorQueue();
  PKeyPtr key = GenerateKey(env, key_type, bits);
  X509Ptr issuer_cert;
  PKeyPtr issuer_key;
  Napi::Value ic = opts.Get("issuerCert"), ik = opts.Get("issuerKey");
  if (!IsMissing(ic) || !IsMissing(ik)) {
    Bytes cb, kb;
    if (!ToBytes(ic, &cb)) ThrowExpected(env, "issuerCert", "a PEM string");
    if (!ToBytes(ik, &kb)) ThrowExpected(env, "issuerKey", "a PEM string");
    BioPtr b1(BIO_new_mem_buf(cb.data, static_cast<int>(cb.size)));
    BioPtr b2(BIO_new_mem_buf(kb.data, static_cast<int>(kb.size)));
    if (b1) issuer_cert.reset(PEM_read_bio_X509(b1.get(), nullptr, nullptr, nullptr));
    if (b2) issuer_key.reset(PEM_read_bio_PrivateKey(b2.get(), nullptr, nullptr, nullptr));
    if (!issuer_cert || !issuer_key) ThrowOpenSSLError(env, kErrInvalidArgument, "could not read issuer certificate or key");
  }

  X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), 2) != 1) Fail(env, "could not create certificate");
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) Fail(env, "no randomness for serial number");
  serial_bytes[0] &= 0x7f;  // a positive serial
  BnPtr serial(BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr));
  if (!serial || BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr)
    Fail(env, "could not set serial number");
  if (X509_gmtime_adj(X509_getm_notBefore(cert.get()), static_cast<long>(not_before)) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(not_before + valid)) == nullptr)
    Fail(env, "could not set validity");
  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1)
    Fail(env, "could not set common name");
  X509* issuer = issuer_cert ? issuer_cert.get() : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), key.get()) != 1)
    Fail(env, "could not set issuer or public key");

  X509V3_CTX v3;
  X509V3_set_ctx(&v3, issuer, cert.get(), nullptr, nullptr, 0);
  AddExtension(env, cert.get(), &v3, NID_basic_constraints, is_ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
  AddExtension(env, cert.get(), &v3, NID_key_usage,
               is_ca ? "critical,keyCertSign,cRLSign,digitalSignature"
                     : (key_type == "rsa" ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature"));
  AddExtension(env, cert.get(), &v3, NID_subject_key_identifier, "hash");
  if (issuer_cert) AddExtension(env, cert.get(), &v3, NID_authority_key_identifier, "keyid:always");
  if (!is_ca) AddExtension(env, cert.get(), &v3, NID_ext_key_usage, "serverAuth,clientAuth");
  if (!alt.empty()) {
    std::string san;
    for (const std::string& n : alt) san += (san.empty() ? "" : ",") + std::string(IsIp(n) ? "IP:" : "DNS:") + n;
    AddExtension(env, cert.get(), &v3, NID_subject_alt_name, san);
  }
  if (X509_sign(cert.get(), issuer_key ? issuer_key.get() : key.get(), EVP_sha256()) <= 0)
    Fail(env, "could not sign certificate");

  BioPtr cert_bio(BIO_new(BIO_s_mem())), key_bio(BIO_new(BIO_s_mem()));
  if (!cert_bio || !key_bio || PEM_write_bio_X509(cert_bio.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1)
    Fail(env, "could not encode PEM");
  Napi::Object out = Napi::Object::New(env);
  out.Set("cert", Napi::String::New(env, BioToString(cert_bio.get())));
  out.Set("key", Napi::String::New(env, BioToString(key_bio.get())));
  return out;
}

}  // namespace rxtls
