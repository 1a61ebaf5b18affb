#include "Tally.hh"

namespace f2b::match {

namespace {

constexpr size_t kMaxLimits = 20;

}  // namespace

Tally::Tally(const Filter& filter, Options opts)
    : hitsPerRegex(filter.failregexes(), 0), ignoreHits(filter.ignoreregexes(), 0), opts_(opts), tracker_(filter, opts.failures) {}

void Tally::feed(const MatchBatch& batch, uint64_t lineBase, std::vector<Failure>& failures) {
  for (const Record& rec : batch.records) {
    const uint64_t lineNo = lineBase + rec.lineNo + 1;
    if (rec.limit != -1) {
      limitLines++;
      if (limits.size() < kMaxLimits) limits.push_back(Limit{lineNo, rec.limit});
    }
    tracker_.failures(batch, rec, results_);
    if (rec.hitsEnd > rec.hitsBegin || rec.ignoredBy >= 0) prefMatched++;
    size_t found = 0;
    for (const Found& r : results_) {
      hitsPerRegex[r.regex]++;
      found += !r.nofail;
    }
    if (rec.ignoredBy >= 0) ignoreHits[static_cast<size_t>(rec.ignoredBy)]++;
    if (opts_.failures) {
      for (Found& r : results_) {
        if (!r.nofail) failures.push_back(Failure{lineNo, &rec, std::move(r)});
      }
      continue;
    }
    const auto list = [&](std::vector<std::string>& texts, std::vector<std::pair<uint64_t, uint32_t>>& at) {
      if (rec.hasText) texts.push_back(batch.arena.substr(rec.textOff, rec.textLen));
      else at.emplace_back(rec.offset, rec.rawLen);
    };
    if (rec.ignoredBy >= 0 || results_.size() > found) {
      ignored++;
      if (opts_.listAllIgnored || listedIgnored.size() + listedIgnoredAt.size() < opts_.listMax) list(listedIgnored, listedIgnoredAt);
    } else if (found) {
      matched++;
      if (opts_.listAllMatched) list(listedMatched, listedMatchedAt);
    }
  }
}

}  // namespace f2b::match
