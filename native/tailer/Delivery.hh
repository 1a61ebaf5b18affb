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
};

enum class EventKind { Opened, Rotated, Truncated, Missing, Error };

// Something happened to a followed file.
struct FileEvent {
  FileId fileId = 0;
  EventKind kind = EventKind::Opened;
  std::string path;
  // Offset reading continues from; -1 when it does not apply.
  int64_t offset = -1;
  std::string message;
};

// Where the tail thread puts its output. Only the tail thread calls it.
class Sink {
 public:
  virtual ~Sink() = default;
  // Hands over one batch; may block while the consumer is behind (that is the back-pressure).
  virtual void batch(LineBatch&& batch) = 0;
  // Hands over one event, in order with the batches.
  virtual void event(FileEvent&& event) = 0;
  // True once the consumer is gone: the tail thread then stops.
  virtual bool closed() const = 0;
  // Called once, last, by the tail thread as it exits.
  virtual void finish() = 0;
};

}  // namespace f2b::tailer
