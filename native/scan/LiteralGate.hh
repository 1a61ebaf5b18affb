// A fast multi-literal search over raw bytes, in front of the RE2 prefilter: it finds where one
// of a set of literals starts, so that the RE2 work is done only on the lines around those
// places. "Teddy" (the technique Hyperscan and Rust's aho-corasick use): for 16 positions at a
// time, two pshufb lookups per byte turn the first two bytes at each position into a set of
// buckets whose literals may start there; only those positions are compared in full.
//
// x86-64 with SSSE3 (checked at run time); elsewhere available() is false and the caller uses
// RE2 alone.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace f2b::scan {

class LiteralGate {
 public:
  struct Literal {
    // ASCII bytes, at least 2 of them
    std::string text;
    // ASCII letters match either case
    bool ci = false;
  };

  explicit LiteralGate(std::vector<Literal> literals);

  // False when this machine cannot run it (or it was given nothing to look for).
  bool available() const { return available_; }

  // The first position >= from where one of the literals starts, or SIZE_MAX.
  size_t find(const char* data, size_t len, size_t from) const;

 private:
  bool matchesAt(const char* data, size_t len, size_t pos, uint8_t buckets) const;

  std::vector<Literal> literals_;
  // literals of each of the 8 buckets
  std::vector<int> bucket_[8];
  // nibble tables: bit b set = a literal of bucket b may have that nibble there
  alignas(16) uint8_t lo0_[16] = {};
  alignas(16) uint8_t hi0_[16] = {};
  alignas(16) uint8_t lo1_[16] = {};
  alignas(16) uint8_t hi1_[16] = {};
  bool available_ = false;
};

}  // namespace f2b::scan
