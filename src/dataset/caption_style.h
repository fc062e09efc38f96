// Caption style: booru-style tag lists ("1girl, solo, long hair") or natural-language sentences
// as BLIP or an LLM write them ("a painting of a steam punk skull with a gas mask , by darius
// kawasaki"). Tag-level audit findings (a tag used once, one tag spelled two ways) are noise on
// sentences, where every sentence is a "tag" of its own; the audit reads the style to skip them
// and shows it per concept.
#pragma once

#include <cstddef>
#include <string_view>

#include "dataset/caption.h"

namespace lathe {

enum class CaptionStyle { None, Tags, Sentences, Mixed };

const char* caption_style_name(CaptionStyle s);  // "none", "tags", "sentences", "mixed"

// A comma-separated piece that reads as prose rather than a tag: eight words or more, or five
// or more with an article or two small function words ("with", "of", "in", ...). Tags are
// short noun phrases ("looking at viewer", "hand on own chest").
bool is_prose(std::string_view piece);

// Sentences when at least half the caption's words are in prose pieces, Tags otherwise; None
// for a caption without tags.
CaptionStyle caption_style(const CaptionText& caption);

// A concept's captions by style; style() is the concept's: the kind at least 90% of them are,
// else Mixed (None without captions).
struct CaptionStyleCount {
  std::size_t tags = 0;
  std::size_t sentences = 0;
  void add(CaptionStyle s);
  CaptionStyle style() const;
};

}  // namespace lathe
