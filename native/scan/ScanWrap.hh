// JavaScript bindings of the native scanner (src/native.ts types them):
//   new Prefilter(patterns)                 compiled once, shared by scans and tailers
//   prefilter.scan(buffer)                  candidate lines of an in-memory buffer
//   scanFile(path, prefilter, opts, onBatch) whole-file scan in parallel chunks -> Promise
#pragma once

#include <napi.h>

#include <memory>

#include "Prefilter.hh"

namespace f2b::scan {

class PrefilterWrap : public Napi::ObjectWrap<PrefilterWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports);
  explicit PrefilterWrap(const Napi::CallbackInfo& info);
  // The compiled prefilter of a JS Prefilter object; throws a TypeError for anything else.
  static std::shared_ptr<const Prefilter> from(Napi::Env env, Napi::Value value, const char* what);

 private:
  Napi::Value Groups(const Napi::CallbackInfo& info);
  Napi::Value PassesAll(const Napi::CallbackInfo& info);
  Napi::Value LiteralGateOn(const Napi::CallbackInfo& info);
  Napi::Value Scan(const Napi::CallbackInfo& info);

  static Napi::FunctionReference* constructor_;
  std::shared_ptr<const Prefilter> prefilter_;
};

void InitFileScan(Napi::Env env, Napi::Object exports);

// options.threads of a scan: an integer from 1 to 64 (default 1); throws a TypeError.
unsigned threadsOption(Napi::Env env, Napi::Object opts);

}  // namespace f2b::scan
