// One followed path: its open descriptor, read position and partial last line, and the rules
// every backend shares: open, rotation (read the old file to its end first), copytruncate,
// deletion, and splitting appended bytes into batches of complete lines.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../scan/Prefilter.hh"
#include "Delivery.hh"

namespace f2b::tailer {

// One pread() asks for this much.
constexpr size_t kReadChunk = 256 * 1024;
// A batch is handed over once it holds this many bytes...
constexpr size_t kBatchBytes = 1024 * 1024;
// ...or this many lines.
constexpr size_t kBatchLines = 10000;
// A longer line is delivered truncated to this many bytes (its '\n' included); see FileTail.cc.
constexpr size_t kMaxLineBytes = 1024 * 1024;
// Bytes one check() reads before it yields to the other files and to stop requests.
constexpr size_t kCheckBudget = 8 * 1024 * 1024;
// Size of the scratch buffer check() reads into: a maximal partial line plus one chunk.
constexpr size_t kScratchBytes = kMaxLineBytes + kReadChunk;

// Where add() starts the first time the file is opened (later opens always start at 0).
// Offset: a saved position; it is used only if the file still starts with the same first line
// (firstLineHash, when given) and is that long, else reading starts at 0.
struct StartAt {
  enum Kind { Head, Tail, Offset } kind = Head;
  uint64_t offset = 0;
  std::string firstLineHash;
};

// Lines handed over without a prefilter say nothing about groups; with one, only the lines some
// group may match are handed over, with their masks.
using PrefilterPtr = std::shared_ptr<const scan::Prefilter>;

class FileTail {
 public:
  FileTail(FileId id, std::string path, StartAt start, PrefilterPtr prefilter = nullptr);
  ~FileTail();
  FileTail(const FileTail&) = delete;
  FileTail& operator=(const FileTail&) = delete;

  FileId id() const { return id_; }
  const std::string& path() const { return path_; }
  // False while the file is missing, renamed away or replaced: its watches need re-arming.
  bool atPath() const { return atPath_; }
  // Changes whenever a (new) file is opened at path.
  uint64_t generation() const { return generation_; }

  // Catches up with whatever happened since the last call: opens the file, notices rotation,
  // truncation and deletion, reads appended bytes and hands complete lines to `sink`.
  // `scratch` must hold kScratchBytes. Returns true if it stopped at kCheckBudget, or because
  // the sink is saturated with this file's lines, with more to read (call again).
  bool check(Sink& sink, std::vector<char>& scratch);

 private:
  // check() without the recovery report.
  bool follow(Sink& sink, std::vector<char>& scratch);
  // Whether this process may still open the file it reads (a chmod or chown of the file it
  // holds open): reported, not acted on, since the open descriptor keeps reading; a rotation
  // would need the open to work. Probed when its owner or mode changed, or while in error.
  void probeAccess(Sink& sink, const struct stat& named);
  // Opens path and positions the read; emits `how` (Opened / Rotated), Missing or Error.
  bool open(Sink& sink, EventKind how, std::vector<char>& scratch);
  void closeFd();
  // Reads from pos_ to the end of the file (or the budget) and emits the complete lines.
  bool readAppended(Sink& sink, std::vector<char>& scratch);
  // Appends line [data, data+len) (its '\n' included) at file offset `offset` to the batch.
  void appendLine(Sink& sink, const char* data, size_t len, uint64_t offset, scan::Mask mask);
  // The complete lines [data, data+len) (ending in '\n') at file offset `offset`: through the
  // prefilter if there is one, into the batch.
  void appendLines(Sink& sink, const char* data, size_t len, uint64_t offset);
  // Hash of the first line of the open file ("" if it has no complete first line yet).
  std::string firstLineHash();
  // Hands the batch being built to the sink, if it holds any line.
  void flushBatch(Sink& sink);
  // Hands over the over-long line cut at kMaxLineBytes (if one is held), its end being `end`:
  // after its real '\n', or where reading stopped.
  void deliverCut(Sink& sink, uint64_t end);
  // The file is finished (rotated or deleted): its unterminated last line becomes a line.
  void finishLastLine(Sink& sink);
  // Offset where the last (possibly unfinished) line of the first `size` bytes starts;
  // nullopt if none starts within the last kMaxLineBytes.
  std::optional<uint64_t> lastLineStart(uint64_t size, std::vector<char>& scratch);
  void emit(Sink& sink, EventKind kind, int64_t offset, std::string message = {});
  // Emits an Error event unless the same message was the last one reported.
  void reportError(Sink& sink, std::string message);
  // Emits a Recovered event if an error was reported and nothing failed since check() began.
  void reportRecovery(Sink& sink);

  const FileId id_;
  const std::string path_;
  const StartAt start_;
  const PrefilterPtr prefilter_;
  // True until the file has been opened once, or was found missing.
  bool firstOpen_ = true;
  int fd_ = -1;
  dev_t dev_ = 0;
  ino_t ino_ = 0;
  uint64_t generation_ = 0;
  bool atPath_ = false;
  // File offset of the next byte to read.
  uint64_t pos_ = 0;
  // Bytes read but not yet delivered: the start of a line whose '\n' has not been written yet.
  std::string partial_;
  // Skipping the rest of an over-long line up to its '\n'.
  bool discarding_ = false;
  // That line cut to kMaxLineBytes ('\n' included) and its offset, until its '\n' is read
  // ("" when none is held, as after a 'tail' start inside a long line).
  std::string cut_;
  uint64_t cutOffset_ = 0;
  bool reportedMissing_ = false;
  // The open file's first-line hash has been reported (in its opened event or a batch).
  bool hashKnown_ = false;
  // The error reported last and not recovered from ("" = none).
  std::string lastError_;
  // Something failed during the current check().
  bool failedNow_ = false;
  // The new file at path could not be opened after a rotation: its open is reported as Rotated.
  bool rotationPending_ = false;
  // Owner and mode of the open file when access was last known to be fine.
  uid_t uid_ = 0;
  gid_t gid_ = 0;
  mode_t mode_ = 0;
  LineBatch batch_;
};

}  // namespace f2b::tailer
