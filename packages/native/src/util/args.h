// Argument checks shared by every entry point. Each throws ERR_TLS_INVALID_ARGUMENT
// with a message in one form: Expected "name" to be <what>.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "errors.h"

namespace rxtls {

[[noreturn]] inline void ThrowExpected(Napi::Env env, const char* name, const char* what) {
  ThrowError(env, kErrInvalidArgument, std::string("Expected \"") + name + "\" to be " + what);
}

inline Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) {
  return i < info.Length() ? info[i] : info.Env().Undefined();
}

inline bool IsMissing(const Napi::Value& v) { return v.IsUndefined() || v.IsNull(); }

inline std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsString()) ThrowExpected(info.Env(), name, "a string");
  std::string s = v.As<Napi::String>().Utf8Value();
  // OpenSSL takes C strings: an embedded NUL would silently cut the value.
  if (s.find('\0') != std::string::npos) ThrowExpected(info.Env(), name, "a string without NUL bytes");
  return s;
}

inline bool BoolArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Napi::Value v = Arg(info, i);
  if (!v.IsBoolean()) ThrowExpected(info.Env(), name, "a boolean");
  return v.As<Napi::Boolean>().Value();
}

inline int64_t IntArg(const Napi::CallbackInfo& info, size_t i, const char* name, int64_t min,
                      int64_t max) {
  Napi::Value v = Arg(info, i);
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d == static_cast<double>(static_cast<int64_t>(d)) && d >= static_cast<double>(min) &&
        d <= static_cast<double>(max))
      return static_cast<int64_t>(d);
  }
  std::string what = "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  ThrowExpected(info.Env(), name, what.c_str());
}

// A view of bytes from a Buffer/Uint8Array, or a string's UTF-8 copy kept in `hold`.
// Copies and moves re-point `data` at their own `hold`: a short string lives
// inside the std::string object itself, so a plain member-wise move would
// leave `data` pointing into the moved-from object.
struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::string hold;

  Bytes() = default;
  Bytes(const Bytes& other) { *this = other; }
  Bytes(Bytes&& other) noexcept { *this = std::move(other); }
  Bytes& operator=(const Bytes& other) {
    if (this != &other) Assign(other.OwnsData(), other.data, other.size, std::string(other.hold));
    return *this;
  }
  Bytes& operator=(Bytes&& other) noexcept {
    if (this != &other) Assign(other.OwnsData(), other.data, other.size, std::move(other.hold));
    return *this;
  }

 private:
  bool OwnsData() const { return data == reinterpret_cast<const uint8_t*>(hold.data()); }
  void Assign(bool owned, const uint8_t* borrowed, size_t n, std::string&& text) {
    hold = std::move(text);
    data = owned ? reinterpret_cast<const uint8_t*>(hold.data()) : borrowed;
    size = n;
  }
};

inline bool ToBytes(const Napi::Value& v, Bytes* out) {
  if (v.IsTypedArray()) {
    auto arr = v.As<Napi::TypedArray>();
    if (arr.TypedArrayType() != napi_uint8_array) return false;
    auto u8 = v.As<Napi::Uint8Array>();
    out->data = u8.Data();
    out->size = u8.ByteLength();
    return true;
  }
  if (v.IsString()) {
    out->hold = v.As<Napi::String>().Utf8Value();
    out->data = reinterpret_cast<const uint8_t*>(out->hold.data());
    out->size = out->hold.size();
    return true;
  }
  return false;
}

inline Bytes BytesArg(const Napi::CallbackInfo& info, size_t i, const char* name) {
  Bytes b;
  if (!ToBytes(Arg(info, i), &b)) ThrowExpected(info.Env(), name, "a Buffer, Uint8Array or string");
  return b;
}

}  // namespace rxtls
