// Back-pressure from the consumer to the tail thread. The consumer (the daemon) releases a
// batch's bytes once its lines are matched, counted and saved. Two bounds:
// - all files: the tail thread waits before it hands over a batch that would take the bytes in
//   flight past the limit, so it stops reading while the pipeline behind it is full instead of
//   piling the log up in memory; a batch larger than the limit goes alone (nothing else in
//   flight), so the reader never stalls for good;
// - each file: a file with half the limit in flight is "saturated": TailLoop stops reading it
//   (FileTail checks between reads) until a release brings it below, and reads the other files
//   meanwhile. One file whose batches are slow to apply (an ignorecommand, DNS) then holds at
//   most half the limit and one batch (checked between reads: 3 MiB of the default 4), and the
//   other files go on with the rest.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>

#include "Delivery.hh"

namespace f2b::tailer {

class FlowGate {
 public:
  // limit 0: no limit.
  explicit FlowGate(uint64_t limit) : limit_(limit) {}

  // Tail thread: takes `bytes` for `file`, first waiting while they do not fit beside the bytes
  // in flight. False, and nothing taken, once stop() was called.
  bool acquire(FileId file, uint64_t bytes) {
    std::unique_lock<std::mutex> lock(mutex_);
    if (!fits(bytes) && !stopped_) {
      waiting_ = true;
      ++waits_;
      changed_.wait(lock, [&] { return stopped_ || fits(bytes); });
      waiting_ = false;
    }
    if (stopped_) return false;
    inFlight_ += bytes;
    if (bytes) perFile_[file] += bytes;
    return true;
  }

  // Any thread: `bytes` of `file` taken earlier are done with. False (nothing changed) if fewer
  // are in flight for it: the consumer released a batch twice. `resumed`: the file was
  // saturated and is not any more (the tail thread should look at it again).
  bool release(FileId file, uint64_t bytes, bool& resumed) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = perFile_.find(file);
      const uint64_t mine = it == perFile_.end() ? 0 : it->second;
      if (bytes > mine) return false;
      const bool was = saturatedLocked(mine);
      inFlight_ -= bytes;
      if (mine == bytes) perFile_.erase(it);
      else if (bytes) it->second -= bytes;
      resumed = was && !saturatedLocked(mine - bytes);
    }
    changed_.notify_all();
    return true;
  }

  // Any thread: `file` has half the limit or more in flight; read it no further for now.
  bool saturated(FileId file) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = perFile_.find(file);
    return it != perFile_.end() && saturatedLocked(it->second);
  }

  // Any thread: a waiting acquire() returns false, and so does every later one.
  void stop() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopped_ = true;
    }
    changed_.notify_all();
  }

  struct Stats {
    uint64_t inFlight;
    uint64_t limit;
    // the tail thread is waiting for a release now
    bool waiting;
    // how many times it had to wait
    uint64_t waits;
  };
  Stats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return {inFlight_, limit_, waiting_, waits_};
  }

 private:
  bool fits(uint64_t bytes) const { return limit_ == 0 || inFlight_ == 0 || inFlight_ + bytes <= limit_; }
  bool saturatedLocked(uint64_t mine) const { return limit_ > 0 && mine > 0 && mine >= limit_ / 2; }

  const uint64_t limit_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  uint64_t inFlight_ = 0;
  // the bytes in flight of each file that has any
  std::map<FileId, uint64_t> perFile_;
  bool waiting_ = false;
  bool stopped_ = false;
  uint64_t waits_ = 0;
};

// The Sink FileTail writes to: each batch's bytes are taken from the gate before it is passed
// on; events pass at once (they are small, and in order with the batches all the same).
class GatedSink final : public Sink {
 public:
  GatedSink(Sink& inner, FlowGate& gate) : inner_(inner), gate_(gate) {}
  void batch(LineBatch&& batch) override {
    if (gate_.acquire(batch.fileId, batch.buf.size())) inner_.batch(std::move(batch));
    else stopped_ = true;
  }
  bool saturated(FileId file) const override { return gate_.saturated(file); }
  void event(FileEvent&& event) override { inner_.event(std::move(event)); }
  bool closed() const override { return stopped_ || inner_.closed(); }
  void finish() override { inner_.finish(); }

 private:
  Sink& inner_;
  FlowGate& gate_;
  // Only the tail thread reads and writes it.
  bool stopped_ = false;
};

}  // namespace f2b::tailer
