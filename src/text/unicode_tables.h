// Unicode facts the CLIP tokenizer needs, as sorted tables generated from Python (see
// scripts/gen_clip_unicode_tables.py): the `regex` module's \p{L}, \p{N} and \s, str.isspace,
// str.lower and its final-sigma properties, NFC data, ftfy's width map, and html.unescape's
// entity tables. The reference tokenizer is Python, so matching it means matching these.
#pragma once

#include <cstddef>
#include <cstdint>

namespace lathe::text::unicode {

struct CodeRange {
  char32_t first, last;  // inclusive
};

// A code point and what it maps to (up to 4 code points, zero-padded).
struct CodeMapping {
  char32_t cp;
  char32_t to[4];
};

struct CombiningClass {
  char32_t cp;
  std::uint8_t ccc;
};

struct Composition {
  char32_t first, second, composite;  // sorted by (first, second)
};

struct NamedEntity {
  const char* name;   // without '&'; html5 names may or may not end in ';'
  const char* value;  // UTF-8
};

extern const CodeRange kLetterRanges[];
extern const std::size_t kLetterRanges_count;
extern const CodeRange kNumberRanges[];
extern const std::size_t kNumberRanges_count;
extern const CodeRange kRegexSpaceRanges[];
extern const std::size_t kRegexSpaceRanges_count;
extern const CodeRange kPatternSkippedRanges[];  // matched by no alternative of the pattern
extern const std::size_t kPatternSkippedRanges_count;
extern const CodeRange kPySpaceRanges[];
extern const std::size_t kPySpaceRanges_count;
extern const CodeRange kCasedRanges[];
extern const std::size_t kCasedRanges_count;
extern const CodeRange kCaseIgnorableRanges[];
extern const std::size_t kCaseIgnorableRanges_count;
extern const CodeMapping kLowerMappings[];
extern const std::size_t kLowerMappings_count;
extern const CombiningClass kCombiningClasses[];
extern const std::size_t kCombiningClasses_count;
extern const CodeMapping kCanonicalDecompositions[];
extern const std::size_t kCanonicalDecompositions_count;
extern const Composition kCompositions[];
extern const std::size_t kCompositions_count;
extern const CodeMapping kWidthMappings[];
extern const std::size_t kWidthMappings_count;
extern const NamedEntity kHtml5Entities[];
extern const std::size_t kHtml5Entities_count;
extern const NamedEntity kFtfyUpperEntities[];
extern const std::size_t kFtfyUpperEntities_count;
extern const CodeMapping kHtmlInvalidCharrefs[];
extern const std::size_t kHtmlInvalidCharrefs_count;
extern const char32_t kHtmlInvalidCodepoints[];
extern const std::size_t kHtmlInvalidCodepoints_count;
extern const char32_t kWindows1252High[32];  // bytes 0x80..0x9F; undefined ones map to themselves

}  // namespace lathe::text::unicode
