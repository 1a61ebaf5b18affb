// Handing C++ vectors to JavaScript, for the tailer's and the scanner's batches.
#pragma once

#include <napi.h>

#include <cstring>
#include <vector>

namespace f2b {

// A Buffer that takes over the vector's bytes without copying them (an empty vector may have no
// storage at all, and V8 would see a detached buffer: that one gets a fresh empty Buffer).
inline Napi::Buffer<char> takeBuffer(Napi::Env env, std::vector<char>&& bytes) {
  if (bytes.empty()) return Napi::Buffer<char>::New(env, 0);
  auto* owned = new std::vector<char>(std::move(bytes));
  return Napi::Buffer<char>::NewOrCopy(
      env, owned->data(), owned->size(), [](Napi::Env, char*, std::vector<char>* v) { delete v; }, owned);
}

// A typed array holding a copy of the vector (Uint32Array for uint32_t, Float64Array for double).
template <class T>
Napi::TypedArrayOf<T> copyArray(Napi::Env env, const std::vector<T>& v) {
  auto a = Napi::TypedArrayOf<T>::New(env, v.size());
  if (!v.empty()) std::memcpy(a.Data(), v.data(), v.size() * sizeof(T));
  return a;
}

}  // namespace f2b
