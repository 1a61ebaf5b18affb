// A fail2ban filter compiled for the native matcher, and the per-thread matcher that runs it on
// one line at a time: src/filter/filter.ts's FilterScanner for maxlines = 1 (cut the date out,
// ignoreregex early when there are few, prefregex and its F-CONTENT, then the failregexes, each
// hit checked against the ignoreregexes), with the group merging of collectGroups (alt_* and
// tuple_* groups). The JS side builds the spec (src/match/native.ts) and the regexes are PCRE2.
//
// While a line is matched, field values are (offset, length) pairs into its buffers; only a
// line that gets a record has its values (and, if asked, its text) copied into the batch's
// arena (see Record).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "DateDetector.hh"
#include "LineText.hh"
#include "Regex.hh"

namespace f2b::match {

// One field of a hit: a name (index into Filter::fieldNames()) and a value in the arena.
struct Field {
  uint16_t name;
  uint32_t off, len;
};

struct CompiledRegex {
  std::shared_ptr<const Regex> re;
  // per group: its field name, or -1 when the group is not a field (unnamed, `content`)
  std::vector<int32_t> field;
  // alt_* / tuple_* groups: (field of the group, field of its base name), in fail2ban's order
  std::vector<std::pair<uint16_t, uint16_t>> alt, tuple;
};

class Filter {
 public:
  struct RegexSource {
    std::string source;
    std::vector<std::string> names;
    std::string ascii;  // the ASCII form, "" = none
    size_t rest = 0;    // the group a `.+$` tail extends (0 = none)
  };
  struct TemplateSource {
    std::string name;
    uint32_t flags;
    double weight;
    RegexSource regex;
  };
  // Throws std::invalid_argument naming the regex that does not compile.
  Filter(const std::vector<TemplateSource>& templates, const RegexSource* prefregex,
         const std::vector<RegexSource>& failregex, const std::vector<RegexSource>& ignoreregex);

  const std::vector<std::string>& fieldNames() const { return fieldNames_; }
  size_t failregexes() const { return fail_.size(); }
  size_t ignoreregexes() const { return ignore_.size(); }
  const std::shared_ptr<const std::vector<Template>>& templates() const { return templates_; }
  // Field index of a name, or -1.
  int32_t field(const std::string& name) const;

 private:
  friend class FilterMatcher;
  CompiledRegex compile(const RegexSource& r, const char* what, size_t index);
  uint16_t fieldOf(const std::string& name);

  std::shared_ptr<const std::vector<Template>> templates_;
  std::unique_ptr<CompiledRegex> pref_;
  int32_t prefContent_ = 0;  // the prefregex's `content` group, 0 = none
  std::vector<CompiledRegex> fail_, ignore_;
  std::vector<std::string> fieldNames_;
  // failregexes that may match a buffer starting with byte b, in order
  std::array<std::vector<uint16_t>, 256> byFirstByte_;
};

struct Hit {
  uint16_t regex;
  // fields[fieldsBegin, fieldsEnd) of the batch
  uint32_t fieldsBegin, fieldsEnd;
};

// One candidate line's outcome, as the tally and the tracker need it.
struct Record {
  uint64_t lineNo = 0;   // 0-based within the chunk (the caller makes it absolute)
  uint64_t offset = 0;   // file offset of the line
  uint32_t rawLen = 0;   // its bytes in the file (without the '\n')
  // the line's text in the arena; hasText false when the matcher was told not to keep texts
  uint32_t textOff = 0, textLen = 0;
  bool hasText = false;
  DateSpan date;
  // UTF-16 positions of the date match in the text (JavaScript re-reads the date there)
  uint32_t date16Start = 0, date16End = 0, date16Endpos = 0;
  uint32_t hitsBegin = 0, hitsEnd = 0;  // hits[hitsBegin, hitsEnd) of the batch
  int32_t ignoredBy = -1;
  // a regex gave up on this line (PCRE2's match limit): its index, failregexes first, then the
  // ignoreregexes (failregexes() + i), and -2 for the prefregex; -1 = none
  int32_t limit = -1;
};

// Records of consecutive candidate lines of one chunk, with the storage they point into.
struct MatchBatch {
  std::string arena;
  std::vector<Record> records;
  std::vector<Hit> hits;
  std::vector<Field> fields;
  void clear() {
    arena.clear();
    records.clear();
    hits.clear();
    fields.clear();
  }
};

// Batches whose records were read, for the scan threads to fill again: the storage of a batch
// (a megabyte of arena) is reused instead of coming fresh from the kernel, page by page, for
// every batch of a large file.
class BatchPool {
 public:
  std::unique_ptr<MatchBatch> take();
  void give(std::unique_ptr<MatchBatch> batch);

 private:
  std::mutex mutex_;
  std::vector<std::unique_ptr<MatchBatch>> free_;
};

class FilterMatcher {
 public:
  // checkAll: try every failregex (fail2ban-regex), not only up to the first hit. keepText: copy
  // each record's text (else a record has its file offset and length only).
  FilterMatcher(std::shared_ptr<const Filter> filter, bool checkAll, bool keepText = true);

  // Matches one raw line (without its '\n'); appends its Record to `out` when the line has a
  // hit, an ignoreregex hit or a given-up regex (returns true), else leaves `out` as it was.
  // `mask`: bit i clear = failregex i cannot match (a sound prefilter said so; i < 32 only).
  bool scan(const char* line, size_t len, uint64_t lineNo, uint64_t offset, uint32_t mask, double now,
            MatchBatch& out);

  const DateDetector& dates() const { return dates_; }

 private:
  // A field while the line is matched: its value in one of the line's buffers.
  enum Source : uint8_t { kBuf, kContent, kJoined };
  struct Pending {
    uint16_t name;
    Source src;
    uint32_t off, len;
  };
  int32_t firstIgnore(const char* buf, size_t len, int32_t& limit);
  void collect(const CompiledRegex& c, Source src, std::vector<Pending>& fields, size_t at = 0);

  std::shared_ptr<const Filter> filter_;
  bool checkAll_, keepText_;
  DateDetector dates_;
  Scratch scratch_;
  LineText text_;
  CodePoints cp_;
  // the buffer fail2ban matches (the text without its date, and '\n'), the prefregex's
  // F-CONTENT (and '\n'), and tuple_ values joined
  std::string buf_, content_, joined_;
  std::vector<Pending> pre_, own_, hitFields_;
  // hitFields_ index where each hit of the line ends
  std::vector<std::pair<uint16_t, uint32_t>> hitEnds_;
};

}  // namespace f2b::match
