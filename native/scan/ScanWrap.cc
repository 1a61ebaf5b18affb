#include "ScanWrap.hh"

#include "../JsArrays.hh"

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
  try {
    prefilter_ = std::make_shared<const Prefilter>(patterns, literals);
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

// scan(buffer) -> { begins, ends, masks }: the candidate lines of the buffer (ends exclude '\n').
Napi::Value PrefilterWrap::Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "Expected a Buffer");
  auto buf = info[0].As<Napi::Buffer<char>>();
  if (buf.Length() > UINT32_MAX) throw Napi::RangeError::New(env, "Buffer larger than 4 GiB");
  std::vector<uint32_t> begins, ends, masks;
  prefilter_->scan(buf.Data(), buf.Length(), [&](const char* b, const char* e, Mask m) {
    begins.push_back(static_cast<uint32_t>(b - buf.Data()));
    ends.push_back(static_cast<uint32_t>(e - buf.Data()));
    masks.push_back(m);
  });
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

// A scan thread reads this much per pread (and more when one line is longer).
constexpr size_t kReadBytes = 4 << 20;
// A batch goes to JS once it holds this many bytes or lines, or its chunk has advanced this far.
constexpr size_t kBatchBytes = 1 << 20;
constexpr size_t kBatchLines = 10000;
constexpr uint64_t kProgressBytes = 16 << 20;
// Batches in flight before a scan thread waits for JS.
constexpr size_t kQueueLength = 32;

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

struct Shared;
void deliver(Napi::Env env, Napi::Function callback, Shared* shared, FileBatch* batch);
using Tsfn = Napi::TypedThreadSafeFunction<Shared, FileBatch, deliver>;

struct Shared {
  std::string path;
  std::shared_ptr<const Prefilter> prefilter;
  bool skipComments = true;
  int fd = -1;
  uint64_t size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> chunks;
  std::vector<std::thread> threads;
  Napi::Promise::Deferred deferred;
  std::mutex mutex;
  std::string error;
  // ThreadSafeFunctions not finalized yet (one per chunk); only the JS thread touches it.
  size_t open = 0;
  explicit Shared(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
};

Napi::Value toJs(Napi::Env env, FileBatch& b, uint64_t size) {
  auto out = Napi::Object::New(env);
  auto buf = takeBuffer(env, std::move(b.buf));
  out.Set("chunk", Napi::Number::New(env, b.chunk));
  out.Set("buf", buf);
  out.Set("ends", copyArray(env, b.ends));
  out.Set("lineNos", copyArray(env, b.lineNos));
  out.Set("offsets", copyArray(env, b.offsets));
  out.Set("masks", copyArray(env, b.masks));
  out.Set("skippedLineNos", copyArray(env, b.skippedLineNos));
  out.Set("scanned", Napi::Number::New(env, static_cast<double>(b.scanned)));
  out.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  out.Set("done", Napi::Boolean::New(env, b.done));
  if (b.done) {
    out.Set("lines", Napi::Number::New(env, static_cast<double>(b.lines)));
    out.Set("skipped", Napi::Number::New(env, static_cast<double>(b.skipped)));
  }
  return out;
}

void deliver(Napi::Env env, Napi::Function callback, Shared* shared, FileBatch* raw) {
  std::unique_ptr<FileBatch> batch(raw);
  if (static_cast<napi_env>(env) == nullptr || !batch) return;
  try {
    callback.Call({toJs(env, *batch, shared->size)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

std::string errnoMessage(const char* op, const std::string& path, int err) {
  return std::string(op) + " " + path + ": " + std::strerror(err);
}

bool isSkipped(const char* b, const char* e) {
  return b == e || *b == '#' || (e - b == 1 && *b == '\r');
}

// Lines in [from, to), and skipped lines (empty, "\r" or starting with '#') among them; `from`
// is a line start and `to` one too (or the end of the data). memchr per line: a byte loop
// costs more than the RE2 search.
// With `at`, the (chunk-relative, 0-based) numbers of the skipped lines are appended to it.
void countLines(const char* from, const char* to, uint64_t& lines, uint64_t& skipped, std::vector<double>* at = nullptr) {
  uint64_t n = 0, s = 0;
  for (const char* p = from; p < to;) {
    const char c = *p;
    const bool skip = (c == '\n') | (c == '#') | ((c == '\r') & (p + 1 < to && p[1] == '\n'));
    if (skip && at) at->push_back(static_cast<double>(lines + n));
    s += skip;
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(to - p));
    if (!nl) break;
    n++;
    p = static_cast<const char*>(nl) + 1;
  }
  lines += n;
  skipped += s;
}

class ChunkScanner {
 public:
  ChunkScanner(Shared& shared, Tsfn tsfn, uint32_t chunk) : shared_(shared), tsfn_(tsfn), chunk_(chunk) {
    batch_.chunk = chunk;
  }

  void run() {
    try {
      scan();
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(shared_.mutex);
      if (shared_.error.empty()) shared_.error = e.what();
    }
    batch_.done = true;
    batch_.lines = lines_;
    batch_.skipped = skipped_;
    send();
    tsfn_.Release();
  }

 private:
  void scan() {
    const auto [from, to] = shared_.chunks[chunk_];
    std::vector<char> buf(kReadBytes);
    size_t have = 0;  // bytes in buf: a partial line carried over, then new data
    uint64_t pos = from;  // file offset of the next byte to read
    uint64_t lastProgress = 0;
    while (pos < to || have) {
      if (buf.size() - have < kReadBytes / 2) buf.resize(std::max(buf.size() * 2, have + kReadBytes));
      const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size() - have, to - pos));
      ssize_t n = 0;
      if (want) {
        n = ::pread(shared_.fd, buf.data() + have, want, static_cast<off_t>(pos));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw std::runtime_error(errnoMessage("read", shared_.path, errno));
        if (n == 0) throw std::runtime_error("read " + shared_.path + ": the file shrank during the scan");
      }
      const uint64_t base = pos - have;  // file offset of buf[0]
      have += static_cast<size_t>(n);
      pos += static_cast<uint64_t>(n);
      // Complete lines, plus the unterminated last line of the file once everything is read.
      size_t usable = have;
      if (pos < to) {
        const void* nl = memrchr(buf.data(), '\n', have);
        if (!nl) continue;  // one line longer than buf: read more (buf grows)
        usable = static_cast<size_t>(static_cast<const char*>(nl) - buf.data()) + 1;
      }
      block(buf.data(), usable, base);
      std::memmove(buf.data(), buf.data() + usable, have - usable);
      have -= usable;
      batch_.scanned = pos - from - have;
      if (batch_.scanned - lastProgress >= kProgressBytes) {
        lastProgress = batch_.scanned;
        send();
      }
      if (pos >= to && have == 0) break;
    }
  }

  // Candidates of [data, data + len): complete lines, except the file's unterminated last one.
  void block(const char* data, size_t len, uint64_t base) {
    const char* counted = data;
    shared_.prefilter->scan(data, len, [&](const char* b, const char* e, Mask mask) {
      countLines(counted, b, lines_, skipped_, skippedAt());
      counted = b;
      if (shared_.skipComments && isSkipped(b, e)) return;
      batch_.buf.insert(batch_.buf.end(), b, e);
      batch_.buf.push_back('\n');
      batch_.ends.push_back(static_cast<uint32_t>(batch_.buf.size() - 1));
      batch_.lineNos.push_back(static_cast<double>(lines_));
      batch_.offsets.push_back(static_cast<double>(base + static_cast<uint64_t>(b - data)));
      batch_.masks.push_back(mask);
      if (batch_.ends.size() >= kBatchLines || batch_.buf.size() >= kBatchBytes) send();
    });
    if (len && data[len - 1] != '\n') {
      // The file's unterminated last line: a line too (and skipped if it is a comment).
      const char* start = static_cast<const char*>(memrchr(data, '\n', len));
      start = start ? start + 1 : data;
      countLines(counted, std::max(counted, start), lines_, skipped_, skippedAt());
      if (isSkipped(start, data + len)) {
        if (auto* at = skippedAt()) at->push_back(static_cast<double>(lines_));
        skipped_++;
      }
      lines_++;
    } else {
      countLines(counted, data + len, lines_, skipped_, skippedAt());
    }
  }

  void send() {
    auto* out = new FileBatch(std::move(batch_));
    batch_ = FileBatch();
    batch_.chunk = chunk_;
    batch_.scanned = out->scanned;
    if (tsfn_.BlockingCall(out) != napi_ok) delete out;
  }

  Shared& shared_;
  Tsfn tsfn_;
  const uint32_t chunk_;
  FileBatch batch_;
  uint64_t lines_ = 0;
  uint64_t skipped_ = 0;

  // Where the numbers of skipped lines go (only when they are left out of the candidates).
  std::vector<double>* skippedAt() { return shared_.skipComments ? &batch_.skippedLineNos : nullptr; }
};

// Splits [0, size) into up to `n` ranges that start at line starts.
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

// scanFile(path, prefilter, { threads, skipComments }, onBatch) -> Promise<{ size, lines, skipped }>
Napi::Value ScanFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "Expected path to be a non-empty string");
  auto prefilter = PrefilterWrap::from(env, info[1], "prefilter");
  if (!info[2].IsObject()) throw Napi::TypeError::New(env, "Expected options to be an object");
  auto opts = info[2].As<Napi::Object>();
  const double threads = opts.Get("threads").IsNumber() ? opts.Get("threads").As<Napi::Number>().DoubleValue() : 1;
  if (!(threads >= 1 && threads <= 64) || std::floor(threads) != threads) {
    throw Napi::TypeError::New(env, "Expected options.threads to be an integer from 1 to 64");
  }
  if (!info[3].IsFunction()) throw Napi::TypeError::New(env, "Expected onBatch to be a function");

  auto* shared = new Shared(env);
  shared->path = path;
  shared->prefilter = prefilter;
  shared->skipComments = !opts.Get("skipComments").IsBoolean() || opts.Get("skipComments").As<Napi::Boolean>().Value();
  Napi::Promise promise = shared->deferred.Promise();
  shared->fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (shared->fd < 0 || ::fstat(shared->fd, &st) != 0) {
    const std::string message = errnoMessage("open", path, errno);
    if (shared->fd >= 0) ::close(shared->fd);
    shared->deferred.Reject(Napi::Error::New(env, message).Value());
    delete shared;
    return promise;
  }
  shared->size = static_cast<uint64_t>(st.st_size);
  shared->chunks = splitChunks(shared->fd, shared->size, static_cast<unsigned>(threads));

  // One ThreadSafeFunction PER CHUNK THREAD, never one shared by several: Node wakes a single
  // blocked producer per call taken from a full queue, so with two threads blocked on one queue
  // the second could sleep for ever after the first one finished (seen here: a 1M-line scan
  // hung about one run in three).
  const auto finalize = [](Napi::Env fenv, void*, Shared* s) {
    if (--s->open > 0) return;
    for (auto& t : s->threads) t.join();
    ::close(s->fd);
    if (static_cast<napi_env>(fenv) != nullptr) {
      Napi::HandleScope scope(fenv);
      if (!s->error.empty()) {
        s->deferred.Reject(Napi::Error::New(fenv, s->error).Value());
      } else {
        auto out = Napi::Object::New(fenv);
        out.Set("size", Napi::Number::New(fenv, static_cast<double>(s->size)));
        out.Set("chunks", Napi::Number::New(fenv, static_cast<double>(s->chunks.size())));
        s->deferred.Resolve(out);
      }
    }
    delete s;
  };
  std::vector<Tsfn> tsfns;
  for (size_t c = 0; c < shared->chunks.size(); c++) {
    tsfns.push_back(Tsfn::New(env, info[3].As<Napi::Function>(), "f2b-fast scanFile", kQueueLength, 1, shared, finalize));
    shared->open++;
  }
  for (uint32_t c = 0; c < shared->chunks.size(); c++) {
    try {
      Tsfn tsfn = tsfns[c];
      shared->threads.emplace_back([shared, tsfn, c] { ChunkScanner(*shared, tsfn, c).run(); });
    } catch (const std::exception& e) {
      // No thread for this chunk (nor the ones after it): release their functions.
      {
        std::lock_guard<std::mutex> lock(shared->mutex);
        if (shared->error.empty()) shared->error = std::string("cannot start a scan thread: ") + e.what();
      }
      for (size_t rest = c; rest < tsfns.size(); rest++) tsfns[rest].Release();
      break;
    }
  }
  return promise;
}

}  // namespace

void InitFileScan(Napi::Env env, Napi::Object exports) {
  exports.Set("scanFile", Napi::Function::New<ScanFile>(env, "scanFile"));
}

}  // namespace f2b::scan
