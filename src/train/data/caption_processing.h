// What the text encoder sees of a caption at one step: kohya's shuffle_caption with
// keep_tokens (the first N tags stay in place), caption dropout (the whole caption becomes "")
// and tag dropout (each tag after the kept ones is dropped with a probability). Tags are split
// on commas and trimmed, then joined with ", " as kohya does.
#pragma once

#include <string>

#include "common/seeded_rng.h"

namespace lathe {

struct DataConfig;

struct CaptionOptions {
  bool shuffle = false;
  int keep_tokens = 0;
  double caption_dropout_rate = 0.0;
  double tag_dropout_rate = 0.0;
};

CaptionOptions caption_options(const DataConfig& data);

// The caption for one sample; draws from `rng` only for the options that are on.
std::string process_caption(const std::string& caption, const CaptionOptions& options,
                            SeededRng& rng);

// True when every step sees each caption unchanged (no shuffle, no dropout), so text-encoder
// outputs can be cached.
bool captions_are_fixed(const CaptionOptions& options);

}  // namespace lathe
