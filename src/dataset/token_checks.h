// Dataset checks that only make sense at the CLIP token level, as plain functions over a
// tokenizer: captions the text encoder truncates (and which tags are lost), how activation tags
// split into BPE pieces, pieces shared between activation tags of different concepts (one
// concept's training then moves the other), activation tags that are already a known word,
// and kohya's keep_tokens against the activation tags that lead the captions.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "text/clip_tokenizer.h"

namespace lathe {

// Tokens a caption may hold: 75 per 77-token row, times the rows kohya's max_token_length
// allows (75, 150 or 225).
struct CaptionTruncation {
  std::size_t tokens = 0;             // tokens of the whole caption
  std::size_t limit = 75;
  std::size_t first_cut_tag = 0;      // index of the first tag that loses tokens
  bool first_cut_partial = false;     // that tag keeps some of its tokens
  std::vector<std::string> cut_tags;  // every tag that loses tokens, in order
  bool truncated() const { return tokens > limit; }
};

// Tokenizes the tags joined with ", " (how kohya reads a tag caption) and, when they do not fit,
// finds the tags past the limit by tokenizing growing prefixes (binary search).
CaptionTruncation check_caption_length(text::ClipTokenizer& tok,
                                       const std::vector<std::string>& tags, std::size_t limit);

struct ActivationPieces {
  std::string tag;
  std::vector<text::ClipToken> tokens;
  // One token that is a whole vocabulary word ("dog</w>"): the tag names something the model
  // already knows, so training modifies that concept instead of creating a new one.
  bool single_known_word() const;
};
ActivationPieces activation_pieces(text::ClipTokenizer& tok, const std::string& tag);

// Pieces (by id) that two activation tags have in common, as vocabulary spellings, in the
// order they appear in `a`.
std::vector<std::string> shared_pieces(const ActivationPieces& a, const ActivationPieces& b);

// How many leading tags of a caption are activation tags (any concept's).
std::size_t leading_activation_tags(const std::vector<std::string>& tags,
                                    const std::vector<std::string>& activation_tags);

// Human form of pieces: "jin x def</w>" shown as "jin · x · def".
std::string describe_pieces(const std::vector<text::ClipToken>& tokens);

}  // namespace lathe
