// Telling tag lists from sentences (see caption_style.h) by word counts and function words:
// cheap enough to run on every caption of a 100k-image audit.
#include "dataset/caption_style.h"

#include <array>

namespace lathe {
namespace {

// Words that glue a sentence together and that booru tags almost never hold.
bool is_article(std::string_view w) { return w == "a" || w == "an" || w == "the"; }

bool is_function_word(std::string_view w) {
  static const std::array<std::string_view, 22> kWords = {
      "of",   "with", "in",   "on",    "is",  "are",  "and",   "by",   "to",    "for",  "from",
      "at",   "while", "his", "her",   "their", "its", "into", "there", "this", "that", "has"};
  for (std::string_view k : kWords)
    if (w == k) return true;
  return false;
}

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

struct WordCount {
  std::size_t words = 0;
  std::size_t articles = 0;
  std::size_t function_words = 0;
};

WordCount count_words(std::string_view piece) {
  WordCount n;
  std::string word;
  auto flush = [&] {
    if (word.empty()) return;
    ++n.words;
    if (is_article(word)) ++n.articles;
    else if (is_function_word(word)) ++n.function_words;
    word.clear();
  };
  for (char c : piece) {
    if (c == ' ' || c == '\t' || c == '_' || c == '.') flush();
    else word += lower(c);
  }
  flush();
  return n;
}

}  // namespace

const char* caption_style_name(CaptionStyle s) {
  switch (s) {
    case CaptionStyle::None: return "none";
    case CaptionStyle::Tags: return "tags";
    case CaptionStyle::Sentences: return "sentences";
    case CaptionStyle::Mixed: return "mixed";
  }
  return "none";
}

bool is_prose(std::string_view piece) {
  const WordCount n = count_words(piece);
  if (n.words >= 8) return true;
  return n.words >= 5 && (n.articles >= 1 || n.function_words >= 2);
}

CaptionStyle caption_style(const CaptionText& caption) {
  if (caption.tags.empty()) return CaptionStyle::None;
  std::size_t words = 0, prose_words = 0;
  for (const std::string& piece : caption.tags) {
    const std::size_t w = count_words(piece).words;
    words += w;
    if (is_prose(piece)) prose_words += w;
  }
  return prose_words * 2 >= words && prose_words > 0 ? CaptionStyle::Sentences : CaptionStyle::Tags;
}

void CaptionStyleCount::add(CaptionStyle s) {
  if (s == CaptionStyle::Tags) ++tags;
  if (s == CaptionStyle::Sentences) ++sentences;
}

CaptionStyle CaptionStyleCount::style() const {
  const std::size_t total = tags + sentences;
  if (total == 0) return CaptionStyle::None;
  if (tags * 10 >= total * 9) return CaptionStyle::Tags;
  if (sentences * 10 >= total * 9) return CaptionStyle::Sentences;
  return CaptionStyle::Mixed;
}

}  // namespace lathe
