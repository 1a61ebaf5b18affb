#include "MatchWrap.hh"

#include <memory>
#include <string>
#include <vector>

#include "../JsArrays.hh"
#include "../scan/ChunkReader.hh"
#include "../scan/ScanWrap.hh"
#include "Filter.hh"
#include "Tally.hh"

namespace f2b::match {

namespace {

using scan::ParallelScan;
using scan::ScanTsfn;

// A batch goes to JS once it holds this many records or arena bytes.
constexpr size_t kBatchRecords = 8192;
constexpr size_t kBatchArena = 1 << 20;

std::string stringAt(Napi::Env env, Napi::Object o, const char* key, const char* what) {
  Napi::Value v = o.Get(key);
  if (!v.IsString()) throw Napi::TypeError::New(env, std::string("Expected ") + what + "." + key + " to be a string");
  return v.As<Napi::String>().Utf8Value();
}

// { source, names: (string | null)[], ascii?, rest? } (names[0] unused)
Filter::RegexSource regexSource(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string("Expected ") + what + " to be { source, names }");
  auto o = v.As<Napi::Object>();
  Filter::RegexSource r;
  r.source = stringAt(env, o, "source", what);
  if (!o.Get("names").IsArray()) throw Napi::TypeError::New(env, std::string("Expected ") + what + ".names to be an array");
  auto names = o.Get("names").As<Napi::Array>();
  for (uint32_t i = 0; i < names.Length(); i++) {
    Napi::Value n = names.Get(i);
    r.names.push_back(n.IsString() ? n.As<Napi::String>().Utf8Value() : std::string());
  }
  if (o.Get("ascii").IsString()) r.ascii = o.Get("ascii").As<Napi::String>().Utf8Value();
  if (o.Get("rest").IsNumber()) r.rest = o.Get("rest").As<Napi::Number>().Uint32Value();
  return r;
}

std::vector<Filter::RegexSource> regexList(Napi::Env env, Napi::Object spec, const char* key) {
  if (!spec.Get(key).IsArray()) throw Napi::TypeError::New(env, std::string("Expected spec.") + key + " to be an array");
  auto list = spec.Get(key).As<Napi::Array>();
  std::vector<Filter::RegexSource> out;
  for (uint32_t i = 0; i < list.Length(); i++) out.push_back(regexSource(env, list.Get(i), key));
  return out;
}

class FilterWrap : public Napi::ObjectWrap<FilterWrap> {
 public:
  static Napi::FunctionReference* constructor;

  explicit FilterWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FilterWrap>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "Expected a filter spec object");
    auto spec = info[0].As<Napi::Object>();
    if (!spec.Get("templates").IsArray()) throw Napi::TypeError::New(env, "Expected spec.templates to be an array");
    std::vector<Filter::TemplateSource> templates;
    auto list = spec.Get("templates").As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); i++) {
      Napi::Value v = list.Get(i);
      if (!v.IsObject()) throw Napi::TypeError::New(env, "Expected each template to be an object");
      auto t = v.As<Napi::Object>();
      Filter::TemplateSource ts;
      ts.name = stringAt(env, t, "name", "template");
      ts.flags = t.Get("flags").ToNumber().Uint32Value();
      ts.weight = t.Get("weight").ToNumber().DoubleValue();
      ts.regex = regexSource(env, t, "template");
      templates.push_back(std::move(ts));
    }
    std::unique_ptr<Filter::RegexSource> pref;
    if (!spec.Get("prefregex").IsNull() && !spec.Get("prefregex").IsUndefined()) {
      pref = std::make_unique<Filter::RegexSource>(regexSource(env, spec.Get("prefregex"), "prefregex"));
    }
    try {
      filter_ = std::make_shared<const Filter>(templates, pref.get(), regexList(env, spec, "failregex"),
                                               regexList(env, spec, "ignoreregex"));
    } catch (const std::invalid_argument& e) {
      throw Napi::Error::New(env, e.what());
    }
  }

  static std::shared_ptr<const Filter> from(Napi::Env env, Napi::Value v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor->Value())) {
      throw Napi::TypeError::New(env, "Expected a native NativeFilter");
    }
    return Unwrap(v.As<Napi::Object>())->filter_;
  }

  Napi::Value FieldNames(const Napi::CallbackInfo& info) {
    auto out = Napi::Array::New(info.Env());
    for (size_t i = 0; i < filter_->fieldNames().size(); i++) out.Set(static_cast<uint32_t>(i), filter_->fieldNames()[i]);
    return out;
  }

 private:
  std::shared_ptr<const Filter> filter_;
};

Napi::FunctionReference* FilterWrap::constructor = nullptr;

// ---- matchFile

// What a batch's JS handle holds: the records, until RegexTally.feed reads them and gives their
// storage back to the scan's pool (or the handle is collected unread).
struct HeldRecords {
  std::unique_ptr<MatchBatch> batch;
  std::shared_ptr<BatchPool> pool;
};

struct MatchFileBatch {
  uint32_t chunk = 0;
  std::unique_ptr<MatchBatch> records;
  std::vector<double> skippedLineNos;
  uint64_t candidates = 0;
  uint64_t scanned = 0;
  bool done = false;
  uint64_t lines = 0, skipped = 0;
  std::vector<std::pair<size_t, uint64_t>> templateHits;
};

struct MatchScan : ParallelScan<MatchFileBatch> {
  std::shared_ptr<const Filter> filter;
  std::shared_ptr<BatchPool> pool = std::make_shared<BatchPool>();
  std::shared_ptr<const scan::Prefilter> prefilter;  // may be null: every line is matched
  bool skipComments = true;
  bool checkAll = true;
  bool keepText = true;
  double now = 0;
  using ParallelScan::ParallelScan;

  Napi::Value toJs(Napi::Env env, MatchFileBatch& b) override {
    auto out = Napi::Object::New(env);
    scan::setChunkFields(env, out, b, size);
    out.Set("count", Napi::Number::New(env, static_cast<double>(b.records->records.size())));
    auto* held = new HeldRecords{std::move(b.records), pool};
    out.Set("records", Napi::External<HeldRecords>::New(env, held, [](Napi::Env, HeldRecords* h) {
              h->pool->give(std::move(h->batch));
              delete h;
            }));
    out.Set("candidates", Napi::Number::New(env, static_cast<double>(b.candidates)));
    if (b.done) {
      auto hits = Napi::Array::New(env, b.templateHits.size());
      for (size_t i = 0; i < b.templateHits.size(); i++) {
        auto pair = Napi::Array::New(env, 2);
        pair.Set(0u, Napi::Number::New(env, static_cast<double>(b.templateHits[i].first)));
        pair.Set(1u, Napi::Number::New(env, static_cast<double>(b.templateHits[i].second)));
        hits.Set(static_cast<uint32_t>(i), pair);
      }
      out.Set("templateHits", hits);
    }
    return out;
  }
};

// The chunk thread's sink: each candidate matched here, the records batched for JS.
class ChunkMatcher : public scan::ChunkSink<MatchFileBatch> {
 public:
  ChunkMatcher(MatchScan& scan, ScanTsfn<MatchFileBatch> tsfn, uint32_t chunk)
      : ChunkSink(tsfn, chunk), scan_(scan), matcher_(scan.filter, scan.checkAll, scan.keepText) {
    batch_.records = scan_.pool->take();
  }

  void run(std::vector<char>& buf) { ChunkSink::run(scan_, *this, scan_.prefilter.get(), scan_.skipComments, false, buf); }

  void candidate(const char* b, const char* e, scan::Mask mask, uint64_t lineNo, uint64_t offset) {
    batch_.candidates++;
    matcher_.scan(b, static_cast<size_t>(e - b), lineNo, offset, mask, scan_.now, *batch_.records);
    if (batch_.records->records.size() >= kBatchRecords || batch_.records->arena.size() >= kBatchArena) send();
  }

 private:
  void fresh(MatchFileBatch& b) override { b.records = scan_.pool->take(); }
  // the chunk's last batch carries its date templates' hits
  void last(MatchFileBatch& b) override { b.templateHits = matcher_.dates().hits(); }

  MatchScan& scan_;
  FilterMatcher matcher_;
};

// matchFile(path, filter, prefilter | null, { threads, skipComments, checkAll, keepText, now }, onBatch)
Napi::Value MatchFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string path = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  if (path.empty() || path.find('\0') != std::string::npos) throw Napi::TypeError::New(env, "Expected path to be a non-empty string");
  auto filter = FilterWrap::from(env, info[1]);
  std::shared_ptr<const scan::Prefilter> prefilter;
  if (!info[2].IsNull() && !info[2].IsUndefined()) prefilter = scan::PrefilterWrap::from(env, info[2], "prefilter");
  if (!info[3].IsObject()) throw Napi::TypeError::New(env, "Expected options to be an object");
  auto opts = info[3].As<Napi::Object>();
  const unsigned threads = scan::threadsOption(env, opts);
  if (!info[4].IsFunction()) throw Napi::TypeError::New(env, "Expected onBatch to be a function");

  auto* scan = new MatchScan(env);
  scan->path = path;
  scan->filter = filter;
  scan->prefilter = prefilter;
  scan->skipComments = !opts.Get("skipComments").IsBoolean() || opts.Get("skipComments").As<Napi::Boolean>().Value();
  scan->checkAll = !opts.Get("checkAll").IsBoolean() || opts.Get("checkAll").As<Napi::Boolean>().Value();
  scan->now = opts.Get("now").IsNumber() ? opts.Get("now").As<Napi::Number>().DoubleValue() : 0;
  scan->keepText = !opts.Get("keepText").IsBoolean() || opts.Get("keepText").As<Napi::Boolean>().Value();
  return scan::startParallelScan<MatchFileBatch>(
      env, scan, threads, info[4].As<Napi::Function>(),
      [](ParallelScan<MatchFileBatch>& s, ScanTsfn<MatchFileBatch> tsfn, uint32_t chunk, std::vector<char>& buf) {
        ChunkMatcher(static_cast<MatchScan&>(s), tsfn, chunk).run(buf);
      });
}

// ---- RegexTally

class TallyWrap : public Napi::ObjectWrap<TallyWrap> {
 public:
  explicit TallyWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TallyWrap>(info) {
    Napi::Env env = info.Env();
    filter_ = FilterWrap::from(env, info[0]);
    Tally::Options o;
    if (info[1].IsObject()) {
      auto opts = info[1].As<Napi::Object>();
      o.failures = opts.Get("failures").ToBoolean().Value();
      o.listAllMatched = opts.Get("listAllMatched").ToBoolean().Value();
      o.listAllIgnored = opts.Get("listAllIgnored").ToBoolean().Value();
      if (opts.Get("listMax").IsNumber()) o.listMax = opts.Get("listMax").As<Napi::Number>().Uint32Value();
    }
    tally_ = std::make_unique<Tally>(*filter_, o);
  }

  // feed(records, lineBase) -> failures [{ line, regex, fields, users?, text, offset, tpl, date16 }]
  Napi::Value Feed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsExternal()) throw Napi::TypeError::New(env, "Expected a record handle from matchFile");
    HeldRecords& held = *info[0].As<Napi::External<HeldRecords>>().Data();
    if (!held.batch) throw Napi::Error::New(env, "these records were fed already");
    const MatchBatch& batch = *held.batch;
    const double base = info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : -1;
    if (!(base >= 0)) throw Napi::TypeError::New(env, "Expected lineBase to be a number >= 0");
    failures_.clear();
    tally_->feed(batch, static_cast<uint64_t>(base), failures_);
    auto out = Napi::Array::New(env, failures_.size());
    const auto& names = filter_->fieldNames();
    for (size_t i = 0; i < failures_.size(); i++) {
      const auto& f = failures_[i];
      auto o = Napi::Object::New(env);
      o.Set("line", Napi::Number::New(env, static_cast<double>(f.lineNo)));
      o.Set("regex", Napi::Number::New(env, f.found.regex));
      auto fields = Napi::Object::New(env);
      for (const auto& [k, v] : f.found.fields) fields.Set(names[k], Napi::String::New(env, v));
      o.Set("fields", fields);
      if (!f.found.users.empty()) {
        auto users = Napi::Array::New(env, f.found.users.size());
        for (size_t u = 0; u < f.found.users.size(); u++) users.Set(static_cast<uint32_t>(u), f.found.users[u]);
        o.Set("users", users);
      }
      const Record& r = *f.rec;
      if (r.hasText) o.Set("text", Napi::String::New(env, batch.arena.data() + r.textOff, r.textLen));
      o.Set("offset", Napi::Number::New(env, static_cast<double>(r.offset)));
      o.Set("tpl", Napi::Number::New(env, r.date.tpl));
      if (r.date.tpl >= 0) {
        o.Set("dateStart", Napi::Number::New(env, r.date16Start));
        o.Set("dateEnd", Napi::Number::New(env, r.date16End));
        o.Set("dateEndpos", Napi::Number::New(env, r.date16Endpos == UINT32_MAX ? -1 : static_cast<double>(r.date16Endpos)));
        o.Set("dateEmpty", Napi::Boolean::New(env, r.date.start == r.date.end));
      }
      out.Set(static_cast<uint32_t>(i), o);
    }
    held.pool->give(std::move(held.batch));
    return out;
  }

  Napi::Value Summary(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const Tally& t = *tally_;
    auto out = Napi::Object::New(env);
    const auto numbers = [&](const std::vector<uint64_t>& v) {
      auto a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, static_cast<double>(v[i])));
      return a;
    };
    const auto strings = [&](const std::vector<std::string>& v) {
      auto a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) a.Set(static_cast<uint32_t>(i), v[i]);
      return a;
    };
    out.Set("prefMatched", Napi::Number::New(env, static_cast<double>(t.prefMatched)));
    out.Set("matched", Napi::Number::New(env, static_cast<double>(t.matched)));
    out.Set("ignored", Napi::Number::New(env, static_cast<double>(t.ignored)));
    out.Set("hitsPerRegex", numbers(t.hitsPerRegex));
    out.Set("ignoreHits", numbers(t.ignoreHits));
    out.Set("listedMatched", strings(t.listedMatched));
    out.Set("listedIgnored", strings(t.listedIgnored));
    const auto places = [&](const std::vector<std::pair<uint64_t, uint32_t>>& v) {
      auto a = Napi::Array::New(env, v.size());
      for (size_t i = 0; i < v.size(); i++) {
        auto p = Napi::Array::New(env, 2);
        p.Set(0u, Napi::Number::New(env, static_cast<double>(v[i].first)));
        p.Set(1u, Napi::Number::New(env, v[i].second));
        a.Set(static_cast<uint32_t>(i), p);
      }
      return a;
    };
    out.Set("listedMatchedAt", places(t.listedMatchedAt));
    out.Set("listedIgnoredAt", places(t.listedIgnoredAt));
    out.Set("limitLines", Napi::Number::New(env, static_cast<double>(t.limitLines)));
    auto limits = Napi::Array::New(env, t.limits.size());
    for (size_t i = 0; i < t.limits.size(); i++) {
      auto l = Napi::Object::New(env);
      l.Set("line", Napi::Number::New(env, static_cast<double>(t.limits[i].lineNo)));
      l.Set("regex", Napi::Number::New(env, t.limits[i].regex));
      limits.Set(static_cast<uint32_t>(i), l);
    }
    out.Set("limits", limits);
    return out;
  }

 private:
  std::shared_ptr<const Filter> filter_;
  std::unique_ptr<Tally> tally_;
  std::vector<Tally::Failure> failures_;
};

}  // namespace

void Init(Napi::Env env, Napi::Object exports) {
  Napi::Function filter = FilterWrap::DefineClass(env, "NativeFilter", {
      FilterWrap::InstanceAccessor<&FilterWrap::FieldNames>("fieldNames"),
  });
  FilterWrap::constructor = new Napi::FunctionReference(Napi::Persistent(filter));
  exports.Set("NativeFilter", filter);
  exports.Set("RegexTally", TallyWrap::DefineClass(env, "RegexTally", {
      TallyWrap::InstanceMethod<&TallyWrap::Feed>("feed"),
      TallyWrap::InstanceMethod<&TallyWrap::Summary>("summary"),
  }));
  exports.Set("matchFile", Napi::Function::New<MatchFile>(env, "matchFile"));
}

}  // namespace f2b::match
