// kohya's caption augmentation (train_util.BaseDataset.process_caption) for one sample: caption
// dropout first, then shuffle of the tags after the kept ones, then tag dropout of those tags.
// Draws happen in that order and only for the options that are on: with every option off a
// caption costs no draw and comes back byte for byte.
#include "train/data/caption_processing.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "dataset/caption.h"
#include "train/config/train_config.h"

namespace lathe {
namespace {

std::vector<std::string> split_tags(const std::string& caption) {
  std::vector<std::string> tags;
  for (std::string_view t : split_tags_keep_empty(caption))
    if (!t.empty()) tags.emplace_back(t);
  return tags;
}

std::string join_tags(const std::vector<std::string>& tags) {
  std::string out;
  for (const std::string& t : tags) {
    if (!out.empty()) out += ", ";
    out += t;
  }
  return out;
}

}  // namespace

CaptionOptions caption_options(const DataConfig& data) {
  CaptionOptions o;
  o.shuffle = data.shuffle_caption;
  o.keep_tokens = data.keep_tokens;
  o.caption_dropout_rate = data.caption_dropout_rate;
  o.tag_dropout_rate = data.caption_tag_dropout_rate;
  return o;
}

bool captions_are_fixed(const CaptionOptions& options) {
  return !options.shuffle && options.caption_dropout_rate <= 0.0 && options.tag_dropout_rate <= 0.0;
}

std::string process_caption(const std::string& caption, const CaptionOptions& options,
                            SeededRng& rng) {
  if (rng.chance(options.caption_dropout_rate)) return "";
  if (!options.shuffle && options.tag_dropout_rate <= 0.0) return caption;

  std::vector<std::string> tags = split_tags(caption);
  const std::size_t kept =
      std::min(tags.size(), static_cast<std::size_t>(std::max(0, options.keep_tokens)));
  if (options.shuffle) rng.shuffle(tags.begin() + kept, tags.end());
  if (options.tag_dropout_rate > 0.0) {
    std::vector<std::string> survivors(tags.begin(), tags.begin() + kept);
    for (std::size_t i = kept; i < tags.size(); ++i)
      if (!rng.chance(options.tag_dropout_rate)) survivors.push_back(std::move(tags[i]));
    tags = std::move(survivors);
  }
  return join_tags(tags);
}

}  // namespace lathe
