// Whole-file scans in parallel chunks, shared by scanFile (candidate lines to JS) and matchFile
// (native/match: candidate lines matched in C++):
//
//  - splitChunks cuts a file at line starts into ranges (chunks);
//  - readChunk reads one range in large preads and hands a Sink the candidate lines the
//    prefilter passes (every line without one), with chunk-relative line numbers, counting the
//    others without a call;
//  - startParallelScan runs a few threads that take the chunks in file order (a large file has
//    several chunks per thread: the caller, who handles them in file order, gets the first ones
//    early and waits less for the last), each thread with its OWN ThreadSafeFunction (Node wakes
//    a single blocked producer per slot it frees: threads sharing a full queue could sleep for
//    ever), and settles a Promise once every thread is done.
#pragma once

#include <napi.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fcntl.h>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <utility>
#include <vector>

#include "../JsArrays.hh"
#include "Prefilter.hh"

namespace f2b::scan {

// A scan thread reads this much per pread (and more when one line is longer).
constexpr size_t kReadBytes = 4 << 20;
constexpr uint64_t kProgressBytes = 16 << 20;
// Batches in flight before a scan thread waits for JS.
constexpr size_t kQueueLength = 32;

inline std::string errnoMessage(const char* op, const std::string& path, int err) {
  return std::string(op) + " " + path + ": " + std::strerror(err);
}

// The lines `regex` leaves out: empty, "\r", or starting with '#'.
inline bool isSkipped(const char* b, const char* e) { return b == e || *b == '#' || (e - b == 1 && *b == '\r'); }

// Splits [0, size) into up to `n` ranges that start at line starts.
std::vector<std::pair<uint64_t, uint64_t>> splitChunks(int fd, uint64_t size, unsigned n);

// What readChunk calls:
//   void candidate(const char* begin, const char* end, Mask mask, uint64_t lineNo, uint64_t offset)
//   void skipped(uint64_t lineNo)          an empty or comment line (with skipComments)
//   void progress(uint64_t scanned)        bytes of the chunk done, now and then
// `end` points at the line's '\n' (or the end of the data); lineNo is 0-based in the chunk.
struct ChunkCounts {
  uint64_t lines = 0;
  uint64_t skipped = 0;
};

namespace detail {

// Lines in [from, to), reporting the skipped ones; `from` is a line start and `to` one too (or
// the end of the data). memchr per line: a byte loop costs more than the RE2 search.
template <class Sink>
void countLines(const char* from, const char* to, ChunkCounts& c, bool skipComments, Sink& sink) {
  for (const char* p = from; p < to;) {
    const char ch = *p;
    const bool skip = (ch == '\n') | (ch == '#') | ((ch == '\r') & (p + 1 < to && p[1] == '\n'));
    if (skip && skipComments) sink.skipped(c.lines);
    c.skipped += skip;
    const void* nl = std::memchr(p, '\n', static_cast<size_t>(to - p));
    if (!nl) break;
    c.lines++;
    p = static_cast<const char*>(nl) + 1;
  }
}

// Candidates of [data, data + len): complete lines, except the file's unterminated last one.
template <class Sink>
void block(const char* data, size_t len, uint64_t base, const Prefilter* prefilter, bool skipComments, bool masks,
           ChunkCounts& c, Sink& sink) {
  const char* counted = data;
  const auto hit = [&](const char* b, const char* e, Mask mask) {
    countLines(counted, b, c, skipComments, sink);
    counted = b;
    if (skipComments && isSkipped(b, e)) return;
    sink.candidate(b, e, mask, c.lines, base + static_cast<uint64_t>(b - data));
  };
  if (prefilter) {
    prefilter->scan(data, len, hit, masks);
  } else {
    for (const char* p = data; p < data + len;) {
      const void* nl = std::memchr(p, '\n', static_cast<size_t>(data + len - p));
      const char* e = nl ? static_cast<const char*>(nl) : data + len;
      hit(p, e, ~Mask{0});
      p = e + 1;
    }
  }
  if (len && data[len - 1] != '\n') {
    // The file's unterminated last line: a line too (and skipped if it is a comment).
    const char* start = static_cast<const char*>(memrchr(data, '\n', len));
    start = start ? start + 1 : data;
    countLines(counted, std::max(counted, start), c, skipComments, sink);
    if (isSkipped(start, data + len)) {
      if (skipComments) sink.skipped(c.lines);
      c.skipped++;
    }
    c.lines++;
  } else {
    countLines(counted, data + len, c, skipComments, sink);
  }
}

}  // namespace detail

// Reads [from, to) of fd and feeds the sink, through `buf` (the thread's read buffer, grown to
// at least kReadBytes). `masks`: compute each candidate's group mask (else every candidate gets
// all bits). Throws std::runtime_error on a read error.
template <class Sink>
ChunkCounts readChunk(int fd, const std::string& path, uint64_t from, uint64_t to, const Prefilter* prefilter,
                      bool skipComments, bool masks, Sink& sink, std::vector<char>& buf) {
  ChunkCounts counts;
  if (buf.size() < kReadBytes) buf.resize(kReadBytes);
  size_t have = 0;  // bytes in buf: a partial line carried over, then new data
  uint64_t pos = from;  // file offset of the next byte to read
  uint64_t lastProgress = 0;
  while (pos < to || have) {
    if (buf.size() - have < kReadBytes / 2) buf.resize(std::max(buf.size() * 2, have + kReadBytes));
    const size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size() - have, to - pos));
    ssize_t n = 0;
    if (want) {
      n = ::pread(fd, buf.data() + have, want, static_cast<off_t>(pos));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error(errnoMessage("read", path, errno));
      if (n == 0) throw std::runtime_error("read " + path + ": the file shrank during the scan");
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
    detail::block(buf.data(), usable, base, prefilter, skipComments, masks, counts, sink);
    std::memmove(buf.data(), buf.data() + usable, have - usable);
    have -= usable;
    const uint64_t scanned = pos - from - have;
    if (scanned - lastProgress >= kProgressBytes || (pos >= to && have == 0)) {
      lastProgress = scanned;
      sink.progress(scanned);
    }
    if (pos >= to && have == 0) break;
  }
  return counts;
}

// One parallel scan: the file, its chunks, the threads and the Promise. Batch is what a chunk
// thread hands to JS; toJs(env, batch, shared) turns it into the callback's argument.
template <class Batch>
struct ParallelScan {
  std::string path;
  int fd = -1;
  uint64_t size = 0;
  std::vector<std::pair<uint64_t, uint64_t>> chunks;
  std::vector<std::thread> threads;
  Napi::Promise::Deferred deferred;
  std::mutex mutex;
  std::string error;
  // ThreadSafeFunctions not finalized yet (one per thread); only the JS thread touches it.
  size_t open = 0;
  // the next chunk no thread has taken yet
  std::atomic<uint32_t> nextChunk{0};
  explicit ParallelScan(Napi::Env env) : deferred(Napi::Promise::Deferred::New(env)) {}
  virtual ~ParallelScan() = default;
  virtual Napi::Value toJs(Napi::Env env, Batch& batch) = 0;

  void fail(const std::string& message) {
    std::lock_guard<std::mutex> lock(mutex);
    if (error.empty()) error = message;
  }
};

// The fields every batch object of a parallel scan has in JS (src/native.ts NativeChunkBatch).
template <class Batch>
void setChunkFields(Napi::Env env, Napi::Object out, const Batch& b, uint64_t size) {
  out.Set("chunk", Napi::Number::New(env, b.chunk));
  out.Set("skippedLineNos", copyArray(env, b.skippedLineNos));
  out.Set("scanned", Napi::Number::New(env, static_cast<double>(b.scanned)));
  out.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  out.Set("done", Napi::Boolean::New(env, b.done));
  if (b.done) {
    out.Set("lines", Napi::Number::New(env, static_cast<double>(b.lines)));
    out.Set("skipped", Napi::Number::New(env, static_cast<double>(b.skipped)));
  }
}

template <class Batch>
void deliverBatch(Napi::Env env, Napi::Function callback, ParallelScan<Batch>* scan, Batch* raw) {
  std::unique_ptr<Batch> batch(raw);
  if (static_cast<napi_env>(env) == nullptr || !batch) return;
  try {
    callback.Call({scan->toJs(env, *batch)});
  } catch (const Napi::Error& e) {
    napi_fatal_exception(env, e.Value());
  }
}

template <class Batch>
using ScanTsfn = Napi::TypedThreadSafeFunction<ParallelScan<Batch>, Batch, deliverBatch<Batch>>;

// A file this large gets several chunks per thread.
constexpr uint64_t kManyChunksBytes = 32 << 20;
constexpr unsigned kChunksPerThread = 4;

// Opens scan->path, cuts it into chunks and starts `threads` threads, each of which calls
// run(scan, tsfn, chunk, buf) for the next chunk not taken yet, in file order, until none is
// left (tsfn: the thread's own function; buf: its read buffer). The Promise resolves with
// { size, chunks } (or rejects with the first error) once all threads are done, and the scan is
// deleted then. Takes ownership of scan.
template <class Batch, class Run>
Napi::Promise startParallelScan(Napi::Env env, ParallelScan<Batch>* scan, unsigned threads, Napi::Function onBatch,
                                Run run) {
  Napi::Promise promise = scan->deferred.Promise();
  scan->fd = ::open(scan->path.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (scan->fd < 0 || ::fstat(scan->fd, &st) != 0) {
    const std::string message = errnoMessage("open", scan->path, errno);
    if (scan->fd >= 0) ::close(scan->fd);
    scan->deferred.Reject(Napi::Error::New(env, message).Value());
    delete scan;
    return promise;
  }
  scan->size = static_cast<uint64_t>(st.st_size);
  scan->chunks = splitChunks(scan->fd, scan->size, threads * (scan->size >= kManyChunksBytes ? kChunksPerThread : 1));
  threads = std::min<unsigned>(threads, static_cast<unsigned>(scan->chunks.size()));

  const auto finalize = [](Napi::Env fenv, void*, ParallelScan<Batch>* s) {
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
  std::vector<ScanTsfn<Batch>> tsfns;
  for (unsigned t = 0; t < threads; t++) {
    tsfns.push_back(ScanTsfn<Batch>::New(env, onBatch, "f2b-fast file scan", kQueueLength, 1, scan, finalize));
    scan->open++;
  }
  for (unsigned t = 0; t < threads; t++) {
    try {
      ScanTsfn<Batch> tsfn = tsfns[t];
      scan->threads.emplace_back([scan, tsfn, run] {
        std::vector<char> buf;
        for (;;) {
          const uint32_t c = scan->nextChunk.fetch_add(1);
          if (c >= scan->chunks.size()) break;
          run(*scan, tsfn, c, buf);
        }
        ScanTsfn<Batch>(tsfn).Release();
      });
    } catch (const std::exception& e) {
      // No thread (nor the ones after it): the others take all the chunks; release their
      // functions (with none started at all, no chunk is done and the scan fails).
      if (t == 0) scan->fail(std::string("cannot start a scan thread: ") + e.what());
      for (size_t rest = t; rest < tsfns.size(); rest++) tsfns[rest].Release();
      break;
    }
  }
  return promise;
}

// The part of a chunk thread's sink that every scan shares: the batch being filled (a Batch has
// chunk, scanned, skippedLineNos, done, lines and skipped), sent to JS when full, on progress and
// at the end. Derived classes add candidate() and may prepare each fresh batch (fresh()).
template <class Batch>
class ChunkSink {
 public:
  void skipped(uint64_t lineNo) { batch_.skippedLineNos.push_back(static_cast<double>(lineNo)); }

  void progress(uint64_t scanned) {
    batch_.scanned = scanned;
    send();
  }

 protected:
  ChunkSink(ScanTsfn<Batch> tsfn, uint32_t chunk) : tsfn_(tsfn), chunk_(chunk) { batch_.chunk = chunk; }
  ~ChunkSink() = default;

  // Reads the chunk with `self` as the sink (through the thread's read buffer), then sends the
  // last batch, with the chunk's totals; an error goes to the scan.
  template <class Self>
  void run(ParallelScan<Batch>& scan, Self& self, const Prefilter* prefilter, bool skipComments, bool masks,
           std::vector<char>& buf) {
    ChunkCounts counts;
    try {
      const auto [from, to] = scan.chunks[chunk_];
      counts = readChunk(scan.fd, scan.path, from, to, prefilter, skipComments, masks, self, buf);
    } catch (const std::exception& e) {
      scan.fail(e.what());
    }
    batch_.done = true;
    batch_.lines = counts.lines;
    batch_.skipped = counts.skipped;
    last(batch_);
    send();
  }

  void send() {
    auto* out = new Batch(std::move(batch_));
    batch_ = Batch();
    batch_.chunk = chunk_;
    batch_.scanned = out->scanned;
    fresh(batch_);
    if (tsfn_.BlockingCall(out) != napi_ok) delete out;
  }

  // A new batch, before it is filled (its chunk and progress already set).
  virtual void fresh(Batch&) {}
  // The chunk's last batch, before it is sent.
  virtual void last(Batch&) {}

  Batch batch_;

 private:
  ScanTsfn<Batch> tsfn_;
  const uint32_t chunk_;
};

}  // namespace f2b::scan
