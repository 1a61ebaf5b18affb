#include "Prefilter.hh"

#include <re2/re2.h>

#include <cstring>
#include <stdexcept>

namespace f2b::scan {

namespace {

// RE2's default (8 MiB) is small for the alternation of some twenty relaxed sshd regexes: the
// DFA would keep flushing its state cache and fall back to the slow NFA.
constexpr int64_t kMaxMem = 256 << 20;

RE2::Options options() {
  RE2::Options o;
  o.set_encoding(RE2::Options::EncodingLatin1);
  o.set_log_errors(false);
  o.set_max_mem(kMaxMem);
  return o;
}

}  // namespace

Prefilter::Prefilter(const std::vector<std::string>& patterns,
                     const std::vector<std::vector<LiteralGate::Literal>>& literals, std::string_view sample)
    : groups_(patterns.size()) {
  if (patterns.empty()) throw std::invalid_argument("a prefilter needs at least one group");
  if (patterns.size() > kMaxGroups) {
    throw std::invalid_argument("a prefilter takes at most " + std::to_string(kMaxGroups) + " groups");
  }
  set_ = std::make_unique<RE2::Set>(options(), RE2::UNANCHORED);
  std::string alternation;
  for (size_t g = 0; g < patterns.size(); g++) {
    if (patterns[g].empty()) {
      all_ |= Mask{1} << g;
      continue;
    }
    std::string error;
    if (set_->Add(patterns[g], &error) < 0) {
      throw std::invalid_argument("prefilter group " + std::to_string(g) + ": " + error);
    }
    setGroup_.push_back(g);
    if (!alternation.empty()) alternation += '|';
    alternation += "(?:" + patterns[g] + ")";
  }
  if (!setGroup_.empty() && !set_->Compile()) throw std::invalid_argument("prefilter: the patterns do not fit in memory");
  if (!all_) {
    gate_ = std::make_unique<RE2>(alternation, options());
    if (!gate_->ok()) throw std::invalid_argument("prefilter gate: " + gate_->error());
  }
  if (!all_ && literals.size() == patterns.size()) {
    std::vector<LiteralGate::Literal> all;
    bool every = true;
    for (size_t g = 0; g < literals.size(); g++) {
      if (literals[g].empty()) every = false;
      for (auto l : literals[g]) {
        l.owners = Mask{1} << g;
        all.push_back(std::move(l));
      }
    }
    if (every) {
      auto gate = std::make_unique<LiteralGate>(std::move(all), sample);
      if (gate->available()) literals_ = std::move(gate);
    }
  }
}

size_t Prefilter::lineStart(const char* data, size_t from, size_t at) {
  const void* nl = at > from ? memrchr(data + from, '\n', at - from) : nullptr;
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - data) + 1 : from;
}

size_t Prefilter::nextLiteral(const char* data, size_t len, size_t from) const {
  const size_t at = literals_->find(data, len, from);
  if (at == SIZE_MAX) return static_cast<size_t>(-1);
  return lineStart(data, from, at);
}

Prefilter::~Prefilter() = default;

Mask Prefilter::lineMask(const char* line, size_t len) const {
  Mask mask = all_;
  if (setGroup_.empty()) return mask;
  std::vector<int> hits;
  if (set_->Match(absl::string_view(line, len), &hits)) {
    for (int i : hits) mask |= Mask{1} << setGroup_[static_cast<size_t>(i)];
  }
  return mask;
}

size_t Prefilter::nextCandidate(const char* data, size_t len, size_t from) const {
  const absl::string_view text(data, len);
  absl::string_view m;
  if (!gate_->Match(text, from, len, RE2::UNANCHORED, &m, 1)) return static_cast<size_t>(-1);
  // The match lies within one line (no pattern matches '\n'): go back to that line's start.
  return lineStart(data, from, static_cast<size_t>(m.data() - data));
}

}  // namespace f2b::scan
