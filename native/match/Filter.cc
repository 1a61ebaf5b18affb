#include "Filter.hh"

#include <algorithm>
#include <stdexcept>

namespace f2b::match {

namespace {

// fail2ban's alt_/tuple_ group names (src/filter/filter.ts ALT_TUPLE_RE:
// /^(alt_|tuple_)(.*?)(?:_\d+)?$/): the base name, or false when the name is none of them.
bool altTupleBase(const std::string& name, bool& isAlt, std::string& base) {
  if (name.size() <= 4) return false;
  size_t skip;
  if (name.compare(0, 4, "alt_") == 0) {
    isAlt = true;
    skip = 4;
  } else if (name.compare(0, 6, "tuple_") == 0) {
    isAlt = false;
    skip = 6;
  } else {
    return false;
  }
  const std::string rest = name.substr(skip);
  // the shortest head whose tail is empty or `_` and digits
  size_t k = 0;
  for (; k < rest.size(); k++) {
    if (rest[k] != '_' || k + 1 >= rest.size()) continue;
    bool digits = true;
    for (size_t j = k + 1; j < rest.size(); j++) digits = digits && rest[j] >= '0' && rest[j] <= '9';
    if (digits) break;
  }
  base = rest.substr(0, k);
  if (base == "id") base = "fid";
  else if (base == "port") base = "fport";
  return true;
}

}  // namespace

uint16_t Filter::fieldOf(const std::string& name) {
  for (size_t i = 0; i < fieldNames_.size(); i++) {
    if (fieldNames_[i] == name) return static_cast<uint16_t>(i);
  }
  if (fieldNames_.size() >= 0xffff) throw std::invalid_argument("too many group names");
  fieldNames_.push_back(name);
  return static_cast<uint16_t>(fieldNames_.size() - 1);
}

int32_t Filter::field(const std::string& name) const {
  for (size_t i = 0; i < fieldNames_.size(); i++) {
    if (fieldNames_[i] == name) return static_cast<int32_t>(i);
  }
  return -1;
}

CompiledRegex Filter::compile(const RegexSource& r, const char* what, size_t index) {
  CompiledRegex c;
  try {
    c.re = std::make_shared<Regex>(r.source, r.names, r.ascii, r.rest);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(what) + (index ? " #" + std::to_string(index) : "") + ": " + e.what());
  }
  c.field.assign(c.re->names().size(), -1);
  std::vector<std::pair<std::string, std::pair<uint16_t, uint16_t>>> alt, tuple;
  for (size_t g = 1; g < c.re->names().size(); g++) {
    const std::string& name = c.re->names()[g];
    if (name.empty() || (name == "content" && std::string(what) == "prefregex")) continue;
    c.field[g] = fieldOf(name);
    bool isAlt = false;
    std::string base;
    if (!altTupleBase(name, isAlt, base)) continue;
    const auto pair = std::make_pair(static_cast<uint16_t>(c.field[g]), fieldOf(base));
    // JavaScript sorts the [name, base] pairs as the strings "name,base"
    (isAlt ? alt : tuple).emplace_back(name + "," + base, pair);
  }
  std::sort(alt.begin(), alt.end());
  std::sort(tuple.begin(), tuple.end());
  for (auto& a : alt) c.alt.push_back(a.second);
  for (auto& t : tuple) c.tuple.push_back(t.second);
  return c;
}

Filter::Filter(const std::vector<TemplateSource>& templates, const RegexSource* prefregex,
               const std::vector<RegexSource>& failregex, const std::vector<RegexSource>& ignoreregex) {
  // the names the session logic reads exist whether or not a regex has them (it may add one)
  for (const char* name : {"mlfid", "nofail", "mlfforget", "mlfgained", "user", "fid", "ip4", "ip6", "dns"}) fieldOf(name);
  auto list = std::make_shared<std::vector<Template>>();
  for (const auto& t : templates) {
    Template tpl;
    tpl.name = t.name;
    tpl.flags = t.flags;
    tpl.weight = t.weight;
    try {
      tpl.re = std::make_shared<Regex>(t.regex.source, t.regex.names, t.regex.ascii);
    } catch (const std::invalid_argument& e) {
      throw std::invalid_argument("date template " + t.name + ": " + e.what());
    }
    list->push_back(std::move(tpl));
  }
  templates_ = std::move(list);
  if (prefregex) {
    pref_ = std::make_unique<CompiledRegex>(compile(*prefregex, "prefregex", 0));
    prefContent_ = static_cast<int32_t>(pref_->re->group("content"));
  }
  for (size_t i = 0; i < failregex.size(); i++) fail_.push_back(compile(failregex[i], "failregex", i + 1));
  for (size_t i = 0; i < ignoreregex.size(); i++) ignore_.push_back(compile(ignoreregex[i], "ignoreregex", i + 1));
  if (fail_.size() > 0xffff) throw std::invalid_argument("too many failregexes");
  for (unsigned b = 0; b < 256; b++) {
    for (size_t i = 0; i < fail_.size(); i++) {
      if (fail_[i].re->firstBytes()[b >> 6] & (uint64_t{1} << (b & 63))) byFirstByte_[b].push_back(static_cast<uint16_t>(i));
    }
  }
}

namespace {

// Batches kept for reuse (the scan threads fill at most their queues' worth ahead of JS).
constexpr size_t kPooledBatches = 16;

}  // namespace

std::unique_ptr<MatchBatch> BatchPool::take() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      auto b = std::move(free_.back());
      free_.pop_back();
      return b;
    }
  }
  return std::make_unique<MatchBatch>();
}

void BatchPool::give(std::unique_ptr<MatchBatch> batch) {
  if (!batch) return;
  batch->clear();
  std::lock_guard<std::mutex> lock(mutex_);
  if (free_.size() < kPooledBatches) free_.push_back(std::move(batch));
}

FilterMatcher::FilterMatcher(std::shared_ptr<const Filter> filter, bool checkAll, bool keepText)
    : filter_(std::move(filter)), checkAll_(checkAll), keepText_(keepText), dates_(filter_->templates()) {}

int32_t FilterMatcher::firstIgnore(const char* buf, size_t len, int32_t& limit) {
  const auto& ignore = filter_->ignore_;
  for (size_t i = 0; i < ignore.size(); i++) {
    const Result r = ignore[i].re->search(scratch_, buf, len, 0, text_.ascii());
    if (r == Result::Match) return static_cast<int32_t>(i);
    if (r == Result::Limit && limit < 0) limit = static_cast<int32_t>(filter_->fail_.size() + i);
  }
  return -1;
}

// The named groups of the match in the scratch, in group order (values: offsets in the buffer
// `src`, where the subject started at `at`), then fail2ban's alt_ and tuple_ merging.
void FilterMatcher::collect(const CompiledRegex& c, Source src, std::vector<Pending>& fields, size_t at) {
  fields.clear();
  const PCRE2_SIZE* ov = ovector(scratch_);
  for (size_t g = 1; g < c.field.size(); g++) {
    if (c.field[g] < 0 || ov[2 * g] == PCRE2_UNSET) continue;
    fields.push_back(Pending{static_cast<uint16_t>(c.field[g]), src, static_cast<uint32_t>(at + ov[2 * g]),
                             static_cast<uint32_t>(ov[2 * g + 1] - ov[2 * g])});
  }
  if (c.alt.empty() && c.tuple.empty()) return;
  const auto find = [&](uint16_t name) -> Pending* {
    for (auto& f : fields) {
      if (f.name == name) return &f;
    }
    return nullptr;
  };
  for (const auto& [k, b] : c.alt) {
    const Pending* v = find(k);
    Pending* cur = find(b);
    if (!v || v->len == 0 || (cur && cur->len)) continue;
    if (cur) *cur = Pending{b, v->src, v->off, v->len};
    else fields.push_back(Pending{b, v->src, v->off, v->len});
  }
  const auto text = [&](const Pending& p) {
    const std::string& from = p.src == kBuf ? buf_ : p.src == kContent ? content_ : joined_;
    return from.substr(p.off, p.len);
  };
  for (const auto& [k, b] : c.tuple) {
    // fail2ban makes a Python tuple; JavaScript joins the parts with a space, and so do we
    const Pending* v = find(k);
    Pending* cur = find(b);
    Pending joined{b, src, 0, 0};
    if (!cur) {
      if (v) joined = Pending{b, v->src, v->off, v->len};
    } else if (!v) {
      continue;
    } else {
      const std::string value = text(*cur) + ' ' + text(*v);
      joined = Pending{b, kJoined, static_cast<uint32_t>(joined_.size()), static_cast<uint32_t>(value.size())};
      joined_ += value;
    }
    if (cur) *cur = joined;
    else fields.push_back(joined);
  }
}

bool FilterMatcher::scan(const char* line, size_t len, uint64_t lineNo, uint64_t offset, uint32_t mask, double now,
                         MatchBatch& out) {
  const Filter& f = *filter_;
  text_.assign(line, len);
  cp_.assign(text_.data(), text_.size(), text_.ascii());
  const DateSpan date = dates_.match(text_, cp_, scratch_, now);
  const bool ascii = text_.ascii();

  // the buffer: the text without its date, and the '\n' fail2ban ends every buffer with
  buf_.clear();
  if (date.tpl >= 0) {
    buf_.append(text_.data(), date.start);
    buf_.append(text_.data() + date.end, text_.size() - date.end);
  } else {
    buf_.append(text_.data(), text_.size());
  }
  buf_.push_back('\n');
  joined_.clear();
  hitFields_.clear();
  hitEnds_.clear();

  int32_t limit = -1, ignoredBy = -1;
  const auto& fail = f.fail_;
  const auto& ignore = f.ignore_;
  bool done = false;
  if (!ignore.empty() && ignore.size() + 2 < fail.size()) {
    ignoredBy = firstIgnore(buf_.data(), buf_.size(), limit);
    done = ignoredBy >= 0;
  }

  pre_.clear();
  Source src = kBuf;
  size_t contentAt = 0;  // where the failregexes' subject starts in buf_ (src kBuf)
  if (!done && f.pref_) {
    const Result r = f.pref_->re->search(scratch_, buf_.data(), buf_.size(), 0, ascii);
    if (r != Result::Match) {
      if (r == Result::Limit) limit = -2;
      done = true;
    } else {
      const PCRE2_SIZE* ov = ovector(scratch_);
      const auto g = static_cast<size_t>(f.prefContent_);
      const bool hasContent = g > 0 && ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g];
      if (hasContent && ov[2 * g + 1] == buf_.size() - 1) {
        // F-CONTENT runs to the buffer's final '\n' (fail2ban's `.+$`): content and '\n' are
        // the buffer's tail, matched where it is
        contentAt = ov[2 * g];
      } else if (hasContent) {
        content_.assign(buf_.data() + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
        content_.push_back('\n');
        src = kContent;
      }
      collect(*f.pref_, kBuf, pre_);
    }
  }

  if (!done) {
    const char* subject = src == kBuf ? buf_.data() + contentAt : content_.data();
    const size_t subjectLen = src == kBuf ? buf_.size() - contentAt : content_.size();
    for (uint16_t i : f.byFirstByte_[static_cast<uint8_t>(subject[0])]) {
      if (i < 32 && !(mask & (uint32_t{1} << i))) continue;
      const Result r = fail[i].re->search(scratch_, subject, subjectLen, 0, ascii);
      if (r != Result::Match) {
        if (r == Result::Limit && limit < 0) limit = static_cast<int32_t>(i);
        continue;
      }
      // the fields, before the ignoreregexes overwrite the scratch
      collect(fail[i], src, own_, src == kBuf ? contentAt : 0);
      if (!ignore.empty()) {
        const int32_t ign = firstIgnore(subject, subjectLen, limit);
        if (ign >= 0) {
          ignoredBy = ign;
          if (!checkAll_) break;
          continue;
        }
      }
      // {...pre, ...own}: the prefregex's fields first, a failregex value replaces one of the
      // same name in its place
      const size_t begin = hitFields_.size();
      hitFields_.insert(hitFields_.end(), pre_.begin(), pre_.end());
      for (const Pending& o : own_) {
        bool replaced = false;
        for (size_t k = begin; k < hitFields_.size(); k++) {
          if (hitFields_[k].name == o.name) {
            hitFields_[k] = o;
            replaced = true;
            break;
          }
        }
        if (!replaced) hitFields_.push_back(o);
      }
      hitEnds_.emplace_back(i, static_cast<uint32_t>(hitFields_.size()));
      if (!checkAll_) break;
    }
  }

  if (hitEnds_.empty() && ignoredBy < 0 && limit == -1) return false;

  // The line has a record: its text (if kept) and its fields' values go to the arena.
  Record rec;
  rec.lineNo = lineNo;
  rec.offset = offset;
  rec.rawLen = static_cast<uint32_t>(len);
  rec.date = date;
  rec.ignoredBy = ignoredBy;
  rec.limit = limit;
  if (keepText_) {
    rec.hasText = true;
    rec.textOff = static_cast<uint32_t>(out.arena.size());
    rec.textLen = static_cast<uint32_t>(text_.size());
    out.arena.append(text_.data(), text_.size());
  }
  rec.hitsBegin = static_cast<uint32_t>(out.hits.size());
  uint32_t from = 0;
  for (const auto& [regex, end] : hitEnds_) {
    Hit hit{regex, static_cast<uint32_t>(out.fields.size()), 0};
    for (uint32_t k = from; k < end; k++) {
      const Pending& p = hitFields_[k];
      const std::string& src = p.src == kBuf ? buf_ : p.src == kContent ? content_ : joined_;
      out.fields.push_back(Field{p.name, static_cast<uint32_t>(out.arena.size()), p.len});
      out.arena.append(src, p.off, p.len);
    }
    hit.fieldsEnd = static_cast<uint32_t>(out.fields.size());
    out.hits.push_back(hit);
    from = end;
  }
  rec.hitsEnd = static_cast<uint32_t>(out.hits.size());
  if (date.tpl >= 0) {
    rec.date16Start = static_cast<uint32_t>(cp_.utf16(date.matchStart));
    rec.date16End = static_cast<uint32_t>(cp_.utf16(date.matchEnd));
    rec.date16Endpos = date.endpos == SIZE_MAX ? UINT32_MAX : static_cast<uint32_t>(cp_.utf16(date.endpos));
  }
  out.records.push_back(rec);
  return true;
}

}  // namespace f2b::match
