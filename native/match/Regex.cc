#include "Regex.hh"

#include <cstring>
#include <stdexcept>

namespace f2b::match {

namespace {

// The largest ovector any filter regex needs (groups + 1 pairs); PCRE2 caps groups at 65535.
constexpr uint32_t kOvectorPairs = 1024;
constexpr size_t kJitStackStart = 32 << 10;
constexpr size_t kJitStackMax = 4 << 20;

std::string errorText(int code) {
  PCRE2_UCHAR buf[256];
  if (pcre2_get_error_message(code, buf, sizeof buf) < 0) return "PCRE2 error " + std::to_string(code);
  return reinterpret_cast<const char*>(buf);
}

}  // namespace

Scratch::Scratch() {
  data_ = pcre2_match_data_create(kOvectorPairs, nullptr);
  context_ = pcre2_match_context_create(nullptr);
  stack_ = pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr);
  if (!data_ || !context_) throw std::bad_alloc();
  pcre2_set_match_limit(context_, kMatchLimit);
  pcre2_set_depth_limit(context_, kDepthLimit);
  if (stack_) pcre2_jit_stack_assign(context_, nullptr, stack_);
}

Scratch::~Scratch() {
  pcre2_jit_stack_free(stack_);
  pcre2_match_context_free(context_);
  pcre2_match_data_free(data_);
}

const pcre2_code* Regex::Form::ready() const {
  if (!done.load(std::memory_order_acquire)) {
    // Without JIT (a machine PCRE2 has no JIT for) the interpreter runs: slower, same answers.
    std::call_once(once, [this] {
      jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
      done.store(true, std::memory_order_release);
    });
  }
  return code;
}

pcre2_code* Regex::compile(const std::string& source, uint32_t options) {
  pcre2_compile_context* cc = pcre2_compile_context_create(nullptr);
  if (!cc) throw std::bad_alloc();
  pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(source.data()), source.size(),
                                   options | PCRE2_ALT_CIRCUMFLEX, &error, &offset, cc);
  pcre2_compile_context_free(cc);
  if (!code) {
    throw std::invalid_argument(errorText(error) + " at offset " + std::to_string(offset) + " of the PCRE2 form");
  }
  uint32_t captures = 0;
  pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &captures);
  if (captures != groups() || captures + 1 > kOvectorPairs) {
    pcre2_code_free(code);
    throw std::invalid_argument("the PCRE2 form has " + std::to_string(captures) + " groups where the pattern has " +
                                std::to_string(groups()));
  }
  return code;
}

// What a compiled form says of the first byte of a match at the start of the subject; the
// union over the forms is kept.
void Regex::addFirstBytes(const pcre2_code* code) {
  std::array<uint64_t, 4> bits;
  bits.fill(~uint64_t{0});
  uint32_t options = 0;
  pcre2_pattern_info(code, PCRE2_INFO_ALLOPTIONS, &options);
  if (options & PCRE2_ANCHORED) {
    uint32_t type = 0;
    pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODETYPE, &type);
    if (type == 1) {
      uint32_t unit = 0;
      pcre2_pattern_info(code, PCRE2_INFO_FIRSTCODEUNIT, &unit);
      // PCRE2 reads a class like [aA] as a caseless 'a' and reports 'a' alone: the other case
      // of an ASCII letter may start a match too. A non-ASCII first character may have its other
      // case in another lead byte: no dispatch then.
      if (unit < 0x80) {
        bits.fill(0);
        const auto set = [&](uint32_t b) { bits[b >> 6] |= uint64_t{1} << (b & 63); };
        set(unit);
        if ((unit | 0x20) >= 'a' && (unit | 0x20) <= 'z') set(unit ^ 0x20);
      }
    } else {
      const uint8_t* bitmap = nullptr;
      if (pcre2_pattern_info(code, PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 && bitmap) {
        bits.fill(0);
        for (unsigned b = 0; b < 256; b++) {
          if (bitmap[b >> 3] & (1u << (b & 7))) bits[b >> 6] |= uint64_t{1} << (b & 63);
        }
      }
    }
  }
  for (size_t i = 0; i < 4; i++) firstBytes_[i] |= bits[i];
}

Regex::Regex(const std::string& source, std::vector<std::string> names, const std::string& ascii, size_t rest)
    : names_(std::move(names)), rest_(rest) {
  if (names_.empty()) names_.emplace_back();
  if (rest_ > groups()) throw std::invalid_argument("no group " + std::to_string(rest_));
  utf_.code = compile(source, PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK);
  firstBytes_.fill(0);
  addFirstBytes(utf_.code);
  if (!ascii.empty()) {
    try {
      ascii_.code = compile(ascii, 0);
    } catch (const std::invalid_argument& e) {
      pcre2_code_free(utf_.code);
      throw std::invalid_argument(std::string("ASCII form: ") + e.what());
    }
    addFirstBytes(ascii_.code);
  }
}

Regex::~Regex() {
  pcre2_code_free(utf_.code);
  pcre2_code_free(ascii_.code);
}

size_t Regex::group(const std::string& name) const {
  for (size_t g = 1; g < names_.size(); g++) {
    if (names_[g] == name) return g;
  }
  return 0;
}

Result Regex::search(Scratch& s, const char* subject, size_t end, size_t pos, bool ascii) const {
  const auto* text = reinterpret_cast<PCRE2_SPTR>(subject);
  const Form& form = ascii && ascii_.code ? ascii_ : utf_;
  const pcre2_code* code = form.ready();
  const int rc = form.jit ? pcre2_jit_match(code, text, end, pos, 0, s.data(), s.context())
                          : pcre2_match(code, text, end, pos, PCRE2_NO_UTF_CHECK, s.data(), s.context());
  if (rc >= 0) {  // (0: the ovector was too small, which cannot be: it fits every group)
    if (rest_) {
      PCRE2_SIZE* ov = pcre2_get_ovector_pointer(s.data());
      if (ov[2 * rest_] != PCRE2_UNSET) ov[2 * rest_ + 1] = end > 0 && subject[end - 1] == '\n' ? end - 1 : end;
    }
    return Result::Match;
  }
  if (rc == PCRE2_ERROR_NOMATCH) return Result::NoMatch;
  return Result::Limit;  // match / depth / heap limit, JIT stack: the line is given up
}

}  // namespace f2b::match
