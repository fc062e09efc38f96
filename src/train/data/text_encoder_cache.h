// Cached text-encoder outputs, per processed caption string. Valid only while every step sees
// a caption unchanged (no shuffle, no dropout) and the text encoder(s) are not trained, so the
// outputs for one caption never change during the run; text_encoder_cache_plan decides that
// from the profile. Memory only: entries live for the run (about 77 x hidden width x 4 bytes
// per distinct caption: 236 KB for SD 1.5, 630 KB for SDXL's two encoders).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

namespace lathe {

struct TrainConfig;

// What the UNet needs from the text encoder(s) for one caption (no batch dimension), or for a
// batch of captions (batch dimension first) where a function says so.
struct TextEncoding {
  torch::Tensor hidden;  // [tokens, width]: SD 1.x/2.x CLIP, SDXL both encoders concatenated
  torch::Tensor pooled;  // [width]: SDXL's pooled text embedding; undefined for SD 1.x/2.x
};

struct TextEncoderCacheStats {
  std::int64_t hits = 0;
  std::int64_t misses = 0;  // captions encoded now
};

// Whether a run caches: only when the profile asks (dataset.cache_text_encoder_outputs), the
// captions are fixed and no text encoder is trained. When asked but impossible, `warning`
// says why (the run goes on uncached); it is left empty otherwise.
bool text_encoder_cache_plan(const TrainConfig& config, std::string* warning);

class TextEncoderCache {
 public:
  // Disabled: get() and get_batch() always encode (and count misses), storing nothing.
  explicit TextEncoderCache(bool enabled) : enabled_(enabled) {}

  bool enabled() const { return enabled_; }

  // The encoding of one caption; `encode` is called on a miss. Returned tensors share storage
  // with the cache: do not modify them in place.
  TextEncoding get(const std::string& caption, const std::function<TextEncoding()>& encode);

  // A batch: encodes only the captions not cached yet, in one call of `encode_batch` (which
  // gets them in order of first appearance, duplicates once, and returns batch-first tensors),
  // and returns batch-first tensors in the order of `captions`. All entries must have the same
  // shape (the usual case: every caption padded to the same token count).
  TextEncoding get_batch(
      const std::vector<std::string>& captions,
      const std::function<TextEncoding(const std::vector<std::string>&)>& encode_batch);

  const TextEncoderCacheStats& stats() const { return stats_; }
  std::size_t size() const { return entries_.size(); }

 private:
  bool enabled_;
  std::unordered_map<std::string, TextEncoding> entries_;
  TextEncoderCacheStats stats_;
};

}  // namespace lathe
