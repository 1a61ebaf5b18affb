// JavaScript bindings of the native matcher (src/native.ts types them, src/match/native.ts
// builds the spec and drives them):
//   new NativeFilter(spec)              a filter compiled for PCRE2 (throws naming the regex)
//   matchFile(path, filter, prefilter, opts, onBatch) -> Promise   whole-file match in
//                                       parallel chunks; batches carry opaque record handles
//   new RegexTally(filter, opts)        fail2ban-regex's counters; feed(handle, lineBase) in
//                                       file order returns the failures (JSON mode)
#pragma once

#include <napi.h>

namespace f2b::match {

void Init(Napi::Env env, Napi::Object exports);

}  // namespace f2b::match
