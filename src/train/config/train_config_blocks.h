// The [network] per-block keys (kohya's network_args block_dims, block_alphas, conv_block_dims,
// conv_block_alphas, down_lr_weight, mid_lr_weight, up_lr_weight, block_lr_zero_threshold):
// read from a profile, and rendered back for the frozen profile and `lathe profile show`.
// Their lengths depend on the model family (lora/lora_blocks.h), checked by the parser's
// cross-check when the profile names the family and by the network when the model is loaded.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "lora/lora_blocks.h"

namespace lathe {

class ProfileTable;
struct NetworkConfig;

// Lists are TOML arrays or kohya's comma text ("2,4,4,..."); down/up_lr_weight may instead be
// a preset ("sine", "cosine+0.5"), mid_lr_weight a single number. `convs`: the network adapts
// convolutions (LoCon); the conv_block_* keys are refused otherwise. Throws lathe::Error naming
// file:line and the key.
LoRABlockSettings read_network_blocks(const ProfileTable& t, bool convs);

// (key, TOML value) for every block key that is set, in the schema's order.
std::vector<std::pair<const char*, std::string>> network_block_entries(const LoRABlockSettings& blocks);

// The [network] section's per-block plan for `family` (lora_block_plan of to_lora_options).
// Throws lathe::Error "network.<key>: ..." for a list of the wrong length for the family.
LoRABlockPlan network_block_plan(const NetworkConfig& network, ModelFamily family);

}  // namespace lathe
