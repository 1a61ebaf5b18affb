#include "DateDetector.hh"

#include <algorithm>

namespace f2b::match {

namespace {

constexpr int64_t kFar = 0x7fffffff;
// after this many seconds unused, a template may be overtaken regardless of weight
constexpr double kUnusedTime = 300;

}  // namespace

DateDetector::DateDetector(std::shared_ptr<const std::vector<Template>> templates)
    : templates_(std::move(templates)), lastEndPos_(kFar), lastIdx_(static_cast<size_t>(kFar)) {
  for (size_t i = 0; i < templates_->size(); i++) slots_.push_back(Slot{i, 0, 0, kFar, 0});
}

std::vector<std::pair<size_t, uint64_t>> DateDetector::hits() const {
  std::vector<std::pair<size_t, uint64_t>> out;
  for (const auto& s : slots_) out.emplace_back(s.id, s.hits);
  return out;
}

double DateDetector::weightOf(const Slot& s) const {
  return static_cast<double>(s.hits) * (*templates_)[s.id].weight / static_cast<double>(std::max<int64_t>(1, s.distance));
}

// Python's regex.search(line, pos, endpos) with a template; positions in bytes.
bool DateDetector::search(Slot& slot, const LineText& line, const CodePoints& cp, Scratch& scratch, size_t pos,
                          size_t endpos, Found& out, size_t i) {
  const size_t end = std::min(endpos, line.size());
  pos = std::min(pos, end);
  const Regex& re = *(*templates_)[slot.id].re;
  if (re.search(scratch, line.data(), end, pos, line.ascii()) != Result::Match) return false;
  slot.matched++;
  const PCRE2_SIZE* ov = ovector(scratch);
  out.i = i;
  out.matchStart = ov[0];
  out.matchEnd = ov[1];
  if (re.groups() >= 1 && ov[2] != PCRE2_UNSET) {
    out.groupStart = ov[2];
    out.groupEnd = ov[3];
  } else {
    out.groupStart = out.groupEnd = ov[0];
  }
  out.searchEnd = endpos >= line.size() ? SIZE_MAX : end;
  out.distance = static_cast<int64_t>(cp.fromByte(ov[0]));
  out.endpos = static_cast<int64_t>(cp.fromByte(ov[1]));
  return true;
}

DateSpan DateDetector::match(const LineText& line, const CodePoints& cp, Scratch& scratch, double now) {
  const size_t n = slots_.size();
  const auto flags = [&](size_t i) { return (*templates_)[slots_[i].id].flags; };
  Found m{}, found{};
  bool have = false, haveFound = false;
  size_t skip = static_cast<size_t>(kFar);
  size_t i = lastIdx_;

  // 1. the last winner, at the same place if the characters around that place still fit
  if (i < n) {
    Slot& slot = slots_[i];
    if (flags(i) & kAnchored) {
      have = search(slot, line, cp, scratch, 0, SIZE_MAX, m, i);
      skip = i;
    } else {
      const int64_t d = lastPos_, e = lastEndPos_;
      const bool sameStart = cp.at(d - 1) == lastBefore_ || (cp.at(d) == lastFirst_ && !isAlnum(lastFirst_));
      const bool sameEnd = cp.at(e) == lastAfter_ || (cp.at(e - 1) == lastLast_ && !isAlnum(lastLast_));
      if (sameStart && sameEnd) {
        have = search(slot, line, cp, scratch, cp.toByte(static_cast<size_t>(d)),
                      e >= kFar ? SIZE_MAX : cp.toByte(static_cast<size_t>(e)), m, i);
      } else {
        have = search(slot, line, cp, scratch, 0, SIZE_MAX, m, i);
        skip = i;
      }
    }
    if (have) {
      const bool accept = n == 1 || (flags(i) & kAnchored) || (m.distance == lastPos_ && m.endpos == lastEndPos_);
      if (!accept) {
        // moved: maybe a date-like text in the message; keep it as a candidate and search on
        found = m;
        haveFound = true;
        have = false;
      }
    }
  }

  // 2. all templates in order
  if (!have) {
    for (i = 0; i < n; i++) {
      if (i == skip) continue;
      Slot& slot = slots_[i];
      if (!search(slot, line, cp, scratch, 0, SIZE_MAX, m, i)) continue;
      have = true;
      if (i + 1 >= n) break;  // the last one
      if (flags(i) & kAnchored) break;  // anchored: first match wins
      if (m.distance == 0 && slot.hits && !slots_[i + 1].matched) break;  // the next one never matched
      if (m.distance > slot.distance || m.distance > lastPos_) {
        // further right than before: keep the leftmost such candidate, search on
        if (m.distance < (haveFound ? found.distance : kFar)) {
          found = m;
          haveFound = true;
        }
        have = false;
        continue;
      }
      break;
    }
    if (!have && haveFound) {
      m = found;
      have = true;
    }
  }
  if (!have) return DateSpan{};

  // 3. book-keeping for the next line
  i = m.i;
  Slot& slot = slots_[i];
  slot.hits++;
  slot.lastUsed = now;
  slot.distance = m.distance;
  if (firstUnused_ == i) firstUnused_++;
  lastPos_ = m.distance;
  lastBefore_ = cp.at(m.distance - 1);
  lastFirst_ = cp.at(m.distance);
  lastEndPos_ = m.endpos;
  // (Python's line[endpos-1] wraps to the last character when endpos is 0)
  lastLast_ = m.endpos > 0 ? cp.at(m.endpos - 1) : cp.at(static_cast<int64_t>(cp.length()) - 1);
  lastAfter_ = cp.at(m.endpos);
  DateSpan out;
  out.tpl = static_cast<int32_t>(slot.id);
  out.matchStart = m.matchStart;
  out.matchEnd = m.matchEnd;
  out.start = m.groupStart;
  out.end = m.groupEnd;
  out.endpos = m.searchEnd;
  if (i && i != lastIdx_) i = reorder(i);
  lastIdx_ = i;
  return out;
}

// Moves a winning template towards the front (fail2ban's _reorderTemplate); returns its index.
size_t DateDetector::reorder(size_t num) {
  const Slot slot = slots_[num];
  const double untime = slot.lastUsed - kUnusedTime;
  const double weight = weightOf(slot);
  size_t pos = firstUnused_ < num ? firstUnused_ : num >> 1;
  const auto movable = [&] { return weight > weightOf(slots_[pos]) || untime > slots_[pos].lastUsed; };
  if (!movable()) {
    if (pos == num - 1) return num;
    pos = num - 1;
    if (!movable()) return num;
  }
  slots_.erase(slots_.begin() + static_cast<std::ptrdiff_t>(num));
  slots_.insert(slots_.begin() + static_cast<std::ptrdiff_t>(pos), slot);
  while (firstUnused_ < slots_.size() && slots_[firstUnused_].hits) firstUnused_++;
  return pos;
}

}  // namespace f2b::match
