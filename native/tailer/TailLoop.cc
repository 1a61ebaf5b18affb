#include "TailLoop.hh"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <set>
#include <system_error>

namespace f2b::tailer {

TailLoop::TailLoop(std::unique_ptr<Backend> backend, std::unique_ptr<Sink> sink, uint64_t maxInFlight)
    : backend_(std::move(backend)), sink_(std::move(sink)), gate_(maxInFlight), gated_(*sink_, gate_) {
  int fds[2];
  if (::pipe(fds) != 0) throw std::system_error(errno, std::generic_category(), "pipe");
  for (int fd : fds) {
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  wakeRead_ = fds[0];
  wakeWrite_ = fds[1];
}

TailLoop::~TailLoop() {
  requestStop();
  join();
  ::close(wakeRead_);
  ::close(wakeWrite_);
}

void TailLoop::start() {
  thread_ = std::thread([this] { run(); });
}

FileId TailLoop::add(std::string path, StartAt start, PrefilterPtr prefilter) {
  FileId id;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    id = nextId_++;
    commands_.push_back({id, false, std::move(path), std::move(start), std::move(prefilter)});
  }
  wake();
  return id;
}

void TailLoop::remove(FileId id) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    commands_.push_back({id, true, {}, {}, nullptr});
  }
  wake();
}

void TailLoop::requestStop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  gate_.stop();  // the thread may be waiting for a release
  wake();
}

bool TailLoop::release(FileId file, uint64_t bytes) {
  bool resumed = false;
  if (!gate_.release(file, bytes, resumed)) return false;
  if (resumed) wake();  // the thread holds it back: let it read on
  return true;
}

void TailLoop::join() {
  if (thread_.joinable() && thread_.get_id() != std::this_thread::get_id()) thread_.join();
}

void TailLoop::wake() {
  const char byte = 1;
  // A full pipe (EAGAIN) already holds a pending wake-up.
  while (::write(wakeWrite_, &byte, 1) < 0 && errno == EINTR) {
  }
}

void TailLoop::run() {
  // Signals are the main thread's business; keep them (and EINTR) away from this one.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);

  using Clock = std::chrono::steady_clock;
  const auto every = std::chrono::milliseconds(backend_->rescanMs());
  auto nextRescan = Clock::now() + every;
  std::vector<char> scratch(kScratchBytes);
  std::vector<FileId> dirty;
  std::set<FileId> behind;  // stopped at their read budget: continue without waiting
  std::set<FileId> held;    // saturated: read on once a release brings them below (wake())

  while (!gated_.closed()) {
    int timeoutMs = 0;
    if (behind.empty()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(nextRescan - Clock::now());
      timeoutMs = static_cast<int>(std::max<int64_t>(0, left.count()));
    }
    pollfd fds[2] = {{wakeRead_, POLLIN, 0}, {backend_->fd(), POLLIN, 0}};
    const nfds_t count = backend_->fd() >= 0 ? 2 : 1;
    // Only EINTR or ENOMEM can fail it here: try again. This thread exits only when asked to
    // (TailerWrap relies on that).
    if (::poll(fds, count, timeoutMs) < 0) continue;

    if (fds[0].revents & POLLIN) {
      char drain[64];
      while (::read(wakeRead_, drain, sizeof drain) > 0) {
      }
    }
    if (!applyCommands(dirty)) break;
    if (count == 2 && (fds[1].revents & POLLIN)) backend_->drain(dirty);

    const bool rescan = Clock::now() >= nextRescan;
    if (rescan) {
      for (const auto& entry : files_) dirty.push_back(entry.first);
      nextRescan = Clock::now() + every;
    }
    dirty.insert(dirty.end(), behind.begin(), behind.end());
    behind.clear();
    for (auto it = held.begin(); it != held.end();) {
      if (gate_.saturated(*it)) {
        ++it;
      } else {
        dirty.push_back(*it);
        it = held.erase(it);
      }
    }
    std::sort(dirty.begin(), dirty.end());
    dirty.erase(std::unique(dirty.begin(), dirty.end()), dirty.end());

    for (FileId id : dirty) {
      auto it = files_.find(id);
      if (it == files_.end()) continue;
      if (checkFile(*it->second, rescan, scratch)) {
        if (gate_.saturated(id)) held.insert(id);
        else behind.insert(id);
      }
      if (gated_.closed()) break;
    }
    dirty.clear();
    held_.store(static_cast<uint32_t>(held.size()));
  }
  files_.clear();
  sink_->finish();
}

bool TailLoop::applyCommands(std::vector<FileId>& dirty) {
  std::vector<Command> commands;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return false;
    commands.swap(commands_);
  }
  for (auto& command : commands) {
    if (command.remove) {
      backend_->unwatch(command.id);
      files_.erase(command.id);
      continue;
    }
    auto file = std::make_unique<FileTail>(command.id, std::move(command.path), std::move(command.start), std::move(command.prefilter));
    backend_->watch(command.id, file->path());
    files_.emplace(command.id, std::move(file));
    dirty.push_back(command.id);
  }
  return true;
}

bool TailLoop::checkFile(FileTail& file, bool rescan, std::vector<char>& scratch) {
  const uint64_t generation = file.generation();
  const bool more = file.check(gated_, scratch);
  // A new file at path needs new watches; a missing one (or its missing directory) is
  // re-armed on every rescan, which is how a directory created later gets noticed.
  if (file.generation() != generation || (rescan && !file.atPath())) {
    backend_->watch(file.id(), file.path());
    // Whatever was written or created between check()'s last look and the new watches raised
    // no event: look once more, now that they are armed. Without this, lines written just
    // after a rotation waited for the next rescan (a second) about once in a hundred rotations.
    return true;
  }
  return more;
}

}  // namespace f2b::tailer
