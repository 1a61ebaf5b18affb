// Linux: one inotify instance per tailer. Each followed path is watched twice: the file itself
// (writes, truncation, its own rename or deletion) and its directory, filtered to the file's
// name (a file created or moved in at that name: rotation, a log that appears later). For a
// symlinked log the target's directory is watched too, so rotating the target is seen at once.
#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

#include "Backend.hh"

namespace f2b::tailer {
namespace {

// IN_MASK_ADD everywhere: one inode can be watched for two reasons (two paths to one file,
// or a misconfigured path that is a directory) and must keep both masks.
constexpr uint32_t kFileMask = IN_MODIFY | IN_ATTRIB | IN_MOVE_SELF | IN_DELETE_SELF | IN_MASK_ADD;
// IN_ATTRIB: the file's mode or owner changed (an unreadable file that cannot be watched itself
// becomes readable), or the directory's own (its x bit).
constexpr uint32_t kDirMask = IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_DELETE_SELF |
                              IN_MOVE_SELF | IN_ATTRIB | IN_ONLYDIR | IN_MASK_ADD;

// One reason to wake file `id`: events on `wd` whose name is `name` (empty: every event).
struct Interest {
  int wd;
  FileId id;
  std::string name;
  bool operator==(const Interest& o) const { return wd == o.wd && id == o.id && name == o.name; }
};

// "/var/log/auth.log" -> {"/var/log", "auth.log"}
std::pair<std::string, std::string> splitPath(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return {".", path};
  return {slash == 0 ? "/" : path.substr(0, slash), path.substr(slash + 1)};
}

class InotifyBackend final : public Backend {
 public:
  InotifyBackend() : fd_(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)), events_(64 * 1024) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  }
  ~InotifyBackend() override { ::close(fd_); }

  const char* name() const override { return "inotify"; }
  int fd() const override { return fd_; }
  int rescanMs() const override { return 1000; }

  void watch(FileId id, const std::string& path) override {
    std::vector<Interest> next;
    if (!add(next, id, path, kFileMask, "")) {
      // Nothing at path (renamed away, not replaced yet): keep watching the file we still
      // read, its writer may still append to it.
      for (const auto& interest : watches_[id]) {
        if (interest.name.empty()) next.push_back(interest);
      }
    }
    auto [dir, base] = splitPath(path);
    if (!add(next, id, dir, kDirMask, base)) {
      // The directory cannot be watched now (it lost its r bit, or is gone): keep the watch it
      // had, which still reports creations and renames under that name.
      for (const auto& interest : watches_[id]) {
        if (interest.name == base) next.push_back(interest);
      }
    }
    char resolved[PATH_MAX];
    if (realpath(path.c_str(), resolved) != nullptr && path != resolved) {
      auto [realDir, realBase] = splitPath(resolved);
      if (realDir != dir || realBase != base) add(next, id, realDir, kDirMask, realBase);
    }
    // Attach the new interests before detaching the old: re-watching an inode returns the
    // same wd, and detaching first could remove that watch from the kernel in between.
    for (const auto& interest : next) byWd_[interest.wd].push_back(interest);
    detach(std::exchange(watches_[id], std::move(next)));
  }

  void unwatch(FileId id) override {
    auto it = watches_.find(id);
    if (it == watches_.end()) return;
    auto old = std::move(it->second);
    watches_.erase(it);
    detach(old);
  }

  void drain(std::vector<FileId>& dirty) override {
    for (;;) {
      ssize_t n = ::read(fd_, events_.data(), events_.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // EAGAIN: nothing more queued
      for (size_t at = 0; at < static_cast<size_t>(n);) {
        const auto* ev = reinterpret_cast<const inotify_event*>(events_.data() + at);
        at += sizeof(inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
          for (const auto& entry : watches_) dirty.push_back(entry.first);
          continue;
        }
        auto it = byWd_.find(ev->wd);
        if (it == byWd_.end()) continue;
        std::string_view name = ev->len ? std::string_view(ev->name) : std::string_view();
        for (const auto& interest : it->second) {
          if (interest.name.empty() || name.empty() || name == interest.name) dirty.push_back(interest.id);
        }
        if (ev->mask & IN_IGNORED) forget(ev->wd);
      }
    }
  }

 private:
  // Adds a watch on `path` to `out`; false if it cannot (a path that does not exist yet).
  bool add(std::vector<Interest>& out, FileId id, const std::string& path, uint32_t mask, std::string name) {
    int wd = inotify_add_watch(fd_, path.c_str(), mask);
    if (wd < 0) return false;
    out.push_back({wd, id, std::move(name)});
    return true;
  }

  // Drops interests; a wd nobody is interested in any more is removed from the kernel.
  void detach(const std::vector<Interest>& old) {
    for (const auto& interest : old) {
      auto it = byWd_.find(interest.wd);
      if (it == byWd_.end()) continue;
      auto& list = it->second;
      auto pos = std::find(list.begin(), list.end(), interest);
      if (pos == list.end()) continue;
      list.erase(pos);
      if (list.empty()) {
        inotify_rm_watch(fd_, interest.wd);
        byWd_.erase(it);
      }
    }
  }

  // The kernel dropped `wd` (its inode was deleted or unmounted): forget every reference to it,
  // so a later watch that is handed the same number is not confused with it.
  void forget(int wd) {
    auto it = byWd_.find(wd);
    if (it == byWd_.end()) return;
    for (const auto& interest : it->second) {
      auto w = watches_.find(interest.id);
      if (w == watches_.end()) continue;
      auto& list = w->second;
      list.erase(std::remove_if(list.begin(), list.end(), [wd](const Interest& i) { return i.wd == wd; }), list.end());
    }
    byWd_.erase(it);
  }

  int fd_;
  // Read buffer for inotify events.
  std::vector<char> events_;
  // Per file: the interests it holds (what to detach on the next watch/unwatch).
  std::unordered_map<FileId, std::vector<Interest>> watches_;
  // Per watch descriptor: who to wake.
  std::unordered_map<int, std::vector<Interest>> byWd_;
};

}  // namespace

std::unique_ptr<Backend> makeInotifyBackend() {
  return std::make_unique<InotifyBackend>();
}

}  // namespace f2b::tailer
