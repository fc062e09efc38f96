// Where embedding names stand in a caption. A name matches as a whole word, ignoring ASCII
// case (the CLIP tokenizer lowercases): the characters on either side of it must not be ASCII
// letters, digits or '_' (nor part of a UTF-8 character), so "(jinxdef:1.2)", "jinxdef," and
// "a jinxdef's hat" match and "jinxdefs" or "my_jinxdef" do not. Longer names win where two
// could match at the same place. Torch-free: the tokenize command and the tokenizer use it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace lathe {

struct CaptionPiece {
  std::string_view text;  // caption text between names (may be empty), or the name as written
  int word = -1;          // >= 0: names[word] stood here; -1: plain text
};

// The caption cut into plain text and the names found in it, in order; the pieces' texts
// concatenate back to the caption. No names found: one plain piece.
std::vector<CaptionPiece> split_at_embedding_words(std::string_view caption,
                                                   const std::vector<std::string>& names);

}  // namespace lathe
