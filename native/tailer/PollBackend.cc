// The portable backend: no notifications, the tail thread re-checks every file each interval.
#include "Backend.hh"

namespace f2b::tailer {
namespace {

class PollBackend final : public Backend {
 public:
  explicit PollBackend(int intervalMs) : intervalMs_(intervalMs) {}
  const char* name() const override { return "poll"; }
  int fd() const override { return -1; }
  int rescanMs() const override { return intervalMs_; }
  void watch(FileId, const std::string&) override {}
  void unwatch(FileId) override {}
  void drain(std::vector<FileId>&) override {}

 private:
  int intervalMs_;
};

}  // namespace

std::unique_ptr<Backend> makePollBackend(int intervalMs) {
  return std::make_unique<PollBackend>(intervalMs);
}

}  // namespace f2b::tailer
