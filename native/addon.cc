// f2b_native: the native stages of f2b-fast in one addon. Each stage registers its exports here.
#include <napi.h>

#include "log/UnixDatagram.hh"
#include "scan/ScanWrap.hh"
#include "tailer/TailerWrap.hh"
#ifdef F2B_HAVE_PCRE2
#include "match/MatchWrap.hh"
#endif

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  f2b::tailer::TailerWrap::Init(env, exports);
  f2b::scan::PrefilterWrap::Init(env, exports);
  f2b::scan::InitFileScan(env, exports);
  f2b::log::InitUnixDatagram(env, exports);
#ifdef F2B_HAVE_PCRE2
  // the native matcher needs PCRE2 (libpcre2-dev at build time); without it `regex` and the
  // daemon match in JavaScript
  f2b::match::Init(env, exports);
#endif
  return exports;
}

}  // namespace

NODE_API_MODULE(f2b_native, Init)
