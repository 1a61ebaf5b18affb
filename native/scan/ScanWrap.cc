#include "ScanWrap.hh"

#include "../JsArrays.hh"
#include "ChunkReader.hh"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace f2b::scan {

Napi::FunctionReference* PrefilterWrap::constructor_ = nullptr;

void PrefilterWrap::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = DefineClass(env, "Prefilter",
                                   {
                                       InstanceAccessor<&PrefilterWrap::Groups>("groups"),
                                       InstanceAccessor<&PrefilterWrap::PassesAll>("passesAll"),
                                       InstanceAccessor<&PrefilterWrap::LiteralGateOn>("literalGate"),
                                       InstanceMethod<&PrefilterWrap::Scan>("scan"),
                                   });
  constructor_ = new Napi::FunctionReference(Napi::Persistent(cls));
  env.SetInstanceData<Napi::FunctionReference>(constructor_);
  exports.Set("Prefilter", cls);
}

PrefilterWrap::PrefilterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PrefilterWrap>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsArray()) throw Napi::TypeError::New(env, "Expected patterns to be an array of strings");
  auto list = info[0].As<Napi::Array>();
  std::vector<std::string> patterns;
  for (uint32_t i = 0; i < list.Length(); i++) {
    Napi::Value v = list.Get(i);
    if (!v.IsString()) throw Napi::TypeError::New(env, "Expected patterns to be an array of strings");
    patterns.push_back(v.As<Napi::String>().Utf8Value());
  }
  // literals: per group, [{ text, ci }] (optional)
  std::vector<std::vector<LiteralGate::Literal>> literals;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsArray()) throw Napi::TypeError::New(env, "Expected literals to be an array of arrays");
    auto groups = info[1].As<Napi::Array>();
    for (uint32_t g = 0; g < groups.Length(); g++) {
      Napi::Value v = groups.Get(g);
      if (!v.IsArray()) throw Napi::TypeError::New(env, "Expected literals to be an array of arrays");
      auto list = v.As<Napi::Array>();
      std::vector<LiteralGate::Literal> group;
      for (uint32_t i = 0; i < list.Length(); i++) {
        Napi::Value e = list.Get(i);
        if (!e.IsObject() || !e.As<Napi::Object>().Get("text").IsString()) {
          throw Napi::TypeError::New(env, "Expected each literal to be { text, ci }");
        }
        auto o = e.As<Napi::Object>();
        group.push_back({o.Get("text").As<Napi::String>().Utf8Value(), o.Get("ci").ToBoolean().Value()});
      }
      literals.push_back(std::move(group));
    }
  }
  // sample (optional): a Buffer with the start of the log
  std::string sample;
  if (info.Length() > 2 && info[2].IsBuffer()) {
    auto b = info[2].As<Napi::Buffer<char>>();
    sample.assign(b.Data(), b.Length());
  }
  try {
    prefilter_ = std::make_shared<const Prefilter>(patterns, literals, sample);
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, e.what());
  }
}

std::shared_ptr<const Prefilter> PrefilterWrap::from(Napi::Env env, Napi::Value value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(constructor_->Value())) {
    throw Napi::TypeError::New(env, std::string("Expected ") + what + " to be a native Prefilter");
  }
  return Unwrap(value.As<Napi::Object>())->prefilter_;
}

Napi::Value PrefilterWrap::Groups(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(prefilter_->groups()));
}

Napi::Value PrefilterWrap::LiteralGateOn(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), prefilter_->literalGate());
}

Napi::Value PrefilterWrap::PassesAll(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), prefilter_->passesAll());
}

// scan(buffer, { literalMasks }) -> { begins, ends, masks }: the candidate lines of the buffer
// (ends exclude '\n'); literalMasks: the masks matchFile uses (Prefilter::scan without masks).
Napi::Value PrefilterWrap::Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "Expected a Buffer");
  auto buf = info[0].As<Napi::Buffer<char>>();
  if (buf.Length() > UINT32_MAX) throw Napi::RangeError::New(env, "Buffer larger than 4 GiB");
  const bool literalMasks = info[1].IsObject() && info[1].As<Napi::Object>().Get("literalMasks").ToBoolean().Value();
  std::vector<uint32_t> begins, ends, masks;
  prefilter_->scan(
      buf.Data(), buf.Length(),
      [&](const char* b, const char* e, Mask m) {
        begins.push_back(static_cast<uint32_t>(b - buf.Data()));
        ends.push_back(static_cast<uint32_t>(e - buf.Data()));
        masks.push_back(m);
      },
      !literalMasks);
  auto out = Napi::Object::New(env);
  auto put = [&](const char* name, const std::vector<uint32_t>& v) { out.Set(name, copyArray(env, v)); };
  put("begins", begins);
  put("ends", ends);
  put("masks", masks);
  return out;
}

// ---------------------------------------------------------------------------------------------
// scanFile

namespace {

// A batch goes to JS once it holds this many bytes or lines, or its chunk has advanced this far.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kBatchLines = 10000;

struct FileBatch {
  uint32_t chunk = 0;
  // Candidate lines, each followed by '\n'.
  std::vector<char> buf;
  std::vector<uint32_t> ends;
  // Chunk-relative 0-based line numbers and file offsets of the candidates.
  std::vector<double> lineNos;
  std::vector<double> offsets;
  std::vector<uint32_t> masks;
  // With skipComments: chunk-relative 0-based numbers of the empty and comment lines counted
  // for this batch.
  std::vector<double> skippedLineNos;
  // Bytes of the chunk scanned so far.
  uint64_t scanned = 0;
  // Last batch of its chunk: lines/skipped are the chunk's totals.
  bool done = false;
  uint64_t lines = 0;
  uint64_t skipped = 0;
};

struct FileScan : ParallelScan<FileBatch> {
  std::shared_ptr<const Prefilter> prefilter;
  bool skipComments = true;
  using ParallelScan::ParallelScan;

  Napi::Value toJs(Napi::Env env, FileBatch& b) override {
    auto out = Napi::Object::New(env);
    setChunkFields(env, out, b, size);
    out.Set("buf", takeBuffer(env, std::move(b.buf)));
    out.Set("ends", copyArray(env, b.ends));
    out.Set("lineNos", copyArray(env, b.lineNos));
    out.Set("offsets", copyArray(env, b.offsets));
    out.Set("masks", copyArray(env, b.masks));
    return out;
  }
};

// The chunk thread's sink: candidates copied into batches for JS.
class ChunkScanner : public ChunkSink<FileBatch> {
 public:
  ChunkScanner(FileScan& scan, ScanTsfn<FileBatch> tsfn, uint32_t chunk) : ChunkSink(tsfn, chunk), scan_(scan) {}

  void run(std::vector<char>& buf) { ChunkSink::run(scan_, *this, scan_.prefilter.get(), scan_.skipComments, true, buf); }

  void candidate(const char* b, const char* e, Mask mask, uint64_t lineNo, uint64_t offset) {
    batch_.buf.insert(batch_.buf.end(), b, e);
    batch_.buf.push_back('\n');
    batch_.ends.push_back(static_cast<uint32_t>(batch_.buf.size() - 1));
    batch_.lineNos.push_back(static_cast<double>(lineNo));
    batch_.offsets.push_back(static_cast<double>(offset));
    batch_.masks.push_back(mask);
    if (batch_.ends.size() >= kBatchLines || batch_.buf.size() >= kBatchBytes) send();
  }

 private:
  FileScan& scan_;
};

// scanFile(path, prefilter, { threads, skipComments }, onBatch) -> Promise<{ size, chunks }>
Napi::Value ScanFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "Expected path to be a non-empty string");
  auto prefilter = PrefilterWrap::from(env, info[1], "prefilter");
  if (!info[2].IsObject()) throw Napi::TypeError::New(env, "Expected options to be an object");
  auto opts = info[2].As<Napi::Object>();
  const unsigned threads = threadsOption(env, opts);
  if (!info[3].IsFunction()) throw Napi::TypeError::New(env, "Expected onBatch to be a function");

  auto* scan = new FileScan(env);
  scan->path = path;
  scan->prefilter = prefilter;
  scan->skipComments = !opts.Get("skipComments").IsBoolean() || opts.Get("skipComments").As<Napi::Boolean>().Value();
  return startParallelScan<FileBatch>(env, scan, threads, info[3].As<Napi::Function>(),
                                      [](ParallelScan<FileBatch>& s, ScanTsfn<FileBatch> tsfn, uint32_t chunk, std::vector<char>& buf) {
                                        ChunkScanner(static_cast<FileScan&>(s), tsfn, chunk).run(buf);
                                      });
}

// sampleTables(buffer) -> [pairs, triples, lowerPairs, lowerTriples]: counts of the buffer's byte
// pairs (index b0 << 8 | b1) and hashed byte triples, as src/prefilter/native.ts LiteralSample
// reads them (its tripleHash); the lower ones over the buffer with ASCII letters lower-cased.
Napi::Value SampleTables(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "Expected a Buffer");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  const uint8_t* b = buf.Data();
  const size_t n = buf.Length();
  auto out = Napi::Array::New(env, 4);
  for (uint32_t lower = 0; lower < 2; lower++) {
    auto pairs = Napi::Uint32Array::New(env, 1 << 16);
    auto triples = Napi::Uint32Array::New(env, 1 << 16);
    const auto at = [&](size_t i) -> uint32_t {
      const uint8_t c = b[i];
      return lower && c >= 'A' && c <= 'Z' ? c | 0x20 : c;
    };
    for (size_t i = 0; i + 1 < n; i++) {
      pairs[(at(i) << 8) | at(i + 1)]++;
      if (i + 2 < n) triples[((((at(i) << 16) | (at(i + 1) << 8) | at(i + 2)) * 0x9e3779b1u) >> 16) & 0xffff]++;
    }
    out.Set(lower * 2, pairs);
    out.Set(lower * 2 + 1, triples);
  }
  return out;
}

}  // namespace

unsigned threadsOption(Napi::Env env, Napi::Object opts) {
  const double threads = opts.Get("threads").IsNumber() ? opts.Get("threads").As<Napi::Number>().DoubleValue() : 1;
  if (!(threads >= 1 && threads <= 64) || std::floor(threads) != threads) {
    throw Napi::TypeError::New(env, "Expected options.threads to be an integer from 1 to 64");
  }
  return static_cast<unsigned>(threads);
}

std::vector<std::pair<uint64_t, uint64_t>> splitChunks(int fd, uint64_t size, unsigned n) {
  std::vector<uint64_t> starts{0};
  std::vector<char> probe(64 << 10);
  for (unsigned i = 1; i < n; i++) {
    uint64_t at = std::max(size * i / n, starts.back());
    // The next line start at or after `at`.
    for (;;) {
      if (at >= size) break;
      const ssize_t got = ::pread(fd, probe.data(), probe.size(), static_cast<off_t>(at - 1 + (at == 0)));
      if (got <= 0) {
        at = size;
        break;
      }
      if (at == 0) break;
      const void* nl = std::memchr(probe.data(), '\n', static_cast<size_t>(got));
      if (nl) {
        at = at - 1 + static_cast<uint64_t>(static_cast<const char*>(nl) - probe.data()) + 1;
        break;
      }
      at += static_cast<uint64_t>(got);
    }
    if (at >= size) break;
    if (at > starts.back()) starts.push_back(at);
  }
  std::vector<std::pair<uint64_t, uint64_t>> out;
  for (size_t i = 0; i < starts.size(); i++) out.emplace_back(starts[i], i + 1 < starts.size() ? starts[i + 1] : size);
  return out;
}

void InitFileScan(Napi::Env env, Napi::Object exports) {
  exports.Set("scanFile", Napi::Function::New<ScanFile>(env, "scanFile"));
  exports.Set("sampleTables", Napi::Function::New<SampleTables>(env, "sampleTables"));
}

}  // namespace f2b::scan
