// The one background thread of a tailer. It waits with poll() on the backend's descriptor (or
// just for the rescan timer) and on a self-pipe that add(), remove() and requestStop() write
// to, then lets every FileTail that may have changed catch up. Stopping never waits on a sleep.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "Backend.hh"
#include "Delivery.hh"
#include "FileTail.hh"
#include "FlowGate.hh"

namespace f2b::tailer {

class TailLoop {
 public:
  // Throws std::system_error if the self-pipe cannot be created. The thread hands over no
  // batch while more than `maxInFlight` bytes (0: no limit) are in flight (see FlowGate.hh).
  TailLoop(std::unique_ptr<Backend> backend, std::unique_ptr<Sink> sink, uint64_t maxInFlight = 0);
  // Stops and joins the thread if it still runs.
  ~TailLoop();
  TailLoop(const TailLoop&) = delete;
  TailLoop& operator=(const TailLoop&) = delete;

  // Starts the thread; throws std::system_error if it cannot.
  void start();
  // Follows `path` (absolute); returns its id at once, the thread opens it. Any thread.
  // With a prefilter, only the lines some group may match are delivered (with their masks).
  FileId add(std::string path, StartAt start, PrefilterPtr prefilter = nullptr);
  // Stops following `id`; unknown ids are ignored. Any thread.
  void remove(FileId id);
  // Asks the thread to exit; its last act is sink.finish(). Any thread, any number of times.
  void requestStop();
  // Waits for the thread to exit. Never from the thread itself.
  void join();
  // The consumer is done with `bytes` of `file`'s batches; false if fewer are in flight. Any
  // thread.
  bool release(FileId file, uint64_t bytes);
  // Bytes in flight, the limit, and whether the thread waits for a release. Any thread.
  FlowGate::Stats flow() const { return gate_.stats(); }
  // Files not read for now: saturated (FlowGate). Any thread.
  uint32_t held() const { return held_.load(); }
  // "inotify" or "poll".
  const char* backendName() const { return backend_->name(); }

 private:
  struct Command {
    FileId id;
    bool remove;
    std::string path;
    StartAt start;
    PrefilterPtr prefilter;
  };

  void run();
  // Applies queued add/remove commands, adding new files to `dirty`; false once stopping.
  bool applyCommands(std::vector<FileId>& dirty);
  // Lets `file` catch up, re-arming its watches when needed; true if it should be checked again
  // at once (more to read, or watches just re-armed).
  bool checkFile(FileTail& file, bool rescan, std::vector<char>& scratch);
  // Makes poll() in run() return.
  void wake();

  const std::unique_ptr<Backend> backend_;
  const std::unique_ptr<Sink> sink_;
  FlowGate gate_;
  // What FileTail writes to: sink_ behind gate_.
  GatedSink gated_;
  int wakeRead_ = -1;
  int wakeWrite_ = -1;
  std::thread thread_;

  // Guards commands_, stopping_ and nextId_ (written by JS, read by the thread).
  std::mutex mutex_;
  std::vector<Command> commands_;
  bool stopping_ = false;
  FileId nextId_ = 1;

  // Only the thread touches these.
  std::map<FileId, std::unique_ptr<FileTail>> files_;
  // How many files the thread holds back (saturated); written by the thread.
  std::atomic<uint32_t> held_{0};
};

}  // namespace f2b::tailer
