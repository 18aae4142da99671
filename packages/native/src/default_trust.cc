#include "default_trust.h"

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>

#include "util/err_queue.h"

namespace rxtls {
namespace {

// Owns the per-thread copy of the parsed default file.
struct DefaultStore {
  X509_STORE* store = nullptr;
  bool loaded = false;
  ~DefaultStore() { X509_STORE_free(store); }
};

X509_STORE* LoadedDefaultFile() {
  thread_local DefaultStore cache;
  if (!cache.loaded) {
    cache.loaded = true;
    cache.store = X509_STORE_new();
    if (cache.store == nullptr) return nullptr;
    const char* env = std::getenv(X509_get_default_cert_file_env());
    const char* file = env != nullptr ? env : X509_get_default_cert_file();
    X509_LOOKUP* lookup = X509_STORE_add_lookup(cache.store, X509_LOOKUP_file());
    // A machine without the file has no default trust: not an error, the
    // caller may add its own CAs.
    if (lookup == nullptr || X509_LOOKUP_load_file(lookup, file, X509_FILETYPE_PEM) != 1) ClearErrorQueue();
  }
  return cache.store;
}

}  // namespace

bool AddDefaultTrust(SSL_CTX* ctx) {
  X509_STORE* target = SSL_CTX_get_cert_store(ctx);
  X509_STORE* source = LoadedDefaultFile();
  if (target == nullptr || source == nullptr) return false;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(source);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* obj = sk_X509_OBJECT_value(objects, i);
    if (X509_OBJECT_get_type(obj) != X509_LU_X509) continue;
    if (X509_STORE_add_cert(target, X509_OBJECT_get0_X509(obj)) != 1) return false;
  }
  // The hashed directory is looked up lazily, per certificate: cheap to add.
  const char* env = std::getenv(X509_get_default_cert_dir_env());
  const char* dir = env != nullptr ? env : X509_get_default_cert_dir();
  X509_LOOKUP* lookup = X509_STORE_add_lookup(target, X509_LOOKUP_hash_dir());
  if (lookup == nullptr || X509_LOOKUP_add_dir(lookup, dir, X509_FILETYPE_PEM) != 1) return false;
  return true;
}

}  // namespace rxtls
