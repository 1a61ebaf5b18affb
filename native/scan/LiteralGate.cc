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

LiteralGate::LiteralGate(std::vector<Literal> literals, std::string_view sample) : literals_(std::move(literals)) {
#ifdef F2B_TEDDY
  // A literal that contains another is found wherever it occurs by that other one: searching
  // for both would only cost (" not allowed " makes " not allowed because" redundant).
  const auto contains = [](const Literal& big, const Literal& small) {
    if (small.text.size() > big.text.size() || (big.ci && !small.ci)) return false;
    for (size_t at = 0; at + small.text.size() <= big.text.size(); at++) {
      size_t k = 0;
      for (; k < small.text.size(); k++) {
        const auto a = static_cast<uint8_t>(big.text[at + k]), b = static_cast<uint8_t>(small.text[k]);
        if (small.ci ? lower(a) != lower(b) : a != b) break;
      }
      if (k == small.text.size()) return true;
    }
    return false;
  };
  std::vector<Literal> kept;
  for (size_t i = 0; i < literals_.size(); i++) {
    bool redundant = false;
    for (size_t j = 0; j < literals_.size() && !redundant; j++) {
      if (i == j || !contains(literals_[i], literals_[j])) continue;
      // of two equal ones, the first stays
      redundant = !contains(literals_[j], literals_[i]) || j < i;
    }
    if (redundant) continue;
    Literal l = literals_[i];
    for (size_t j = 0; j < literals_.size(); j++) {
      if (j != i && contains(literals_[j], l)) l.owners |= literals_[j].owners;
    }
    kept.push_back(std::move(l));
  }
  literals_ = std::move(kept);
  if (literals_.empty() || !__builtin_cpu_supports("ssse3")) return;
  size_t shortest = SIZE_MAX;
  for (const auto& l : literals_) shortest = std::min(shortest, l.text.size());
  if (shortest < 2) return;
  // A third fingerprint byte where every literal has one: far fewer positions to verify in
  // text full of the first two (`" ` in an access log, `Co` in an auth.log).
  width_ = shortest >= 3 ? 3 : 2;
  avx2_ = __builtin_cpu_supports("avx2");
  // Buckets: literals grouped by the bytes that start them, then the groups merged two at a
  // time while there are more than 8, always the two whose union lets the fewest other byte
  // strings through the bucket's nibble tables. A bucket's tables pass, at each fingerprint
  // byte, every low nibble with every high nibble of its literals' bytes there: 'Accepted' and
  // 'Connection' together let 'Aon' and 'Ccn' through (rare), 'authentication' and 'User' let
  // 'ast' through (in every line of a host called bastion).
  struct Group {
    std::vector<size_t> literals;
    uint16_t lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  };
  const auto add = [&](Group& g, size_t i) {
    if (std::find(g.literals.begin(), g.literals.end(), i) != g.literals.end()) return;
    g.literals.push_back(i);
    for (int j = 0; j < width_; j++) {
      for (uint8_t c : variants(static_cast<uint8_t>(literals_[i].text[static_cast<size_t>(j)]), literals_[i].ci)) {
        g.lo[j] = static_cast<uint16_t>(g.lo[j] | (1u << (c & 15)));
        g.hi[j] = static_cast<uint16_t>(g.hi[j] | (1u << (c >> 4)));
      }
    }
  };
  // how often a bucket's tables would pass a place, with the bytes of a log taken one by one
  // from their frequencies (in the sample of the log, else in typical log text)
  double freq[256];
  if (sample.empty()) {
    for (int c = 0; c < 256; c++) {
      freq[c] = c == ' ' ? 0.15 : (c >= 'a' && c <= 'z') ? 0.025 : (c >= '0' && c <= '9') ? 0.02 : c < 0x80 ? 0.004 : 0.0005;
    }
  } else {
    for (double& f : freq) f = 0.5;  // (never zero: the sample is not the whole log)
    for (char c : sample) freq[static_cast<uint8_t>(c)] += 1;
    for (double& f : freq) f /= static_cast<double>(sample.size()) + 128;
  }
  const auto passes = [&](const Group& a, const Group* b) {
    double p = 1;
    for (int j = 0; j < width_; j++) {
      const unsigned lo = a.lo[j] | (b ? b->lo[j] : 0), hi = a.hi[j] | (b ? b->hi[j] : 0);
      double sum = 0;
      for (int c = 0; c < 256; c++) {
        if ((lo >> (c & 15) & 1) && (hi >> (c >> 4) & 1)) sum += freq[c];
      }
      p *= sum;
    }
    return p;
  };
  std::vector<Group> groups;
  // (literals that start with the same byte, or bytes for a ci letter, start as one group)
  const auto firsts = [&](size_t i) { return variants(static_cast<uint8_t>(literals_[i].text[0]), literals_[i].ci); };
  for (size_t i = 0; i < literals_.size(); i++) {
    auto it = std::find_if(groups.begin(), groups.end(), [&](const Group& g) { return firsts(g.literals[0]) == firsts(i); });
    if (it == groups.end()) it = groups.insert(groups.end(), Group{});
    add(*it, i);
  }
  while (groups.size() > 8) {
    size_t bestA = 0, bestB = 1;
    double bestStray = 1e300;  // (passes(merged) - passes(a) - passes(b))
    for (size_t a = 0; a < groups.size(); a++) {
      for (size_t b = a + 1; b < groups.size(); b++) {
        const double stray = passes(groups[a], &groups[b]) - passes(groups[a], nullptr) - passes(groups[b], nullptr);
        if (stray < bestStray) {
          bestStray = stray;
          bestA = a;
          bestB = b;
        }
      }
    }
    for (size_t i : groups[bestB].literals) add(groups[bestA], i);
    groups.erase(groups.begin() + static_cast<std::ptrdiff_t>(bestB));
  }
  for (size_t b = 0; b < groups.size(); b++) {
    for (size_t i : groups[b].literals) {
      const auto& l = literals_[i];
      Entry e{0, 0, l.text.size(), i, l.owners};
      for (size_t j = 0; j < l.text.size() && j < 8; j++) {
        const auto c = static_cast<uint8_t>(l.text[j]);
        const bool letter = l.ci && lower(c) >= 'a' && lower(c) <= 'z';
        e.mask |= static_cast<uint64_t>(letter ? 0xDF : 0xFF) << (8 * j);
        e.value |= static_cast<uint64_t>(letter ? (c & 0xDF) : c) << (8 * j);
      }
      entries_[b].push_back(e);
      for (int j = 0; j < width_; j++) {
        for (uint8_t c : variants(static_cast<uint8_t>(l.text[static_cast<size_t>(j)]), l.ci)) {
          lo_[j][c & 15] |= static_cast<uint8_t>(1u << b);
          hi_[j][c >> 4] |= static_cast<uint8_t>(1u << b);
        }
      }
    }
  }
  available_ = true;
#endif
}

// The owners of the literals of `buckets` that start at pos (0: none); all: every one of them,
// else the first found is enough.
uint32_t LiteralGate::matchesAt(const char* data, size_t len, size_t pos, uint8_t buckets, bool all) const {
  const size_t room = len - pos;
  uint64_t word = 0;
  std::memcpy(&word, data + pos, std::min<size_t>(room, 8));
  uint32_t owners = 0;
  do {
    const int b = __builtin_ctz(buckets);
    buckets &= static_cast<uint8_t>(buckets - 1);
    for (const Entry& e : entries_[b]) {
      // the first 8 bytes in one compare (a ci letter compared without its case bit)
      if ((word & e.mask) != e.value || e.size > room) continue;
      bool match = e.size <= 8;
      if (!match) {
        const auto& l = literals_[e.literal];
        if (!l.ci) {
          match = std::memcmp(data + pos + 8, l.text.data() + 8, e.size - 8) == 0;
        } else {
          size_t k = 8;
          while (k < e.size && lower(static_cast<uint8_t>(data[pos + k])) == lower(static_cast<uint8_t>(l.text[k]))) k++;
          match = k == e.size;
        }
      }
      if (!match) continue;
      owners |= e.owners;
      if (!all) return owners;
    }
  } while (buckets);
  return owners;
}

#ifdef F2B_TEDDY
namespace {

// Bucket bits of each position: the literal buckets whose j-th byte may be the byte there.
__attribute__((target("ssse3"))) inline __m128i buckets128(__m128i v, __m128i lo, __m128i hi) {
  const __m128i nib = _mm_set1_epi8(0x0f);
  return _mm_and_si128(_mm_shuffle_epi8(lo, _mm_and_si128(v, nib)), _mm_shuffle_epi8(hi, _mm_and_si128(_mm_srli_epi16(v, 4), nib)));
}

__attribute__((target("avx2"))) inline __m256i buckets256(__m256i v, __m256i lo, __m256i hi) {
  const __m256i nib = _mm256_set1_epi8(0x0f);
  return _mm256_and_si256(_mm256_shuffle_epi8(lo, _mm256_and_si256(v, nib)),
                          _mm256_shuffle_epi8(hi, _mm256_and_si256(_mm256_srli_epi16(v, 4), nib)));
}

}  // namespace

// The first of the positions i + j (bit j of `m` set, bucket bits in buckets[j]) where a literal
// starts, or SIZE_MAX.
size_t LiteralGate::verify(const char* data, size_t len, size_t i, uint32_t m, const uint8_t* buckets, uint32_t* owners) const {
  while (m) {
    const int j = __builtin_ctz(m);
    if (const uint32_t o = matchesAt(data, len, i + static_cast<size_t>(j), buckets[j], owners != nullptr)) {
      if (owners) *owners = o;
      return i + static_cast<size_t>(j);
    }
    m &= m - 1;
  }
  return SIZE_MAX;
}

// The last few positions, one at a time (and the whole search where the vectors cannot run).
size_t LiteralGate::findScalar(const char* data, size_t len, size_t i, uint32_t* owners) const {
  for (; i + static_cast<size_t>(width_) <= len; i++) {
    uint8_t b = 0xff;
    for (int j = 0; j < width_; j++) {
      const auto c = static_cast<uint8_t>(data[i + static_cast<size_t>(j)]);
      b &= static_cast<uint8_t>(lo_[j][c & 15] & hi_[j][c >> 4]);
    }
    if (!b) continue;
    if (const uint32_t o = matchesAt(data, len, i, b, owners != nullptr)) {
      if (owners) *owners = o;
      return i;
    }
  }
  return SIZE_MAX;
}

__attribute__((target("ssse3"))) size_t LiteralGate::find128(const char* data, size_t len, size_t i, uint32_t* owners) const {
  __m128i lo[3], hi[3];
  for (int j = 0; j < width_; j++) {
    lo[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(lo_[j]));
    hi[j] = _mm_loadu_si128(reinterpret_cast<const __m128i*>(hi_[j]));
  }
  const __m128i zero = _mm_setzero_si128();
  // 16 positions and the width - 1 bytes after the last one
  for (; i + 16 + static_cast<size_t>(width_) - 1 <= len; i += 16) {
    __m128i r = buckets128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i)), lo[0], hi[0]);
    r = _mm_and_si128(r, buckets128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 1)), lo[1], hi[1]));
    if (width_ == 3) r = _mm_and_si128(r, buckets128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(data + i + 2)), lo[2], hi[2]));
    const unsigned m = static_cast<unsigned>(_mm_movemask_epi8(_mm_cmpeq_epi8(r, zero))) ^ 0xffffu;
    if (!m) continue;
    alignas(16) uint8_t rb[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(rb), r);
    if (const size_t at = verify(data, len, i, m, rb, owners); at != SIZE_MAX) return at;
  }
  return findScalar(data, len, i, owners);
}

__attribute__((target("avx2"))) size_t LiteralGate::find256(const char* data, size_t len, size_t i, uint32_t* owners) const {
  __m256i lo[3], hi[3];
  for (int j = 0; j < width_; j++) {
    // pshufb looks up within each 128-bit lane: the same table in both
    lo[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(lo_[j])));
    hi[j] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(hi_[j])));
  }
  const __m256i zero = _mm256_setzero_si256();
  for (; i + 32 + static_cast<size_t>(width_) - 1 <= len; i += 32) {
    __m256i r = buckets256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i)), lo[0], hi[0]);
    r = _mm256_and_si256(r, buckets256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 1)), lo[1], hi[1]));
    if (width_ == 3) {
      r = _mm256_and_si256(r, buckets256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(data + i + 2)), lo[2], hi[2]));
    }
    const uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(r, zero))) ^ 0xffffffffu;
    if (!m) continue;
    alignas(32) uint8_t rb[32];
    _mm256_store_si256(reinterpret_cast<__m256i*>(rb), r);
    if (const size_t at = verify(data, len, i, m, rb, owners); at != SIZE_MAX) return at;
  }
  return find128(data, len, i, owners);
}
#endif

size_t LiteralGate::find(const char* data, size_t len, size_t from, uint32_t* owners) const {
#ifdef F2B_TEDDY
  if (available_) return avx2_ ? find256(data, len, from, owners) : find128(data, len, from, owners);
#endif
  (void)data;
  (void)len;
  (void)from;
  (void)owners;
  return SIZE_MAX;
}

}  // namespace f2b::scan
