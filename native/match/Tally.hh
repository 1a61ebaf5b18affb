// fail2ban-regex's counters over the matched records of one file, in file order (what
// src/cli/regex.ts's tallyLines counts when it reads every line in JS): a line with an F-NOFAIL
// result or an ignoreregex hit is "ignored", else "matched" if a failure was found, else
// "missed"; hits count every result of a regex, F-NOFAIL ones included.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "Filter.hh"
#include "Tracker.hh"

namespace f2b::match {

class Tally {
 public:
  struct Options {
    // keep the failures for JSON records (else only counts)
    bool failures = false;
    bool listAllMatched = false;
    bool listAllIgnored = false;
    // lines of a kind listed when not all are
    size_t listMax = 21;
  };
  // A failure (a result without F-NOFAIL) of a line, for a JSON record.
  struct Failure {
    uint64_t lineNo;  // 1-based in the file
    const Record* rec;
    Found found;
  };
  struct Limit {
    uint64_t lineNo;
    int32_t regex;
  };

  Tally(const Filter& filter, Options opts);

  // The records of one batch, in file order; lineBase: the batch's chunk's first line number (0-based).
  // Failures of the batch go to `failures` (when options.failures).
  void feed(const MatchBatch& batch, uint64_t lineBase, std::vector<Failure>& failures);

  uint64_t prefMatched = 0, matched = 0, ignored = 0, limitLines = 0;
  std::vector<uint64_t> hitsPerRegex, ignoreHits;
  std::vector<std::string> listedMatched, listedIgnored;
  // the same lines where the records have no text: (file offset, bytes) to read them from
  std::vector<std::pair<uint64_t, uint32_t>> listedMatchedAt, listedIgnoredAt;
  // the first lines where a regex gave up (line numbers 1-based)
  std::vector<Limit> limits;

 private:
  Options opts_;
  Tracker tracker_;
  std::vector<Found> results_;
};

}  // namespace f2b::match
