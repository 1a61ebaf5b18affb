// A fast multi-literal search over raw bytes, in front of the RE2 prefilter: it finds where one
// of a set of literals starts, so that the RE2 work is done only on the lines around those
// places. "Teddy" (the technique Hyperscan and Rust's aho-corasick use): for 32 (AVX2) or 16
// (SSSE3) positions at a time, two pshufb lookups per byte turn the first two or three bytes at
// each position (three when every literal has them) into a set of buckets whose literals may
// start there; only those positions are compared in full.
//
// x86-64 with SSSE3 (AVX2 used where present; both checked at run time); elsewhere available()
// is false and the caller uses RE2 alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace f2b::scan {

class LiteralGate {
 public:
  struct Literal {
    // ASCII bytes, at least 2 of them
    std::string text;
    // ASCII letters match either case
    bool ci = false;
    // the groups (bits) this literal gates: a line that holds it may match them
    uint32_t owners = ~uint32_t{0};
  };

  // sample: the start of the log, if known (how its literals go into buckets follows it).
  explicit LiteralGate(std::vector<Literal> literals, std::string_view sample = {});

  // False when this machine cannot run it (or it was given nothing to look for).
  bool available() const { return available_; }

  // The first position >= from where one of the literals starts, or SIZE_MAX; *owners (when
  // given) gets the owners of every literal that starts there. A literal dropped because it
  // holds another one hands its owners to that one: where it occurs, that one does.
  size_t find(const char* data, size_t len, size_t from, uint32_t* owners = nullptr) const;

 private:
  uint32_t matchesAt(const char* data, size_t len, size_t pos, uint8_t buckets, bool all) const;
  size_t verify(const char* data, size_t len, size_t i, uint32_t m, const uint8_t* buckets, uint32_t* owners) const;
  size_t findScalar(const char* data, size_t len, size_t from, uint32_t* owners) const;
  size_t find128(const char* data, size_t len, size_t from, uint32_t* owners) const;
  size_t find256(const char* data, size_t len, size_t from, uint32_t* owners) const;

  // A literal of a bucket: its first (up to) 8 bytes as a little-endian word, the bits of them
  // that count (a ci letter's case bit does not), its size and its index.
  struct Entry {
    uint64_t mask, value;
    size_t size;
    size_t literal;
    uint32_t owners;
  };
  std::vector<Literal> literals_;
  std::vector<Entry> entries_[8];
  // nibble tables per fingerprint byte j: bit b set = a literal of bucket b may have that
  // nibble as its byte j
  uint8_t lo_[3][16] = {};
  uint8_t hi_[3][16] = {};
  // fingerprint bytes: 2, or 3 when every literal has 3
  int width_ = 2;
  bool avx2_ = false;
  bool available_ = false;
};

}  // namespace f2b::scan
