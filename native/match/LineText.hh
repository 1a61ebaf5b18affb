// A log line as the matcher reads it: the same text JavaScript makes of the bytes
// (Buffer.toString('utf8'), then one trailing '\r' dropped), kept as UTF-8. Invalid sequences
// become U+FFFD the way the WHATWG decoder (V8's) replaces them, so that a line with bad bytes
// is data, matched exactly as the JS path would match it.
//
// fail2ban's date rules count positions in code points; CodePoints converts for lines that are
// not pure ASCII (for the rest, bytes and code points are the same).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace f2b::match {

// True when [p, p + n) holds only ASCII bytes.
bool isAscii(const char* p, size_t n);

// Decodes [p, p + n) as the WHATWG UTF-8 decoder does and appends the result (valid UTF-8) to
// out. Returns true when the input was already valid (out then holds an exact copy).
bool appendSanitized(const char* p, size_t n, std::string& out);

// The line's text: a view of the raw bytes when they are valid, else a sanitized copy held by
// the LineText. The trailing '\r' is dropped.
class LineText {
 public:
  void assign(const char* p, size_t n);
  const char* data() const { return data_; }
  size_t size() const { return size_; }
  bool ascii() const { return ascii_; }

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool ascii_ = true;
  std::string copy_;
};

// Code-point positions of a UTF-8 text (identity for ASCII).
class CodePoints {
 public:
  void assign(const char* p, size_t n, bool ascii);
  // Number of code points.
  size_t length() const { return ascii_ ? size_ : starts_.size(); }
  // Code-point index of a byte offset (a character start, or the end).
  size_t fromByte(size_t b) const;
  // Byte offset of a code-point index (clamped to the end).
  size_t toByte(size_t k) const;
  // The code point at index k (Python's line[k]), or -1 when k is out of range.
  int32_t at(int64_t k) const;
  // UTF-16 length of the text's first b bytes (JavaScript string indexes).
  size_t utf16(size_t b) const;

 private:
  const char* data_ = nullptr;
  size_t size_ = 0;
  bool ascii_ = true;
  // byte offset of each code point
  std::vector<uint32_t> starts_;
};

// Python's str.isalnum for one code point as the date detector uses it ([\p{L}\p{N}]).
bool isAlnum(int32_t cp);

}  // namespace f2b::match
