// One compiled Python regex, run by PCRE2 (JIT where the machine has it). The sources come from
// src/filter/pyregex/emit-pcre.ts, which writes Python's meaning in PCRE2 syntax; the flags here
// complete it: UTF and UCP (code points, Unicode \d \w \b), newline LF only (`.` stops at '\n',
// `$` matches at the end or before a final '\n', as Python's), ALT_CIRCUMFLEX (a MULTILINE `^`
// also matches after a final '\n', as Python's). The ASCII form of the same pattern runs on
// subjects of ASCII characters only, compiled without UTF: one byte per character is several
// times faster, and on such a subject it matches what the UTF form matches.
//
// A Regex is immutable once built and shared by every scan thread; each thread matches with its
// own Scratch (match data, JIT stack).
#pragma once

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <atomic>
#include <mutex>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace f2b::match {

// A pathological pattern against a crafted line stops after this many backtracking steps (the
// line then counts as not matched and is reported): linear patterns need a few thousand.
constexpr uint32_t kMatchLimit = 10'000'000;
constexpr uint32_t kDepthLimit = 1'000'000;

// Per-thread matching state, big enough for every Regex of a filter.
class Scratch {
 public:
  Scratch();
  ~Scratch();
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;

  pcre2_match_data* data() const { return data_; }
  pcre2_match_context* context() const { return context_; }

 private:
  pcre2_match_data* data_ = nullptr;
  pcre2_match_context* context_ = nullptr;
  pcre2_jit_stack* stack_ = nullptr;
};

enum class Result { NoMatch, Match, Limit };

class Regex {
 public:
  // names[g]: the Python name of group g (index 0 unused; "" for an unnamed group).
  // ascii: the ASCII form ("" = none: the UTF form runs on every subject). rest: the group whose
  // `.+$` tail the sources wrote as `(?=.)` (0 = none): a match extends it to the subject's end
  // before its final '\n'.
  // Throws std::invalid_argument with PCRE2's message when a source does not compile.
  Regex(const std::string& source, std::vector<std::string> names, const std::string& ascii = "", size_t rest = 0);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Python's pattern.search(subject[:end], pos) over valid UTF-8 (pos at a character start);
  // `ascii`: the subject holds ASCII characters only (the ASCII form may run).
  // On a match, ovector() of the scratch holds the group offsets (PCRE2_UNSET when a group did
  // not participate).
  Result search(Scratch& s, const char* subject, size_t end, size_t pos = 0, bool ascii = false) const;

  size_t groups() const { return names_.size() - 1; }
  const std::vector<std::string>& names() const { return names_; }
  // The group of a Python name, or 0.
  size_t group(const std::string& name) const;

  // The first bytes a match can start with, when the pattern is anchored at the subject's start
  // (a non-MULTILINE `^`): bit b set = a match may begin with byte b. All bits set otherwise.
  const std::array<uint64_t, 4>& firstBytes() const { return firstBytes_; }

 private:
  // One compiled form, JIT-compiled when first matched with (a filter has dozens of date
  // templates and most runs use two or three of them: the JIT costs more than the compile).
  struct Form {
    pcre2_code* code = nullptr;
    mutable std::once_flag once;
    mutable std::atomic<bool> done{false};
    mutable bool jit = false;
    const pcre2_code* ready() const;
  };
  // Compiles one form and adds what it says of first bytes; throws on an error.
  pcre2_code* compile(const std::string& source, uint32_t options);
  void addFirstBytes(const pcre2_code* code);

  Form utf_, ascii_;
  std::vector<std::string> names_;
  size_t rest_ = 0;
  std::array<uint64_t, 4> firstBytes_{};
};

inline const PCRE2_SIZE* ovector(const Scratch& s) { return pcre2_get_ovector_pointer(s.data()); }

}  // namespace f2b::match
