// Lookups in the generated Unicode tables (unicode_tables.cpp) and the two algorithms that
// need more than a lookup: Python's lower() with final sigma, and canonical composition (NFC).
#include "text/unicode_props.h"

#include <algorithm>
#include <cstdint>

#include "text/unicode_tables.h"

namespace lathe::text {
namespace {

using namespace unicode;

bool in_ranges(const CodeRange* ranges, std::size_t count, char32_t c) {
  const CodeRange* end = ranges + count;
  const CodeRange* it = std::upper_bound(
      ranges, end, c, [](char32_t v, const CodeRange& r) { return v < r.first; });
  return it != ranges && c <= (it - 1)->last;
}

const CodeMapping* find_mapping(const CodeMapping* maps, std::size_t count, char32_t c) {
  const CodeMapping* end = maps + count;
  const CodeMapping* it =
      std::lower_bound(maps, end, c, [](const CodeMapping& m, char32_t v) { return m.cp < v; });
  return (it != end && it->cp == c) ? it : nullptr;
}

void append_mapping(const CodeMapping& m, std::u32string& out) {
  for (char32_t t : m.to) {
    if (t == 0) break;
    out.push_back(t);
  }
}

bool is_cased(char32_t c) { return in_ranges(kCasedRanges, kCasedRanges_count, c); }
bool is_case_ignorable(char32_t c) {
  return in_ranges(kCaseIgnorableRanges, kCaseIgnorableRanges_count, c);
}

// CPython's handle_capital_sigma: final when a cased letter precedes (skipping case-ignorable
// characters) and none follows.
bool sigma_is_final(const std::u32string& s, std::size_t i) {
  std::size_t j = i;
  while (j > 0 && is_case_ignorable(s[j - 1])) --j;
  if (j == 0 || !is_cased(s[j - 1])) return false;
  std::size_t k = i + 1;
  while (k < s.size() && is_case_ignorable(s[k])) ++k;
  return k == s.size() || !is_cased(s[k]);
}

std::uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const CombiningClass* end = kCombiningClasses + kCombiningClasses_count;
  const CombiningClass* it = std::lower_bound(
      kCombiningClasses, end, c, [](const CombiningClass& e, char32_t v) { return e.cp < v; });
  return (it != end && it->cp == c) ? it->ccc : 0;
}

// Hangul syllables decompose and compose by arithmetic (Unicode ch. 3.12).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount,
                   kSCount = kLCount * kNCount;

void decompose(char32_t c, std::u32string& out) {
  if (c >= kSBase && c < kSBase + kSCount) {
    char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (const CodeMapping* m =
          find_mapping(kCanonicalDecompositions, kCanonicalDecompositions_count, c)) {
    append_mapping(*m, out);
  } else {
    out.push_back(c);
  }
}

char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount)
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount)
    return a + (b - kTBase);
  const Composition* end = kCompositions + kCompositions_count;
  const Composition* it = std::lower_bound(
      kCompositions, end, std::make_pair(a, b), [](const Composition& e, const auto& key) {
        return e.first != key.first ? e.first < key.first : e.second < key.second;
      });
  return (it != end && it->first == a && it->second == b) ? it->composite : 0;
}

// Fast check: text without anything that decomposes or combines is already NFC.
bool maybe_not_nfc(char32_t c) { return c >= 0x300; }

}  // namespace

bool is_letter(char32_t c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  return in_ranges(kLetterRanges, kLetterRanges_count, c);
}

bool is_number(char32_t c) {
  if (c < 0x80) return c >= '0' && c <= '9';
  return in_ranges(kNumberRanges, kNumberRanges_count, c);
}

bool is_regex_space(char32_t c) {
  if (c < 0x80) return c == ' ' || (c >= '\t' && c <= '\r');
  return in_ranges(kRegexSpaceRanges, kRegexSpaceRanges_count, c);
}

bool is_pattern_skipped(char32_t c) {
  return c >= 0x80 && in_ranges(kPatternSkippedRanges, kPatternSkippedRanges_count, c);
}

bool is_py_space(char32_t c) { return in_ranges(kPySpaceRanges, kPySpaceRanges_count, c); }

std::u32string to_lower(const std::u32string& s) {
  std::u32string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c < 0x80) {
      out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
    } else if (c == 0x3A3) {
      out.push_back(sigma_is_final(s, i) ? 0x3C2 : 0x3C3);
    } else if (const CodeMapping* m = find_mapping(kLowerMappings, kLowerMappings_count, c)) {
      append_mapping(*m, out);
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::u32string to_nfc(const std::u32string& s) {
  if (std::none_of(s.begin(), s.end(), maybe_not_nfc)) return s;
  // Full canonical decomposition, then canonical ordering of combining marks.
  std::u32string d;
  d.reserve(s.size() + 8);
  for (char32_t c : s) decompose(c, d);
  for (std::size_t i = 1; i < d.size(); ++i) {
    std::uint8_t cc = combining_class(d[i]);
    if (cc == 0) continue;
    std::size_t j = i;
    while (j > 0 && combining_class(d[j - 1]) > cc) {
      std::swap(d[j - 1], d[j]);
      --j;
    }
  }
  // Canonical composition: each character joins the last starter unless blocked.
  std::u32string out;
  out.reserve(d.size());
  std::size_t starter = std::u32string::npos;
  int last_cc = 0;  // class of the last character kept after the starter
  for (char32_t c : d) {
    int cc = combining_class(c);
    if (starter != std::u32string::npos) {
      bool adjacent = out.size() == starter + 1;
      if (adjacent || (last_cc != 0 && last_cc < cc)) {
        if (char32_t comp = compose_pair(out[starter], c)) {
          out[starter] = comp;
          continue;
        }
      }
    }
    out.push_back(c);
    if (cc == 0) starter = out.size() - 1;
    last_cc = cc;
  }
  return out;
}

bool width_replacement(char32_t c, std::u32string& out) {
  if (c != 0x3000 && (c < 0xFF01 || c > 0xFFEF)) return false;
  const CodeMapping* m = find_mapping(kWidthMappings, kWidthMappings_count, c);
  if (!m) return false;
  append_mapping(*m, out);
  return true;
}

}  // namespace lathe::text
