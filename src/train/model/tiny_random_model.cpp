// Tiny random base models: each family's real block structure (levels, resnets per block,
// attention placement, projection kind, SDXL's two encoders and text-time vector) with tiny
// widths, so tests and the demo run the same code path as a real checkpoint on a 2-core CPU in
// seconds. Weights come from kTinyRandomSeed, never from the run's seed, so every run sees the
// same base. The outputs are meaningless pictures; the point is the training machinery.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "train/model/base_model.h"
#include "train/model/word_hash_tokenizer.h"

namespace lathe {
namespace {

constexpr std::int64_t kVocab = 1024;
constexpr std::int64_t kWidth = 32;  // CLIP hidden size of every tiny encoder

// clip_vocab: real CLIP ids reach 49407, so the embedding table must be that large.
CLIPTextConfig tiny_clip(bool open_clip, bool projection, bool clip_vocab) {
  CLIPTextConfig c;
  c.vocab_size = clip_vocab ? 49408 : kVocab;
  c.hidden_size = kWidth;
  c.intermediate_size = 4 * kWidth;
  c.layers = 2;
  c.heads = 2;
  c.quick_gelu = !open_clip;
  c.projection_dim = projection ? kWidth : 0;
  c.eos_token_id = c.vocab_size - 1;  // CLIP's and the word-hash tokenizer's end id
  return c;
}

UNetConfig tiny_unet(ModelFamily family) {
  UNetConfig c;
  c.block_out_channels = {32, 64};
  c.layers_per_block = 2;
  c.heads = {2, 2};
  c.mid_heads = 2;
  c.cross_attention_dim = kWidth;
  if (family == ModelFamily::SDXL) {
    // SDXL: no attention on the first level, deeper transformers below, both encoders' states
    // concatenated as context, pooled text embeds + 6 time ids through label_emb.
    c.attention = {false, true};
    c.transformer_depth = {1, 2};
    c.mid_transformer_depth = 2;
    c.cross_attention_dim = 2 * kWidth;
    c.linear_projection = true;
    c.addition_time_embed_dim = 8;
    c.adm_in_channels = kWidth + 6 * 8;
  } else {
    // SD 1.x / 2.x: attention on every level but the last (here: the first of two).
    c.attention = {true, false};
    c.transformer_depth = {1, 1};
    c.linear_projection = family == ModelFamily::SD2;
  }
  c.validate();
  return c;
}

VAEConfig tiny_vae(ModelFamily family) {
  VAEConfig c = family == ModelFamily::SDXL ? VAEConfig::sdxl() : VAEConfig::sd();
  c.block_out_channels = {32, 32, 64, 64};  // four levels: the real 8x downsampling
  c.layers_per_block = 1;
  return c;
}

const char* tiny_name(ModelFamily family) {
  switch (family) {
    case ModelFamily::SD1: return "sd15";
    case ModelFamily::SD2: return "sd2";
    case ModelFamily::SDXL: return "sdxl";
  }
  return "?";
}

}  // namespace

BaseModel build_tiny_random_model(ModelFamily family,
                                  const std::optional<std::filesystem::path>& tokenizer,
                                  bool gradient_checkpointing) {
  BaseModel m;
  m.family = family;
  m.prediction = default_prediction(family) == PredictionType::VPrediction ? Prediction::VPrediction
                                                                           : Prediction::Epsilon;
  m.name = fmt::format("tiny-random:{}", tiny_name(family));
  m.tiny_random = fmt::format("tiny-random {} (seed {})", tiny_name(family), kTinyRandomSeed);
  m.vae_identity = fmt::format("tiny-random:{}:{}", tiny_name(family), kTinyRandomSeed);

  torch::manual_seed(kTinyRandomSeed);
  UNetConfig unet_config = tiny_unet(family);
  unet_config.gradient_checkpointing = gradient_checkpointing;
  m.unet = UNet(unet_config);
  const bool clip_vocab = tokenizer.has_value();
  if (family == ModelFamily::SDXL) {
    m.text_encoders.emplace_back(tiny_clip(false, false, clip_vocab));
    m.text_encoders.emplace_back(tiny_clip(true, true, clip_vocab));
  } else {
    m.text_encoders.emplace_back(tiny_clip(family == ModelFamily::SD2, false, clip_vocab));
  }
  m.vae = VAE(tiny_vae(family));

  m.tokenizer = tokenizer ? make_clip_caption_tokenizer(*tokenizer, family)
                          : make_word_hash_tokenizer(kVocab);
  m.notes.push_back(fmt::format("base model: {}: tiny random base model, not a real checkpoint "
                                "(UNet {} channels, {} text encoder(s) {} wide); tokenizer: {}",
                                m.tiny_random, fmt::join(m.unet->config().block_out_channels, "/"),
                                m.text_encoders.size(), kWidth, m.tokenizer->description()));
  return m;
}

}  // namespace lathe
