// kohya's UNet block numbering (sd-scripts networks/lora.py get_block_index, NUM_OF_BLOCKS),
// and the per-block settings built on it: ranks and alphas per block (block_dims,
// block_alphas, conv_block_dims, conv_block_alphas) and learning-rate weights per block
// (down_lr_weight, mid_lr_weight, up_lr_weight, with kohya's presets), a weight of 0 leaving
// the block out of the network.
//
// SD 1.x / 2.x: 25 blocks. 0-11 are IN00-IN11 (IN00 is conv_in: no LoRA), 12 is MID, 13-24 are
// OUT00-OUT11. kohya numbers diffusers names: down_blocks_i_{resnets,attentions}_j -> 1 + 3i + j,
// down_blocks_i_downsamplers -> 1 + 3i + 2, mid_block -> 12, up_blocks_i_... -> 13 + 3i + j
// (up_blocks_i_upsamplers -> 13 + 3i + 2, the same block as resnets_2).
// SDXL: 23 blocks over the LDM names. 0 is BASE (time_embed, label_emb: no LoRA),
// input_blocks_n -> 1 + n (IN00-IN08), middle_block_n -> 10 + n (MID00-MID02),
// output_blocks_n -> 13 + n (OUT00-OUT08), 22 is OUT (out: no LoRA).
// The lr weight lists are per half: SD 1.x down/up 12 and mid 1; SDXL down/up 9 and mid 3
// (BASE and OUT keep weight 1).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/model_family.h"

namespace lathe {

std::size_t unet_block_count(ModelFamily family);      // 25, or 23 for SDXL
std::size_t unet_half_block_count(ModelFamily family);  // down (= up) blocks: 12, or 9
std::size_t unet_mid_block_count(ModelFamily family);   // 1, or 3

// The kohya block index of a UNet LoRA module name ("lora_unet_down_blocks_1_attentions_0_
// proj_in" -> 4), or -1 when the name is not a UNet module kohya numbers.
int unet_block_index(const std::string& lora_name, ModelFamily family);

// "IN04", "MID", "OUT11"; SDXL "BASE", "IN00".."IN08", "MID00".."MID02", "OUT00".."OUT08", "OUT".
std::string unet_block_label(ModelFamily family, int index);

// One of down_lr_weight / up_lr_weight as a profile gives it: a list, or a kohya preset with an
// optional offset ("sine", "cosine+0.5"; the presets: sine, cosine, linear, reverse_linear,
// zeros). Empty when not set.
struct LrWeightSetting {
  std::vector<double> values;
  std::string preset;
  bool set() const { return !values.empty() || !preset.empty(); }
};

// The [network] block keys as written (empty = not set). Lengths are checked against the family
// when the plan is resolved, since a profile may leave the family to the checkpoint.
struct LoRABlockSettings {
  std::vector<std::int64_t> dims, conv_dims;
  std::vector<double> alphas, conv_alphas;
  LrWeightSetting down_lr_weight, up_lr_weight;
  std::vector<double> mid_lr_weight;
  double lr_zero_threshold = 0.0;  // kohya block_lr_zero_threshold: weights at or below are 0

  bool has_lr_weights() const { return down_lr_weight.set() || up_lr_weight.set() || !mid_lr_weight.empty(); }
  bool any() const { return !dims.empty() || !alphas.empty() || !conv_dims.empty() || !conv_alphas.empty() || has_lr_weights(); }
};

// Per block (unet_block_count entries): the rank and alpha of Linear / 1x1 modules and of the
// larger convolutions (conv_dims all 0 when convolutions are not adapted), and the lr weight.
// A block whose lr weight is 0 has rank 0 everywhere: it is not in the network.
struct LoRABlockPlan {
  std::vector<std::int64_t> dims, conv_dims;
  std::vector<double> alphas, conv_alphas;
  std::vector<double> lr_weights;
  bool lr_weighted = false;  // some lr weight was set: the UNet trains in one group per block
};

// kohya's preset of `n` weights ("sine+0.5"); throws lathe::Error naming `key` for an unknown
// preset or a bad offset.
std::vector<double> lr_weight_preset(const std::string& preset, std::size_t n, const std::string& key);

// Resolves the settings for `family` with the network's defaults (rank, alpha, conv_rank 0 =
// no convolutions). Throws lathe::Error naming the network.* key: a list of the wrong length
// (with the count the family wants), a negative rank or weight, a conv key without conv_rank.
LoRABlockPlan resolve_block_plan(const LoRABlockSettings& settings, ModelFamily family, std::int64_t rank,
                                 double alpha, std::int64_t conv_rank, double conv_alpha);

// "1,1,0.5" (kohya's network_args text of a list), "sine+0.5" for a preset.
std::string block_list_text(const std::vector<double>& values);
std::string block_list_text(const std::vector<std::int64_t>& values);
std::string lr_weight_text(const LrWeightSetting& setting);

}  // namespace lathe
