#include "LiteralGate.hh"

#include <algorithm>
#include <cstring>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define F2B_TEDDY 1
#endif

namespace f2b::scan {

namespace {

inline uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c | 0x20) : c; }

// The byte values a literal byte stands for: itself, and its other case for a ci letter.
std::vector<uint8_t> variants(uint8_t c, bool ci) {
  const uint8_t l = lower(c);
  if (ci && l >= 'a' && l <= 'z') return {l, static_cast<uint8_t>(l & ~0x20)};
  return {c};
}

}  // namespace

LiteralGate::LiteralGate(std::vector<Literal> literals) : literals_(std::move(literals)) {
#ifdef F2B_TEDDY
  if (literals_.empty() || !__builtin_cpu_supports("ssse3")) return;
  for (const auto& l : literals_) {
    if (l.text.size() < 2) return;
  }
  // Literals sharing a first byte go to the same bucket (fewer stray bits in the tables).
  std::vector<size_t> order(literals_.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return lower(static_cast<uint8_t>(literals_[a].text[0])) < lower(static_cast<uint8_t>(literals_[b].text[0]));
  });
  const size_t perBucket = (literals_.size() + 7) / 8;
  for (size_t k = 0; k < order.size(); k++) {
    const size_t i = order[k];
    const auto b = static_cast<uint8_t>(std::min<size_t>(k / perBucket, 7));
    bucket_[b].push_back(static_cast<int>(i));
    const auto& l = literals_[i];
    for (uint8_t c : variants(static_cast<uint8_t>(l.text[0]), l.ci)) {
      lo0_[c & 15] |= static_cast<uint8_t>(1u << b);
      hi0_[c >> 4] |= static_cast<uint8_t>(1u << b);
    }
    for (uint8_t c : variants(static_cast<uint8_t>(l.text[1]), l.ci)) {
      lo1_[c & 15] |= static_cast<uint8_t>(1u << b);
      hi1_[c >> 4] |= static_cast<uint8_t>(1u << b);
    }
  }
  available_ = true;
#endif
}

bool LiteralGate::matchesAt(const char* data, size_t len, size_t pos, uint8_t buckets) const {
  for (int b = 0; b < 8; b++) {
    if (!(buckets & (1u << b))) continue;
    for (int i : bucket_[b]) {
      const auto& l = literals_[static_cast<size_t>(i)];
      const size_t n = l.text.size();
      if (len - pos < n) continue;
      if (!l.ci) {
        if (std::memcmp(data + pos, l.text.data(), n) == 0) return true;
        continue;
      }
      size_t k = 0;
      while (k < n && lower(static_cast<uint8_t>(data[pos + k])) == lower(static_cast<uint8_t>(l.text[k]))) k++;
      if (k == n) return true;
    }
  }
  return false;
}

#ifdef F2B_TEDDY
__attribute__((target("ssse3"))) static inline __m128i buckets(__m128i v, __m128i lo, __m128i hi) {
  const __m128i nib = _mm_set1_epi8(0x0f);
  return _mm_and_si128(_mm_shuffle_epi8(lo, _mm_and_si128(v, nib)), _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
}

__attribute__((target("ssse3"))) static size_t teddy(const LiteralGate& gate, const char* data, size_t len, size_t from,
                                                      const uint8_t* lo0, const uint8_t* hi0, const uint8_t* lo1,
                                                      const uint8_t* hi1, bool (*verify)(const LiteralGate&, const char*, size_t, size_t, uint8_t)) {
  const __m128i l0 = _mm_load_si128(reinterpret_cast<const __m128i*>(lo0));
  const __m128i h0 = _mm_load_si128(reinterpret_cast<const __m128i*>(hi0));
  const __m128i l1 = _mm_load_si128(reinterpret_cast<const __m128i*>(lo1));
  const __m128i h1 = _mm_load_si128(reinterpret_cast<const __m128i*>(hi1));
  const __m128i zero = _mm_setzero_si128();
  size_t i = from;
  // 17 bytes readable: 16 positions and the byte after the last one
  for (; i + 17 <= len; i += 16) {
    const __m128i v0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i));
    const __m128i v1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 1));
    const __m128i r = _mm_and_si128(buckets(v0, l0, h0), buckets(v1, l1, h1));
    unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(r, zero))) ^ 0xffffu;
    if (!m) continue;
    alignas(16) uint8_t rb[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(rb), r);
    while (m) {
      const int j = __builtin_ctz(m);
      if (verify(gate, data, len, i + static_cast<size_t>(j), rb[j])) return i + static_cast<size_t>(j);
      m &= m - 1;
    }
  }
  // the last few positions, one at a time
  for (; i + 1 < len; i++) {
    const auto c0 = static_cast<uint8_t>(data[i]);
    const auto c1 = static_cast<uint8_t>(data[i + 1]);
    const uint8_t b = static_cast<uint8_t>(lo0[c0 & 15] & hi0[c0 >> 4] & lo1[c1 & 15] & hi1[c1 >> 4]);
    if (b && verify(gate, data, len, i, b)) return i;
  }
  return SIZE_MAX;
}
#endif

size_t LiteralGate::find(const char* data, size_t len, size_t from) const {
#ifdef F2B_TEDDY
  if (available_) {
    return teddy(*this, data, len, from, lo0_, hi0_, lo1_, hi1_,
                 [](const LiteralGate& g, const char* d, size_t n, size_t pos, uint8_t b) { return g.matchesAt(d, n, pos, b); });
  }
#endif
  (void)data;
  (void)len;
  (void)from;
  return SIZE_MAX;
}

}  // namespace f2b::scan
