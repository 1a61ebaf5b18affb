#include "FileTail.hh"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <utility>

namespace f2b::tailer {
namespace {

std::string errnoMessage(const char* what, const std::string& path, int err) {
  return std::string(what) + " " + path + ": " + std::error_code(err, std::generic_category()).message();
}

}  // namespace

// What an access error while the file is open adds: nothing is lost yet.
const char* const kReadingOn = "; still reading the file through the descriptor opened before";

// The first line is hashed from at most this many bytes.
constexpr size_t kHashBytes = 64 * 1024;

FileTail::FileTail(FileId id, std::string path, StartAt start, PrefilterPtr prefilter)
    : id_(id), path_(std::move(path)), start_(std::move(start)), prefilter_(std::move(prefilter)) {
  batch_.fileId = id;
}

FileTail::~FileTail() { closeFd(); }

bool FileTail::check(Sink& sink, std::vector<char>& scratch) {
  failedNow_ = false;
  const bool more = follow(sink, scratch);
  if (fd_ >= 0) reportRecovery(sink);
  return more;
}

bool FileTail::follow(Sink& sink, std::vector<char>& scratch) {
  if (fd_ < 0 && !open(sink, rotationPending_ ? EventKind::Rotated : EventKind::Opened, scratch)) return false;

  struct stat named {};
  const bool present = ::stat(path_.c_str(), &named) == 0;
  const int statError = present ? 0 : errno;
  const bool gone = !present && (statError == ENOENT || statError == ENOTDIR);
  const bool replaced = present && (named.st_dev != dev_ || named.st_ino != ino_);
  atPath_ = present && !replaced;
  if (!present && !gone) {
    // EACCES (a directory on the way lost its x bit), ELOOP, ...: nothing can be said about the
    // name now, so no rotation can be seen; the open file is read on.
    reportError(sink, errnoMessage("stat", path_, statError) + kReadingOn);
  } else if (atPath_) {
    probeAccess(sink, named);
  }

  struct stat self {};
  if (::fstat(fd_, &self) != 0) {
    reportError(sink, errnoMessage("fstat", path_, errno));
    return false;
  }
  if (!replaced && static_cast<uint64_t>(self.st_size) < pos_) {
    // copytruncate: the same file got shorter. What was written between our last read and the
    // truncation is gone (it is in the copy); the partial line we hold is stale (a truncated
    // over-long line was read whole enough: it goes out).
    deliverCut(sink, pos_);
    partial_.clear();
    discarding_ = false;
    pos_ = 0;
    emit(sink, EventKind::Truncated, 0);
  }

  // Read to the end first; after a rotation this reads the rest of the OLD file through the
  // descriptor we still hold, which is what a name-based reader loses. (Unchanged size: no
  // read at all, which is most of a poll tick.)
  const bool grew = static_cast<uint64_t>(self.st_size) > pos_;
  // Lines read while the sink was saturated wait in batch_: they go out even with nothing new.
  const bool pending = batch_.lines > 0;
  if ((grew || replaced || pending) && readAppended(sink, scratch)) return true;

  if (replaced) {
    finishLastLine(sink);
    closeFd();
    if (!open(sink, EventKind::Rotated, scratch)) {
      // (unreadable, say: each check tries again, and the open that works says Rotated)
      rotationPending_ = true;
      return false;
    }
    return readAppended(sink, scratch);
  }
  if (gone && self.st_nlink == 0) {
    finishLastLine(sink);
    closeFd();
    reportedMissing_ = true;
    emit(sink, EventKind::Missing, -1);
  }
  // Gone but still linked: renamed away and not replaced yet. Keep reading it: the writer
  // still appends to it until it reopens its log, and the new file shows up as a rotation.
  return false;
}

bool FileTail::open(Sink& sink, EventKind how, std::vector<char>& scratch) {
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) {
      firstOpen_ = false;  // it appears later: a new file, read from its start
      lastError_.clear();
      rotationPending_ = false;  // (reported as missing: what appears later is opened)
      if (!reportedMissing_) {
        reportedMissing_ = true;
        emit(sink, EventKind::Missing, -1);
      }
    } else {
      reportError(sink, errnoMessage("open", path_, err));
    }
    return false;
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    reportError(sink, errnoMessage("fstat", path_, err));
    return false;
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    reportError(sink, path_ + (S_ISDIR(st.st_mode) ? " is a directory, not a log file" : " is not a regular file"));
    return false;
  }

  fd_ = fd;
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  uid_ = st.st_uid;
  gid_ = st.st_gid;
  mode_ = st.st_mode;
  ++generation_;
  atPath_ = true;
  reportedMissing_ = false;
  rotationPending_ = false;
  partial_.clear();
  discarding_ = false;

  const auto size = static_cast<uint64_t>(st.st_size);
  uint64_t start = 0;
  if (firstOpen_) {
    firstOpen_ = false;
    switch (start_.kind) {
      case StartAt::Head:
        break;
      case StartAt::Tail:
        if (auto lineStart = lastLineStart(size, scratch)) {
          start = *lineStart;
        } else {
          start = size;  // inside an over-long line: skip its rest
          discarding_ = true;
        }
        break;
      case StartAt::Offset:
        // Beyond the end, or another first line: the file was truncated or replaced since the
        // offset was saved.
        start = start_.offset <= size ? start_.offset : 0;
        if (start && !start_.firstLineHash.empty() && firstLineHash() != start_.firstLineHash) start = 0;
        break;
    }
  }
  pos_ = start;
  FileEvent event;
  event.fileId = id_;
  event.kind = how;
  event.path = path_;
  event.offset = static_cast<int64_t>(start);
  event.firstLineHash = firstLineHash();
  hashKnown_ = !event.firstLineHash.empty();
  sink.event(std::move(event));
  reportRecovery(sink);
  return true;
}

void FileTail::probeAccess(Sink& sink, const struct stat& named) {
  if (named.st_uid == uid_ && named.st_gid == gid_ && named.st_mode == mode_ && lastError_.empty()) return;
  // An open is the one exact test (access() ignores ACLs' and LSMs' say on the open itself).
  const int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    reportError(sink, errnoMessage("open", path_, errno) + kReadingOn);
    return;
  }
  ::close(fd);
  uid_ = named.st_uid;
  gid_ = named.st_gid;
  mode_ = named.st_mode;
}

std::string FileTail::firstLineHash() {
  std::vector<char> scratch(kHashBytes);
  ssize_t n;
  do {
    n = ::pread(fd_, scratch.data(), kHashBytes, 0);
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return "";
  const auto* nl = static_cast<const char*>(std::memchr(scratch.data(), '\n', static_cast<size_t>(n)));
  // No '\n' in the first kHashBytes: hash those bytes (a first line that long is its own mark).
  if (!nl && static_cast<size_t>(n) < kHashBytes) return "";
  const size_t len = nl ? static_cast<size_t>(nl - scratch.data()) + 1 : static_cast<size_t>(n);
  // FNV-1a, 64 bits: a fingerprint, not a defence (the log's writer could forge any hash).
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= static_cast<unsigned char>(scratch[i]);
    h *= 0x100000001b3ULL;
  }
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

void FileTail::closeFd() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  atPath_ = false;
}

// scratch: [0, head) consumed, [head, tail) the current line so far (between iterations it
// holds no '\n'), then fresh bytes. Complete lines are copied into the batch; the unfinished
// line moves to the front when room runs out, and is kept in partial_ between calls so that
// it is never read from the file twice.
bool FileTail::readAppended(Sink& sink, std::vector<char>& scratch) {
  char* const buf = scratch.data();
  const size_t cap = scratch.size();
  size_t head = 0;
  size_t tail = partial_.size();
  std::memcpy(buf, partial_.data(), tail);
  partial_.clear();

  size_t budget = kCheckBudget;
  bool more = false;
  bool saturated = false;
  for (;;) {
    if (!discarding_ && tail - head >= kMaxLineBytes) {
      // A line longer than kMaxLineBytes is delivered TRUNCATED: its first kMaxLineBytes - 1
      // bytes and a '\n' the file does not have; the rest, up to its real '\n', is skipped. It
      // is not split: a piece starting mid-line would let text an attacker controls (a user
      // name) pose as the start of a log line. It is delivered once its real '\n' is read
      // (deliverCut), so that the batch's end, the position a restart resumes from, is never
      // inside it.
      cutOffset_ = pos_ - (tail - head);
      cut_.assign(buf + head, kMaxLineBytes - 1);
      cut_.push_back('\n');
      emit(sink, EventKind::Error, static_cast<int64_t>(cutOffset_),
           "line at offset " + std::to_string(cutOffset_) + " of " + path_ + " is longer than " +
               std::to_string(kMaxLineBytes) + " bytes: delivered truncated");
      discarding_ = true;
      head = tail;
    }
    if (cap - tail < kReadChunk) {
      std::memmove(buf, buf + head, tail - head);
      tail -= head;
      head = 0;
    }
    // At the budget, or while the consumer has enough of this file, stop: it is read on later.
    saturated = sink.saturated(id_);
    if (budget == 0 || saturated) {
      more = true;
      break;
    }
    const ssize_t n = ::pread(fd_, buf + tail, kReadChunk, static_cast<off_t>(pos_));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      reportError(sink, errnoMessage("read", path_, errno));
      break;
    }
    if (n == 0) break;
    size_t scan = tail;
    tail += static_cast<size_t>(n);
    pos_ += static_cast<uint64_t>(n);
    budget -= std::min(budget, static_cast<size_t>(n));

    if (discarding_) {
      const auto* nl = static_cast<const char*>(std::memchr(buf + scan, '\n', tail - scan));
      if (nl == nullptr) {
        head = tail;
        continue;
      }
      head = scan = static_cast<size_t>(nl - buf) + 1;
      discarding_ = false;
      deliverCut(sink, pos_ - (tail - head));
    }
    // buf[i] is at file offset pos_ - (tail - i). The complete lines: up to the last '\n'.
    if (const auto* nl = static_cast<const char*>(memrchr(buf + scan, '\n', tail - scan))) {
      const size_t end = static_cast<size_t>(nl - buf) + 1;
      appendLines(sink, buf + head, end - head, pos_ - (tail - head));
      head = scan = end;
    }
  }
  partial_.assign(buf + head, tail - head);
  // Saturated: the lines read since the last batch wait in batch_ for the next call; handing
  // them over now would take more than the consumer wants.
  if (!saturated) flushBatch(sink);
  return more;
}

void FileTail::appendLines(Sink& sink, const char* data, size_t len, uint64_t offset) {
  if (!prefilter_) {
    for (size_t at = 0; at < len;) {
      const size_t end = static_cast<size_t>(static_cast<const char*>(std::memchr(data + at, '\n', len - at)) - data) + 1;
      batch_.lines++;
      batch_.end = offset + end;
      appendLine(sink, data + at, end - at, offset + at, 0);
      at = end;
    }
    return;
  }
  // One RE2 search over all the lines; only the candidates are copied. Lines are counted (and
  // the position moved) up to each candidate, so that a batch handed over early is exact.
  size_t counted = 0;
  auto count = [&](size_t to) {
    for (size_t at = counted; at < to;) {
      const void* nl = std::memchr(data + at, '\n', to - at);
      if (!nl) break;
      batch_.lines++;
      at = static_cast<size_t>(static_cast<const char*>(nl) - data) + 1;
    }
    counted = to;
    batch_.end = offset + to;
  };
  prefilter_->scan(data, len, [&](const char* b, const char* e, scan::Mask mask) {
    const auto begin = static_cast<size_t>(b - data);
    const auto stop = static_cast<size_t>(e - data) + 1;  // after its '\n'
    count(stop);
    appendLine(sink, b, stop - begin, offset + begin, mask);
  });
  count(len);
}

void FileTail::appendLine(Sink& sink, const char* data, size_t len, uint64_t offset, scan::Mask mask) {
  if (batch_.ends.empty()) batch_.base = offset;
  batch_.buf.insert(batch_.buf.end(), data, data + len);
  batch_.ends.push_back(static_cast<uint32_t>(batch_.buf.size() - 1));
  if (prefilter_) batch_.masks.push_back(mask);
  if (batch_.ends.size() >= kBatchLines || batch_.buf.size() >= kBatchBytes) flushBatch(sink);
}

void FileTail::flushBatch(Sink& sink) {
  // A batch of dropped lines only still goes out: it moves the position and the line count.
  if (batch_.ends.empty() && batch_.lines == 0) return;
  if (batch_.ends.empty()) batch_.base = batch_.end;
  if (!hashKnown_ && fd_ >= 0) {
    // The file was opened without a complete first line: it has one now.
    batch_.firstLineHash = firstLineHash();
    hashKnown_ = !batch_.firstLineHash.empty();
  }
  LineBatch full;
  full.fileId = id_;
  std::swap(full, batch_);
  batch_.fileId = id_;
  sink.batch(std::move(full));
}

void FileTail::deliverCut(Sink& sink, uint64_t end) {
  if (cut_.empty()) return;
  batch_.lines++;
  batch_.end = end;
  const scan::Mask mask = prefilter_ ? prefilter_->lineMask(cut_.data(), cut_.size() - 1) : 0;
  if (!prefilter_ || mask) appendLine(sink, cut_.data(), cut_.size(), cutOffset_, mask);
  // the last line of its batch, so that the offsets of the lines before it stay true
  flushBatch(sink);
  std::string().swap(cut_);
}

void FileTail::finishLastLine(Sink& sink) {
  deliverCut(sink, pos_);
  // Nobody will complete it now; deliver it with a '\n' of our own rather than lose it.
  if (!discarding_ && !partial_.empty()) {
    const uint64_t offset = pos_ - partial_.size();
    const scan::Mask mask = prefilter_ ? prefilter_->lineMask(partial_.data(), partial_.size()) : 0;
    partial_.push_back('\n');
    batch_.lines++;
    batch_.end = pos_;
    if (!prefilter_ || mask) appendLine(sink, partial_.data(), partial_.size(), offset, mask);
    flushBatch(sink);
  }
  partial_.clear();
  discarding_ = false;
}

std::optional<uint64_t> FileTail::lastLineStart(uint64_t size, std::vector<char>& scratch) {
  // Start after the last '\n', so that a line still being written is read whole.
  const uint64_t floor = size > kMaxLineBytes ? size - kMaxLineBytes : 0;
  for (uint64_t end = size; end > floor;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadChunk, end - floor));
    const uint64_t from = end - n;
    if (::pread(fd_, scratch.data(), n, static_cast<off_t>(from)) != static_cast<ssize_t>(n)) return size;
    for (size_t i = n; i-- > 0;) {
      if (scratch[i] == '\n') return from + i + 1;
    }
    end = from;
  }
  if (floor == 0) return 0;
  return std::nullopt;
}

void FileTail::emit(Sink& sink, EventKind kind, int64_t offset, std::string message) {
  FileEvent event;
  event.fileId = id_;
  event.kind = kind;
  event.path = path_;
  event.offset = offset;
  event.message = std::move(message);
  sink.event(std::move(event));
}

void FileTail::reportError(Sink& sink, std::string message) {
  failedNow_ = true;
  if (message == lastError_) return;
  lastError_ = message;
  emit(sink, EventKind::Error, -1, std::move(message));
}

void FileTail::reportRecovery(Sink& sink) {
  if (failedNow_ || lastError_.empty()) return;
  emit(sink, EventKind::Recovered, static_cast<int64_t>(pos_), "was: " + lastError_);
  lastError_.clear();
}

}  // namespace f2b::tailer
