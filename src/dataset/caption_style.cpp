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

struct WordCount {
  std::size_t words = 0;
  std::size_t articles = 0;
  std::size_t function_words = 0;
};

// The word lower-cased into a small buffer (words longer than it are no function word).
std::string_view lowered(std::string_view w, char (&buf)[8]) {
  if (w.size() > sizeof(buf)) return {};
  for (std::size_t i = 0; i < w.size(); ++i)
    buf[i] = w[i] >= 'A' && w[i] <= 'Z' ? static_cast<char>(w[i] - 'A' + 'a') : w[i];
  return std::string_view(buf, w.size());
}

// Runs on every caption of the audit: slices of the piece, no allocation.
WordCount count_words(std::string_view piece) {
  WordCount n;
  char buf[8];
  std::size_t start = 0;
  for (std::size_t i = 0; i <= piece.size(); ++i) {
    const bool sep = i == piece.size() || piece[i] == ' ' || piece[i] == '\t' ||
                     piece[i] == '_' || piece[i] == '.';
    if (!sep) continue;
    if (i > start) {
      ++n.words;
      const std::string_view w = lowered(piece.substr(start, i - start), buf);
      if (is_article(w)) ++n.articles;
      else if (is_function_word(w)) ++n.function_words;
    }
    start = i + 1;
  }
  return n;
}

// See is_prose.
bool prose_count(const WordCount& n) {
  if (n.words >= 8) return true;
  return n.words >= 5 && (n.articles >= 1 || n.function_words >= 2);
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



bool is_prose(std::string_view piece) { return prose_count(count_words(piece)); }

CaptionStyle caption_style(const CaptionText& caption) {
  if (caption.tags.empty()) return CaptionStyle::None;
  std::size_t words = 0, prose_words = 0;
  for (const std::string& piece : caption.tags) {
    const WordCount n = count_words(piece);
    words += n.words;
    if (prose_count(n)) prose_words += n.words;
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
