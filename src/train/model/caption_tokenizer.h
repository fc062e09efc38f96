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
  // 77 ids (start, caption, end, padding) for text encoder `encoder` (0, or 1 for SDXL's second).
  virtual std::vector<long> encode(const std::string& caption, int encoder) = 0;
  // For the log and the metadata: "CLIP BPE (/path/vocab)" or "word-hash (tiny models only)".
  virtual std::string description() const = 0;
};

// The CLIP BPE tokenizer loaded from `vocab` (an OpenAI .gz file, a vocab.json + merges.txt
// folder or a diffusers model folder), padding for `family`'s encoders.
std::unique_ptr<CaptionTokenizer> make_clip_caption_tokenizer(const std::filesystem::path& vocab,
                                                              ModelFamily family);

}  // namespace lathe
