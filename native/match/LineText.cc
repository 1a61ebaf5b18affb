#include "LineText.hh"

#include "Regex.hh"

#include <cstring>
#include <memory>

namespace f2b::match {

bool isAscii(const char* p, size_t n) {
  size_t i = 0;
  uint64_t acc = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  for (; i < n; i++) acc |= static_cast<uint8_t>(p[i]);
  return (acc & 0x8080808080808080ull) == 0;
}

namespace {

void appendCp(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

constexpr uint32_t kReplacement = 0xFFFD;

}  // namespace

// The WHATWG Encoding Standard's UTF-8 decoder, step by step: a byte that cannot continue the
// sequence ends it with one U+FFFD and is read again as a start.
bool appendSanitized(const char* p, size_t n, std::string& out) {
  bool valid = true;
  uint32_t cp = 0;
  int needed = 0, seen = 0;
  uint8_t lower = 0x80, upper = 0xBF;
  for (size_t i = 0; i < n;) {
    const uint8_t b = static_cast<uint8_t>(p[i]);
    if (needed == 0) {
      i++;
      if (b < 0x80) {
        out.push_back(static_cast<char>(b));
      } else if (b >= 0xC2 && b <= 0xDF) {
        needed = 1;
        cp = b & 0x1F;
      } else if (b >= 0xE0 && b <= 0xEF) {
        if (b == 0xE0) lower = 0xA0;
        if (b == 0xED) upper = 0x9F;
        needed = 2;
        cp = b & 0x0F;
      } else if (b >= 0xF0 && b <= 0xF4) {
        if (b == 0xF0) lower = 0x90;
        if (b == 0xF4) upper = 0x8F;
        needed = 3;
        cp = b & 0x07;
      } else {
        appendCp(kReplacement, out);
        valid = false;
      }
      continue;
    }
    if (b < lower || b > upper) {
      cp = 0;
      needed = seen = 0;
      lower = 0x80;
      upper = 0xBF;
      appendCp(kReplacement, out);
      valid = false;
      continue;  // b again, as a start
    }
    i++;
    lower = 0x80;
    upper = 0xBF;
    cp = (cp << 6) | (b & 0x3F);
    if (++seen == needed) {
      appendCp(cp, out);
      cp = 0;
      needed = seen = 0;
    }
  }
  if (needed) {
    appendCp(kReplacement, out);
    valid = false;
  }
  return valid;
}

void LineText::assign(const char* p, size_t n) {
  // JavaScript drops the '\r' after decoding; a '\r' byte is always a whole character, so
  // dropping it first gives the same text.
  if (n && p[n - 1] == '\r') n--;
  ascii_ = isAscii(p, n);
  if (ascii_) {
    data_ = p;
    size_ = n;
    return;
  }
  copy_.clear();
  if (appendSanitized(p, n, copy_)) {
    data_ = p;
    size_ = n;
  } else {
    data_ = copy_.data();
    size_ = copy_.size();
  }
}

void CodePoints::assign(const char* p, size_t n, bool ascii) {
  data_ = p;
  size_ = n;
  ascii_ = ascii;
  starts_.clear();
  if (ascii) return;
  for (size_t i = 0; i < n; i++) {
    if ((static_cast<uint8_t>(p[i]) & 0xC0) != 0x80) starts_.push_back(static_cast<uint32_t>(i));
  }
}

size_t CodePoints::fromByte(size_t b) const {
  if (ascii_) return b;
  size_t lo = 0, hi = starts_.size();
  while (lo < hi) {
    const size_t mid = (lo + hi) / 2;
    if (starts_[mid] < b) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

size_t CodePoints::toByte(size_t k) const {
  if (ascii_) return k < size_ ? k : size_;
  return k < starts_.size() ? starts_[k] : size_;
}

int32_t CodePoints::at(int64_t k) const {
  if (k < 0 || static_cast<size_t>(k) >= length()) return -1;
  if (ascii_) return static_cast<uint8_t>(data_[k]);
  const auto* s = reinterpret_cast<const uint8_t*>(data_ + starts_[static_cast<size_t>(k)]);
  if (s[0] < 0x80) return s[0];
  if (s[0] < 0xE0) return ((s[0] & 0x1F) << 6) | (s[1] & 0x3F);
  if (s[0] < 0xF0) return ((s[0] & 0x0F) << 12) | ((s[1] & 0x3F) << 6) | (s[2] & 0x3F);
  return ((s[0] & 0x07) << 18) | ((s[1] & 0x3F) << 12) | ((s[2] & 0x3F) << 6) | (s[3] & 0x3F);
}

size_t CodePoints::utf16(size_t b) const {
  if (ascii_) return b;
  size_t units = 0;
  for (size_t i = 0; i < b && i < size_; i++) {
    const uint8_t c = static_cast<uint8_t>(data_[i]);
    if ((c & 0xC0) != 0x80) units += c >= 0xF0 ? 2 : 1;
  }
  return units;
}

bool isAlnum(int32_t cp) {
  if (cp < 0) return false;
  if (cp < 0x80) return (cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z');
  // Rare (a non-ASCII character next to a date): ask PCRE2's Unicode tables.
  static const Regex alnum("^[\\p{L}\\p{N}]", {""});
  thread_local Scratch scratch;
  std::string text;
  appendCp(static_cast<uint32_t>(cp), text);
  return alnum.search(scratch, text.data(), text.size()) == Result::Match;
}

}  // namespace f2b::match
