// The JavaScript face of one tailer:
//   new Tailer(backend, pollIntervalMs, onBatch, onEvent, maxBytesInFlight?); .backend;
//   .add(path, start) -> id; .remove(id); .release(id, bytes); .flow(); .close() -> Promise<void>.
// src/tailer/index.ts validates arguments first with the same messages; this re-checks each one
// and throws TypeError. Lines and events reach onBatch / onEvent through one ThreadSafeFunction.
#pragma once

#include <napi.h>

#include <memory>

#include "TailLoop.hh"

namespace f2b::tailer {

struct JsSide;

class TailerWrap : public Napi::ObjectWrap<TailerWrap> {
 public:
  // Adds `Tailer` and `tailerLimits` to the addon's exports.
  static void Init(Napi::Env env, Napi::Object exports);
  explicit TailerWrap(const Napi::CallbackInfo& info);
  // Asks the thread to stop if close() was never called (the tailer was garbage-collected).
  ~TailerWrap() override;

 private:
  // "inotify" | "poll": the backend actually in use.
  Napi::Value Backend(const Napi::CallbackInfo& info);
  // add(path: absolute string, start: 'head' | 'tail' | offset) -> fileId
  Napi::Value Add(const Napi::CallbackInfo& info);
  // remove(fileId); unknown ids and calls after close() are ignored.
  void Remove(const Napi::CallbackInfo& info);
  // release(fileId, bytes): the consumer is done with that many bytes of the file's batches
  // (their buf lengths); RangeError if fewer are in flight.
  void Release(const Napi::CallbackInfo& info);
  // flow() -> { bytesInFlight, limit, waiting, waits, held } (FlowGate::Stats, TailLoop::held)
  Napi::Value Flow(const Napi::CallbackInfo& info);
  // close() -> Promise<void>, resolved once the thread has exited; every call returns it.
  Napi::Value Close(const Napi::CallbackInfo& info);

  std::shared_ptr<TailLoop> loop_;
  // Owned by the ThreadSafeFunction's finaliser, which runs only after the thread exits; the
  // thread exits only when asked (close(), this object's destructor, environment teardown),
  // so js_ is valid until the first close().
  JsSide* js_ = nullptr;
  Napi::Reference<Napi::Promise> closed_;
};

}  // namespace f2b::tailer
