// The native prefilter: RE2 relaxations of every jail's failregexes on one file, run on raw read
// buffers so that a line no jail can match never reaches JavaScript. The patterns come from
// src/prefilter/native.ts (each is a sound superset of what its group can match on one raw
// line, date still in it); this file only runs them.
//
// Patterns are compiled in Latin-1 mode, so that they see bytes: `.` matches any byte but '\n'
// (invalid UTF-8 included), and a literal is written as its UTF-8 bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <re2/set.h>

#include "LiteralGate.hh"

namespace f2b::scan {

// The literal gate gives way to RE2 once it has had this many hits in one buffer...
constexpr size_t kLiteralProbeHits = 64;
// ...at more than one hit per this many bytes.
constexpr size_t kLiteralMaxRate = 2048;

// Bit g set = group g (one jail, or one filter) may match the line.
using Mask = uint32_t;
constexpr size_t kMaxGroups = 32;

class Prefilter {
 public:
  // patterns[g] for group g; an empty pattern passes every line for that group.
  // literals (optional): per group, literals one of which every line its pattern matches
  // contains; given for every group, they gate the RE2 work (LiteralGate) where the machine can.
  // Throws std::invalid_argument (naming the group) when a pattern does not compile.
  // sample (optional): the start of the log, for the literal gate's bucket choice.
  explicit Prefilter(const std::vector<std::string>& patterns,
                     const std::vector<std::vector<LiteralGate::Literal>>& literals = {}, std::string_view sample = {});
  ~Prefilter();
  Prefilter(const Prefilter&) = delete;
  Prefilter& operator=(const Prefilter&) = delete;

  size_t groups() const { return groups_; }
  // True when every line is a candidate for some group (nothing can be dropped).
  bool passesAll() const { return all_ != 0; }
  // True when the literal gate runs in front of RE2.
  bool literalGate() const { return literals_ != nullptr; }

  // The groups that may match one line (without its '\n').
  Mask lineMask(const char* line, size_t len) const;

  // Calls hit(begin, end, mask) for each candidate line of [data, data + len), in order; `end`
  // points at the line's '\n' (or data + len for an unterminated last line). Lines in between
  // are skipped without a call: one RE2 search runs over the whole buffer.
  // Without `masks` (for a caller that matches each candidate exactly anyway) RE2 never runs
  // where the literal gate can, and a candidate's mask is the groups of the literals found in it
  // (all bits where RE2 found it): coarser, as sound, and nearly free.
  template <class Hit>
  void scan(const char* data, size_t len, Hit&& hit, bool masks = true) const;

 private:
  // Position of the first byte of a line that matches the gate at or after `from` (a line
  // start), or npos; without a gate, `from`. *oneLine: the gate's match lies within that line.
  size_t nextCandidate(const char* data, size_t len, size_t from, bool* oneLine) const;
  // The same with the literal gate: the line may still match no pattern.
  size_t nextLiteral(const char* data, size_t len, size_t from) const;
  // The line start before position `at` (not before `from`).
  static size_t lineStart(const char* data, size_t from, size_t at);
  // scan() without masks, with the literal gate: each candidate's mask is the owners of the
  // literals in it.
  template <class Hit>
  void scanLiterals(const char* data, size_t len, Hit&& hit) const;

  size_t groups_ = 0;
  // The non-empty patterns, matched together on one line; setGroup_[i] is the group of entry i.
  std::unique_ptr<re2::RE2::Set> set_;
  std::vector<size_t> setGroup_;
  // The alternation of all patterns, searched over whole buffers; null when a group passes
  // every line, or a pattern may be anchored (mayAnchor in Prefilter.cc: each line is matched
  // on its own then).
  std::unique_ptr<re2::RE2> gate_;
  // In front of gate_ when every group has literals and the machine can run it.
  std::unique_ptr<LiteralGate> literals_;
  // Groups whose pattern is empty.
  Mask all_ = 0;
};

template <class Hit>
void Prefilter::scanLiterals(const char* data, size_t len, Hit&& hit) const {
  uint32_t owners = 0;
  size_t at = literals_->find(data, len, 0, &owners);
  while (at != static_cast<size_t>(-1)) {
    const void* nl = std::memchr(data + at, '\n', len - at);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : len;
    Mask mask = owners;
    // the next literal found is in this line (its groups join the mask) or starts the next
    // candidate: the search goes on where it would anyway
    size_t next = literals_->find(data, len, at + 1, &owners);
    while (next < end) {
      mask |= owners;
      next = literals_->find(data, len, next + 1, &owners);
    }
    hit(data + lineStart(data, 0, at), data + end, mask);
    at = next;
  }
}

template <class Hit>
void Prefilter::scan(const char* data, size_t len, Hit&& hit, bool masks) const {
  if (!masks && literals_ && !all_) {
    scanLiterals(data, len, hit);
    return;
  }
  size_t pos = 0;
  // The literal gate pays off only when few lines hold one of its literals (an nginx access log
  // and a bot-search filter); where most do (sshd's helper regexes share "Connection", "from"),
  // each hit costs an RE2 run on its line and one RE2 search over the buffer is cheaper. So it
  // watches its hit rate and hands over to RE2 for the rest of the buffer when it is high.
  bool literal = literals_ != nullptr;
  size_t hits = 0;
  while (pos < len) {
    size_t begin = pos;
    bool oneLine = false;
    if (!all_) {
      if (masks && literal && hits >= kLiteralProbeHits && hits * kLiteralMaxRate > pos) literal = false;
      begin = literal ? nextLiteral(data, len, pos) : nextCandidate(data, len, pos, &oneLine);
      if (begin == static_cast<size_t>(-1)) return;
      if (literal) hits++;
    }
    const void* nl = std::memchr(data + begin, '\n', len - begin);
    const size_t end = nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) : len;
    // With one group the RE2 gate is that group's pattern: its hit within the line is the answer.
    const Mask mask = !masks                                 ? ~Mask{0} | all_
                      : groups_ == 1 && !all_ && oneLine ? Mask{1}
                                                         : lineMask(data + begin, end - begin);
    if (mask) hit(data + begin, data + end, mask);
    pos = end + 1;
  }
}

}  // namespace f2b::scan
