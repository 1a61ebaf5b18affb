// fail2ban's date detector, the part that decides WHERE the date is: which template wins on a
// line and the span cut out of it, with fail2ban's rules and state (the last winner is tried
// first, at the same place; winners move towards the front). It is src/dates/detector.ts's
// matchTime and reorder, step by step; turning the date text into a time stays in JavaScript
// (src/dates/templates.ts), which needs it only for the lines that carry a failure.
//
// Stateful, like fail2ban's: one per thread, fed one file's lines in order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "LineText.hh"
#include "Regex.hh"

namespace f2b::match {

// Template flags, as in src/dates/templates.ts.
constexpr uint32_t kLineEnd = 4;
constexpr uint32_t kLineBegin = 8;
constexpr uint32_t kAnchored = kLineBegin | kLineEnd;

struct Template {
  std::string name;
  uint32_t flags = 0;
  // fail2ban's weight: 100 for the line-anchored copies of the defaults, else 1
  double weight = 1;
  std::shared_ptr<const Regex> re;
};

struct DateSpan {
  // the winning template (index in the list given to the detector), -1 = no date
  int32_t tpl = -1;
  // byte offsets into the line: the whole match, and the span cut out (group 1; empty at the
  // match start when group 1 did not take part)
  size_t matchStart = 0, matchEnd = 0;
  size_t start = 0, end = 0;
  // the endpos of the winning search, SIZE_MAX when the whole line was searched
  size_t endpos = SIZE_MAX;
};

class DateDetector {
 public:
  explicit DateDetector(std::shared_ptr<const std::vector<Template>> templates);

  // Finds the date of one line (cp: its code points); now: the reference time (epoch seconds).
  DateSpan match(const LineText& line, const CodePoints& cp, Scratch& scratch, double now);

  // Hits per template, in the detector's current order: (template index, hits).
  std::vector<std::pair<size_t, uint64_t>> hits() const;

 private:
  struct Slot {
    size_t id;
    uint64_t hits = 0;
    double lastUsed = 0;
    int64_t distance;
    uint64_t matched = 0;
  };
  struct Found {
    size_t i;
    int64_t distance, endpos;
    size_t matchStart, matchEnd, groupStart, groupEnd, searchEnd;
  };

  bool search(Slot& slot, const LineText& line, const CodePoints& cp, Scratch& scratch, size_t pos, size_t endpos,
              Found& out, size_t i);
  double weightOf(const Slot& s) const;
  size_t reorder(size_t num);

  std::shared_ptr<const std::vector<Template>> templates_;
  std::vector<Slot> slots_;
  // where the last date was found: position (code points) and the characters around its edges
  int64_t lastPos_ = 1, lastEndPos_;
  int32_t lastBefore_ = -1, lastFirst_ = -1, lastLast_ = -1, lastAfter_ = -1;
  size_t lastIdx_;
  size_t firstUnused_ = 0;
};

}  // namespace f2b::match
