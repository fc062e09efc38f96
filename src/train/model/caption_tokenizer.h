// How the trainer turns a caption into the 77 token ids each text encoder reads. Real
// checkpoints use the CLIP BPE tokenizer (text/clip_tokenizer.h), padded as each encoder was
// trained (end-of-text for OpenAI CLIP, "!" = 0 for OpenCLIP: SD 2.x and SDXL's second
// encoder). Tiny random models may use the word-hash tokenizer instead (word_hash_tokenizer.h),
// since a fresh clone carries no CLIP vocabulary and their embeddings are random anyway.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "models/model_family.h"

namespace lathe {

class CaptionTokenizer {
 public:
  virtual ~CaptionTokenizer() = default;
  // 77 ids (start, caption, end, padding) for text encoder `encoder` (0, or 1 for SDXL's second):
  // wrap_caption_ids of encode_words.
  virtual std::vector<long> encode(const std::string& caption, int encoder);
  // The ids of a caption's words alone: no start, end or padding, untruncated.
  virtual std::vector<long> encode_words(const std::string& text, int encoder) = 0;
  virtual long start_id() const = 0;
  virtual long end_id() const = 0;
  virtual long pad_id(int encoder) const = 0;
  // For the log and the metadata: "CLIP BPE (/path/vocab)" or "word-hash (tiny models only)".
  virtual std::string description() const = 0;
};

// A 77-id row as the encoders read it: start, the first 75 ids, end, then `pad` to 77.
std::vector<long> wrap_caption_ids(const std::vector<long>& ids, long start, long end, long pad);

// The CLIP BPE tokenizer loaded from `vocab` (an OpenAI .gz file, a vocab.json + merges.txt
// folder or a diffusers model folder), padding for `family`'s encoders.
std::unique_ptr<CaptionTokenizer> make_clip_caption_tokenizer(const std::filesystem::path& vocab,
                                                              ModelFamily family);

}  // namespace lathe
