// TextEncoderCache: a map from the exact caption string to the encoder's outputs. Batches encode
// their missing captions together (one text-encoder call per step at most) and are reassembled
// from the cached rows, so a cached step gives the same tensors as an uncached one.
#include "train/data/text_encoder_cache.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <unordered_set>

#include "train/data/caption_processing.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

TextEncoding detached(const TextEncoding& e) {
  return {e.hidden.detach(), e.pooled.defined() ? e.pooled.detach() : torch::Tensor()};
}

TextEncoding row(const TextEncoding& batch, std::int64_t i) {
  return {batch.hidden.select(0, i),
          batch.pooled.defined() ? batch.pooled.select(0, i) : torch::Tensor()};
}

}  // namespace

bool text_encoder_cache_plan(const TrainConfig& config, std::string* warning) {
  if (warning) warning->clear();
  if (!config.data.cache_text_encoder_outputs) return false;
  std::string why;
  if (config.network.train_text_encoder)
    why = "the text encoder is trained (set network.train_text_encoder = false to cache)";
  else if (!captions_are_fixed(caption_options(config.data)))
    why =
        "captions change between steps (shuffle_caption, caption_dropout_rate or "
        "caption_tag_dropout_rate is on)";
  if (why.empty()) return true;
  if (warning) *warning = fmt::format("cache_text_encoder_outputs is off for this run: {}", why);
  return false;
}

TextEncoding TextEncoderCache::get(const std::string& caption,
                                   const std::function<TextEncoding()>& encode) {
  if (enabled_) {
    auto it = entries_.find(caption);
    if (it != entries_.end()) {
      stats_.hits += 1;
      return it->second;
    }
  }
  stats_.misses += 1;
  TextEncoding e = detached(encode());
  if (enabled_) entries_.emplace(caption, e);
  return e;
}

TextEncoding TextEncoderCache::get_batch(
    const std::vector<std::string>& captions,
    const std::function<TextEncoding(const std::vector<std::string>&)>& encode_batch) {
  if (!enabled_) {
    stats_.misses += static_cast<std::int64_t>(captions.size());
    return detached(encode_batch(captions));
  }
  std::vector<std::string> missing;
  std::unordered_set<std::string> seen;
  for (const std::string& c : captions) {
    if (entries_.count(c) || !seen.insert(c).second) continue;
    missing.push_back(c);
  }
  stats_.misses += static_cast<std::int64_t>(missing.size());
  stats_.hits += static_cast<std::int64_t>(captions.size() - missing.size());
  if (!missing.empty()) {
    const TextEncoding encoded = detached(encode_batch(missing));
    for (std::size_t i = 0; i < missing.size(); ++i)
      entries_.emplace(missing[i], row(encoded, static_cast<std::int64_t>(i)));
  }
  std::vector<torch::Tensor> hidden, pooled;
  for (const std::string& c : captions) {
    const TextEncoding& e = entries_.at(c);
    hidden.push_back(e.hidden);
    if (e.pooled.defined()) pooled.push_back(e.pooled);
  }
  TextEncoding out;
  out.hidden = torch::stack(hidden);
  if (!pooled.empty()) out.pooled = torch::stack(pooled);
  return out;
}

}  // namespace lathe
