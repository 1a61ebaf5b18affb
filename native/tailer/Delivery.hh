// What the tail thread hands to JavaScript: the C++ side of TailBatch and TailEvent in
// src/types.ts, and the Sink it hands them to (a ThreadSafeFunction, see TailerWrap.cc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace f2b::tailer {

// Returned by Tailer.add(); never reused within one tailer.
using FileId = uint32_t;

// Complete lines of one file, delivered in one crossing.
struct LineBatch {
  FileId fileId = 0;
  // File offset of buf[0].
  uint64_t base = 0;
  // Whole lines, each ending in '\n'.
  std::vector<char> buf;
  // ends[i] = index in buf of the '\n' that ends line i.
  std::vector<uint32_t> ends;
  // With a prefilter: masks[i] = the groups (jails) that may match line i. Lines no group can
  // match are not in the batch at all.
  std::vector<uint32_t> masks;
  // Lines read for this batch, delivered or dropped by the prefilter.
  uint64_t lines = 0;
  // File offset just after the last line read (a position the daemon may save).
  uint64_t end = 0;
  // The file's first-line hash, in the first batch after a file opened without a complete
  // first line gets one; "" otherwise.
  std::string firstLineHash;
};

// Error: something failed (reported once until it changes or recovers); Recovered: what the last
// Error said works again (the file opens, its name resolves, reads succeed).
enum class EventKind { Opened, Rotated, Truncated, Missing, Error, Recovered };

// Something happened to a followed file.
struct FileEvent {
  FileId fileId = 0;
  EventKind kind = EventKind::Opened;
  std::string path;
  // Offset reading continues from; -1 when it does not apply.
  int64_t offset = -1;
  // Opened / Rotated: the hash of the file's first line (see FileTail::firstLineHash), or ""
  // while it has no complete first line.
  std::string firstLineHash;
  std::string message;
};

// Where the tail thread puts its output. Only the tail thread calls it.
class Sink {
 public:
  virtual ~Sink() = default;
  // Hands over one batch; may block while the consumer is behind (see FlowGate.hh).
  virtual void batch(LineBatch&& batch) = 0;
  // Hands over one event, in order with the batches.
  virtual void event(FileEvent&& event) = 0;
  // True once the consumer is gone: the tail thread then stops.
  virtual bool closed() const = 0;
  // True while the consumer has enough of this file's lines: its reader stops between reads.
  virtual bool saturated(FileId) const { return false; }
  // Called once, last, by the tail thread as it exits.
  virtual void finish() = 0;
};

}  // namespace f2b::tailer
