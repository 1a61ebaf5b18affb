#include "TailerWrap.hh"

#include "../JsArrays.hh"
#include "../scan/ScanWrap.hh"

#include <cmath>
#include <cstring>
#include <optional>
#include <variant>

namespace f2b::tailer {

// What the JS thread needs to deliver the tail thread's output, and to finish when it is gone.
// Lives from the constructor to the ThreadSafeFunction's finaliser.
struct JsSide {
  Napi::FunctionReference onBatch;
  Napi::FunctionReference onEvent;
  std::shared_ptr<TailLoop> loop;
  // Resolved by the finaliser; set by the first close().
  std::optional<Napi::Promise::Deferred> closed;
};

namespace {

using Message = std::variant<LineBatch, FileEvent>;

// Messages queued before the tail thread waits for JS to take them (the FlowGate in TailLoop
// bounds what JS has taken and not yet released).
constexpr size_t kQueueLength = 16;
constexpr double kMaxSafeInteger = 9007199254740991.0;

const char* kindName(EventKind kind) {
  switch (kind) {
    case EventKind::Opened: return "opened";
    case EventKind::Rotated: return "rotated";
    case EventKind::Truncated: return "truncated";
    case EventKind::Missing: return "missing";
    case EventKind::Error: return "error";
    case EventKind::Recovered: return "recovered";
  }
  return "error";
}

// A TailBatch (src/types.ts). buf takes over the batch's bytes without copying them.
Napi::Object toJs(Napi::Env env, LineBatch& batch) {
  auto buf = takeBuffer(env, std::move(batch.buf));
  auto ends = copyArray(env, batch.ends);
  auto out = Napi::Object::New(env);
  out.Set("fileId", Napi::Number::New(env, batch.fileId));
  out.Set("base", Napi::Number::New(env, static_cast<double>(batch.base)));
  out.Set("buf", buf);
  out.Set("ends", ends);
  if (!batch.masks.empty()) out.Set("masks", copyArray(env, batch.masks));
  out.Set("lines", Napi::Number::New(env, static_cast<double>(batch.lines)));
  out.Set("end", Napi::Number::New(env, static_cast<double>(batch.end)));
  if (!batch.firstLineHash.empty()) out.Set("firstLineHash", Napi::String::New(env, batch.firstLineHash));
  return out;
}

// A TailEvent (src/types.ts).
Napi::Object toJs(Napi::Env env, const FileEvent& event) {
  auto out = Napi::Object::New(env);
  out.Set("fileId", Napi::Number::New(env, event.fileId));
  out.Set("kind", Napi::String::New(env, kindName(event.kind)));
  out.Set("path", Napi::String::New(env, event.path));
  if (event.offset >= 0) out.Set("offset", Napi::Number::New(env, static_cast<double>(event.offset)));
  if (!event.message.empty()) out.Set("message", Napi::String::New(env, event.message));
  if (event.kind == EventKind::Opened || event.kind == EventKind::Rotated) {
    out.Set("firstLineHash", Napi::String::New(env, event.firstLineHash));
  }
  return out;
}

// Runs on the JS thread for each message.
void deliver(Napi::Env env, Napi::Function, JsSide* js, Message* raw) {
  std::unique_ptr<Message> message(raw);
  if (static_cast<napi_env>(env) == nullptr || !message) return;  // torn down: only free it
  try {
    if (auto* batch = std::get_if<LineBatch>(message.get())) {
      js->onBatch.Call({toJs(env, *batch)});
    } else {
      js->onEvent.Call({toJs(env, std::get<FileEvent>(*message))});
    }
  } catch (const Napi::Error& e) {
    // A throwing callback is the application's bug: make it an 'uncaughtException' like any
    // event handler's. Rethrown into a ThreadSafeFunction, Node 20 would only print a warning
    // (DEP0168) and drop it.
    napi_fatal_exception(env, e.Value());
  }
}

using Tsfn = Napi::TypedThreadSafeFunction<JsSide, Message, deliver>;

// The tail thread's Sink: a bounded ThreadSafeFunction queue, so the thread waits (and stops
// reading) while the JS thread is busy. That alone is not back-pressure: onBatch returns at once
// and the daemon queues the work; TailLoop's FlowGate waits for the daemon's releases.
class TsfnSink final : public Sink {
 public:
  explicit TsfnSink(Tsfn tsfn) : tsfn_(tsfn) {}
  void batch(LineBatch&& batch) override { send(new Message(std::move(batch))); }
  void event(FileEvent&& event) override { send(new Message(std::move(event))); }
  bool closed() const override { return closed_; }
  void finish() override {
    // After napi_closing the function is gone: it must not be released again.
    if (!closed_) tsfn_.Release();
    closed_ = true;
  }

 private:
  void send(Message* message) {
    if (closed_ || tsfn_.BlockingCall(message) != napi_ok) {
      delete message;
      closed_ = true;
    }
  }

  Tsfn tsfn_;
  // Only the tail thread reads and writes it.
  bool closed_ = false;
};

}  // namespace

void TailerWrap::Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Tailer", DefineClass(env, "Tailer",
                                    {
                                        InstanceAccessor<&TailerWrap::Backend>("backend"),
                                        InstanceMethod<&TailerWrap::Add>("add"),
                                        InstanceMethod<&TailerWrap::Remove>("remove"),
                                        InstanceMethod<&TailerWrap::Release>("release"),
                                        InstanceMethod<&TailerWrap::Flow>("flow"),
                                        InstanceMethod<&TailerWrap::Close>("close"),
                                    }));
  auto limits = Napi::Object::New(env);
  limits.Set("batchBytes", Napi::Number::New(env, kBatchBytes));
  limits.Set("batchLines", Napi::Number::New(env, kBatchLines));
  limits.Set("maxLineBytes", Napi::Number::New(env, kMaxLineBytes));
  exports.Set("tailerLimits", limits);
}

TailerWrap::TailerWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TailerWrap>(info) {
  Napi::Env env = info.Env();
  const std::string backend = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (backend != "auto" && backend != "inotify" && backend != "poll") {
    throw Napi::TypeError::New(env, "Expected options.backend to be 'auto', 'inotify' or 'poll'");
  }
  const double interval = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
  if (!(interval >= 10 && interval <= 60000) || std::floor(interval) != interval) {
    throw Napi::TypeError::New(env, "Expected options.pollIntervalMs to be an integer from 10 to 60000");
  }
  if (!info[2].IsFunction()) throw Napi::TypeError::New(env, "Expected options.onBatch to be a function");
  if (!info[3].IsFunction()) throw Napi::TypeError::New(env, "Expected options.onEvent to be a function");
  const double maxInFlight = info[4].IsUndefined() ? 0 : info[4].IsNumber() ? info[4].As<Napi::Number>().DoubleValue() : NAN;
  if (!(maxInFlight >= 0 && maxInFlight <= kMaxSafeInteger) || std::floor(maxInFlight) != maxInFlight) {
    throw Napi::TypeError::New(env, "Expected options.maxBytesInFlight to be a non-negative safe integer");
  }

  std::unique_ptr<tailer::Backend> chosen;
  try {
    chosen = makeBackend(backend, static_cast<int>(interval));
  } catch (const std::exception& e) {
    throw Napi::Error::New(env, std::string("cannot start the ") + backend + " tailer backend: " + e.what());
  }

  auto owned = std::make_unique<JsSide>();
  owned->onBatch = Napi::Persistent(info[2].As<Napi::Function>());
  owned->onEvent = Napi::Persistent(info[3].As<Napi::Function>());
  JsSide* js = owned.get();
  // The finaliser runs on the JS thread once the tail thread has released the function (or
  // the environment is being torn down): join the thread, settle close(), free everything.
  Tsfn tsfn = Tsfn::New(env, "f2b-fast tailer", kQueueLength, 1, js, [](Napi::Env, void*, JsSide* side) {
    if (side->loop) {
      side->loop->requestStop();
      side->loop->join();
    }
    if (side->closed) {
      try {
        side->closed->Resolve(side->closed->Env().Undefined());
      } catch (...) {  // the environment is going away: nobody is waiting any more
      }
    }
    delete side;
  });
  owned.release();  // the finaliser owns it now
  try {
    js->loop = std::make_shared<TailLoop>(std::move(chosen), std::make_unique<TsfnSink>(tsfn), static_cast<uint64_t>(maxInFlight));
    js->loop->start();
  } catch (const std::exception& e) {
    tsfn.Release();  // no thread will: let the finaliser free js
    throw Napi::Error::New(env, std::string("cannot start the tailer thread: ") + e.what());
  }
  loop_ = js->loop;
  js_ = js;
}

TailerWrap::~TailerWrap() {
  if (loop_) loop_->requestStop();
}

Napi::Value TailerWrap::Backend(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), loop_->backendName());
}

Napi::Value TailerWrap::Add(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!closed_.IsEmpty()) throw Napi::Error::New(env, "The tailer is closed");
  const std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (path.empty()) throw Napi::TypeError::New(env, "Expected path to be a non-empty string");
  if (path.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "Expected path to contain no NUL bytes");
  if (path[0] != '/') throw Napi::TypeError::New(env, "Expected path to be absolute");

  StartAt start;
  const std::string word = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  Napi::Value at = info[1];
  if (info[1].IsObject()) {
    // { offset, firstLineHash }: a saved position
    auto o = info[1].As<Napi::Object>();
    at = o.Get("offset");
    Napi::Value hash = o.Get("firstLineHash");
    if (!hash.IsUndefined()) {
      if (!hash.IsString()) throw Napi::TypeError::New(env, "Expected start.firstLineHash to be a string");
      start.firstLineHash = hash.As<Napi::String>().Utf8Value();
    }
  }
  const double offset = at.IsNumber() ? at.As<Napi::Number>().DoubleValue() : NAN;
  if (word == "head") {
    start.kind = StartAt::Head;
  } else if (word == "tail") {
    start.kind = StartAt::Tail;
  } else if (offset >= 0 && offset <= kMaxSafeInteger && std::floor(offset) == offset) {
    start.kind = StartAt::Offset;
    start.offset = static_cast<uint64_t>(offset);
  } else {
    throw Napi::TypeError::New(env, "Expected start to be 'head', 'tail', a non-negative safe integer or { offset, firstLineHash }");
  }
  PrefilterPtr prefilter;
  if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) prefilter = scan::PrefilterWrap::from(env, info[2], "prefilter");
  return Napi::Number::New(env, loop_->add(path, std::move(start), std::move(prefilter)));
}

void TailerWrap::Remove(const Napi::CallbackInfo& info) {
  const double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
  if (!(id >= 1 && id <= 4294967295.0) || std::floor(id) != id) {
    throw Napi::TypeError::New(info.Env(), "Expected fileId to be a positive integer");
  }
  if (closed_.IsEmpty()) loop_->remove(static_cast<FileId>(id));
}

void TailerWrap::Release(const Napi::CallbackInfo& info) {
  const double id = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : NAN;
  if (!(id >= 1 && id <= 4294967295.0) || std::floor(id) != id) {
    throw Napi::TypeError::New(info.Env(), "Expected fileId to be a positive integer");
  }
  const double bytes = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : NAN;
  if (!(bytes >= 0 && bytes <= kMaxSafeInteger) || std::floor(bytes) != bytes) {
    throw Napi::TypeError::New(info.Env(), "Expected bytes to be a non-negative safe integer");
  }
  if (!loop_->release(static_cast<FileId>(id), static_cast<uint64_t>(bytes))) {
    throw Napi::RangeError::New(info.Env(), "Released more bytes than are in flight");
  }
}

Napi::Value TailerWrap::Flow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const FlowGate::Stats s = loop_->flow();
  auto out = Napi::Object::New(env);
  out.Set("bytesInFlight", Napi::Number::New(env, static_cast<double>(s.inFlight)));
  out.Set("limit", Napi::Number::New(env, static_cast<double>(s.limit)));
  out.Set("waiting", Napi::Boolean::New(env, s.waiting));
  out.Set("waits", Napi::Number::New(env, static_cast<double>(s.waits)));
  out.Set("held", Napi::Number::New(env, loop_->held()));
  return out;
}

Napi::Value TailerWrap::Close(const Napi::CallbackInfo& info) {
  if (!closed_.IsEmpty()) return closed_.Value();
  auto deferred = Napi::Promise::Deferred::New(info.Env());
  closed_ = Napi::Persistent(deferred.Promise());
  js_->closed = deferred;
  loop_->requestStop();
  return deferred.Promise();
}

}  // namespace f2b::tailer
