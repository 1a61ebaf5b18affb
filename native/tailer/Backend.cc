#include "Backend.hh"

#include <stdexcept>
#include <system_error>

namespace f2b::tailer {

std::unique_ptr<Backend> makeBackend(const std::string& name, int pollIntervalMs) {
  if (name == "poll") return makePollBackend(pollIntervalMs);
#if defined(__linux__)
  if (name == "inotify") return makeInotifyBackend();
  if (name == "auto") {
    try {
      return makeInotifyBackend();
    } catch (const std::system_error&) {
      return makePollBackend(pollIntervalMs);  // e.g. fs.inotify.max_user_instances reached
    }
  }
#else
  if (name == "inotify") throw std::runtime_error("the inotify backend is only available on Linux");
  if (name == "auto") return makePollBackend(pollIntervalMs);
#endif
  throw std::invalid_argument("unknown tailer backend: " + name);
}

}  // namespace f2b::tailer
