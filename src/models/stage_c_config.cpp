// Stage C configurations: presets, validation, and derivation from weight shapes (see
// stage_c_config.h).
#include "models/stage_c_config.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>

#include "common/error.h"

namespace lathe {

namespace {

using Shapes = std::map<std::string, std::vector<std::int64_t>>;

bool starts_with(const std::string& s, const std::string& p) { return s.compare(0, p.size(), p) == 0; }

const std::vector<std::int64_t>& shape_of(const Shapes& shapes, const std::string& key, const std::string& source,
                                          std::size_t rank) {
  auto it = shapes.find(key);
  if (it == shapes.end())
    throw Error(fmt::format("{}: Stage C tensor {} is missing (the file is incomplete or not a Stage C prior)",
                            source, key));
  if (it->second.size() != rank)
    throw Error(fmt::format("{}: Stage C tensor {} has {} dimensions, expected {}", source, key,
                            it->second.size(), rank));
  return it->second;
}

// Block counts of `down_blocks` / `up_blocks`: per list index, 1 + the largest block index.
std::vector<std::int64_t> block_counts(const Shapes& shapes, const std::string& list) {
  std::vector<std::int64_t> counts;
  const std::string prefix = list + ".";
  for (const auto& [key, shape] : shapes) {
    if (!starts_with(key, prefix)) continue;
    std::size_t level_end = 0, block_end = 0;
    std::int64_t level = 0, block = 0;
    try {
      level = std::stoll(key.substr(prefix.size()), &level_end);
      block = std::stoll(key.substr(prefix.size() + level_end + 1), &block_end);
    } catch (const std::exception&) {
      continue;  // not a numbered block key; the strict loader reports it
    }
    if (level < 0 || block < 0 || level > 64) continue;
    if (counts.size() <= static_cast<std::size_t>(level)) counts.resize(level + 1, 0);
    counts[level] = std::max(counts[level], block + 1);
  }
  return counts;
}

// Layers of one level: every layer is ResBlock, TimestepBlock, AttnBlock (indices 3l, 3l+1, 3l+2).
std::int64_t layers_of(const Shapes& shapes, const std::string& level_prefix, std::int64_t blocks,
                       const std::string& source) {
  if (blocks % 3 != 0)
    throw Error(fmt::format("{}: {} has {} blocks; Stage C levels are ResBlock-TimestepBlock-AttnBlock "
                            "triples", source, level_prefix, blocks));
  for (std::int64_t l = 0; l < blocks / 3; ++l) {
    shape_of(shapes, fmt::format("{}.{}.depthwise.weight", level_prefix, 3 * l), source, 4);
    shape_of(shapes, fmt::format("{}.{}.mapper.weight", level_prefix, 3 * l + 1), source, 2);
    shape_of(shapes, fmt::format("{}.{}.kv_mapper.1.weight", level_prefix, 3 * l + 2), source, 2);
  }
  return blocks / 3;
}

void refuse_unsupported(const Shapes& shapes, const std::string& source) {
  for (const auto& [key, shape] : shapes) {
    if (starts_with(key, "effnet_mapper.") || starts_with(key, "pixels_mapper."))
      throw Error(fmt::format("{}: has {} (a Stable Cascade Stage B decoder), not a Stage C prior", source, key));
    if (starts_with(key, "down_repeat_mappers.") || starts_with(key, "up_repeat_mappers."))
      throw Error(fmt::format("{}: has {}: repeat mappers (blocks_repeat_mappers > 1) are not supported; "
                              "Stage C has none", source, key));
    if (key == "down_downscalers.1.1.weight" || key == "up_upscalers.0.1.weight")
      throw Error(fmt::format("{}: has {}: a strided (de)convolution between levels (switch_level unset) "
                              "is not supported; Stage C maps levels with a 1x1 convolution", source, key));
  }
}

}  // namespace

void StageCConfig::validate(const std::string& source) const {
  const std::size_t n = widths.size();
  auto fail = [&](const std::string& what) { throw Error(fmt::format("{}: Stage C configuration: {}", source, what)); };
  if (n == 0) fail("no levels");
  if (heads.size() != n || down_layers.size() != n || up_layers.size() != n || dropout.size() != n)
    fail(fmt::format("per-level lists differ in length (widths {}, heads {}, down {}, up {}, dropout {})", n,
                     heads.size(), down_layers.size(), up_layers.size(), dropout.size()));
  for (std::size_t i = 0; i < n; ++i) {
    if (widths[i] <= 0 || heads[i] <= 0 || widths[i] % heads[i] != 0)
      fail(fmt::format("level {}: width {} is not divisible into {} heads", i, widths[i], heads[i]));
    if (down_layers[i] < 1 || up_layers[i] < 1) fail(fmt::format("level {}: needs at least one layer", i));
    if (dropout[i] < 0 || dropout[i] >= 1) fail(fmt::format("level {}: dropout {} outside [0, 1)", i, dropout[i]));
  }
  if (timestep_ratio_embedding_dim < 2 || timestep_ratio_embedding_dim % 2 != 0)
    fail(fmt::format("timestep_ratio_embedding_dim {} must be even", timestep_ratio_embedding_dim));
  if (kernel_size < 1 || kernel_size % 2 == 0) fail(fmt::format("kernel_size {} must be odd", kernel_size));
  if (clip_seq < 1 || conditioning_dim < 1) fail("clip_seq and conditioning_dim must be positive");
}

StageCConfig StageCConfig::stage_c_3_6b() {
  StageCConfig c;
  c.widths = {2048, 2048};
  c.heads = {32, 32};
  c.down_layers = {8, 24};
  c.up_layers = {8, 24};  // level order: up_blocks.0 (level 1) has 24 layers, up_blocks.1 has 8
  c.dropout = {0.1, 0.1};
  c.conditioning_dim = 2048;
  return c;
}

StageCConfig StageCConfig::stage_c_lite() {
  StageCConfig c = stage_c_3_6b();
  c.widths = {1536, 1536};
  c.heads = {24, 24};
  c.down_layers = {4, 12};
  c.up_layers = {4, 12};
  c.conditioning_dim = 1536;
  return c;
}

std::string stage_c_variant_name(const StageCConfig& c) {
  auto same = [&](const StageCConfig& p) {
    return c.widths == p.widths && c.down_layers == p.down_layers && c.up_layers == p.up_layers &&
           c.conditioning_dim == p.conditioning_dim;
  };
  if (same(StageCConfig::stage_c_3_6b())) return "Stable Cascade Stage C 3.6B";
  if (same(StageCConfig::stage_c_lite())) return "Stable Cascade Stage C lite (1B)";
  return "Stable Cascade Stage C (custom)";
}

bool looks_like_stage_c(const std::vector<std::string>& keys) {
  bool pooled = false, text = false, embedding = false, kv = false;
  for (const auto& k : keys) {
    if (starts_with(k, "effnet_mapper.") || starts_with(k, "pixels_mapper.")) return false;
    pooled = pooled || k == "clip_txt_pooled_mapper.weight";
    text = text || k == "clip_txt_mapper.weight";
    embedding = embedding || k == "embedding.1.weight";
    kv = kv || (starts_with(k, "down_blocks.") && k.find(".kv_mapper.1.weight") != std::string::npos);
  }
  return pooled && text && embedding && kv;
}

StageCConfig stage_c_config_from_shapes(const Shapes& shapes, const std::string& source,
                                        const std::vector<std::int64_t>& heads) {
  refuse_unsupported(shapes, source);
  StageCConfig c;
  const auto& embedding = shape_of(shapes, "embedding.1.weight", source, 4);
  c.in_channels = embedding[1];
  c.out_channels = shape_of(shapes, "clf.1.weight", source, 4)[0];
  const auto& text = shape_of(shapes, "clip_txt_mapper.weight", source, 2);
  c.conditioning_dim = text[0];
  c.clip_text_in_channels = text[1];
  const auto& pooled = shape_of(shapes, "clip_txt_pooled_mapper.weight", source, 2);
  c.clip_text_pooled_in_channels = pooled[1];
  if (pooled[0] % c.conditioning_dim != 0)
    throw Error(fmt::format("{}: clip_txt_pooled_mapper.weight has {} rows, not a multiple of the "
                            "conditioning width {}", source, pooled[0], c.conditioning_dim));
  c.clip_seq = pooled[0] / c.conditioning_dim;
  c.clip_image_in_channels = shape_of(shapes, "clip_img_mapper.weight", source, 2)[1];

  const auto down = block_counts(shapes, "down_blocks");
  const auto up = block_counts(shapes, "up_blocks");
  if (down.empty()) throw Error(fmt::format("{}: no down_blocks.* tensors: not a Stage C prior", source));
  if (up.size() != down.size())
    throw Error(fmt::format("{}: {} down levels but {} up levels", source, down.size(), up.size()));
  const std::size_t levels = down.size();
  for (std::size_t i = 0; i < levels; ++i) {
    c.widths.push_back(shape_of(shapes, fmt::format("down_blocks.{}.0.depthwise.weight", i), source, 4)[0]);
    c.down_layers.push_back(layers_of(shapes, fmt::format("down_blocks.{}", i), down[i], source));
  }
  c.up_layers.assign(levels, 0);
  for (std::size_t k = 0; k < levels; ++k)  // up_blocks.0 is the deepest level
    c.up_layers[levels - 1 - k] = layers_of(shapes, fmt::format("up_blocks.{}", k), up[k], source);
  const auto& depthwise = shape_of(shapes, "down_blocks.0.0.depthwise.weight", source, 4);
  c.kernel_size = depthwise[2];
  const auto& mapper = shape_of(shapes, "down_blocks.0.1.mapper.weight", source, 2);
  for (const char* cond : {"mapper_sca", "mapper_crp"})
    shape_of(shapes, fmt::format("down_blocks.0.1.{}.weight", cond), source, 2);
  c.timestep_ratio_embedding_dim = mapper[1];
  c.dropout.assign(levels, 0.1);
  if (!heads.empty()) {
    if (heads.size() != levels)
      throw Error(fmt::format("{}: {} head counts given for {} levels", source, heads.size(), levels));
    c.heads = heads;
  } else {
    for (std::size_t i = 0; i < levels; ++i) {
      if (c.widths[i] % 64 != 0)
        throw Error(fmt::format("{}: the attention head count of a {}-wide level is not stored in the weights "
                                "and the width is not a multiple of head dim 64; put the model's diffusers "
                                "config.json (num_attention_heads) beside the file", source, c.widths[i]));
      c.heads.push_back(c.widths[i] / 64);
    }
  }
  c.validate(source);
  return c;
}

StageCJsonFacts stage_c_facts_from_diffusers_config(const nlohmann::json& config, const std::string& source) {
  auto fail = [&](const std::string& what) {
    throw Error(fmt::format("{}: {} (this Stage C implementation builds StableCascadeUNet priors only)", source, what));
  };
  if (!config.is_object()) fail("not a JSON object");
  if (config.value("_class_name", std::string("StableCascadeUNet")) != "StableCascadeUNet")
    fail("_class_name is " + config.value("_class_name", std::string()) + ", not StableCascadeUNet");
  if (config.contains("patch_size") && config["patch_size"].is_number() && config["patch_size"].get<int>() != 1)
    fail("patch_size must be 1");
  if (config.contains("switch_level") && config["switch_level"].is_array())
    for (const auto& s : config["switch_level"])
      if (s.is_boolean() && s.get<bool>()) fail("switch_level true (spatial down/upsampling) is not supported");
  if (config.contains("block_types_per_layer") && config["block_types_per_layer"].is_array())
    for (const auto& level : config["block_types_per_layer"]) {
      const std::vector<std::string> want = {"SDCascadeResBlock", "SDCascadeTimestepBlock", "SDCascadeAttnBlock"};
      if (!level.is_array() || level.get<std::vector<std::string>>() != want)
        fail("block_types_per_layer must be [SDCascadeResBlock, SDCascadeTimestepBlock, SDCascadeAttnBlock]");
    }
  if (config.contains("self_attn") && config["self_attn"].is_boolean() && !config["self_attn"].get<bool>())
    fail("self_attn false is not supported");
  StageCJsonFacts facts;
  try {
    if (config.contains("num_attention_heads"))
      facts.heads = config["num_attention_heads"].get<std::vector<std::int64_t>>();
    if (config.contains("dropout")) {
      if (config["dropout"].is_number()) facts.dropout.assign(facts.heads.size(), config["dropout"].get<double>());
      else facts.dropout = config["dropout"].get<std::vector<double>>();
    }
  } catch (const nlohmann::json::exception& e) {
    fail(std::string("num_attention_heads / dropout: ") + e.what());
  }
  return facts;
}

}  // namespace lathe
