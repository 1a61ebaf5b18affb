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

// True if `pattern` may hold ^, $, \A or \z outside a character class. Over a whole buffer
// they anchor at the buffer's ends, not at each line's, so a buffer-wide search could pass over
// a line they match on its own. Conservative: a false alarm costs only speed (each line is then
// matched on its own). The patterns src/prefilter/native.ts makes never have them.
bool mayAnchor(const std::string& p) {
  bool inClass = false;
  for (size_t i = 0; i < p.size(); i++) {
    const char c = p[i];
    if (c == '\\') {
      if (i + 1 == p.size()) break;
      const char n = p[++i];
      if (n == 'Q') {  // \Q...\E: literal text
        const size_t e = p.find("\\E", i + 1);
        if (e == std::string::npos) break;
        i = e + 1;
      } else if (!inClass && (n == 'A' || n == 'z')) {
        return true;
      }
    } else if (inClass) {
      inClass = c != ']';
    } else if (c == '[') {
      inClass = true;
      if (i + 1 < p.size() && p[i + 1] == '^') i++;
      if (i + 1 < p.size() && p[i + 1] == ']') i++;  // a ']' first is a member
    } else if (c == '^' || c == '$') {
      return true;
    }
  }
  return false;
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
  bool anchored = false;
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
    anchored = anchored || mayAnchor(patterns[g]);
    if (!alternation.empty()) alternation += '|';
    alternation += "(?:" + patterns[g] + ")";
  }
  if (!setGroup_.empty() && !set_->Compile()) throw std::invalid_argument("prefilter: the patterns do not fit in memory");
  if (!all_ && !anchored) {
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

size_t Prefilter::nextCandidate(const char* data, size_t len, size_t from, bool* oneLine) const {
  *oneLine = false;
  if (!gate_) return from;  // (anchored patterns: every line is matched on its own)
  const absl::string_view text(data, len);
  absl::string_view m;
  if (!gate_->Match(text, from, len, RE2::UNANCHORED, &m, 1)) return static_cast<size_t>(-1);
  // The line where the match starts. The patterns src/prefilter/native.ts makes never match
  // '\n', but one that does ([^a], \s) can match from the end of a line into the next: then the
  // line must be matched on its own.
  *oneLine = std::memchr(m.data(), '\n', m.size()) == nullptr;
  return lineStart(data, from, static_cast<size_t>(m.data() - data));
}

}  // namespace f2b::scan
