// The CLIP BPE tokenizer of SD 1.x, SD 2.x and SDXL (both encoders share the vocabulary):
// openai/CLIP simple_tokenizer.py reproduced token for token. Text is cleaned and split into
// words (clip_text_clean.h), each word is byte-encoded and merged by BPE rank, and words seen
// before come from a per-tokenizer cache, which is what makes dataset-sized runs fast.
//
// A ClipTokenizer is not thread-safe (the cache); copies share the vocabulary and start with
// an empty cache, so give each thread its own copy.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/bpe_vocab.h"
#include "text/clip_text_clean.h"

namespace lathe::text {

constexpr int kClipContextLength = 77;          // tokens the text encoder sees
constexpr int kClipPadEndOfText = 49407;        // SD 1.x, SD 2.x, SDXL encoder 1
constexpr int kClipPadZero = 0;                 // SDXL encoder 2 (OpenCLIP's "!" padding)

struct ClipToken {
  int id;
  std::string piece;  // vocabulary spelling in the byte alphabet: "girl</w>", "ðŁĳį"
};

class ClipTokenizer {
 public:
  explicit ClipTokenizer(std::shared_ptr<const BpeVocab> vocab,
                         TextFixing fixing = TextFixing::kFtfy);
  ClipTokenizer(const ClipTokenizer& other);
  ClipTokenizer& operator=(const ClipTokenizer& other);

  // Loads a vocabulary (see load_bpe_vocab) and builds a tokenizer on it.
  static ClipTokenizer load(const std::filesystem::path& path,
                            TextFixing fixing = TextFixing::kFtfy);

  // Token ids of a caption, without start/end tokens and untruncated.
  std::vector<int> encode(std::string_view text);
  std::vector<ClipToken> tokenize(std::string_view text);

  // One encoder row: start, the first length-2 ids, end, then pad_id up to `length`.
  std::vector<int> encode_padded(std::string_view text, int pad_id = kClipPadEndOfText,
                                 int length = kClipContextLength);

  // kohya's max_token_length (75, 150 or 225): the caption is tokenized to max+2 positions
  // and cut into max/75 rows of 77, each with its own start/end, as sd-scripts does.
  std::vector<std::vector<int>> encode_chunks(std::string_view text, int max_token_length,
                                              int pad_id = kClipPadEndOfText);

  int start_id() const { return vocab_->start_id; }
  int end_id() const { return vocab_->end_id; }
  const std::string& piece(int id) const { return vocab_->tokens.at(id); }
  int vocab_size() const { return static_cast<int>(vocab_->tokens.size()); }
  // The id of a whole vocabulary entry ("girl</w>"), or -1.
  int id_of(const std::string& piece) const;
  const BpeVocab& vocab() const { return *vocab_; }
  TextFixing fixing() const { return fixing_; }

 private:
  const std::vector<int>& word_ids(const std::string& word_utf8);
  std::vector<int> bpe(const std::string& word_utf8) const;

  std::shared_ptr<const BpeVocab> vocab_;
  TextFixing fixing_;
  std::unordered_map<std::string, std::vector<int>> cache_;
};

}  // namespace lathe::text
