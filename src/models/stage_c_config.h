// The configuration of a Stable Cascade Stage C prior (StableCascadeUNet with every layer
// ResBlock - TimestepBlock - AttnBlock and no spatial change between levels), the presets of
// the released models, and the configuration derived from a weight file's tensor shapes or a
// diffusers prior/config.json. Torch-free: `lathe model inspect` uses it on headers only.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace lathe {

struct StageCConfig {
  std::int64_t in_channels = 16;
  std::int64_t out_channels = 16;
  std::vector<std::int64_t> widths;          // block_out_channels, per level
  std::vector<std::int64_t> heads;           // attention heads per level
  std::vector<std::int64_t> down_layers;     // layers (C-T-A triples) per down level
  std::vector<std::int64_t> up_layers;       // per up level, in level order (level 0 first)
  std::vector<double> dropout;               // per level (ResBlock channelwise.3, attention to_out.1)
  std::int64_t conditioning_dim = 2048;
  std::int64_t clip_text_in_channels = 1280;
  std::int64_t clip_text_pooled_in_channels = 1280;
  std::int64_t clip_image_in_channels = 768;
  std::int64_t clip_seq = 4;                 // tokens per pooled-text / image embedding
  std::int64_t timestep_ratio_embedding_dim = 64;  // per embedded value (r, sca, crp)
  std::int64_t kernel_size = 3;
  // Recompute every block in the backward pass instead of keeping its activations.
  bool gradient_checkpointing = false;

  std::int64_t levels() const { return static_cast<std::int64_t>(widths.size()); }
  void validate(const std::string& source) const;  // throws lathe::Error naming `source`

  static StageCConfig stage_c_3_6b();  // 2048 wide, 32 heads, [8, 24] / [24, 8]
  static StageCConfig stage_c_lite();  // 1536 wide, 24 heads, [4, 12] / [12, 4]
};

// "Stable Cascade Stage C 3.6B", "... lite" or "... (custom)" by width and layer counts.
std::string stage_c_variant_name(const StageCConfig& c);

// True when the keys (Stability or diffusers names) are those of a Stage C prior: clip text
// mappers, a patch embedding and down_blocks with kv_mapper attention, no Stage B effnet or
// pixel mapper.
bool looks_like_stage_c(const std::vector<std::string>& keys);

// From tensor shapes under Stability names (see stage_c_weights.h). The head count is not in
// the weights: `heads` is used when given, else width / 64 (head dim 64, as both released
// models). Throws lathe::Error naming `source` and the key when a structure is missing or is
// one this implementation does not build (Stage B mappers, repeat mappers, strided downscalers).
StageCConfig stage_c_config_from_shapes(const std::map<std::string, std::vector<std::int64_t>>& shapes,
                                        const std::string& source,
                                        const std::vector<std::int64_t>& heads = {});

// The attention heads and dropout a diffusers StableCascadeUNet config.json states (other
// fields are read from the weights); throws lathe::Error naming `source` on options this
// implementation does not build (patch_size != 1, other block types, switch_level true).
struct StageCJsonFacts {
  std::vector<std::int64_t> heads;
  std::vector<double> dropout;
};
StageCJsonFacts stage_c_facts_from_diffusers_config(const nlohmann::json& config, const std::string& source);

}  // namespace lathe
