// f2b_native: the native stages of f2b-fast in one addon. Each stage registers its exports here.
#include <napi.h>

#include "scan/ScanWrap.hh"
#include "tailer/TailerWrap.hh"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  f2b::tailer::TailerWrap::Init(env, exports);
  f2b::scan::PrefilterWrap::Init(env, exports);
  f2b::scan::InitFileScan(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(f2b_native, Init)
