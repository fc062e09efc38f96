// [network] -> LoRAOptions: the profile's names (type, conv_dim, train_unet,
// train_text_encoder) mapped onto the LoRA network's construction options.
#include "lora/lora_network.h"
#include "train/config/train_config.h"
#include "train/config/train_config_blocks.h"

namespace lathe {

LoRAOptions to_lora_options(const NetworkConfig& n) {
  LoRAOptions o;
  o.rank = n.rank;
  o.alpha = n.alpha;
  // Plain LoRA adapts no convolutions; the parser guarantees conv_dim >= 1 for LoCon.
  o.conv_rank = n.type == NetworkType::LoRA ? 0 : n.conv_dim;
  o.conv_alpha = n.type == NetworkType::LoRA || n.conv_dim == 0 ? 1.0 : n.conv_alpha;
  o.algo = n.type == NetworkType::LoHa ? NetworkAlgo::LoHa : n.type == NetworkType::LoKr ? NetworkAlgo::LoKr : NetworkAlgo::LoRA;
  o.dora = n.dora;
  o.lokr_factor = n.factor;
  o.lokr_decompose_both = n.decompose_both;
  o.dropout = n.dropout;
  o.rank_dropout = n.rank_dropout;
  o.module_dropout = n.module_dropout;
  o.unet = n.train_unet;
  o.text_encoders = n.train_text_encoder;
  o.blocks = n.blocks;
  return o;
}

LoRABlockPlan network_block_plan(const NetworkConfig& network, ModelFamily family) {
  return lora_block_plan(family, to_lora_options(network));
}

}  // namespace lathe
